//! [`Site`]: the app once it stops changing, and how it answers a request.
//!
//! `App` is the builder users write; [`App::freeze`](crate::App) turns it into a `Site` when
//! serving starts (`bind`) or a test client is made. A `Site` is shared read-only, behind an
//! `Arc`, by every worker and every blocking-pool thread: no locks on the request path. It
//! is the protocol layer's [`Dispatch`]: a connection hands it each request, and it answers
//! at once or with a [`BlockingJob`] for the pool.
//!
//! Each request is answered in the order that GUIDE.md's "Hooks" section sets out for users
//! (hooks, handler, error handler, session): [`Site::respond`] is that order in code.

use std::net::SocketAddr;
use std::sync::Arc;

use http::StatusCode;
use http::header::{ALLOW, HeaderValue};
#[cfg(feature = "sessions")]
use http::header::{SET_COOKIE, VARY};

use crate::config::Config;
use crate::debug_page;
use crate::error::{HttpError, UrlForError, abort};
use crate::h1::conn::{Answer, Dispatch};
use crate::h1::encode::Body;
use crate::h1::encode::Outgoing;
use crate::h1::error::ParseError;
use crate::h1::head::{Head, HeadOffsets};
use crate::h1::limits::Limits;
use crate::h1::tunnel::Offload;
use crate::handler::{Outcome, call_guarded, report_server_error};
use crate::hooks::Hooks;
#[cfg(feature = "metrics")]
use crate::metrics::{Recorder, WorkerCounters};
use crate::request::Request;
use crate::response::Response;
use crate::router::{Lookup, Route, Router};
use crate::scope::Scope;
use crate::state::SharedState;
use crate::template::Templates;
use crate::url_for::UrlMap;

/// The app, frozen.
pub(crate) struct Site {
    pub(crate) config: Config,
    /// The protocol layer's limits, computed once from `config`.
    pub(crate) limits: Limits,
    router: Router,
    templates: Option<Templates>,
    /// The app's hooks and error handlers (scope 0).
    app_scope: Scope,
    /// Each blueprint's (scope `1 + index`).
    blueprint_scopes: Vec<Scope>,
    /// Each blueprint's path prefix and scope, longest first: a request no route matched
    /// gets the scope whose prefix its path is under (a 404 under `/api` is the API's).
    prefixes: Vec<(String, usize)>,
    /// Some scope has before hooks: every request takes the out-of-line path to them.
    any_before: bool,
    /// Some scope has after hooks: every response takes the out-of-line path.
    any_after: bool,
    /// The app's shared values ([`App::state`](crate::App::state)).
    pub(crate) state: SharedState,
    /// WebSocket rooms.
    #[cfg(feature = "websocket")]
    pub(crate) hub: std::sync::Arc<crate::hub::Hub>,
    /// The debug page is on ([`App::debug`](crate::App::debug)).
    pub(crate) debug: bool,
    /// Some scope has CSRF protection: templates get `csrf_token()`.
    #[cfg(feature = "sessions")]
    pub(crate) csrf: bool,
    /// Signs sessions.
    #[cfg(feature = "sessions")]
    session_key: cookie::Key,
    /// `Allow` for `OPTIONS *`: every method some route answers.
    server_allow: HeaderValue,
    /// Cleared by the server when a graceful shutdown starts.
    pub(crate) readiness: crate::health::Readiness,
    /// Per-request counters, when the app serves [`App::metrics`](crate::App::metrics).
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Option<Arc<crate::metrics::Metrics>>,
}

