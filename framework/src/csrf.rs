//! CSRF protection: [`CsrfProtection`](crate::CsrfProtection) and the tokens it checks.

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Method, StatusCode};
use minijinja::value::{Object, Value};

use crate::error::HttpError;
use crate::hooks::Hooks;
use crate::request::Request;
use crate::response::Response;

/// The session key the token is kept under.
pub(crate) const TOKEN_KEY: &str = "_csrf";
/// The form field a token comes in.
pub const FORM_FIELD: &str = "csrf_token";
/// The header a token comes in.
pub const HEADER: &str = "x-csrf-token";

/// How CSRF protection treats requests: CSRF protection as Flask-WTF's `CSRFProtect`: opt in with
/// [`App::csrf_protect`](crate::App::csrf_protect) (or a blueprint's), and every POST, PUT,
/// PATCH or DELETE to a protected route must carry the visitor's token, kept in their
/// session: a form sends it as the hidden field `csrf_token` (templates write it with
/// `{{ csrf_token() }}`), a script as the `X-CSRF-Token` header. Without it the request is
/// refused with 400 before its handler runs. A page on another site can make a browser send a
/// form here, with its cookies, but cannot read the token to put in it.
///
/// Exempt: a route registered with `csrf_exempt` (an API that authenticates otherwise, or a
/// tool's endpoint), and by default a request whose body is JSON: a browser cannot send a JSON
/// `Content-Type` cross-site without a CORS preflight that carafe does not allow unless told
/// to ([`CsrfProtection::exempt_json`]).
///
/// ```
/// use carafe::testing::TestClient;
/// use carafe::{context, route, App, CsrfProtection};
/// # let dir = std::env::temp_dir().join(format!("carafe-csrf-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("form.html"),
///     r#"<form method="post"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}"></form>"#)?;
///
/// let mut app = App::new();
/// app.templates(&dir)?;
/// app.csrf_protect(CsrfProtection::default());
/// route!(app, GET "/form" => |req| req.render("form.html", context! {}))?;
/// route!(app, POST "/form" => |_req| "accepted")?;
///
/// let client = TestClient::new(app);
/// let page = client.get("/form").send().text();
/// let token = page.split("value=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap();
/// assert_eq!(client.post("/form").form(&[("csrf_token", token)]).send().text(), "accepted");
/// let forged = client.post("/form").form(&[("csrf_token", "guess")]).send();
/// assert_eq!(forged.status(), 400);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsrfProtection {
    /// Let requests with a JSON `Content-Type` through without a token (default `true`): a
    /// browser sends those cross-site only after a CORS preflight.
    pub exempt_json: bool,
}

impl Default for CsrfProtection {
    fn default() -> Self {
        Self { exempt_json: true }
    }
}

impl CsrfProtection {
    /// Puts the protection into force for a scope, as a before hook.
    pub(crate) fn install(self, hooks: &mut Hooks) {
        hooks.add_before(move |req: &Request<'_>| self.check(req));
    }

    /// The before hook that enforces it: `None` lets the request through, a 400 refuses it.
    pub(crate) fn check(self, request: &Request<'_>) -> Option<Response> {
        if !matches!(
            *request.method(),
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        ) {
            return None;
        }
        // Only routes: an unknown path is a 404, not a CSRF question.
        let route = request.route_info()?;
        if route.is_csrf_exempt() {
            return None;
        }
        if self.exempt_json
            && request
                .content_type()
                .is_some_and(crate::media_type::is_json)
        {
            return None;
        }
        let expected: Option<String> = request.session().get(TOKEN_KEY);
        // A body refused for what it is (a form over its field limit) is refused as its
        // handler would refuse it.
        let sent = match sent_token(request) {
            Ok(sent) => sent,
            Err(error) => return Some(error.into()),
        };
        match (expected, sent) {
            (Some(expected), Some(sent)) if same(expected.as_bytes(), sent.as_bytes()) => None,
            (_, None) => Some(refusal("the CSRF token is missing")),
            (None, Some(_)) => Some(refusal(
                "the CSRF token does not match (the session has none: it expired, or cookies are off)",
            )),
            (Some(_), Some(_)) => Some(refusal("the CSRF token does not match")),
        }
    }
}

/// The token the request carries: the header, else the form field (urlencoded or multipart).
/// An error for a form its handler could not read either.
fn sent_token(request: &Request<'_>) -> Result<Option<String>, HttpError> {
    if let Some(token) = request.header(HEADER) {
        return Ok(Some(token.to_owned()));
    }
    if let Some(token) = request.form()?.get(FORM_FIELD) {
        return Ok(Some(token.to_owned()));
    }
    let is_multipart = request
        .content_type()
        .is_some_and(|value| crate::media_type::is(value, "multipart/form-data"));
    if !is_multipart {
        return Ok(None);
    }
    let multipart = request.multipart()?;
    Ok(multipart.form().get(FORM_FIELD).map(str::to_owned))
}

/// Compares in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn refusal(message: &'static str) -> Response {
    HttpError::new(StatusCode::BAD_REQUEST, message).into()
}

/// A new token: 32 random bytes, URL-safe base64.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    // The operating system's generator; failing, no token can be made safely.
    getrandom::getrandom(&mut bytes).expect("the operating system provides randomness");
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Request<'_> {
    /// The visitor's CSRF token, made (and kept in the session) on first use: for a form
    /// built by hand or a script's `X-CSRF-Token` header. Templates call `csrf_token()`.
    pub fn csrf_token(&self) -> String {
        let session = self.session();
        if let Some(token) = session.get::<String>(TOKEN_KEY) {
            return token;
        }
        let token = new_token();
        // A string always serializes.
        let _ = session.insert(TOKEN_KEY, &token);
        token
    }
}

/// `csrf_token()` in a template: the visitor's token if they have one, else one made on the
/// first call, which the render then stores in the session (a page without a form stores
/// nothing).
#[derive(Debug)]
pub(crate) struct TemplateToken {
    existing: Option<String>,
    made: OnceLock<String>,
}

impl TemplateToken {
    pub(crate) fn new(existing: Option<String>) -> Arc<Self> {
        Arc::new(Self {
            existing,
            made: OnceLock::new(),
        })
    }

    /// A token the template made, to store.
    pub(crate) fn made(&self) -> Option<&String> {
        self.made.get()
    }
}

impl Object for TemplateToken {
    fn call(
        self: &Arc<Self>,
        _state: &mut minijinja::State<'_, '_>,
        _args: &[Value],
    ) -> Result<Value, minijinja::Error> {
        let token = match &self.existing {
            Some(token) => token.clone(),
            None => self.made.get_or_init(new_token).clone(),
        };
        Ok(Value::from(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_compared_whole() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "32 bytes in unpadded base64");
        assert!(same(a.as_bytes(), a.clone().as_bytes()));
        assert!(!same(a.as_bytes(), b.as_bytes()));
        assert!(!same(a.as_bytes(), &a.as_bytes()[..42]));
    }
}
