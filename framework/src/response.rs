//! [`Response`] and [`IntoResponse`]: what handlers return.
//!
//! A `Response` wraps the protocol layer's [`Outgoing`] (status, content type, header fields,
//! [`Body`]), which the connection encodes straight into its output buffer (`h1/encode.rs`),
//! plus, for an error response, the [`HttpError`] it stands for, so that the app's error
//! handler can replace it.

use std::borrow::Cow;
use std::io::Read;
use std::sync::LazyLock;

use http::StatusCode;
use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::cookies;
use crate::error::{HttpError, InvalidHeader};
pub use crate::h1::encode::{Body, BodyReader};
use crate::h1::encode::{ContentType, Outgoing};

/// What [`Response::headers`] returns for a response without extra headers.
static NO_HEADERS: LazyLock<HeaderMap> = LazyLock::new(HeaderMap::new);

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
#[derive(Debug, Default)]
pub struct Response {
    /// What is sent.
    parts: Outgoing,
    /// Set when the response stands for an error that an app error handler may replace.
    error: Option<Box<HttpError>>,
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: StatusCode) -> Self {
        Self::with_type(ContentType::None, Body::Empty).with_status(status)
    }

    /// 200 with a `text/plain; charset=utf-8` body.
    pub fn text(body: impl Into<Body>) -> Self {
        Self::with_type(ContentType::TextPlain, body.into())
    }

    /// 200 with a `text/html; charset=utf-8` body.
    pub fn html(body: impl Into<Body>) -> Self {
        Self::with_type(ContentType::TextHtml, body.into())
    }

    /// 200 with an `application/octet-stream` body.
    pub fn bytes(body: impl Into<Body>) -> Self {
        Self::with_type(ContentType::OctetStream, body.into())
    }

    /// 200 with a body streamed from `reader` (`application/octet-stream`); see [`Body::reader`].
    pub fn stream(reader: impl Read + Send + 'static, len: Option<u64>) -> Self {
        Self::with_type(ContentType::OctetStream, Body::reader(reader, len))
    }

    /// 200 with `value` serialized as JSON; a value that cannot be serialized is logged and
    /// answered with a 500.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(json) => Self::with_type(ContentType::Json, Body::Bytes(json)),
            Err(error) => {
                crate::handler::report_server_error(format_args!(
                    "cannot serialize a JSON response: {error}"
                ));
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
            response.headers_mut().insert(http::header::LOCATION, value);
        }
        response
    }

    /// Every field written out: a `..Default::default()` here would build a default
    /// response and drop it, on every request.
    pub(crate) fn with_type(content_type: ContentType, body: Body) -> Self {
        Self {
            parts: Outgoing {
                status: StatusCode::OK,
                content_type,
                headers: None,
                body,
            },
            error: None,
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.parts.status
    }

    /// Replaces the status code.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.parts.status = status;
        self
    }

    /// Sets the status code.
    pub fn set_status(&mut self, status: StatusCode) {
        self.parts.status = status;
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.parts.body
    }

    /// Replaces the body.
    pub fn set_body(&mut self, body: impl Into<Body>) {
        self.parts.body = body.into();
    }

    /// The first value of header `name` (case-insensitive), `Content-Type` included: the one
    /// that will be sent. A `Content-Type` set in [`headers_mut`](Self::headers_mut) wins over
    /// the one the constructor chose, and exactly one is written.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts
            .header(name)
            .and_then(|value| std::str::from_utf8(value).ok())
    }

    /// The headers other than `Content-Type` (see [`header`](Self::header)).
    pub fn headers(&self) -> &HeaderMap {
        self.parts.headers().unwrap_or(&NO_HEADERS)
    }

    /// The headers other than `Content-Type`, to change them with the `http` crate's typed
    /// names and values (which cannot hold control characters either).
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        self.parts.headers_mut()
    }

    /// Sets header `name` to `value`, replacing earlier values, after checking that neither
    /// can break the response framing.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<&mut Self, InvalidHeader> {
        let (header_name, header_value) = checked_header(name, value)?;
        if header_name == http::header::CONTENT_TYPE {
            self.set_content_type(header_value);
        } else {
            self.headers_mut().insert(header_name, header_value);
        }
        Ok(self)
    }

    /// Adds a value for header `name`, keeping earlier values (e.g. several `Set-Cookie`).
    /// `Content-Type` has one value, so for it this replaces, as [`set_header`](Self::set_header).
    pub fn append_header(&mut self, name: &str, value: &str) -> Result<&mut Self, InvalidHeader> {
        let (header_name, header_value) = checked_header(name, value)?;
        if header_name == http::header::CONTENT_TYPE {
            self.set_content_type(header_value);
        } else {
            self.headers_mut().append(header_name, header_value);
        }
        Ok(self)
    }

    /// [`set_header`](Self::set_header), by value, for building a response in one expression.
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Self, InvalidHeader> {
        self.set_header(name, value)?;
        Ok(self)
    }

    /// Marks the response as a download saved under `filename`: `Content-Disposition:
    /// attachment` with an ASCII `filename` for old clients and, when the name needs more, a
    /// UTF-8 `filename*` (RFC 6266, RFC 8187), as Flask's `send_file(as_attachment=True)`
    /// writes it. Any name is safe: quotes, backslashes, controls and path separators never
    /// reach the header unencoded.
    ///
    /// ```
    /// let response = carafe::Response::text("a,b\n1,2\n").with_attachment("résumé 2026.csv");
    /// assert_eq!(
    ///     response.header("content-disposition"),
    ///     Some(r#"attachment; filename="r_sum_ 2026.csv"; filename*=UTF-8''r%C3%A9sum%C3%A9%202026.csv"#)
    /// );
    /// ```
    pub fn set_attachment(&mut self, filename: &str) -> &mut Self {
        let value = content_disposition_attachment(filename);
        // Built from ASCII letters, digits, `%` escapes and the characters kept above.
        if let Ok(value) = HeaderValue::try_from(value) {
            self.headers_mut()
                .insert(http::header::CONTENT_DISPOSITION, value);
        }
        self
    }

    /// [`set_attachment`](Self::set_attachment), by value: `req.send_file(path).with_attachment("report.pdf")`.
    pub fn with_attachment(mut self, filename: &str) -> Self {
        self.set_attachment(filename);
        self
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
        self.headers_mut().append(http::header::SET_COOKIE, value);
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
        self.headers_mut().append(http::header::SET_COOKIE, value);
        Ok(self)
    }

    /// Sets the content type, replacing one set in the header map too (it would win).
    fn set_content_type(&mut self, value: HeaderValue) {
        if let Some(headers) = self.parts.headers.as_deref_mut() {
            headers.remove(http::header::CONTENT_TYPE);
        }
        self.parts.content_type = ContentType::Other(Box::new(value));
    }

    /// Marks the response as standing for `error` (an error body made for it).
    pub(crate) fn set_error(&mut self, error: HttpError) {
        self.error = Some(Box::new(error));
    }

    /// The error this response stands for, if it was made from an [`HttpError`].
    pub fn error(&self) -> Option<&HttpError> {
        self.error.as_deref()
    }

    /// What the connection sends.
    pub(crate) fn into_outgoing(self) -> Outgoing {
        self.parts
    }

    /// The response as the connection will send it.
    #[cfg(any(test, feature = "compression"))]
    pub(crate) fn outgoing(&self) -> &Outgoing {
        &self.parts
    }

    /// The response as the connection will send it, for the benchmarks' encoder.
    pub(crate) fn outgoing_mut(&mut self) -> &mut Outgoing {
        &mut self.parts
    }
}

