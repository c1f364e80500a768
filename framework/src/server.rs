//! The mio event loop: the one module that touches sockets.
//!
//! This is the notes' `event_loop()` grown up. Each worker thread runs one [`Worker`]: a mio
//! `Poll` (epoll, edge-triggered), its own `SO_REUSEPORT` listener, and a `Slab` of
//! connections keyed by `Token`. On readiness it accepts until `WouldBlock`, reads until the
//! socket is drained, lets the sans-IO [`Conn`] answer, and writes until done or `WouldBlock`,
//! asking for `WRITABLE` only while output is pending. Between events it sleeps in
//! `epoll_wait` with a timeout that is the nearest timer deadline, or none: an idle server
//! uses no CPU.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use slab::Slab;

use crate::app::App;
use crate::buffer::BufferPool;
use crate::conn::{Conn, Ctx, Phase};
use crate::date::DateCache;
use crate::error::Error;
use crate::pool::{BlockingPool, Completed, Job, Reply};
use crate::timer::{TimerKind, Timers};

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);

/// How long a closing connection may keep sending before it is closed anyway.
const LINGER_TIMEOUT: Duration = Duration::from_secs(2);
/// Most bytes read and discarded from a closing connection.
const LINGER_BYTES: usize = 1024 * 1024;
/// Pause before accepting again after running out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// At shutdown, how long a connection that has sent nothing yet may take to send its first
/// request (it was accepted, so its client expects an answer).
const FIRST_REQUEST_WINDOW: Duration = Duration::from_secs(1);

const RUNNING: u8 = 0;
const GRACEFUL: u8 = 1;
const IMMEDIATE: u8 = 2;

/// Shared between the workers and every [`ServerHandle`].
struct Control {
    state: AtomicU8,
    wakers: Vec<Arc<Waker>>,
}

impl Control {
    fn request(&self, state: u8) {
        self.state.fetch_max(state, Ordering::SeqCst);
        for waker in &self.wakers {
            if let Err(error) = waker.wake() {
                log::error!("cannot wake a worker to stop it: {error}");
            }
        }
    }
}

/// Stops a running server from any thread.
#[derive(Clone)]
pub struct ServerHandle {
    control: Arc<Control>,
}

impl ServerHandle {
    /// Starts a graceful shutdown: stop accepting, close idle connections, let in-flight
    /// requests finish (answered with `Connection: close`) within
    /// [`Config::shutdown_grace`](crate::Config::shutdown_grace), then return from `run`.
    pub fn shutdown(&self) {
        self.control.request(GRACEFUL);
    }

    /// Stops at once, dropping every connection.
    pub fn stop_now(&self) {
        self.control.request(IMMEDIATE);
    }
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle").finish_non_exhaustive()
    }
}

/// A bound server, not serving yet: read its address, take a handle, then [`run`](Self::run).
///
/// ```
/// let server = carafe::App::new().bind("127.0.0.1:0").unwrap();
/// let addr = server.local_addr();
/// let handle = server.handle();
/// let thread = std::thread::spawn(move || server.run());
/// // ... talk to `addr` ...
/// handle.shutdown();
/// thread.join().unwrap().unwrap();
/// ```
pub struct Server {
    app: Arc<App>,
    addr: SocketAddr,
    workers: Vec<(Poll, TcpListener)>,
    control: Arc<Control>,
}

