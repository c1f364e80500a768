//! A scope: the hooks and error handlers that apply to a set of routes. The app is one (its
//! routes, and requests no route matched); each registered
//! [`Blueprint`](crate::Blueprint) is another, for its own routes. The order in which a
//! request meets them is in ARCHITECTURE.md, "Request lifecycle".

use std::collections::HashMap;
use std::sync::Arc;

use http::StatusCode;

use crate::error::HttpError;
use crate::hooks::Hooks;
use crate::request::Request;
use crate::response::{IntoResponse, Response};

/// A handler for error responses.
pub(crate) type ErrorHandler = Arc<dyn Fn(&Request<'_>, &HttpError) -> Response + Send + Sync>;

/// Hooks and error handlers, for the app or for one blueprint.
#[derive(Default)]
pub(crate) struct Scope {
    pub hooks: Hooks,
    error_handlers: HashMap<StatusCode, ErrorHandler>,
    /// For error statuses without a handler of their own.
    any_error_handler: Option<ErrorHandler>,
}

impl Scope {
    pub(crate) fn set_error_handler<H, R>(&mut self, status: Option<StatusCode>, handler: H)
    where
        H: Fn(&Request<'_>, &HttpError) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        let handler: ErrorHandler = Arc::new(move |req, error| handler(req, error).into_response());
        match status {
            Some(status) => {
                self.error_handlers.insert(status, handler);
            }
            None => self.any_error_handler = Some(handler),
        }
    }

    /// The handler for `status`: its own, else the catch-all.
    pub(crate) fn error_handler(&self, status: StatusCode) -> Option<&ErrorHandler> {
        self.error_handlers
            .get(&status)
            .or(self.any_error_handler.as_ref())
    }

    /// The statuses with a handler, for `Debug`.
    pub(crate) fn error_statuses(&self) -> Vec<StatusCode> {
        let mut statuses: Vec<StatusCode> = self.error_handlers.keys().copied().collect();
        statuses.sort_unstable();
        statuses
    }
}
