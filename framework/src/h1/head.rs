//! Reading a request head (request line and header section) with httparse, and deciding the
//! message framing from it under RFC 9112's rules.
//!
//! This module is half of the sans-IO codec (with `body.rs`): it takes a byte slice and never
//! touches a socket. "Need more bytes" is `Ok(None)`, not an error. It does not read bodies,
//! route, or keep state between calls; the connection (`conn.rs`) decides when to call it again.

use std::mem::MaybeUninit;
use std::ops::Range;

use http::{Method, Version};
use httparse::{Header, Status};

use crate::h1::error::ParseError;

/// How the body of a request is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// No body.
    Empty,
    /// Exactly this many bytes (never 0).
    Length(u64),
    /// Chunked transfer-coding, ended by a zero-size chunk and an optional trailer section.
    Chunked,
}

/// The most header fields any configuration may allow; the header array lives on the stack.
pub(crate) const MAX_HEADERS_CAP: usize = 256;

/// Limits applied while reading a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeadLimits {
    /// Bytes of request line plus header section.
    pub max_head: usize,
    /// Header fields.
    pub max_headers: usize,
    /// Bytes of request-target.
    pub max_target: usize,
    /// Pairs in the query string.
    pub max_query_params: usize,
    /// Cookies, across all `Cookie` header fields.
    pub max_cookies: usize,
}

/// Uninitialised storage for the parsed header fields, borrowed by [`Head::headers`].
pub(crate) type HeaderStorage<'b> = [MaybeUninit<Header<'b>>; MAX_HEADERS_CAP];

/// Fresh header storage. It costs nothing: the array is not initialised.
pub(crate) fn header_storage<'b>() -> HeaderStorage<'b> {
    [const { MaybeUninit::uninit() }; MAX_HEADERS_CAP]
}

/// A parsed request head, borrowing the input buffer (`'b`) and the header storage (`'h`).
#[derive(Debug)]
pub(crate) struct Head<'h, 'b> {
    /// The head's bytes, request line to blank line (`len` of them).
    pub raw: &'b [u8],
    pub method: Method,
    /// The request-target as sent, e.g. `/blog?page=2`.
    pub target: &'b str,
    /// The path of the target, still percent-encoded; `*` for `OPTIONS *`.
    pub path: &'b str,
    /// The query of the target without the `?`, if any.
    pub query: Option<&'b str>,
    pub version: Version,
    pub headers: &'h [Header<'b>],
    /// Length of the head in bytes, including the blank line that ends it.
    pub len: usize,
    pub body: BodyKind,
    /// Whether the connection may carry another request after this one.
    pub keep_alive: bool,
    /// The client waits for `100 Continue` before sending the body (HTTP/1.1 only).
    pub expect_continue: bool,
}

/// Parses a request head at the start of `buf`.
///
/// Returns `Ok(Some(head))` once the blank line ending the header section is in `buf`, and
/// `Ok(None)` while the head is incomplete, without checking the incomplete part: httparse
/// starts from the first byte at every call, so a head arriving in pieces is followed with a
/// [`PartialHead`] instead, which looks at each byte once and checks the limits.
// Inline: a `Head` is large, and is built in place in the caller rather than copied out of
// the returned `Result` (a `memcpy` per request).
#[inline(always)]
pub(crate) fn parse_head<'h, 'b>(
    buf: &'b [u8],
    storage: &'h mut HeaderStorage<'b>,
    limits: &HeadLimits,
    hosts: &mut HostMemo,
) -> Result<Option<Head<'h, 'b>>, ParseError> {
    let max_headers = limits.max_headers.min(MAX_HEADERS_CAP);
    let mut request = httparse::Request::new(&mut []);
    looked_at(buf.len());
    let len = match request.parse_with_uninit_headers(buf, &mut storage[..max_headers]) {
        Ok(Status::Complete(len)) => len,
        Ok(Status::Partial) => return Ok(None),
        Err(error) => return Err(map_httparse_error(error, buf, limits)),
    };
    if len > limits.max_head {
        return Err(ParseError::HeadTooLarge(limits.max_head));
    }
    // httparse sets all three fields whenever it reports `Complete`.
    let (Some(method), Some(target), Some(minor)) = (request.method, request.path, request.version)
    else {
        return Err(ParseError::Malformed("incomplete request line"));
    };
    if target.len() > limits.max_target {
        return Err(ParseError::UriTooLong(limits.max_target));
    }
    // The two methods of nearly every request first: `from_bytes` is a longer match.
    let method = match method {
        "GET" => Method::GET,
        "POST" => Method::POST,
        other => Method::from_bytes(other.as_bytes())
            .map_err(|_| ParseError::Malformed("invalid request method"))?,
    };
    let version = if minor == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let (path, query) = split_target(target, &method)?;
    if let Some(query) = query
        && count_pairs(query.as_bytes(), limits.max_query_params) > limits.max_query_params
    {
        return Err(ParseError::TooManyQueryParams(limits.max_query_params));
    }
    let headers: &'h [Header<'b>] = request.headers;
    let fields = FramingFields::read(headers, hosts)?;
    if fields.cookies > limits.max_cookies {
        return Err(ParseError::TooManyCookies(limits.max_cookies));
    }
    let body = fields.body_kind(version)?;
    if version == Version::HTTP_11 && fields.hosts != 1 || fields.hosts > 1 {
        return Err(ParseError::Malformed(
            "an HTTP/1.1 request needs exactly one Host header",
        ));
    }
    let keep_alive = if version == Version::HTTP_11 {
        !fields.close
    } else {
        fields.keep_alive && !fields.close
    };
    Ok(Some(Head {
        raw: &buf[..len],
        method,
        target,
        path,
        query,
        version,
        headers,
        len,
        body,
        keep_alive,
        // RFC 9110 §10.1.1: an HTTP/1.0 server ignores the expectation.
        expect_continue: fields.expect_continue && version == Version::HTTP_11,
    }))
}

