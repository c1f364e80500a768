//! The generators of the property tests: HTTP fragments, whole valid requests and pipelines,
//! mutations of them, limits to straddle, split points, and responses a handler might build.

use std::fmt;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::string::string_regex;

use super::model::{Limits, echo};

/// The defaults half the time, else small limits that generated requests straddle.
pub(super) fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(Limits::defaults()),
        (64usize..2048, 1usize..16, 1usize..96, 0u64..4096).prop_map(
            |(max_head, max_headers, max_target, max_body)| Limits {
                max_head,
                max_headers,
                max_target,
                max_body,
            }
        ),
    ]
}

/// Turns split choices into sorted offsets into an input of `len` bytes.
pub(super) fn offsets(choices: &[Index], len: usize) -> Vec<usize> {
    let mut offsets: Vec<usize> = choices.iter().map(|index| index.index(len + 1)).collect();
    offsets.sort_unstable();
    offsets
}

pub(super) fn split_choices() -> impl Strategy<Value = Vec<Index>> {
    vec(any::<Index>(), 0..6)
}

/// Bytes that print as an escaped string, so that a failing case reads like the request it is.
#[derive(Clone, Default, PartialEq, Eq)]
pub(super) struct Wire(pub(super) Vec<u8>);

impl fmt::Debug for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\" ({} bytes)", self.0.escape_ascii(), self.0.len())
    }
}

impl std::ops::Deref for Wire {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// `tchar` of RFC 9110 §5.6.2, the alphabet of methods and field names.
pub(super) const TCHAR: &str = "[!#$%&'*+.^_`|~0-9A-Za-z-]";

pub(super) fn token(min: usize, max: usize) -> impl Strategy<Value = String> {
    string_regex(&format!("{TCHAR}{{{min},{max}}}")).expect("a valid regex")
}

pub(super) const STANDARD_METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "QUERY",
];

/// Standard methods, extension tokens, and now and then a long extension token, since the
/// request line's length limits are checked around the target.
pub(super) fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => select(&STANDARD_METHODS[..]).prop_map(str::to_owned),
        3 => token(1, 12),
        1 => token(40, 100),
    ]
}

/// An origin-form target (RFC 9112 §3.2.1): `/` segments of pchars and percent-escapes, and
/// an optional query.
pub(super) fn origin_form_target() -> impl Strategy<Value = String> {
    let pchar = "[A-Za-z0-9._~!$&'()*+,;=:@-]";
    let escape = "%[0-9A-Fa-f]{2}";
    let segment = string_regex(&format!("({pchar}|{escape}){{0,8}}")).expect("a valid regex");
    let query = string_regex(&format!("({pchar}|[/?]|{escape}){{0,16}}")).expect("a valid regex");
    (vec(segment, 1..4), option::of(query)).prop_map(|(segments, query)| {
        let mut target = format!("/{}", segments.join("/"));
        if let Some(query) = query {
            target.push('?');
            target.push_str(&query);
        }
        target
    })
}

/// A field value (RFC 9110 §5.5): visible ASCII and obs-text, with spaces and tabs inside but
/// not at either end (those are optional whitespace around the value, not part of it).
pub(super) fn field_value(max: usize) -> BoxedStrategy<Vec<u8>> {
    if max > 64 {
        // Long values come from noise: a value tree per byte would make generation slow.
        return (any::<u64>(), 0..=max)
            .prop_map(|(seed, len)| {
                let value: Vec<u8> = noise(seed, len).into_iter().map(field_byte).collect();
                trim_ows(&value).to_vec()
            })
            .boxed();
    }
    vec(any::<u8>().prop_map(field_byte), 0..=max)
        .prop_map(|value| trim_ows(&value).to_vec())
        .boxed()
}

