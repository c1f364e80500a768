//! The router: matchit finds the path, a small method table per path finds the handler.
//!
//! matchit knows nothing of methods, so each registered pattern maps to one [`PathEntry`]
//! holding its methods and a precomputed `Allow` value; 405 and OPTIONS answers cost no
//! allocation. HEAD falls back to the GET handler. Registration errors name both routes.
//! Named routes' patterns are also kept parsed for `url_for` (`url_for.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use http::Method;
use http::header::HeaderValue;
use smallvec::SmallVec;

use crate::error::{RouteError, UrlForError};
use crate::handler::Handler;
use crate::url_for::{UrlMap, UrlPattern};

mod static_paths;
use static_paths::StaticPaths;

/// What [`App::routes`](crate::App::routes) lists about one route (`flask routes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    name: Option<String>,
    methods: Vec<Method>,
    pattern: String,
    handler: String,
    blocking: bool,
    blueprint: Option<String>,
    csrf_exempt: bool,
    websocket: bool,
    no_compression: bool,
    /// Blocking or WebSocket: dispatching it takes the out-of-line path.
    unusual: bool,
}

impl RouteInfo {
    /// The route's name for `url_for`: given in `route!`, or the handler's function name.
    /// Closures have none unless one is given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    /// The methods it answers, as registered (HEAD and OPTIONS are implied, not listed).
    pub fn methods(&self) -> &[Method] {
        &self.methods
    }
    /// Whether dispatching it needs more than a call (blocking, or a WebSocket).
    #[inline]
    pub(crate) fn is_unusual(&self) -> bool {
        self.unusual
    }
    /// Whether it is a WebSocket endpoint (`websocket` in `route!`).
    pub fn is_websocket(&self) -> bool {
        self.websocket
    }
    /// Whether CSRF protection lets it through without a token (`csrf_exempt` in `route!`).
    pub fn is_csrf_exempt(&self) -> bool {
        self.csrf_exempt
    }
    /// The blueprint that registered it, if one did.
    pub fn blueprint(&self) -> Option<&str> {
        self.blueprint.as_deref()
    }
    /// The pattern, e.g. `/hello/{name}`.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
    /// Whether the handler runs on the blocking thread pool.
    pub fn is_blocking(&self) -> bool {
        self.blocking
    }
    /// Whether its responses are never compressed (`no_compression` in `route!`).
    pub fn is_compression_off(&self) -> bool {
        self.no_compression
    }

    /// The handler as written in `route!`: `index`, `pages::about`, or `closure@src/main.rs:12`.
    pub fn handler(&self) -> &str {
        &self.handler
    }
}

/// How to register a route: what [`route!`](crate::route) builds, with its options as methods.
///
/// ```
/// use carafe::{App, Method, RouteSpec};
///
/// let mut app = App::new();
/// let spec = RouteSpec::new(&[Method::GET], "/").name("home");
/// app.route(spec, |_req| "home page").unwrap();
/// assert_eq!(app.routes()[0].name(), Some("home"));
/// ```
#[derive(Debug, Clone)]
pub struct RouteSpec {
    methods: Vec<Method>,
    pattern: String,
    handler: String,
    name: Option<String>,
    blocking: bool,
    /// Set when a blueprint is registered.
    blueprint: Option<String>,
    csrf_exempt: bool,
    websocket: bool,
    no_compression: bool,
}

impl RouteSpec {
    /// A route for `methods` on `pattern`.
    pub fn new(methods: &[Method], pattern: impl Into<String>) -> Self {
        Self {
            methods: methods.to_vec(),
            pattern: pattern.into(),
            handler: "<handler>".into(),
            name: None,
            blocking: false,
            blueprint: None,
            csrf_exempt: false,
            websocket: false,
            no_compression: false,
        }
    }

    /// Never compresses this route's responses, whatever
    /// [`Config::compression`](crate::Config) says: for a page that puts a secret (a CSRF
    /// token, a session value) next to text an attacker can choose, such as a reflected
    /// query. Compression would let the attacker learn the secret from the response sizes
    /// (the BREACH attack). Has no effect without the `compression` feature.
    ///
    /// ```
    /// use carafe::{route, App};
    ///
    /// let mut app = App::new();
    /// route!(app, GET "/account" => |req| format!("you searched {:?}", req.query("q")), no_compression).unwrap();
    /// assert!(app.routes()[0].is_compression_off());
    /// ```
    pub fn no_compression(mut self) -> Self {
        self.no_compression = true;
        self
    }

