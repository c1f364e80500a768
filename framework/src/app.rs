//! [`App`]: the builder users write: routes, templates, static folders, error handlers, hooks
//! and configuration.
//!
//! An `App` is built single-threaded with `&mut self` methods. When it stops changing
//! ([`App::bind`], or `TestClient::new`) it is frozen into a `Site` (`site.rs`), which answers
//! requests and is shared read-only by every worker: no locks on the request path. Serving
//! (`bind`, `run`, `spawn`) is in `server/`.

use std::path::Path;
use std::sync::Arc;

use http::{Method, StatusCode};

use crate::blueprint::Blueprint;
use crate::config::Config;
use crate::error::{Error, HttpError, RouteError, UrlForError};
use crate::handler::Handler;
use crate::request::Request;
use crate::response::{IntoResponse, Response};
use crate::router::{RouteInfo, RouteSpec, Router};
use crate::scope::Scope;
use crate::site::{Parts, Site};
use crate::state::SharedState;
use crate::static_files::StaticDir;
use crate::template::Templates;

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
    /// The app's own hooks and error handlers.
    scope: Scope,
    /// Those of each registered blueprint, in registration order (scope `1 + index`).
    blueprints: Vec<Scope>,
    /// Each blueprint's path prefix and scope.
    prefixes: Vec<(String, usize)>,
    state: SharedState,
    /// WebSocket rooms, shared with the frozen app.
    #[cfg(feature = "websocket")]
    hub: Arc<crate::hub::Hub>,
    /// The debug page ([`App::debug`]).
    debug: bool,
    /// Some scope has CSRF protection.
    #[cfg(feature = "sessions")]
    csrf: bool,
    /// Signs sessions; set by [`App::secret_key`], else when the app is frozen.
    #[cfg(feature = "sessions")]
    session_key: Option<cookie::Key>,
    /// Cleared when a graceful shutdown starts ([`App::health`]).
    pub(crate) readiness: crate::health::Readiness,
    /// What [`App::metrics`] counts into, once called.
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("config", &self.config)
            .field("routes", &self.routes())
            .field("templates", &self.templates.is_some())
            .field("error_handlers", &self.scope.error_statuses())
            .field("hooks (before, after)", &self.scope.hooks.counts())
            .field("blueprints", &self.blueprints.len())
            .field("state", &self.state.describe())
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
            scope: Scope::default(),
            blueprints: Vec::new(),
            prefixes: Vec::new(),
            state: SharedState::default(),
            #[cfg(feature = "websocket")]
            hub: Arc::default(),
            debug: false,
            #[cfg(feature = "sessions")]
            csrf: false,
            #[cfg(feature = "sessions")]
            session_key: None,
            readiness: crate::health::Readiness::default(),
            #[cfg(feature = "metrics")]
            metrics: None,
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
        self.router.insert(spec, handler, 0)?;
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
        check_directory(dir.as_ref())?;
        self.templates = Some(Templates::new(dir.as_ref()));
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
        check_directory(dir.as_ref())?;
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
    /// Before hooks, the handler, [error handlers](Self::error_handler) and
    /// [after hooks](Self::after) run in the order ARCHITECTURE.md sets out once, under "The
    /// order of an answer" (with [`Blueprint`]s: the app's before hooks first, its after
    /// hooks last).
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
        self.scope.hooks.add_before(hook);
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
        self.scope.hooks.add_after(hook);
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
        self.scope.set_error_handler(Some(status), handler);
        self
    }

    /// Renders every error response whose status has no [`error_handler`](Self::error_handler)
    /// of its own: one handler for all of them, instead of registering codes one by one. Without
    /// any, an error's body is negotiated from `Accept`: JSON for a client that prefers it
    /// (`{"error": {"status": 404, "message": "Not Found"}}`), a small HTML page otherwise.
    ///
    /// ```
    /// use carafe::{route, testing::TestClient, App, HttpError, Request, StatusCode};
    ///
    /// let mut app = App::new();
    /// app.error_handler(StatusCode::NOT_FOUND, |_req: &Request, _e: &HttpError| "no such page");
    /// app.error_handler_any(|req: &Request, error: &HttpError| {
    ///     format!("{} went wrong at {}", error.status().as_u16(), req.path())
    /// });
    /// route!(app, POST "/form" => |_req| "posted")?;
    /// let client = TestClient::new(app);
    /// assert_eq!(client.get("/nope").send().text(), "no such page");
    /// let wrong_method = client.get("/form").send();
    /// assert_eq!(wrong_method.status(), 405);
    /// assert_eq!(wrong_method.text(), "405 went wrong at /form");
    /// # Ok::<(), carafe::Error>(())
    /// ```
    pub fn error_handler_any<H, R>(&mut self, handler: H) -> &mut Self
    where
        H: Fn(&Request<'_>, &HttpError) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        self.scope.set_error_handler(None, handler);
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

    /// Registers `blueprint`'s routes under `prefix` (`"/api"`; `""` for none), with its
    /// hooks, error handlers, templates folder and static folders; see [`Blueprint`]. Route
    /// conflicts, with the app's routes or another blueprint's, are errors naming both
    /// routes; so is a second blueprint of the same name.
    pub fn register(
        &mut self,
        prefix: &str,
        blueprint: Blueprint,
    ) -> Result<&mut Self, RouteError> {
        let prefix = prefix.trim_end_matches('/');
        let name = blueprint.name().to_owned();
        let invalid = |reason: &str| RouteError::Invalid {
            pattern: prefix.to_owned(),
            handler: format!("blueprint {name}"),
            reason: reason.to_owned(),
        };
        if !prefix.is_empty() && !prefix.starts_with('/') {
            return Err(invalid("a blueprint's prefix must start with '/'"));
        }
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(invalid(
                "a blueprint's name is a word: letters, digits, '_'",
            ));
        }
        if self
            .router
            .routes()
            .any(|route| route.blueprint() == Some(name.as_str()))
        {
            return Err(invalid("a blueprint of this name is already registered"));
        }
        let scope = self.blueprints.len() + 1;
        for (spec, handler) in blueprint.routes {
            self.router
                .insert(spec.in_blueprint(&name, prefix), handler, scope)?;
        }
        for (within, dir) in blueprint.static_dirs {
            let files = StaticDir::new(&dir).map_err(|error| invalid(&error.to_string()))?;
            let spec = RouteSpec::new(
                &[Method::GET],
                format!("{}/{{*filename}}", within.trim_end_matches('/')),
            )
            .handler_name("static_files", "")
            .name("static")
            .in_blueprint(&name, prefix);
            let handler: Handler = Arc::new(move |req: &Request<'_>| files.serve(req));
            self.router.insert(spec, handler, scope)?;
        }
        if let Some(dir) = blueprint.templates {
            match &mut self.templates {
                Some(templates) => templates.add_folder(&dir),
                None => self.templates = Some(Templates::new(&dir)),
            }
        }
        #[cfg(feature = "sessions")]
        {
            self.csrf |= blueprint.csrf;
        }
        self.blueprints.push(blueprint.scope);
        self.prefixes.push((prefix.to_owned(), scope));
        Ok(self)
    }

    /// Gives every request a shared value of type `T` ([`Request::state`]): a database pool,
    /// a client, settings, counters. One value per type (a second call with the same type
    /// replaces the first).
    ///
    /// State is shared by all threads at once, read through `&T`. For state that changes:
    /// an atomic for a counter or a flag; `RwLock` for data read often and written rarely;
    /// `Mutex` for the rest, held only for the few lines that need it and never across a
    /// slow call; a pool or client that is already thread-safe, as it is.
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use carafe::{route, testing::TestClient, App, HttpError, Request};
    ///
    /// struct Hits(AtomicU64);
    /// struct Notes(Mutex<Vec<String>>);
    ///
    /// fn add(req: &Request) -> Result<String, HttpError> {
    ///     let notes = req.state::<Notes>()?;
    ///     let mut notes = notes.0.lock().unwrap(); // held for two lines only
    ///     notes.push(req.text()?.to_owned());
    ///     Ok(notes.len().to_string())
    /// }
    ///
    /// fn hits(req: &Request) -> Result<String, HttpError> {
    ///     let hits = req.state::<Hits>()?.0.fetch_add(1, Ordering::Relaxed) + 1;
    ///     Ok(hits.to_string())
    /// }
    ///
    /// let mut app = App::new();
    /// app.state(Hits(AtomicU64::new(0))).state(Notes(Mutex::new(Vec::new())));
    /// route!(app, POST "/notes" => add)?;
    /// route!(app, GET "/hits" => hits)?;
    /// let client = TestClient::new(app);
    /// assert_eq!(client.post("/notes").body("milk").send().text(), "1");
    /// assert_eq!(client.post("/notes").body("eggs").send().text(), "2");
    /// client.get("/hits").send();
    /// assert_eq!(client.get("/hits").send().text(), "2");
    /// # Ok::<(), carafe::Error>(())
    /// ```
    pub fn state<T: Send + Sync + 'static>(&mut self, value: T) -> &mut Self {
        self.state.insert(value);
        self
    }

    /// Protects the app's routes against cross-site request forgery, as Flask-WTF's
    /// `CSRFProtect`: a POST, PUT, PATCH or DELETE needs the visitor's token (the form field
    /// `csrf_token`, written by `{{ csrf_token() }}` in templates, or the `X-CSRF-Token`
    /// header) or is refused with 400 before its handler. See
    /// [`CsrfProtection`](crate::CsrfProtection) for what is exempt; a blueprint can be
    /// protected on its own with [`Blueprint::csrf_protect`].
    #[cfg(feature = "sessions")]
    pub fn csrf_protect(&mut self, protection: crate::csrf::CsrfProtection) -> &mut Self {
        protection.install(&mut self.scope.hooks);
        self.csrf = true;
        self
    }

    /// Applies a CORS policy to the app's routes: which other sites' pages may call them from
    /// a browser; see [`Cors`](crate::Cors). An error for a policy the Fetch standard forbids
    /// (credentials for any origin).
    pub fn cors(&mut self, policy: crate::cors::Cors) -> Result<&mut Self, Error> {
        policy.install(&mut self.scope.hooks)?;
        Ok(self)
    }

    /// Compresses responses with gzip or brotli, as each request's `Accept-Encoding` asks
    /// (it sets [`Config::compression`](crate::Config)): pages, JSON, CSS and scripts of at
    /// least [`Compression::min_size`](crate::Compression::min_size) bytes, streamed bodies
    /// as they stream, precompressed static files where they exist. Routes marked
    /// `no_compression` are left alone (mark those that reflect what a visitor sent next to
    /// a secret: the BREACH attack). Needs the `compression` feature.
    ///
    /// ```
    /// use carafe::testing::TestClient;
    /// use carafe::{route, App, Compression};
    ///
    /// let mut app = App::new();
    /// app.compress(Compression::default());
    /// route!(app, GET "/" => |_req| "a line of text\n".repeat(100)).unwrap();
    /// let response = TestClient::new(app).get("/").header("accept-encoding", "gzip").send();
    /// assert_eq!(response.header("content-encoding"), Some("gzip"));
    /// ```
    #[cfg(feature = "compression")]
    pub fn compress(&mut self, settings: crate::compression::Compression) -> &mut Self {
        self.config.compression = Some(settings);
        self
    }

    /// Turns on the debug page, Flask's debugger read-only: a handler's panic or a template
    /// error answers with a 500 page showing the message, where it happened (with the
    /// backtrace, or the template's lines) and the request (method, target, header fields,
    /// with cookies and credentials masked). `CARAFE_DEBUG=1` in the environment turns it
    /// on too when serving. Never on by default, and refused (with an error in the log) when
    /// the server listens on an address other than loopback: the page tells a stranger how
    /// your code is laid out. Off, a 500 says nothing internal.
    ///
    /// ```
    /// use carafe::{route, testing::TestClient, App};
    ///
    /// let mut app = App::new();
    /// app.debug(true);
    /// route!(app, GET "/boom" => |_req| -> &'static str { panic!("the cache is empty") })?;
    /// let client = TestClient::new(app).propagate_errors(false);
    /// let page = client.get("/boom").header("Cookie", "session=secret").send();
    /// assert_eq!(page.status(), 500);
    /// assert!(page.text().contains("the cache is empty"));
    /// assert!(!page.text().contains("secret"), "cookies are masked");
    /// # Ok::<(), carafe::Error>(())
    /// ```
    pub fn debug(&mut self, on: bool) -> &mut Self {
        self.debug = on;
        self
    }

    /// The app's WebSocket rooms ([`Hub`](crate::Hub)), for code outside handlers: another
    /// thread that sends to a room, a timer that announces. The same hub is
    /// [`Request::hub`](crate::Request::hub) in handlers.
    #[cfg(feature = "websocket")]
    pub fn hub(&self) -> Arc<crate::hub::Hub> {
        Arc::clone(&self.hub)
    }

    /// Every route, in registration order (what `--routes` prints).
    pub fn routes(&self) -> Vec<&RouteInfo> {
        self.router.routes().collect()
    }

    /// The route table, for the benchmarks' lookups (`crate::bench`).
    pub(crate) fn router(&self) -> &Router {
        &self.router
    }

    /// Freezes the app into the [`Site`] that serves it. Sessions get their key here: the one
    /// set with [`App::secret_key`], else (when `from_environment`, as when serving)
    /// `CARAFE_SECRET_KEY`, else a random one. Tests (`TestClient`) do not read the
    /// environment, so they do not depend on it.
    pub(crate) fn freeze(self, from_environment: bool) -> Result<Site, Error> {
        self.freeze_listening(from_environment, None)
    }

    /// [`freeze`](Self::freeze) for a server listening on `ip`: the debug page is refused
    /// unless it is loopback.
    pub(crate) fn freeze_listening(
        self,
        from_environment: bool,
        ip: Option<std::net::IpAddr>,
    ) -> Result<Site, Error> {
        let wanted = self.debug
            || (from_environment
                && std::env::var("CARAFE_DEBUG")
                    .is_ok_and(|value| matches!(value.as_str(), "1" | "true")));
        let debug = match ip {
            Some(ip) if wanted && !ip.is_loopback() => {
                log::error!(
                    "REFUSED: the debug page (App::debug / CARAFE_DEBUG) shows source locations, \
                     backtraces and request headers; it stays off on {ip}, which others can \
                     reach. Serve on 127.0.0.1 or ::1 to use it."
                );
                false
            }
            _ => wanted,
        };
        if debug {
            crate::handler::capture_backtraces();
            log::warn!("the debug page is on: a panic or template error shows its details");
        }
        #[cfg(feature = "sessions")]
        let session_key = match self.session_key {
            Some(key) => key,
            None => session_key_from(from_environment)?,
        };
        #[cfg(not(feature = "sessions"))]
        let _ = from_environment;
        Ok(Site::new(Parts {
            config: self.config,
            router: self.router,
            templates: self.templates,
            scopes: std::iter::once(self.scope).chain(self.blueprints).collect(),
            prefixes: self.prefixes,
            state: self.state,
            #[cfg(feature = "websocket")]
            hub: self.hub,
            debug,
            #[cfg(feature = "sessions")]
            csrf: self.csrf,
            #[cfg(feature = "sessions")]
            session_key,
            readiness: self.readiness,
            #[cfg(feature = "metrics")]
            metrics: self.metrics,
        }))
    }
}

