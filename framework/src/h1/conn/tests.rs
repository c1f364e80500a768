//! The connection state machine alone, with a dispatcher of its own (no app): every byte
//! split, pipelining, framing, limits, timeouts, blocking jobs, streamed bodies.

use std::io::Read as _;
use std::net::SocketAddr;

use http::StatusCode;

use super::*;
use crate::h1::tunnel::RunHere;

/// The pool of jobs run in place.
fn here() -> Arc<dyn Offload> {
    Arc::new(RunHere)
}
use crate::h1::body::ChunkedLimits;
use crate::h1::encode::{Body, ContentType};
use crate::h1::head::HeadLimits;

const DATE: &[u8; 29] = b"Sun, 06 Nov 1994 08:49:37 GMT";
const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1);

/// The defaults of `Config`, small enough to reason about.
fn limits() -> Limits {
    Limits {
        head: HeadLimits {
            max_head: 16 * 1024,
            max_headers: 100,
            max_target: 8 * 1024,
            max_query_params: 1000,
            max_cookies: 200,
        },
        chunked: ChunkedLimits {
            max_body: 8 * 1024 * 1024,
            max_extensions: 16 * 1024,
            max_trailer_size: 16 * 1024,
            max_trailers: 100,
        },
        max_pending_output: 1024 * 1024,
        live: crate::h1::tunnel::LiveLimits {
            max_queue: 1024,
            max_output: 1024 * 1024,
            max_message: 1024 * 1024,
        },
        timeouts: Timeouts {
            header: Duration::from_secs(10),
            body: Duration::from_secs(30),
            keep_alive: Duration::from_secs(30),
            write: Duration::from_secs(30),
            linger: Duration::from_secs(2),
            ping: Duration::from_secs(30),
        },
    }
}

/// Answers by path: `/a` "A", `/b` "BB", `/echo` the body, `/slow` through a blocking job,
/// streams under `/sized/{len}`, `/unsized/{len}`, `/short` and `/failing`; 404 otherwise.
struct Paths;

/// A blocking job: the body to answer with.
#[derive(Debug)]
struct Slow(Vec<u8>);

fn text_response(body: &'static str) -> Outgoing {
    Outgoing::text(StatusCode::OK, body)
}

fn stream(reader: impl std::io::Read + Send + 'static, len: Option<u64>) -> Outgoing {
    Outgoing {
        content_type: ContentType::OctetStream,
        body: Body::reader(reader, len),
        ..Outgoing::default()
    }
}

/// A reader that gives `0` bytes of `f` and then fails.
struct Failing(usize);

impl std::io::Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Err(std::io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.0);
        buf[..n].fill(b'f');
        self.0 -= n;
        Ok(n)
    }
}

/// A reader that is interrupted (`EINTR`) before every read that gives bytes.
struct Interrupting {
    left: usize,
    interrupt_next: bool,
}

impl std::io::Read for Interrupting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.interrupt_next = !self.interrupt_next;
        if !self.interrupt_next {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        let n = buf.len().min(self.left);
        buf[..n].fill(b'i');
        self.left -= n;
        Ok(n)
    }
}

impl Dispatch for Paths {
    type Job = Slow;

    fn dispatch(&self, head: &Head<'_, '_>, body: &[u8], _peer: SocketAddr) -> Answer<Slow> {
        let len = |prefix: &str| head.path.strip_prefix(prefix)?.parse::<u64>().ok();
        Answer::Ready(match head.path {
            "/a" => text_response("A"),
            "/b" => text_response("BB"),
            "/echo" => Outgoing {
                content_type: ContentType::OctetStream,
                body: Body::Bytes(body.to_vec()),
                ..Outgoing::default()
            },
            "/slow" => return Answer::Blocking(Slow(body.to_vec())),
            "/short" => stream(std::io::repeat(b's').take(10), Some(1000)),
            "/failing" => stream(Failing(100_000), None),
            "/interrupted" => stream(
                Interrupting {
                    left: 200_000,
                    interrupt_next: false,
                },
                Some(200_000),
            ),
            "/longer" => stream(std::io::repeat(b'l').take(500), Some(100)),
            "/empty" => stream(Failing(0), Some(0)),
            _ if len("/sized/").is_some() => {
                let len = len("/sized/").unwrap_or(0);
                stream(std::io::repeat(b'x').take(len), Some(len))
            }
            _ if len("/unsized/").is_some() => {
                let len = len("/unsized/").unwrap_or(0);
                stream(std::io::repeat(b'x').take(len), None)
            }
            _ => Outgoing::text(StatusCode::NOT_FOUND, "none"),
        })
    }

    fn run(&self, job: Slow, _pool: &Arc<dyn Offload>) -> Outgoing {
        let mut body = b"slow:".to_vec();
        body.extend_from_slice(&job.0);
        Outgoing::text(StatusCode::OK, body)
    }
}

