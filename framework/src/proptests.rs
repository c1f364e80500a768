//! Property tests over the sans-IO HTTP/1.1 codec: `parse.rs`, `body.rs`, `conn.rs` and
//! `response.rs`, fed generated input instead of hand-picked cases.
//!
//! The unit tests beside each module pin behaviours down one example at a time. The
//! properties here say what must hold for *every* input, and proptest searches for an input
//! that breaks one. Generators are built from HTTP fragments (request lines, header lines,
//! CRLFs, chunk-size lines, whole valid requests, valid requests with a few bytes overwritten
//! and cut short), not only random bytes, so that they reach the deep states of the codec:
//! inside a chunked body, inside its trailers, between pipelined requests. Sizes are drawn to
//! straddle the limits (the 8 KiB buffer, the trailer cap of a head, small configured limits),
//! where framing bugs live.
//!
//! 1. **Random bytes never panic and never leave a connection stuck.** Whatever bytes arrive,
//!    in whatever pieces, `Conn` ends either closing after its answers or error response, or
//!    waiting for more input with a read buffer to put it in and no more input held than the
//!    configured limits allow. Its output is always a well-framed sequence of responses, and
//!    what it answers does not depend on the split (a client cannot tell how TCP cut its
//!    bytes, and a proxy in front must not be able to make carafe see other requests). Only
//!    *when* garbage is refused may differ: a bad unfinished line is refused at once or at
//!    its line end. `parse_head` and `ChunkedDecoder` are also driven directly: no panic, a
//!    head never claims more bytes than it was given, a head accepted whole is not rejected
//!    in part, and the decoder's result does not depend on the split either.
//! 2. **Valid requests read the same whatever the split.** Pipelines of valid requests
//!    (standard and extension methods, origin-form targets with percent-escapes and queries,
//!    arbitrary valid header fields, bodies framed by Content-Length or chunked with
//!    extensions and trailers) go to an app that echoes what it saw. Every request within
//!    the limits must be echoed exactly (the chunked body decoded), the first one beyond them
//!    rejected and nothing after it answered, and the bytes out must not depend on where the
//!    input was split, down to one byte at a time.
//! 3. **Encoded responses always parse back.** Whatever status (100–999), headers, body,
//!    version and keep-alive a handler produces, httparse reads back the status, exactly the
//!    headers a model of `set_header`/`append_header` predicts, a Content-Length equal to
//!    the body length (none for 1xx, 204 and 304) and then exactly the body (none for HEAD).
//!    No header value with CR, LF or NUL is ever accepted.
//!
//! Runs are deterministic: a fixed seed, fixed case counts sized to keep the whole module to
//! a few seconds in a debug build, and no failure-persistence files. A failure prints the
//! shrunk input; turn it into a unit test beside the code it breaks.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

use http::{Method, StatusCode, Version};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::string::string_regex;
use proptest::test_runner::{RngSeed, TestCaseError};

use crate::app::App;
use crate::conn::{Conn, Ctx, Phase};
use crate::h1::body::{ChunkedDecoder, ChunkedLimits};
use crate::h1::buffer::{BUFFER_SIZE, BufferPool};
use crate::h1::error::ParseError;
use crate::h1::head::{HeadLimits, PartialHead, header_storage, parse_head};
use crate::request::Request;
use crate::response::{EncodeOptions, Response};
use crate::router::RouteSpec;

// Fixed case counts, chosen so that the module runs in about 3 s in a debug build on two cores
// (about 6 s on one thread). At these counts, each codec bug these properties found is caught
// again if it is brought back.
/// Random input through a whole connection (property 1).
const CONN_CASES: u32 = 512;
/// Random input through `parse_head` and `ChunkedDecoder` (property 1).
const CODEC_CASES: u32 = 1024;
/// Valid pipelines echoed back (property 2).
const ECHO_CASES: u32 = 512;
/// Encoded responses parsed back (property 3).
const ENCODE_CASES: u32 = 1024;

/// The one seed every property starts from, so CI sees the same cases on every run.
const SEED: u64 = 0x00C0_FFEE_CAFE_F00D;

/// Inputs up to this size are also fed one byte at a time.
const BYTE_AT_A_TIME_MAX: usize = 1024;

/// Chunked bodies up to this size are also decoded split at every single offset.
const SINGLE_SPLITS_MAX: usize = 256;

const DATE: &[u8; 29] = b"Sun, 06 Nov 1994 08:49:37 GMT";

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(SEED),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Driving a connection
// ---------------------------------------------------------------------------------------------

/// The limits a generated case runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Limits {
    max_head: usize,
    max_headers: usize,
    max_target: usize,
    max_body: u64,
}

impl Limits {
    fn defaults() -> Self {
        let config = crate::config::Config::default();
        Self {
            max_head: config.max_head_size,
            max_headers: config.max_headers,
            max_target: config.max_target_len,
            max_body: config.max_body_size,
        }
    }

    fn apply(&self, app: &mut App) {
        self.apply_to(&mut app.config);
    }