/// A parsed head kept beyond the borrow of its buffer: where each part is, as offsets into
/// the head's bytes, so that a [`Head`] can be had again from those bytes without parsing
/// them again. For a request whose body arrives after its head (the input buffer may move
/// between reads), and for a request answered on another thread.
#[derive(Debug, Clone)]
pub(crate) struct HeadOffsets {
    method: Method,
    version: Version,
    target: Range<usize>,
    /// Name and value of each header field.
    headers: Vec<(Range<usize>, Range<usize>)>,
    len: usize,
    body: BodyKind,
    keep_alive: bool,
    expect_continue: bool,
}

impl HeadOffsets {
    /// Where the parts of `head` are in `head.raw`.
    pub(crate) fn of(head: &Head<'_, '_>) -> Self {
        let start = head.raw.as_ptr() as usize;
        let span = |part: &[u8]| {
            let at = part.as_ptr() as usize - start;
            at..at + part.len()
        };
        Self {
            method: head.method.clone(),
            version: head.version,
            target: span(head.target.as_bytes()),
            headers: head
                .headers
                .iter()
                .map(|field| (span(field.name.as_bytes()), span(field.value)))
                .collect(),
            len: head.len,
            body: head.body,
            keep_alive: head.keep_alive,
            expect_continue: head.expect_continue,
        }
    }

    /// The head again, over `raw` (the same bytes it was parsed from, perhaps moved), its
    /// fields in `storage`.
    pub(crate) fn head<'h, 'b>(
        &self,
        raw: &'b [u8],
        storage: &'h mut Vec<Header<'b>>,
    ) -> Head<'h, 'b> {
        // The bytes were valid UTF-8 tokens when parsed, and have not changed since.
        let text = |range: &Range<usize>| std::str::from_utf8(&raw[range.clone()]).unwrap_or("");
        storage.clear();
        storage.extend(self.headers.iter().map(|(name, value)| Header {
            name: text(name),
            value: &raw[value.clone()],
        }));
        let target = text(&self.target);
        let (path, query) = split_target(target, &self.method).unwrap_or((target, None));
        Head {
            raw: &raw[..self.len],
            method: self.method.clone(),
            target,
            path,
            query,
            version: self.version,
            headers: storage,
            len: self.len,
            body: self.body,
            keep_alive: self.keep_alive,
            expect_continue: self.expect_continue,
        }
    }
}

/// How many `key=value` pairs an urlencoded `input` holds, as a form parser finds them (empty
/// pieces between `&`s are none), counting no further than `limit + 1`.
pub(crate) fn count_pairs(input: &[u8], limit: usize) -> usize {
    input
        .split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .take(limit.saturating_add(1))
        .count()
}

#[cfg(test)]
thread_local! {
    /// Bytes this thread's head and field-line parsing has looked at (searched or handed to
    /// httparse), for tests that bound the work per byte received.
    pub(crate) static LOOKED_AT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts `n` bytes looked at, in tests; nothing otherwise.
#[inline(always)]
fn looked_at(n: usize) {
    #[cfg(test)]
    LOOKED_AT.with(|count| count.set(count.get() + n));
    #[cfg(not(test))]
    let _ = n;
}

/// A request head arriving in pieces, followed as it arrives: each byte is looked at a bounded
/// number of times however the head is cut into reads (httparse alone restarts from the first
/// byte at every call, which made a head sent a byte at a time cost quadratic work), and each
/// line is checked by httparse once it is complete, so a malformed line is refused at once.
#[derive(Debug, Clone, Default)]
pub(crate) struct PartialHead {
    /// Where the request line starts, after the empty lines RFC 9112 §2.2 lets a server
    /// ignore; `None` until a byte of it arrives.
    line_start: Option<usize>,
    /// Bytes of the request line already looked at.
    searched: usize,
    /// Spaces seen in the request line: after the first comes the target.
    spaces: u8,
    /// Bytes of the request-target seen so far.
    target_len: usize,
    /// The field lines, once the request line is complete.
    fields: Option<FieldLines>,
}

impl PartialHead {
    /// Looks at what `buf` (the head so far, from its first byte) holds beyond the last call.
    /// `Ok(true)` once the head is complete, to be parsed with [`parse_head`]; `Ok(false)`
    /// while more is needed; an error as soon as a line is malformed or a limit is broken.
    pub(crate) fn advance(&mut self, buf: &[u8], limits: &HeadLimits) -> Result<bool, ParseError> {
        if self.fields.is_none() && !self.advance_request_line(buf, limits)? {
            return self.check_size(buf, limits).map(|()| false);
        }
        let Some(fields) = &mut self.fields else {
            return Ok(false);
        };
        match fields.advance(buf, limits.max_headers) {
            Ok(Some(_)) => Ok(true),
            Ok(None) => self.check_size(buf, limits).map(|()| false),
            Err(FieldError::TooMany) => Err(ParseError::TooManyHeaders(limits.max_headers)),
            Err(FieldError::Invalid(error)) => Err(map_httparse_error(error, buf, limits)),
        }
    }

    /// Follows the request line; true once it is complete (and valid).
    fn advance_request_line(
        &mut self,
        buf: &[u8],
        limits: &HeadLimits,
    ) -> Result<bool, ParseError> {
        let start = match self.line_start {
            Some(start) => start,
            None => match buf[self.searched..]
                .iter()
                .position(|&b| b != b'\r' && b != b'\n')
            {
                Some(at) => {
                    looked_at(at + 1);
                    self.searched += at;
                    self.line_start = Some(self.searched);
                    self.searched
                }
                None => {
                    looked_at(buf.len() - self.searched);
                    self.searched = buf.len();
                    return Ok(false);
                }
            },
        };
        for at in self.searched..buf.len() {
            looked_at(1);
            match buf[at] {
                b'\n' => {
                    // The whole line is here: let httparse judge it (it needs the header
                    // section for a `Complete`, so a valid line is `Partial`).
                    looked_at(at + 1 - start);
                    let mut request = httparse::Request::new(&mut []);
                    if let Err(error) = request.parse(&buf[..=at]) {
                        return Err(map_httparse_error(error, &buf[start..], limits));
                    }
                    self.fields = Some(FieldLines::new(at + 1));
                    return Ok(true);
                }
                b' ' => self.spaces = self.spaces.saturating_add(1),
                b'\r' => {}
                _ if self.spaces == 1 => {
                    self.target_len += 1;
                    if self.target_len > limits.max_target {
                        return Err(ParseError::UriTooLong(limits.max_target));
                    }
                }
                _ => {}
            }
        }
        self.searched = buf.len();
        Ok(false)
    }

    /// An incomplete head as long as the limit can never complete within it.
    fn check_size(&self, buf: &[u8], limits: &HeadLimits) -> Result<(), ParseError> {
        if buf.len() >= limits.max_head {
            return Err(ParseError::HeadTooLarge(limits.max_head));
        }
        Ok(())
    }
}

/// Why a field line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldError {
    /// More field lines than allowed.
    TooMany,
    /// httparse's verdict on the line.
    Invalid(httparse::Error),
}

