//! One HTTP/1.1 connection as a state machine: bytes in, responses out, no socket.
//!
//! A [`Connection`] owns a connection's buffers, its parse state and its timer policy, as
//! quinn-proto's connection does. Its driver (the mio loop in `server/`, or the in-memory one
//! in `memory.rs`) feeds it with `handle_*` calls and acts on what the `poll_*` calls return:
//!
//! - inputs: [`handle_read`](Connection::handle_read) (bytes arrived in
//!   [`read_buffer`](Connection::read_buffer)), [`handle_eof`](Connection::handle_eof),
//!   [`handle_written`](Connection::handle_written), [`handle_timeout`](Connection::handle_timeout),
//!   [`handle_job_done`](Connection::handle_job_done);
//! - outputs: [`poll_transmit`](Connection::poll_transmit) (bytes to write),
//!   [`poll_job`](Connection::poll_job) (work for the blocking pool),
//!   [`poll_timer`](Connection::poll_timer) (the deadline it wants next),
//!   [`poll_shutdown`](Connection::poll_shutdown) (shut the write side now), and whether it
//!   [`is_done`](Connection::is_done).
//!
//! Each request is handed upward through [`Dispatch`], which answers it at once
//! ([`Answer::Ready`]) or with a job for another thread ([`Answer::Blocking`]). Everything
//! else is here: framing, keep-alive, pipelining (responses in request order, all responses
//! to one read batched into one write), `100 Continue`, streaming a body from its source, and
//! the error response that ends a connection after a malformed request.
//!
//! ```text
//!            ┌──────────── next pipelined request ◄───────────────┐
//!            ▼                                                     │
//! read ──► Head ──► Body ──► dispatch ─┬─ Ready ──► encode ────────┤
//!                                      ├─ Blocking ──► Blocked ────┤ (handle_job_done)
//!                                      └─ (a body from a source) ──► Streaming ──┘
//! an error, `Connection: close`, HTTP/1.0, shutdown ──► Closing ──► Lingering ──► Closed
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, Version};

use super::body::ChunkedDecoder;
use super::buffer::{BUFFER_SIZE, BufferPool, InputBuffer, OutputBuffer};
use super::date::HTTP_DATE_LEN;
use super::encode::{Body, CHUNK_HEADER_LEN, EncodeOptions, Outgoing, Streaming, chunk_header};
use super::error::ParseError;
use super::head::{self, BodyKind, Head, HeadOffsets, HostMemo, PartialHead, parse_head};
use super::limits::{Limits, Timeouts};
use super::tunnel::{Offload, Tunnel, Wake};

/// How much of a streamed body is read from its source per pull, and the output held below
/// which the next pull happens: memory per download stays near 64 KiB, whatever its size.
const STREAM_CHUNK: usize = 64 * 1024;

/// Most bytes read and dropped from a lingering connection before it is closed anyway.
const LINGER_BYTES: usize = 1024 * 1024;

/// The layer above, as a connection sees it: what answers a request.
pub(crate) trait Dispatch {
    /// Work that must run off the event loop, carrying everything it needs.
    type Job: Send + 'static;

    /// Answers one request: its head, its (decoded) body, and the address it came from.
    fn dispatch(&self, head: &Head<'_, '_>, body: &[u8], peer: SocketAddr) -> Answer<Self::Job>;

    /// Runs a job that [`dispatch`](Self::dispatch) handed out, where blocking is fine:
    /// on `pool`, which also takes the callbacks of a live connection it answers with.
    fn run(&self, job: Self::Job, pool: &Arc<dyn Offload>) -> Outgoing;

    /// The answer to a request refused for `error` once its head was read (a body larger
    /// than the limit, told by its Content-Length): the layer above may render its own error
    /// page for it. The connection closes after it either way, its body unread.
    fn refuse(&self, head: &Head<'_, '_>, error: &ParseError, peer: SocketAddr) -> Outgoing {
        let _ = (head, peer);
        plain_refusal(error)
    }
}

/// The plain-text answer to a request that cannot be read: `413 Payload Too Large: ...`.
pub(crate) fn plain_refusal(error: &ParseError) -> Outgoing {
    let status = error.status();
    let reason = status.canonical_reason().unwrap_or("Error");
    Outgoing::text(status, format!("{} {reason}: {error}\n", status.as_u16()))
}

/// How a request is answered.
#[derive(Debug)]
pub(crate) enum Answer<J> {
    /// Here is the response.
    Ready(Outgoing),
    /// The response comes later, from a job that must not run on the event loop.
    Blocking(J),
}

/// What a connection needs from its driver, lent for each call.
pub(crate) struct Ctx<'w, D> {
    /// What answers requests.
    pub dispatch: &'w D,
    pub limits: &'w Limits,
    /// The current `Date` header value.
    pub date: &'w [u8; HTTP_DATE_LEN],
    pub buffers: &'w mut BufferPool,
    /// The last valid Host value the worker saw.
    pub hosts: &'w mut HostMemo,
    /// The server is shutting down: answer what has arrived, with `Connection: close`.
    pub shutting_down: bool,
}