    fn apply_to(&self, config: &mut crate::Config) {
        config.max_head_size = self.max_head;
        config.max_headers = self.max_headers;
        config.max_target_len = self.max_target;
        config.max_body_size = self.max_body;
    }

    /// The limits a chunked body is decoded under, as a connection derives them.
    fn chunked(&self) -> ChunkedLimits {
        let mut config = crate::Config::default();
        self.apply_to(&mut config);
        ChunkedLimits::from_config(&config)
    }

    fn head_limits(&self) -> HeadLimits {
        let defaults = crate::Config::default();
        HeadLimits {
            max_head: self.max_head,
            max_headers: self.max_headers,
            max_target: self.max_target,
            max_query_params: defaults.max_query_params,
            max_cookies: defaults.max_cookies,
        }
    }
}

/// The defaults half the time, else small limits that generated requests straddle.
fn limits() -> impl Strategy<Value = Limits> {
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

/// How a connection was left after all of its input was fed.
#[derive(Debug)]
struct Outcome {
    output: Vec<u8>,
    /// Input bytes fed when the connection wanted more but offered no space to read into:
    /// a real driver would stop reading and the connection would hang until its timeout.
    stalled_at: Option<usize>,
    /// Calling `process` once more answered something: `received` left work undone.
    left_undone: bool,
    closing: bool,
    phase: Phase,
    buffered: usize,
    /// Whether the driver would read more now, and how much space it would get.
    wants_read: bool,
    read_space: usize,
}

const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1);

/// Feeds `input` to a fresh connection in pieces ending at `splits` (sorted offsets), as the
/// server's driver does: `read_buffer`, copy, `received`, then write out all pending output.
fn feed(app: &App, input: &[u8], splits: &[usize]) -> Outcome {
    let mut pool = BufferPool::default();
    let mut ctx = Ctx::in_memory(app, DATE, &mut pool);
    let mut conn = Conn::new(PEER);
    let mut output = Vec::new();
    let mut fed = 0;
    let mut stalled_at = None;
    'feeding: for &end in splits.iter().chain(std::iter::once(&input.len())) {
        while fed < end && conn.wants_read(&ctx) {
            let buffer = conn.read_buffer(&mut ctx);
            if buffer.is_empty() {
                stalled_at = Some(fed);
                break 'feeding;
            }
            let n = buffer.len().min(end - fed);
            buffer[..n].copy_from_slice(&input[fed..fed + n]);
            fed += n;
            conn.received(n, &mut ctx);
            output.extend_from_slice(conn.pending_output());
            conn.wrote(conn.pending_output().len());
        }
    }
    let answered = conn.answered();
    conn.process(&mut ctx);
    let left_undone = conn.answered() != answered || !conn.pending_output().is_empty();
    let wants_read = conn.wants_read(&ctx);
    let read_space = if wants_read {
        conn.read_buffer(&mut ctx).len()
    } else {
        0
    };
    Outcome {
        output,
        stalled_at,
        left_undone,
        closing: conn.is_closing(),
        phase: conn.phase(),
        buffered: conn.buffered_input(),
        wants_read,
        read_space,
    }
}

/// Turns split choices into sorted offsets into an input of `len` bytes.
fn offsets(choices: &[Index], len: usize) -> Vec<usize> {
    let mut offsets: Vec<usize> = choices.iter().map(|index| index.index(len + 1)).collect();
    offsets.sort_unstable();
    offsets
}

fn split_choices() -> impl Strategy<Value = Vec<Index>> {
    vec(any::<Index>(), 0..6)
}

/// Checks that a connection ended in one of the two acceptable states: closing after its
/// answers or error response, or waiting for more input with bounded buffered input.
fn check_settled(outcome: &Outcome, limits: &Limits) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        outcome.stalled_at,
        None,
        "the connection wanted input but offered no space for it"
    );
    prop_assert!(
        !outcome.left_undone,
        "received() left a complete request unanswered"
    );
    if outcome.closing {
        prop_assert!(!outcome.output.is_empty(), "closing without a response");
        return Ok(());
    }
    prop_assert!(outcome.wants_read, "neither closing nor reading");
    prop_assert!(outcome.read_space > 0, "waiting with no space to read into");
    let max_body = usize::try_from(limits.max_body).unwrap_or(usize::MAX);
    match outcome.phase {
        Phase::Idle => prop_assert_eq!(outcome.buffered, 0),
        Phase::Head => prop_assert!(
            outcome.buffered < limits.max_head,
            "{} bytes of an unfinished head buffered, limit {}",
            outcome.buffered,
            limits.max_head
        ),
        // Head, decoded body, the raw bytes a chunked body may still wait on (its trailer
        // section), and one read.
        Phase::Body => prop_assert!(
            outcome.buffered
                <= limits.max_head + max_body + limits.chunked().max_undecoded() + BUFFER_SIZE,
            "{} bytes buffered while reading a body",
            outcome.buffered
        ),
        Phase::Writing => prop_assert!(false, "output left unwritten"),
        // The property apps have no blocking routes, and the test driver runs them inline.
        Phase::Busy => prop_assert!(false, "a request left waiting for the blocking pool"),
    }
    Ok(())
}