/// A fresh connection, driven here step by step.
struct Driven {
    conn: Connection<Slow>,
    buffers: BufferPool,
    limits: Limits,
    hosts: HostMemo,
    shutting_down: bool,
}

impl Driven {
    fn new(limits: Limits) -> Self {
        Self {
            conn: Connection::new(PEER),
            buffers: BufferPool::default(),
            limits,
            hosts: HostMemo::default(),
            shutting_down: false,
        }
    }

    fn ctx(&mut self) -> (&mut Connection<Slow>, Ctx<'_, Paths>) {
        let ctx = Ctx {
            dispatch: &Paths,
            limits: &self.limits,
            date: DATE,
            buffers: &mut self.buffers,
            hosts: &mut self.hosts,
            shutting_down: self.shutting_down,
        };
        (&mut self.conn, ctx)
    }

    /// Reads `input` in one piece (it must fit the read buffer).
    fn receive(&mut self, input: &[u8]) {
        let (conn, mut ctx) = self.ctx();
        let buffer = conn.read_buffer(&mut ctx);
        buffer[..input.len()].copy_from_slice(input);
        conn.handle_read(input.len(), &mut ctx);
    }

    /// Takes all output as a fast client would, running blocking jobs in place; returns the
    /// most output that was pending at once.
    fn drain(&mut self, output: &mut Vec<u8>) -> usize {
        let mut most = 0;
        loop {
            let (conn, mut ctx) = self.ctx();
            if let Some(job) = conn.poll_job() {
                conn.handle_job_done(Paths.run(job, &here()), &mut ctx);
                continue;
            }
            let pending = conn.poll_transmit();
            most = most.max(pending.len());
            if pending.is_empty() {
                return most;
            }
            output.extend_from_slice(pending);
            let n = pending.len();
            conn.handle_written(n, &mut ctx);
        }
    }
}

/// Feeds `input` to a fresh connection in pieces ending at `splits`, collecting output.
fn run_with(limits: Limits, input: &[u8], splits: &[usize]) -> (Vec<u8>, Connection<Slow>) {
    let mut driven = Driven::new(limits);
    let mut output = Vec::new();
    let mut fed = 0;
    for &end in splits.iter().chain(std::iter::once(&input.len())) {
        while fed < end && driven.conn.wants_read(&driven.limits) {
            let (conn, mut ctx) = driven.ctx();
            let buffer = conn.read_buffer(&mut ctx);
            assert!(
                !buffer.is_empty(),
                "the connection wants input but offers no space for it after {fed} bytes"
            );
            let n = buffer.len().min(end - fed);
            buffer[..n].copy_from_slice(&input[fed..fed + n]);
            fed += n;
            conn.handle_read(n, &mut ctx);
            driven.drain(&mut output);
        }
    }
    (output, driven.conn)
}