/// The kinds of deadline a connection asks for; each has one duration for a whole worker
/// (from [`Timeouts`]), which is what lets the driver keep them in O(1) lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimerKind {
    /// A request head started arriving and must finish (slowloris).
    Header = 0,
    /// A body is arriving; time allowed between reads.
    Body = 1,
    /// A keep-alive connection waiting for its next request.
    Idle = 2,
    /// Output is pending; time allowed between writes.
    Write = 3,
    /// After the last response of a closing connection, time for the client's last bytes.
    Linger = 4,
    /// A live connection's quiet interval: a WebSocket ping, an event stream's heartbeat.
    Ping = 5,
}

impl TimerKind {
    /// How many kinds there are.
    pub(crate) const COUNT: usize = 6;

    /// Every kind, in the order of their values.
    pub(crate) const ALL: [Self; Self::COUNT] = [
        Self::Header,
        Self::Body,
        Self::Idle,
        Self::Write,
        Self::Linger,
        Self::Ping,
    ];
}

impl Timeouts {
    /// The duration of a kind of deadline.
    pub(crate) fn of(&self, kind: TimerKind) -> Duration {
        match kind {
            TimerKind::Header => self.header,
            TimerKind::Body => self.body,
            TimerKind::Idle => self.keep_alive,
            TimerKind::Write => self.write,
            TimerKind::Linger => self.linger,
            TimerKind::Ping => self.ping,
        }
    }
}

/// The deadline a connection wants: its kind, and a count that changes whenever a deadline of
/// the same kind must start again (each read of a body, each write, each new request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timer {
    pub kind: TimerKind,
    pub epoch: u64,
}

/// Where a connection is.
#[derive(Debug)]
enum State<J> {
    /// Reading a request head, or idle between requests while the input is empty. A head
    /// that arrives whole (the usual case) is parsed at once; one that arrives in pieces is
    /// followed by a [`PartialHead`] (boxed: rare, and idle connections stay small), so each
    /// byte is looked at a bounded number of times.
    Head(Option<Box<PartialHead>>),
    /// The head at the front of the input is parsed; its body is arriving.
    Body(Box<PendingBody>),
    /// A blocking job answers the request; requests pipelined behind it wait.
    Blocked(Box<Blocked<J>>),
    /// A response body is being read from its source; requests pipelined behind it wait.
    Streaming(Box<Stream>),
    /// The last response is queued (after an error, `Connection: close`, HTTP/1.0 without
    /// keep-alive, or a shutdown): nothing more is answered, and once the output is written
    /// the write side is shut.
    Closing,
    /// Our side is shut: what the client still sends is read and dropped until it closes too,
    /// so its unread bytes do not turn our close into a reset that destroys the response
    /// before the client reads it (RFC 9112 §9.6). Bounded in time and bytes.
    Lingering { dropped: usize },
    /// The connection left request/response HTTP after its last head: a WebSocket, or an
    /// event stream. Its tunnel reads and writes; requests are no longer parsed.
    Live(Box<Live>),
    /// Nothing more will happen: the driver closes the socket.
    Closed,
}

/// A live connection's protocol, and whether its driver has given it a way to be woken.
#[derive(Debug)]
struct Live {
    tunnel: Box<dyn Tunnel>,
    attached: bool,
}

/// What reading a request came to, acted on once the input is back in place.
enum Step {
    /// A request was answered; it took this many bytes of input.
    Answered(usize),
    /// The state moved on, nothing consumed (a head whose body is to come).
    Progress,
    /// More input is needed.
    Wait,
    /// The request cannot be read.
    Fail(ParseError),
    /// The request was refused with an answer of the layer above, and the connection closes.
    Refused,
}

/// A request whose body is still arriving.
#[derive(Debug)]
struct PendingBody {
    /// The head, kept as offsets: the input buffer may move between reads.
    head: HeadOffsets,
    framing: Framing,
}

#[derive(Debug)]
enum Framing {
    /// The request is complete once the input holds `end` bytes.
    Length { end: usize },
    /// A chunked body, being decoded in place behind the head.
    Chunked(ChunkedDecoder),
}

/// A request answered by a blocking job.
#[derive(Debug)]
struct Blocked<J> {
    /// The job, until the driver takes it.
    job: Option<J>,
    /// How to encode its response when it comes back.
    request: RequestFacts,
}

/// A response body being read from its source.
#[derive(Debug)]
struct Stream {
    body: Streaming,
    /// Whether the connection ends after it.
    last: bool,
}

/// What encoding a request's response depends on, kept beyond its head.
#[derive(Debug)]
struct RequestFacts {
    version: Version,
    keep_alive: bool,
    head_only: bool,
    /// Its access-log line, kept only when that log is on.
    log: Option<AccessLine>,
}