/// Maps any byte onto the bytes of a field value: mostly visible ASCII, some obs-text, SP
/// and HTAB.
pub(super) fn field_byte(byte: u8) -> u8 {
    match byte {
        0x00..=0x0f => b' ',
        0x10..=0x17 => b'\t',
        0x18..=0x1f | 0x7f => b'~',
        0x80..=0xbf => byte - 0x60,
        _ => byte,
    }
}

pub(super) fn trim_ows(value: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !is_ows(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    &value[start..end]
}

/// Names whose fields decide framing or persistence; property 2 adds them on purpose.
pub(super) const FRAMING_NAMES: [&str; 5] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "expect",
];

pub(super) fn header_field(max_value: usize) -> impl Strategy<Value = (String, Vec<u8>)> {
    (
        token(1, 16).prop_filter("a framing field", |name| {
            !FRAMING_NAMES.iter().any(|f| f.eq_ignore_ascii_case(name))
        }),
        field_value(max_value),
    )
}

/// `Host`: reg-name or IPv4 characters and an optional port.
pub(super) fn host_value() -> impl Strategy<Value = Vec<u8>> {
    string_regex("[A-Za-z0-9.-]{1,16}(:[0-9]{1,5})?")
        .expect("a valid regex")
        .prop_map(String::into_bytes)
}

/// `len` bytes from a small xorshift generator: long bodies without a value tree per byte.
pub(super) fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// Mostly small bodies, sometimes ones larger than the 8 KiB read buffer.
pub(super) fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => vec(any::<u8>(), 0..48),
        1 => (any::<u64>(), 0usize..24_000).prop_map(|(seed, len)| noise(seed, len)),
    ]
}

/// How one chunk-size line is written.
#[derive(Debug, Clone)]
pub(super) struct ChunkStyle {
    pub(super) uppercase: bool,
    pub(super) leading_zeros: usize,
    pub(super) extension: String,
}

pub(super) fn chunk_style() -> impl Strategy<Value = ChunkStyle> {
    let extension = prop_oneof![
        3 => Just(String::new()),
        1 => (
            "[ \t]{0,2}",
            token(1, 8),
            option::of(prop_oneof![token(1, 8), "\"[A-Za-z0-9 ]{0,8}\""]),
        )
            .prop_map(|(space, name, value)| match value {
                Some(value) => format!("{space};{name}={value}"),
                None => format!("{space};{name}"),
            }),
    ];
    (any::<bool>(), 0usize..3, extension).prop_map(|(uppercase, leading_zeros, extension)| {
        ChunkStyle {
            uppercase,
            leading_zeros,
            extension,
        }
    })
}

/// Trailer fields: usually a few short ones, sometimes enough long ones to straddle the
/// trailer section cap.
pub(super) fn trailers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    prop_oneof![
        6 => vec(header_field(24), 0..3),
        1 => vec(header_field(1100), 8..=32),
    ]
}

/// How a request's body is framed.
#[derive(Debug, Clone)]
pub(super) enum Framing {
    /// No body and no framing header.
    Bare,
    /// `Content-Length`, written as `n`, `n, n` or with leading zeros.
    Length { style: u8 },
    /// `Transfer-Encoding` with this value, then the body chunked.
    Chunked(&'static str, Chunking),
}

pub(super) fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![
        1 => Just(Framing::Bare),
        3 => (0u8..3).prop_map(|style| Framing::Length { style }),
        3 => (
            select(&["chunked", "Chunked", "CHUNKED", "chunked, ", " ,chunked"][..]),
            chunking(),
        )
            .prop_map(|(te_value, chunking)| Framing::Chunked(te_value, chunking)),
    ]
}

/// How a body is chunked: cut at `cuts`, each size line in its style, then the last chunk
/// and the trailers.
#[derive(Debug, Clone)]
pub(super) struct Chunking {
    pub(super) cuts: Vec<Index>,
    pub(super) styles: Vec<ChunkStyle>,
    pub(super) last: ChunkStyle,
    pub(super) trailers: Vec<(String, Vec<u8>)>,
}

