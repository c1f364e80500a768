//! One event loop on one thread: accept, dispatch readiness events to connections, run
//! timers, hand requests to the blocking pool and take back their responses, and shut down
//! gracefully.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant, SystemTime};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;

use super::connection::{Connection, LINGER_TIMEOUT, Next};
use super::{Control, GRACEFUL, LISTENER, RUNNING, WAKER};
use crate::app::App;
use crate::conn::{Conn, Ctx, Phase};
use crate::h1::buffer::BufferPool;
use crate::h1::date::DateCache;
use crate::pool::{BlockingPool, Completed, Job, Reply};
use crate::timer::{TimerKind, Timers};

/// Pause before accepting again after running out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// At shutdown, how long a connection that has sent nothing yet may take to send its first
/// request (it was accepted, so its client expects an answer).
const FIRST_REQUEST_WINDOW: Duration = Duration::from_secs(1);

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
pub(super) struct Worker {
    pub(super) index: usize,
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
    pub(super) fn new(
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

    pub(super) fn run(mut self) -> io::Result<()> {
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
            // At shutdown the queue is drained whatever the limit: the listener is about to
            // close, which would reset every connection still queued on it.
            if self.conns.len() >= self.max_connections && self.shutdown_deadline.is_none() {
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

    /// Drives a connection until it waits for an event. A loop, never recursion: a request
    /// the blocking pool refuses is answered (503) here and the connection driven again for
    /// the requests pipelined behind it, however many there are.
    fn drive(&mut self, key: usize, now: Instant) {
        loop {
            let mut ctx = self.lend.ctx();
            let Some(connection) = self.conns.get_mut(key) else {
                return;
            };
            let next = connection.drive(&mut ctx);
            if !self.after_drive(key, next, now) {
                return;
            }
        }
    }

    /// Hands a request for a `blocking` handler to the pool. When the pool is full, answers
    /// 503 at once (rather than letting requests pile up without bound) and returns true: the
    /// connection has more to do.
    fn submit_job(&mut self, key: usize) -> bool {
        let Some(connection) = self.conns.get_mut(key) else {
            return false;
        };
        let Some(request) = connection.conn.take_job() else {
            return false;
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
        let Some(response) = refused else {
            return false;
        };
        let mut ctx = self.lend.ctx();
        let Some(connection) = self.conns.get_mut(key) else {
            return false;
        };
        connection.conn.complete(response, &mut ctx);
        true
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
    /// Returns true when the connection must be driven again at once (its blocking request was
    /// refused and answered, so the requests behind it can go on).
    fn after_drive(&mut self, key: usize, next: Next, now: Instant) -> bool {
        let Some(connection) = self.conns.get_mut(key) else {
            return false;
        };
        let (read, wrote) = match next {
            Next::Keep { read, wrote } => (read, wrote),
            Next::StartLinger => {
                // One fixed window, not restarted by further bytes.
                connection.conn.release_buffers(&mut self.lend.pool);
                self.timers.set(key, TimerKind::Linger, now);
                return false;
            }
            Next::Close => {
                self.close(key);
                return false;
            }
        };
        if connection.lingering.is_some() {
            return false;
        }
        if connection.conn.phase() == Phase::Busy {
            self.timers.cancel(key);
            connection.timer_phase = Phase::Busy;
            return self.submit_job(key);
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
                return false;
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
        false
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
                    self.drive(key, now);
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
        // Take the connections already queued on the listener before closing it, even at the
        // connection limit or after running out of descriptors: closing resets them, which in
        // a rolling restart would fail requests the new process could have served.
        self.accept_paused = false;
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