impl RequestFacts {
    fn of(head: &Head<'_, '_>) -> Self {
        let log = log::log_enabled!(target: ACCESS_LOG, log::Level::Info)
            .then(|| AccessLine::new(head, Instant::now()));
        Self {
            version: head.version,
            keep_alive: head.keep_alive,
            head_only: head.method == Method::HEAD,
            log,
        }
    }
}

/// One HTTP/1.1 connection, without its socket.
#[derive(Debug)]
pub(crate) struct Connection<J> {
    /// Received bytes not yet consumed by an answered request. Apart from the rest, so that
    /// a parsed head (which borrows the input) and the state it moves can be borrowed at once.
    input: InputBuffer,
    /// The client has shut down its sending side; requests already received are answered.
    read_closed: bool,
    /// Reads that moved bytes, for restarting deadlines.
    reads: u64,
    exchange: Exchange<J>,
}

/// Everything of a connection but its input: where it is, and what it writes.
#[derive(Debug)]
struct Exchange<J> {
    state: State<J>,
    output: OutputBuffer,
    peer: SocketAddr,
    /// The driver must shut down the socket's write side (once).
    shutdown_due: bool,
    /// Requests answered.
    answered: u64,
    /// Writes that moved bytes, for restarting deadlines.
    writes: u64,
}

impl<J> Connection<J> {
    pub(crate) fn new(peer: SocketAddr) -> Self {
        Self {
            input: InputBuffer::default(),
            read_closed: false,
            reads: 0,
            exchange: Exchange {
                state: State::Head(None),
                output: OutputBuffer::default(),
                peer,
                shutdown_due: false,
                answered: 0,
                writes: 0,
            },
        }
    }

    /// The client's address.
    pub(crate) fn peer(&self) -> SocketAddr {
        self.exchange.peer
    }

    /// Requests answered so far.
    pub(crate) fn answered(&self) -> u64 {
        self.exchange.answered
    }

    // ---------------------------------------------------------------------------------------
    // Outputs
    // ---------------------------------------------------------------------------------------

    /// Bytes waiting to be written to the socket.
    pub(crate) fn poll_transmit(&self) -> &[u8] {
        self.exchange.output.pending()
    }

    /// Whether bytes wait to be written: [`poll_transmit`](Self::poll_transmit) is not empty.
    pub(crate) fn has_output(&self) -> bool {
        !self.exchange.output.is_written()
    }

    /// The request a blocking job must answer, for the driver to run off the loop.
    pub(crate) fn poll_job(&mut self) -> Option<J> {
        match &mut self.exchange.state {
            State::Blocked(blocked) => blocked.job.take(),
            _ => None,
        }
    }

    /// True once, when the driver must shut down the socket's write side: the last response
    /// is written, and the connection lingers for what the client still sends.
    pub(crate) fn poll_shutdown(&mut self) -> bool {
        std::mem::take(&mut self.exchange.shutdown_due)
    }

    /// The deadline the connection wants now, if any: none while a blocking job answers.
    pub(crate) fn poll_timer(&self) -> Option<Timer> {
        let (kind, epoch) = match &self.exchange.state {
            State::Closed => return None,
            State::Lingering { .. } => (TimerKind::Linger, 0),
            _ if !self.exchange.output.is_written() => (TimerKind::Write, self.exchange.writes),
            State::Streaming(_) => (TimerKind::Write, self.exchange.writes),
            State::Live(live) if live.tunnel.wants_timer() => {
                // Restarted by anything heard from the client or written to it.
                (
                    TimerKind::Ping,
                    self.reads.wrapping_add(self.exchange.writes),
                )
            }
            State::Live(_) | State::Blocked(_) => return None,
            State::Body(_) => (TimerKind::Body, self.reads),
            State::Head(_) | State::Closing if !self.input.is_empty() => {
                (TimerKind::Header, self.exchange.answered)
            }
            State::Head(_) | State::Closing => (TimerKind::Idle, self.exchange.answered),
        };
        Some(Timer { kind, epoch })
    }

    /// Whether the driver should read from the socket now: not once the connection is
    /// closing, not while a blocking job answers, and not while the output held is over the
    /// limit, so that a client pipelining without reading its responses cannot make the
    /// server buffer without bound.
    pub(crate) fn wants_read(&self, limits: &Limits) -> bool {
        !self.read_closed
            && match self.exchange.state {
                State::Head(_) | State::Body(_) | State::Streaming(_) => {
                    self.exchange.output.held() < limits.max_pending_output
                }
                State::Lingering { .. } => true,
                State::Live(ref live) => {
                    live.tunnel.wants_read()
                        && self.exchange.output.held() < limits.max_pending_output
                }
                State::Blocked(_) | State::Closing | State::Closed => false,
            }
    }

    /// Nothing more will happen on this connection: it is closed, or the client stopped
    /// sending and every response is written.
    pub(crate) fn is_done(&self) -> bool {
        match self.exchange.state {
            State::Closed => true,
            State::Blocked(_) | State::Streaming(_) | State::Lingering { .. } | State::Live(_) => {
                false
            }
            State::Head(_) | State::Body(_) | State::Closing => {
                self.read_closed && self.exchange.output.is_written()
            }
        }
    }

