//! Responses as HTTP/1.1 bytes: [`Outgoing`] (status, content type, header fields, [`Body`])
//! and its encoder.
//!
//! The site's `Response` wraps an `Outgoing`; the connection encodes it straight into its
//! output buffer: no intermediate string, no allocation for a static body. The status line,
//! `Server`, `Date`, `Content-Type` and the framing fields (`Content-Length` or
//! `Transfer-Encoding`, `Connection`) are written here, so that what a handler set can never
//! contradict what is actually sent.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::Read;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Version};

use super::date::HTTP_DATE_LEN;

/// The room a response's header map is made with: a page's usual fields at once (caching,
/// security headers, `Vary`, a cookie), where the default map grows twice on the way there,
/// moving every field each time.
const HEADERS_CAPACITY: usize = 12;

thread_local! {
    /// The header map of the last response sent from this thread, emptied, for the next
    /// response made here: a map of that size is three allocations (the box, its index and
    /// its entries, about 1.3 KB, past the allocator's per-thread cache) otherwise made and
    /// freed on every response that sets a header.
    static SPARE_HEADERS: Cell<Option<Box<HeaderMap>>> = const { Cell::new(None) };
}

/// Keeps `headers`, whose response went out, as this thread's spare. A map that grew past
/// [`HEADERS_CAPACITY`] is freed instead, so that a thread holds one small map at most.
pub(crate) fn recycle_headers(mut headers: Box<HeaderMap>) {
    if headers.capacity() <= HEADERS_CAPACITY {
        // Cleared, a map is as new: no field, no value, its index reset.
        headers.clear();
        SPARE_HEADERS.set(Some(headers));
    }
}

