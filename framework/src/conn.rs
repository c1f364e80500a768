//! One HTTP/1.1 connection as a state machine: bytes in, responses out, no socket.
//!
//! [`Conn`] owns a connection's buffers and parse state. Its driver (the mio loop in
//! `server/`, or the in-process test client) reads bytes into [`Conn::read_buffer`],
//! reports them with [`Conn::received`], and writes out [`Conn::pending_output`]. `Conn`
//! handles everything in between: framing, keep-alive, pipelining (responses in request
//! order, all responses to one read batched into one write), `100 Continue`, and the error
//! response that ends a connection after a malformed request.
//!
//! ```text
//!          bytes                                   responses
//! read ──► Reading::Head ──► Reading::Body ──► respond ──► OutputBuffer ──► write
//!             ▲                                   │
//!             └──────── next pipelined request ◄──┘ (or `closing` after an error / close)
//! ```

use std::net::SocketAddr;
use std::time::Instant;

use http::{Method, StatusCode, Version};

use crate::app::App;
use crate::h1::body::{BodyKind, ChunkedDecoder, ChunkedLimits};
use crate::h1::buffer::{BUFFER_SIZE, BufferPool, InputBuffer, OutputBuffer};
use crate::h1::date::HTTP_DATE_LEN;
use crate::h1::error::ParseError;
use crate::h1::head::{self, Head, HeadLimits, PartialHead, parse_head};
use crate::pool::OwnedRequest;
use crate::response::{EncodeOptions, Response, Streaming};

/// How much of a streamed body is read per pull, and the unsent output below which the next
/// pull happens: memory per download stays near 64 KiB, whatever the file's size.
const STREAM_CHUNK: usize = 64 * 1024;

/// What a connection needs from the worker driving it.
pub(crate) struct Ctx<'w> {
    pub app: &'w App,
    /// The current `Date` header value.
    pub date: &'w [u8; HTTP_DATE_LEN],
    pub pool: &'w mut BufferPool,
    /// The server is shutting down: answer what has arrived, with `Connection: close`.
    pub shutting_down: bool,
    /// Run `blocking` handlers right here (the in-process test client) instead of handing them
    /// to the driver for the blocking pool.
    pub run_blocking: bool,
}

impl<'w> Ctx<'w> {
    /// The context of an in-process driver (the test client, `__bench::Driver`, tests): no
    /// shutdown, and blocking handlers run in place, as there is no event loop to keep free.
    pub(crate) fn in_memory(
        app: &'w App,
        date: &'w [u8; HTTP_DATE_LEN],
        pool: &'w mut BufferPool,
    ) -> Self {
        Self {
            app,
            date,
            pool,
            shutting_down: false,
            run_blocking: true,
        }
    }

    fn head_limits(&self) -> HeadLimits {
        HeadLimits::from_config(&self.app.config)
    }
}

/// Where the connection is in reading the current request.
#[derive(Debug)]
enum Reading {
    /// Waiting for a complete head. A head that arrives whole (the usual case) is parsed at
    /// once; one that arrives in pieces is followed by a [`PartialHead`] (boxed: rare, and
    /// idle connections stay small), so each byte is looked at a bounded number of times.
    Head(Option<Box<PartialHead>>),
    /// The head (`head_len` bytes at the front of the input) is parsed; the body is arriving.
    Body { head_len: usize, body: PendingBody },
}

#[derive(Debug)]
enum PendingBody {
    /// The request is complete once the input holds `end` bytes.
    Length { end: usize },
    /// A chunked body, being decoded in place behind the head.
    Chunked(ChunkedDecoder),
}

/// What a connection is doing, for its worker's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Nothing received or pending: a keep-alive connection between requests.
    Idle,
    /// Part of a request head has arrived.
    Head,
    /// A head has arrived and its body is arriving.
    Body,
    /// Response bytes are waiting for the socket to accept them.
    Writing,
    /// A blocking handler is answering the current request on the pool.
    Busy,
}

/// One HTTP/1.1 connection, without its socket.
#[derive(Debug)]
pub(crate) struct Conn {
    input: InputBuffer,
    reading: Reading,
    /// Everything on the way out; kept apart from the input so a parsed head (which borrows
    /// the input) and the response being written can be borrowed at the same time.
    out: Outgoing,
    /// No further request will be answered (after an error, `Connection: close`, HTTP/1.0
    /// without keep-alive, or a shutdown); the connection ends once its output is written.
    closing: bool,
    /// The client has shut down its sending side; requests already received are still answered.
    read_closed: bool,
    /// Requests answered on this connection, so the driver can tell activity from idleness.
    answered: u64,
}

/// A connection's outgoing side: where responses are written, and what is still owed.
#[derive(Debug)]
struct Outgoing {
    peer: SocketAddr,
    output: OutputBuffer,
    /// A request handed to the blocking pool (boxed: rare, and idle connections stay small).
    deferred: Option<Box<Deferred>>,
    /// A response body still being pulled from its reader; pipelined requests wait for it.
    streaming: Option<Box<Streaming>>,
}

