//! Cross-origin resource sharing: [`Cors`](crate::Cors) policies.

use std::time::Duration;

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, HeaderValue, ORIGIN, VARY,
};
use http::{Method, StatusCode};

use crate::error::{Error, HttpError};
use crate::hooks::Hooks;
use crate::request::Request;
use crate::response::Response;

/// A cross-origin resource sharing (CORS) policy, as flask-cors and tower-http's
/// `CorsLayer`: which other sites' pages may call this app from a browser. Built with the
/// `allow_*` methods, starting from one that allows nothing, a policy is applied to an app
/// ([`App::cors`](crate::App::cors)) or a blueprint
/// ([`Blueprint::cors`](crate::Blueprint::cors)):
///
/// - a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered
///   before routing would (no 405, no handler): 204 with what the policy allows, or 403 when
///   the origin, the method or a header is not allowed;
/// - every other answer to an allowed origin gets `Access-Control-Allow-Origin` (and the
///   credentials and exposed-headers fields the policy asks for); an answer whose headers
///   depend on the origin says `Vary: Origin`, so a cache does not hand one site's answer
///   to another;
/// - credentials are never paired with `*`: such a policy is an error when it is applied.
///
/// ```
/// use carafe::{route, testing::TestClient, App, Cors};
///
/// let mut app = App::new();
/// route!(app, [GET, PUT] "/items" => |req| req.method().to_string())?;
/// app.cors(
///     Cors::new()
///         .allow_origin("https://app.example")
///         .allow_methods(["GET", "PUT"])
///         .allow_headers(["content-type", "x-client"]),
/// )?;
/// let client = TestClient::new(app);
///
/// let preflight = client
///     .options("/items")
///     .header("Origin", "https://app.example")
///     .header("Access-Control-Request-Method", "PUT")
///     .header("Access-Control-Request-Headers", "x-client")
///     .send();
/// assert_eq!(preflight.status(), 204);
/// assert_eq!(preflight.header("access-control-allow-origin"), Some("https://app.example"));
/// assert_eq!(preflight.header("access-control-allow-methods"), Some("GET, PUT"));
///
/// let call = client.put("/items").header("Origin", "https://app.example").send();
/// assert_eq!(call.header("access-control-allow-origin"), Some("https://app.example"));
/// assert_eq!(call.header("vary"), Some("Origin"));
///
/// let stranger = client.get("/items").header("Origin", "https://evil.example").send();
/// assert_eq!(stranger.header("access-control-allow-origin"), None);
/// # Ok::<(), carafe::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Cors {
    /// `None`: any origin (`*`).
    origins: Option<Vec<String>>,
    any_origin: bool,
    methods: Vec<Method>,
    headers: Vec<String>,
    any_header: bool,
    expose: Vec<String>,
    credentials: bool,
    max_age: Option<Duration>,
}

impl Cors {
    /// A policy that allows no origin yet, and the methods GET, HEAD and POST once one is.
    pub fn new() -> Self {
        Self {
            methods: vec![Method::GET, Method::HEAD, Method::POST],
            ..Self::default()
        }
    }

    /// Allows pages of `origin` (`scheme://host[:port]`, as browsers send it).
    pub fn allow_origin(mut self, origin: &str) -> Self {
        self.origins
            .get_or_insert_with(Vec::new)
            .push(origin.trim_end_matches('/').to_owned());
        self
    }

    /// Allows pages of any origin (`*`); not with credentials.
    pub fn allow_any_origin(mut self) -> Self {
        self.any_origin = true;
        self
    }