pub(super) fn chunking() -> impl Strategy<Value = Chunking> {
    (
        vec(any::<Index>(), 0..6),
        vec(chunk_style(), 0..6),
        chunk_style(),
        trailers(),
    )
        .prop_map(|(cuts, styles, last, trailers)| Chunking {
            cuts,
            styles,
            last,
            trailers,
        })
}

impl Chunking {
    /// Writes `body` chunked; returns the bytes and the length of the trailer section.
    pub(super) fn write(&self, body: &[u8]) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let mut ends: Vec<usize> = self.cuts.iter().map(|i| i.index(body.len() + 1)).collect();
        ends.push(body.len());
        ends.sort_unstable();
        ends.dedup();
        let mut start = 0;
        for (i, &end) in ends.iter().enumerate() {
            if end == start {
                continue;
            }
            let style = self.styles.get(i).unwrap_or(&self.last);
            write_chunk_size(&mut out, end - start, style);
            out.extend_from_slice(&body[start..end]);
            out.extend_from_slice(b"\r\n");
            start = end;
        }
        write_chunk_size(&mut out, 0, &self.last);
        let before_trailers = out.len();
        for (name, value) in &self.trailers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        let trailer_section = out.len() - before_trailers;
        (out, trailer_section)
    }
}

/// What property 2 generates for one request before it is written out.
#[derive(Debug, Clone)]
pub(super) struct RequestParts {
    pub(super) method: String,
    pub(super) target: String,
    pub(super) http10: bool,
    pub(super) host: Option<Vec<u8>>,
    pub(super) fields: Vec<(String, Vec<u8>)>,
    pub(super) separators: Vec<&'static str>,
    pub(super) body: Vec<u8>,
    pub(super) framing: Framing,
    pub(super) order: Vec<Index>,
}

pub(super) fn request_parts() -> impl Strategy<Value = RequestParts> {
    (
        (method(), origin_form_target(), prop::bool::weighted(0.2)),
        option::of(host_value()),
        vec(header_field(32), 0..6),
        vec(select(&[": ", ":", ":\t", ":  ", ": \t"][..]), 1..4),
        body(),
        framing(),
        vec(any::<Index>(), 0..12),
    )
        .prop_map(
            |((method, target, http10), host, fields, separators, body, framing, order)| {
                RequestParts {
                    method,
                    target,
                    http10,
                    host,
                    fields,
                    separators,
                    body,
                    framing,
                    order,
                }
            },
        )
}

/// A request as written on the wire, with what the handler must see of it.
#[derive(Clone)]
pub(super) struct GeneratedRequest {
    pub(super) method: String,
    pub(super) target: String,
    /// Every header field in the order sent, framing fields included.
    pub(super) headers: Vec<(String, Vec<u8>)>,
    pub(super) body: Vec<u8>,
    /// Request line and header section, blank line included.
    pub(super) head: Vec<u8>,
    /// The body as framed on the wire.
    pub(super) framed_body: Vec<u8>,
    /// Bytes of the trailer section (fields and the final CRLF); 0 unless chunked.
    pub(super) trailer_section: usize,
    /// Trailer fields; 0 unless chunked.
    pub(super) trailer_fields: usize,
    /// The connection closes after this request (`Connection: close`, or HTTP/1.0 without
    /// keep-alive).
    pub(super) closes: bool,
}