/// A request whose blocking handler runs on the pool; later pipelined requests wait for it.
#[derive(Debug)]
struct Deferred {
    /// The request, until the driver takes it to the pool.
    job: Option<OwnedRequest>,
    /// How to encode its response when it comes back.
    keep_alive: bool,
    version: Version,
    head_only: bool,
    /// Its access-log line, kept only when that log is on.
    log: Option<AccessLine>,
}

impl Conn {
    pub(crate) fn new(peer: SocketAddr) -> Self {
        Self {
            input: InputBuffer::default(),
            reading: Reading::Head(None),
            out: Outgoing {
                peer,
                output: OutputBuffer::default(),
                deferred: None,
                streaming: None,
            },
            closing: false,
            read_closed: false,
            answered: 0,
        }
    }

    pub(crate) fn peer(&self) -> SocketAddr {
        self.out.peer
    }

    /// Requests answered so far.
    pub(crate) fn answered(&self) -> u64 {
        self.answered
    }

    /// Whether the driver should read from the socket now. False once the connection is
    /// closing, and while unsent output is over the limit: a client pipelining without reading
    /// its responses cannot make the server buffer without bound.
    pub(crate) fn wants_read(&self, ctx: &Ctx<'_>) -> bool {
        !self.closing
            && !self.read_closed
            && self.out.deferred.is_none()
            && self.out.output.held() < ctx.app.config.max_pending_output
    }

    /// Space to read into, sized for the request being read.
    pub(crate) fn read_buffer(&mut self, ctx: &mut Ctx<'_>) -> &mut [u8] {
        let config = &ctx.app.config;
        let want = match &mut self.reading {
            Reading::Head { .. } => config.max_head_size,
            Reading::Body {
                body: PendingBody::Length { end },
                ..
            } => *end,
            Reading::Body {
                body: PendingBody::Chunked(decoder),
                ..
            } => {
                if decoder.reclaimable() > 0 {
                    let filled = self.input.filled().len();
                    let kept = decoder.compact(self.input.filled_mut(), filled);
                    self.input.truncate(kept);
                }
                // Room for the head, the decoded body and the raw bytes the decoder may still
                // wait on (a whole trailer section), so it never runs out of space before it
                // can finish or reject the body.
                let limit = config
                    .max_head_size
                    .saturating_add(usize::try_from(config.max_body_size).unwrap_or(usize::MAX))
                    .saturating_add(ChunkedLimits::from_config(config).max_undecoded());
                (self.input.filled().len() + BUFFER_SIZE).min(limit.saturating_add(BUFFER_SIZE))
            }
        };
        self.input.spare(ctx.pool, want)
    }

    /// Records `n` bytes read into [`read_buffer`](Self::read_buffer) and answers every
    /// request they complete.
    pub(crate) fn received(&mut self, n: usize, ctx: &mut Ctx<'_>) {
        self.input.commit(n);
        self.process(ctx);
    }