/// What a frozen app is made of (the parts of `App`).
pub(crate) struct Parts {
    pub config: Config,
    pub router: Router,
    pub templates: Option<Templates>,
    pub scopes: Vec<Scope>,
    pub prefixes: Vec<(String, usize)>,
    pub state: SharedState,
    #[cfg(feature = "websocket")]
    pub hub: std::sync::Arc<crate::hub::Hub>,
    pub debug: bool,
    #[cfg(feature = "sessions")]
    pub csrf: bool,
    #[cfg(feature = "sessions")]
    pub session_key: cookie::Key,
    pub readiness: crate::health::Readiness,
    #[cfg(feature = "metrics")]
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl Site {
    /// The site of an app's parts: the templates get `url_for` over the final route table.
    pub(crate) fn new(parts: Parts) -> Self {
        crate::handler::install_panic_hook();
        let mut router = parts.router;
        if let Some(limit) = parts.config.slow_handler_warning {
            // Handlers on the event loop are timed only when the check is on: with it off,
            // a request pays nothing for it.
            router.wrap_handlers(|info, handler| {
                if info.is_blocking() {
                    handler
                } else {
                    crate::handler::timed(handler, info, limit)
                }
            });
        }
        let mut templates = parts.templates;
        if let Some(templates) = &mut templates {
            let urls = router.url_map();
            warn_of_unknown_url_for_names(templates, &urls);
            templates.add_url_for(urls);
        }
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &parts.metrics {
            metrics.set_layout(router.routes().map(crate::router::RouteInfo::pattern));
            router.set_metrics_slots(|index| metrics.slot(Some(index)));
        }
        let any_after = parts.scopes.iter().any(|scope| scope.hooks.has_after());
        let any_before = parts.scopes.iter().any(|scope| scope.hooks.has_before());
        let mut scopes = parts.scopes.into_iter();
        Self {
            limits: Limits::from(&parts.config),
            server_allow: router.server_allow(),
            config: parts.config,
            router,
            templates,
            any_after,
            any_before,
            app_scope: scopes.next().unwrap_or_default(),
            blueprint_scopes: scopes.collect(),
            prefixes: {
                let mut prefixes = parts.prefixes;
                prefixes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
                prefixes
            },
            state: parts.state,
            #[cfg(feature = "websocket")]
            hub: parts.hub,
            debug: parts.debug,
            #[cfg(feature = "sessions")]
            csrf: parts.csrf,
            #[cfg(feature = "sessions")]
            session_key: parts.session_key,
            readiness: parts.readiness,
            #[cfg(feature = "metrics")]
            metrics: parts.metrics,
        }
    }

    /// Whether any route runs on the blocking pool (which then gets started).
    pub(crate) fn has_blocking_routes(&self) -> bool {
        self.router.routes().any(|route| route.is_blocking())
    }

    /// The key that signs sessions.
    #[cfg(feature = "sessions")]
    pub(crate) fn session_key(&self) -> &cookie::Key {
        &self.session_key
    }

    /// The path of the route named `name` with `params` (see [`App::url_for`](crate::App::url_for)).
    pub(crate) fn url_for(
        &self,
        name: &str,
        params: &[(&str, &str)],
    ) -> Result<String, UrlForError> {
        self.router.url_for(name, params)
    }

    /// Renders a template, or explains why it cannot.
    pub(crate) fn render_template<C: serde::Serialize>(
        &self,
        name: &str,
        context: C,
    ) -> Result<Vec<u8>, minijinja::Error> {
        match &self.templates {
            Some(templates) => templates.render(name, context),
            None => Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                "no template folder is configured: call App::templates",
            )),
        }
    }

    /// Answers one request, routed as `lookup` says: the before hooks, the handler behind
    /// the panic boundary (unless a hook answered), the error handler for an error, the
    /// after hooks, then a changed session. Inline: on the event loop it runs straight after
    /// the route lookup, whose large result is then used where it was made.
    #[inline(always)]
    fn respond(
        &self,
        head: &Head<'_, '_>,
        body: &[u8],
        peer: SocketAddr,
        lookup: Lookup<'_, '_>,
        measure: impl Measure,
    ) -> Response {
        let (route, params, unrouted) = match lookup {
            Lookup::Found(route, params) => (Some(route), params, None),
            // `OPTIONS *` asks about the server, not a resource (RFC 9110 §9.3.7): answered
            // for the whole app, before any hook (the parser lets `*` through for OPTIONS only).
            Lookup::NotFound if head.path == "*" => {
                let response =
                    with_allow(Response::new(StatusCode::NO_CONTENT), &self.server_allow);
                measure.answered(None, &head.method, response.status());
                return response;
            }
            other => (None, matchit::Params::new(), Some(other)),
        };
        let request = Request::new(head, body, peer, self, route.map(|r| &r.info), &params);
        let scope = match route {
            Some(route) => route.scope,
            None => self.scope_of_path(head.path),
        };
        // An app without before hooks pays one test: the hooks' path is out of line.
        let mut outcome = if self.any_before {
            self.hooks_then_handler(&request, route, unrouted, scope)
        } else {
            self.call_handler(&request, route, unrouted)
        };
        self.finish(&request, &mut outcome, scope);
        #[cfg(feature = "sessions")]
        self.save_session(&request, &mut outcome, scope);
        // Last, so that the hooks' and the session's headers are seen (and Vary kept).
        #[cfg(feature = "compression")]
        if let Some(settings) = &self.config.compression {
            crate::compression::compress(settings, &request, &mut outcome.response);
        }
        if outcome.response.status().is_informational() {
            let response = self.informational(&request, outcome.response);
            measure.answered(route, &head.method, response.status());
            return response;
        }
        measure.answered(route, &head.method, outcome.response.status());
        outcome.response
    }

    /// A 1xx answer: a WebSocket route's `101 Switching Protocols` goes out, with the
    /// handshake's header fields; any other is the app's mistake (a 1xx is never a final
    /// answer).
    #[cold]
    fn informational(&self, request: &Request<'_>, response: Response) -> Response {
        #[cfg(feature = "websocket")]
        if response.status() == StatusCode::SWITCHING_PROTOCOLS
            && matches!(response.body(), Body::Live(_))
            && request.route_is_websocket()
        {
            return crate::websocket::accept(request, response);
        }
        refuse_informational(request, &response)
    }

    /// The answer to a request for a WebSocket route that is not a valid handshake: its
    /// status and reason, in the app's error page (the route's handler does not run).
    #[cfg(feature = "websocket")]
    #[cold]
    fn refuse_handshake(
        &self,
        head: &Head<'_, '_>,
        peer: SocketAddr,
        refusal: crate::ws::handshake::Refusal,
    ) -> Outgoing {
        let params = matchit::Params::new();
        let request = Request::new(head, &[], peer, self, None, &params);
        let mut page: Response = HttpError::new(refusal.status, refusal.reason).into();
        if refusal.status == StatusCode::UPGRADE_REQUIRED {
            // RFC 6455 §4.2.2: the versions spoken; RFC 9110 §15.5.22: the protocol needed.
            let headers = page.headers_mut();
            headers.insert("sec-websocket-version", HeaderValue::from_static("13"));
            headers.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
        }
        let mut outcome = Outcome::answered(page);
        self.finish(&request, &mut outcome, self.scope_of_path(head.path));
        outcome.response.into_outgoing()
    }

    /// The before hooks (the app's, then the blueprint's; scope 0 is the app alone) until
    /// one answers, else the handler.
    #[inline(never)]
    fn hooks_then_handler(
        &self,
        request: &Request<'_>,
        route: Option<&Route>,
        unrouted: Option<Lookup<'_, '_>>,
        scope: usize,
    ) -> Outcome {
        if let Some(early) = self.app_scope.hooks.before_request(request) {
            return early;
        }
        // A blueprint's before hooks run for its routes (as in Flask) and for its paths'
        // automatic OPTIONS and 405 answers (a CORS preflight is one), not for a 404.
        let its_path = route.is_some()
            || matches!(
                unrouted,
                Some(Lookup::Options(_) | Lookup::MethodNotAllowed(_))
            );
        if its_path
            && scope != 0
            && let Some(early) = self.scope(scope).hooks.before_request(request)
        {
            return early;
        }
        self.call_handler(request, route, unrouted)
    }

    /// Scope `index`: 0 the app's, `1 + n` the n-th blueprint's.
    fn scope(&self, index: usize) -> &Scope {
        index
            .checked_sub(1)
            .and_then(|blueprint| self.blueprint_scopes.get(blueprint))
            .unwrap_or(&self.app_scope)
    }

    /// The scope of a request no route matched: the blueprint whose prefix its path is
    /// under, else the app's.
    fn scope_of_path(&self, path: &str) -> usize {
        self.prefixes
            .iter()
            .find(|(prefix, _)| {
                path.strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .map_or(0, |(_, scope)| *scope)
    }

    /// The handler's answer, or the router's when no route matched.
    #[inline(always)]
    fn call_handler(
        &self,
        request: &Request<'_>,
        route: Option<&Route>,
        unrouted: Option<Lookup<'_, '_>>,
    ) -> Outcome {
        let response = match (route, unrouted) {
            (Some(route), _) => match call_guarded(|| (route.handler)(request)) {
                Ok(response) => response,
                Err(panic) => {
                    report_server_error(format_args!(
                        "handler `{}` for {} {} panicked: {panic}",
                        route.info.handler(),
                        request.method(),
                        request.target()
                    ));
                    if self.debug {
                        let what = format!("handler `{}`", route.info.handler());
                        let failure = debug_page::Failure::Panic {
                            what: &what,
                            panic: &panic,
                        };
                        return Outcome::panicked(debug_page::page(request, &failure));
                    }
                    return Outcome::panicked(HttpError::internal("Internal Server Error").into());
                }
            },
            (None, Some(Lookup::MethodNotAllowed(allow))) => {
                with_allow(abort(StatusCode::METHOD_NOT_ALLOWED).into(), allow)
            }
            (None, Some(Lookup::Options(allow))) => {
                with_allow(Response::new(StatusCode::NO_CONTENT), allow)
            }
            _ => abort(StatusCode::NOT_FOUND).into(),
        };
        Outcome::answered(response)
    }

    /// The error handler, then the after hooks. One inline check covers both: most
    /// responses are not errors, and an app without after hooks pays one comparison more.
    #[inline]
    fn finish(&self, request: &Request<'_>, outcome: &mut Outcome, scope: usize) {
        if outcome.response.error().is_some() || self.any_after {
            self.finish_cold(request, outcome, scope);
        }
    }

    #[cold]
    fn finish_cold(&self, request: &Request<'_>, outcome: &mut Outcome, scope: usize) {
        let response = std::mem::take(&mut outcome.response);
        outcome.response = self.error_page(request, response, scope);
        // The blueprint's after hooks, then the app's.
        let app = &self.app_scope.hooks;
        let chain: &[&Hooks] = if scope == 0 {
            &[app]
        } else {
            &[&self.scope(scope).hooks, app]
        };
        crate::hooks::after_request(chain, request, outcome, |page| {
            self.error_page(request, page, scope)
        });
    }

    /// Replaces an error response with the page of its scope's error handler for its status
    /// (the blueprint's, then the app's; each its own for the status, else its catch-all),
    /// or else the default body; logs the error's cause, with the request it answers.
    pub(crate) fn error_page(
        &self,
        request: &Request<'_>,
        response: Response,
        scope: usize,
    ) -> Response {
        let Some(error) = response.error() else {
            return response;
        };
        if let Some(cause) = error.cause() {
            report_server_error(format_args!(
                "{} {}: {cause}",
                request.method(),
                request.target()
            ));
        }
        let status = error.status();
        let handler = (scope != 0)
            .then(|| self.scope(scope).error_handler(status))
            .flatten()
            .or_else(|| self.app_scope.error_handler(status));
        let page = handler.and_then(|handler| match call_guarded(|| handler(request, error)) {
            Ok(page) => Some(page),
            Err(panic) => {
                report_server_error(format_args!(
                    "error handler for {} panicked: {panic}",
                    error.status()
                ));
                None
            }
        });
        // No page of the app's: the default body, in the form the client asked for.
        let mut page =
            page.unwrap_or_else(|| crate::error_body::negotiated(error, request.header("accept")));
        if page.status() == StatusCode::OK {
            page.set_status(error.status());
        }
        // Keep headers the error needs (405's Allow) unless the page sets its own.
        for (name, value) in response.headers() {
            if !page.headers().contains_key(name) {
                page.headers_mut().insert(name.clone(), value.clone());
            }
        }
        page
    }

    /// Adds the `Set-Cookie` of a session the request changed (unless something panicked),
    /// and `Vary: Cookie` to any response that read the session (a shared cache must not hand
    /// it to someone else). A session that cannot be stored turns the response into a logged
    /// 500. Costs one branch when the handler did not use the session.
    #[cfg(feature = "sessions")]
    #[inline]
    fn save_session(&self, request: &Request<'_>, outcome: &mut Outcome, scope: usize) {
        if let Some(session) = request.session_if_used() {
            self.store_session(request, session, outcome, scope);
        }
    }

    #[cfg(feature = "sessions")]
    #[cold]
    fn store_session(
        &self,
        request: &Request<'_>,
        session: &crate::session::Session,
        outcome: &mut Outcome,
        scope: usize,
    ) {
        let response = &mut outcome.response;
        let varies_by_cookie = response.headers().get_all(VARY).iter().any(|value| {
            value.to_str().is_ok_and(|names| {
                names
                    .split(',')
                    .map(str::trim)
                    .any(|name| name == "*" || name.eq_ignore_ascii_case("cookie"))
            })
        });
        if !varies_by_cookie {
            response
                .headers_mut()
                .append(VARY, HeaderValue::from_static("Cookie"));
        }
        if outcome.panicked {
            return;
        }
        let stored = session.set_cookie_value(
            &self.config.session_cookie_name,
            Some(&self.session_key),
            request.scheme() == "https",
            std::time::SystemTime::now(),
        );
        match stored {
            Ok(Some(cookie)) => {
                response.headers_mut().append(SET_COOKIE, cookie);
            }
            Ok(None) => {}
            Err(error) => {
                report_server_error(format_args!(
                    "cannot store the session for {} {}: {}",
                    request.method(),
                    request.target(),
                    crate::error::chain(&error)
                ));
                // The app's 500 page; its own session changes are not stored again.
                let page = self.error_page(
                    request,
                    HttpError::internal("Internal Server Error").into(),
                    scope,
                );
                outcome.response = page;
            }
        }
    }
}

impl Dispatch for Site {
    type Job = BlockingJob;

    fn dispatch(&self, head: &Head<'_, '_>, body: &[u8], peer: SocketAddr) -> Answer<BlockingJob> {
        // An app without metrics pays one test when the feature is on, nothing when it is off.
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.metrics {
            return self.dispatch_measured(metrics, head, body, peer);
        }
        let lookup = self.router.lookup(&head.method, head.path);
        self.dispatch_routed(head, body, peer, lookup, Unmeasured)
    }

    /// A request refused before its body was read gets the app's error page for the status,
    /// if it has one, and the after hooks, as any error answer does (with no route and no
    /// body: only its head was read).
    fn refuse(&self, head: &Head<'_, '_>, error: &ParseError, peer: SocketAddr) -> Outgoing {
        let params = matchit::Params::new();
        let request = Request::new(head, &[], peer, self, None, &params);
        let page = HttpError::new(error.status(), error.to_string()).into();
        let mut outcome = Outcome::answered(page);
        self.finish(&request, &mut outcome, self.scope_of_path(head.path));
        outcome.response.into_outgoing()
    }

    fn run(&self, job: BlockingJob, pool: &Arc<dyn Offload>) -> Outgoing {
        let mut fields = Vec::new();
        let head = job.head.head(&job.bytes, &mut fields);
        let body = &job.bytes[head.len..];
        let lookup = self.router.lookup(&head.method, head.path);
        #[cfg(feature = "metrics")]
        let route = match &lookup {
            Lookup::Found(route, _) => Some(route.metrics_slot),
            _ => None,
        };
        let mut outgoing = self
            .respond(&head, body, job.peer, lookup, Unmeasured)
            .into_outgoing();
        // Measured from the request's arrival on the event loop: time in the queue counts.
        #[cfg(feature = "metrics")]
        if let (Some(metrics), Some(started)) = (&self.metrics, job.started) {
            metrics.record(route, &head.method, outgoing.status, started);
        }
        // A blocking WebSocket route's callbacks run on the pool too.
        if let Body::Live(live) = &mut outgoing.body {
            live.tunnel.offload(Arc::clone(pool));
        }
        outgoing
    }
}

impl Site {
    /// [`Dispatch::dispatch`] for a route already looked up, measured as `measure` says.
    #[inline(always)]
    fn dispatch_routed(
        &self,
        head: &Head<'_, '_>,
        body: &[u8],
        peer: SocketAddr,
        lookup: Lookup<'_, '_>,
        measure: impl Measure,
    ) -> Answer<BlockingJob> {
        if let Lookup::Found(route, _) = &lookup
            && route.info.is_unusual()
        {
            let (blocking, websocket) = (route.info.is_blocking(), route.info.is_websocket());
            #[cfg(feature = "websocket")]
            if websocket
                && let Err(refusal) =
                    crate::websocket::check_handshake(head, &self.config.websocket_origins)
            {
                let refused = self.refuse_handshake(head, peer, refusal);
                measure.answered(Some(route), &head.method, refused.status);
                return Answer::Ready(refused);
            }
            #[cfg(not(feature = "websocket"))]
            let _ = websocket;
            if blocking {
                let mut job = BlockingJob::new(head, body, peer);
                measure.hand_over(&mut job);
                return Answer::Blocking(job);
            }
        }
        Answer::Ready(
            self.respond(head, body, peer, lookup, measure)
                .into_outgoing(),
        )
    }

    /// [`Dispatch::dispatch`] for an app that serves metrics: the latency's start before the
    /// lookup, the counts once answered (a blocking request's when the pool has answered it,
    /// with its time in the queue).
    #[cfg(feature = "metrics")]
    #[inline(always)]
    fn dispatch_measured(
        &self,
        metrics: &impl Recorder,
        head: &Head<'_, '_>,
        body: &[u8],
        peer: SocketAddr,
    ) -> Answer<BlockingJob> {
        let started = metrics.start();
        let lookup = self.router.lookup(&head.method, head.path);
        self.dispatch_routed(head, body, peer, lookup, Measured { metrics, started })
    }
}

/// What [`Site::respond`] does with a request's route and final status once it has answered:
/// nothing, or count it in the metrics. Inside `respond`, so that counting leaves the answer
/// where it was built (measured outside, the response and the route's parameters were moved
/// once more: ≈ 25 instructions per request).
trait Measure {
    /// The request was answered with `status`.
    fn answered(&self, route: Option<&Route>, method: &http::Method, status: StatusCode);

    /// The request goes to the blocking pool as `job`, to be counted once answered there.
    fn hand_over(&self, job: &mut BlockingJob);
}

/// Not measured.
struct Unmeasured;

impl Measure for Unmeasured {
    #[inline(always)]
    fn answered(&self, _: Option<&Route>, _: &http::Method, _: StatusCode) {}

    #[inline(always)]
    fn hand_over(&self, _: &mut BlockingJob) {}
}

/// Counted in the metrics, with the latency from `started`.
#[cfg(feature = "metrics")]
struct Measured<'r, R> {
    metrics: &'r R,
    started: crate::metrics::Stamp,
}