impl GeneratedRequest {
    /// Writes `parts` out; `closes` asks for the connection to end after it.
    pub(super) fn new(parts: RequestParts, closes: bool) -> Self {
        let chunked = matches!(parts.framing, Framing::Chunked(..));
        // Transfer-Encoding is not allowed in HTTP/1.0.
        let http10 = parts.http10 && !chunked;
        let mut headers = parts.fields;
        if !http10 {
            headers.push(("Host".into(), parts.host.unwrap_or_else(|| b"x".to_vec())));
        } else if let Some(host) = parts.host {
            headers.push(("Host".into(), host));
        }
        let body = parts.body;
        let mut framed_body = Vec::new();
        let mut trailer_section = 0;
        let mut trailer_fields = 0;
        match parts.framing {
            Framing::Bare if body.is_empty() => {}
            Framing::Bare | Framing::Length { style: 0 } => {
                headers.push(("Content-Length".into(), body.len().to_string().into()));
            }
            Framing::Length { style: 1 } => {
                let value = format!("{0}, {0}", body.len());
                headers.push(("Content-Length".into(), value.into()));
            }
            Framing::Length { .. } => {
                headers.push(("content-length".into(), format!("00{}", body.len()).into()));
            }
            Framing::Chunked(te_value, chunking) => {
                headers.push((
                    "Transfer-Encoding".into(),
                    trim_ows(te_value.as_bytes()).into(),
                ));
                (framed_body, trailer_section) = chunking.write(&body);
                trailer_fields = chunking.trailers.len();
            }
        }
        if closes && !http10 {
            headers.push(("Connection".into(), b"close".to_vec()));
        } else if !closes && http10 {
            headers.push(("Connection".into(), b"keep-alive".to_vec()));
        }
        if framed_body.is_empty() {
            framed_body.clone_from(&body);
        }
        shuffle(&mut headers, &parts.order);
        let version = if http10 { "HTTP/1.0" } else { "HTTP/1.1" };
        let mut head = format!("{} {} {version}\r\n", parts.method, parts.target).into_bytes();
        for (i, (name, value)) in headers.iter().enumerate() {
            head.extend_from_slice(name.as_bytes());
            head.extend_from_slice(parts.separators[i % parts.separators.len()].as_bytes());
            head.extend_from_slice(value);
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        Self {
            method: parts.method,
            target: parts.target,
            headers,
            body,
            head,
            framed_body,
            trailer_section,
            trailer_fields,
            closes,
        }
    }

    pub(super) fn is_head(&self) -> bool {
        self.method == "HEAD"
    }

    /// Whether the request is within `limits`, so that carafe must answer it.
    pub(super) fn fits(&self, limits: &Limits) -> bool {
        self.head.len() <= limits.max_head
            && self.headers.len() <= limits.max_headers
            && self.target.len() <= limits.max_target
            && self.body.len() as u64 <= limits.max_body
            // The trailer section has the header section's limits.
            && self.trailer_section <= limits.max_head
            && self.trailer_fields <= limits.max_headers
    }

    /// What the echo handler answers for this request.
    pub(super) fn echo(&self) -> Vec<u8> {
        echo(
            &self.method,
            &self.target,
            self.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())),
            &self.body,
        )
    }
}

impl fmt::Debug for GeneratedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedRequest")
            .field("head", &Wire(self.head.clone()))
            .field("framed_body", &Wire(self.framed_body.clone()))
            .field("body_len", &self.body.len())
            .field("trailer_section", &self.trailer_section)
            .field("closes", &self.closes)
            .finish_non_exhaustive()
    }
}