    /// Delivers `bytes` as reads of what the read buffer offers, appending every byte answered
    /// to `out` as a client that reads fast would take it, then lets requests held back by the
    /// output limit proceed. The loop of the in-process drivers (the test client,
    /// `__bench::Driver`); the server's is `server/connection.rs`.
    pub(crate) fn deliver_in_memory(&mut self, bytes: &[u8], ctx: &mut Ctx<'_>, out: &mut Vec<u8>) {
        let mut rest = bytes;
        while !rest.is_empty() && !self.is_closing() {
            let buffer = self.read_buffer(ctx);
            let n = buffer.len().min(rest.len());
            if n == 0 {
                break;
            }
            buffer[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            self.received(n, ctx);
            out.extend_from_slice(self.pending_output());
            self.wrote(self.pending_output().len());
        }
        while self.can_resume(ctx) {
            self.process(ctx);
            if self.pending_output().is_empty() {
                break;
            }
            out.extend_from_slice(self.pending_output());
            self.wrote(self.pending_output().len());
        }
    }

    /// Records that the client shut down its sending side. A partial request can never
    /// complete now and is dropped; complete ones already received are still answered.
    pub(crate) fn received_eof(&mut self) {
        self.read_closed = true;
    }

    /// Answers every complete request in the input, in order, until the input runs out, the
    /// connection starts closing, or unsent output reaches the limit.
    pub(crate) fn process(&mut self, ctx: &mut Ctx<'_>) {
        loop {
            if self.out.streaming.is_some() {
                // The response being streamed comes first (even on a closing connection: it is
                // the last response); the next request waits for it.
                if !self.pull_stream(ctx) || self.out.streaming.is_some() {
                    break;
                }
                continue;
            }
            if self.closing
                || self.out.deferred.is_some()
                || self.out.output.held() >= ctx.app.config.max_pending_output
            {
                break;
            }
            let progressed = match self.reading {
                Reading::Head { .. } => self.read_head(ctx),
                Reading::Body { .. } => self.read_body(ctx),
            };
            if !progressed {
                break;
            }
        }
    }

    /// Tries to parse a head; answers the request if its body is already here too.
    fn read_head(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let Reading::Head(partial) = &mut self.reading else {
            return false;
        };
        let limits = ctx.head_limits();
        let input = self.input.filled();
        if input.is_empty() {
            return false;
        }
        // Part of the head came earlier: parse only once the scan says it is complete.
        let followed = partial.is_some();
        if let Some(partial) = partial {
            match partial.advance(input, &limits) {
                Ok(true) => {}
                Ok(false) => return false,
                Err(error) => {
                    self.fail(error, ctx);
                    return false;
                }
            }
        }
        let mut storage = head::header_storage();
        let head = match parse_head(input, &mut storage, &limits) {
            Ok(Some(head)) => head,
            Ok(None) if followed => {
                // The scan found the empty line, httparse did not: they disagree about this
                // head, so it is not one to answer.
                self.fail(ParseError::Malformed("invalid request head"), ctx);
                return false;
            }
            Ok(None) => {
                let mut partial = Box::<PartialHead>::default();
                let checked = partial.advance(input, &limits);
                self.reading = Reading::Head(Some(partial));
                match checked {
                    Ok(false) => {}
                    Ok(true) => self.fail(ParseError::Malformed("invalid request head"), ctx),
                    Err(error) => self.fail(error, ctx),
                }
                return false;
            }
            Err(error) => {
                self.fail(error, ctx);
                return false;
            }
        };
        let max_body = ctx.app.config.max_body_size;
        let (request_end, consumed) = match head.body {
            BodyKind::Empty => (head.len, head.len),
            BodyKind::Length(length) if length > max_body => {
                // Decided from Content-Length before reading the body, and instead of sending
                // `100 Continue` (RFC 9110 §10.1.1).
                self.fail(ParseError::BodyTooLarge(max_body), ctx);
                return false;
            }
            BodyKind::Length(length) => {
                // At most `max_body_size`, which the read buffer could hold, so it fits a usize.
                let end = head
                    .len
                    .saturating_add(usize::try_from(length).unwrap_or(usize::MAX));
                if input.len() < end {
                    return self.await_body(
                        head.len,
                        PendingBody::Length { end },
                        head.expect_continue,
                        ctx,
                    );
                }
                (end, end)
            }
            BodyKind::Chunked => {
                let limits = ChunkedLimits::from_config(&ctx.app.config);
                let decoder = ChunkedDecoder::new(head.len, limits);
                return self.await_body(
                    head.len,
                    PendingBody::Chunked(decoder),
                    head.expect_continue,
                    ctx,
                );
            }
        };
        let keep_alive = self.out.answer(ctx, &head, &input[..request_end]);
        self.finish_request(consumed, keep_alive);
        true
    }

    /// Switches to reading a body, sending `100 Continue` first if the client waits for it.
    fn await_body(
        &mut self,
        head_len: usize,
        body: PendingBody,
        expect_continue: bool,
        ctx: &mut Ctx<'_>,
    ) -> bool {
        if expect_continue {
            self.out
                .output
                .writer(ctx.pool)
                .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        self.reading = Reading::Body { head_len, body };
        true
    }

    /// Advances a body; answers the request once it is complete.
    fn read_body(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let Reading::Body { head_len, body } = &mut self.reading else {
            return false;
        };
        let head_len = *head_len;
        let filled = self.input.filled().len();
        let (body_end, consumed) = match body {
            PendingBody::Length { end } if filled >= *end => (*end, *end),
            PendingBody::Length { .. } => return false,
            PendingBody::Chunked(decoder) => {
                match decoder.decode(self.input.filled_mut(), filled) {
                    Ok(true) => (decoder.body_end(), decoder.consumed()),
                    Ok(false) => return false,
                    Err(error) => {
                        self.fail(error, ctx);
                        return false;
                    }
                }
            }
        };
        // The head was parsed when it arrived; parse it again (cheap, and the bytes have not
        // changed) rather than keep borrowed header slices across reads.
        let input = self.input.filled();
        let mut storage = head::header_storage();
        let head = match parse_head(&input[..head_len], &mut storage, &ctx.head_limits()) {
            Ok(Some(head)) => head,
            Ok(None) | Err(_) => {
                self.fail(ParseError::Malformed("request head changed"), ctx);
                return false;
            }
        };
        let keep_alive = self.out.answer(ctx, &head, &input[..body_end]);
        self.finish_request(consumed, keep_alive);
        true
    }

    /// `keep_alive` is `None` when the request went to the blocking pool: it counts as
    /// answered only when its response comes back.
    #[inline]
    fn finish_request(&mut self, consumed: usize, keep_alive: Option<bool>) {
        self.input.consume(consumed);
        self.reading = Reading::Head(None);
        if let Some(keep_alive) = keep_alive {
            self.count_answered(keep_alive);
        }
    }

    /// Reads the next piece of a streamed body into the output, if the output has room.
    /// Returns whether anything happened. A reader that fails, or ends before the length the
    /// head promised, ends the connection: its framing can no longer be honoured.
    fn pull_stream(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let Some(stream) = self.out.streaming.as_deref_mut() else {
            return false;
        };
        if self.out.output.held() >= STREAM_CHUNK {
            return false; // Wait for the client to take what is already there.
        }
        let out = self.out.output.writer(ctx.pool);
        let start = out.len();
        let want = stream
            .remaining
            .map_or(STREAM_CHUNK, |left| left.min(STREAM_CHUNK as u64) as usize);
        // A chunk's size line is written as eight hex digits (leading zeros are allowed,
        // RFC 9112 §7.1) and filled in after the read, so the data needs no second copy.
        let header = if stream.chunked {
            CHUNK_HEADER.len()
        } else {
            0
        };
        out.resize(start + header + want, 0);
        let read = loop {
            match stream.reader.read(&mut out[start + header..]) {
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        let read = match read {
            Ok(read) => read,
            Err(error) => {
                out.truncate(start);
                log::error!(
                    "peer={} response body failed mid-stream: {error}",
                    self.out.peer
                );
                return self.abort_stream();
            }
        };
        if read == 0 {
            out.truncate(start);
            if stream.remaining.is_some_and(|left| left > 0) {
                log::error!(
                    "peer={} response body ended {} bytes short of its Content-Length",
                    self.out.peer,
                    stream.remaining.unwrap_or(0)
                );
                return self.abort_stream();
            }
            if stream.chunked {
                out.extend_from_slice(b"0\r\n\r\n");
            }
            self.out.streaming = None;
            return true;
        }
        out.truncate(start + header + read);
        if stream.chunked {
            out[start..start + header].copy_from_slice(&chunk_header(read));
            out.extend_from_slice(b"\r\n");
        }
        if let Some(left) = &mut stream.remaining {
            *left -= read as u64;
            if *left == 0 {
                self.out.streaming = None;
            }
        }
        true
    }

    /// Stops a stream that cannot finish; the connection closes after what was sent.
    fn abort_stream(&mut self) -> bool {
        self.out.streaming = None;
        self.closing = true;
        true
    }

    fn count_answered(&mut self, keep_alive: bool) {
        self.answered += 1;
        if !keep_alive {
            self.closing = true;
        }
    }

    /// The request a `blocking` handler must answer, for the driver to hand to the pool.
    pub(crate) fn take_job(&mut self) -> Option<OwnedRequest> {
        self.out
            .deferred
            .as_mut()
            .and_then(|deferred| deferred.job.take())
    }

    /// Encodes the response to the deferred request. Requests pipelined behind it are answered
    /// by the next [`process`](Self::process).
    pub(crate) fn complete(&mut self, mut response: Response, ctx: &mut Ctx<'_>) {
        let Some(deferred) = self.out.deferred.take() else {
            return;
        };
        let keep_alive = deferred.keep_alive
            && !ctx.shutting_down
            && !response.wants_close()
            && !response.needs_close_delimiting(deferred.version);
        let options = EncodeOptions {
            version: deferred.version,
            keep_alive,
            head_only: deferred.head_only,
            date: ctx.date,
        };
        if let Some(line) = &deferred.log {
            line.write(self.out.peer, &response);
        }
        self.out.streaming = response
            .encode(&options, self.out.output.writer(ctx.pool))
            .map(Box::new);
        self.count_answered(keep_alive);
    }

    /// Answers a request that cannot be read with its 4xx/5xx, then stops reading: after a
    /// framing error, where the next request would start is unknown.
    pub(crate) fn fail(&mut self, error: ParseError, ctx: &mut Ctx<'_>) {
        let status = error.status();
        log::debug!(
            "peer={} rejected request: {status} ({error})",
            self.out.peer
        );
        let mut response = error_response(status, &error);
        let options = EncodeOptions {
            version: Version::HTTP_11,
            keep_alive: false,
            // RFC 9110 §9.3.2: no body in the answer to HEAD, an error included.
            head_only: is_head_request(self.input.filled()),
            date: ctx.date,
        };
        response.encode(&options, self.out.output.writer(ctx.pool));
        self.closing = true;
    }

    /// The request in progress took too long: 408 if part of it arrived, else close quietly.
    pub(crate) fn timed_out(&mut self, ctx: &mut Ctx<'_>) {
        if self.phase() == Phase::Head || self.phase() == Phase::Body {
            self.fail(ParseError::Timeout, ctx);
        } else {
            self.closing = true;
        }
    }

    /// Bytes waiting to be written to the socket.
    pub(crate) fn pending_output(&self) -> &[u8] {
        self.out.output.pending()
    }

    /// Records that `n` pending bytes were written.
    pub(crate) fn wrote(&mut self, n: usize) {
        self.out.output.advance(n);
    }

    /// Whether requests that were held back (by the output limit) can now be answered.
    pub(crate) fn can_resume(&self, ctx: &Ctx<'_>) -> bool {
        let room = self.out.output.held() < ctx.app.config.max_pending_output;
        let stream_ready = self.out.streaming.is_some() && self.out.output.held() < STREAM_CHUNK;
        stream_ready
            || (!self.closing && self.out.deferred.is_none() && room && !self.input.is_empty())
    }

    /// Nothing more will happen on this connection: it is closing or the client stopped
    /// sending, and every response is written.
    pub(crate) fn is_done(&self) -> bool {
        (self.closing || self.read_closed)
            && self.out.deferred.is_none()
            && self.out.streaming.is_none()
            && self.out.output.pending().is_empty()
    }

    /// Whether the connection ends because of an error or `Connection: close` (as opposed to
    /// the client closing first): the driver then shuts down its write side and lingers.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing
    }

    /// Received bytes not yet consumed by an answered request, for tests that bound them.
    #[cfg(test)]
    pub(crate) fn buffered_input(&self) -> usize {
        self.input.filled().len()
    }

    /// What the connection is doing, for timers.
    pub(crate) fn phase(&self) -> Phase {
        if !self.out.output.pending().is_empty() || self.out.streaming.is_some() {
            Phase::Writing
        } else if self.out.deferred.is_some() {
            Phase::Busy
        } else if matches!(self.reading, Reading::Body { .. }) {
            Phase::Body
        } else if !self.input.is_empty() {
            Phase::Head
        } else {
            Phase::Idle
        }
    }

    /// Returns empty buffers to the pool, so an idle connection holds none.
    pub(crate) fn release_idle_buffers(&mut self, pool: &mut BufferPool) {
        self.input.release_if_empty(pool);
        self.out.output.release_if_empty(pool);
    }

    /// Returns all buffers to the pool; the connection is closing.
    pub(crate) fn release_buffers(&mut self, pool: &mut BufferPool) {
        self.input.release(pool);
        self.out.output.release(pool);
    }
}

impl Outgoing {
    /// Routes and answers one request (`request` is its head and body, contiguous), encoding
    /// the response into the output, unless its handler is `blocking`: then the request is
    /// copied out for the pool and answered later by [`Conn::complete`]. Returns whether the
    /// connection stays open, or `None` for a deferred request.
    fn answer(&mut self, ctx: &mut Ctx<'_>, head: &Head<'_, '_>, request: &[u8]) -> Option<bool> {
        let started = log::log_enabled!(target: ACCESS_LOG, log::Level::Info).then(Instant::now);
        let head_only = head.method == Method::HEAD;
        let mut response = ctx
            .app
            .respond(head, &request[head.len..], self.peer, ctx.run_blocking);
        if response.is_deferred() {
            self.deferred = Some(Box::new(Deferred {
                job: Some(OwnedRequest::new(request, head.len, self.peer)),
                keep_alive: head.keep_alive,
                version: head.version,
                head_only,
                log: started.map(|started| AccessLine::new(head, started)),
            }));
            return None;
        }
        let keep_alive = head.keep_alive
            && !ctx.shutting_down
            && !response.wants_close()
            && !response.needs_close_delimiting(head.version);
        let options = EncodeOptions {
            version: head.version,
            keep_alive,
            head_only,
            date: ctx.date,
        };
        if let Some(started) = started {
            AccessLine::new(head, started).write(self.peer, &response);
        }
        if let Some(stream) = response.encode(&options, self.output.writer(ctx.pool)) {
            self.streaming = Some(Box::new(stream));
        }
        Some(keep_alive)
    }
}

/// The log target of the one-line-per-request access log.
pub(crate) const ACCESS_LOG: &str = "carafe::access";

/// One access-log line: the request line, and when handling began.
#[derive(Debug)]
struct AccessLine {
    method: Method,
    target: String,
    version: Version,
    started: Instant,
}

impl AccessLine {
    fn new(head: &Head<'_, '_>, started: Instant) -> Self {
        Self {
            method: head.method.clone(),
            target: head.target.to_owned(),
            version: head.version,
            started,
        }
    }

    fn write(&self, peer: SocketAddr, response: &Response) {
        let bytes = if self.method == Method::HEAD {
            0
        } else {
            response.body().content_length().unwrap_or(0)
        };
        // The response's request id, if it has one (set by the app, or passed on from a proxy),
        // so the line can be matched with the proxy's log and the client's report. Only if it
        // is one printable word: it must not garble the line.
        let id = response
            .header("x-request-id")
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic()));
        log::info!(
            target: ACCESS_LOG,
            "{peer} \"{} {} {:?}\" {} {bytes} {:.3}ms{}{}",
            self.method,
            self.target,
            self.version,
            response.status().as_u16(),
            self.started.elapsed().as_secs_f64() * 1000.0,
            if id.is_some() { " id=" } else { "" },
            id.unwrap_or(""),
        );
    }
}

/// Whether the request at the start of `input` (complete or not) is a HEAD request: its line,
/// after any empty lines, starts with `HEAD `.
fn is_head_request(input: &[u8]) -> bool {
    let start = input
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(input.len());
    input[start..].starts_with(b"HEAD ")
}

/// An 8-hex-digit chunk-size line's length, placeholder included.
const CHUNK_HEADER: &[u8; 10] = b"00000000\r\n";

/// `size` as a chunk-size line of fixed width (`0000ffff\r\n`).
fn chunk_header(size: usize) -> [u8; 10] {
    let mut line = *CHUNK_HEADER;
    for (index, slot) in line[..8].iter_mut().enumerate() {
        let nibble = (size >> (4 * (7 - index))) & 0xf;
        *slot = b"0123456789abcdef"[nibble];
    }
    line
}

fn error_response(status: StatusCode, error: &ParseError) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    Response::text(format!("{} {reason}: {error}\n", status.as_u16())).with_status(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::RouteSpec;

    const DATE: &[u8; 29] = b"Sun, 06 Nov 1994 08:49:37 GMT";

    fn app() -> App {
        let mut app = App::new();
        app.route(RouteSpec::new(&[Method::GET], "/a"), |_req| "A")
            .unwrap();
        app.route(RouteSpec::new(&[Method::GET], "/b"), |_req| "BB")
            .unwrap();
        app.route(RouteSpec::new(&[Method::POST], "/echo"), |req| {
            req.body().to_vec()
        })
        .unwrap();
        app
    }

    /// Feeds `input` to a fresh connection in pieces ending at `splits`, collecting output.
    fn run(app: &App, input: &[u8], splits: &[usize]) -> (Vec<u8>, Conn) {
        let mut pool = BufferPool::default();
        let mut ctx = Ctx::in_memory(app, DATE, &mut pool);
        let mut conn = Conn::new(SocketAddr::from(([127, 0, 0, 1], 1)));
        let mut output = Vec::new();
        let mut fed = 0;
        for &end in splits.iter().chain(std::iter::once(&input.len())) {
            while fed < end && conn.wants_read(&ctx) {
                let buffer = conn.read_buffer(&mut ctx);
                assert!(
                    !buffer.is_empty(),
                    "the connection wants input but offers no space for it after {fed} bytes"
                );
                let n = buffer.len().min(end - fed);
                buffer[..n].copy_from_slice(&input[fed..fed + n]);
                fed += n;
                conn.received(n, &mut ctx);
                drain(&mut conn, &mut ctx, &mut output);
            }
        }
        (output, conn)
    }

    /// Takes the output as a client reading fast would, letting streamed bodies and
    /// held-back requests proceed; returns the most output that was pending at once.
    fn drain(conn: &mut Conn, ctx: &mut Ctx<'_>, output: &mut Vec<u8>) -> usize {
        let mut most = 0;
        loop {
            most = most.max(conn.pending_output().len());
            output.extend_from_slice(conn.pending_output());
            conn.wrote(conn.pending_output().len());
            if !conn.can_resume(ctx) {
                return most;
            }
            conn.process(ctx);
            // A partial request can leave nothing to do yet: stop when no output came.
            if conn.pending_output().is_empty() {
                return most;
            }
        }
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
        HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n\
        GET /b HTTP/1.1\r\nHost: x\r\n\r\n";

    fn pipeline_answer() -> String {
        [
            response("200 OK", TEXT, "A", ""),
            response("200 OK", BYTES, "hello", ""),
            response("200 OK", BYTES, "hello", ""),
            response("200 OK", TEXT, "BB", "").replace("BB", ""),
            response("200 OK", TEXT, "BB", ""),
        ]
        .concat()
    }

    #[test]
    fn pipelined_requests_are_answered_in_order() {
        let (output, conn) = run(&app(), PIPELINE.as_bytes(), &[]);
        assert_eq!(text(&output), pipeline_answer());
        assert_eq!(conn.answered(), 5);
        assert_eq!(conn.phase(), Phase::Idle);
    }

    #[test]
    fn every_two_way_split_gives_the_same_output() {
        let input = PIPELINE.as_bytes();
        let expected = pipeline_answer();
        for split in 0..=input.len() {
            let (output, _) = run(&app(), input, &[split]);
            assert_eq!(text(&output), expected, "split at {split}");
        }
    }

    #[test]
    fn every_three_way_split_of_a_chunked_request_gives_the_same_output() {
        let input = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n0\r\n\r\n";
        let expected = response("200 OK", BYTES, "Wiki", "");
        for first in 0..=input.len() {
            for second in first..=input.len() {
                let (output, _) = run(&app(), input, &[first, second]);
                assert_eq!(text(&output), expected, "splits at {first} and {second}");
            }
        }
    }

    #[test]
    fn one_byte_at_a_time_gives_the_same_output() {
        let input = PIPELINE.as_bytes();
        let splits: Vec<usize> = (1..input.len()).collect();
        let (output, _) = run(&app(), input, &splits);
        assert_eq!(text(&output), pipeline_answer());
    }

    #[test]
    fn expect_continue_is_answered_before_the_body() {
        let head =
            "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
        let input = format!("{head}abc");
        let (output, _) = run(&app(), input.as_bytes(), &[head.len()]);
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
        let mut app = app();
        app.config.max_body_size = 2;
        let input =
            "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
        let (output, conn) = run(&app, input.as_bytes(), &[]);
        let output = text(&output);
        assert!(
            output.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
            "{output}"
        );
        assert!(!output.contains("100 Continue"));
        assert!(output.contains("Connection: close\r\n"));
        assert!(conn.is_done());
    }

    #[test]
    fn chunked_body_over_the_limit_is_413() {
        let mut app = app();
        app.config.max_body_size = 4;
        let input = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";
        let (output, _) = run(&app, input.as_bytes(), &[]);
        assert!(
            text(&output).starts_with("HTTP/1.1 413 "),
            "{}",
            text(&output)
        );
    }

    #[test]
    fn a_trailer_section_within_its_cap_fits_in_the_read_buffer() {
        // Head, body and a trailer section (which may be as large as a head) must fit
        // together: with the read buffer capped at head and body limits plus one 8 KiB read,
        // the connection stopped offering space 8 KiB into the trailers and hung until its
        // timeout.
        let mut app = app();
        app.config.max_head_size = 13 * 1024;
        app.config.max_body_size = 4;
        let trailer = format!("X-Long: {}\r\n", "a".repeat(12 * 1024));
        let input = format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
             4\r\nWiki\r\n0\r\n{trailer}\r\n"
        );
        let (output, _) = run(&app, input.as_bytes(), &[]);
        assert_eq!(text(&output), response("200 OK", BYTES, "Wiki", ""));
    }

    #[test]
    fn a_malformed_request_is_400_and_ends_the_connection() {
        let input = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nBad Header: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n";
        let (output, conn) = run(&app(), input.as_bytes(), &[]);
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
        assert!(conn.is_done());
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
            let (output, conn) = run(&app(), input, &[]);
            let output = text(&output);
            assert!(output.ends_with("\r\n\r\n"), "{output}");
            assert_eq!(output.matches("\r\n\r\n").count(), 1, "{output}");
            assert!(output.contains("Content-Length: "), "as for GET: {output}");
            assert!(conn.is_done());
        }
        let (output, _) = run(&app(), b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", &[]);
        assert!(
            !text(&output).ends_with("\r\n\r\n"),
            "a GET's error has its body"
        );
    }

    #[test]
    fn connection_close_stops_after_that_response() {
        let input = "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
        let (output, conn) = run(&app(), input.as_bytes(), &[]);
        assert_eq!(
            text(&output),
            response("200 OK", TEXT, "A", "Connection: close\r\n")
        );
        assert!(conn.is_done());
    }

    #[test]
    fn http_10_closes_unless_keep_alive() {
        let (output, conn) = run(&app(), b"GET /a HTTP/1.0\r\n\r\n", &[]);
        assert_eq!(
            text(&output),
            response("200 OK", TEXT, "A", "Connection: close\r\n")
        );
        assert!(conn.is_done());
        let (output, conn) = run(
            &app(),
            b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            &[],
        );
        assert_eq!(
            text(&output),
            response("200 OK", TEXT, "A", "Connection: keep-alive\r\n")
        );
        assert!(!conn.is_done());
    }

    #[test]
    fn shutting_down_answers_with_close() {
        let app = app();
        let mut pool = BufferPool::default();
        let mut ctx = Ctx {
            shutting_down: true,
            ..Ctx::in_memory(&app, DATE, &mut pool)
        };
        let mut conn = Conn::new(SocketAddr::from(([127, 0, 0, 1], 1)));
        let input = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
        conn.read_buffer(&mut ctx)[..input.len()].copy_from_slice(input);
        conn.received(input.len(), &mut ctx);
        assert!(text(conn.pending_output()).contains("Connection: close\r\n"));
        assert!(conn.is_closing());
    }

    #[test]
    fn unsent_output_over_the_limit_holds_back_later_requests() {
        let mut app = app();
        app.config.max_pending_output = 1;
        let input = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut pool = BufferPool::default();
        let mut ctx = Ctx::in_memory(&app, DATE, &mut pool);
        let mut conn = Conn::new(SocketAddr::from(([127, 0, 0, 1], 1)));
        conn.read_buffer(&mut ctx)[..input.len()].copy_from_slice(input);
        conn.received(input.len(), &mut ctx);
        assert_eq!(
            conn.answered(),
            1,
            "the second request waits for the first response to drain"
        );
        assert!(!conn.wants_read(&ctx));
        conn.wrote(conn.pending_output().len());
        assert!(conn.can_resume(&ctx));
        conn.process(&mut ctx);
        assert_eq!(conn.answered(), 2);
    }

    #[test]
    fn a_slow_head_is_parsed_once_per_line_not_per_byte() {
        let mut app = app();
        app.config.max_head_size = 64;
        // 100 bytes with no line end: the limit check, not a parse, ends it.
        let input = [b'a'; 100];
        let splits: Vec<usize> = (1..input.len()).collect();
        let (output, _) = run(&app, &input, &splits);
        assert!(
            text(&output).starts_with("HTTP/1.1 414 ")
                || text(&output).starts_with("HTTP/1.1 431 "),
            "{}",
            text(&output)
        );
    }

    #[test]
    fn a_head_sent_a_byte_at_a_time_is_looked_at_a_bounded_number_of_times() {
        // Issue 11, defect 10: httparse restarts from the first byte, and it ran again at every
        // line end (leading empty lines are all line ends): a 16 KB head sent a byte at a time
        // cost quadratic work.
        let mut app = app();
        app.config.max_head_size = 64 * 1024;
        let mut input = "\r\n".repeat(8000);
        input.push_str("GET /a HTTP/1.1\r\nHost: x\r\n");
        for n in 0..90 {
            input.push_str(&format!("X-{n}: {}\r\n", "v".repeat(150)));
        }
        input.push_str("\r\n");
        let splits: Vec<usize> = (1..input.len()).collect();
        crate::h1::head::LOOKED_AT.with(|count| count.set(0));
        let (output, _) = run(&app, input.as_bytes(), &splits);
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
        let (output, conn) = run(&app(), input, &[10, 20]);
        assert!(
            text(&output).starts_with("HTTP/1.1 400 "),
            "{}",
            text(&output)
        );
        assert!(conn.is_done());
        let (output, _) = run(&app(), b"GET /a FOO/1.1\r\n", &[5]);
        assert!(
            text(&output).starts_with("HTTP/1.1 400 "),
            "{}",
            text(&output)
        );
    }

    #[test]
    fn timeout_answers_408_only_mid_request() {
        let app = app();
        let mut pool = BufferPool::default();
        let mut ctx = Ctx::in_memory(&app, DATE, &mut pool);
        let mut conn = Conn::new(SocketAddr::from(([127, 0, 0, 1], 1)));
        conn.timed_out(&mut ctx);
        assert!(
            conn.pending_output().is_empty(),
            "an idle connection closes quietly"
        );
        assert!(conn.is_done());
        let mut conn = Conn::new(SocketAddr::from(([127, 0, 0, 1], 1)));
        conn.read_buffer(&mut ctx)[..3].copy_from_slice(b"GET");
        conn.received(3, &mut ctx);
        assert_eq!(conn.phase(), Phase::Head);
        conn.timed_out(&mut ctx);
        assert!(text(conn.pending_output()).starts_with("HTTP/1.1 408 Request Timeout\r\n"));
    }

    /// An app streaming `len` bytes (`x`) from a reader, declared or not, and one failing.
    fn streaming_app() -> App {
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
        let mut app = app();
        app.route(RouteSpec::new(&[Method::GET], "/sized/{len}"), |req| {
            let len: u64 = req.param_as("len")?;
            Ok::<_, crate::HttpError>(Response::stream(std::io::repeat(b'x').take(len), Some(len)))
        })
        .unwrap();
        app.route(RouteSpec::new(&[Method::GET], "/unsized/{len}"), |req| {
            let len: u64 = req.param_as("len")?;
            Ok::<_, crate::HttpError>(Response::stream(std::io::repeat(b'x').take(len), None))
        })
        .unwrap();
        app.route(RouteSpec::new(&[Method::GET], "/short"), |_req| {
            Response::stream(std::io::repeat(b's').take(10), Some(1000))
        })
        .unwrap();
        app.route(RouteSpec::new(&[Method::GET], "/failing"), |_req| {
            Response::stream(Failing(100_000), None)
        })
        .unwrap();
        app
    }

    use std::io::Read as _;

    #[test]
    fn a_sized_stream_is_sent_whole_in_bounded_pieces() {
        let app = streaming_app();
        let mut pool = BufferPool::default();
        let mut ctx = Ctx::in_memory(&app, DATE, &mut pool);
        let mut conn = Conn::new(SocketAddr::from(([127, 0, 0, 1], 1)));
        let request =
            b"GET /sized/3000000 HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n";
        conn.read_buffer(&mut ctx)[..request.len()].copy_from_slice(request);
        conn.received(request.len(), &mut ctx);
        let mut output = Vec::new();
        let most = drain(&mut conn, &mut ctx, &mut output);
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
        assert_eq!(conn.answered(), 2);
    }

    #[test]
    fn an_unsized_stream_is_chunked_on_http_11_and_close_delimited_on_http_10() {
        let app = streaming_app();
        let (output, conn) = run(
            &app,
            b"GET /unsized/200000 HTTP/1.1\r\nHost: x\r\n\r\n",
            &[],
        );
        let head_end = text(&output).find("\r\n\r\n").unwrap() + 4;
        assert!(text(&output[..head_end]).contains("Transfer-Encoding: chunked\r\n"));
        let mut body = output[head_end..].to_vec();
        let mut decoder = ChunkedDecoder::new(0, ChunkedLimits::unlimited());
        let filled = body.len();
        assert_eq!(
            decoder.decode(&mut body, filled),
            Ok(true),
            "well-formed chunks, then the last chunk"
        );
        assert_eq!(decoder.body_end(), 200_000);
        assert!(!conn.is_done(), "the connection stays open");

        let (output, conn) = run(
            &app,
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
        assert!(conn.is_done());
    }

    #[test]
    fn head_requests_never_read_the_stream() {
        let app = streaming_app();
        let (output, conn) = run(&app, b"HEAD /sized/5000 HTTP/1.1\r\nHost: x\r\n\r\n", &[]);
        let text = text(&output);
        assert!(
            text.contains("Content-Length: 5000\r\n") && text.ends_with("\r\n\r\n"),
            "{text}"
        );
        assert!(conn.out.streaming.is_none());
    }

    #[test]
    fn a_failing_or_short_stream_closes_the_connection() {
        for path in ["/failing", "/short"] {
            let request =
                format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
            let (output, conn) = run(&streaming_app(), request.as_bytes(), &[]);
            assert!(
                conn.is_done(),
                "{path}: the framing cannot be kept, so the connection ends"
            );
            assert_eq!(
                text(&output).matches("HTTP/1.1 ").count(),
                1,
                "{path}: nothing answered after"
            );
        }
    }

    #[test]
    fn chunk_headers_are_fixed_width_hex() {
        assert_eq!(&chunk_header(0xffff), b"0000ffff\r\n");
        assert_eq!(&chunk_header(65536), b"00010000\r\n");
        assert_eq!(&chunk_header(1), b"00000001\r\n");
    }
}
