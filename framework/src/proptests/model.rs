//! The model the properties hold the code to: driving a connection in memory and what must
//! be true of how it was left, reading its output back as responses, the apps the properties
//! run (an echo and a digest), and what an encoded response must carry.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use http::{Method, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::DATE;
use super::generators::{GeneratedRequest, GeneratedResponse, HeaderOp, Pipeline, Wire, trim_ows};
use crate::app::App;
use crate::h1::body::{ChunkedDecoder, ChunkedLimits};
use crate::h1::buffer::BUFFER_SIZE;
use crate::h1::conn::{Connection, TimerKind};
use crate::h1::error::ParseError;
use crate::h1::head::HeadLimits;
use crate::h1::memory::MemoryConnection;
use crate::request::Request;
use crate::response::Response;
use crate::router::RouteSpec;
use crate::site::{BlockingJob, Site};

/// The limits a generated case runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Limits {
    pub(super) max_head: usize,
    pub(super) max_headers: usize,
    pub(super) max_target: usize,
    pub(super) max_body: u64,
}

impl Limits {
    pub(super) fn defaults() -> Self {
        let config = crate::config::Config::default();
        Self {
            max_head: config.max_head_size,
            max_headers: config.max_headers,
            max_target: config.max_target_len,
            max_body: config.max_body_size,
        }
    }

    pub(super) fn apply(&self, app: &mut App) {
        self.apply_to(&mut app.config);
    }

    pub(super) fn apply_to(&self, config: &mut crate::Config) {
        config.max_head_size = self.max_head;
        config.max_headers = self.max_headers;
        config.max_target_len = self.max_target;
        config.max_body_size = self.max_body;
    }

    /// The limits a chunked body is decoded under, as a connection derives them.
    pub(super) fn chunked(&self) -> ChunkedLimits {
        self.protocol().chunked
    }

    pub(super) fn head_limits(&self) -> HeadLimits {
        self.protocol().head
    }

    /// The protocol layer's limits for these settings, as an app derives them.
    fn protocol(&self) -> crate::h1::limits::Limits {
        let mut config = crate::Config::default();
        self.apply_to(&mut config);
        crate::h1::limits::Limits::from(&config)
    }
}

/// How a connection was left after all of its input was fed.
#[derive(Debug)]
pub(super) struct Outcome {
    pub(super) output: Vec<u8>,
    /// Input bytes fed when the connection wanted more but offered no space to read into:
    /// a real driver would stop reading and the connection would hang until its timeout.
    pub(super) stalled_at: Option<usize>,
    /// Calling `process` once more answered something: `received` left work undone.
    pub(super) left_undone: bool,
    pub(super) closing: bool,
    pub(super) phase: Phase,
    pub(super) buffered: usize,
    /// Whether the driver would read more now, and how much space it would get.
    pub(super) wants_read: bool,
    pub(super) read_space: usize,
}

pub(super) const PEER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1);

/// The frozen site of an app the properties built.
pub(super) fn site(app: App) -> Site {
    app.freeze(false)
        .expect("the operating system provides randomness for a session key")
}

/// Where a connection is, as its deadline says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Between requests, nothing buffered.
    Idle,
    /// Part of a head has arrived.
    Head,
    /// A head has arrived and its body is arriving.
    Body,
    /// Output waits to be written, or the connection lingers after its last response.
    Writing,
    /// A blocking job answers the request, or the connection is closed.
    Busy,
}

fn phase(conn: &Connection<BlockingJob>) -> Phase {
    match conn.poll_timer().map(|timer| timer.kind) {
        Some(TimerKind::Idle) => Phase::Idle,
        Some(TimerKind::Header) => Phase::Head,
        Some(TimerKind::Body) => Phase::Body,
        Some(TimerKind::Write | TimerKind::Linger) => Phase::Writing,
        // Only a live connection (a WebSocket, an event stream) wants it; none here.
        Some(TimerKind::Ping) => Phase::Busy,
        None => Phase::Busy,
    }
}