pub(super) fn write_chunk_size(out: &mut Vec<u8>, size: usize, style: &ChunkStyle) {
    out.extend(std::iter::repeat_n(b'0', style.leading_zeros));
    let digits = if style.uppercase {
        format!("{size:X}")
    } else {
        format!("{size:x}")
    };
    out.extend_from_slice(digits.as_bytes());
    out.extend_from_slice(style.extension.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A Fisher–Yates shuffle driven by generated indices, so it shrinks with them.
pub(super) fn shuffle<T>(items: &mut [T], order: &[Index]) {
    if order.is_empty() {
        return;
    }
    for i in (1..items.len()).rev() {
        let j = order[i % order.len()].index(i + 1);
        items.swap(i, j);
    }
}

/// Several requests sent back to back; the last may close the connection.
#[derive(Debug, Clone)]
pub(super) struct Pipeline {
    pub(super) requests: Vec<GeneratedRequest>,
}

impl Pipeline {
    pub(super) fn wire(&self) -> Vec<u8> {
        let mut wire = Vec::new();
        for request in &self.requests {
            wire.extend_from_slice(&request.head);
            wire.extend_from_slice(&request.framed_body);
        }
        wire
    }
}

pub(super) fn pipeline() -> impl Strategy<Value = Pipeline> {
    (vec(request_parts(), 1..5), any::<bool>()).prop_map(|(parts, last_closes)| {
        let count = parts.len();
        let requests = parts
            .into_iter()
            .enumerate()
            .map(|(i, parts)| GeneratedRequest::new(parts, last_closes && i + 1 == count))
            .collect();
        Pipeline { requests }
    })
}

/// Bytes built from HTTP fragments and noise, to reach deep parser states.
pub(super) fn http_ish_bytes() -> impl Strategy<Value = Wire> {
    let request_line = (
        prop_oneof![3 => method(), 1 => "[ -~]{0,6}"],
        prop_oneof![3 => origin_form_target(), 1 => "[ -~]{0,12}", 1 => Just("*".to_owned())],
        select(
            &[
                " HTTP/1.1",
                " HTTP/1.0",
                " HTTP/2.0",
                " HTTP/1.1 ",
                "",
                " FOO/1.1",
            ][..],
        ),
        select(&["\r\n", "\n", ""][..]),
    )
        .prop_map(|(method, target, version, end)| {
            format!("{method} {target}{version}{end}").into_bytes()
        });
    let framing_line = (
        select(
            &[
                "Host: x",
                "Host: a b",
                "Transfer-Encoding: chunked",
                "Transfer-Encoding: gzip, chunked",
                "Transfer-Encoding: chunked, gzip",
                "Connection: close",
                "Connection: keep-alive",
                "Expect: 100-continue",
                "Expect: nothing",
                "Content-Length: ",
                "Content-Length: 1, 2",
            ][..],
        ),
        prop_oneof![Just(String::new()), (0u32..300).prop_map(|n| n.to_string())],
        select(&["\r\n", "\n", "\r\n\r\n"][..]),
    )
        .prop_map(|(line, number, end)| format!("{line}{number}{end}").into_bytes());
    let header_line = (header_field(24), select(&["\r\n", "\n", ""][..]))
        .prop_map(|((name, value), end)| [name.as_bytes(), b": ", &value, end.as_bytes()].concat());
    let fragment = prop_oneof![
        4 => vec(any::<u8>(), 0..12),
        3 => request_line,
        4 => framing_line,
        2 => header_line,
        3 => select(&["\r\n", "\n", "\r", "\r\n\r\n", " ", ":"][..]).prop_map(|s| s.as_bytes().to_vec()),
        3 => chunk_ish_fragment(),
        1 => long_run(),
        2 => pipeline().prop_map(|pipeline| pipeline.wire()),
        2 => mutated(pipeline().prop_map(|pipeline| pipeline.wire())),
    ];
    vec(fragment, 0..16).prop_map(|fragments| Wire(fragments.concat()))
}

/// Chunk-size lines, chunk data, trailers and CRLFs.
pub(super) fn chunk_ish_fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => ((0usize..300), chunk_style(), select(&["\r\n", "\n", "\r", ""][..])).prop_map(
            |(size, style, end)| {
                let mut line = Vec::new();
                write_chunk_size(&mut line, size, &style);
                line.truncate(line.len() - 2);
                line.extend_from_slice(end.as_bytes());
                line
            }
        ),
        2 => vec(any::<u8>(), 0..32),
        1 => (any::<u64>(), 0usize..600).prop_map(|(seed, len)| noise(seed, len)),
        2 => header_field(24).prop_map(|(name, value)| [name.as_bytes(), b": ", &value, b"\r\n"].concat()),
        2 => select(&["\r\n", "0\r\n\r\n", "0\r\n", "\r\n\r\n", ";", "\n", "\r"][..]).prop_map(|s| s.as_bytes().to_vec()),
        1 => long_run(),
    ]
}