impl Server {
    pub(crate) fn bind(app: Arc<App>, addr: impl ToSocketAddrs) -> Result<Self, Error> {
        let requested = addr
            .to_socket_addrs()
            .and_then(|mut addrs| {
                addrs
                    .next()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))
            })
            .map_err(|source| Error::Bind {
                addr: "(unresolved)".into(),
                source,
            })?;
        let count = app.config.workers.max(1);
        let bind_error = |source| Error::Bind {
            addr: requested.to_string(),
            source,
        };
        let requested = if count > 1 && !app.config.reuse_port {
            // Several workers need SO_REUSEPORT, which would also let this server quietly
            // share a port another server holds. Claim the port alone first: a bind without
            // SO_REUSEPORT fails with "address in use" if anyone has it. (It is free again
            // for the instant between this probe and the real bind below.)
            let probe = std::net::TcpListener::bind(requested).map_err(bind_error)?;
            probe.local_addr().map_err(bind_error)?
        } else {
            requested
        };
        let reuse_port = count > 1 || app.config.reuse_port;
        let first = listen(requested, reuse_port, app.config.backlog).map_err(bind_error)?;
        let addr = first.local_addr().map_err(bind_error)?;
        let mut listeners = vec![first];
        for _ in 1..count {
            // The others join the port the first one got (port 0 resolves once).
            listeners.push(listen(addr, true, app.config.backlog).map_err(bind_error)?);
        }
        let mut workers = Vec::with_capacity(count);
        let mut wakers = Vec::with_capacity(count);
        for mut listener in listeners {
            let poll = Poll::new()?;
            poll.registry()
                .register(&mut listener, LISTENER, Interest::READABLE)?;
            wakers.push(Arc::new(Waker::new(poll.registry(), WAKER)?));
            workers.push((poll, listener));
        }
        let control = Arc::new(Control {
            state: AtomicU8::new(RUNNING),
            wakers,
        });
        Ok(Self {
            app,
            addr,
            workers,
            control,
        })
    }

    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle to stop the server from another thread.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            control: Arc::clone(&self.control),
        }
    }

    /// Serves until [`ServerHandle::shutdown`], running one worker on this thread and the
    /// others on their own threads.
    pub fn run(self) -> Result<(), Error> {
        log::info!(
            "listening on http://{} ({} worker{})",
            self.addr,
            self.workers.len(),
            plural(self.workers.len())
        );
        // Threads for `blocking` handlers, shared by the workers; only if some route needs them.
        let blocking = if self.app.has_blocking_routes() {
            let config = &self.app.config;
            Some(Arc::new(BlockingPool::start(
                &self.app,
                config.blocking_threads,
                config.blocking_queue,
            )?))
        } else {
            None
        };
        let mut workers = self
            .workers
            .into_iter()
            .enumerate()
            .map(|(index, (poll, listener))| {
                Worker::new(
                    index,
                    poll,
                    listener,
                    &self.app,
                    &self.control,
                    blocking.clone(),
                )
            });
        let Some(first) = workers.next() else {
            return Ok(());
        };
        let mut threads: Vec<JoinHandle<io::Result<()>>> = Vec::new();
        for worker in workers {
            let name = format!("carafe-worker-{}", worker.index);
            match thread::Builder::new()
                .name(name)
                .spawn(move || worker.run())
            {
                Ok(thread) => threads.push(thread),
                Err(error) => {
                    self.control.request(IMMEDIATE);
                    let _ = join_all(threads); // The spawn error is the one to report.
                    return Err(error.into());
                }
            }
        }
        let result = first.run();
        if result.is_err() {
            // A failed worker takes the others down rather than leaving a half-served port.
            self.control.request(IMMEDIATE);
        }
        let others = join_all(threads);
        log::info!("server on http://{} stopped", self.addr);
        result.and(others).map_err(Error::from)
    }

    /// Serves until SIGINT or SIGTERM: the first starts a graceful shutdown, a second stops
    /// at once. [`App::run`](crate::App::run) is `bind` then this; call it yourself to learn
    /// the bound address first.
    pub fn run_until_signal(self) -> Result<(), Error> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let handle = self.handle();
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
        let signals_handle = signals.handle();
        thread::Builder::new()
            .name("carafe-signals".into())
            .spawn(move || {
                let mut received = signals.forever();
                if received.next().is_some() {
                    log::info!("shutting down gracefully (signal again to stop now)");
                    handle.shutdown();
                }
                if received.next().is_some() {
                    log::warn!("stopping now");
                    handle.stop_now();
                }
            })?;
        let result = self.run();
        signals_handle.close();
        result
    }

    /// Serves on a background thread; see [`RunningServer`].
    pub(crate) fn spawn(self) -> Result<RunningServer, Error> {
        let addr = self.addr;
        let handle = self.handle();
        let thread = thread::Builder::new()
            .name("carafe-server".into())
            .spawn(move || self.run())?;
        Ok(RunningServer {
            addr,
            handle,
            thread: Some(thread),
        })
    }
}

/// A server serving on background threads, from [`App::spawn`](crate::App::spawn). Dropping
/// it shuts the server down and waits for it, so a test cannot leak a server.
pub struct RunningServer {
    addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<JoinHandle<Result<(), Error>>>,
}