/// Feeds `input` to a fresh connection in pieces ending at `splits` (sorted offsets), as the
/// server's driver does (`h1/memory.rs`: `read_buffer`, copy, `handle_read`, then write out
/// everything pending), then checks whether anything was left undone.
pub(super) fn feed(site: &Site, input: &[u8], splits: &[usize]) -> Outcome {
    let limits = &site.limits;
    let mut memory = MemoryConnection::with_date(PEER, *DATE);
    let mut output = Vec::new();
    let delivered = memory.deliver(site, limits, input, splits, &mut output);
    let answered = memory.conn.answered();
    memory.poke(site, limits);
    let left_undone = memory.conn.answered() != answered || !memory.conn.poll_transmit().is_empty();
    Outcome {
        output,
        stalled_at: delivered.stalled.then_some(delivered.taken),
        left_undone,
        closing: memory.conn.is_closing(),
        phase: phase(&memory.conn),
        buffered: memory.conn.buffered_input(),
        wants_read: memory.conn.wants_read(limits),
        read_space: memory.read_space(site, limits),
    }
}

/// Checks that a connection ended in one of the two acceptable states: closing after its
/// answers or error response, or waiting for more input with bounded buffered input.
pub(super) fn check_settled(outcome: &Outcome, limits: &Limits) -> Result<(), TestCaseError> {
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
pub(super) struct ParsedResponse {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, Wire)>,
    pub(super) body: Wire,
}

impl ParsedResponse {
    pub(super) fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| &v[..])
    }

    pub(super) fn content_length(&self) -> Option<usize> {
        let value = std::str::from_utf8(self.header("content-length")?).ok()?;
        value.parse().ok()
    }
}

/// Splits a connection's output into responses framed by Content-Length (interim 1xx
/// responses have no body). `head_only(i, status)` says whether the `i`-th final response,
/// with that status, answers a HEAD request, whose body is not sent; `None` when the caller
/// cannot tell (random input), for which a response with nothing after its head is taken to
/// answer a HEAD.
pub(super) fn parse_responses(
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
pub(super) fn final_responses(responses: Vec<ParsedResponse>) -> Vec<ParsedResponse> {
    responses.into_iter().filter(|r| r.status >= 200).collect()
}

/// What a client can rely on whatever the split: the answers, in order, and then whether the
/// connection was ended by a rejection (an error response). Which rule a bad request is
/// rejected under may depend on how much of it had arrived, since carafe refuses a request as
/// soon as it is sure to be bad; that it is refused, and where, may not.
#[derive(Debug, PartialEq)]
pub(super) struct Answers {
    pub(super) answers: Vec<ParsedResponse>,
    pub(super) rejected: bool,
}

pub(super) fn answers(
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

/// What the echo handler answers: method, target, every header field (value escaped) and
/// then the raw body.
pub(super) fn echo<'a>(
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

pub(super) fn echo_request(req: &Request<'_>) -> Response {
    Response::bytes(echo(
        req.method().as_str(),
        req.target(),
        req.headers(),
        req.body(),
    ))
}

/// An app that echoes every request of `pipeline`, whatever its method and target.
pub(super) fn echo_app(pipeline: &Pipeline, limits: &Limits) -> App {
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
pub(super) fn digest(req: &Request<'_>) -> Response {
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
pub(super) fn digest_app(limits: &Limits) -> App {
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

/// Decodes `raw` arriving in pieces that end at `ends`, compacting between pieces as the
/// connection does. `Ok(None)`: the body is still incomplete at the end of `raw`.
pub(super) fn decode_pieces(
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

/// Checks the responses to a whole pipeline against what the model says: each request within
/// the limits echoed, the first beyond them rejected and the connection closed.
pub(super) fn check_echoes(
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
pub(super) fn pipeline_answers(
    output: &[u8],
    pipeline: &Pipeline,
) -> Result<Answers, TestCaseError> {
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

/// The fields the encoded response must carry, by lowercase name, values in order.
pub(super) type FieldModel = BTreeMap<String, Vec<Vec<u8>>>;

impl GeneratedResponse {
    pub(super) fn build(&self) -> Result<Response, String> {
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

    pub(super) fn bodiless(&self) -> bool {
        self.status < 200 || matches!(self.status, 204 | 205 | 304)
    }

    /// What the encoded header section must hold: handler fields as `set_header` (replace)
    /// and `append_header` (add; replace for the single-valued Content-Type) leave them, minus the framing fields carafe writes itself,
    /// plus `Server`, `Date`, `Content-Length` and `Connection` where carafe adds them.
    pub(super) fn expected_fields(&self) -> FieldModel {
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
        if self.status == 205 {
            // No content, and it says so (RFC 9110 §15.3.6).
            fields.insert("content-length".into(), vec![b"0".to_vec()]);
        } else if !self.bodiless() {
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
