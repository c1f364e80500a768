//! Handlers: how a user's function is stored, and the panic boundary around calling it.
//!
//! A handler is any `Fn(&Request) -> impl IntoResponse + Send + Sync`. It is stored boxed
//! behind an `Arc` (shared by every worker without locks) and called through
//! [`call_guarded`], which turns a panic into a 500 for that one request: the loop and every
//! other connection carry on. [`Outcome`] is an answer together with whether a panic made
//! it, as the site, the hooks and the error pages pass it along.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use crate::request::Request;
use crate::response::Response;
use crate::router::RouteInfo;

/// A registered handler, type-erased.
pub(crate) type Handler = Arc<dyn Fn(&Request<'_>) -> Response + Send + Sync>;

thread_local! {
    /// Set while this thread runs a handler, so the panic hook knows the panic is ours to report.
    static IN_HANDLER: Cell<bool> = const { Cell::new(false) };
    /// The last handler panic on this thread, as the hook saw it.
    static LAST_PANIC: RefCell<Option<Panic>> = const { RefCell::new(None) };
    /// While a test client sends a request on this thread: the server errors it caused, for
    /// the client to raise in the test (see [`collect_server_errors`]).
    static SERVER_ERRORS: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// `handler`, timed: when a call takes longer than `limit` it held its event loop, and every
/// connection on that loop waited. Said once per route (a slow route would flood the log),
/// with the route, the time and the cure (`blocking`).
pub(crate) fn timed(handler: Handler, route: &RouteInfo, limit: Duration) -> Handler {
    let warned = AtomicBool::new(false);
    let (name, pattern) = (route.handler().to_owned(), route.pattern().to_owned());
    Arc::new(move |request: &Request<'_>| {
        let started = Instant::now();
        let response = handler(request);
        let took = started.elapsed();
        if took > limit && !warned.swap(true, Ordering::Relaxed) {
            log::warn!(
                "handler `{name}` for {} {} took {} ms on the event loop (over {} ms): every \
                 connection of its worker waited meanwhile. If it waits on I/O, sleeps or \
                 computes at length, mark the route `blocking` (route!(app, GET \"{pattern}\" => \
                 {name}, blocking)) to run it on the pool. Said once per route \
                 (Config::slow_handler_warning).",
                request.method(),
                request.target(),
                took.as_millis(),
                limit.as_millis(),
            );
        }
        response
    })
}

/// Reports a request that failed on the server's side (a panic, a template error, an error's
/// cause): logged at `error`, where an operator looks, and recorded for the test client when
/// one is collecting on this thread, so that a test fails with the message instead of only
/// seeing a 500.
#[cold]
pub(crate) fn report_server_error(message: std::fmt::Arguments<'_>) {
    log::error!("{message}");
    SERVER_ERRORS.with(|errors| {
        if let Some(errors) = errors.borrow_mut().as_mut() {
            errors.push(message.to_string());
        }
    });
}

/// Runs `f`, returning what it returns and the server errors reported on this thread
/// meanwhile. The test client wraps each request in it; requests run on the calling thread
/// (blocking handlers too, in memory), so nothing is missed.
pub(crate) fn collect_server_errors<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let outer = SERVER_ERRORS.with(|errors| errors.borrow_mut().replace(Vec::new()));
    let result = f();
    let collected =
        SERVER_ERRORS.with(|errors| std::mem::replace(&mut *errors.borrow_mut(), outer));
    (result, collected.unwrap_or_default())
}

static INSTALL_HOOK: Once = Once::new();

/// Whether the panic hook records a backtrace: only while some app runs with its debug page
/// on ([`App::debug`](crate::App::debug)), as capturing one costs far more than the panic.
static CAPTURE_BACKTRACES: AtomicBool = AtomicBool::new(false);

/// Records backtraces of handler panics from now on (an app with its debug page was frozen).
pub(crate) fn capture_backtraces() {
    CAPTURE_BACKTRACES.store(true, Ordering::Relaxed);
}

/// A panic caught at the handler boundary: its message, where it happened, and (for the
/// debug page) the stack. Displayed as `message at file:line`, as the log lines say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Panic {
    pub message: String,
    pub location: Option<String>,
    pub backtrace: Option<String>,
}

impl std::fmt::Display for Panic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(location) = &self.location {
            write!(f, " at {location}")?;
        }
        Ok(())
    }
}

/// Calls `f`, catching a panic. On panic, returns the panic's message and location, which the
/// caller logs with the route; the default "thread panicked" report is not printed as well
/// (once [`install_panic_hook`] ran, as it does when an app is frozen). Inline: it runs for
/// every request, and the value passing through it is large.
#[inline(always)]
pub(crate) fn call_guarded<T>(f: impl FnOnce() -> T) -> Result<T, Panic> {
    let was_in_handler = IN_HANDLER.with(|flag| flag.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    IN_HANDLER.with(|flag| flag.set(was_in_handler));
    result.map_err(|payload| {
        LAST_PANIC
            .with(|last| last.borrow_mut().take())
            .unwrap_or_else(|| Panic {
                message: payload_message(payload.as_ref()).to_owned(),
                location: None,
                backtrace: None,
            })
    })
}

/// Chains a hook in front of the existing one (once per process): panics inside a handler are
/// recorded for the framework's own log line; all other panics go to the previous hook as before.
pub(crate) fn install_panic_hook() {
    INSTALL_HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if IN_HANDLER.with(Cell::get) {
                let caught = Panic {
                    message: payload_message(info.payload()).to_owned(),
                    location: info
                        .location()
                        .map(|l| format!("{}:{}", l.file(), l.line())),
                    backtrace: CAPTURE_BACKTRACES
                        .load(Ordering::Relaxed)
                        .then(|| std::backtrace::Backtrace::force_capture().to_string()),
                };
                LAST_PANIC.with(|last| *last.borrow_mut() = Some(caught));
            } else {
                previous(info);
            }
        }));
    });
}

fn payload_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "panic with a non-string payload"
    }
}

/// How the answer to a request came about, with the answer: whether something panicked
/// decides what is done with it last (a request that panicked stores no session changes).
/// One value, changed in place as the request goes through the hooks and error pages.
pub(crate) struct Outcome {
    pub(crate) response: Response,
    /// A handler or hook panicked: the response is the 500, or the app's page for it. (Only
    /// sessions act on it: without them, nothing is kept of a request after its response.)
    #[cfg_attr(not(feature = "sessions"), allow(dead_code))]
    pub(crate) panicked: bool,
}

impl Outcome {
    /// Answered by a hook, the handler or the router.
    pub(crate) fn answered(response: Response) -> Self {
        Self {
            response,
            panicked: false,
        }
    }

    /// Something panicked; this is the answer in its place.
    pub(crate) fn panicked(response: Response) -> Self {
        Self {
            response,
            panicked: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_with_its_message_and_location() {
        install_panic_hook();
        let result: Result<(), Panic> = call_guarded(|| panic!("boom {}", 42));
        let message = result.unwrap_err().to_string();
        assert!(message.starts_with("boom 42 at "), "{message}");
        assert!(message.contains("handler.rs"), "{message}");
    }

    #[test]
    fn a_normal_return_passes_through() {
        assert_eq!(call_guarded(|| 7), Ok(7));
    }
}
