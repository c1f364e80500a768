//! [`Response`], [`IntoResponse`] and turning a response into HTTP/1.1 bytes.
//!
//! Handlers return anything that implements [`IntoResponse`]; the connection encodes it with
//! [`Response::encode`] straight into its output buffer: no intermediate string, no allocation
//! for a static body.

use std::borrow::Cow;
use std::io::Read;
use std::sync::LazyLock;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Version};

use crate::cookies;
use crate::error::{HttpError, InvalidHeader};
use crate::h1::date::HTTP_DATE_LEN;

/// What [`Response::headers`] returns for a response without extra headers.
static NO_HEADERS: LazyLock<HeaderMap> = LazyLock::new(HeaderMap::new);

/// A response's Content-Type. The common ones are variants, written as literal lines; a
/// handler's own value is boxed so that `Response` stays small (it is moved several times
/// per request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum ContentType {
    #[default]
    None,
    TextPlain,
    TextHtml,
    OctetStream,
    #[cfg(feature = "json")]
    Json,
    Other(Box<HeaderValue>),
}

impl ContentType {
    fn value(&self) -> Option<&[u8]> {
        Some(match self {
            ContentType::None => return None,
            ContentType::TextPlain => b"text/plain; charset=utf-8",
            ContentType::TextHtml => b"text/html; charset=utf-8",
            ContentType::OctetStream => b"application/octet-stream",
            #[cfg(feature = "json")]
            ContentType::Json => b"application/json",
            ContentType::Other(value) => value.as_bytes(),
        })
    }

    /// Writes the header line. Each literal has a length known at compile time, so the copy
    /// is inlined rather than a call to `memcpy`.
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ContentType::None => {}
            ContentType::TextPlain => {
                out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n")
            }
            ContentType::TextHtml => {
                out.extend_from_slice(b"Content-Type: text/html; charset=utf-8\r\n")
            }
            ContentType::OctetStream => {
                out.extend_from_slice(b"Content-Type: application/octet-stream\r\n")
            }
            #[cfg(feature = "json")]
            ContentType::Json => out.extend_from_slice(b"Content-Type: application/json\r\n"),
            ContentType::Other(value) => {
                out.extend_from_slice(b"Content-Type: ");
                out.extend_from_slice(value.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
    }
}

/// The body of a response.
#[non_exhaustive]
#[derive(Debug, Default)]
pub enum Body {
    /// No body (`Content-Length: 0`).
    #[default]
    Empty,
    /// Bytes that live for the whole program, sent without copying into an allocation.
    Static(&'static [u8]),
    /// Owned bytes.
    Bytes(Vec<u8>),
    /// Bytes pulled from a reader as the connection drains: never all in memory. See
    /// [`Body::reader`].
    Reader(BodyReader),
}

/// A body read from any `Read`, 64 KiB at a time, as the client takes it.
pub struct BodyReader {
    reader: Box<dyn Read + Send>,
    len: Option<u64>,
}

impl std::fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyReader")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Body {
    /// A body streamed from `reader`. With `len` known it is sent with Content-Length (and
    /// the reader must yield exactly that many bytes, or the connection is closed after what
    /// it gave); without, with chunked transfer-coding (or, to an HTTP/1.0 client, until the
    /// connection closes).
    ///
    /// ```
    /// use carafe::{Body, Response};
    ///
    /// let file = std::io::Cursor::new(vec![b'x'; 1_000_000]);
    /// let response = Response::bytes(Body::reader(file, Some(1_000_000)));
    /// assert_eq!(response.body().content_length(), Some(1_000_000));
    /// ```
    pub fn reader(reader: impl Read + Send + 'static, len: Option<u64>) -> Self {
        Body::Reader(BodyReader {
            reader: Box::new(reader),
            len,
        })
    }