#[cfg(feature = "metrics")]
impl<R: Recorder> Measure for Measured<'_, R> {
    #[inline(always)]
    fn answered(&self, route: Option<&Route>, method: &http::Method, status: StatusCode) {
        let slot = route.map(|route| route.metrics_slot);
        self.metrics.record(slot, method, status, self.started);
    }

    fn hand_over(&self, job: &mut BlockingJob) {
        job.started = Some(self.started);
    }
}

/// The site as one worker's event loop dispatches to it: the shared [`Site`] and what that
/// worker keeps for it alone (its request counters, when the app serves metrics), so the
/// request path reaches them without a lookup. The protocol layer passes it down as the
/// [`Dispatch`] it is given, knowing nothing of what it holds.
pub(crate) struct WorkerSite {
    site: Arc<Site>,
    #[cfg(feature = "metrics")]
    counters: Option<WorkerCounters>,
}

impl WorkerSite {
    pub(crate) fn new(site: &Arc<Site>) -> Self {
        Self {
            site: Arc::clone(site),
            #[cfg(feature = "metrics")]
            counters: site
                .metrics
                .as_ref()
                .and_then(crate::metrics::Metrics::worker_counters),
        }
    }

    /// The shared site.
    pub(crate) fn site(&self) -> &Arc<Site> {
        &self.site
    }