/// The field lines of a header or trailer section (RFC 9112 §5) arriving in pieces, followed
/// as they arrive: each line is checked by httparse once, when its end arrives, and the
/// section ends at its empty line. Offsets count from the start of the buffer given to
/// [`advance`](Self::advance), which must begin at the same byte at every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldLines {
    /// Where the line being read starts.
    line: usize,
    /// Bytes already searched for the line's end.
    searched: usize,
    /// Complete field lines so far.
    fields: usize,
}

impl FieldLines {
    /// Field lines starting at `start`.
    pub(crate) fn new(start: usize) -> Self {
        Self {
            line: start,
            searched: start,
            fields: 0,
        }
    }

    /// `Ok(Some(end))` once the empty line that ends the section is in `buf` (`end` is just
    /// past it); `Ok(None)` while more is needed.
    pub(crate) fn advance(
        &mut self,
        buf: &[u8],
        max_fields: usize,
    ) -> Result<Option<usize>, FieldError> {
        while let Some(found) = memchr::memchr(b'\n', &buf[self.searched..]) {
            looked_at(found + 1);
            let end = self.searched + found + 1;
            let line = &buf[self.line..end];
            if line == b"\n" || line == b"\r\n" {
                return Ok(Some(end));
            }
            if self.fields == max_fields {
                return Err(FieldError::TooMany);
            }
            // One slot: a valid line fills it, and with no empty line after it the section is
            // `Partial`.
            let mut field = [httparse::EMPTY_HEADER; 1];
            looked_at(line.len());
            if let Err(error) = httparse::parse_headers(line, &mut field) {
                return Err(FieldError::Invalid(error));
            }
            self.fields += 1;
            self.line = end;
            self.searched = end;
        }
        looked_at(buf.len() - self.searched);
        self.searched = buf.len();
        Ok(None)
    }
}

fn map_httparse_error(error: httparse::Error, buf: &[u8], limits: &HeadLimits) -> ParseError {
    match error {
        httparse::Error::TooManyHeaders => ParseError::TooManyHeaders(limits.max_headers),
        httparse::Error::Version => {
            // `GET / HTTP/2.0` names a version we do not speak (505); `GET / FOO/1.1` and
            // `GET /a b HTTP/1.1` are malformed request lines (400).
            let line = &buf[..memchr::memchr(b'\n', buf).unwrap_or(buf.len())];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
            if parts.len() == 3 && parts[2].starts_with(b"HTTP/") {
                ParseError::UnsupportedVersion
            } else {
                ParseError::Malformed("invalid request line")
            }
        }
        httparse::Error::Token => ParseError::Malformed("invalid request line"),
        // httparse rejects whitespace before the colon and obs-fold continuation lines here.
        httparse::Error::HeaderName => ParseError::Malformed("invalid header name"),
        httparse::Error::HeaderValue => ParseError::Malformed("invalid header value"),
        httparse::Error::NewLine => ParseError::Malformed("invalid line ending"),
        httparse::Error::Status => ParseError::Malformed("invalid request"),
    }
}

/// Splits a request-target into its path and query (RFC 9112 §3.2): origin-form `/p?q`,
/// absolute-form `http://host/p?q` (which a server must accept), or `*` for `OPTIONS`.
/// Origin-form, what nearly every request has, is split inline; the rest out of line.
#[inline(always)]
fn split_target<'b>(
    target: &'b str,
    method: &Method,
) -> Result<(&'b str, Option<&'b str>), ParseError> {
    if target.starts_with('/') {
        return Ok(split_query(target));
    }
    split_other_target(target, method)
}

