//! Shared application state: values the app is given once ([`App::state`](crate::App::state))
//! and every request can reach ([`Request::state`](crate::Request::state)), one per type, as
//! axum's `State`, actix's `Data` and Flask's `current_app` give.
//!
//! State is shared by every worker and blocking thread at once, so it is read through `&T`.
//! For state that changes, choose by how it changes:
//! - a counter or a flag: an atomic (`AtomicU64`), no lock at all;
//! - data read often and written rarely (a cache, a config reloaded by hand): `RwLock<T>`;
//! - anything else: `Mutex<T>`, held only for the few lines that need it, never across a
//!   slow call (a handler holding a lock while it waits stalls every other handler that
//!   wants it, on every worker);
//! - a connection pool or a client that is already thread-safe: as it is.

use std::any::{Any, TypeId, type_name};
use std::collections::HashMap;

use crate::error::HttpError;

/// The app's state values, by type.
#[derive(Default)]
pub(crate) struct SharedState {
    by_type: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
    /// The type names, for `App`'s `Debug` and error messages.
    names: Vec<&'static str>,
}

impl SharedState {
    /// Stores `value`, replacing an earlier value of its type.
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        if self
            .by_type
            .insert(TypeId::of::<T>(), Box::new(value))
            .is_none()
        {
            self.names.push(type_name::<T>());
        }
    }

    /// The value of type `T`, or a 500 that names the type (logged where the answer is
    /// made, as any error's cause).
    pub(crate) fn get<T: 'static>(&self) -> Result<&T, HttpError> {
        self.by_type
            .get(&TypeId::of::<T>())
            .and_then(|value| value.downcast_ref::<T>())
            .ok_or_else(|| {
                HttpError::internal_because(format!(
                    "no state of type `{}`: give it to the app with App::state (it has: {})",
                    type_name::<T>(),
                    self.describe()
                ))
            })
    }

    /// The type names held, for messages.
    pub(crate) fn describe(&self) -> String {
        if self.names.is_empty() {
            "none".to_owned()
        } else {
            self.names.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_per_type_and_a_missing_one_names_itself() {
        let mut state = SharedState::default();
        state.insert(7u32);
        state.insert(String::from("db"));
        state.insert(8u32);
        assert_eq!(*state.get::<u32>().unwrap(), 8, "replaced");
        assert_eq!(state.get::<String>().unwrap(), "db");
        let error = state.get::<u64>().unwrap_err();
        assert_eq!(error.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
        let cause = error.cause().expect("a cause for the log");
        assert!(cause.contains("no state of type `u64`"), "{cause}");
        assert!(
            cause.contains("it has: u32, alloc::string::String"),
            "{cause}"
        );
    }
}
