//! Request hooks, Flask's `before_request` and `after_request`: [`App::before`] and
//! [`App::after`](crate::App::after).
//!
//! Each hook runs behind the same panic boundary as handlers. An app without hooks pays a
//! branch on an empty `Vec` for each kind: the checks are inline, the loops out of line and
//! `#[cold]`, so that the request path of an app without hooks is laid out as before (about
//! four more instructions per request in `bench/callgrind_pipeline.sh`).
//!
//! [`App::before`]: crate::App::before

use crate::error::HttpError;
use crate::handler::{Outcome, call_guarded, report_server_error};
use crate::request::Request;
use crate::response::Response;

/// A hook and, for the log line when it panics, its type's name (a closure's says where it
/// was written).
struct Hook<F: ?Sized> {
    name: &'static str,
    run: Box<F>,
}

type BeforeFn = dyn Fn(&Request<'_>) -> Option<Response> + Send + Sync;
type AfterFn = dyn Fn(&Request<'_>, &mut Response) + Send + Sync;

/// The app's hooks, each kind in registration order.
#[derive(Default)]
pub(crate) struct Hooks {
    before: Vec<Hook<BeforeFn>>,
    after: Vec<Hook<AfterFn>>,
}

impl Hooks {
    pub(crate) fn add_before<H>(&mut self, hook: H)
    where
        H: Fn(&Request<'_>) -> Option<Response> + Send + Sync + 'static,
    {
        self.before.push(Hook {
            name: std::any::type_name::<H>(),
            run: Box::new(hook),
        });
    }

    pub(crate) fn add_after<H>(&mut self, hook: H)
    where
        H: Fn(&Request<'_>, &mut Response) + Send + Sync + 'static,
    {
        self.after.push(Hook {
            name: std::any::type_name::<H>(),
            run: Box::new(hook),
        });
    }

    /// Whether there are before hooks.
    pub(crate) fn has_before(&self) -> bool {
        !self.before.is_empty()
    }

    /// Whether there are after hooks.
    #[inline]
    pub(crate) fn has_after(&self) -> bool {
        !self.after.is_empty()
    }

    /// How many of each, for `App`'s `Debug`.
    pub(crate) fn counts(&self) -> (usize, usize) {
        (self.before.len(), self.after.len())
    }

    /// Runs the before hooks in order until one answers; that answer replaces the handler's.
    /// A panicking hook answers with a 500.
    #[inline]
    pub(crate) fn before_request(&self, request: &Request<'_>) -> Option<Outcome> {
        if self.before.is_empty() {
            return None;
        }
        self.run_before(request)
    }

    #[cold]
    fn run_before(&self, request: &Request<'_>) -> Option<Outcome> {
        for hook in &self.before {
            match call_guarded(|| (hook.run)(request)) {
                Ok(None) => {}
                Ok(Some(answer)) => return Some(Outcome::answered(answer)),
                Err(panic) => {
                    report_server_error(format_args!(
                        "before hook `{}` for {} {} panicked: {panic}",
                        hook.name,
                        request.method(),
                        request.target()
                    ));
                    let page = HttpError::internal("Internal Server Error").into();
                    return Some(Outcome::panicked(page));
                }
            }
        }
        None
    }

    /// Runs every after hook on `response`; false, logged, when one panics (the rest skipped).
    fn apply_after(&self, request: &Request<'_>, response: &mut Response) -> bool {
        for hook in &self.after {
            if let Err(panic) = call_guarded(|| (hook.run)(request, response)) {
                report_server_error(format_args!(
                    "after hook `{}` for {} {} panicked: {panic}",
                    hook.name,
                    request.method(),
                    request.target()
                ));
                return false;
            }
        }
        true
    }
}

/// Runs the after hooks of each of `chain` in turn (a blueprint's, then the app's), each in
/// registration order, on the response. If one panics, the response becomes
/// `error_page(500)` and the after hooks run once more, on that page (so a hook that adds
/// security headers still applies), as Flask does; a panic in that second pass leaves the
/// page as it stands. Either way the outcome is a panic.
pub(crate) fn after_request(
    chain: &[&Hooks],
    request: &Request<'_>,
    outcome: &mut Outcome,
    error_page: impl FnOnce(Response) -> Response,
) {
    let apply = |response: &mut Response| {
        chain
            .iter()
            .all(|hooks| hooks.apply_after(request, response))
    };
    if chain.iter().all(|hooks| hooks.after.is_empty()) || apply(&mut outcome.response) {
        return;
    }
    let mut page = error_page(HttpError::internal("Internal Server Error").into());
    apply(&mut page);
    *outcome = Outcome::panicked(page);
}