    /// The worker's loop woke up for a batch of events (latencies count from here).
    #[inline(always)]
    pub(crate) fn wake(&self) {
        #[cfg(feature = "metrics")]
        if let Some(counters) = &self.counters {
            counters.wake();
        }
    }
}

impl Dispatch for WorkerSite {
    type Job = BlockingJob;

    #[inline(always)]
    fn dispatch(&self, head: &Head<'_, '_>, body: &[u8], peer: SocketAddr) -> Answer<BlockingJob> {
        #[cfg(feature = "metrics")]
        if let Some(counters) = &self.counters {
            return self.site.dispatch_measured(counters, head, body, peer);
        }
        self.site.dispatch(head, body, peer)
    }

    fn refuse(&self, head: &Head<'_, '_>, error: &ParseError, peer: SocketAddr) -> Outgoing {
        self.site.refuse(head, error, peer)
    }

    fn run(&self, job: BlockingJob, pool: &Arc<dyn Offload>) -> Outgoing {
        self.site.run(job, pool)
    }
}

/// A request for a `blocking` handler, copied out of its connection: the head (parsed once,
/// on the event loop, and kept as offsets) and the decoded body, to be answered on a pool
/// thread by the same `respond` as on the loop (hooks, handler, error pages, session).
#[derive(Debug)]
pub(crate) struct BlockingJob {
    /// The head's bytes, then the body's.
    bytes: Vec<u8>,
    head: HeadOffsets,
    peer: SocketAddr,
    /// When it arrived, for its latency, when the app serves metrics.
    #[cfg(feature = "metrics")]
    started: Option<crate::metrics::Stamp>,
}