    /// A WebSocket endpoint: only a valid opening handshake (RFC 6455 §4.2.1) reaches its
    /// before hooks and handler, which answer with a `WebSocket` to accept it; anything
    /// else is refused (400, 405 or 426 with the reason). Needs the `websocket` feature
    /// (a default one).
    pub fn websocket(mut self) -> Self {
        self.websocket = true;
        self
    }

    /// Lets unsafe requests to this route through CSRF protection without a token
    /// (`App::csrf_protect`, with the `sessions` feature): for an endpoint that tools or other
    /// servers post to, which authenticates some other way or needs none.
    pub fn csrf_exempt(mut self) -> Self {
        self.csrf_exempt = true;
        self
    }

    /// Names the route for `url_for`, overriding the handler's name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Runs the handler on the blocking thread pool instead of the event loop, for handlers
    /// that wait (a slow query, a sleep, a big computation): the loop keeps serving other
    /// connections meanwhile. See [`Config::blocking_threads`](crate::Config::blocking_threads).
    pub fn blocking(mut self) -> Self {
        self.blocking = true;
        self
    }

    /// The spec as registered by blueprint `blueprint` under `prefix`: the pattern prefixed
    /// (`/` alone becomes the prefix itself, as axum's `nest` does), the name qualified
    /// (`api.time`), as Flask names a blueprint's endpoints.
    pub(crate) fn in_blueprint(mut self, blueprint: &str, prefix: &str) -> Self {
        self.pattern = match self.pattern.as_str() {
            "/" if !prefix.is_empty() => prefix.to_owned(),
            pattern => format!("{prefix}{pattern}"),
        };
        self.name = self.name.map(|name| format!("{blueprint}.{name}"));
        self.blueprint = Some(blueprint.to_owned());
        self
    }

    /// Records the handler's source text (what `route!` passes); a plain function name also
    /// becomes the route's default name.
    pub fn handler_name(mut self, handler: &str, location: &str) -> Self {
        let compact: String = handler.split_whitespace().collect();
        let is_path = !compact.is_empty()
            && compact
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == ':');
        if is_path {
            if self.name.is_none() {
                self.name = compact.rsplit("::").next().map(str::to_owned);
            }
            self.handler = compact;
        } else {
            self.handler = format!("closure@{location}");
        }
        self
    }
}

/// A registered route: what it is and what runs it.
pub(crate) struct Route {
    pub info: RouteInfo,
    pub handler: Handler,
    /// Whose hooks and error handlers apply: 0 the app's, `1 + n` the n-th blueprint's.
    pub scope: usize,
    /// Where its requests are counted when the app serves metrics: its place in
    /// registration order until the app is frozen, then its pattern's slot.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub metrics_slot: usize,
}

/// One registered pattern and the methods it answers.
struct PathEntry {
    pattern: String,
    methods: SmallVec<[(Method, usize); 4]>,
    /// `Allow` for 405 and OPTIONS: the methods, plus HEAD if GET, plus OPTIONS.
    allow: HeaderValue,
}