impl RunningServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{addr}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A handle to stop the server from elsewhere.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Shuts down gracefully and waits until every worker has stopped.
    pub fn shutdown(mut self) -> Result<(), Error> {
        self.handle.shutdown();
        self.join()
    }

    fn join(&mut self) -> Result<(), Error> {
        match self.thread.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Error::Io(io::Error::other("a server thread panicked"))),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.handle.shutdown();
            if let Err(error) = self.join() {
                log::error!("server stopped with an error: {error}");
            }
        }
    }
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn join_all(threads: Vec<JoinHandle<io::Result<()>>>) -> io::Result<()> {
    let mut outcome = Ok(());
    for thread in threads {
        let result = thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("a worker thread panicked")));
        if outcome.is_ok() {
            outcome = result;
        }
    }
    outcome
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// A non-blocking listening socket with our backlog, and `SO_REUSEPORT` when several workers
/// (each with its own listener, balanced by the kernel) share the port.
fn listen(addr: SocketAddr, reuse_port: bool, backlog: u32) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    #[cfg(not(unix))]
    let _ = reuse_port;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(TcpListener::from_std(socket.into()))
}

/// One accepted socket and its protocol state.
struct Connection {
    stream: TcpStream,
    conn: Conn,
    /// The interest registered with the poller.
    interest: Interest,
    /// False until a read hits `WouldBlock` (or a short read), true after: with
    /// edge-triggered readiness there is nothing more to read until the next readable event.
    read_drained: bool,
    /// The last event reported that the peer closed its side: read to EOF, not just until a
    /// short read, because the FIN came with the data and no further edge will announce it.
    peer_closed: bool,
    /// Closing: our write side is shut down and incoming bytes are discarded until EOF.
    lingering: Option<usize>,
    /// The phase and answered count when the timer was last set, to restart it only on change.
    timer_phase: Phase,
    timer_answered: u64,
    /// Unique within the worker: a response from the blocking pool for slab key `k` is only
    /// delivered if the connection at `k` is still the one that asked.
    id: u64,
}

/// What a connection asks of its worker after being driven.
enum Next {
    Keep {
        read: bool,
        wrote: bool,
    },
    /// The last response is out and the write side shut down: wait for the client's EOF.
    StartLinger,
    Close,
}

impl Connection {
    /// Reads, answers and writes until no more progress is possible without a new event.
    fn drive(&mut self, ctx: &mut Ctx<'_>) -> Next {
        if let Some(discarded) = self.lingering {
            return self.linger(discarded);
        }
        let (mut read_any, mut wrote_any) = (false, false);
        loop {
            let mut progressed = false;
            match self.read(ctx) {
                Ok(read) => progressed |= read,
                Err(error) => return self.fail(&error, "read"),
            }
            if self.conn.can_resume(ctx) {
                let before = self.conn.answered();
                self.conn.process(ctx);
                progressed |= self.conn.answered() != before;
            }
            match self.flush() {
                Ok(wrote) => {
                    progressed |= wrote;
                    wrote_any |= wrote;
                }
                Err(error) => return self.fail(&error, "write"),
            }
            read_any |= progressed;
            if !progressed {
                break;
            }
        }
        if self.conn.is_done() {
            return self.finish();
        }
        Next::Keep {
            read: read_any,
            wrote: wrote_any,
        }
    }

