//! [`Blueprint`]: a group of routes with a name, registered under a path prefix, with hooks,
//! error handlers and, if it wants, a templates folder and static folders of its own (Flask's
//! blueprints, axum's nested routers).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::StatusCode;

use crate::error::{Error, HttpError, RouteError};
use crate::handler::Handler;
use crate::request::Request;
use crate::response::{IntoResponse, Response};
use crate::router::RouteSpec;
use crate::scope::Scope;

/// Routes, hooks and error handlers to register under a prefix with
/// [`App::register`](crate::App::register).
///
/// Inside the app, a blueprint's routes are named `blueprint.name` (`api.time`) for
/// `url_for`, and `.name` from a handler or template of the same blueprint; its before hooks
/// run after the app's, its after hooks before the app's, and its error handlers are asked
/// first for errors of its routes (and of unrouted requests under its prefix).
///
// The example needs the `json` feature (a default one); without it, it is shown but not run.
#[cfg_attr(feature = "json", doc = "```")]
#[cfg_attr(not(feature = "json"), doc = "```ignore")]
/// use carafe::{route, testing::TestClient, App, Blueprint, HttpError, Json, Request, Response};
///
/// fn time(_req: &Request) -> &'static str { "12:00" }
/// fn links(req: &Request) -> Result<String, HttpError> {
///     Ok(format!("{} {}", req.url_for(".time", &[])?, req.url_for("index", &[])?))
/// }
///
/// let mut api = Blueprint::new("api");
/// route!(api, GET "/time" => time)?;
/// route!(api, GET "/links" => links)?;
/// api.after(|_req: &Request, response: &mut Response| {
///     let _ = response.set_header("cache-control", "no-store");
/// });
/// api.error_handler_any(|_req: &Request, error: &HttpError| {
///     Json(serde_json::json!({ "error": error.message() }))
/// });
///
/// let mut app = App::new();
/// route!(app, GET "/" => |_req| "home", name = "index")?;
/// app.register("/api", api)?;
///
/// assert_eq!(app.url_for("api.time", &[])?, "/api/time");
/// let client = TestClient::new(app);
/// let time = client.get("/api/time").send();
/// assert_eq!((time.text(), time.header("cache-control")), ("12:00".to_owned(), Some("no-store")));
/// assert_eq!(client.get("/api/links").send().text(), "/api/time /");
/// assert_eq!(client.get("/api/nothing").send().text(), r#"{"error":"Not Found"}"#);
/// assert_eq!(client.get("/").send().header("cache-control"), None, "the app's routes are not its");
/// # Ok::<(), carafe::Error>(())
/// ```
pub struct Blueprint {
    name: String,
    pub(crate) routes: Vec<(RouteSpec, Handler)>,
    pub(crate) scope: Scope,
    pub(crate) templates: Option<PathBuf>,
    /// `(prefix within the blueprint, folder)`.
    pub(crate) static_dirs: Vec<(String, PathBuf)>,
    /// CSRF protection is on for its routes.
    #[cfg(feature = "sessions")]
    pub(crate) csrf: bool,
}

impl std::fmt::Debug for Blueprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blueprint")
            .field("name", &self.name)
            .field("routes", &self.routes.len())
            .field("templates", &self.templates)
            .field("static_dirs", &self.static_dirs)
            .finish_non_exhaustive()
    }
}

impl Blueprint {
    /// An empty blueprint named `name` (a word: letters, digits, `_`), the first part of its
    /// routes' names.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            routes: Vec::new(),
            scope: Scope::default(),
            templates: None,
            static_dirs: Vec::new(),
            #[cfg(feature = "sessions")]
            csrf: false,
        }
    }

    /// CSRF protection for this blueprint's routes; see
    /// [`App::csrf_protect`](crate::App::csrf_protect).
    #[cfg(feature = "sessions")]
    pub fn csrf_protect(&mut self, protection: crate::csrf::CsrfProtection) -> &mut Self {
        protection.install(&mut self.scope.hooks);
        self.csrf = true;
        self
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds a route, its pattern relative to the prefix the blueprint is registered under;
    /// [`route!`](crate::route) is the usual way to call this, as for an [`App`](crate::App).
    /// Conflicts are found when the blueprint is registered, naming both routes.
    pub fn route<H, R>(&mut self, spec: RouteSpec, handler: H) -> Result<&mut Self, RouteError>
    where
        H: Fn(&Request<'_>) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        let handler: Handler = Arc::new(move |req: &Request<'_>| handler(req).into_response());
        self.routes.push((spec, handler));
        Ok(self)
    }

    /// A before hook for this blueprint's routes, run after the app's; see
    /// [`App::before`](crate::App::before).
    pub fn before<H>(&mut self, hook: H) -> &mut Self
    where
        H: Fn(&Request<'_>) -> Option<Response> + Send + Sync + 'static,
    {
        self.scope.hooks.add_before(hook);
        self
    }

    /// An after hook for this blueprint's routes, run before the app's; see
    /// [`App::after`](crate::App::after).
    pub fn after<H>(&mut self, hook: H) -> &mut Self
    where
        H: Fn(&Request<'_>, &mut Response) + Send + Sync + 'static,
    {
        self.scope.hooks.add_after(hook);
        self
    }

    /// An error handler for `status`, asked before the app's for this blueprint's errors;
    /// see [`App::error_handler`](crate::App::error_handler).
    pub fn error_handler<H, R>(&mut self, status: StatusCode, handler: H) -> &mut Self
    where
        H: Fn(&Request<'_>, &HttpError) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        self.scope.set_error_handler(Some(status), handler);
        self
    }

    /// A catch-all error handler for this blueprint's errors; see
    /// [`App::error_handler_any`](crate::App::error_handler_any).
    pub fn error_handler_any<H, R>(&mut self, handler: H) -> &mut Self
    where
        H: Fn(&Request<'_>, &HttpError) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        self.scope.set_error_handler(None, handler);
        self
    }

    /// Applies a CORS policy to this blueprint's routes; see [`App::cors`](crate::App::cors).
    pub fn cors(&mut self, policy: crate::cors::Cors) -> Result<&mut Self, Error> {
        policy.install(&mut self.scope.hooks)?;
        Ok(self)
    }

    /// A templates folder, searched after the app's (so the app can override a blueprint's
    /// template, as in Flask).
    pub fn templates(&mut self, dir: impl AsRef<Path>) -> Result<&mut Self, Error> {
        crate::app::check_directory(dir.as_ref())?;
        self.templates = Some(dir.as_ref().to_path_buf());
        Ok(self)
    }

    /// Serves `dir` under `prefix` inside the blueprint; its route is `blueprint.static`
    /// (`url_for('api.static', filename='a.css')`).
    pub fn static_dir(&mut self, prefix: &str, dir: impl AsRef<Path>) -> Result<&mut Self, Error> {
        crate::app::check_directory(dir.as_ref())?;
        self.static_dirs
            .push((prefix.to_owned(), dir.as_ref().to_path_buf()));
        Ok(self)
    }
}