/// One response read back from a connection's output.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ParsedResponse {
    status: u16,
    headers: Vec<(String, Wire)>,
    body: Wire,
}

impl ParsedResponse {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| &v[..])
    }

    fn content_length(&self) -> Option<usize> {
        let value = std::str::from_utf8(self.header("content-length")?).ok()?;
        value.parse().ok()
    }
}

/// Splits a connection's output into responses framed by Content-Length (interim 1xx
/// responses have no body). `head_only(i, status)` says whether the `i`-th final response,
/// with that status, answers a HEAD request, whose body is not sent; `None` when the caller
/// cannot tell (random input), for which a response with nothing after its head is taken to
/// answer a HEAD.
fn parse_responses(
    mut output: &[u8],
    head_only: impl Fn(usize, u16) -> Option<bool>,
) -> Result<Vec<ParsedResponse>, String> {
    let mut responses = Vec::new();
    let mut finals = 0;
    while !output.is_empty() {
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut fields);
        let head_len = match response.parse(output) {
            Ok(httparse::Status::Complete(len)) => len,
            other => {
                return Err(format!(
                    "unparseable response ({other:?}) in {:?}",
                    output.escape_ascii().to_string()
                ));
            }
        };
        let status = response.code.unwrap_or(0);
        let headers = response
            .headers
            .iter()
            .map(|h| (h.name.to_owned(), Wire(h.value.to_vec())))
            .collect();
        let mut parsed = ParsedResponse {
            status,
            headers,
            body: Wire::default(),
        };
        output = &output[head_len..];
        if status >= 200 {
            let length = match head_only(finals, status) {
                Some(true) => 0,
                None if output.is_empty() => 0,
                Some(false) | None => parsed.content_length().unwrap_or(0),
            };
            if output.len() < length {
                return Err(format!(
                    "a response announces {length} body bytes, {} follow",
                    output.len()
                ));
            }
            parsed.body = Wire(output[..length].to_vec());
            output = &output[length..];
            finals += 1;
        }
        responses.push(parsed);
    }
    Ok(responses)
}

/// Interim `100 Continue` responses are sent only when a body has not arrived with its head,
/// which depends on the split by design; everything else must not.
fn final_responses(responses: Vec<ParsedResponse>) -> Vec<ParsedResponse> {
    responses.into_iter().filter(|r| r.status >= 200).collect()
}

/// What a client can rely on whatever the split: the answers, in order, and then whether the
/// connection was ended by a rejection (an error response). Which rule a bad request is
/// rejected under may depend on how much of it had arrived, since carafe refuses a request as
/// soon as it is sure to be bad; that it is refused, and where, may not.
#[derive(Debug, PartialEq)]
struct Answers {
    answers: Vec<ParsedResponse>,
    rejected: bool,
}

fn answers(
    responses: Vec<ParsedResponse>,
    is_rejection: impl Fn(&ParsedResponse) -> bool,
) -> Result<Answers, TestCaseError> {
    let mut responses = final_responses(responses);
    let rejections = responses.iter().filter(|r| is_rejection(r)).count();
    let rejected = responses.last().is_some_and(&is_rejection);
    prop_assert!(
        rejections == usize::from(rejected),
        "a response after a rejection: {:?}",
        responses
    );
    if rejected {
        responses.pop();
    }
    Ok(Answers {
        answers: responses,
        rejected,
    })
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/// Bytes that print as an escaped string, so that a failing case reads like the request it is.
#[derive(Clone, Default, PartialEq, Eq)]
struct Wire(Vec<u8>);

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
const TCHAR: &str = "[!#$%&'*+.^_`|~0-9A-Za-z-]";

fn token(min: usize, max: usize) -> impl Strategy<Value = String> {
    string_regex(&format!("{TCHAR}{{{min},{max}}}")).expect("a valid regex")
}

const STANDARD_METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "QUERY",
];

/// Standard methods, extension tokens, and now and then a long extension token, since the
/// request line's length limits are checked around the target.
fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => select(&STANDARD_METHODS[..]).prop_map(str::to_owned),
        3 => token(1, 12),
        1 => token(40, 100),
    ]
}