#[cold]
fn split_other_target<'b>(
    target: &'b str,
    method: &Method,
) -> Result<(&'b str, Option<&'b str>), ParseError> {
    if target == "*" && method == Method::OPTIONS {
        return Ok(("*", None));
    }
    let Some(rest) = strip_http_scheme(target) else {
        return Err(ParseError::Malformed("invalid request-target"));
    };
    // RFC 3986 §3.2: the authority ends at the first `/`, `?` or `#`. What follows a `?` is
    // the query, even when it holds slashes: `http://x?/admin` is the path `/`.
    Ok(match rest.find(['/', '?', '#']) {
        Some(end) if rest.as_bytes()[end] == b'/' => split_query(&rest[end..]),
        Some(end) if rest.as_bytes()[end] == b'?' => ("/", Some(&rest[end + 1..])),
        _ => ("/", None),
    })
}

/// `/p?q` as `("/p", Some("q"))`.
#[inline(always)]
fn split_query(path_and_query: &str) -> (&str, Option<&str>) {
    match find_question_mark(path_and_query.as_bytes()) {
        // `?` is ASCII, so both sides of it are valid UTF-8 slices.
        Some(at) => (&path_and_query[..at], Some(&path_and_query[at + 1..])),
        None => (path_and_query, None),
    }
}

/// Where the first `?` is, eight bytes at a time. This runs on every request, on paths
/// mostly shorter than 16 bytes, where `memchr` scans byte by byte (its vectors need 16): a
/// byte loop costs about four instructions a byte, a word about eight a word.
#[inline(always)]
fn find_question_mark(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = ONES * 0x80;
    // The classic zero-byte test on `word ^ "????????"`: its lowest set high bit marks the
    // first `?` exactly (a false mark can only follow a true one, never precede it).
    let first_in = |word: u64| {
        let x = word ^ (ONES * u64::from(b'?'));
        let marks = x.wrapping_sub(ONES) & !x & HIGHS;
        (marks != 0).then(|| marks.trailing_zeros() as usize / 8)
    };
    let len = bytes.len();
    if len < 8 {
        return bytes.iter().position(|&b| b == b'?');
    }
    let mut at = 0;
    while at + 8 <= len {
        if let Some(i) = first_in(word_at(bytes, at)) {
            return Some(at + i);
        }
        at += 8;
    }
    // The last eight bytes, overlapping the words already searched (which hold no `?`, so
    // a `?` found here is past them).
    if at < len {
        return first_in(word_at(bytes, len - 8)).map(|i| len - 8 + i);
    }
    None
}