fn run(input: &[u8], splits: &[usize]) -> (Vec<u8>, Connection<Slow>) {
    run_with(limits(), input, splits)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const TEXT: &str = "text/plain; charset=utf-8";
const BYTES: &str = "application/octet-stream";

fn response(status: &str, content_type: &str, body: &str, extra: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nServer: carafe\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
}

const PIPELINE: &str = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n\
    POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
    POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2;ext=1\r\nhe\r\n3\r\nllo\r\n0\r\nTrailer: t\r\n\r\n\
    POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nzz\
    HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n\
    GET /b HTTP/1.1\r\nHost: x\r\n\r\n";

fn pipeline_answer() -> String {
    [
        response("200 OK", TEXT, "A", ""),
        response("200 OK", BYTES, "hello", ""),
        response("200 OK", BYTES, "hello", ""),
        response("200 OK", TEXT, "slow:zz", ""),
        response("200 OK", TEXT, "BB", "").replace("BB", ""),
        response("200 OK", TEXT, "BB", ""),
    ]
    .concat()
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let (output, conn) = run(PIPELINE.as_bytes(), &[]);
    assert_eq!(text(&output), pipeline_answer());
    assert_eq!(conn.answered(), 6);
    assert!(conn.is_idle());
    assert_eq!(
        conn.poll_timer().map(|timer| timer.kind),
        Some(TimerKind::Idle)
    );
}

#[test]
fn every_two_way_split_gives_the_same_output() {
    let input = PIPELINE.as_bytes();
    let expected = pipeline_answer();
    for split in 0..=input.len() {
        let (output, _) = run(input, &[split]);
        assert_eq!(text(&output), expected, "split at {split}");
    }
}

#[test]
fn every_three_way_split_of_a_chunked_request_gives_the_same_output() {
    let input = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n0\r\n\r\n";
    let expected = response("200 OK", BYTES, "Wiki", "");
    for first in 0..=input.len() {
        for second in first..=input.len() {
            let (output, _) = run(input, &[first, second]);
            assert_eq!(text(&output), expected, "splits at {first} and {second}");
        }
    }
}

#[test]
fn one_byte_at_a_time_gives_the_same_output() {
    let input = PIPELINE.as_bytes();
    let splits: Vec<usize> = (1..input.len()).collect();
    let (output, _) = run(input, &splits);
    assert_eq!(text(&output), pipeline_answer());
}

#[test]
fn a_blocking_job_holds_back_what_is_pipelined_behind_it() {
    let mut driven = Driven::new(limits());
    driven.receive(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        driven.conn.poll_transmit().is_empty(),
        "nothing before the job answers"
    );
    assert!(
        !driven.conn.wants_read(&driven.limits),
        "no reading while it runs"
    );
    assert_eq!(driven.conn.poll_timer(), None, "no deadline while it runs");
    let job = driven.conn.poll_job().expect("the job");
    assert!(driven.conn.poll_job().is_none(), "handed out once");
    let (conn, mut ctx) = driven.ctx();
    conn.handle_job_done(Paths.run(job, &here()), &mut ctx);
    assert_eq!(
        text(driven.conn.poll_transmit()),
        [
            response("200 OK", TEXT, "slow:1", ""),
            response("200 OK", TEXT, "A", "")
        ]
        .concat()
    );
    assert_eq!(driven.conn.answered(), 2);
}

#[test]
fn expect_continue_is_answered_before_the_body() {
    let head =
        "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
    let input = format!("{head}abc");
    let (output, _) = run(input.as_bytes(), &[head.len()]);
    assert_eq!(
        text(&output),
        format!(
            "HTTP/1.1 100 Continue\r\n\r\n{}",
            response("200 OK", BYTES, "abc", "")
        )
    );
}

#[test]
fn too_large_body_is_413_instead_of_continue() {
    let mut limits = limits();
    limits.chunked.max_body = 2;
    let input =
        "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
    let (output, conn) = run_with(limits, input.as_bytes(), &[]);
    let output = text(&output);
    assert!(
        output.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
        "{output}"
    );
    assert!(!output.contains("100 Continue"));
    assert!(output.contains("Connection: close\r\n"));
    assert!(conn.is_closing());
    // At the limit exactly is answered.
    let at_limit = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab";
    let (output, _) = run_with(limits, at_limit.as_bytes(), &[]);
    assert_eq!(text(&output), response("200 OK", BYTES, "ab", ""));
}

#[test]
fn chunked_body_over_the_limit_is_413() {
    let mut limits = limits();
    limits.chunked.max_body = 4;
    let input = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";
    let (output, _) = run_with(limits, input.as_bytes(), &[]);
    assert!(
        text(&output).starts_with("HTTP/1.1 413 "),
        "{}",
        text(&output)
    );
}

#[test]
fn a_body_near_its_limit_in_tiny_chunks_fits_the_read_buffer() {
    // The raw chunked body is several times its decoded size; decoded bytes are moved down
    // over the framing as reads come, so the buffer never holds much more than the limit.
    let mut limits = limits();
    limits.chunked.max_body = 20_000;
    let mut input =
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..20_000 {
        input.extend_from_slice(b"1\r\nq\r\n");
    }
    input.extend_from_slice(b"0\r\n\r\n");
    let splits: Vec<usize> = (1..input.len() / 512).map(|n| n * 512).collect();
    let (output, _) = run_with(limits, &input, &splits);
    let expected = response("200 OK", BYTES, &"q".repeat(20_000), "");
    assert_eq!(text(&output), expected);
}

#[test]
fn a_trailer_section_within_its_cap_fits_in_the_read_buffer() {
    // Head, body and a trailer section (which may be as large as a head) must fit
    // together: with the read buffer capped at head and body limits plus one 8 KiB read,
    // the connection stopped offering space 8 KiB into the trailers and hung until its
    // timeout. The head is near its own limit, so its allowance leaves no room to spare.
    let mut limits = limits();
    limits.head.max_head = 13 * 1024;
    limits.chunked.max_trailer_size = 13 * 1024;
    limits.chunked.max_body = 4;
    let trailer = format!("X-Long: {}\r\n", "a".repeat(12 * 1024));
    let padding = "p".repeat(12 * 1024);
    let input = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nX-Pad: {padding}\r\nTransfer-Encoding: chunked\r\n\r\n\
         4\r\nWiki\r\n0\r\n{trailer}\r\n"
    );
    let (output, _) = run_with(limits, input.as_bytes(), &[]);
    assert_eq!(text(&output), response("200 OK", BYTES, "Wiki", ""));
}

#[test]
fn a_size_line_with_extensions_at_their_cap_fits_in_the_read_buffer() {
    // The same for the other thing the decoder may wait on whole: a chunk-size line, whose
    // extensions may take `max_extensions` bytes.
    let mut limits = limits();
    limits.head.max_head = 13 * 1024;
    limits.chunked.max_trailer_size = 64;
    limits.chunked.max_extensions = 13 * 1024;
    limits.chunked.max_body = 4;
    let padding = "p".repeat(12 * 1024);
    let extension = "e".repeat(12 * 1024);
    let input = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nX-Pad: {padding}\r\nTransfer-Encoding: chunked\r\n\r\n\
         4;{extension}\r\nWiki\r\n0\r\n\r\n"
    );
    let (output, _) = run_with(limits, input.as_bytes(), &[]);
    assert_eq!(text(&output), response("200 OK", BYTES, "Wiki", ""));
}