    /// The body's bytes, when it is held in memory (empty for a [`Body::Reader`]).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Body::Empty | Body::Reader(_) => &[],
            Body::Static(bytes) => bytes,
            Body::Bytes(bytes) => bytes,
        }
    }

    /// Bytes held in memory (0 for a [`Body::Reader`]; see [`content_length`](Self::content_length)).
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether no bytes are held in memory.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The length the body will have on the wire, if known.
    pub fn content_length(&self) -> Option<u64> {
        match self {
            Body::Reader(reader) => reader.len,
            // A usize always fits in a u64 on the targets Rust supports.
            body => Some(body.len() as u64),
        }
    }
}

/// A body still to be pulled from its reader, after the head was written.
pub(crate) struct Streaming {
    pub reader: Box<dyn Read + Send>,
    /// Bytes still owed when the length was declared.
    pub remaining: Option<u64>,
    /// Each read is framed as a chunk.
    pub chunked: bool,
}

impl std::fmt::Debug for Streaming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streaming")
            .field("remaining", &self.remaining)
            .field("chunked", &self.chunked)
            .finish_non_exhaustive()
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
#[derive(Debug, Default)]
pub struct Response {
    status: StatusCode,
    content_type: ContentType,
    /// Headers other than Content-Type, allocated only when a response has some.
    headers: Option<Box<HeaderMap>>,
    body: Body,
    /// Set when the response stands for an error that an app error handler may replace.
    error: Option<Box<HttpError>>,
    /// Not a response at all: the request's handler is `blocking` and will answer later.
    deferred: bool,
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
            response.headers_mut().insert(http::header::LOCATION, value);
        }
        response
    }

    fn with_type(content_type: ContentType, body: Body) -> Self {
        Self {
            content_type,
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

    /// The first value of header `name` (case-insensitive), `Content-Type` included: the one
    /// that will be sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        if name.eq_ignore_ascii_case("content-type") {
            return self
                .content_type_value()
                .and_then(|value| std::str::from_utf8(value).ok());
        }
        self.headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    }

    /// The `Content-Type` that is sent: one set through [`headers_mut`](Self::headers_mut)
    /// (the last, if several were appended) wins over the one the constructor chose, so
    /// exactly one is written however it was set.
    fn content_type_value(&self) -> Option<&[u8]> {
        self.headers
            .as_deref()
            .and_then(|headers| {
                headers
                    .get_all(http::header::CONTENT_TYPE)
                    .iter()
                    .next_back()
            })
            .map(HeaderValue::as_bytes)
            .or_else(|| self.content_type.value())
    }

    /// The headers other than `Content-Type` (see [`header`](Self::header)).
    pub fn headers(&self) -> &HeaderMap {
        self.headers.as_deref().unwrap_or(&NO_HEADERS)
    }

    /// The headers other than `Content-Type`, to change them with the `http` crate's typed
    /// names and values (which cannot hold control characters either).
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        self.headers.get_or_insert_with(Box::default)
    }

    /// Sets header `name` to `value`, replacing earlier values, after checking that neither
    /// can break the response framing.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<&mut Self, InvalidHeader> {
        let (header_name, header_value) = checked_header(name, value)?;
        if header_name == http::header::CONTENT_TYPE {
            self.content_type = ContentType::Other(Box::new(header_value));
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
            self.content_type = ContentType::Other(Box::new(header_value));
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

    /// A copy for tests that encode one response several times (`encode` takes the body of
    /// a streamed response, so `Response` is not `Clone`).
    #[cfg(test)]
    pub(crate) fn test_copy(&self) -> Response {
        let body = match &self.body {
            Body::Empty => Body::Empty,
            Body::Static(bytes) => Body::Static(bytes),
            Body::Bytes(bytes) => Body::Bytes(bytes.clone()),
            Body::Reader(_) => panic!("a streamed response cannot be copied"),
        };
        Response {
            status: self.status,
            content_type: self.content_type.clone(),
            headers: self.headers.clone(),
            body,
            error: self.error.clone(),
            deferred: self.deferred,
        }
    }

    /// Stands for "answered later, by the blocking pool" (see `App::respond`).
    pub(crate) fn deferred() -> Self {
        Self {
            deferred: true,
            ..Self::default()
        }
    }

    pub(crate) fn is_deferred(&self) -> bool {
        self.deferred
    }

    /// The error this response stands for, if it was made from an [`HttpError`].
    pub fn error(&self) -> Option<&HttpError> {
        self.error.as_deref()
    }

    /// Whether the response asks to close the connection (`Connection: close`).
    #[inline]
    pub(crate) fn wants_close(&self) -> bool {
        self.headers.as_ref().is_some_and(|headers| {
            headers
                .get_all(http::header::CONNECTION)
                .iter()
                .any(|value| value.as_bytes().eq_ignore_ascii_case(b"close"))
        })
    }

    /// Writes the response as HTTP/1.1 bytes into `out`.
    ///
    /// The status line, `Server`, `Date`, `Content-Type`, framing and `Connection` headers are
    /// written by carafe; a handler's own `Content-Length`, `Transfer-Encoding` and
    /// `Connection` are skipped because the framing must match what is actually sent. Bodies
    /// are omitted for HEAD (with the GET length kept, RFC 9110 §9.3.2) and for 1xx, 204 and 304.
    /// Returns the reader of a [`Body::Reader`] still to be streamed, framed as the head says.
    pub(crate) fn encode(
        &mut self,
        options: &EncodeOptions<'_>,
        out: &mut Vec<u8>,
    ) -> Option<Streaming> {
        let bodiless = self.status.is_informational()
            || self.status == StatusCode::NO_CONTENT
            || self.status == StatusCode::NOT_MODIFIED;
        // One match for both: the variant test alone costs several instructions (the tag
        // sits in a niche of the Vec).
        let (in_memory, streamed) = match &self.body {
            Body::Reader(_) => (&[][..], true),
            Body::Empty => (&[][..], false),
            Body::Static(bytes) => (*bytes, false),
            Body::Bytes(bytes) => (bytes.as_slice(), false),
        };
        let body = if bodiless || options.head_only {
            &[][..]
        } else {
            in_memory
        };
        out.reserve(256 + body.len());
        match self.headers.as_deref() {
            None if !bodiless && !streamed => self.encode_common_head(options, out),
            headers => self.encode_any_head(headers, bodiless, options, out),
        }
        out.extend_from_slice(body);
        if !streamed || bodiless || options.head_only {
            return None;
        }
        let Body::Reader(reader) = std::mem::take(&mut self.body) else {
            return None;
        };
        Some(Streaming {
            chunked: reader.len.is_none() && options.version == Version::HTTP_11,
            remaining: reader.len,
            reader: reader.reader,
        })
    }

    /// Whether the body can only be delimited by closing the connection: a stream of unknown
    /// length to an HTTP/1.0 client, which does not understand chunked (RFC 9112 §7.1).
    pub(crate) fn needs_close_delimiting(&self, version: Version) -> bool {
        version == Version::HTTP_10
            && matches!(&self.body, Body::Reader(reader) if reader.len.is_none())
    }

    /// The head of most responses (a status with a body, no headers of the handler's own),
    /// in a few appends whose sizes are known at compile time, so they compile to plain
    /// moves. It writes exactly what [`encode_any_head`](Self::encode_any_head) would.
    fn encode_common_head(&self, options: &EncodeOptions<'_>, out: &mut Vec<u8>) {
        match self.status.as_u16() {
            200 => out.extend_from_slice(b"HTTP/1.1 200 OK\r\nServer: carafe\r\nDate: "),
            404 => out.extend_from_slice(b"HTTP/1.1 404 Not Found\r\nServer: carafe\r\nDate: "),
            _ => {
                encode_status_line(self.status, out);
                out.extend_from_slice(b"Server: carafe\r\nDate: ");
            }
        }
        out.extend_from_slice(options.date);
        match &self.content_type {
            ContentType::None => out.extend_from_slice(b"\r\nContent-Length: "),
            ContentType::TextPlain => out.extend_from_slice(
                b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ",
            ),
            ContentType::TextHtml => out.extend_from_slice(
                b"\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ",
            ),
            ContentType::OctetStream => out.extend_from_slice(
                b"\r\nContent-Type: application/octet-stream\r\nContent-Length: ",
            ),
            #[cfg(feature = "json")]
            ContentType::Json => {
                out.extend_from_slice(b"\r\nContent-Type: application/json\r\nContent-Length: ");
            }
            ContentType::Other(value) => {
                out.extend_from_slice(b"\r\nContent-Type: ");
                out.extend_from_slice(value.as_bytes());
                out.extend_from_slice(b"\r\nContent-Length: ");
            }
        }
        let length = self.body.len();
        match (options.keep_alive, options.version) {
            // The usual case, a short body on a kept-alive HTTP/1.1 connection: the digits and
            // the end of the head in one fixed-size append.
            (true, Version::HTTP_11) if length < 100 => {
                let (tens, ones) = ((length / 10) as u8, (length % 10) as u8);
                if tens == 0 {
                    out.extend_from_slice(&[b'0' + ones, b'\r', b'\n', b'\r', b'\n']);
                } else {
                    out.extend_from_slice(&[b'0' + tens, b'0' + ones, b'\r', b'\n', b'\r', b'\n']);
                }
            }
            (false, _) => {
                write_decimal(length, out);
                out.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
            }
            (true, Version::HTTP_10) => {
                write_decimal(length, out);
                out.extend_from_slice(b"\r\nConnection: keep-alive\r\n\r\n");
            }
            (true, _) => {
                write_decimal(length, out);
                out.extend_from_slice(b"\r\n\r\n");
            }
        }
    }

    /// The head of any response: handler headers (minus the framing ones carafe owns),
    /// bodiless statuses.
    fn encode_any_head(
        &self,
        headers: Option<&HeaderMap>,
        bodiless: bool,
        options: &EncodeOptions<'_>,
        out: &mut Vec<u8>,
    ) {
        encode_status_line(self.status, out);
        let has = |name| headers.is_some_and(|headers| headers.contains_key(name));
        if !has(http::header::SERVER) {
            out.extend_from_slice(b"Server: carafe\r\n");
        }
        if !has(http::header::DATE) {
            out.extend_from_slice(b"Date: ");
            out.extend_from_slice(options.date);
            out.extend_from_slice(b"\r\n");
        }
        match headers.and_then(|headers| {
            headers
                .get_all(http::header::CONTENT_TYPE)
                .iter()
                .next_back()
        }) {
            // Set in the header map: it wins over the constructor's (see `content_type_value`).
            Some(value) => {
                out.extend_from_slice(b"Content-Type: ");
                out.extend_from_slice(value.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            None => self.content_type.encode(out),
        }
        if !bodiless {
            match self.body.content_length() {
                Some(length) => {
                    out.extend_from_slice(b"Content-Length: ");
                    out.extend_from_slice(itoa::Buffer::new().format(length).as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
                None if options.version == Version::HTTP_11 => {
                    out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
                }
                // HTTP/1.0: the body ends when the connection does.
                None => {}
            }
        }
        for (name, value) in headers.into_iter().flatten() {
            if is_framing_header(name) || name == http::header::CONTENT_TYPE {
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
    }
}

/// Writes `n` in decimal. Lengths under 10,000 (most bodies) take one fixed-size append;
/// longer ones go through itoa.
fn write_decimal(n: usize, out: &mut Vec<u8>) {
    let digit = |value: usize| b'0' + (value % 10) as u8;
    match n {
        0..=9 => out.push(digit(n)),
        10..=99 => out.extend_from_slice(&[digit(n / 10), digit(n)]),
        100..=999 => out.extend_from_slice(&[digit(n / 100), digit(n / 10), digit(n)]),
        1000..=9999 => {
            out.extend_from_slice(&[digit(n / 1000), digit(n / 100), digit(n / 10), digit(n)])
        }
        _ => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
    }
}

/// Writes `HTTP/1.1 <code> <reason>\r\n`; the common statuses as one literal each.
fn encode_status_line(status: StatusCode, out: &mut Vec<u8>) {
    let line: &[u8] = match status.as_u16() {
        200 => b"HTTP/1.1 200 OK\r\n",
        204 => b"HTTP/1.1 204 No Content\r\n",
        304 => b"HTTP/1.1 304 Not Modified\r\n",
        404 => b"HTTP/1.1 404 Not Found\r\n",
        _ => {
            out.extend_from_slice(b"HTTP/1.1 ");
            out.extend_from_slice(status.as_str().as_bytes());
            out.push(b' ');
            out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
            out.extend_from_slice(b"\r\n");
            return;
        }
    };
    out.extend_from_slice(line);
}

/// A header name and value that cannot break the framing: the name a token, the value free
/// of CR, LF, NUL and other controls (the `http` crate's rules).
fn checked_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), InvalidHeader> {
    let header_name =
        HeaderName::from_bytes(name.as_bytes()).map_err(|_| InvalidHeader::name(name))?;
    let header_value = HeaderValue::from_str(value).map_err(|_| InvalidHeader::value(value))?;
    Ok((header_name, header_value))
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
    pub date: &'d [u8; HTTP_DATE_LEN],
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

    const DATE: &[u8; 29] = b"Sun, 06 Nov 1994 08:49:37 GMT";

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
        response.test_copy().encode(&options, &mut out);
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
    fn the_common_and_the_general_head_are_the_same_bytes() {
        let options = [
            (Version::HTTP_11, true),
            (Version::HTTP_11, false),
            (Version::HTTP_10, true),
        ];
        let bodies = [
            "",
            "x",
            "0123456789",
            &"y".repeat(999),
            &"z".repeat(10_000),
            &"w".repeat(123_456),
        ];
        let mut responses = vec![Response::new(StatusCode::OK)];
        for body in bodies {
            responses.push(Response::text(body.to_owned()));
            responses.push(Response::html(body.to_owned()).with_status(StatusCode::NOT_FOUND));
            responses
                .push(Response::bytes(body.as_bytes().to_vec()).with_status(StatusCode::CREATED));
            responses.push(
                Response::text(body.to_owned())
                    .with_header("content-type", "text/x-own")
                    .unwrap(),
            );
        }
        for response in &responses {
            for (version, keep_alive) in options {
                let options = EncodeOptions {
                    version,
                    keep_alive,
                    head_only: false,
                    date: DATE,
                };
                let mut common = Vec::new();
                response.encode_common_head(&options, &mut common);
                let mut general = Vec::new();
                response.encode_any_head(None, false, &options, &mut general);
                assert_eq!(
                    String::from_utf8(common).unwrap(),
                    String::from_utf8(general).unwrap()
                );
            }
        }
    }

    #[test]
    fn decimals_are_written_exactly() {
        for n in [
            0,
            7,
            10,
            99,
            100,
            999,
            1000,
            9999,
            10_000,
            123_456_789,
            usize::MAX,
        ] {
            let mut out = Vec::new();
            write_decimal(n, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
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
    fn a_content_type_in_the_header_map_wins_and_is_written_once() {
        // Issue 11, defect 7: both the constructor's and the map's were written.
        let mut response = Response::text("{}");
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let encoded = encode(&response);
        assert_eq!(encoded.matches("Content-Type").count(), 1, "{encoded}");
        assert!(
            encoded.contains("Content-Type: application/json\r\n"),
            "{encoded}"
        );
        assert_eq!(response.header("content-type"), Some("application/json"));
        response.headers_mut().append(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/css"),
        );
        let encoded = encode(&response);
        assert_eq!(encoded.matches("Content-Type").count(), 1, "{encoded}");
        assert!(encoded.contains("Content-Type: text/css\r\n"), "{encoded}");
        assert_eq!(response.header("content-type"), Some("text/css"));
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