fn strip_http_scheme(target: &str) -> Option<&str> {
    let (scheme, rest) = target.split_once("://")?;
    (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")).then_some(rest)
}

/// The header fields that decide framing and persistence, read in one pass.
#[derive(Default)]
struct FramingFields {
    content_length: Option<u64>,
    transfer_encoding: bool,
    chunked_last: bool,
    unknown_coding: bool,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
    hosts: usize,
    /// Cookies in the `Cookie` fields (at least; pieces between `;` that are not empty).
    cookies: usize,
}

impl FramingFields {
    /// Inlined into `parse_head`: built in place rather than returned through a `Result`.
    #[inline(always)]
    fn read(headers: &[Header<'_>], hosts: &mut HostMemo) -> Result<Self, ParseError> {
        let mut fields = FramingFields::default();
        for header in headers {
            let name = header.name.as_bytes();
            // Dispatch on length first: most fields are none of these, and this keeps the
            // common case to one integer comparison per header.
            match name.len() {
                4 if is_name(name, b"host") => {
                    fields.hosts += 1;
                    hosts.check(header.value)?;
                }
                6 if is_name(name, b"expect") => fields.read_expect(header.value)?,
                6 if is_name(name, b"cookie") => fields.count_cookies(header.value),
                10 if is_name(name, b"connection") => fields.read_connection(header.value),
                14 if is_name(name, b"content-length") => {
                    fields.read_content_length(header.value)?;
                }
                17 if is_name(name, b"transfer-encoding") => {
                    fields.read_transfer_encoding(header.value)?;
                }
                _ => {}
            }
        }
        Ok(fields)
    }

    /// RFC 9110 §8.6: a list of identical decimal values is one length; anything else is an
    /// error the server must not guess around (RFC 9112 §6.3, rule 5).
    fn read_content_length(&mut self, value: &[u8]) -> Result<(), ParseError> {
        for item in value.split(|&b| b == b',') {
            let digits = trim_ows(item);
            let length =
                parse_decimal(digits).ok_or(ParseError::Malformed("invalid Content-Length"))?;
            match self.content_length {
                Some(previous) if previous != length => {
                    return Err(ParseError::Malformed("conflicting Content-Length values"));
                }
                _ => self.content_length = Some(length),
            }
        }
        Ok(())
    }

    /// RFC 9112 §6.1: codings are listed in the order applied; chunked must be the last and
    /// must not appear twice.
    fn read_transfer_encoding(&mut self, value: &[u8]) -> Result<(), ParseError> {
        self.transfer_encoding = true;
        for item in value.split(|&b| b == b',') {
            let coding = trim_ows(item);
            if coding.is_empty() {
                continue; // RFC 9110 §5.6.1.2: empty list elements are ignored.
            }
            if self.chunked_last {
                return Err(ParseError::Malformed(
                    "chunked is not the final transfer coding",
                ));
            }
            if coding.eq_ignore_ascii_case(b"chunked") {
                self.chunked_last = true;
            } else {
                self.unknown_coding = true;
            }
        }
        Ok(())
    }

    /// Counts the cookies of one `Cookie` field as the cookie parser will find them:
    /// `;`-separated pieces that are not blank.
    fn count_cookies(&mut self, value: &[u8]) {
        self.cookies += value
            .split(|&b| b == b';')
            .filter(|piece| !trim_ows(piece).is_empty())
            .count();
    }

    fn read_connection(&mut self, value: &[u8]) {
        for item in value.split(|&b| b == b',') {
            let option = trim_ows(item);
            if option.eq_ignore_ascii_case(b"close") {
                self.close = true;
            } else if option.eq_ignore_ascii_case(b"keep-alive") {
                self.keep_alive = true;
            }
        }
    }

    fn read_expect(&mut self, value: &[u8]) -> Result<(), ParseError> {
        let value = trim_ows(value);
        if value.eq_ignore_ascii_case(b"100-continue") {
            self.expect_continue = true;
            Ok(())
        } else if value.is_empty() {
            Ok(())
        } else {
            Err(ParseError::UnsupportedExpectation)
        }
    }

    /// RFC 9112 §6.3: the rules that decide how long the body is, strictly, so that carafe and
    /// any proxy in front of it cannot disagree about where a request ends.
    fn body_kind(&self, version: Version) -> Result<BodyKind, ParseError> {
        if self.transfer_encoding {
            if version == Version::HTTP_10 {
                return Err(ParseError::Malformed(
                    "Transfer-Encoding in an HTTP/1.0 request",
                ));
            }
            if self.content_length.is_some() {
                return Err(ParseError::Malformed(
                    "both Content-Length and Transfer-Encoding",
                ));
            }
            if !self.chunked_last {
                return Err(ParseError::Malformed(
                    "chunked is not the final transfer coding",
                ));
            }
            if self.unknown_coding {
                return Err(ParseError::UnsupportedTransferCoding);
            }
            return Ok(BodyKind::Chunked);
        }
        Ok(match self.content_length {
            Some(0) | None => BodyKind::Empty,
            Some(length) => BodyKind::Length(length),
        })
    }
}

/// Whether header `name` is `lower` (lowercase letters and `-`), ignoring case. Setting bit
/// 0x20 lowercases a letter and keeps `-`; among the token characters httparse lets through
/// in a name, only letters map onto letters or `-` that way, so the comparison is exact, and
/// for a constant `lower` it compiles to a few word compares.
fn is_name<const N: usize>(name: &[u8], lower: &[u8; N]) -> bool {
    name.len() == N
        && name
            .iter()
            .zip(lower)
            .fold(true, |same, (a, b)| same & (a | 0x20 == *b))
}

/// The last Host value of 8 to 16 bytes that a worker found valid, as its length and its first
/// and last eight bytes (which, at those lengths, are all of it). Nearly every request to a
/// site names it the same way (`example.com`, `localhost:8080`), so comparing with the last
/// valid value (three comparisons) stands in for checking each byte again (≈ 60 instructions
/// per request); any other value is checked in full, and remembered if valid.
#[derive(Debug, Default)]
pub(crate) struct HostMemo {
    len: usize,
    first: u64,
    last: u64,
}

impl HostMemo {
    #[inline(always)]
    fn check(&mut self, value: &[u8]) -> Result<(), ParseError> {
        let len = value.len();
        if !(8..=16).contains(&len) {
            return check_host(value);
        }
        let (first, last) = (word_at(value, 0), word_at(value, len - 8));
        if (len, first, last) == (self.len, self.first, self.last) {
            return Ok(());
        }
        check_host(value)?;
        *self = Self { len, first, last };
        Ok(())
    }
}

/// The eight bytes of `bytes` at `at`, as a little-endian word.
#[inline(always)]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// RFC 9110 §7.2: `Host = uri-host [ ":" port ]`. Rejecting other bytes keeps odd values
/// (spaces, `/`, `@`) out of anything that later builds a URL from the header.
fn check_host(value: &[u8]) -> Result<(), ParseError> {
    if is_plain_host(value) || value.iter().all(|&b| HOST_BYTES[usize::from(b)]) {
        Ok(())
    } else {
        Err(ParseError::Malformed("invalid Host header"))
    }
}

/// Whether `value` holds only `a-z`, `0-9`, `-`, `.` and `:`, what nearly every Host is
/// (`localhost:8080`, `127.0.0.1:8080`, `example.com`): eight bytes at a time, with range
/// checks on the whole word (this runs on every request). False only says "look closer":
/// the table in [`check_host`] decides the rest.
#[inline]
fn is_plain_host(value: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = ONES * 0x80;
    // For bytes below 0x80, `b + (0x80 - lo)` has its high bit set exactly when b >= lo,
    // and no byte carries into the next: the byte is in `lo..=hi` when that holds for `lo`
    // and not for `hi + 1`.
    let within = |word: u64, lo: u8, hi: u8| {
        let at_least_lo = word.wrapping_add(ONES * u64::from(0x80 - lo));
        let above_hi = word.wrapping_add(ONES * u64::from(0x80 - (hi + 1)));
        at_least_lo & !above_hi & HIGHS
    };
    // The bytes of the set get their high bit; a byte with it set already carries (it is
    // refused before).
    let marks =
        |word: u64| within(word, b'-', b'.') | within(word, b'0', b':') | within(word, b'a', b'z');
    let len = value.len();
    // The first eight bytes and the last eight (overlapping when shorter than 16: a byte
    // looked at twice is still only in or out) cover most values without a loop. Shorter
    // than eight, one word padded with a byte that passes, filled byte by byte: a call to
    // `memcpy` would cost more than the check.
    let (first, last) = if len >= 8 {
        (word_at(value, 0), word_at(value, len - 8))
    } else {
        let word = value
            .iter()
            .enumerate()
            .fold(ONES * u64::from(b'a'), |word, (at, &b)| {
                let shift = 8 * at;
                word & !(0xff << shift) | u64::from(b) << shift
            });
        (word, word)
    };
    if (first | last) & HIGHS != 0 || marks(first) & marks(last) != HIGHS {
        return false;
    }
    len <= 16
        || (1..len / 8).all(|index| {
            let word = word_at(value, index * 8);
            word & HIGHS == 0 && marks(word) == HIGHS
        })
}

/// Bytes allowed in a Host value: unreserved, sub-delims, `:`, `[`, `]` and `%` (RFC 3986).
/// A table, because this runs on every request.
static HOST_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')'
            )
            || matches!(
                byte,
                b'*' | b'+' | b',' | b';' | b'=' | b':' | b'[' | b']' | b'%'
            );
        b += 1;
    }
    table
};