/// Declares the content types that have a variant of [`ContentType`], each written once: the
/// header lines below are built from this one list at compile time, so that copying them is a
/// few fixed-size moves rather than a call to `memcpy`.
macro_rules! content_types {
    ($($(#[$attr:meta])* $variant:ident => $mime:literal,)*) => {
        /// A response's Content-Type. The common ones are variants (written from literal
        /// lines); another value is boxed, so that an `Outgoing` stays small (it is moved
        /// several times per request).
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub(crate) enum ContentType {
            /// None is sent.
            #[default]
            None,
            $(
                $(#[$attr])*
                #[doc = concat!("`", $mime, "`")]
                $variant,
            )*
            /// Any other value.
            Other(Box<HeaderValue>),
        }

        impl ContentType {
            /// The value, if there is one.
            pub(crate) fn value(&self) -> Option<&[u8]> {
                match self {
                    ContentType::None => None,
                    $($(#[$attr])* ContentType::$variant => Some($mime.as_bytes()),)*
                    ContentType::Other(value) => Some(value.as_bytes()),
                }
            }

            /// Writes `Content-Type: <value>\r\n`.
            fn write_line(&self, out: &mut Vec<u8>) {
                match self {
                    ContentType::None => {}
                    $(
                        $(#[$attr])*
                        ContentType::$variant => out.extend_from_slice(
                            concat!("Content-Type: ", $mime, "\r\n").as_bytes(),
                        ),
                    )*
                    ContentType::Other(value) => write_field(b"Content-Type", value.as_bytes(), out),
                }
            }

            /// Ends the `Date` line and writes the Content-Type line and the name of
            /// `Content-Length`, for [`Outgoing::encode_common_head`].
            fn write_after_date(&self, out: &mut Vec<u8>) {
                match self {
                    ContentType::None => out.extend_from_slice(b"\r\nContent-Length: "),
                    $(
                        $(#[$attr])*
                        ContentType::$variant => out.extend_from_slice(
                            concat!("\r\nContent-Type: ", $mime, "\r\nContent-Length: ")
                                .as_bytes(),
                        ),
                    )*
                    ContentType::Other(value) => {
                        out.extend_from_slice(b"\r\n");
                        write_field(b"Content-Type", value.as_bytes(), out);
                        out.extend_from_slice(b"Content-Length: ");
                    }
                }
            }
        }
    };
}

content_types! {
    TextPlain => "text/plain; charset=utf-8",
    TextHtml => "text/html; charset=utf-8",
    OctetStream => "application/octet-stream",
    EventStream => "text/event-stream",
    #[cfg(feature = "json")]
    Json => "application/json",
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
    /// A live connection: a WebSocket after its `101`, or an event stream, written to as
    /// things happen. Made by `WebSocket` and
    /// [`Response::events`](crate::Response::events).
    Live(LiveBody),
}

/// What a live response carries on after its head; see [`Body::Live`].
pub struct LiveBody {
    pub(crate) tunnel: Box<dyn crate::h1::tunnel::Tunnel>,
}

impl std::fmt::Debug for LiveBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveBody").finish_non_exhaustive()
    }
}

/// A body read from any `Read`, 64 KiB at a time, as the client takes it: what
/// [`Body::reader`] and [`Response::stream`](crate::Response::stream) make.
///
/// ```
/// use carafe::{Body, BodyReader};
///
/// let body = Body::reader(std::io::empty(), Some(0));
/// let reader: &BodyReader = match &body {
///     Body::Reader(reader) => reader,
///     _ => unreachable!(),
/// };
/// assert_eq!(reader.declared_len(), Some(0));
/// ```
pub struct BodyReader {
    reader: Box<dyn Read + Send>,
    len: Option<u64>,
}

impl BodyReader {
    /// The length declared for the body, if known: it is sent as `Content-Length`.
    pub fn declared_len(&self) -> Option<u64> {
        self.len
    }

    /// The source itself, to wrap it (the compression of a streamed body).
    #[cfg(feature = "compression")]
    pub(crate) fn into_reader(self) -> Box<dyn Read + Send> {
        self.reader
    }
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
            Body::Empty | Body::Reader(_) | Body::Live(_) => &[],
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
            Body::Live(_) => None,
            // A usize always fits in a u64 on the targets Rust supports.
            body => Some(body.len() as u64),
        }
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

/// A response as the protocol layer sends it.
#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    pub status: StatusCode,
    pub content_type: ContentType,
    /// Header fields other than the ones the constructor's content type stands for,
    /// allocated only when a response has some.
    pub headers: Option<Box<HeaderMap>>,
    pub body: Body,
}

impl Outgoing {
    /// A response of `status` with a plain-text body.
    pub(crate) fn text(status: StatusCode, body: impl Into<Body>) -> Self {
        Self {
            status,
            content_type: ContentType::TextPlain,
            headers: None,
            body: body.into(),
        }
    }

    /// The header fields, made on first use.
    pub(crate) fn headers_mut(&mut self) -> &mut HeaderMap {
        self.headers.get_or_insert_with(|| {
            SPARE_HEADERS
                .take()
                .unwrap_or_else(|| Box::new(HeaderMap::with_capacity(HEADERS_CAPACITY)))
        })
    }

    /// The header fields (none: an empty map).
    pub(crate) fn headers(&self) -> Option<&HeaderMap> {
        self.headers.as_deref()
    }

    /// The value of header `name` that is sent (the first one; for `Content-Type`, the one
    /// [`content_type_value`](Self::content_type_value) names).
    pub(crate) fn header(&self, name: &str) -> Option<&[u8]> {
        if name.eq_ignore_ascii_case("content-type") {
            return self.content_type_value();
        }
        self.headers()?.get(name).map(HeaderValue::as_bytes)
    }

    /// The `Content-Type` that is sent: one set in the header map (the last, if several were
    /// appended) wins over the constructor's, so exactly one is written however it was set.
    pub(crate) fn content_type_value(&self) -> Option<&[u8]> {
        self.own_content_type()
            .map(HeaderValue::as_bytes)
            .or_else(|| self.content_type.value())
    }

    fn own_content_type(&self) -> Option<&HeaderValue> {
        self.headers()?
            .get_all(http::header::CONTENT_TYPE)
            .iter()
            .next_back()
    }

    /// Whether the response asks to close the connection (`Connection: close`).
    #[inline]
    pub(crate) fn wants_close(&self) -> bool {
        self.headers().is_some_and(|headers| {
            headers
                .get_all(http::header::CONNECTION)
                .iter()
                .any(|value| value.as_bytes().eq_ignore_ascii_case(b"close"))
        })
    }

    /// Whether the body can only be delimited by closing the connection: a stream of unknown
    /// length to an HTTP/1.0 client, which does not understand chunked (RFC 9112 §7.1).
    pub(crate) fn needs_close_delimiting(&self, version: Version) -> bool {
        version == Version::HTTP_10
            && match &self.body {
                Body::Reader(reader) => reader.len.is_none(),
                Body::Live(_) => !self.is_bodiless(),
                _ => false,
            }
    }

    /// Whether the status forbids content: 1xx, 204 and 304 (RFC 9110 §6.4.1), and 205,
    /// which has none (§15.3.6; its `Content-Length: 0` is written).
    fn is_bodiless(&self) -> bool {
        self.status.is_informational() || matches!(self.status.as_u16(), 204 | 205 | 304)
    }

    /// Writes the response as HTTP/1.1 bytes into `out`.
    ///
    /// The status line, `Server`, `Date`, `Content-Type`, framing and `Connection` headers are
    /// written here; a handler's own `Content-Length`, `Transfer-Encoding` and `Connection`
    /// are skipped because the framing must match what is actually sent. Bodies are omitted
    /// for HEAD (with the GET length kept, RFC 9110 §9.3.2) and for 1xx, 204, 205 and 304.
    /// Returns the reader of a [`Body::Reader`] still to be streamed, framed as the head says.
    pub(crate) fn encode(
        &mut self,
        options: &EncodeOptions<'_>,
        out: &mut Vec<u8>,
    ) -> Option<Streaming> {
        // Most responses: bytes in memory, no header fields of the handler's own, a status
        // with content, not HEAD. Asked first and in a few tests, apart from the general
        // path, whose many cases cost the usual one registers and branches.
        if self.headers.is_none() && !options.head_only && !self.is_bodiless() {
            let body: Option<&[u8]> = match &self.body {
                Body::Static(bytes) => Some(bytes),
                Body::Bytes(bytes) => Some(bytes),
                Body::Empty => Some(&[]),
                Body::Reader(_) | Body::Live(_) => None,
            };
            if let Some(body) = body {
                out.reserve(256 + body.len());
                self.encode_common_head(options, out);
                out.extend_from_slice(body);
                return None;
            }
        }
        self.encode_general(options, out)
    }

    /// [`encode`](Self::encode) for any response.
    #[inline(never)]
    fn encode_general(
        &mut self,
        options: &EncodeOptions<'_>,
        out: &mut Vec<u8>,
    ) -> Option<Streaming> {
        let bodiless = self.is_bodiless();
        // One match for both: the variant test alone costs several instructions (the tag
        // sits in a niche of the Vec).
        let (in_memory, streamed) = match &self.body {
            Body::Reader(_) | Body::Live(_) => (&[][..], true),
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
        // A live body stays where it is: the connection takes it.
        if !matches!(self.body, Body::Reader(_)) {
            return None;
        }
        let Body::Reader(reader) = std::mem::take(&mut self.body) else {
            return None;
        };
        if reader.len == Some(0) {
            return None; // Nothing to read: the source is not touched (it may fail or block).
        }
        Some(Streaming {
            chunked: reader.len.is_none() && options.version == Version::HTTP_11,
            remaining: reader.len,
            reader: reader.reader,
        })
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
        self.content_type.write_after_date(out);
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
            write_field(b"Date", options.date, out);
        }
        match self.own_content_type() {
            Some(value) => write_field(b"Content-Type", value.as_bytes(), out),
            None => self.content_type.write_line(out),
        }
        match self.body.content_length() {
            // 205 has no content, and says so (RFC 9110 §15.3.6).
            _ if self.status == StatusCode::RESET_CONTENT => {
                out.extend_from_slice(b"Content-Length: 0\r\n");
            }
            _ if bodiless => {}
            Some(length) => {
                let mut digits = itoa::Buffer::new();
                write_field(b"Content-Length", digits.format(length).as_bytes(), out);
            }
            None if options.version == Version::HTTP_11 => {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
            }
            // HTTP/1.0: the body ends when the connection does.
            None => {}
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
        if self.status == StatusCode::SWITCHING_PROTOCOLS && matches!(self.body, Body::Live(_)) {
            // The handler's `Upgrade` names the protocol (RFC 9110 §7.8).
            out.extend_from_slice(b"Connection: Upgrade\r\n");
        } else if !options.keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if options.version == Version::HTTP_10 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }

    /// A copy for tests that encode one response several times (`encode` takes the body of
    /// a streamed response, so `Outgoing` is not `Clone`).
    #[cfg(test)]
    pub(crate) fn test_copy(&self) -> Outgoing {
        let body = match &self.body {
            Body::Empty => Body::Empty,
            Body::Static(bytes) => Body::Static(bytes),
            Body::Bytes(bytes) => Body::Bytes(bytes.clone()),
            Body::Reader(_) | Body::Live(_) => panic!("a streamed response cannot be copied"),
        };
        Outgoing {
            status: self.status,
            content_type: self.content_type.clone(),
            headers: self.headers.clone(),
            body,
        }
    }
}

/// Writes `name: value\r\n`.
fn write_field(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
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

/// Writes a header name as `Title-Case` (`x-request-id` → `X-Request-Id`), as most servers do,
/// or in the spelling its RFC uses where that is not Title-Case (`ETag`, `WWW-Authenticate`).
/// `http` stores names lowercase; case does not matter to HTTP, but it reads better in `curl -i`.
fn write_title_case(name: &str, out: &mut Vec<u8>) {
    const SPELLED: [(&str, &str); 6] = [
        ("etag", "ETag"),
        ("www-authenticate", "WWW-Authenticate"),
        ("content-md5", "Content-MD5"),
        ("x-xss-protection", "X-XSS-Protection"),
        ("dnt", "DNT"),
        ("te", "TE"),
    ];
    if let Some((_, spelled)) = SPELLED.iter().find(|(lower, _)| *lower == name) {
        out.extend_from_slice(spelled.as_bytes());
        return;
    }
    // Copied in one append and capitalised in place: a push per byte checks the capacity
    // each time.
    let start = out.len();
    out.extend_from_slice(name.as_bytes());
    let mut upper = true;
    for byte in &mut out[start..] {
        if upper {
            byte.make_ascii_uppercase();
        }
        upper = *byte == b'-';
    }
}

fn is_framing_header(name: &HeaderName) -> bool {
    name == http::header::CONTENT_LENGTH
        || name == http::header::TRANSFER_ENCODING
        || name == http::header::CONNECTION
}

/// An 8-hex-digit chunk-size line's length, placeholder included.
pub(crate) const CHUNK_HEADER_LEN: usize = 10;

/// `size` as a chunk-size line of fixed width (`0000ffff\r\n`): leading zeros are allowed
/// (RFC 9112 §7.1), so the line can be written before the data's length is known.
pub(crate) fn chunk_header(size: usize) -> [u8; CHUNK_HEADER_LEN] {
    let mut line = *b"00000000\r\n";
    for (index, slot) in line[..8].iter_mut().enumerate() {
        let nibble = (size >> (4 * (7 - index))) & 0xf;
        *slot = b"0123456789abcdef"[nibble];
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_title_case_or_as_their_rfc_spells_them() {
        let spelled = |name: &str| {
            let mut out = Vec::new();
            write_title_case(name, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(spelled("x-request-id"), "X-Request-Id");
        assert_eq!(spelled("cache-control"), "Cache-Control");
        assert_eq!(spelled("etag"), "ETag");
        assert_eq!(spelled("www-authenticate"), "WWW-Authenticate");
        assert_eq!(spelled("x-xss-protection"), "X-XSS-Protection");
        assert_eq!(spelled("vary"), "Vary");
    }

    const DATE: &[u8; 29] = b"Sun, 06 Nov 1994 08:49:37 GMT";

    fn text(body: &str) -> Outgoing {
        Outgoing::text(StatusCode::OK, body.to_owned())
    }

    fn with_type(content_type: ContentType, status: StatusCode, body: &str) -> Outgoing {
        Outgoing {
            status,
            content_type,
            headers: None,
            body: Body::Bytes(body.as_bytes().to_vec()),
        }
    }

    fn encode_with(
        response: &Outgoing,
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

    fn encode(response: &Outgoing) -> String {
        encode_with(response, Version::HTTP_11, true, false)
    }

    fn insert(response: &mut Outgoing, name: &'static str, value: &'static str) {
        response
            .headers
            .get_or_insert_with(Box::default)
            .append(name, HeaderValue::from_static(value));
    }

    #[test]
    fn a_recycled_header_map_comes_back_empty() {
        let mut sent = text("sent");
        sent.headers_mut()
            .insert("x-one", HeaderValue::from_static("1"));
        recycle_headers(sent.headers.take().unwrap());
        let mut next = text("next");
        assert!(next.headers_mut().is_empty());
        assert_eq!(next.headers_mut().capacity(), HEADERS_CAPACITY);
        // A map that grew is not kept.
        let mut big = HeaderMap::new();
        for index in 0..20 {
            big.insert(
                HeaderName::try_from(format!("x-{index}")).unwrap(),
                HeaderValue::from_static("v"),
            );
        }
        recycle_headers(Box::new(big));
        assert_eq!(SPARE_HEADERS.take().map(|map| map.capacity()), None);
    }

    #[test]
    fn encodes_a_text_response() {
        assert_eq!(
            encode(&text("Hello, World!")),
            "HTTP/1.1 200 OK\r\nServer: carafe\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n\r\nHello, World!"
        );
    }

    #[test]
    fn head_keeps_the_length_and_drops_the_body() {
        let html = with_type(ContentType::TextHtml, StatusCode::OK, "<p>hi</p>");
        let encoded = encode_with(&html, Version::HTTP_11, true, true);
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
        let mut responses = vec![Outgoing::default()];
        for body in bodies {
            responses.push(text(body));
            responses.push(with_type(
                ContentType::TextHtml,
                StatusCode::NOT_FOUND,
                body,
            ));
            responses.push(with_type(
                ContentType::OctetStream,
                StatusCode::CREATED,
                body,
            ));
            let own = HeaderValue::from_static("text/x-own");
            responses.push(with_type(
                ContentType::Other(Box::new(own)),
                StatusCode::OK,
                body,
            ));
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
            let mut response = text("ignored");
            response.status = status;
            let encoded = encode(&response);
            assert!(!encoded.contains("Content-Length"), "{encoded}");
            assert!(encoded.ends_with("\r\n\r\n"), "{encoded}");
        }
        // 205 has no content either, and says so.
        let mut response = text("ignored");
        response.status = StatusCode::RESET_CONTENT;
        let encoded = encode(&response);
        assert!(encoded.contains("Content-Length: 0\r\n"), "{encoded}");
        assert!(encoded.ends_with("\r\n\r\n"), "{encoded}");
    }

    #[test]
    fn connection_header_follows_keep_alive_and_version() {
        let response = text("x");
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
        let mut response = text("abc");
        insert(&mut response, "content-length", "999");
        insert(&mut response, "transfer-encoding", "chunked");
        insert(&mut response, "x-custom", "yes");
        let encoded = encode(&response);
        assert!(encoded.contains("Content-Length: 3\r\n"));
        assert!(!encoded.contains("999"));
        assert!(!encoded.contains("chunked"));
        assert!(encoded.contains("X-Custom: yes\r\n"));
    }

    #[test]
    fn a_content_type_in_the_header_map_wins_and_is_written_once() {
        // Issue 11, defect 7: both the constructor's and the map's were written.
        let mut response = text("{}");
        insert(&mut response, "content-type", "application/json");
        let encoded = encode(&response);
        assert_eq!(encoded.matches("Content-Type").count(), 1, "{encoded}");
        assert!(
            encoded.contains("Content-Type: application/json\r\n"),
            "{encoded}"
        );
        assert_eq!(
            response.header("content-type"),
            Some(&b"application/json"[..])
        );
        insert(&mut response, "content-type", "text/css");
        let encoded = encode(&response);
        assert_eq!(encoded.matches("Content-Type").count(), 1, "{encoded}");
        assert!(encoded.contains("Content-Type: text/css\r\n"), "{encoded}");
        assert_eq!(response.header("content-type"), Some(&b"text/css"[..]));
    }

    #[test]
    fn chunk_headers_are_fixed_width_hex() {
        assert_eq!(&chunk_header(0xffff), b"0000ffff\r\n");
        assert_eq!(&chunk_header(65536), b"00010000\r\n");
        assert_eq!(&chunk_header(1), b"00000001\r\n");
    }
}