/// Fails with [`Error::Directory`] unless `dir` is a directory we can list: a folder given to
/// the app is checked when it is given, not when the first request needs it.
pub(crate) fn check_directory(dir: &Path) -> Result<(), Error> {
    let error = |source| Error::Directory {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::read_dir(dir).map(drop).map_err(error)
}

/// The session key when the app set none: `CARAFE_SECRET_KEY` (when `from_environment`),
/// else a random one, with a warning when serving, since sessions then end at a restart.
#[cfg(feature = "sessions")]
fn session_key_from(from_environment: bool) -> Result<cookie::Key, Error> {
    const VARIABLE: &str = "CARAFE_SECRET_KEY";
    if from_environment && let Some(secret) = std::env::var_os(VARIABLE) {
        return crate::session::key_from_secret(secret.as_encoded_bytes(), VARIABLE);
    }
    let key = cookie::Key::try_generate().ok_or_else(|| {
        std::io::Error::other("the operating system gave no randomness for a session key")
    })?;
    if from_environment {
        log::warn!(
            "no secret key (App::secret_key or CARAFE_SECRET_KEY): sessions, if the app uses \
             them, are signed with a random key and end when the server restarts"
        );
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_folder_is_refused_at_configuration() {
        let mut app = App::new();
        let missing = Path::new("/nonexistent/carafe/folder");
        assert!(matches!(
            app.templates(missing),
            Err(Error::Directory { .. })
        ));
        assert!(matches!(
            app.static_dir("/static", missing),
            Err(Error::Directory { .. })
        ));
    }
}