/// Parses `1*DIGIT` into a u64, refusing signs, spaces, empty input and overflow.
pub(crate) fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// Trims optional whitespace (SP and HTAB, RFC 9110 §5.6.3) from both ends.
fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HeadLimits = HeadLimits {
        max_head: 16 * 1024,
        max_headers: 100,
        max_target: 8 * 1024,
        max_query_params: 1000,
        max_cookies: 200,
    };

    /// What a test needs from a parsed head, owned so it can outlive the buffer.
    #[derive(Debug, PartialEq)]
    struct Parsed {
        method: Method,
        path: String,
        query: Option<String>,
        version: Version,
        body: BodyKind,
        keep_alive: bool,
        expect_continue: bool,
        len: usize,
    }

    /// Parses `input` as a connection does: whole if it can, else followed as a partial head
    /// (whose limit checks then apply).
    fn parse_with(input: &[u8], limits: &HeadLimits) -> Result<Option<Parsed>, ParseError> {
        let mut storage = header_storage();
        let parsed = parse_head(input, &mut storage, limits, &mut HostMemo::default())?;
        if parsed.is_none() {
            assert!(!PartialHead::default().advance(input, limits)?);
        }
        Ok(parsed.map(|head| Parsed {
            method: head.method,
            path: head.path.to_owned(),
            query: head.query.map(str::to_owned),
            version: head.version,
            body: head.body,
            keep_alive: head.keep_alive,
            expect_continue: head.expect_continue,
            len: head.len,
        }))
    }

    fn parse(input: &str) -> Result<Option<Parsed>, ParseError> {
        parse_with(input.as_bytes(), &LIMITS)
    }

    fn complete(input: &str) -> Parsed {
        match parse(input) {
            Ok(Some(parsed)) => parsed,
            other => panic!("expected a complete head for {input:?}, got {other:?}"),
        }
    }

    fn malformed(input: &str) -> ParseError {
        match parse(input) {
            Err(error) => error,
            other => panic!("expected an error for {input:?}, got {other:?}"),
        }
    }

    #[test]
    fn a_bad_byte_anywhere_in_a_host_of_any_length_is_refused() {
        // The word-at-a-time fast path must look at every byte, whatever the length.
        for len in 1..=40 {
            let good = vec![b'a'; len];
            assert!(check_host(&good).is_ok(), "len {len}");
            for at in 0..len {
                let mut bad = good.clone();
                bad[at] = b'/';
                assert!(check_host(&bad).is_err(), "len {len}, bad byte at {at}");
            }
        }
    }

    #[test]
    fn the_host_memo_passes_only_the_value_it_remembers() {
        // Right after a valid value of the same length is remembered, a value that differs
        // from it in any one byte is checked in full: refused when that byte is bad, passed
        // (and remembered instead) when it is good.
        let mut hosts = HostMemo::default();
        for len in 1..=40 {
            let good = vec![b'a'; len];
            for at in 0..len {
                assert!(hosts.check(&good).is_ok(), "len {len}");
                assert!(hosts.check(&good).is_ok(), "len {len}, remembered");
                let mut bad = good.clone();
                bad[at] = b'/';
                assert!(hosts.check(&bad).is_err(), "len {len}, bad byte at {at}");
                let mut other = good.clone();
                other[at] = b'b';
                assert!(hosts.check(&other).is_ok(), "len {len}, good byte at {at}");
                assert!(
                    hosts.check(&bad).is_err(),
                    "len {len}, bad byte at {at}, again"
                );
            }
        }
        // Through the parser, as a worker's connections use it.
        let mut storage = header_storage();
        let good = b"GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";
        let bad = b"GET / HTTP/1.1\r\nHost: localhost/8080\r\n\r\n";
        assert!(matches!(
            parse_head(good, &mut storage, &LIMITS, &mut hosts),
            Ok(Some(_))
        ));
        assert!(parse_head(bad, &mut storage, &LIMITS, &mut hosts).is_err());
        assert!(matches!(
            parse_head(good, &mut storage, &LIMITS, &mut hosts),
            Ok(Some(_))
        ));
    }

    #[test]
    fn only_the_named_fields_are_read_as_cookie_or_connection() {
        // Fields of the same length as Cookie and Connection are dispatched by length first.
        let limits = HeadLimits {
            max_cookies: 2,
            ..LIMITS
        };
        let head = "GET / HTTP/1.1\r\nHost: x\r\nX-Nums: a=1; b=2; c=3\r\n\r\n";
        assert!(parse_with(head.as_bytes(), &limits).is_ok_and(|head| head.is_some()));
        let head = complete("GET / HTTP/1.1\r\nHost: x\r\nX-Whatever: close\r\n\r\n");
        assert!(head.keep_alive, "X-Whatever is not Connection");
    }

    #[test]
    fn query_pairs_and_cookies_are_allowed_up_to_their_limits_exactly() {
        let limits = HeadLimits {
            max_query_params: 3,
            max_cookies: 2,
            ..LIMITS
        };
        let query = |pairs: &str| format!("GET /?{pairs} HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(parse_with(query("a&b&&c").as_bytes(), &limits).is_ok_and(|head| head.is_some()));
        assert!(matches!(
            parse_with(query("a&b&c&d").as_bytes(), &limits),
            Err(ParseError::TooManyQueryParams(3))
        ));
        assert!(matches!(
            parse_with(query("a&b&c&d&e&f").as_bytes(), &limits),
            Err(ParseError::TooManyQueryParams(3))
        ));
        let cookies = |pairs: &str| format!("GET / HTTP/1.1\r\nHost: x\r\nCookie: {pairs}\r\n\r\n");
        assert!(
            parse_with(cookies("a=1; b=2").as_bytes(), &limits).is_ok_and(|head| head.is_some())
        );
        assert!(matches!(
            parse_with(cookies("a=1; b=2; c=3").as_bytes(), &limits),
            Err(ParseError::TooManyCookies(2))
        ));
    }

    #[test]
    fn parses_a_simple_get() {
        let input = "GET /blog?page=2 HTTP/1.1\r\nHost: x\r\n\r\n";
        let head = complete(input);
        assert_eq!(head.method, Method::GET);
        assert_eq!(head.path, "/blog");
        assert_eq!(head.query.as_deref(), Some("page=2"));
        assert_eq!(head.version, Version::HTTP_11);
        assert_eq!(head.body, BodyKind::Empty);
        assert!(head.keep_alive);
        assert_eq!(head.len, input.len());
    }

    #[test]
    fn every_strict_prefix_is_incomplete() {
        let input = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
        let head_len = input.find("\r\n\r\n").unwrap() + 4;
        for end in 0..head_len {
            assert_eq!(parse(&input[..end]), Ok(None), "prefix of {end} bytes");
        }
        assert_eq!(complete(input).len, head_len);
    }

    #[test]
    fn keep_alive_follows_version_and_connection() {
        let cases = [
            ("GET / HTTP/1.1\r\nHost: x\r\n\r\n", true),
            (
                "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                false,
            ),
            (
                "GET / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, CLOSE\r\n\r\n",
                false,
            ),
            ("GET / HTTP/1.0\r\n\r\n", false),
            ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
            (
                "GET / HTTP/1.0\r\nConnection: upgrade, Keep-Alive\r\n\r\n",
                true,
            ),
        ];
        for (input, keep_alive) in cases {
            assert_eq!(complete(input).keep_alive, keep_alive, "{input:?}");
        }
    }

    #[test]
    fn body_framing_follows_rfc_9112() {
        let cases = [
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n",
                BodyKind::Length(12),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                BodyKind::Empty,
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 7, 7\r\n\r\n",
                BodyKind::Length(7),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n",
                BodyKind::Length(7),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                BodyKind::Chunked,
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n",
                BodyKind::Chunked,
            ),
            (
                "POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n",
                BodyKind::Length(3),
            ),
            ("POST / HTTP/1.1\r\nHost: x\r\n\r\n", BodyKind::Empty),
        ];
        for (input, body) in cases {
            assert_eq!(complete(input).body, body, "{input:?}");
        }
    }

    #[test]
    fn smuggling_vectors_are_rejected() {
        let bad_request = [
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 0\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n",
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: evil/path\r\n\r\n",
            "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX-Nul: a\0b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX-Cr: a\rb\r\n\r\n",
            "G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET nopath HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET / FOO/1.1\r\nHost: x\r\n\r\n",
        ];
        for input in bad_request {
            assert_eq!(malformed(input).status(), 400, "{input:?}");
        }
        let not_implemented =
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
        assert_eq!(
            malformed(not_implemented),
            ParseError::UnsupportedTransferCoding
        );
        let expectation = "POST / HTTP/1.1\r\nHost: x\r\nExpect: the-unexpected\r\n\r\n";
        assert_eq!(malformed(expectation), ParseError::UnsupportedExpectation);
        assert_eq!(
            malformed("GET / HTTP/2.0\r\nHost: x\r\n\r\n"),
            ParseError::UnsupportedVersion
        );
    }

    #[test]
    fn expect_continue_only_on_http_11() {
        let input =
            "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n";
        assert!(complete(input).expect_continue);
        let input = "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
        assert!(!complete(input).expect_continue);
    }

    #[test]
    fn target_forms() {
        let head = complete("GET http://example.com/a/b?c=d HTTP/1.1\r\nHost: example.com\r\n\r\n");
        assert_eq!(
            (head.path.as_str(), head.query.as_deref()),
            ("/a/b", Some("c=d"))
        );
        let head = complete("GET HTTP://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
        assert_eq!(head.path, "/");
        // Issue 11, defect 4: the authority ends at `?` too, so this is `/` with a query, not
        // the path `/static/style.css` (which a front end filtering on the path would miss).
        let head = complete("GET http://x?/static/style.css HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            (head.path.as_str(), head.query.as_deref()),
            ("/", Some("/static/style.css"))
        );
        let head = complete("GET http://x#/static/style.css HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!((head.path.as_str(), head.query.as_deref()), ("/", None));
        let head = complete("GET http://x:80/a?b=/c HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            (head.path.as_str(), head.query.as_deref()),
            ("/a", Some("b=/c"))
        );
        let head = complete("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(head.path, "*");
        assert_eq!(malformed("GET * HTTP/1.1\r\nHost: x\r\n\r\n").status(), 400);
    }

    #[test]
    fn limits_give_431_and_414() {
        let limits = HeadLimits {
            max_head: 64,
            max_headers: 2,
            max_target: 16,
            ..LIMITS
        };
        let many = "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n";
        assert_eq!(
            parse_with(many.as_bytes(), &limits),
            Err(ParseError::TooManyHeaders(2))
        );
        let long_target = "GET /aaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(
            parse_with(long_target.as_bytes(), &limits),
            Err(ParseError::UriTooLong(16))
        );
        let unfinished_line = format!("GET /{}", "a".repeat(100));
        assert_eq!(
            parse_with(unfinished_line.as_bytes(), &limits),
            Err(ParseError::UriTooLong(16))
        );
        let big = format!("GET / HTTP/1.1\r\nHost: x\r\nA: {}\r\n", "a".repeat(60));
        assert_eq!(
            parse_with(big.as_bytes(), &limits),
            Err(ParseError::HeadTooLarge(64))
        );
        let big_complete = format!("GET / HTTP/1.1\r\nHost: x\r\nA: {}\r\n\r\n", "a".repeat(40));
        assert_eq!(
            parse_with(big_complete.as_bytes(), &limits),
            Err(ParseError::HeadTooLarge(64))
        );
    }

    #[test]
    fn a_long_method_does_not_make_an_unfinished_line_414() {
        // The unfinished-line check used to measure the whole line against the target limit
        // plus 64 bytes, so a long extension method with a short target was refused with 414
        // when the line arrived in pieces but answered when it arrived whole.
        let limits = HeadLimits {
            max_head: 1024,
            max_headers: 8,
            max_target: 16,
            ..LIMITS
        };
        let input = format!("{} /a HTTP/1.1\r\nHost: x\r\n\r\n", "M".repeat(100));
        assert!(matches!(parse_with(input.as_bytes(), &limits), Ok(Some(_))));
        for end in 0..input.len() {
            assert_eq!(
                parse_with(&input.as_bytes()[..end], &limits),
                Ok(None),
                "prefix of {end} bytes"
            );
        }
        let long_target = format!("{} /{}", "M".repeat(100), "a".repeat(16));
        assert_eq!(
            parse_with(long_target.as_bytes(), &limits),
            Err(ParseError::UriTooLong(16))
        );
    }

    #[test]
    fn leading_empty_lines_are_ignored() {
        // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line.
        assert_eq!(complete("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n").path, "/");
    }

    #[test]
    fn a_head_is_had_again_from_its_offsets() {
        let input =
            "POST http://x/a/b?c=d HTTP/1.1\r\nHost: x\r\nX-Two: 2\r\nContent-Length: 3\r\n\r\nabc";
        let mut storage = header_storage();
        let head = parse_head(
            input.as_bytes(),
            &mut storage,
            &LIMITS,
            &mut HostMemo::default(),
        )
        .unwrap()
        .unwrap();
        let offsets = HeadOffsets::of(&head);
        // The bytes moved (a buffer that grew): the head is the same.
        let moved = input.as_bytes().to_vec();
        let mut fields = Vec::new();
        let again = offsets.head(&moved, &mut fields);
        assert_eq!(again.raw, head.raw);
        assert_eq!((again.method, again.target), (head.method, head.target));
        assert_eq!((again.path, again.query), ("/a/b", Some("c=d")));
        assert_eq!(
            (again.version, again.len, again.body),
            (head.version, head.len, head.body)
        );
        let names: Vec<(&str, &[u8])> = again.headers.iter().map(|h| (h.name, h.value)).collect();
        assert_eq!(
            names,
            [
                ("Host", &b"x"[..]),
                ("X-Two", b"2"),
                ("Content-Length", b"3")
            ]
        );
        assert_eq!(again.len, input.find("abc").unwrap());
    }

    #[test]
    fn the_quick_host_check_passes_only_what_the_table_passes() {
        // Every byte value at every position of a word and of a tail: the quick check never
        // lets through a byte the table refuses, and passes all of its own set.
        let plain = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.:".contains(&b);
        for len in [1, 5, 8, 13, 16] {
            for at in 0..len {
                for byte in 0..=255u8 {
                    let mut value = vec![b'x'; len];
                    value[at] = byte;
                    assert_eq!(
                        is_plain_host(&value),
                        plain(byte),
                        "{byte:#04x} at {at} of {len}"
                    );
                    assert_eq!(
                        check_host(&value).is_ok(),
                        HOST_BYTES[usize::from(byte)],
                        "{byte:#04x} at {at} of {len}"
                    );
                }
            }
        }
        assert!(is_plain_host(b""));
        assert!(check_host(b"Example.COM:8080").is_ok(), "by the table");
        assert!(check_host(b"[::1]:80").is_ok());
        assert!(check_host(b"a b").is_err());
    }

    #[test]
    fn the_word_search_finds_the_first_question_mark_as_a_scan_does() {
        // Every length up to three words and a tail, a `?` (or two) at every place, among
        // bytes that differ from `?` by one bit and bytes above 0x7f (a borrow's edge cases).
        for len in 0..30 {
            for filler in [b'a', b'>', b'\x3e', b'\xbf', b'\x7f', 0] {
                let plain = vec![filler; len];
                assert_eq!(find_question_mark(&plain), None, "{len} {filler}");
                for at in 0..len {
                    for second in at..len {
                        let mut bytes = plain.clone();
                        bytes[second] = b'?';
                        bytes[at] = b'?';
                        let expected = bytes.iter().position(|&b| b == b'?');
                        assert_eq!(find_question_mark(&bytes), expected, "{bytes:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn decimal_parsing() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"1a"), None);
    }
}