    /// Whether the connection will answer nothing more: after its last response, or closed.
    #[cfg(test)]
    pub(crate) fn is_closing(&self) -> bool {
        matches!(
            self.exchange.state,
            State::Closing | State::Lingering { .. } | State::Closed
        )
    }

    /// Whether the connection has nothing in progress: between requests, nothing buffered.
    #[inline]
    pub(crate) fn is_idle(&self) -> bool {
        matches!(self.exchange.state, State::Head(_))
            && self.input.is_empty()
            && self.exchange.output.is_written()
    }

    /// When the connection [`is_idle`](Self::is_idle) and the client may send more (the usual
    /// end of a turn), the epoch of the idle deadline it wants: then it is not
    /// [`is_done`](Self::is_done), [`poll_timer`](Self::poll_timer) is `Idle` with that epoch,
    /// there is no job, nothing live, nothing to write, and both buffers are empty, so its
    /// driver asks nothing else and gives them back with [`release_idle_buffers`].
    ///
    /// [`release_idle_buffers`]: Self::release_idle_buffers
    #[inline]
    pub(crate) fn awaiting_epoch(&self) -> Option<u64> {
        (!self.read_closed && self.is_idle()).then_some(self.exchange.answered)
    }

    /// [`release_buffers`](Self::release_buffers) for a connection that
    /// [`is_idle`](Self::is_idle): both are empty, so whatever it holds goes back.
    #[inline]
    pub(crate) fn release_idle_buffers(&mut self, buffers: &mut BufferPool) {
        self.input.give_back(buffers);
        self.exchange.output.give_back(buffers);
    }

    // ---------------------------------------------------------------------------------------
    // Inputs
    // ---------------------------------------------------------------------------------------