/// One byte repeated, long enough to cross buffer sizes and limits.
pub(super) fn long_run() -> impl Strategy<Value = Vec<u8>> {
    (select(&b"a 0f;:\r\n\t"[..]), 0usize..20_000).prop_map(|(byte, len)| vec![byte; len])
}

/// Chunked bodies: fragments, or a valid body with a few bytes mutated and perhaps cut short.
pub(super) fn chunk_ish_bytes() -> impl Strategy<Value = Wire> {
    prop_oneof![
        vec(chunk_ish_fragment(), 0..16).prop_map(|fragments| Wire(fragments.concat())),
        mutated((body(), chunking()).prop_map(|(body, chunking)| chunking.write(&body).0))
            .prop_map(Wire),
    ]
}

/// Bytes that break framing when they land in the wrong place.
pub(super) const MUTATION_BYTES: &[u8] = b"\r\n \t;:0fx\x00\xff";

/// Valid input with up to three bytes overwritten and, half the time, cut short: close to
/// valid, so it reaches deep states and then breaks there.
pub(super) fn mutated(valid: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (
        valid,
        vec((any::<Index>(), select(MUTATION_BYTES)), 0..3),
        option::of(any::<Index>()),
    )
        .prop_map(|(mut bytes, mutations, end)| {
            if !bytes.is_empty() {
                for (at, byte) in mutations {
                    let at = at.index(bytes.len());
                    bytes[at] = byte;
                }
            }
            if let Some(end) = end {
                bytes.truncate(end.index(bytes.len() + 1));
            }
            bytes
        })
}

/// A header change a handler makes.
#[derive(Debug, Clone)]
pub(super) enum HeaderOp {
    Set(String, String),
    Append(String, String),
}

/// Names carafe treats specially, in any case, and ordinary tokens.
pub(super) fn response_header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => token(1, 16),
        1 => select(
            &[
                "content-type",
                "Content-Type",
                "server",
                "date",
                "content-length",
                "Transfer-Encoding",
                "connection",
                "set-cookie",
                "location",
            ][..]
        )
        .prop_map(str::to_owned),
    ]
}

/// A value `HeaderValue` accepts: HTAB, SP, visible ASCII and non-ASCII text.
pub(super) fn response_header_value() -> impl Strategy<Value = String> {
    string_regex("[\t -~\u{80}-\u{7ff}]{0,24}").expect("a valid regex")
}

pub(super) fn header_op() -> impl Strategy<Value = HeaderOp> {
    (
        any::<bool>(),
        response_header_name(),
        response_header_value(),
    )
        .prop_map(|(append, name, value)| {
            if append {
                HeaderOp::Append(name, value)
            } else {
                HeaderOp::Set(name, value)
            }
        })
}

#[derive(Debug, Clone)]
pub(super) struct GeneratedResponse {
    pub(super) status: u16,
    /// 0: `Response::new`, 1: `text`, 2: `html`, 3: `bytes`.
    pub(super) constructor: u8,
    pub(super) ops: Vec<HeaderOp>,
    pub(super) body: Wire,
    pub(super) head_only: bool,
    pub(super) http10: bool,
    pub(super) keep_alive: bool,
}

pub(super) fn generated_response() -> impl Strategy<Value = GeneratedResponse> {
    (
        100u16..1000,
        0u8..4,
        vec(header_op(), 0..8),
        body(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(status, constructor, ops, body, head_only, http10, keep_alive)| GeneratedResponse {
                status,
                constructor,
                ops,
                body: Wire(body),
                head_only,
                http10,
                keep_alive,
            },
        )
}