/// A header name and value that cannot break the framing: the name a token, the value free
/// of CR, LF, NUL and other controls (the `http` crate's rules).
fn checked_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), InvalidHeader> {
    let header_name =
        HeaderName::from_bytes(name.as_bytes()).map_err(|_| InvalidHeader::name(name))?;
    let header_value = HeaderValue::from_str(value).map_err(|_| InvalidHeader::value(value))?;
    Ok((header_name, header_value))
}

/// The `Content-Disposition` value for a download named `filename`.
fn content_disposition_attachment(filename: &str) -> String {
    // The last path component only: a client must not be told to save to `../x`.
    let name = match filename.rsplit(['/', '\\']).next() {
        Some(name) if !name.is_empty() => name,
        _ => "download",
    };
    let fallback: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    let mut value = format!("attachment; filename=\"{fallback}\"");
    if fallback != name {
        value.push_str("; filename*=UTF-8''");
        value.extend(percent_encoding::utf8_percent_encode(name, RFC_8187_UNSAFE));
    }
    value
}

/// RFC 8187 §3.2.1: all but `attr-char` (letters, digits and ``!#$&+-.^_`|~``) is encoded.
const RFC_8187_UNSAFE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

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
/// [`Html`], [`Response`], [`StatusCode`], `(StatusCode, T)`, `Option<T>` (`None` is a 404)
/// and `Result<T, E>` where both sides are `IntoResponse` (so handlers use `?` with
/// [`HttpError`]).
#[cfg_attr(
    feature = "json",
    doc = "With the `json` feature (a default one), also [`Json`]."
)]
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

