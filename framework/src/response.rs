//! [`Response`], [`IntoResponse`] and turning a response into HTTP/1.1 bytes.
//!
//! Handlers return anything that implements [`IntoResponse`]; the connection encodes it with
//! [`Response::encode`] straight into its output buffer: no intermediate string, no allocation
//! for a static body.

use std::borrow::Cow;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Version};

use crate::cookies;
use crate::error::{HttpError, InvalidHeader};

const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const TEXT_HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");
#[cfg(feature = "json")]
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// The body of a response.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Body {
    /// No body (`Content-Length: 0`).
    #[default]
    Empty,
    /// Bytes that live for the whole program, sent without copying into an allocation.
    Static(&'static [u8]),
    /// Owned bytes.
    Bytes(Vec<u8>),
}

impl Body {
    /// The body's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Body::Empty => &[],
            Body::Static(bytes) => bytes,
            Body::Bytes(bytes) => bytes,
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Body::Static(text.as_bytes())
    }
}
impl From<String> for Body {
    fn from(text: String) -> Self {
        Body::Bytes(text.into_bytes())
    }
}
impl From<Cow<'static, str>> for Body {
    fn from(text: Cow<'static, str>) -> Self {
        match text {
            Cow::Borrowed(text) => text.into(),
            Cow::Owned(text) => text.into(),
        }
    }
}
impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Self {
        Body::Static(bytes)
    }
}
impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body::Bytes(bytes)
    }
}