    /// The methods cross-origin requests may use (default GET, HEAD, POST).
    pub fn allow_methods<'m>(mut self, methods: impl IntoIterator<Item = &'m str>) -> Self {
        self.methods = methods
            .into_iter()
            .filter_map(|method| method.parse().ok())
            .collect();
        self
    }

    /// The request header fields cross-origin requests may send beyond the safelisted ones.
    pub fn allow_headers<'h>(mut self, headers: impl IntoIterator<Item = &'h str>) -> Self {
        self.headers = headers.into_iter().map(str::to_ascii_lowercase).collect();
        self
    }

    /// Allows any request header field (what the preflight asks for is allowed).
    pub fn allow_any_header(mut self) -> Self {
        self.any_header = true;
        self
    }

    /// Response header fields the calling page may read beyond the safelisted ones.
    pub fn expose_headers<'h>(mut self, headers: impl IntoIterator<Item = &'h str>) -> Self {
        self.expose = headers.into_iter().map(str::to_owned).collect();
        self
    }

    /// Lets requests carry cookies and credentials (`Access-Control-Allow-Credentials`).
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.credentials = allow;
        self
    }

    /// How long a browser may keep a preflight's answer (`Access-Control-Max-Age`).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Puts the policy into force for a scope: a before hook for preflights, an after hook
    /// for the CORS fields of every answer.
    pub(crate) fn install(self, hooks: &mut Hooks) -> Result<(), Error> {
        self.check()?;
        let before = self.clone();
        hooks.add_before(move |req: &Request<'_>| before.preflight(req));
        hooks.add_after(move |req: &Request<'_>, response: &mut Response| {
            self.decorate(req, response);
        });
        Ok(())
    }

    /// Refuses what the Fetch standard forbids: credentials with any origin.
    fn check(&self) -> Result<(), Error> {
        if self.any_origin && self.credentials {
            return Err(Error::Cors(
                "credentials cannot be allowed for any origin (`*`): list the origins",
            ));
        }
        Ok(())
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, if it is allowed.
    fn allowed_origin(&self, origin: &str) -> Option<HeaderValue> {
        if self.any_origin {
            return Some(HeaderValue::from_static("*"));
        }
        let listed = self
            .origins
            .as_ref()?
            .iter()
            .any(|allowed| allowed == origin);
        // An origin a browser sends is a valid header value; one that is not is refused.
        listed.then(|| HeaderValue::from_str(origin).ok()).flatten()
    }

    /// Whether the answer's CORS fields depend on the request's `Origin`.
    fn varies_by_origin(&self) -> bool {
        !self.any_origin
    }

    /// The before hook: answers a preflight, lets everything else through.
    pub(crate) fn preflight(&self, request: &Request<'_>) -> Option<Response> {
        if !is_preflight(request) {
            return None;
        }
        let origin = request.header(ORIGIN.as_str())?;
        let requested = request.header(ACCESS_CONTROL_REQUEST_METHOD.as_str())?;
        let refuse = |why: String| {
            let mut refusal: Response = HttpError::new(
                StatusCode::FORBIDDEN,
                format!("CORS preflight refused: {why}"),
            )
            .into();
            self.add_vary(&mut refusal);
            Some(refusal)
        };
        let Some(allow_origin) = self.allowed_origin(origin) else {
            return refuse(format!("origin {origin} is not allowed"));
        };
        let method_allowed = requested
            .parse::<Method>()
            .is_ok_and(|method| self.methods.contains(&method));
        if !method_allowed {
            return refuse(format!("method {requested} is not allowed"));
        }
        let asked: Vec<String> = request
            .header(ACCESS_CONTROL_REQUEST_HEADERS.as_str())
            .unwrap_or("")
            .split(',')
            .map(|name| name.trim().to_ascii_lowercase())
            .filter(|name| !name.is_empty())
            .collect();
        if !self.any_header
            && let Some(name) = asked.iter().find(|name| !self.headers.contains(name))
        {
            return refuse(format!("header {name} is not allowed"));
        }
        let mut answer = Response::new(StatusCode::NO_CONTENT);
        let headers = answer.headers_mut();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        let methods: Vec<&str> = self.methods.iter().map(Method::as_str).collect();
        if let Ok(value) = HeaderValue::from_str(&methods.join(", ")) {
            headers.insert(ACCESS_CONTROL_ALLOW_METHODS, value);
        }
        if !asked.is_empty()
            && let Ok(value) = HeaderValue::from_str(&asked.join(", "))
        {
            headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, value);
        }
        if self.credentials {
            headers.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if let Some(max_age) = self.max_age {
            headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(max_age.as_secs()));
        }
        self.add_vary(&mut answer);
        Some(answer)
    }

    /// The after hook: the CORS fields of an answer to an allowed origin, and `Vary`.
    pub(crate) fn decorate(&self, request: &Request<'_>, response: &mut Response) {
        // A preflight's answer, allowed or refused, is complete already.
        if is_preflight(request) {
            return;
        }
        self.add_vary(response);
        let Some(origin) = request.header(ORIGIN.as_str()) else {
            return;
        };
        let Some(allow_origin) = self.allowed_origin(origin) else {
            return;
        };
        let headers = response.headers_mut();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        if self.credentials {
            headers.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if !self.expose.is_empty()
            && let Ok(value) = HeaderValue::from_str(&self.expose.join(", "))
        {
            headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, value);
        }
    }

    /// `Vary: Origin` (once) when the answer depends on the origin.
    fn add_vary(&self, response: &mut Response) {
        if !self.varies_by_origin() {
            return;
        }
        let already = response.headers().get_all(VARY).iter().any(|value| {
            value.to_str().is_ok_and(|names| {
                names
                    .split(',')
                    .any(|name| name.trim().eq_ignore_ascii_case("origin"))
            })
        });
        if !already {
            response
                .headers_mut()
                .append(VARY, HeaderValue::from_static("Origin"));
        }
    }
}

/// `OPTIONS` with `Origin` and `Access-Control-Request-Method`: a browser asking first.
fn is_preflight(request: &Request<'_>) -> bool {
    *request.method() == Method::OPTIONS
        && request.header(ORIGIN.as_str()).is_some()
        && request
            .header(ACCESS_CONTROL_REQUEST_METHOD.as_str())
            .is_some()
}