impl BlockingJob {
    fn new(head: &Head<'_, '_>, body: &[u8], peer: SocketAddr) -> Self {
        let mut bytes = Vec::with_capacity(head.raw.len() + body.len());
        bytes.extend_from_slice(head.raw);
        bytes.extend_from_slice(body);
        Self {
            bytes,
            head: HeadOffsets::of(head),
            peer,
            #[cfg(feature = "metrics")]
            started: None,
        }
    }
}

/// The request's method and target, for log lines about it.
impl std::fmt::Display for BlockingJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut fields = Vec::new();
        let head = self.head.head(&self.bytes, &mut fields);
        write!(f, "{} {}", head.method, head.target)
    }
}

/// Warns, once at start-up, of each `url_for('name')` in a template that names no route:
/// rendering it would be a 500.
fn warn_of_unknown_url_for_names(templates: &Templates, urls: &UrlMap) {
    for call in templates.url_for_calls() {
        // `.name` is relative to the blueprint rendering: known if some blueprint has it.
        let known = match call.name.strip_prefix('.') {
            Some(_) => urls.names().iter().any(|name| name.ends_with(&call.name)),
            None => urls.contains(&call.name),
        };
        if !known {
            let names = match urls.names() {
                names if names.is_empty() => "none".to_owned(),
                names => names.join(", "),
            };
            log::warn!(
                "template {} line {}: url_for('{}') names no route, so rendering it fails; route \
                 names: {} (a route is named after its handler function, or with `name = \"...\"` \
                 in route!: closures have no name otherwise)",
                call.file,
                call.line,
                call.name,
                names
            );
        }
    }
}

/// A 1xx status is never a final answer (RFC 9110 §15.2): sent as one, the client would wait
/// for the real response forever. It is the app's bug, so a logged 500.
#[cold]
fn refuse_informational(request: &Request<'_>, response: &Response) -> Response {
    report_server_error(format_args!(
        "{} {} was answered with {}, which is not a final status; sending 500 instead",
        request.method(),
        request.target(),
        response.status()
    ));
    HttpError::internal("Internal Server Error").into()
}

fn with_allow(mut response: Response, allow: &HeaderValue) -> Response {
    response.headers_mut().insert(ALLOW, allow.clone());
    response
}