/// Header fields and a body, as axum takes them: `([("cache-control", "no-store")], body)`.
/// A name or value carafe refuses (it would break the framing) makes the answer a logged 500.
///
/// ```
/// use carafe::{route, testing::TestClient, App, StatusCode};
///
/// let mut app = App::new();
/// route!(app, GET "/" => |_req| ([("x-a", "1"), ("cache-control", "no-store")], "hi"))?;
/// route!(app, POST "/" => |_req| (StatusCode::CREATED, [("location", "/items/7")], "made"))?;
/// let client = TestClient::new(app);
/// let got = client.get("/").send();
/// assert_eq!((got.header("x-a"), got.header("cache-control")), (Some("1"), Some("no-store")));
/// let made = client.post("/").send();
/// assert_eq!((made.status(), made.header("location")), (StatusCode::CREATED, Some("/items/7")));
/// # Ok::<(), carafe::Error>(())
/// ```
impl<K, V, T, const N: usize> IntoResponse for ([(K, V); N], T)
where
    K: AsRef<str>,
    V: AsRef<str>,
    T: IntoResponse,
{
    fn into_response(self) -> Response {
        let (headers, body) = self;
        let mut response = body.into_response();
        for (name, value) in headers {
            if let Err(error) = response.set_header(name.as_ref(), value.as_ref()) {
                return error.into_response();
            }
        }
        response
    }
}

/// A status, header fields and a body: `(StatusCode::CREATED, [("location", url)], body)`.
impl<K, V, T, const N: usize> IntoResponse for (StatusCode, [(K, V); N], T)
where
    K: AsRef<str>,
    V: AsRef<str>,
    T: IntoResponse,
{
    fn into_response(self) -> Response {
        let (status, headers, body) = self;
        (headers, body).into_response().with_status(status)
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
        response.parts.status = self.status();
        response.error = Some(Box::new(self));
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

    #[test]
    fn attachment_names_are_quoted_or_encoded_never_raw() {
        let disposition = |name: &str| {
            let response = Response::text("x").with_attachment(name);
            response.header("content-disposition").unwrap().to_owned()
        };
        assert_eq!(
            disposition("report.csv"),
            r#"attachment; filename="report.csv""#
        );
        assert_eq!(
            disposition("../../etc/passwd"),
            r#"attachment; filename="passwd""#
        );
        assert_eq!(
            disposition("C:\\temp\\a.txt"),
            r#"attachment; filename="a.txt""#
        );
        assert_eq!(disposition("dir/"), r#"attachment; filename="download""#);
        assert_eq!(
            disposition("say \"hi\".txt"),
            r#"attachment; filename="say _hi_.txt"; filename*=UTF-8''say%20%22hi%22.txt"#
        );
        assert_eq!(
            disposition("a\r\nSet-Cookie: x=1"),
            r#"attachment; filename="a__Set-Cookie: x=1"; filename*=UTF-8''a%0D%0ASet-Cookie%3A%20x%3D1"#
        );
        assert_eq!(
            disposition("東京.pdf"),
            r#"attachment; filename="__.pdf"; filename*=UTF-8''%E6%9D%B1%E4%BA%AC.pdf"#
        );
    }

    /// The response as sent, as text.
    fn encode(response: &Response) -> String {
        let mut out = Vec::new();
        let options = crate::h1::encode::EncodeOptions {
            version: http::Version::HTTP_11,
            keep_alive: true,
            head_only: false,
            date: b"Sun, 06 Nov 1994 08:49:37 GMT",
        };
        response.outgoing().test_copy().encode(&options, &mut out);
        String::from_utf8(out).unwrap()
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
        // Through the map, then through set_header: the last one set wins.
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert_eq!(response.header("content-type"), Some("application/json"));
        response.set_header("content-type", "text/plain").unwrap();
        assert_eq!(response.header("content-type"), Some("text/plain"));
        assert_eq!(encode(&response).matches("Content-Type").count(), 1);
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
        assert!(matches!(
            StatusCode::NO_CONTENT.into_response().body(),
            Body::Empty
        ));
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