/// An HTTP response: status, headers and body.
///
/// `Server`, `Date`, `Content-Length` and `Connection` are written by carafe; set the rest
/// here. Header names and values are validated: anything with CR, LF, NUL or another control
/// character is refused with [`InvalidHeader`], so no value can inject a header.
///
/// ```
/// use carafe::{Response, StatusCode};
///
/// let response = Response::text("created")
///     .with_status(StatusCode::CREATED)
///     .with_header("x-request-id", "42")
///     .unwrap();
/// assert_eq!(response.status(), StatusCode::CREATED);
/// assert_eq!(response.header("X-Request-Id"), Some("42"));
/// assert!(Response::text("x").with_header("x-evil", "a\r\nSet-Cookie: b").is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Response {
    status: StatusCode,
    content_type: Option<HeaderValue>,
    headers: HeaderMap,
    body: Body,
    /// Set when the response stands for an error that an app error handler may replace.
    error: Option<HttpError>,
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            ..Self::default()
        }
    }

    /// 200 with a `text/plain; charset=utf-8` body.
    pub fn text(body: impl Into<Body>) -> Self {
        Self::with_type(TEXT_PLAIN, body.into())
    }

    /// 200 with a `text/html; charset=utf-8` body.
    pub fn html(body: impl Into<Body>) -> Self {
        Self::with_type(TEXT_HTML, body.into())
    }

    /// 200 with an `application/octet-stream` body.
    pub fn bytes(body: impl Into<Body>) -> Self {
        Self::with_type(OCTET_STREAM, body.into())
    }

    /// 200 with `value` serialized as JSON; a value that cannot be serialized is logged and
    /// answered with a 500.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(json) => Self::with_type(APPLICATION_JSON, Body::Bytes(json)),
            Err(error) => {
                log::error!("cannot serialize a JSON response: {error}");
                HttpError::internal("cannot serialize the response").into()
            }
        }
    }

    /// A redirect to `location` with 303 See Other: the browser follows it with a GET, the
    /// usual answer to a form POST. Use [`redirect_with`](Self::redirect_with) for 301/302/307/308.
    pub fn redirect(location: &str) -> Self {
        Self::redirect_with(StatusCode::SEE_OTHER, location)
    }

    /// A redirect to `location` with the given 3xx status. Bytes that may not appear in a
    /// header (controls, spaces, non-ASCII) are percent-encoded, so `location` can never split
    /// the response.
    pub fn redirect_with(status: StatusCode, location: &str) -> Self {
        let encoded: Cow<'_, str> =
            percent_encoding::utf8_percent_encode(location, LOCATION_UNSAFE).into();
        let mut response = Self::new(status);
        // Every byte that `HeaderValue` refuses was percent-encoded just above.
        if let Ok(value) = HeaderValue::from_str(&encoded) {
            response.headers.insert(http::header::LOCATION, value);
        }
        response
    }

    fn with_type(content_type: HeaderValue, body: Body) -> Self {
        Self {
            content_type: Some(content_type),
            body,
            ..Self::default()
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Replaces the status code.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Sets the status code.
    pub fn set_status(&mut self, status: StatusCode) {
        self.status = status;
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// Replaces the body.
    pub fn set_body(&mut self, body: impl Into<Body>) {
        self.body = body.into();
    }

    /// The first value of header `name` (case-insensitive), `Content-Type` included.
    pub fn header(&self, name: &str) -> Option<&str> {
        if name.eq_ignore_ascii_case("content-type") {
            return self
                .content_type
                .as_ref()
                .and_then(|value| value.to_str().ok());
        }
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The headers other than `Content-Type` (see [`header`](Self::header)).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The headers other than `Content-Type`, to change them with the `http` crate's typed
    /// names and values (which cannot hold control characters either).
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// Sets header `name` to `value`, replacing earlier values, after checking that neither
    /// can break the response framing.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<&mut Self, InvalidHeader> {
        let header_name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| InvalidHeader::name(name))?;
        let header_value = HeaderValue::from_str(value).map_err(|_| InvalidHeader::value(value))?;
        if header_name == http::header::CONTENT_TYPE {
            self.content_type = Some(header_value);
        } else {
            self.headers.insert(header_name, header_value);
        }
        Ok(self)
    }

    /// Adds a value for header `name`, keeping earlier values (e.g. several `Set-Cookie`).
    /// `Content-Type` has one value, so for it this replaces, as [`set_header`](Self::set_header).
    pub fn append_header(&mut self, name: &str, value: &str) -> Result<&mut Self, InvalidHeader> {
        let header_name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| InvalidHeader::name(name))?;
        let header_value = HeaderValue::from_str(value).map_err(|_| InvalidHeader::value(value))?;
        if header_name == http::header::CONTENT_TYPE {
            self.content_type = Some(header_value);
        } else {
            self.headers.append(header_name, header_value);
        }
        Ok(self)
    }

    /// [`set_header`](Self::set_header), by value, for building a response in one expression.
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Self, InvalidHeader> {
        self.set_header(name, value)?;
        Ok(self)
    }

    /// Adds a `Set-Cookie` header for `cookie`, keeping earlier ones, so several cookies can
    /// be set. Takes a [`Cookie`](crate::cookie::Cookie), its builder, or a `(name, value)`
    /// pair. The name and value are percent-encoded (any string is safe and reads back the
    /// same through [`Request::cookie`](crate::Request::cookie)); `Path` defaults to `/`, as in
    /// Flask. Fails if `Path` or `Domain` holds a control character or `;`.
    ///
    /// ```
    /// use carafe::cookie::{Cookie, SameSite};
    /// use carafe::{HttpError, Request, Response};
    ///
    /// fn remember(req: &Request) -> Result<Response, HttpError> {
    ///     let mut response = Response::text("remembered");
    ///     response.set_cookie(("theme", req.query("theme").unwrap_or("light")))?;
    ///     response.set_cookie(Cookie::build(("seen", "yes")).http_only(true).same_site(SameSite::Strict))?;
    ///     Ok(response)
    /// }
    /// ```
    pub fn set_cookie<'c>(
        &mut self,
        cookie: impl Into<::cookie::Cookie<'c>>,
    ) -> Result<&mut Self, InvalidHeader> {
        let value = cookies::set_cookie_value(cookie.into())?;
        self.headers.append(http::header::SET_COOKIE, value);
        Ok(self)
    }

    /// [`set_cookie`](Self::set_cookie), by value, for building a response in one expression.
    ///
    /// ```
    /// let response = carafe::Response::text("hi").with_cookie(("lang", "en")).unwrap();
    /// assert_eq!(response.header("set-cookie"), Some("lang=en; Path=/"));
    /// ```
    pub fn with_cookie<'c>(
        mut self,
        cookie: impl Into<::cookie::Cookie<'c>>,
    ) -> Result<Self, InvalidHeader> {
        self.set_cookie(cookie)?;
        Ok(self)
    }

    /// Deletes a cookie in the browser: adds a `Set-Cookie` with an empty value, `Max-Age=0`
    /// and an `Expires` in the past. Takes a name, or a [`Cookie`](crate::cookie::Cookie) whose
    /// `Path` and `Domain` match the ones the cookie was set with (`Path` defaults to `/`, as
    /// in [`set_cookie`](Self::set_cookie)); the browser keeps a cookie whose path differs.
    ///
    /// ```
    /// use carafe::cookie::Cookie;
    /// use carafe::Response;
    ///
    /// let mut response = Response::redirect("/");
    /// response.remove_cookie("theme").unwrap();
    /// response.remove_cookie(Cookie::build("token").path("/admin")).unwrap();
    /// let removals: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
    /// assert!(removals[0].to_str().unwrap().starts_with("theme=; Path=/; Max-Age=0; Expires="));
    /// assert!(removals[1].to_str().unwrap().starts_with("token=; Path=/admin; Max-Age=0"));
    /// ```
    pub fn remove_cookie<'c>(
        &mut self,
        cookie: impl Into<::cookie::Cookie<'c>>,
    ) -> Result<&mut Self, InvalidHeader> {
        let value = cookies::removal_cookie_value(cookie.into())?;
        self.headers.append(http::header::SET_COOKIE, value);
        Ok(self)
    }

    /// The error this response stands for, if it was made from an [`HttpError`].
    pub fn error(&self) -> Option<&HttpError> {
        self.error.as_ref()
    }

    /// Whether the response asks to close the connection (`Connection: close`).
    pub(crate) fn wants_close(&self) -> bool {
        self.headers
            .get_all(http::header::CONNECTION)
            .iter()
            .any(|value| value.as_bytes().eq_ignore_ascii_case(b"close"))
    }

    /// Writes the response as HTTP/1.1 bytes into `out`.
    ///
    /// The status line, `Server`, `Date`, `Content-Type`, framing and `Connection` headers are
    /// written by carafe; a handler's own `Content-Length`, `Transfer-Encoding` and
    /// `Connection` are skipped because the framing must match what is actually sent. Bodies
    /// are omitted for HEAD (with the GET length kept, RFC 9110 §9.3.2) and for 1xx, 204 and 304.
    pub(crate) fn encode(&self, options: &EncodeOptions<'_>, out: &mut Vec<u8>) {
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(self.status.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.status.canonical_reason().unwrap_or("").as_bytes());
        out.extend_from_slice(b"\r\n");
        if !self.headers.contains_key(http::header::SERVER) {
            out.extend_from_slice(b"Server: carafe\r\n");
        }
        if !self.headers.contains_key(http::header::DATE) {
            out.extend_from_slice(b"Date: ");
            out.extend_from_slice(options.date);
            out.extend_from_slice(b"\r\n");
        }
        if let Some(content_type) = &self.content_type {
            out.extend_from_slice(b"Content-Type: ");
            out.extend_from_slice(content_type.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        let bodiless = self.status.is_informational()
            || self.status == StatusCode::NO_CONTENT
            || self.status == StatusCode::NOT_MODIFIED;
        if !bodiless {
            out.extend_from_slice(b"Content-Length: ");
            out.extend_from_slice(itoa::Buffer::new().format(self.body.len()).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        for (name, value) in &self.headers {
            if is_framing_header(name) {
                continue;
            }
            write_title_case(name.as_str(), out);
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if !options.keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if options.version == Version::HTTP_10 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !bodiless && !options.head_only {
            out.extend_from_slice(self.body.as_bytes());
        }
    }
}

/// How to encode one response on its connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EncodeOptions<'d> {
    /// The request's version (an HTTP/1.0 keep-alive needs saying so).
    pub version: Version,
    /// Whether the connection stays open after this response.
    pub keep_alive: bool,
    /// A HEAD request: headers only.
    pub head_only: bool,
    /// The current `Date` value.
    pub date: &'d [u8],
}

/// Writes a header name as `Title-Case` (`x-request-id` → `X-Request-Id`), as most servers do.
/// `http` stores names lowercase; case does not matter to HTTP, but it reads better in `curl -i`.
fn write_title_case(name: &str, out: &mut Vec<u8>) {
    let mut upper = true;
    for &byte in name.as_bytes() {
        out.push(if upper {
            byte.to_ascii_uppercase()
        } else {
            byte
        });
        upper = byte == b'-';
    }
}

fn is_framing_header(name: &HeaderName) -> bool {
    name == http::header::CONTENT_LENGTH
        || name == http::header::TRANSFER_ENCODING
        || name == http::header::CONNECTION
}

/// Bytes percent-encoded in a redirect target: controls, space, and non-ASCII (done by
/// `utf8_percent_encode` itself). Reserved characters such as `/?#&=` stay as they are.
const LOCATION_UNSAFE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// Anything a handler can return.
///
/// Implemented for `&'static str` and `String` (text/plain), `Vec<u8>` (octet-stream),
/// [`Html`], [`Json`], [`Response`], [`StatusCode`], `(StatusCode, T)`, `Option<T>` (`None` is
/// a 404) and `Result<T, E>` where both sides are `IntoResponse` (so handlers use `?` with
/// [`HttpError`]).
pub trait IntoResponse {
    /// Converts `self` into a response.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for Cow<'static, str> {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        Response::bytes(self)
    }
}

impl IntoResponse for StatusCode {
    /// An error status becomes an [`HttpError`] (so error handlers apply); others are empty.
    fn into_response(self) -> Response {
        if self.is_client_error() || self.is_server_error() {
            HttpError::from(self).into_response()
        } else {
            Response::new(self)
        }
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> Response {
        self.1.into_response().with_status(self.0)
    }
}

impl<T: IntoResponse> IntoResponse for Option<T> {
    /// `None` is a 404, so `posts.get(slug).map(render)` is a complete handler.
    fn into_response(self) -> Response {
        match self {
            Some(value) => value.into_response(),
            None => HttpError::not_found().into_response(),
        }
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(value) => value.into_response(),
            Err(error) => error.into_response(),
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut response =
            Response::text(format!("{} {}\n", self.status().as_u16(), self.message()));
        response.status = self.status();
        response.error = Some(self);
        response
    }
}

impl IntoResponse for InvalidHeader {
    /// A handler built a header carafe refused to write: a bug on the server side, so a 500,
    /// logged with the offending header.
    fn into_response(self) -> Response {
        HttpError::from(self).into_response()
    }
}

impl From<HttpError> for Response {
    fn from(error: HttpError) -> Self {
        error.into_response()
    }
}

/// An HTML response: `Html(format!("<h1>{}</h1>", title))`. Escaping is up to you; templates
/// ([`Request::render`](crate::Request::render)) escape for you.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Html<T>(pub T);

impl<T: Into<Body>> IntoResponse for Html<T> {
    fn into_response(self) -> Response {
        Response::html(self.0)
    }
}

/// A JSON response: `Json(serde_json::json!({"ok": true}))` or any `Serialize` value.
#[cfg(feature = "json")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Json<T>(pub T);

#[cfg(feature = "json")]
impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        Response::json(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &[u8] = b"Sun, 06 Nov 1994 08:49:37 GMT";

    fn encode_with(
        response: &Response,
        version: Version,
        keep_alive: bool,
        head_only: bool,
    ) -> String {
        let mut out = Vec::new();
        let options = EncodeOptions {
            version,
            keep_alive,
            head_only,
            date: DATE,
        };
        response.encode(&options, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn encode(response: &Response) -> String {
        encode_with(response, Version::HTTP_11, true, false)
    }

    #[test]
    fn encodes_a_text_response() {
        assert_eq!(
            encode(&"Hello, World!".into_response()),
            "HTTP/1.1 200 OK\r\nServer: carafe\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n\r\nHello, World!"
        );
    }

    #[test]
    fn head_keeps_the_length_and_drops_the_body() {
        let encoded = encode_with(&Response::html("<p>hi</p>"), Version::HTTP_11, true, true);
        assert!(encoded.contains("Content-Length: 9\r\n"));
        assert!(encoded.ends_with("\r\n\r\n"));
    }

    #[test]
    fn bodiless_statuses_have_no_length_or_body() {
        for status in [StatusCode::NO_CONTENT, StatusCode::NOT_MODIFIED] {
            let mut response = Response::text("ignored");
            response.set_status(status);
            let encoded = encode(&response);
            assert!(!encoded.contains("Content-Length"), "{encoded}");
            assert!(encoded.ends_with("\r\n\r\n"), "{encoded}");
        }
    }

    #[test]
    fn connection_header_follows_keep_alive_and_version() {
        let response = Response::text("x");
        assert!(
            encode_with(&response, Version::HTTP_11, false, false)
                .contains("Connection: close\r\n")
        );
        assert!(!encode_with(&response, Version::HTTP_11, true, false).contains("Connection"));
        assert!(
            encode_with(&response, Version::HTTP_10, true, false)
                .contains("Connection: keep-alive\r\n")
        );
    }

    #[test]
    fn handler_framing_headers_are_not_written() {
        let mut response = Response::text("abc");
        response.set_header("content-length", "999").unwrap();
        response.set_header("transfer-encoding", "chunked").unwrap();
        response.set_header("x-custom", "yes").unwrap();
        let encoded = encode(&response);
        assert!(encoded.contains("Content-Length: 3\r\n"));
        assert!(!encoded.contains("999"));
        assert!(!encoded.contains("chunked"));
        assert!(encoded.contains("X-Custom: yes\r\n"));
    }

    #[test]
    fn content_type_is_written_once_however_it_is_set() {
        let mut response = Response::text("x");
        response.append_header("content-type", "text/css").unwrap();
        response.append_header("set-cookie", "a=1").unwrap();
        response.append_header("set-cookie", "b=2").unwrap();
        let encoded = encode(&response);
        assert_eq!(encoded.matches("Content-Type").count(), 1, "{encoded}");
        assert!(encoded.contains("Content-Type: text/css\r\n"));
        assert_eq!(encoded.matches("Set-Cookie").count(), 2, "{encoded}");
    }

    #[test]
    fn header_injection_is_refused() {
        let mut response = Response::text("x");
        for value in ["a\r\nb", "a\nb", "a\rb", "a\0b", "a\x7fb"] {
            assert!(response.set_header("x-test", value).is_err(), "{value:?}");
        }
        for name in ["x test", "x:test", "x\r\ntest", "", "x\0"] {
            assert!(response.set_header(name, "v").is_err(), "{name:?}");
        }
        assert!(!encode(&response).contains("x-test"));
    }

    #[test]
    fn redirect_location_cannot_split_the_response() {
        let response = Response::redirect("/next\r\nSet-Cookie: evil=1");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            response.header("location"),
            Some("/next%0D%0ASet-Cookie:%20evil=1")
        );
        let response = Response::redirect("/caf\u{e9}?q=a b");
        assert_eq!(response.header("location"), Some("/caf%C3%A9?q=a%20b"));
    }

    #[test]
    fn into_response_conversions() {
        assert_eq!(
            (StatusCode::CREATED, "made").into_response().status(),
            StatusCode::CREATED
        );
        let missing: Option<&'static str> = None;
        assert_eq!(missing.into_response().status(), StatusCode::NOT_FOUND);
        let failed: Result<&'static str, HttpError> = Err(HttpError::bad_request("nope"));
        let response = failed.into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.body().as_bytes(), b"400 nope\n");
        assert!(response.error().is_some());
        assert_eq!(StatusCode::NO_CONTENT.into_response().body(), &Body::Empty);
        assert_eq!(
            Html("<b>x</b>").into_response().header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(
            b"raw".to_vec().into_response().header("content-type"),
            Some("application/octet-stream")
        );
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_response() {
        let response = Json(serde_json::json!({"message": "Hello, World!"})).into_response();
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert_eq!(
            response.body().as_bytes(),
            br#"{"message":"Hello, World!"}"#
        );
    }
}