#[test]
fn a_malformed_request_is_400_and_ends_the_connection() {
    let input = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nBad Header: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    let (output, mut conn) = run(input.as_bytes(), &[]);
    let output = text(&output);
    assert!(output.starts_with(&response("200 OK", TEXT, "A", "")));
    let rest = &output[response("200 OK", TEXT, "A", "").len()..];
    assert!(rest.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{rest}");
    assert!(rest.contains("Connection: close\r\n"));
    assert_eq!(
        output.matches("HTTP/1.1").count(),
        2,
        "nothing answered after the error"
    );
    // The response is out: the write side is shut, and what the client still sends is
    // dropped until it closes.
    assert!(conn.poll_shutdown(), "shut the write side");
    assert!(!conn.poll_shutdown(), "once");
    assert_eq!(
        conn.poll_timer().map(|timer| timer.kind),
        Some(TimerKind::Linger)
    );
    assert!(!conn.is_done());
    conn.handle_eof();
    assert!(conn.is_done());
}

#[test]
fn lingering_drops_what_arrives_and_stops_at_its_byte_limit() {
    let mut driven = Driven::new(limits());
    driven.receive(b"GET /a HTTP/1.1\r\nBad Header: x\r\n\r\n");
    driven.drain(&mut Vec::new());
    assert!(driven.conn.poll_shutdown());
    let mut dropped = 0;
    while !driven.conn.is_done() {
        let (conn, mut ctx) = driven.ctx();
        let space = conn.read_buffer(&mut ctx).len();
        assert!(space > 0);
        conn.handle_read(space, &mut ctx);
        dropped += space;
        assert!(dropped <= LINGER_BYTES + space, "read past the limit");
    }
    assert!(dropped > LINGER_BYTES);
    assert_eq!(driven.conn.buffered_input(), 0, "nothing kept");
}

#[test]
fn errors_answering_head_have_no_body() {
    // Issue 11, defect 5: the 413 to this HEAD came with a body.
    let cases: [&[u8]; 3] = [
        b"HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n",
        b"\r\nHEAD / HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n",
        b"HEAD / HTTP/1.1\r\n\r\n",
    ];
    for input in cases {
        let (output, conn) = run(input, &[]);
        let output = text(&output);
        assert!(output.ends_with("\r\n\r\n"), "{output}");
        assert_eq!(output.matches("\r\n\r\n").count(), 1, "{output}");
        assert!(output.contains("Content-Length: "), "as for GET: {output}");
        assert!(conn.is_closing());
    }
    let (output, _) = run(b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", &[]);
    assert!(
        !text(&output).ends_with("\r\n\r\n"),
        "a GET's error has its body"
    );
}

#[test]
fn connection_close_stops_after_that_response() {
    let input =
        "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    let (output, conn) = run(input.as_bytes(), &[]);
    assert_eq!(
        text(&output),
        response("200 OK", TEXT, "A", "Connection: close\r\n")
    );
    assert!(conn.is_closing());
}

#[test]
fn http_10_closes_unless_keep_alive() {
    let (output, conn) = run(b"GET /a HTTP/1.0\r\n\r\n", &[]);
    assert_eq!(
        text(&output),
        response("200 OK", TEXT, "A", "Connection: close\r\n")
    );
    assert!(conn.is_closing());
    let (output, conn) = run(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &[]);
    assert_eq!(
        text(&output),
        response("200 OK", TEXT, "A", "Connection: keep-alive\r\n")
    );
    assert!(!conn.is_closing());
}

#[test]
fn shutting_down_answers_with_close() {
    let mut driven = Driven::new(limits());
    driven.shutting_down = true;
    driven.receive(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(text(driven.conn.poll_transmit()).contains("Connection: close\r\n"));
    assert!(driven.conn.is_closing());
}

#[test]
fn output_over_the_limit_holds_back_later_requests() {
    let mut limits = limits();
    limits.max_pending_output = 1;
    let mut driven = Driven::new(limits);
    driven.receive(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        driven.conn.answered(),
        1,
        "the second waits for the first to drain"
    );
    assert!(!driven.conn.wants_read(&driven.limits));
    let (conn, mut ctx) = driven.ctx();
    let n = conn.poll_transmit().len();
    conn.handle_written(n, &mut ctx);
    assert_eq!(driven.conn.answered(), 2);
}

#[test]
fn a_client_half_closing_still_gets_its_answers() {
    let mut driven = Driven::new(limits());
    driven
        .receive(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /a HT");
    driven.conn.handle_eof();
    assert!(!driven.conn.is_done(), "two answers still to write");
    assert!(!driven.conn.wants_read(&driven.limits));
    let mut output = Vec::new();
    driven.drain(&mut output);
    assert_eq!(
        text(&output),
        [
            response("200 OK", TEXT, "A", ""),
            response("200 OK", TEXT, "BB", "")
        ]
        .concat()
    );
    assert!(
        driven.conn.is_done(),
        "the partial third request is dropped"
    );
}

#[test]
fn a_slow_head_is_cut_at_its_limit() {
    let mut limits = limits();
    limits.head.max_head = 64;
    // 100 bytes with no line end: the limit check, not a parse, ends it.
    let input = [b'a'; 100];
    let splits: Vec<usize> = (1..input.len()).collect();
    let (output, _) = run_with(limits, &input, &splits);
    assert!(
        text(&output).starts_with("HTTP/1.1 431 "),
        "{}",
        text(&output)
    );
}

#[test]
fn limits_at_their_value_whole_and_in_pieces() {
    // A head of exactly `max_head` bytes, and a target of exactly `max_target`, are answered
    // whether they arrive whole or a byte at a time; one byte more is refused either way.
    let target_of = |len: usize| format!("/a{}", "?".to_owned() + &"q".repeat(len - 3));
    let head_of = |target: &str, pad: usize| {
        format!(
            "GET {target} HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
            "p".repeat(pad)
        )
    };
    let mut limits = limits();
    limits.head.max_target = 40;
    let exact_target = head_of(&target_of(40), 0);
    limits.head.max_head = exact_target.len() + 10;
    let exact = head_of(&target_of(40), 10);
    assert_eq!(exact.len(), limits.head.max_head);
    let over_head = head_of(&target_of(40), 11);
    let over_target = head_of(&target_of(41), 0);
    let bytewise = |input: &str| (1..input.len()).collect::<Vec<_>>();
    for splits in [vec![], bytewise(&exact)] {
        let (output, _) = run_with(limits, exact.as_bytes(), &splits);
        assert!(
            text(&output).starts_with("HTTP/1.1 200 "),
            "{}",
            text(&output)
        );
    }
    for (input, status) in [(&over_head, "431"), (&over_target, "414")] {
        for splits in [vec![], bytewise(input)] {
            let (output, _) = run_with(limits, input.as_bytes(), &splits);
            assert!(
                text(&output).starts_with(&format!("HTTP/1.1 {status} ")),
                "{input:?}: {}",
                text(&output)
            );
        }
    }
}

#[test]
fn a_head_sent_a_byte_at_a_time_is_looked_at_a_bounded_number_of_times() {
    // Issue 11, defect 10: httparse restarts from the first byte, and it ran again at every
    // line end (leading empty lines are all line ends): a 16 KB head sent a byte at a time
    // cost quadratic work.
    let mut limits = limits();
    limits.head.max_head = 64 * 1024;
    let mut input = "\r\n".repeat(8000);
    input.push_str("GET /a HTTP/1.1\r\nHost: x\r\n");
    for n in 0..90 {
        input.push_str(&format!("X-{n}: {}\r\n", "v".repeat(150)));
    }
    input.push_str("\r\n");
    let splits: Vec<usize> = (1..input.len()).collect();
    crate::h1::head::LOOKED_AT.with(|count| count.set(0));
    let (output, _) = run_with(limits, input.as_bytes(), &splits);
    let looked = crate::h1::head::LOOKED_AT.with(std::cell::Cell::get);
    assert_eq!(text(&output), response("200 OK", TEXT, "A", ""));
    assert!(
        looked <= 4 * input.len(),
        "{looked} bytes looked at for a head of {}",
        input.len()
    );
}

#[test]
fn a_malformed_line_is_refused_before_the_head_ends() {
    let input = b"GET /a HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n";
    let (output, conn) = run(input, &[10, 20]);
    assert!(
        text(&output).starts_with("HTTP/1.1 400 "),
        "{}",
        text(&output)
    );
    assert!(conn.is_closing());
    let (output, _) = run(b"GET /a FOO/1.1\r\n", &[5]);
    assert!(
        text(&output).starts_with("HTTP/1.1 400 "),
        "{}",
        text(&output)
    );
}

#[test]
fn deadlines_follow_what_the_connection_waits_for() {
    let kind = |driven: &Driven| driven.conn.poll_timer().map(|timer| timer.kind);
    let epoch = |driven: &Driven| driven.conn.poll_timer().map(|timer| timer.epoch);
    let mut driven = Driven::new(limits());
    assert_eq!(kind(&driven), Some(TimerKind::Idle));
    driven.receive(b"GET /a HT");
    assert_eq!(kind(&driven), Some(TimerKind::Header));
    let started = epoch(&driven);
    driven.receive(b"TP/1.1\r\n");
    assert_eq!(
        epoch(&driven),
        started,
        "the head's deadline is not moved by its bytes"
    );
    driven.receive(b"Host: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n12");
    assert_eq!(
        kind(&driven),
        Some(TimerKind::Write),
        "a response waits to be written"
    );
    driven.drain(&mut Vec::new());
    assert_eq!(kind(&driven), Some(TimerKind::Body));
    let reading = epoch(&driven);
    driven.receive(b"34");
    assert_ne!(
        epoch(&driven),
        reading,
        "each read of a body restarts its deadline"
    );
    driven.receive(b"56789");
    driven.drain(&mut Vec::new());
    assert_eq!(kind(&driven), Some(TimerKind::Idle));
}

#[test]
fn a_timeout_answers_408_only_mid_request() {
    let mut driven = Driven::new(limits());
    let (conn, mut ctx) = driven.ctx();
    conn.handle_timeout(TimerKind::Idle, &mut ctx);
    assert!(
        conn.poll_transmit().is_empty(),
        "an idle connection closes quietly"
    );
    assert!(conn.is_done());
    let mut driven = Driven::new(limits());
    driven.receive(b"GET");
    let (conn, mut ctx) = driven.ctx();
    conn.handle_timeout(TimerKind::Header, &mut ctx);
    assert!(text(conn.poll_transmit()).starts_with("HTTP/1.1 408 Request Timeout\r\n"));
    // While output is pending, the write deadline ends it without another response.
    let (conn, mut ctx) = driven.ctx();
    conn.handle_timeout(TimerKind::Write, &mut ctx);
    assert!(conn.is_done());
}

#[test]
fn a_sized_stream_is_sent_whole_in_bounded_pieces() {
    let mut driven = Driven::new(limits());
    driven.receive(
        b"GET /sized/3000000 HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let mut output = Vec::new();
    let most = driven.drain(&mut output);
    assert!(
        most <= 2 * STREAM_CHUNK,
        "{most} bytes pending at once: memory must stay flat"
    );
    let text = text(&output);
    let head_end = text.find("\r\n\r\n").unwrap() + 4;
    assert!(
        text[..head_end].contains("Content-Length: 3000000\r\n"),
        "{}",
        &text[..head_end]
    );
    assert!(
        output[head_end..head_end + 3_000_000]
            .iter()
            .all(|&b| b == b'x')
    );
    // The pipelined request behind the stream is answered after it, in order.
    assert!(
        text[head_end + 3_000_000..].starts_with("HTTP/1.1 200 OK"),
        "then /a"
    );
    assert!(text.ends_with("\r\n\r\nA"));
    assert_eq!(driven.conn.answered(), 2);
}

#[test]
fn a_stream_reads_its_source_once_per_write() {
    let mut driven = Driven::new(limits());
    driven.receive(b"GET /sized/1000000 HTTP/1.1\r\nHost: x\r\n\r\n");
    // The head and one piece: no more until the driver writes.
    let pending = driven.conn.poll_transmit().len();
    assert!(
        pending > STREAM_CHUNK && pending < STREAM_CHUNK + 200,
        "{pending}"
    );
    let (conn, mut ctx) = driven.ctx();
    conn.handle_written(1, &mut ctx);
    assert_eq!(
        conn.poll_transmit().len(),
        pending - 1,
        "over 64 KiB held: no read"
    );
}

#[test]
fn an_unsized_stream_is_chunked_on_http_11_and_close_delimited_on_http_10() {
    let (output, conn) = run(b"GET /unsized/200000 HTTP/1.1\r\nHost: x\r\n\r\n", &[]);
    let head_end = text(&output).find("\r\n\r\n").unwrap() + 4;
    assert!(text(&output[..head_end]).contains("Transfer-Encoding: chunked\r\n"));
    let mut body = output[head_end..].to_vec();
    let mut decoder = ChunkedDecoder::new(0, ChunkedLimits::unlimited());
    let filled = body.len();
    assert_eq!(
        decoder.decode(&mut body, filled),
        Ok(true),
        "well-formed chunks"
    );
    assert_eq!(decoder.body_end(), 200_000);
    assert!(!conn.is_closing(), "the connection stays open");

    let (output, conn) = run(
        b"GET /unsized/200000 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        &[],
    );
    let head_end = text(&output).find("\r\n\r\n").unwrap() + 4;
    let head = text(&output[..head_end]);
    assert!(
        !head.contains("chunked") && !head.contains("Content-Length"),
        "{head}"
    );
    assert!(
        head.contains("Connection: close\r\n"),
        "the end of the body is the end of the connection"
    );
    assert_eq!(output.len() - head_end, 200_000);
    assert!(conn.is_closing());
}

#[test]
fn head_requests_never_read_the_stream() {
    let (output, conn) = run(b"HEAD /sized/5000 HTTP/1.1\r\nHost: x\r\n\r\n", &[]);
    let text = text(&output);
    assert!(
        text.contains("Content-Length: 5000\r\n") && text.ends_with("\r\n\r\n"),
        "{text}"
    );
    assert!(conn.is_idle());
}

#[test]
fn a_failing_or_short_stream_closes_the_connection() {
    for path in ["/failing", "/short"] {
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
        let (output, conn) = run(request.as_bytes(), &[]);
        assert!(
            conn.is_closing(),
            "{path}: the framing cannot be kept, so the connection ends"
        );
        assert_eq!(
            text(&output).matches("HTTP/1.1 ").count(),
            1,
            "{path}: nothing answered after"
        );
    }
}

/// The body bytes of the first response in `output`, and what follows them.
fn first_body(output: &[u8], len: usize) -> (&[u8], &[u8]) {
    let head_end = text(output).find("\r\n\r\n").expect("a head") + 4;
    output[head_end..].split_at(len)
}

#[test]
fn an_interrupted_read_of_the_source_is_retried_not_fatal() {
    let (output, conn) = run(
        b"GET /interrupted HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n",
        &[],
    );
    let (body, rest) = first_body(&output, 200_000);
    assert!(body.iter().all(|&b| b == b'i'));
    assert!(text(rest).starts_with("HTTP/1.1 200 OK"), "then /a");
    assert_eq!(conn.answered(), 2);
    assert!(!conn.is_closing());
}

#[test]
fn a_source_longer_than_its_length_is_cut_at_the_length() {
    let (output, conn) = run(
        b"GET /longer HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n",
        &[],
    );
    assert!(text(&output).contains("Content-Length: 100\r\n"));
    let (body, rest) = first_body(&output, 100);
    assert_eq!(body, [b'l'; 100]);
    assert!(
        text(rest).starts_with("HTTP/1.1 200 OK"),
        "then /a: {}",
        text(rest)
    );
    assert_eq!(conn.answered(), 2);
}

#[test]
fn a_stream_of_length_zero_never_reads_its_source() {
    // `Failing(0)` fails on its first read: a read would close the connection.
    let (output, conn) = run(
        b"GET /empty HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n",
        &[],
    );
    let output = text(&output);
    assert!(output.contains("Content-Length: 0\r\n"), "{output}");
    assert_eq!(output.matches("HTTP/1.1 200 OK").count(), 2, "{output}");
    assert!(!conn.is_closing());
}

#[test]
fn a_stream_behind_unsent_output_waits_and_is_sent_whole() {
    // A pipelined answer is still unsent when the stream starts; the stream's first read
    // waits for room, and what the client finally gets is both answers, whole and in order.
    let mut driven = Driven::new(limits());
    driven.receive(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /sized/100 HTTP/1.1\r\nHost: x\r\n\r\n");
    let pending = driven.conn.poll_transmit().len();
    assert!(pending > 0);
    let mut output = Vec::new();
    driven.drain(&mut output);
    let output = text(&output);
    assert_eq!(output.matches("HTTP/1.1 200 OK").count(), 2, "{output}");
    assert!(output.ends_with(&"x".repeat(100)), "{output}");
    assert_eq!(driven.conn.answered(), 2);
}

#[test]
fn reading_stops_when_the_output_held_reaches_its_limit_exactly() {
    // Mutation testing: a `<=` for `<` let one more request in at the limit.
    let one = response("200 OK", TEXT, "A", "");
    let mut limits = limits();
    limits.max_pending_output = one.len();
    let mut driven = Driven::new(limits);
    driven.receive(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(driven.conn.poll_transmit().len(), one.len());
    assert!(
        !driven.conn.wants_read(&driven.limits),
        "held == limit: no more reads"
    );
    driven.limits.max_pending_output = one.len() + 1;
    assert!(
        driven.conn.wants_read(&driven.limits),
        "one byte under: reads go on"
    );
}

#[test]
fn idle_means_between_requests_with_nothing_buffered_either_way() {
    let mut driven = Driven::new(limits());
    assert!(driven.conn.is_idle(), "a fresh connection");
    driven.receive(b"GET /a HT");
    assert!(!driven.conn.is_idle(), "part of a head arrived");
    driven.receive(b"TP/1.1\r\nHost: x\r\n\r\n");
    assert!(!driven.conn.is_idle(), "its answer is not written yet");
    driven.drain(&mut Vec::new());
    assert!(driven.conn.is_idle(), "answered and written");
    driven.receive(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n12");
    assert!(!driven.conn.is_idle(), "a body is arriving");
}

#[test]
fn a_stalled_body_times_out_with_408_and_a_stalled_reader_without_one() {
    let mut driven = Driven::new(limits());
    driven.receive(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n12");
    let (conn, mut ctx) = driven.ctx();
    conn.handle_timeout(TimerKind::Body, &mut ctx);
    assert!(
        text(conn.poll_transmit()).starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "mid-body: the client is told"
    );
    // A client that stopped reading while a request of its is half sent: the write deadline
    // closes the connection without writing more to it.
    let mut driven = Driven::new(limits());
    driven.receive(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HT");
    let pending = driven.conn.poll_transmit().len();
    let (conn, mut ctx) = driven.ctx();
    conn.handle_timeout(TimerKind::Write, &mut ctx);
    assert_eq!(conn.poll_transmit().len(), pending, "no 408 queued behind");
    assert!(conn.is_closing());
}

#[test]
fn each_write_moves_the_write_deadline_on() {
    let mut driven = Driven::new(limits());
    driven.receive(b"GET /sized/300000 HTTP/1.1\r\nHost: x\r\n\r\n");
    let epoch = |driven: &Driven| driven.conn.poll_timer().map(|timer| timer.epoch);
    let before = epoch(&driven);
    let (conn, mut ctx) = driven.ctx();
    conn.handle_written(10, &mut ctx);
    assert_ne!(
        epoch(&driven),
        before,
        "progress restarts the write deadline"
    );
}

#[test]
fn an_answered_connection_gives_its_buffers_back() {
    let mut driven = Driven::new(limits());
    driven.receive(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    driven.drain(&mut Vec::new());
    let (conn, ctx) = driven.ctx();
    conn.release_buffers(ctx.buffers);
    assert_eq!(
        driven.buffers.pooled(),
        (1, 1),
        "an idle connection holds no buffer"
    );
}

#[test]
fn a_lingering_connection_reads_a_lot_before_it_gives_up() {
    let mut driven = Driven::new(limits());
    driven.receive(b"GET /a HTTP/1.1\r\nBad Header: x\r\n\r\n");
    driven.drain(&mut Vec::new());
    let mut dropped = 0;
    while dropped < 512 * 1024 {
        let (conn, mut ctx) = driven.ctx();
        let space = conn.read_buffer(&mut ctx).len();
        conn.handle_read(space, &mut ctx);
        dropped += space;
        assert!(!driven.conn.is_done(), "gave up after {dropped} bytes");
    }
}

#[test]
fn a_stream_is_pulled_in_pieces_of_its_chunk_size() {
    // Small pieces would be correct but slow: one read of the source per 64 KiB.
    let mut driven = Driven::new(limits());
    driven.receive(b"GET /sized/300000 HTTP/1.1\r\nHost: x\r\n\r\n");
    let most = driven.drain(&mut Vec::new());
    assert!(most >= 64 * 1024, "{most} bytes at most pending");
}

/// What `awaiting_epoch` promises, which lets the worker skip asking the rest: the idle
/// deadline with that epoch, not done, nothing to write, no job, nothing live, more to read.
#[track_caller]
fn check_awaiting(driven: &mut Driven, expected: Option<u64>) {
    let awaiting = driven.conn.awaiting_epoch();
    assert_eq!(awaiting, expected);
    let Some(epoch) = awaiting else {
        return;
    };
    let conn = &mut driven.conn;
    assert_eq!(
        conn.poll_timer(),
        Some(Timer {
            kind: TimerKind::Idle,
            epoch
        })
    );
    assert!(!conn.is_done() && !conn.has_output() && !conn.needs_wake());
    assert!(conn.poll_job().is_none());
    assert!(conn.wants_read(&driven.limits));
    let (conn, ctx) = driven.ctx();
    conn.release_idle_buffers(ctx.buffers);
    let (conn, ctx) = driven.ctx();
    let pooled = ctx.buffers.pooled();
    conn.release_buffers(ctx.buffers);
    assert_eq!(
        driven.buffers.pooled(),
        pooled,
        "both buffers were given back"
    );
}

#[test]
fn a_connection_awaits_its_next_request_only_when_idle_and_open() {
    let request = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut driven = Driven::new(limits());
    check_awaiting(&mut driven, Some(0));
    driven.receive(request);
    check_awaiting(&mut driven, None); // its response is not written yet
    driven.drain(&mut Vec::new());
    check_awaiting(&mut driven, Some(1));
    driven.receive(b"GET /a HTTP/1.1\r\n");
    check_awaiting(&mut driven, None); // part of a head
    driven.receive(b"Host: x\r\n\r\n");
    driven.drain(&mut Vec::new());
    check_awaiting(&mut driven, Some(2));
    driven.receive(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab");
    check_awaiting(&mut driven, None); // part of a body
    driven.receive(b"cd");
    driven.drain(&mut Vec::new());
    check_awaiting(&mut driven, Some(3));
    driven.receive(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    check_awaiting(&mut driven, None); // a blocking job answers
    driven.drain(&mut Vec::new());
    check_awaiting(&mut driven, Some(4));
    driven.conn.handle_eof();
    check_awaiting(&mut driven, None); // the client sends nothing more: done

    let mut driven = Driven::new(limits());
    driven.receive(b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    driven.drain(&mut Vec::new());
    check_awaiting(&mut driven, None); // lingering after its last response
}