/// The result of looking up a method and a path.
pub(crate) enum Lookup<'r, 'p> {
    /// A handler answers it.
    Found(&'r Route, matchit::Params<'r, 'p>),
    /// The path exists but not for this method: 405 with this `Allow`.
    MethodNotAllowed(&'r HeaderValue),
    /// An OPTIONS request for a path with no OPTIONS handler: 204 with this `Allow`.
    Options(&'r HeaderValue),
    /// No route has this path.
    NotFound,
}

/// The route table.
#[derive(Default)]
pub(crate) struct Router {
    matcher: matchit::Router<usize>,
    /// Pattern text to its index in `paths`, to add methods to a registered pattern.
    by_pattern: HashMap<String, usize>,
    /// Patterns without parameters, for an exact-match lookup before matchit: one hash and
    /// one comparison instead of a tree walk, for what are most routes.
    static_paths: StaticPaths,
    paths: Vec<PathEntry>,
    routes: Vec<Route>,
    /// Route names to parsed patterns. Behind an `Arc` so that the templates of the frozen
    /// app share it.
    urls: Arc<UrlMap>,
}

impl Router {
    /// Registers a route, refusing duplicates and ambiguous overlaps with an error that names
    /// both routes.
    pub(crate) fn insert(
        &mut self,
        spec: RouteSpec,
        handler: Handler,
        scope: usize,
    ) -> Result<(), RouteError> {
        let invalid = |reason: &str| RouteError::Invalid {
            pattern: spec.pattern.clone(),
            handler: spec.handler.clone(),
            reason: reason.to_owned(),
        };
        if !spec.pattern.starts_with('/') {
            return Err(invalid("a pattern must start with '/'"));
        }
        if spec.methods.is_empty() {
            return Err(invalid("a route needs at least one method"));
        }
        let url_pattern = UrlPattern::parse(&spec.pattern).map_err(invalid)?;
        if let Some(name) = &spec.name
            && let Some(existing) = self.routes.iter().find(|route| {
                route.info.name.as_ref() == Some(name) && route.info.handler != spec.handler
            })
        {
            return Err(RouteError::DuplicateName {
                name: name.clone(),
                pattern: spec.pattern.clone(),
                existing: existing.info.pattern.clone(),
            });
        }
        let path_index = match self.by_pattern.get(&spec.pattern) {
            Some(&index) => index,
            None => self.insert_pattern(&spec)?,
        };
        let entry = &self.paths[path_index];
        for method in &spec.methods {
            if let Some((_, existing)) = entry.methods.iter().find(|(m, _)| m == method) {
                return Err(RouteError::Duplicate {
                    method: method.to_string(),
                    pattern: spec.pattern.clone(),
                    handler: spec.handler.clone(),
                    existing: self.routes[*existing].info.handler.clone(),
                });
            }
        }
        let route_index = self.routes.len();
        let entry = &mut self.paths[path_index];
        entry
            .methods
            .extend(spec.methods.iter().map(|m| (m.clone(), route_index)));
        entry.allow = allow_header(entry.methods.iter().map(|(m, _)| m));
        if let Some(name) = &spec.name {
            Arc::make_mut(&mut self.urls).insert(name, &url_pattern);
        }
        self.routes.push(Route {
            info: RouteInfo {
                name: spec.name,
                methods: spec.methods,
                pattern: spec.pattern,
                handler: spec.handler,
                blocking: spec.blocking,
                blueprint: spec.blueprint,
                csrf_exempt: spec.csrf_exempt,
                websocket: spec.websocket,
                no_compression: spec.no_compression,
                unusual: spec.blocking || spec.websocket,
            },
            handler,
            scope,
            metrics_slot: route_index,
        });
        Ok(())
    }

    fn insert_pattern(&mut self, spec: &RouteSpec) -> Result<usize, RouteError> {
        let index = self.paths.len();
        self.matcher
            .insert(spec.pattern.clone(), index)
            .map_err(|error| match error {
                matchit::InsertError::Conflict { with } => {
                    let existing = self
                        .paths
                        .iter()
                        .find(|entry| entry.pattern == with)
                        .and_then(|entry| entry.methods.first())
                        .map_or_else(
                            || "?".to_owned(),
                            |(_, i)| self.routes[*i].info.handler.clone(),
                        );
                    RouteError::Conflict {
                        pattern: spec.pattern.clone(),
                        handler: spec.handler.clone(),
                        with,
                        existing,
                    }
                }
                other => RouteError::Invalid {
                    pattern: spec.pattern.clone(),
                    handler: spec.handler.clone(),
                    reason: other.to_string(),
                },
            })?;
        self.by_pattern.insert(spec.pattern.clone(), index);
        if !spec.pattern.contains(['{', '}']) {
            self.static_paths.insert(&spec.pattern, index);
        }
        self.paths.push(PathEntry {
            pattern: spec.pattern.clone(),
            methods: SmallVec::new(),
            allow: HeaderValue::from_static("OPTIONS"),
        });
        Ok(index)
    }

    /// Finds the handler for `method` and `path` (the raw, still-encoded path). Inline: its
    /// result (with the parameters matchit found) is large, and is built where it is used.
    #[inline(always)]
    pub(crate) fn lookup<'r, 'p>(&'r self, method: &Method, path: &'p str) -> Lookup<'r, 'p> {
        // A static pattern equal to the path is what matchit would pick too (static segments
        // win over parameters), so the exact match can go first.
        let (index, params) = match self.static_paths.get(path) {
            Some(index) => (index, matchit::Params::new()),
            None => match self.matcher.at(path) {
                Ok(found) => (*found.value, found.params),
                Err(_) => return Lookup::NotFound,
            },
        };
        let entry = &self.paths[index];
        let handler = |wanted: &Method| entry.methods.iter().find(|(m, _)| m == wanted);
        let matched = handler(method).or_else(|| {
            // RFC 9110 §9.3.2: HEAD is GET without the body.
            if method == Method::HEAD {
                handler(&Method::GET)
            } else {
                None
            }
        });
        match matched {
            Some((_, route)) => Lookup::Found(&self.routes[*route], params),
            None if method == Method::OPTIONS => Lookup::Options(&entry.allow),
            None => Lookup::MethodNotAllowed(&entry.allow),
        }
    }

    /// `Allow` for `OPTIONS *` (RFC 9110 §9.3.7, a question about the server rather than a
    /// resource): every method some route answers, HEAD with GET, and OPTIONS.
    pub(crate) fn server_allow(&self) -> HeaderValue {
        allow_header(
            self.paths
                .iter()
                .flat_map(|entry| entry.methods.iter().map(|(method, _)| method)),
        )
    }

    /// Replaces each route's handler with what `wrap` makes of it (once, when the app is
    /// frozen).
    pub(crate) fn wrap_handlers(&mut self, mut wrap: impl FnMut(&RouteInfo, Handler) -> Handler) {
        for route in &mut self.routes {
            route.handler = wrap(&route.info, Arc::clone(&route.handler));
        }
    }

    /// Sets each route's metrics slot from its place in registration order (once, when the
    /// app is frozen).
    #[cfg(feature = "metrics")]
    pub(crate) fn set_metrics_slots(&mut self, slot: impl Fn(usize) -> usize) {
        for route in &mut self.routes {
            route.metrics_slot = slot(route.metrics_slot);
        }
    }

    /// Every route, in registration order.
    pub(crate) fn routes(&self) -> impl Iterator<Item = &RouteInfo> {
        self.routes.iter().map(|route| &route.info)
    }

    /// The path of the route named `name`, with `params` (see `App::url_for`).
    pub(crate) fn url_for(
        &self,
        name: &str,
        params: &[(&str, &str)],
    ) -> Result<String, UrlForError> {
        self.urls.url_for(name, params)
    }

    /// The route names and patterns, shared: for the template function `url_for`.
    pub(crate) fn url_map(&self) -> Arc<UrlMap> {
        Arc::clone(&self.urls)
    }
}

/// Builds `Allow`: registered methods in order, HEAD after GET, OPTIONS last.
fn allow_header<'m>(methods: impl Iterator<Item = &'m Method>) -> HeaderValue {
    let mut names: Vec<&str> = Vec::new();
    for method in methods {
        if !names.contains(&method.as_str()) {
            names.push(method.as_str());
        }
        if method == Method::GET && !names.contains(&"HEAD") {
            names.push("HEAD");
        }
    }
    if !names.contains(&"OPTIONS") {
        names.push("OPTIONS");
    }
    // Method names are tokens, so the joined list is always a valid header value.
    HeaderValue::from_str(&names.join(", ")).unwrap_or(HeaderValue::from_static("OPTIONS"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::IntoResponse;

    fn handler() -> Handler {
        Arc::new(|_req: &crate::Request<'_>| "ok".into_response())
    }

    fn spec(methods: &[Method], pattern: &str, name: &str) -> RouteSpec {
        RouteSpec::new(methods, pattern).handler_name(name, "test.rs:1")
    }

    fn router(routes: &[(&[Method], &str, &str)]) -> Router {
        let mut router = Router::default();
        for (methods, pattern, name) in routes {
            router
                .insert(spec(methods, pattern, name), handler(), 0)
                .unwrap();
        }
        router
    }

    /// What a lookup found, reduced to comparable text.
    fn lookup(router: &Router, method: Method, path: &str) -> String {
        match router.lookup(&method, path) {
            Lookup::Found(route, params) => {
                let params: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{} {}", route.info.handler, params.join(","))
            }
            Lookup::MethodNotAllowed(allow) => format!("405 {}", allow.to_str().unwrap()),
            Lookup::Options(allow) => format!("204 {}", allow.to_str().unwrap()),
            Lookup::NotFound => "404".into(),
        }
    }

    #[test]
    fn lookup_table() {
        let router = router(&[
            (&[Method::GET], "/", "index"),
            (&[Method::GET, Method::POST], "/contact", "contact"),
            (&[Method::GET], "/hello/{name}", "hello"),
            (&[Method::GET], "/static/{*path}", "files"),
            (&[Method::GET], "/blog/{slug}", "post"),
            (&[Method::GET], "/blog/feed", "feed"),
            (&[Method::DELETE], "/blog/{slug}", "delete_post"),
        ]);
        let cases = [
            (Method::GET, "/", "index "),
            (Method::HEAD, "/", "index "),
            (Method::POST, "/", "405 GET, HEAD, OPTIONS"),
            (Method::OPTIONS, "/contact", "204 GET, HEAD, POST, OPTIONS"),
            (Method::POST, "/contact", "contact "),
            (Method::PUT, "/contact", "405 GET, HEAD, POST, OPTIONS"),
            (Method::GET, "/hello/W%C3%B6rld", "hello name=W%C3%B6rld"),
            (Method::GET, "/hello/", "404"),
            (Method::GET, "/hello/a/b", "404"),
            (
                Method::GET,
                "/static/css/site.css",
                "files path=css/site.css",
            ),
            (Method::GET, "/static/", "404"),
            (Method::GET, "/blog/feed", "feed "),
            (Method::GET, "/blog/first", "post slug=first"),
            (Method::DELETE, "/blog/first", "delete_post slug=first"),
            (
                Method::PATCH,
                "/blog/first",
                "405 GET, HEAD, DELETE, OPTIONS",
            ),
            (Method::GET, "/contact/", "404"),
            (Method::GET, "/nope", "404"),
        ];
        for (method, path, expected) in cases {
            assert_eq!(
                lookup(&router, method.clone(), path),
                expected,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn duplicate_method_names_both_handlers() {
        let mut router = router(&[(&[Method::GET], "/a", "first")]);
        let error = router
            .insert(spec(&[Method::GET], "/a", "second"), handler(), 0)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "route GET /a (handler `second`) is already registered by handler `first`"
        );
    }

    #[test]
    fn conflict_names_both_routes() {
        let mut router = router(&[(&[Method::GET], "/user/{id}", "by_id")]);
        let error = router
            .insert(
                spec(&[Method::GET], "/user/{name}", "by_name"),
                handler(),
                0,
            )
            .unwrap_err();
        assert_eq!(
            error,
            RouteError::Conflict {
                pattern: "/user/{name}".into(),
                handler: "by_name".into(),
                with: "/user/{id}".into(),
                existing: "by_id".into(),
            }
        );
    }

    #[test]
    fn invalid_patterns_are_errors() {
        let mut router = Router::default();
        for pattern in ["no-slash", "/{*rest}/tail", "/{}", "/a/{b"] {
            let error = router
                .insert(spec(&[Method::GET], pattern, "h"), handler(), 0)
                .unwrap_err();
            assert!(
                matches!(error, RouteError::Invalid { .. }),
                "{pattern}: {error:?}"
            );
        }
        let error = router
            .insert(spec(&[], "/x", "h"), handler(), 0)
            .unwrap_err();
        assert!(matches!(error, RouteError::Invalid { .. }));
    }

    #[test]
    fn names_default_to_the_function_and_must_be_unique() {
        let mut router = router(&[(&[Method::GET], "/", "pages::index")]);
        let info: Vec<_> = router.routes().cloned().collect();
        assert_eq!(info[0].name(), Some("index"));
        assert_eq!(info[0].handler(), "pages::index");
        // The same handler on a second path is fine (url_for uses the first).
        router
            .insert(spec(&[Method::GET], "/index", "pages::index"), handler(), 0)
            .unwrap();
        let error = router
            .insert(
                spec(&[Method::GET], "/other", "other").name("index"),
                handler(),
                0,
            )
            .unwrap_err();
        assert!(
            matches!(error, RouteError::DuplicateName { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn closures_are_named_by_location() {
        let spec = RouteSpec::new(&[Method::GET], "/")
            .handler_name("|req| req.path().len()", "src/main.rs:7");
        assert_eq!(spec.handler, "closure@src/main.rs:7");
        assert_eq!(spec.name, None);
    }
}