    /// Space to read into, sized for the request being read: a head, a body of known length,
    /// or what a chunked body may need; the worker's scratch space while lingering.
    pub(crate) fn read_buffer<'a, D>(&'a mut self, ctx: &'a mut Ctx<'_, D>) -> &'a mut [u8] {
        let limits = ctx.limits;
        let want = match &mut self.exchange.state {
            State::Lingering { .. } => return ctx.buffers.scratch(),
            State::Body(pending) => match &mut pending.framing {
                Framing::Length { end } => *end,
                Framing::Chunked(decoder) => {
                    if decoder.reclaimable() > 0 {
                        let filled = self.input.filled().len();
                        let kept = decoder.compact(self.input.filled_mut(), filled);
                        self.input.truncate(kept);
                    }
                    // Room for the head, the decoded body and the raw bytes the decoder may
                    // still wait on, so it never runs out of space before it can finish or
                    // reject the body.
                    let most = limits.max_request_buffer().saturating_add(BUFFER_SIZE);
                    (self.input.filled().len() + BUFFER_SIZE).min(most)
                }
            },
            _ => limits.head.max_head,
        };
        self.input.spare(ctx.buffers, want)
    }

    /// Records `n` bytes read into [`read_buffer`](Self::read_buffer) and answers every
    /// request they complete.
    pub(crate) fn handle_read<D: Dispatch<Job = J>>(&mut self, n: usize, ctx: &mut Ctx<'_, D>) {
        self.reads += 1;
        if let State::Lingering { dropped } = &mut self.exchange.state {
            *dropped += n;
            if *dropped > LINGER_BYTES {
                self.exchange.state = State::Closed;
            }
            return;
        }
        self.input.commit(n);
        self.process(ctx);
    }

    /// Records that the client shut down its sending side. A partial request can never
    /// complete now and is dropped; complete ones already received are still answered.
    pub(crate) fn handle_eof(&mut self) {
        self.read_closed = true;
        match &mut self.exchange.state {
            State::Lingering { .. } => self.exchange.state = State::Closed,
            // A live connection says goodbye its own way; with no buffers at hand here, what
            // it writes waits in a small allocation of the output buffer's own.
            State::Live(live) => {
                let mut out = Vec::new();
                live.tunnel.handle_eof(&mut out);
                if live.tunnel.is_done() && out.is_empty() {
                    self.exchange.state = State::Closed;
                } else {
                    self.exchange.output.append(&out);
                }
            }
            _ => {}
        }
    }

    /// Records that `n` pending bytes were written, and lets the requests and the streamed
    /// body that waited for the output to drain go on.
    pub(crate) fn handle_written<D: Dispatch<Job = J>>(&mut self, n: usize, ctx: &mut Ctx<'_, D>) {
        self.exchange.output.advance(n);
        self.exchange.writes += 1;
        // Usually every request read is answered already: then there is nothing to resume.
        if self.has_work() {
            self.process(ctx);
        }
    }

    /// Whether `process` may do something: requests left in the input (held back by the
    /// output limit, or pipelined behind a stream), a stream to pull, a close to go on with.
    #[inline]
    fn has_work(&self) -> bool {
        !self.input.is_empty()
            || matches!(
                self.exchange.state,
                State::Streaming(_) | State::Closing | State::Live(_)
            )
    }

    /// A deadline of `kind` passed: 408 if part of a request arrived, else close.
    pub(crate) fn handle_timeout<D>(&mut self, kind: TimerKind, ctx: &mut Ctx<'_, D>) {
        if let (State::Live(live), TimerKind::Ping) = (&mut self.exchange.state, kind) {
            live.tunnel
                .handle_timeout(self.exchange.output.writer(ctx.buffers));
            self.settle_live();
            return;
        }
        let partial = match self.exchange.state {
            State::Head(_) => !self.input.is_empty(),
            State::Body(_) => true,
            _ => false,
        };
        if partial && matches!(kind, TimerKind::Header | TimerKind::Body) {
            log::debug!("peer={} request timed out ({kind:?})", self.exchange.peer);
            self.fail(ParseError::Timeout, ctx);
        } else {
            self.close();
        }
    }

    /// The blocking job's response: it is encoded, then the requests pipelined behind it
    /// are answered.
    pub(crate) fn handle_job_done<D: Dispatch<Job = J>>(
        &mut self,
        response: Outgoing,
        ctx: &mut Ctx<'_, D>,
    ) {
        let State::Blocked(blocked) =
            std::mem::replace(&mut self.exchange.state, State::Head(None))
        else {
            return;
        };
        let request = blocked.request;
        self.exchange.send(response, &request, ctx);
        self.process(ctx);
    }

    /// Whether the connection went live and waits for the driver's [`attach`](Self::attach).
    pub(crate) fn needs_wake(&self) -> bool {
        matches!(&self.exchange.state, State::Live(live) if !live.attached)
    }

    /// Gives a live connection the way to wake its driver from other threads.
    pub(crate) fn attach(&mut self, wake: Arc<dyn Wake>) {
        if let State::Live(live) = &mut self.exchange.state {
            live.tunnel.attach(wake);
            live.attached = true;
        }
    }

    /// Something was pushed to a live connection: it writes it.
    pub(crate) fn handle_push<D: Dispatch<Job = J>>(&mut self, ctx: &mut Ctx<'_, D>) {
        if let State::Live(live) = &mut self.exchange.state {
            live.tunnel
                .handle_push(self.exchange.output.writer(ctx.buffers));
            self.settle_live();
        }
    }

    /// The server is shutting down: a live connection says goodbye (a close frame, the end
    /// of its stream) and closes once that is written and, for a WebSocket, answered.
    pub(crate) fn handle_shutdown<D>(&mut self, ctx: &mut Ctx<'_, D>) {
        if let State::Live(live) = &mut self.exchange.state {
            live.tunnel
                .handle_shutdown(self.exchange.output.writer(ctx.buffers));
            self.settle_live();
        }
    }

    /// Whether the connection is live (a WebSocket or an event stream).
    pub(crate) fn is_live(&self) -> bool {
        matches!(self.exchange.state, State::Live(_))
    }

    /// A live connection whose tunnel is over closes once its output is written.
    fn settle_live(&mut self) {
        if matches!(&self.exchange.state, State::Live(live) if live.tunnel.is_done()) {
            self.exchange.state = State::Closing;
            // Nothing left to write (a timeout, say): the close starts now, not when some
            // later event would pass through `process`.
            if self.exchange.output.is_written() {
                self.start_lingering();
            }
        }
    }

    /// Ends the connection at once: the driver closes the socket.
    pub(crate) fn close(&mut self) {
        self.exchange.state = State::Closed;
    }

    /// Gives back the buffers it holds when they are empty, so an idle connection holds none;
    /// all of them once it is done.
    pub(crate) fn release_buffers(&mut self, buffers: &mut BufferPool) {
        if matches!(self.exchange.state, State::Lingering { .. } | State::Closed) {
            self.input.release(buffers);
            self.exchange.output.release(buffers);
        } else {
            self.input.release_if_empty(buffers);
            self.exchange.output.release_if_empty(buffers);
        }
    }

    // ---------------------------------------------------------------------------------------
    // The machine
    // ---------------------------------------------------------------------------------------

    /// Answers every complete request in the input, in order, until the input runs out, the
    /// connection starts closing, a request goes to the blocking pool, or the output held
    /// reaches the limit; pulls a streamed body while its output drains.
    fn process<D: Dispatch<Job = J>>(&mut self, ctx: &mut Ctx<'_, D>) {
        loop {
            let progressed = match self.exchange.state {
                State::Streaming(_) => self.exchange.pull_from_source(ctx),
                State::Head(_) | State::Body(_)
                    if self.exchange.output.held() >= ctx.limits.max_pending_output =>
                {
                    false
                }
                State::Head(_) => self.read_head(ctx),
                State::Body(_) => self.read_body(ctx),
                State::Live(_) => {
                    self.read_live(ctx);
                    false
                }
                State::Closing => {
                    if self.exchange.output.is_written() {
                        // Nothing more is answered: what is left of the input goes too.
                        self.input.release(ctx.buffers);
                        self.start_lingering();
                    }
                    false
                }
                State::Blocked(_) | State::Lingering { .. } | State::Closed => false,
            };
            if !progressed {
                return;
            }
        }
    }

    /// Our last response is out: shut the write side, unless the client has gone already.
    fn start_lingering(&mut self) {
        if self.read_closed {
            self.exchange.state = State::Closed;
        } else {
            self.exchange.state = State::Lingering { dropped: 0 };
            self.exchange.shutdown_due = true;
        }
    }

    /// Hands what arrived to the live connection's tunnel.
    #[cold]
    fn read_live<D>(&mut self, ctx: &mut Ctx<'_, D>) {
        let State::Live(live) = &mut self.exchange.state else {
            return;
        };
        if !self.input.is_empty() {
            let taken = live.tunnel.handle_read(
                self.input.filled(),
                self.exchange.output.writer(ctx.buffers),
            );
            self.input.consume(taken);
        }
        self.settle_live();
    }

    /// Tries to parse a head; answers the request if its body is already here too.
    fn read_head<D: Dispatch<Job = J>>(&mut self, ctx: &mut Ctx<'_, D>) -> bool {
        let step = self.exchange.head_step(self.input.filled(), ctx);
        self.take_step(step, ctx)
    }

    /// Advances a body; answers the request once it is complete.
    fn read_body<D: Dispatch<Job = J>>(&mut self, ctx: &mut Ctx<'_, D>) -> bool {
        let State::Body(pending) = &mut self.exchange.state else {
            return false;
        };
        let filled = self.input.filled().len();
        let (body_end, consumed) = match &mut pending.framing {
            Framing::Length { end } if filled >= *end => (*end, *end),
            Framing::Length { .. } => return false,
            Framing::Chunked(decoder) => match decoder.decode(self.input.filled_mut(), filled) {
                Ok(true) => (decoder.body_end(), decoder.consumed()),
                Ok(false) => return false,
                Err(error) => return self.take_step(Step::Fail(error), ctx),
            },
        };
        let State::Body(pending) = std::mem::replace(&mut self.exchange.state, State::Head(None))
        else {
            return false;
        };
        let input = self.input.filled();
        let mut fields = Vec::new();
        let head = pending.head.head(input, &mut fields);
        self.exchange.answer(&head, &input[head.len..body_end], ctx);
        self.take_step(Step::Answered(consumed), ctx)
    }

    /// Acts on what reading a request came to.
    fn take_step<D>(&mut self, step: Step, ctx: &mut Ctx<'_, D>) -> bool {
        match step {
            Step::Answered(consumed) => {
                self.input.consume(consumed);
                // The input used up and the next head awaited: another turn of `process`
                // would only find that out (the usual end of a read of one request).
                !(self.input.is_empty() && matches!(self.exchange.state, State::Head(None)))
            }
            Step::Progress => true,
            Step::Wait => false,
            Step::Fail(error) => {
                self.fail(error, ctx);
                false
            }
            Step::Refused => false,
        }
    }

    /// Answers a request that cannot be read with its 4xx/5xx, then stops reading.
    fn fail<D>(&mut self, error: ParseError, ctx: &mut Ctx<'_, D>) {
        // RFC 9110 §9.3.2: no body in the answer to HEAD, an error included.
        let head_only = is_head_request(self.input.filled());
        self.exchange.fail(error, head_only, ctx);
    }

    /// Received bytes not yet consumed by an answered request, for tests that bound them.
    #[cfg(test)]
    pub(crate) fn buffered_input(&self) -> usize {
        self.input.filled().len()
    }
}

