//! [`App`]: routes, templates, static folders, error handlers, hooks and configuration, and
//! [`App::respond`], which turns one parsed request into one response.
//!
//! An `App` is built single-threaded with `&mut self` methods, then frozen behind an `Arc` by
//! [`App::bind`] and shared read-only by every worker: no locks on the request path.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;

use http::header::{ALLOW, HeaderValue};
#[cfg(feature = "sessions")]
use http::header::{SET_COOKIE, VARY};
use http::{Method, StatusCode};

use crate::config::Config;
use crate::error::{Error, HttpError, RouteError, UrlForError, abort};
use crate::h1::head::Head;
use crate::handler::{Handler, call_guarded};
use crate::hooks::Hooks;
use crate::request::Request;
use crate::response::{IntoResponse, Response};
use crate::router::{Lookup, RouteInfo, RouteSpec, Router};
use crate::server::{RunningServer, Server};
use crate::static_files::StaticDir;
use crate::template::Templates;

/// A handler for error responses of one status.
type ErrorHandler = Arc<dyn Fn(&Request<'_>, &HttpError) -> Response + Send + Sync>;

/// A web application: what to answer, and how to serve it.
///
/// ```
/// use carafe::{route, App, Request};
///
/// fn index(_req: &Request) -> &'static str {
///     "Hello from carafe"
/// }
///
/// let mut app = App::new();
/// route!(app, GET "/" => index).unwrap();
/// route!(app, GET "/hello/{name}" => |req| format!("Hello, {}!", req.param("name").unwrap_or("you")))
///     .unwrap();
///
/// let server = app.spawn("127.0.0.1:0").unwrap(); // port 0: any free port
/// println!("listening on http://{}", server.addr());
/// server.shutdown().unwrap();
/// ```
pub struct App {
    /// Limits, timeouts and worker count; see [`Config`] for the defaults.
    pub config: Config,
    router: Router,
    templates: Option<Templates>,
    error_handlers: HashMap<StatusCode, ErrorHandler>,
    hooks: Hooks,
    /// Signs sessions; set by [`App::secret_key`], else when serving starts.
    #[cfg(feature = "sessions")]
    session_key: Option<cookie::Key>,
    /// The session key was made up at start (no secret configured): warn when a session is
    /// first stored with it, not at start, so apps without sessions are not told about them.
    #[cfg(feature = "sessions")]
    warn_random_session_key: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("config", &self.config)
            .field("routes", &self.routes())
            .field("templates", &self.templates.is_some())
            .field(
                "error_handlers",
                &self.error_handlers.keys().collect::<Vec<_>>(),
            )
            .field("hooks (before, after)", &self.hooks.counts())
            .finish()
    }
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl App {
    /// An app with no routes and the default [`Config`].
    pub fn new() -> Self {
        Self {
            config: Config::default(),
            router: Router::default(),
            templates: None,
            error_handlers: HashMap::new(),
            hooks: Hooks::default(),
            #[cfg(feature = "sessions")]
            session_key: None,
            #[cfg(feature = "sessions")]
            warn_random_session_key: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Registers `handler` for the methods and pattern of `spec`. [`route!`](crate::route) is
    /// the usual way to call this. Fails, naming both routes, if the route duplicates or
    /// ambiguously overlaps one already registered.
    pub fn route<H, R>(&mut self, spec: RouteSpec, handler: H) -> Result<&mut Self, RouteError>
    where
        H: Fn(&Request<'_>) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        let handler: Handler = Arc::new(move |req: &Request<'_>| handler(req).into_response());
        self.router.insert(spec, handler)?;
        Ok(self)
    }

    /// Loads HTML templates from `dir` for [`Request::render`]. `.html`, `.htm` and `.xml`
    /// templates are auto-escaped.
    ///
    /// Templates can call `url_for(name, **params)`, [`App::url_for`] with keyword arguments:
    /// `{{ url_for('post', slug=post.slug) }}`, `{{ url_for('static', filename='style.css') }}`.
    /// It sees every route, including those registered after this call. In HTML templates
    /// the path is escaped for HTML except `/`, so `href` values stay readable. An unknown
    /// route, a missing parameter or an undefined value fails the render: a logged 500.
    ///
    /// ```
    /// use carafe::{context, route, testing::TestClient, App};
    /// # let dir = std::env::temp_dir().join(format!("carafe-doc-templates-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("nav.html"), r#"<a href="{{ url_for('post', slug='a b') }}">post</a>"#)?;
    ///
    /// let mut app = App::new();
    /// app.templates(&dir)?;
    /// route!(app, GET "/" => |req| req.render("nav.html", context! {}))?;
    /// route!(app, GET "/blog/{slug}" => |_req| "a post", name = "post")?;
    ///
    /// let client = TestClient::new(app);
    /// assert_eq!(client.get("/").send().text(), r#"<a href="/blog/a%20b">post</a>"#);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), carafe::Error>(())
    /// ```
    pub fn templates(&mut self, dir: impl AsRef<Path>) -> Result<&mut Self, Error> {
        self.templates = Some(Templates::new(dir.as_ref())?);
        Ok(self)
    }

    /// Serves the files of `dir` under `prefix`: `app.static_dir("/static", "static")` answers
    /// `/static/style.css` from `static/style.css`, with Content-Type, ETag and Last-Modified,
    /// and 304 to conditional requests. Nothing outside `dir` can be reached.
    ///
    /// As in Flask, the first static folder's route is named `static`, its file parameter
    /// `filename`; later folders' routes are named `static:{prefix}`.
    ///
    /// ```
    /// let mut app = carafe::App::new();
    /// # let dir = std::env::temp_dir();
    /// app.static_dir("/static", &dir)?;
    /// app.static_dir("/media", &dir)?;
    /// assert_eq!(app.url_for("static", &[("filename", "css/site.css")])?, "/static/css/site.css");
    /// assert_eq!(app.url_for("static:/media", &[("filename", "a b.png")])?, "/media/a%20b.png");
    /// # Ok::<(), carafe::Error>(())
    /// ```
    pub fn static_dir(&mut self, prefix: &str, dir: impl AsRef<Path>) -> Result<&mut Self, Error> {
        const HANDLER: &str = "static_files";
        let files = StaticDir::new(dir.as_ref())?;
        let pattern = format!("{}/{{*filename}}", prefix.trim_end_matches('/'));
        let first = !self.routes().iter().any(|route| route.handler() == HANDLER);
        let name = if first {
            "static".to_owned()
        } else {
            format!("static:{prefix}")
        };
        let spec = RouteSpec::new(&[Method::GET], pattern)
            .handler_name(HANDLER, "")
            .name(name);
        self.route(spec, move |req| files.serve(req))?;
        Ok(self)
    }

    /// The path of the route named `name` with `params`, like Flask's `url_for`: for
    /// `route!(app, GET "/blog/{slug}" => post)`, `app.url_for("post", &[("slug", "epoll")])`
    /// is `Ok("/blog/epoll")`.
    ///
    /// A route's name is its handler's function name unless `route!` gives one with
    /// `name = "..."`; a handler registered on several paths builds the first. Each value
    /// is percent-encoded for its place: a `{param}` encodes `/` (`a/b` becomes `a%2Fb`), a
    /// `{*rest}` keeps `/` between segments; spaces, `%`, `?`, `#` and non-ASCII are encoded
    /// everywhere, so the URL routes back to the same values. Pairs whose name is not a
    /// parameter of the pattern become the query string (form-encoded, in the order given).
    ///
    /// Handlers use [`Request::url_for`], templates the function `url_for(name, **params)`.
    /// An unknown name, a missing parameter, or an empty or dot-segment value is an
    /// [`UrlForError`].
    ///
    /// ```
    /// use carafe::{route, App, Request};
    ///
    /// fn post(req: &Request) -> String {
    ///     format!("post {}", req.param("slug").unwrap_or_default())
    /// }
    ///
    /// let mut app = App::new();
    /// route!(app, GET "/blog/{slug}" => post)?;
    /// route!(app, GET "/files/{*path}" => |_req| "a file", name = "files")?;
    /// assert_eq!(app.url_for("post", &[("slug", "epoll")])?, "/blog/epoll");
    /// assert_eq!(app.url_for("post", &[("slug", "a/b c")])?, "/blog/a%2Fb%20c");
    /// assert_eq!(app.url_for("files", &[("path", "css/a b.css")])?, "/files/css/a%20b.css");
    /// assert_eq!(app.url_for("post", &[("slug", "x"), ("page", "2")])?, "/blog/x?page=2");
    /// assert!(app.url_for("post", &[]).is_err()); // slug is missing
    /// # Ok::<(), carafe::Error>(())
    /// ```
    pub fn url_for(&self, name: &str, params: &[(&str, &str)]) -> Result<String, UrlForError> {
        self.router.url_for(name, params)
    }

    /// Runs `hook` before the handler of every request, like Flask's `before_request`. If it
    /// returns `Some(response)`, that is the answer: the handler and any later before hooks
    /// are skipped (an auth check answering 401 or a redirect to a login page).
    ///
    /// Hooks run for every request the app answers, routed or not, so a 404, 405 or
    /// automatic OPTIONS answer comes after them too ([`Request::route_name`] is `None` then).
    /// Requests refused by the protocol layer before they reach the app (400, 408, 413, 431,
    /// ...) run no hooks. A panic in a hook is a logged 500 for that request.
    ///
    /// The order of operations for one request:
    /// 1. the before hooks, in registration order, until one answers;
    /// 2. the handler, unless a before hook answered (or the router's 404, 405 or OPTIONS
    ///    answer, when no route matched);
    /// 3. the [error handler](Self::error_handler) for the response's status, if it is an
    ///    error;
    /// 4. the [after hooks](Self::after), in registration order, on whatever response this
    ///    is, early answers and error pages included;
    /// 5. the session cookie, if the session changed.
    ///
    /// ```
    /// use carafe::{abort, route, testing::TestClient, App, Request, Response, StatusCode};
    ///
    /// let mut app = App::new();
    /// app.before(|req: &Request| {
    ///     let public = req.path() == "/" || req.path().starts_with("/static/");
    ///     if public || req.header("authorization") == Some("Bearer letmein") {
    ///         return None; // carry on to the handler
    ///     }
    ///     Some(abort(StatusCode::UNAUTHORIZED).into())
    /// });
    /// route!(app, GET "/" => |_req| "home")?;
    /// route!(app, GET "/admin" => |_req| "admin")?;
    ///
    /// let client = TestClient::new(app);
    /// assert_eq!(client.get("/").send().text(), "home");
    /// assert_eq!(client.get("/admin").send().status(), 401);
    /// let response = client.get("/admin").header("Authorization", "Bearer letmein").send();
    /// assert_eq!(response.text(), "admin");
    /// # Ok::<(), carafe::Error>(())
    /// ```
    pub fn before<H>(&mut self, hook: H) -> &mut Self
    where
        H: Fn(&Request<'_>) -> Option<Response> + Send + Sync + 'static,
    {
        self.hooks.add_before(hook);
        self
    }

    /// Runs `hook` on every response before it is sent, like Flask's `after_request`: to
    /// add headers (security headers, a request id, timing) or change the response.
    ///
    /// After hooks run in registration order (Flask runs its own in reverse), after the
    /// error handler, for every response the app makes: handlers' answers, early answers
    /// from [before hooks](Self::before), 404, 405, automatic OPTIONS, and error pages. The
    /// [`before`](Self::before) docs list the whole order. If an after hook panics, the
    /// response becomes the app's 500 page, and the after hooks run once more on that page
    /// (as in Flask, so it still gets the headers they add); a second panic leaves the page
    /// as it is.
    ///
    /// ```
    /// use carafe::{route, testing::TestClient, App, Request, Response};
    ///
    /// let mut app = App::new();
    /// app.after(|_req: &Request, response: &mut Response| {
    ///     // A static value is always valid, so the Result can be ignored.
    ///     let _ = response.set_header("x-content-type-options", "nosniff");
    /// });
    /// route!(app, GET "/" => |_req| "home")?;
    ///
    /// let client = TestClient::new(app);
    /// assert_eq!(client.get("/").send().header("x-content-type-options"), Some("nosniff"));
    /// let missing = client.get("/nope").send();
    /// assert_eq!((missing.status().as_u16(), missing.header("x-content-type-options")), (404, Some("nosniff")));
    /// # Ok::<(), carafe::Error>(())
    /// ```
    pub fn after<H>(&mut self, hook: H) -> &mut Self
    where
        H: Fn(&Request<'_>, &mut Response) + Send + Sync + 'static,
    {
        self.hooks.add_after(hook);
        self
    }

    /// Renders error responses of `status` with `handler`, like Flask's `errorhandler`: for
    /// the 404 of an unknown path, the 405 of a wrong method, the 500 of a panic, and any
    /// [`HttpError`] a handler returns. The page keeps the error's status unless the handler
    /// sets a different, non-200 one.
    ///
    /// ```
    /// use carafe::{App, HttpError, Request, Response, StatusCode};
    ///
    /// let mut app = App::new();
    /// app.error_handler(StatusCode::NOT_FOUND, |req: &Request, _error: &HttpError| {
    ///     Response::html(format!("<h1>Nothing at {}</h1>", req.path().len()))
    /// });
    /// ```
    pub fn error_handler<H, R>(&mut self, status: StatusCode, handler: H) -> &mut Self
    where
        H: Fn(&Request<'_>, &HttpError) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        let handler: ErrorHandler = Arc::new(move |req, error| handler(req, error).into_response());
        self.error_handlers.insert(status, handler);
        self
    }

    /// Sets the secret that signs [sessions](crate::Session), like Flask's `SECRET_KEY`: at
    /// least 32 bytes, random, and kept out of the source (read it from a file or the
    /// environment). The signing key is derived from it with HKDF.
    ///
    /// Without this call, serving reads the secret from the `CARAFE_SECRET_KEY` environment
    /// variable; without that either, it makes a random key and logs a warning, since
    /// sessions then end when the server restarts (and are not shared by processes serving
    /// the same site). An error if the secret is shorter than 32 bytes.
    ///
    /// ```
    /// let mut app = carafe::App::new();
    /// app.secret_key("at least 32 bytes of randomness, e.g. openssl rand -base64 48")?;
    /// assert!(app.secret_key("too short").is_err());
    /// # Ok::<(), carafe::Error>(())
    /// ```
    #[cfg(feature = "sessions")]
    pub fn secret_key(&mut self, secret: impl AsRef<[u8]>) -> Result<&mut Self, Error> {
        self.session_key = Some(crate::session::key_from_secret(
            secret.as_ref(),
            "App::secret_key",
        )?);
        Ok(self)
    }

    /// The key that signs sessions, once [`ensure_session_key`](Self::ensure_session_key) ran.
    #[cfg(feature = "sessions")]
    pub(crate) fn session_key(&self) -> Option<&cookie::Key> {
        self.session_key.as_ref()
    }

    /// Makes sure sessions have a key before serving: the one set with [`App::secret_key`],
    /// else (when `from_environment`) `CARAFE_SECRET_KEY`, else a random one.
    #[cfg(feature = "sessions")]
    pub(crate) fn ensure_session_key(&mut self, from_environment: bool) -> Result<(), Error> {
        const VARIABLE: &str = "CARAFE_SECRET_KEY";
        if self.session_key.is_some() {
            return Ok(());
        }
        if from_environment && let Some(secret) = std::env::var_os(VARIABLE) {
            self.session_key = Some(crate::session::key_from_secret(
                secret.as_encoded_bytes(),
                VARIABLE,
            )?);
            return Ok(());
        }
        let key = cookie::Key::try_generate().ok_or_else(|| {
            std::io::Error::other("the operating system gave no randomness for a session key")
        })?;
        self.warn_random_session_key = std::sync::atomic::AtomicBool::new(from_environment);
        self.session_key = Some(key);
        Ok(())
    }

    /// Whether any route runs on the blocking pool (which then gets started).
    pub(crate) fn has_blocking_routes(&self) -> bool {
        self.router.routes().any(RouteInfo::is_blocking)
    }

    /// Every route, in registration order (what `--routes` prints).
    pub fn routes(&self) -> Vec<&RouteInfo> {
        self.router.routes().collect()
    }

    /// The route table, for the benchmarks' lookups (`crate::bench`).
    pub(crate) fn router(&self) -> &Router {
        &self.router
    }

    /// What is settled once the app stops changing (`bind`, and the in-memory drivers
    /// `TestClient::new` and `__bench::Driver::new`): the session key (with
    /// `from_environment`, read from `CARAFE_SECRET_KEY` if none was set; tests do not read
    /// it, so they do not depend on the environment), and the final route table for the
    /// templates' `url_for`.
    pub(crate) fn finish_setup(&mut self, from_environment: bool) -> Result<(), Error> {
        #[cfg(feature = "sessions")]
        self.ensure_session_key(from_environment)?;
        #[cfg(not(feature = "sessions"))]
        let _ = from_environment;
        self.share_routes_with_templates();
        self.router.freeze();
        Ok(())
    }

    /// Gives the templates the final route table for `url_for`: templates may be configured
    /// before the routes.
    fn share_routes_with_templates(&mut self) {
        let urls = self.router.url_map();
        if let Some(templates) = &mut self.templates {
            templates.set_url_map(urls);
        }
    }

    /// Binds the listening socket(s) without serving yet, so the caller can read the bound
    /// address (bind port 0 for any free port) and take a shutdown handle first.
    pub fn bind(mut self, addr: impl ToSocketAddrs) -> Result<Server, Error> {
        self.finish_setup(true)?;
        Server::bind(Arc::new(self), addr)
    }

    /// Serves on `addr` until SIGINT or SIGTERM, then shuts down gracefully: in-flight
    /// requests finish (within [`Config::shutdown_grace`]), idle connections close. A second
    /// signal stops at once.
    pub fn run(self, addr: impl ToSocketAddrs) -> Result<(), Error> {
        self.bind(addr)?.run_until_signal()
    }

    /// Serves on `addr` on background threads and returns at once; the returned handle stops
    /// the server when dropped. What tests use.
    pub fn spawn(self, addr: impl ToSocketAddrs) -> Result<RunningServer, Error> {
        self.bind(addr)?.spawn()
    }

    /// Answers one parsed request: route, run the before hooks, call the handler behind the
    /// panic boundary (unless a hook answered), apply the app's error handler if the response
    /// is an error, run the after hooks, then store a changed session.
    ///
    /// When the route is `blocking` and `run_blocking` is false, runs nothing and returns
    /// [`Response::deferred`]: an event loop hands such requests to the blocking pool, whose
    /// threads call this again with `run_blocking` set (so hooks run there too). A flag in the
    /// response rather than an `Option` around it: this runs for every request, and the wrapper
    /// cost a move.
    pub(crate) fn respond(
        &self,
        head: &Head<'_, '_>,
        body: &[u8],
        peer: SocketAddr,
        run_blocking: bool,
    ) -> Response {
        let (route, params, unrouted) = match self.router.lookup(&head.method, head.path) {
            Lookup::Found(route, params) => (Some(route), params, None),
            // `OPTIONS *` asks about the server, not a resource (RFC 9110 §9.3.7): answered
            // for the whole app, before any hook (the parser lets `*` through for OPTIONS only).
            Lookup::NotFound if head.path == "*" => {
                return with_allow(
                    Response::new(StatusCode::NO_CONTENT),
                    &self.router.server_allow(),
                );
            }
            other => (None, matchit::Params::new(), Some(other)),
        };
        if !run_blocking && route.is_some_and(|route| route.info.is_blocking()) {
            return Response::deferred();
        }
        let request = Request::new(
            head,
            body,
            peer,
            self,
            route.map(|route| &route.info),
            params,
        );
        let mut panicked = false;
        let early = self.hooks.before_request(&request, &mut panicked);
        let response = match (early, route, unrouted) {
            (Some(early), _, _) => early,
            (None, Some(route), _) => match call_guarded(|| (route.handler)(&request)) {
                Ok(response) => response,
                Err(panic) => {
                    panicked = true;
                    log::error!(
                        "handler `{}` for {} {} panicked: {panic}",
                        route.info.handler(),
                        head.method,
                        head.target
                    );
                    HttpError::internal("Internal Server Error").into()
                }
            },
            (None, None, Some(Lookup::MethodNotAllowed(allow))) => {
                with_allow(abort(StatusCode::METHOD_NOT_ALLOWED).into(), allow)
            }
            (None, None, Some(Lookup::Options(allow))) => {
                with_allow(Response::new(StatusCode::NO_CONTENT), allow)
            }
            _ => abort(StatusCode::NOT_FOUND).into(),
        };
        let response = self.finish_response(&request, response, &mut panicked);
        #[cfg(feature = "sessions")]
        let response = self.save_session(&request, response, panicked);
        #[cfg(not(feature = "sessions"))]
        let _ = panicked;
        if response.status().is_informational() {
            return refuse_informational(&request, &response);
        }
        response
    }

    /// Adds the `Set-Cookie` of a session the request changed, and `Vary: Cookie` to any
    /// response that read the session (a shared cache must not hand it to someone else). A
    /// session that cannot be stored turns the response into a logged 500. Costs one branch
    /// when the handler did not use the session.
    #[cfg(feature = "sessions")]
    fn save_session(
        &self,
        request: &Request<'_>,
        mut response: Response,
        discard: bool,
    ) -> Response {
        let Some(session) = request.session_if_used() else {
            return response;
        };
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
        if discard {
            return response;
        }
        let secure = request.scheme() == "https";
        let stored = session.set_cookie_value(
            &self.config.session_cookie_name,
            self.session_key(),
            secure,
            std::time::SystemTime::now(),
        );
        match stored {
            Ok(Some(cookie)) => {
                if self
                    .warn_random_session_key
                    .swap(false, std::sync::atomic::Ordering::Relaxed)
                {
                    log::warn!(
                        "no secret key (App::secret_key or CARAFE_SECRET_KEY): sessions are signed \
                         with a random key and will not survive a restart"
                    );
                }
                response.headers_mut().append(SET_COOKIE, cookie);
                response
            }
            Ok(None) => response,
            Err(error) => {
                log::error!(
                    "cannot store the session for {} {}: {}",
                    request.method(),
                    request.target(),
                    crate::error::chain(&error)
                );
                // The app's 500 page; its own session changes are not stored again.
                self.handle_error(request, HttpError::internal("Internal Server Error").into())
            }
        }
    }

    /// The error handler, then the after hooks. One inline check covers both, so an app
    /// without after hooks pays one more comparison for them: most responses are not errors
    /// and never make the call.
    #[inline]
    fn finish_response(
        &self,
        request: &Request<'_>,
        response: Response,
        panicked: &mut bool,
    ) -> Response {
        if response.error().is_none() && !self.hooks.has_after() {
            return response;
        }
        self.finish_error_or_hooked(request, response, panicked)
    }

    /// Cold like `render_error_page`: only error responses and apps with after hooks come here.
    #[cold]
    fn finish_error_or_hooked(
        &self,
        request: &Request<'_>,
        response: Response,
        panicked: &mut bool,
    ) -> Response {
        let response = self.handle_error(request, response);
        self.hooks
            .after_request(request, response, panicked, |page| {
                self.handle_error(request, page)
            })
    }

    /// Replaces an error response with the app's page for its status, if one is registered.
    /// The check is inline; most responses are not errors and never make the call.
    #[inline]
    fn handle_error(&self, request: &Request<'_>, response: Response) -> Response {
        if response.error().is_none() {
            return response;
        }
        self.render_error_page(request, response)
    }

    #[cold]
    fn render_error_page(&self, request: &Request<'_>, response: Response) -> Response {
        let Some(error) = response.error() else {
            return response;
        };
        let Some(handler) = self.error_handlers.get(&error.status()) else {
            return response;
        };
        let mut page = match call_guarded(|| handler(request, error)) {
            Ok(page) => page,
            Err(panic) => {
                log::error!("error handler for {} panicked: {panic}", error.status());
                return response;
            }
        };
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

    /// Renders a template, or explains why it cannot.
    pub(crate) fn render_template<C: serde::Serialize>(
        &self,
        name: &str,
        context: C,
    ) -> Result<String, minijinja::Error> {
        match &self.templates {
            Some(templates) => templates.render(name, context),
            None => Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                "no template folder is configured: call App::templates",
            )),
        }
    }
}

/// A 1xx status is never a final answer (RFC 9110 §15.2): sent as one, the client would wait
/// for the real response forever. It is the app's bug, so a logged 500.
#[cold]
fn refuse_informational(request: &Request<'_>, response: &Response) -> Response {
    log::error!(
        "{} {} was answered with {}, which is not a final status; sending 500 instead",
        request.method(),
        request.target(),
        response.status()
    );
    HttpError::internal("Internal Server Error").into()
}

fn with_allow(mut response: Response, allow: &HeaderValue) -> Response {
    response.headers_mut().insert(ALLOW, allow.clone());
    response
}