    /// Reads until the socket is drained or the connection stops wanting input. Returns
    /// whether any bytes arrived.
    fn read(&mut self, ctx: &mut Ctx<'_>) -> io::Result<bool> {
        let mut any = false;
        while !self.read_drained && self.conn.wants_read(ctx) {
            let buffer = self.conn.read_buffer(ctx);
            let space = buffer.len();
            if space == 0 {
                break;
            }
            match self.stream.read(buffer) {
                Ok(0) => {
                    log::trace!("peer={} closed its side", self.conn.peer());
                    self.read_drained = true;
                    self.conn.received_eof();
                }
                Ok(n) => {
                    any = true;
                    self.conn.received(n, ctx);
                    // A short read means the socket's queue is empty; the kernel raises a new
                    // edge when more arrives, so the extra read to see WouldBlock is skipped.
                    // Unless the peer already closed: then only a read of 0 shows the EOF.
                    self.read_drained = n < space && !self.peer_closed;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => self.read_drained = true,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(any)
    }

    /// Writes pending output until done or the socket is full. Returns whether any was written.
    fn flush(&mut self) -> io::Result<bool> {
        let mut any = false;
        loop {
            let pending = self.conn.pending_output();
            if pending.is_empty() {
                return Ok(any);
            }
            match self.stream.write(pending) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    let full = n < pending.len();
                    self.conn.wrote(n);
                    any = true;
                    if full {
                        // The send buffer is full; WRITABLE interest reports when it drains.
                        return Ok(any);
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(any),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Everything is written. A connection we are closing (after an error or
    /// `Connection: close`) shuts down its write side and lingers, so bytes the client is
    /// still sending do not turn our close into a reset that destroys the response before
    /// the client reads it (RFC 9112 §9.6). A connection the client closed just closes.
    fn finish(&mut self) -> Next {
        if !self.conn.is_closing() {
            return Next::Close;
        }
        if self.stream.shutdown(Shutdown::Write).is_err() {
            return Next::Close;
        }
        self.lingering = Some(0);
        self.read_drained = false;
        match self.linger(0) {
            Next::Close => Next::Close,
            _ => Next::StartLinger,
        }
    }

    fn linger(&mut self, mut discarded: usize) -> Next {
        let mut scratch = [0u8; 4096];
        loop {
            match self.stream.read(&mut scratch) {
                Ok(0) => return Next::Close,
                Ok(n) => {
                    discarded += n;
                    if discarded > LINGER_BYTES {
                        return Next::Close;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Next::Close,
            }
        }
        self.lingering = Some(discarded);
        Next::Keep {
            read: false,
            wrote: false,
        }
    }

    fn fail(&self, error: &io::Error, during: &str) -> Next {
        // Resets and broken pipes are the client's business, not the operator's.
        log::debug!("peer={} {during} failed: {error}", self.conn.peer());
        Next::Close
    }

    /// The interest this connection needs now.
    fn wanted_interest(&self) -> Interest {
        if self.conn.pending_output().is_empty() {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        }
    }
}

/// What a worker lends each connection while driving it (the parts of [`Ctx`]), kept apart
/// from the connection table so that both can be borrowed at once.
struct Lending {
    app: Arc<App>,
    date: DateCache,
    pool: BufferPool,
    /// A graceful shutdown has begun: responses say `Connection: close`.
    shutting_down: bool,
}

impl Lending {
    fn ctx(&mut self) -> Ctx<'_> {
        Ctx {
            app: &self.app,
            date: self.date.as_bytes(),
            pool: &mut self.pool,
            shutting_down: self.shutting_down,
            run_blocking: false,
        }
    }
}

/// One event loop, on one thread.
struct Worker {
    index: usize,
    poll: Poll,
    listener: Option<TcpListener>,
    /// Accepting is paused at the connection limit and after running out of descriptors.
    accept_paused: bool,
    accept_retry_at: Option<Instant>,
    warned_exhausted: bool,
    conns: Slab<Connection>,
    /// What each connection borrows while it is driven.
    lend: Lending,
    control: Arc<Control>,
    timers: Timers,
    /// Set when a graceful shutdown starts: the time by which it must be over.
    shutdown_deadline: Option<Instant>,
    /// During shutdown, until when connections that have sent nothing are kept open.
    first_request_cutoff: Option<Instant>,
    /// This worker's share of `Config::max_connections`.
    max_connections: usize,
    /// Where `blocking` handlers run, and how their responses come back to this worker.
    blocking: Option<Arc<BlockingPool>>,
    results: Receiver<Completed>,
    results_sender: Sender<Completed>,
    wake: Arc<dyn Fn() + Send + Sync>,
    next_id: u64,
}

impl Worker {
    fn new(
        index: usize,
        poll: Poll,
        listener: TcpListener,
        app: &Arc<App>,
        control: &Arc<Control>,
        blocking: Option<Arc<BlockingPool>>,
    ) -> Self {
        let config = &app.config;
        let (results_sender, results) = mpsc::channel();
        let waker = Arc::clone(&control.wakers[index]);
        let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            if let Err(error) = waker.wake() {
                log::error!("cannot wake a worker with a blocking handler's response: {error}");
            }
        });
        let timers = Timers::new([
            config.header_timeout,
            config.body_timeout,
            config.keep_alive_timeout,
            config.write_timeout,
            LINGER_TIMEOUT,
        ]);
        Self {
            index,
            poll,
            listener: Some(listener),
            accept_paused: false,
            accept_retry_at: None,
            warned_exhausted: false,
            conns: Slab::new(),
            lend: Lending {
                app: Arc::clone(app),
                date: DateCache::new(),
                pool: BufferPool::default(),
                shutting_down: false,
            },
            control: Arc::clone(control),
            timers,
            shutdown_deadline: None,
            first_request_cutoff: None,
            // The kernel spreads SO_REUSEPORT connections evenly, so an even share of the
            // process-wide limit keeps the total within it without a shared counter.
            max_connections: config
                .max_connections
                .div_ceil(config.workers.max(1))
                .max(1),
            blocking,
            results,
            results_sender,
            wake,
            next_id: 0,
        }
    }

    fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut now = Instant::now();
        loop {
            let timeout = self.poll_timeout(now);
            if let Err(error) = self.poll.poll(&mut events, timeout) {
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                log::error!("worker {}: poll failed: {error}", self.index);
                return Err(error);
            }
            self.lend.date.update(SystemTime::now());
            now = Instant::now();
            for event in &events {
                match event.token() {
                    LISTENER => self.accept(now),
                    // Responses from blocking handlers; the control state is read below.
                    WAKER => self.receive_completed(now),
                    Token(key) => {
                        let readable =
                            event.is_readable() || event.is_read_closed() || event.is_error();
                        self.on_ready(key, readable, event.is_read_closed(), now);
                    }
                }
            }
            self.expire_timers(now);
            if self.accept_retry_at.is_some_and(|at| at <= now) {
                self.accept_retry_at = None;
                self.accept_paused = false;
                self.accept(now);
            }
            if self.should_exit(now) {
                return Ok(());
            }
        }
    }

    /// Sleep until the nearest deadline, or indefinitely when there is none.
    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        [
            self.timers.next_deadline(),
            self.shutdown_deadline,
            self.first_request_cutoff,
            self.accept_retry_at,
        ]
        .into_iter()
        .flatten()
        .min()
        // Round up so that a wake-up is never a hair early (and then a busy re-poll).
        .map(|deadline| deadline.saturating_duration_since(now) + Duration::from_millis(1))
    }

    fn accept(&mut self, now: Instant) {
        while !self.accept_paused {
            if self.conns.len() >= self.max_connections {
                log::warn!(
                    "worker {}: {} connections open, the limit; pausing accept",
                    self.index,
                    self.conns.len()
                );
                self.accept_paused = true;
                return;
            }
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => self.add_connection(stream, peer, now),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if is_resource_exhaustion(&error) => {
                    // The pending connection stays queued and edge-triggered epoll will not
                    // report it again, so retry on a timer rather than spin or stall.
                    if !self.warned_exhausted {
                        log::warn!(
                            "worker {}: accept failed ({error}); retrying every {ACCEPT_BACKOFF:?}",
                            self.index
                        );
                        self.warned_exhausted = true;
                    }
                    self.accept_paused = true;
                    self.accept_retry_at = Some(now + ACCEPT_BACKOFF);
                    return;
                }
                Err(error) => log::debug!("worker {}: accept failed: {error}", self.index),
            }
        }
    }

    fn add_connection(&mut self, mut stream: TcpStream, peer: SocketAddr, now: Instant) {
        if let Err(error) = stream.set_nodelay(true) {
            log::debug!("peer={peer} cannot set TCP_NODELAY: {error}");
        }
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        if let Err(error) =
            self.poll
                .registry()
                .register(&mut stream, Token(key), Interest::READABLE)
        {
            log::warn!("peer={peer} cannot register the connection: {error}");
            return;
        }
        entry.insert(Connection {
            stream,
            conn: Conn::new(peer),
            interest: Interest::READABLE,
            read_drained: false,
            peer_closed: false,
            lingering: None,
            timer_phase: Phase::Idle,
            timer_answered: 0,
            id: self.next_id,
        });
        self.next_id += 1;
        self.timers.set(key, TimerKind::Idle, now);
        log::debug!("worker {} accepted token={key} peer={peer}", self.index);
    }

    fn on_ready(&mut self, key: usize, readable: bool, peer_closed: bool, now: Instant) {
        let Some(connection) = self.conns.get_mut(key) else {
            return; // An event for a connection closed earlier in this batch.
        };
        if readable {
            connection.read_drained = false;
        }
        connection.peer_closed |= peer_closed;
        self.drive(key, now);
    }

    fn drive(&mut self, key: usize, now: Instant) {
        let mut ctx = self.lend.ctx();
        let Some(connection) = self.conns.get_mut(key) else {
            return;
        };
        let next = connection.drive(&mut ctx);
        self.after_drive(key, next, now);
    }

    /// Hands a request for a `blocking` handler to the pool; when its queue is full, answers
    /// 503 at once rather than letting requests pile up without bound.
    fn submit_job(&mut self, key: usize, now: Instant) {
        let Some(connection) = self.conns.get_mut(key) else {
            return;
        };
        let Some(request) = connection.conn.take_job() else {
            return;
        };
        let reply = Reply {
            results: self.results_sender.clone(),
            wake: Arc::clone(&self.wake),
            key,
            id: connection.id,
        };
        let refused = match &self.blocking {
            Some(pool) => pool
                .submit(Job { request, reply })
                .err()
                .map(|_| service_unavailable()),
            // Only reachable if a blocking route exists without a pool; answer here, slowly.
            None => Some(request.respond(&self.lend.app)),
        };
        if let Some(response) = refused {
            let mut ctx = self.lend.ctx();
            if let Some(connection) = self.conns.get_mut(key) {
                connection.conn.complete(response, &mut ctx);
            }
            self.drive(key, now);
        }
    }

    /// Delivers responses from blocking handlers to their connections and carries on with them.
    fn receive_completed(&mut self, now: Instant) {
        while let Ok(done) = self.results.try_recv() {
            let mut ctx = self.lend.ctx();
            match self.conns.get_mut(done.key) {
                Some(connection) if connection.id == done.id => {
                    connection.conn.complete(done.response, &mut ctx);
                }
                // The client went away meanwhile; its response has nowhere to go.
                _ => continue,
            }
            self.drive(done.key, now);
        }
    }

    /// Updates interest, timers and buffers after a connection was driven, or closes it.
    fn after_drive(&mut self, key: usize, next: Next, now: Instant) {
        let Some(connection) = self.conns.get_mut(key) else {
            return;
        };
        let (read, wrote) = match next {
            Next::Keep { read, wrote } => (read, wrote),
            Next::StartLinger => {
                // One fixed window, not restarted by further bytes.
                connection.conn.release_buffers(&mut self.lend.pool);
                self.timers.set(key, TimerKind::Linger, now);
                return;
            }
            Next::Close => {
                self.close(key);
                return;
            }
        };
        if connection.lingering.is_some() {
            return;
        }
        if connection.conn.phase() == Phase::Busy {
            self.timers.cancel(key);
            connection.timer_phase = Phase::Busy;
            self.submit_job(key, now);
            return;
        }
        let wanted = connection.wanted_interest();
        if wanted != connection.interest {
            if let Err(error) =
                self.poll
                    .registry()
                    .reregister(&mut connection.stream, Token(key), wanted)
            {
                log::debug!(
                    "peer={} cannot change interest: {error}",
                    connection.conn.peer()
                );
                self.close(key);
                return;
            }
            connection.interest = wanted;
        }
        connection.conn.release_idle_buffers(&mut self.lend.pool);
        let phase = connection.conn.phase();
        let answered = connection.conn.answered();
        let new_request = answered != connection.timer_answered;
        let restart = phase != connection.timer_phase
            || match phase {
                Phase::Idle | Phase::Head => new_request,
                Phase::Body => read,
                Phase::Writing => wrote,
                Phase::Busy => false,
            };
        if restart {
            let kind = match phase {
                Phase::Idle => TimerKind::Idle,
                Phase::Head => TimerKind::Header,
                Phase::Body => TimerKind::Body,
                Phase::Writing | Phase::Busy => TimerKind::Write,
            };
            self.timers.set(key, kind, now);
            connection.timer_phase = phase;
            connection.timer_answered = answered;
        }
        if self.shutdown_deadline.is_some()
            && phase == Phase::Idle
            && (answered > 0 || self.first_request_cutoff.is_none())
        {
            self.close(key);
        }
    }

    fn expire_timers(&mut self, now: Instant) {
        while let Some((key, kind)) = self.timers.pop_expired(now) {
            let Some(connection) = self.conns.get_mut(key) else {
                continue;
            };
            let peer = connection.conn.peer();
            match kind {
                TimerKind::Header | TimerKind::Body => {
                    log::debug!("peer={peer} token={key} request timed out ({kind:?})");
                    let mut ctx = self.lend.ctx();
                    connection.conn.timed_out(&mut ctx);
                    let next = connection.drive(&mut ctx);
                    self.after_drive(key, next, now);
                }
                TimerKind::Idle | TimerKind::Write | TimerKind::Linger => {
                    log::debug!("peer={peer} token={key} closed after {kind:?} timeout");
                    self.close(key);
                }
            }
        }
    }

    fn close(&mut self, key: usize) {
        self.timers.cancel(key);
        if let Some(mut connection) = self.conns.try_remove(key) {
            connection.conn.release_buffers(&mut self.lend.pool);
            deregister(self.poll.registry(), &mut connection.stream);
            log::debug!(
                "worker {} closed token={key} peer={}",
                self.index,
                connection.conn.peer()
            );
        }
        if self.accept_paused && self.accept_retry_at.is_none() && self.listener.is_some() {
            // A slot is free again: take the connections that queued meanwhile (no new
            // edge-triggered event will announce them).
            self.accept_paused = false;
            self.accept(Instant::now());
        }
    }

    /// Handles shutdown requests; true when the loop should end.
    fn should_exit(&mut self, now: Instant) -> bool {
        match self.control.state.load(Ordering::SeqCst) {
            RUNNING => false,
            GRACEFUL => {
                if self.shutdown_deadline.is_none() {
                    self.begin_shutdown(now);
                }
                if self
                    .first_request_cutoff
                    .is_some_and(|cutoff| now >= cutoff)
                {
                    self.first_request_cutoff = None;
                    self.close_idle(|_| true);
                }
                if self.conns.is_empty() {
                    return true;
                }
                if self
                    .shutdown_deadline
                    .is_some_and(|deadline| now >= deadline)
                {
                    log::warn!(
                        "worker {}: shutdown grace period over; cutting {} connection(s) with requests in progress",
                        self.index,
                        self.conns.len()
                    );
                    return true;
                }
                false
            }
            _ => true,
        }
    }

    fn begin_shutdown(&mut self, now: Instant) {
        let deadline = now + self.lend.app.config.shutdown_grace;
        self.shutdown_deadline = Some(deadline);
        self.lend.shutting_down = true;
        // Take the connections already queued on the listener before closing it: closing
        // resets them, which in a rolling restart would fail requests the new process could
        // have served.
        self.accept(now);
        if let Some(mut listener) = self.listener.take() {
            deregister(self.poll.registry(), &mut listener);
        }
        self.first_request_cutoff = Some((now + FIRST_REQUEST_WINDOW).min(deadline));
        // Keep-alive connections between requests close now, but a request may already be
        // waiting in the socket (its event not handled yet): read once first, so it is
        // answered (with Connection: close) rather than lost to the close. Driving an idle
        // connection during shutdown closes it if nothing arrived. Connections that have
        // sent nothing at all get a moment to send their first request.
        let idle: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.lingering.is_none() && c.conn.phase() == Phase::Idle && c.conn.answered() > 0
            })
            .map(|(key, _)| key)
            .collect();
        let closed = idle.len();
        for key in idle {
            self.on_ready(key, true, false, now);
        }
        log::debug!(
            "worker {}: shutting down, closed {closed} idle connections, {} remain",
            self.index,
            self.conns.len()
        );
    }

    /// Closes connections with nothing in progress that `select` picks; returns how many.
    fn close_idle(&mut self, select: impl Fn(&Conn) -> bool) -> usize {
        let idle: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.lingering.is_none() && c.conn.phase() == Phase::Idle && select(&c.conn)
            })
            .map(|(key, _)| key)
            .collect();
        for &key in &idle {
            self.close(key);
        }
        idle.len()
    }
}

fn deregister(registry: &Registry, source: &mut impl mio::event::Source) {
    // Closing the descriptor removes it from epoll anyway; deregistering first keeps the
    // poller's view exact and costs one syscall per connection, not per request.
    let _ = registry.deregister(source);
}

/// The answer when the blocking pool's queue is full.
fn service_unavailable() -> crate::Response {
    let mut response: crate::Response =
        crate::HttpError::new(http::StatusCode::SERVICE_UNAVAILABLE, "busy, try again").into();
    response.headers_mut().insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from_static("1"),
    );
    response
}

/// Errors from `accept` that mean the process or system is out of descriptors or memory.
fn is_resource_exhaustion(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