impl<J> Exchange<J> {
    /// Reads a head from `input` (the connection's, which it does not own) and answers its
    /// request if the body is there too.
    fn head_step<D: Dispatch<Job = J>>(&mut self, input: &[u8], ctx: &mut Ctx<'_, D>) -> Step {
        let State::Head(partial) = &mut self.state else {
            return Step::Wait;
        };
        let limits = &ctx.limits.head;
        if input.is_empty() {
            return Step::Wait;
        }
        // Part of the head came earlier: parse only once the scan says it is complete.
        let followed = partial.is_some();
        if let Some(partial) = partial {
            match partial.advance(input, limits) {
                Ok(true) => {}
                Ok(false) => return Step::Wait,
                Err(error) => return Step::Fail(error),
            }
        }
        let mut storage = head::header_storage();
        // Used where it lies, by reference: a `Head` is large, and moving it out of the
        // `Result` cost a copy per request.
        let parsed = parse_head(input, &mut storage, limits, ctx.hosts);
        let head = match &parsed {
            Ok(Some(head)) => head,
            // The scan found the empty line, httparse did not: they disagree about this head,
            // so it is not one to answer.
            Ok(None) if followed => {
                return Step::Fail(ParseError::Malformed("invalid request head"));
            }
            Ok(None) => {
                let mut partial = Box::<PartialHead>::default();
                let checked = partial.advance(input, limits);
                self.state = State::Head(Some(partial));
                return match checked {
                    Ok(false) => Step::Wait,
                    Ok(true) => Step::Fail(ParseError::Malformed("invalid request head")),
                    Err(error) => Step::Fail(error),
                };
            }
            Err(error) => return Step::Fail(error.clone()),
        };
        let max_body = ctx.limits.chunked.max_body;
        let framing = match head.body {
            BodyKind::Empty => {
                self.answer(head, &[], ctx);
                return Step::Answered(head.len);
            }
            // Decided from Content-Length before reading the body, and instead of sending
            // `100 Continue` (RFC 9110 §10.1.1).
            BodyKind::Length(length) if length > max_body => {
                let error = ParseError::BodyTooLarge(max_body);
                let response = ctx.dispatch.refuse(head, &error, self.peer);
                self.close_with(response, &error, head.method == Method::HEAD, ctx);
                return Step::Refused;
            }
            BodyKind::Length(length) => {
                // At most `max_body_size`, which the read buffer could hold, so it fits a usize.
                let end = head
                    .len
                    .saturating_add(usize::try_from(length).unwrap_or(usize::MAX));
                if input.len() >= end {
                    self.answer(head, &input[head.len..end], ctx);
                    return Step::Answered(end);
                }
                Framing::Length { end }
            }
            BodyKind::Chunked => {
                Framing::Chunked(ChunkedDecoder::new(head.len, ctx.limits.chunked))
            }
        };
        if head.expect_continue {
            self.output
                .writer(ctx.buffers)
                .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        let head = HeadOffsets::of(head);
        self.state = State::Body(Box::new(PendingBody { head, framing }));
        Step::Progress
    }

    /// Hands one complete request to the dispatcher and sends its answer, or waits for the
    /// blocking job that makes it. The caller consumes its bytes.
    fn answer<D: Dispatch<Job = J>>(
        &mut self,
        head: &Head<'_, '_>,
        body: &[u8],
        ctx: &mut Ctx<'_, D>,
    ) {
        let request = RequestFacts::of(head);
        match ctx.dispatch.dispatch(head, body, self.peer) {
            Answer::Ready(response) => self.send(response, &request, ctx),
            Answer::Blocking(job) => self.enter(State::Blocked(Box::new(Blocked {
                job: Some(job),
                request,
            }))),
        }
    }

    /// Encodes the response to `request` and moves on: to the next request, to streaming its
    /// body, or to closing.
    #[inline(always)]
    fn send<D>(&mut self, mut response: Outgoing, request: &RequestFacts, ctx: &mut Ctx<'_, D>) {
        let keep_alive = request.keep_alive
            && !ctx.shutting_down
            && !response.wants_close()
            && !response.needs_close_delimiting(request.version);
        if let Some(line) = &request.log {
            line.write(self.peer, &response);
        }
        let options = EncodeOptions {
            version: request.version,
            keep_alive,
            head_only: request.head_only,
            date: ctx.date,
        };
        let streaming = response.encode(&options, self.output.writer(ctx.buffers));
        self.answered += 1;
        if matches!(response.body, Body::Live(_)) {
            return self.go_live(response, request, keep_alive, ctx.limits);
        }
        self.enter(match streaming {
            Some(body) => State::Streaming(Box::new(Stream {
                body,
                last: !keep_alive,
            })),
            None if keep_alive => State::Head(None),
            None => State::Closing,
        });
        // Most bodies own nothing (a static or an empty one): skip the call to the drop code
        // of every kind of body, live ones included, on every request.
        let Outgoing { headers, body, .. } = response;
        if let Some(headers) = headers {
            crate::h1::encode::recycle_headers(headers);
        }
        if matches!(body, Body::Empty | Body::Static(_)) {
            std::mem::forget(body);
        }
    }

    /// After the head of a live response: the connection becomes its tunnel. A HEAD request
    /// got the head alone, and the connection carries on (or closes) as after any answer.
    #[cold]
    fn go_live(
        &mut self,
        mut response: Outgoing,
        request: &RequestFacts,
        keep_alive: bool,
        limits: &Limits,
    ) {
        let Body::Live(live) = std::mem::take(&mut response.body) else {
            return;
        };
        self.state = if request.head_only {
            if keep_alive {
                State::Head(None)
            } else {
                State::Closing
            }
        } else {
            let mut tunnel = live.tunnel;
            tunnel.configure(&limits.live);
            // An event stream to HTTP/1.1 is a chunked body (the head said so); a 101's
            // WebSocket, or a stream to HTTP/1.0, is delimited by the connection's end.
            tunnel.begin(
                request.version == Version::HTTP_11
                    && response.status != http::StatusCode::SWITCHING_PROTOCOLS,
            );
            State::Live(Box::new(Live {
                tunnel,
                attached: false,
            }))
        };
    }

    /// Moves to `state`. The state left behind is most often an empty `Head`, which holds
    /// nothing to drop: then the call to its drop code, on every request, is skipped.
    #[inline]
    fn enter(&mut self, state: State<J>) {
        let left = std::mem::replace(&mut self.state, state);
        if matches!(left, State::Head(None)) {
            std::mem::forget(left);
        }
    }

    /// Reads the next piece of a streamed body from its source into the output, if the
    /// output has room: disk I/O on the event loop (a file served whole), so one bounded read
    /// per call, and the driver's next write comes before the next read. Returns whether
    /// anything happened. A source that fails, or ends before the length the head promised,
    /// ends the connection: its framing can no longer be honoured.
    fn pull_from_source<D>(&mut self, ctx: &mut Ctx<'_, D>) -> bool {
        if self.output.held() >= STREAM_CHUNK {
            return false; // Wait for the client to take what is already there.
        }
        let State::Streaming(stream) = &mut self.state else {
            return false;
        };
        let body = &mut stream.body;
        let out = self.output.writer(ctx.buffers);
        let start = out.len();
        let want = body
            .remaining
            .map_or(STREAM_CHUNK, |left| left.min(STREAM_CHUNK as u64) as usize);
        // A chunk's size line is written as eight hex digits and filled in after the read, so
        // the data needs no second copy.
        let header = if body.chunked { CHUNK_HEADER_LEN } else { 0 };
        out.resize(start + header + want, 0);
        let read = loop {
            match body.reader.read(&mut out[start + header..]) {
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
                    self.peer
                );
                self.state = State::Closing;
                return true;
            }
        };
        if read == 0 {
            out.truncate(start);
            if let Some(left @ 1..) = body.remaining {
                log::error!(
                    "peer={} response body ended {left} bytes short of its Content-Length",
                    self.peer
                );
                self.state = State::Closing;
                return true;
            }
            if body.chunked {
                out.extend_from_slice(b"0\r\n\r\n");
            }
            self.finish_stream();
            return true;
        }
        out.truncate(start + header + read);
        if body.chunked {
            out[start..start + header].copy_from_slice(&chunk_header(read));
            out.extend_from_slice(b"\r\n");
        }
        if let Some(left) = &mut body.remaining {
            *left -= read as u64;
            if *left == 0 {
                self.finish_stream();
            }
        }
        // One read of the source per call: the next waits until the driver wrote this one.
        false
    }