/// An origin-form target (RFC 9112 §3.2.1): `/` segments of pchars and percent-escapes, and
/// an optional query.
fn origin_form_target() -> impl Strategy<Value = String> {
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
fn field_value(max: usize) -> BoxedStrategy<Vec<u8>> {
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
fn field_byte(byte: u8) -> u8 {
    match byte {
        0x00..=0x0f => b' ',
        0x10..=0x17 => b'\t',
        0x18..=0x1f | 0x7f => b'~',
        0x80..=0xbf => byte - 0x60,
        _ => byte,
    }
}

fn trim_ows(value: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !is_ows(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    &value[start..end]
}

/// Names whose fields decide framing or persistence; property 2 adds them on purpose.
const FRAMING_NAMES: [&str; 5] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "expect",
];

fn header_field(max_value: usize) -> impl Strategy<Value = (String, Vec<u8>)> {
    (
        token(1, 16).prop_filter("a framing field", |name| {
            !FRAMING_NAMES.iter().any(|f| f.eq_ignore_ascii_case(name))
        }),
        field_value(max_value),
    )
}

/// `Host`: reg-name or IPv4 characters and an optional port.
fn host_value() -> impl Strategy<Value = Vec<u8>> {
    string_regex("[A-Za-z0-9.-]{1,16}(:[0-9]{1,5})?")
        .expect("a valid regex")
        .prop_map(String::into_bytes)
}

/// `len` bytes from a small xorshift generator: long bodies without a value tree per byte.
fn noise(seed: u64, len: usize) -> Vec<u8> {
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
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => vec(any::<u8>(), 0..48),
        1 => (any::<u64>(), 0usize..24_000).prop_map(|(seed, len)| noise(seed, len)),
    ]
}

/// How one chunk-size line is written.
#[derive(Debug, Clone)]
struct ChunkStyle {
    uppercase: bool,
    leading_zeros: usize,
    extension: String,
}

fn chunk_style() -> impl Strategy<Value = ChunkStyle> {
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
fn trailers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    prop_oneof![
        6 => vec(header_field(24), 0..3),
        1 => vec(header_field(1100), 8..=32),
    ]
}

/// How a request's body is framed.
#[derive(Debug, Clone)]
enum Framing {
    /// No body and no framing header.
    Bare,
    /// `Content-Length`, written as `n`, `n, n` or with leading zeros.
    Length { style: u8 },
    /// `Transfer-Encoding` with this value, then the body chunked.
    Chunked(&'static str, Chunking),
}

fn framing() -> impl Strategy<Value = Framing> {
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
struct Chunking {
    cuts: Vec<Index>,
    styles: Vec<ChunkStyle>,
    last: ChunkStyle,
    trailers: Vec<(String, Vec<u8>)>,
}

fn chunking() -> impl Strategy<Value = Chunking> {
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
    fn write(&self, body: &[u8]) -> (Vec<u8>, usize) {
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
struct RequestParts {
    method: String,
    target: String,
    http10: bool,
    host: Option<Vec<u8>>,
    fields: Vec<(String, Vec<u8>)>,
    separators: Vec<&'static str>,
    body: Vec<u8>,
    framing: Framing,
    order: Vec<Index>,
}

fn request_parts() -> impl Strategy<Value = RequestParts> {
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
struct GeneratedRequest {
    method: String,
    target: String,
    /// Every header field in the order sent, framing fields included.
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    /// Request line and header section, blank line included.
    head: Vec<u8>,
    /// The body as framed on the wire.
    framed_body: Vec<u8>,
    /// Bytes of the trailer section (fields and the final CRLF); 0 unless chunked.
    trailer_section: usize,
    /// Trailer fields; 0 unless chunked.
    trailer_fields: usize,
    /// The connection closes after this request (`Connection: close`, or HTTP/1.0 without
    /// keep-alive).
    closes: bool,
}

impl GeneratedRequest {
    /// Writes `parts` out; `closes` asks for the connection to end after it.
    fn new(parts: RequestParts, closes: bool) -> Self {
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

    fn is_head(&self) -> bool {
        self.method == "HEAD"
    }

    /// Whether the request is within `limits`, so that carafe must answer it.
    fn fits(&self, limits: &Limits) -> bool {
        self.head.len() <= limits.max_head
            && self.headers.len() <= limits.max_headers
            && self.target.len() <= limits.max_target
            && self.body.len() as u64 <= limits.max_body
            // The trailer section has the header section's limits.
            && self.trailer_section <= limits.max_head
            && self.trailer_fields <= limits.max_headers
    }

    /// What the echo handler answers for this request.
    fn echo(&self) -> Vec<u8> {
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

fn write_chunk_size(out: &mut Vec<u8>, size: usize, style: &ChunkStyle) {
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
fn shuffle<T>(items: &mut [T], order: &[Index]) {
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
struct Pipeline {
    requests: Vec<GeneratedRequest>,
}

impl Pipeline {
    fn wire(&self) -> Vec<u8> {
        let mut wire = Vec::new();
        for request in &self.requests {
            wire.extend_from_slice(&request.head);
            wire.extend_from_slice(&request.framed_body);
        }
        wire
    }
}

fn pipeline() -> impl Strategy<Value = Pipeline> {
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
fn http_ish_bytes() -> impl Strategy<Value = Wire> {
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
fn chunk_ish_fragment() -> impl Strategy<Value = Vec<u8>> {
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
fn long_run() -> impl Strategy<Value = Vec<u8>> {
    (select(&b"a 0f;:\r\n\t"[..]), 0usize..20_000).prop_map(|(byte, len)| vec![byte; len])
}

/// Chunked bodies: fragments, or a valid body with a few bytes mutated and perhaps cut short.
fn chunk_ish_bytes() -> impl Strategy<Value = Wire> {
    prop_oneof![
        vec(chunk_ish_fragment(), 0..16).prop_map(|fragments| Wire(fragments.concat())),
        mutated((body(), chunking()).prop_map(|(body, chunking)| chunking.write(&body).0))
            .prop_map(Wire),
    ]
}

/// Bytes that break framing when they land in the wrong place.
const MUTATION_BYTES: &[u8] = b"\r\n \t;:0fx\x00\xff";

/// Valid input with up to three bytes overwritten and, half the time, cut short: close to
/// valid, so it reaches deep states and then breaks there.
fn mutated(valid: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
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

// ---------------------------------------------------------------------------------------------
// Apps
// ---------------------------------------------------------------------------------------------

/// What the echo handler answers: method, target, every header field (value escaped) and
/// then the raw body.
fn echo<'a>(
    method: &str,
    target: &str,
    headers: impl Iterator<Item = (&'a str, &'a [u8])>,
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("{method}\n{target}\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {}\n", value.escape_ascii()).as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

fn echo_request(req: &Request<'_>) -> Response {
    Response::bytes(echo(
        req.method().as_str(),
        req.target(),
        req.headers(),
        req.body(),
    ))
}

/// An app that echoes every request of `pipeline`, whatever its method and target.
fn echo_app(pipeline: &Pipeline, limits: &Limits) -> App {
    let mut methods = vec![Method::GET];
    for request in &pipeline.requests {
        let method = Method::from_bytes(request.method.as_bytes()).expect("a token is a method");
        if method != Method::HEAD && !methods.contains(&method) {
            methods.push(method);
        }
    }
    let mut app = App::new();
    limits.apply(&mut app);
    for pattern in ["/", "/{*path}"] {
        app.route(RouteSpec::new(&methods, pattern), echo_request)
            .expect("valid routes");
    }
    app
}

/// A header-only summary of a request: every response of this app has an empty body, so a
/// response to HEAD is framed like any other and the output parses without knowing which
/// requests were HEAD.
fn digest(req: &Request<'_>) -> Response {
    let sum = req.body().iter().fold(0u32, |sum, &b| {
        sum.wrapping_mul(31).wrapping_add(u32::from(b))
    });
    let value = format!(
        "{} {} {} {sum:08x}",
        req.method(),
        req.target(),
        req.body().len()
    );
    let mut response = Response::new(StatusCode::OK);
    if response.set_header("x-digest", &value).is_err() {
        response.set_status(StatusCode::IM_A_TEAPOT);
    }
    response
}

/// An app for arbitrary input: a few methods on every path, and 404/405 pages that are
/// digests too.
fn digest_app(limits: &Limits) -> App {
    let mut app = App::new();
    limits.apply(&mut app);
    for pattern in ["/", "/{*path}"] {
        app.route(
            RouteSpec::new(&[Method::GET, Method::POST, Method::PUT], pattern),
            digest,
        )
        .expect("valid routes");
    }
    for status in [StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED] {
        app.error_handler(status, |req: &Request<'_>, _error| digest(req));
    }
    app
}

// ---------------------------------------------------------------------------------------------
// Property 1: random bytes
// ---------------------------------------------------------------------------------------------

/// Decodes `raw` arriving in pieces that end at `ends`, compacting between pieces as the
/// connection does. `Ok(None)`: the body is still incomplete at the end of `raw`.
fn decode_pieces(
    raw: &[u8],
    ends: &[usize],
    max_body: u64,
) -> Result<Option<(Vec<u8>, usize)>, ParseError> {
    let mut buf = raw.to_vec();
    let limits = ChunkedLimits {
        max_body,
        ..ChunkedLimits::unlimited()
    };
    let mut decoder = ChunkedDecoder::new(0, limits);
    // Dead framing bytes dropped from the buffer so far: buffer offset + freed = raw offset.
    let mut freed = 0;
    for &end in ends.iter().chain(std::iter::once(&raw.len())) {
        let filled = end - freed;
        if decoder.decode(&mut buf, filled)? {
            let body = buf[..decoder.body_end()].to_vec();
            return Ok(Some((body, decoder.consumed() + freed)));
        }
        let kept = decoder.compact(&mut buf, filled);
        buf.drain(kept..filled);
        freed += filled - kept;
    }
    Ok(None)
}

proptest! {
    #![proptest_config(config(CONN_CASES))]

    /// Property 1, through a whole connection.
    #[test]
    fn random_bytes_never_panic_or_leave_a_connection_stuck(
        input in http_ish_bytes(),
        choices in split_choices(),
        limits in limits(),
    ) {
        let app = digest_app(&limits);
        let whole = feed(&app, &input, &[]);
        check_settled(&whole, &limits)?;
        let split = feed(&app, &input, &offsets(&choices, input.len()));
        check_settled(&split, &limits)?;
        // Every answer of the digest app has an empty body, and its error pages (404, 405)
        // carry a digest, so an error without one is a rejection. Which request was a HEAD
        // (whose rejection has no body) is not known here.
        let is_rejection = |response: &ParsedResponse| {
            response.status >= 400 && response.header("x-digest").is_none()
        };
        let whole_responses = parse_responses(&whole.output, |_, _| None);
        prop_assert!(whole_responses.is_ok(), "{:?}", whole_responses);
        let split_responses = parse_responses(&split.output, |_, _| None);
        prop_assert!(split_responses.is_ok(), "{:?}", split_responses);
        let whole_answers = answers(whole_responses.unwrap_or_default(), is_rejection)?;
        let split_answers = answers(split_responses.unwrap_or_default(), is_rejection)?;
        prop_assert_eq!(&whole_answers.answers, &split_answers.answers);
        if whole_answers.rejected == split_answers.rejected {
            prop_assert_eq!(whole.closing, split.closing);
        } else {
            // An unfinished head is parsed again only when a new line end arrives (so that a
            // client sending a byte at a time costs a parse per line): garbage in the last,
            // unfinished line is refused at once when it arrived with an earlier line end,
            // and at its own line end otherwise. Only then may one side still be waiting.
            let waiting = if whole_answers.rejected { &split } else { &whole };
            prop_assert!(
                !waiting.closing && waiting.phase == Phase::Head,
                "rejected on one side only, and the other is not waiting for a head: {:?}",
                waiting
            );
        }
    }
}

proptest! {
    #![proptest_config(config(CODEC_CASES))]

    /// Property 1, `parse_head` alone, on bytes and on valid pipelines (so that many heads
    /// are complete).
    #[test]
    fn parse_head_on_random_bytes_claims_no_more_than_it_was_given(
        input in prop_oneof![http_ish_bytes(), pipeline().prop_map(|p| Wire(p.wire()))],
        cut in any::<Index>(),
        limits in limits(),
    ) {
        let head_limits = limits.head_limits();
        let mut storage = header_storage();
        if let Ok(Some(head)) = parse_head(&input, &mut storage, &head_limits) {
            prop_assert!(head.len <= input.len());
            prop_assert!(head.len <= limits.max_head);
            // A head accepted whole must not be rejected when only part of it has arrived:
            // otherwise whether a request is answered depends on how TCP cut it. Every
            // prefix is followed as a connection follows it, a byte more each time, and
            // one prefix from scratch (a connection whose first read ended there).
            let mut scan = PartialHead::default();
            for end in 0..head.len {
                let prefix = &input[..end];
                prop_assert_eq!(
                    scan.advance(prefix, &head_limits),
                    Ok(false),
                    "prefix {:?}",
                    prefix.escape_ascii().to_string()
                );
            }
            prop_assert_eq!(scan.advance(&input[..head.len], &head_limits), Ok(true));
            let cut = cut.index(head.len);
            prop_assert_eq!(
                PartialHead::default().advance(&input[..cut], &head_limits),
                Ok(false)
            );
        }
    }

    /// Property 1, `ChunkedDecoder` alone.
    #[test]
    fn chunked_decoder_on_random_bytes_does_not_depend_on_the_split(
        input in chunk_ish_bytes(),
        choices in split_choices(),
        max_body in prop_oneof![0u64..512, Just(u64::MAX)],
    ) {
        let whole = decode_pieces(&input, &[], max_body);
        if let Ok(Some((body, consumed))) = &whole {
            prop_assert!(*consumed <= input.len());
            prop_assert!(body.len() <= *consumed);
            prop_assert!(body.len() as u64 <= max_body);
        }
        // Which check rejects a bad line first depends on how much of it has arrived
        // ("invalid chunk-size line" before its end, "not ended by CRLF" after); the answer,
        // the status, must not.
        let answer = |result: Result<Option<(Vec<u8>, usize)>, ParseError>| {
            result.map_err(|error| error.status())
        };
        let whole = answer(whole);
        let mut splits = vec![offsets(&choices, input.len())];
        if input.len() <= SINGLE_SPLITS_MAX {
            splits.extend((1..input.len()).map(|split| vec![split]));
        }
        for split in splits {
            let result = answer(decode_pieces(&input, &split, max_body));
            prop_assert_eq!(&result, &whole, "split at {:?}", split);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Property 2: valid requests
// ---------------------------------------------------------------------------------------------

/// Checks the responses to a whole pipeline against what the model says: each request within
/// the limits echoed, the first beyond them rejected and the connection closed.
fn check_echoes(
    pipeline: &Pipeline,
    limits: &Limits,
    outcome: &Outcome,
) -> Result<(), TestCaseError> {
    check_settled(outcome, limits)?;
    let answered: Vec<&GeneratedRequest> = pipeline
        .requests
        .iter()
        .take_while(|request| request.fits(limits))
        .collect();
    let rejected = answered.len() < pipeline.requests.len();
    let responses = parse_responses(&outcome.output, |i, _| {
        Some(
            answered
                .get(i)
                .copied()
                .or_else(|| pipeline.requests.get(i))
                .is_some_and(GeneratedRequest::is_head),
        )
    });
    prop_assert!(responses.is_ok(), "{:?}", responses);
    let responses = final_responses(responses.unwrap_or_default());
    prop_assert_eq!(
        responses.len(),
        answered.len() + usize::from(rejected),
        "answered {} of {} requests, rejection expected: {}",
        responses.len(),
        pipeline.requests.len(),
        rejected
    );
    for (response, request) in responses.iter().zip(&answered) {
        let expected = request.echo();
        prop_assert_eq!(response.status, 200);
        if request.is_head() {
            prop_assert_eq!(response.content_length(), Some(expected.len()));
        } else {
            prop_assert_eq!(
                response.body.escape_ascii().to_string(),
                expected.escape_ascii().to_string()
            );
        }
    }
    if rejected {
        let rejection = &responses[answered.len()];
        prop_assert!(
            (400..500).contains(&rejection.status),
            "rejected with {}",
            rejection.status
        );
        prop_assert_eq!(rejection.header("connection"), Some(&b"close"[..]));
    }
    let closes = rejected || answered.last().is_some_and(|request| request.closes);
    prop_assert_eq!(outcome.closing, closes);
    Ok(())
}

/// The answers to a pipeline and whether a rejection ended them (see [`Answers`]): a request
/// that breaks two limits may be refused under either.
fn pipeline_answers(output: &[u8], pipeline: &Pipeline) -> Result<Answers, TestCaseError> {
    // A rejection of a HEAD request has no body either (issue 11, defect 5).
    let responses = parse_responses(output, |i, _| {
        Some(
            pipeline
                .requests
                .get(i)
                .is_some_and(GeneratedRequest::is_head),
        )
    });
    prop_assert!(responses.is_ok(), "{:?}", responses);
    answers(responses.unwrap_or_default(), |response| {
        response.status >= 400
    })
}

proptest! {
    #![proptest_config(config(ECHO_CASES))]

    /// Property 2.
    #[test]
    fn valid_requests_read_the_same_whatever_the_split(
        pipeline in pipeline(),
        choices in split_choices(),
        limits in limits(),
    ) {
        let app = echo_app(&pipeline, &limits);
        let input = pipeline.wire();
        let whole = feed(&app, &input, &[]);
        check_echoes(&pipeline, &limits, &whole)?;
        let all_fit = pipeline.requests.iter().all(|request| request.fits(&limits));
        let mut splits = vec![offsets(&choices, input.len())];
        if input.len() <= BYTE_AT_A_TIME_MAX {
            splits.push((1..input.len()).collect());
        }
        for split in splits {
            let outcome = feed(&app, &input, &split);
            check_echoes(&pipeline, &limits, &outcome)?;
            if all_fit {
                prop_assert_eq!(
                    outcome.output.escape_ascii().to_string(),
                    whole.output.escape_ascii().to_string(),
                    "split at {:?}",
                    split
                );
            } else {
                prop_assert_eq!(
                    pipeline_answers(&outcome.output, &pipeline)?,
                    pipeline_answers(&whole.output, &pipeline)?,
                    "split at {:?}",
                    split
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Property 3: encoded responses
// ---------------------------------------------------------------------------------------------

/// A header change a handler makes.
#[derive(Debug, Clone)]
enum HeaderOp {
    Set(String, String),
    Append(String, String),
}

/// Names carafe treats specially, in any case, and ordinary tokens.
fn response_header_name() -> impl Strategy<Value = String> {
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
fn response_header_value() -> impl Strategy<Value = String> {
    string_regex("[\t -~\u{80}-\u{7ff}]{0,24}").expect("a valid regex")
}

fn header_op() -> impl Strategy<Value = HeaderOp> {
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
struct GeneratedResponse {
    status: u16,
    /// 0: `Response::new`, 1: `text`, 2: `html`, 3: `bytes`.
    constructor: u8,
    ops: Vec<HeaderOp>,
    body: Wire,
    head_only: bool,
    http10: bool,
    keep_alive: bool,
}

fn generated_response() -> impl Strategy<Value = GeneratedResponse> {
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

/// The fields the encoded response must carry, by lowercase name, values in order.
type FieldModel = BTreeMap<String, Vec<Vec<u8>>>;

impl GeneratedResponse {
    fn build(&self) -> Result<Response, String> {
        let body = self.body.0.clone();
        let mut response = match self.constructor {
            0 => {
                let mut response = Response::new(StatusCode::OK);
                response.set_body(body);
                response
            }
            1 => Response::text(body),
            2 => Response::html(body),
            _ => Response::bytes(body),
        };
        response.set_status(StatusCode::from_u16(self.status).map_err(|e| e.to_string())?);
        for op in &self.ops {
            let result = match op {
                HeaderOp::Set(name, value) => response.set_header(name, value).map(|_| ()),
                HeaderOp::Append(name, value) => response.append_header(name, value).map(|_| ()),
            };
            result.map_err(|error| format!("{op:?} refused: {error}"))?;
        }
        Ok(response)
    }

    fn bodiless(&self) -> bool {
        self.status < 200 || self.status == 204 || self.status == 304
    }

    /// What the encoded header section must hold: handler fields as `set_header` (replace)
    /// and `append_header` (add; replace for the single-valued Content-Type) leave them, minus the framing fields carafe writes itself,
    /// plus `Server`, `Date`, `Content-Length` and `Connection` where carafe adds them.
    fn expected_fields(&self) -> FieldModel {
        let mut fields = FieldModel::new();
        let content_type: Option<&[u8]> = match self.constructor {
            1 => Some(b"text/plain; charset=utf-8"),
            2 => Some(b"text/html; charset=utf-8"),
            3 => Some(b"application/octet-stream"),
            _ => None,
        };
        let mut content_type = content_type.map(<[u8]>::to_vec);
        for op in &self.ops {
            match op {
                // Content-Type has one value: appending it replaces, as setting does.
                HeaderOp::Set(name, value) | HeaderOp::Append(name, value)
                    if name.eq_ignore_ascii_case("content-type") =>
                {
                    content_type = Some(value.as_bytes().to_vec());
                }
                HeaderOp::Set(name, value) => {
                    fields.insert(name.to_ascii_lowercase(), vec![value.as_bytes().to_vec()]);
                }
                HeaderOp::Append(name, value) => fields
                    .entry(name.to_ascii_lowercase())
                    .or_default()
                    .push(value.as_bytes().to_vec()),
            }
        }
        for framing in ["content-length", "transfer-encoding", "connection"] {
            fields.remove(framing);
        }
        if let Some(content_type) = content_type {
            fields
                .entry("content-type".into())
                .or_default()
                .insert(0, content_type);
        }
        fields
            .entry("server".into())
            .or_insert_with(|| vec![b"carafe".to_vec()]);
        fields
            .entry("date".into())
            .or_insert_with(|| vec![DATE.to_vec()]);
        if !self.bodiless() {
            let length = self.body.len().to_string().into_bytes();
            fields.insert("content-length".into(), vec![length]);
        }
        if !self.keep_alive {
            fields.insert("connection".into(), vec![b"close".to_vec()]);
        } else if self.http10 {
            fields.insert("connection".into(), vec![b"keep-alive".to_vec()]);
        }
        // A field value does not include the whitespace around it (RFC 9110 §5.5).
        for values in fields.values_mut() {
            for value in values.iter_mut() {
                *value = trim_ows(value).to_vec();
            }
        }
        fields
    }
}

proptest! {
    #![proptest_config(config(ENCODE_CASES))]

    /// Property 3.
    #[test]
    fn encoded_responses_parse_back(generated in generated_response()) {
        let response = generated.build();
        prop_assert!(response.is_ok(), "{:?}", response.err());
        let mut response = response.unwrap_or_default();
        let options = EncodeOptions {
            version: if generated.http10 { Version::HTTP_10 } else { Version::HTTP_11 },
            keep_alive: generated.keep_alive,
            head_only: generated.head_only,
            date: DATE,
        };
        let mut encoded = Vec::new();
        response.encode(&options, &mut encoded);

        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut fields);
        let head_len = match parsed.parse(&encoded) {
            Ok(httparse::Status::Complete(len)) => len,
            other => {
                return Err(TestCaseError::fail(format!(
                    "{other:?} for {:?}",
                    encoded.escape_ascii().to_string()
                )));
            }
        };
        prop_assert_eq!(parsed.version, Some(1));
        prop_assert_eq!(parsed.code, Some(generated.status));
        let reason = StatusCode::from_u16(generated.status)
            .ok()
            .and_then(|status| status.canonical_reason())
            .unwrap_or("");
        prop_assert_eq!(parsed.reason, Some(reason));
        let mut seen = FieldModel::new();
        for field in parsed.headers.iter() {
            seen.entry(field.name.to_ascii_lowercase())
                .or_default()
                .push(field.value.to_vec());
        }
        prop_assert_eq!(seen, generated.expected_fields());
        let sent_body: &[u8] = if generated.bodiless() || generated.head_only {
            &[]
        } else {
            &generated.body[..]
        };
        prop_assert_eq!(&encoded[head_len..], sent_body);
    }

    /// Property 3: no value with CR, LF or NUL gets into a header.
    #[test]
    fn header_values_with_cr_lf_or_nul_are_refused(
        name in response_header_name(),
        before in response_header_value(),
        bad in select(&['\r', '\n', '\0'][..]),
        after in response_header_value(),
    ) {
        let value = format!("{before}{bad}{after}");
        let mut response = Response::text("x");
        prop_assert!(response.set_header(&name, &value).is_err());
        prop_assert!(response.append_header(&name, &value).is_err());
        prop_assert!(response.test_copy().with_header(&name, &value).is_err());
        prop_assert!(response.headers().is_empty());
        prop_assert_eq!(response.header("content-type"), Some("text/plain; charset=utf-8"));
    }
}