    /// The streamed body is complete: on to the next request, or to closing.
    fn finish_stream(&mut self) {
        let last = matches!(&self.state, State::Streaming(stream) if stream.last);
        self.state = if last {
            State::Closing
        } else {
            State::Head(None)
        };
    }

    /// Answers a request that cannot be read with its 4xx/5xx, then stops reading: after a
    /// framing error, where the next request would start is unknown.
    /// `head_only`: the request was a HEAD (its answer has no body, an error included).
    fn fail<D>(&mut self, error: ParseError, head_only: bool, ctx: &mut Ctx<'_, D>) {
        self.close_with(plain_refusal(&error), &error, head_only, ctx);
    }

    /// Sends `response`, the answer to a request refused for `error`, and closes.
    fn close_with<D>(
        &mut self,
        mut response: Outgoing,
        error: &ParseError,
        head_only: bool,
        ctx: &mut Ctx<'_, D>,
    ) {
        log::debug!(
            "peer={} rejected request: {} ({error})",
            self.peer,
            error.status()
        );
        let options = EncodeOptions {
            version: Version::HTTP_11,
            keep_alive: false,
            head_only,
            date: ctx.date,
        };
        self.state = match response.encode(&options, self.output.writer(ctx.buffers)) {
            // An error page streamed from a file (rare): sent whole, then the close.
            Some(body) => State::Streaming(Box::new(Stream { body, last: true })),
            None => State::Closing,
        };
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

    fn write(&self, peer: SocketAddr, response: &Outgoing) {
        let bytes = if self.method == Method::HEAD {
            0
        } else {
            response.body.content_length().unwrap_or(0)
        };
        // The response's request id, if it has one (set by the app, or passed on from a proxy),
        // so the line can be matched with the proxy's log and the client's report. Only if it
        // is one printable word: it must not garble the line.
        let id = response
            .header("x-request-id")
            .filter(|id| !id.is_empty() && id.iter().all(u8::is_ascii_graphic))
            .and_then(|id| std::str::from_utf8(id).ok());
        log::info!(
            target: ACCESS_LOG,
            "{peer} \"{} {} {:?}\" {} {bytes} {:.3}ms{}{}",
            self.method,
            self.target,
            self.version,
            response.status.as_u16(),
            self.started.elapsed().as_secs_f64() * 1000.0,
            if id.is_some() { " id=" } else { "" },
            id.unwrap_or(""),
        );
    }
}

#[cfg(test)]
mod tests;
