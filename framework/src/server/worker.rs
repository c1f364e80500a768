//! One event loop on one thread: wait for readiness, drive the sockets it concerns, run their
//! timers, and act on what each socket's connection asks for (interest, a deadline, a job for
//! the blocking pool). Accepting is in `accept.rs`, graceful shutdown in `shutdown.rs`, the
//! worker's end of the blocking pool (`BlockingLink`) in `blocking.rs`.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use mio::net::TcpListener;
use mio::{Events, Poll, Registry, Token};
use slab::Slab;

use super::blocking::{BlockingLink, BlockingPool};
use super::live::Pushes;
use super::meter::Meter;
use super::socket::{Next, Socket};
use super::timer::Timers;
use super::{Control, LISTENER, WAKER};
use crate::h1::buffer::BufferPool;
use crate::h1::conn::{Ctx, Timer, TimerKind};
use crate::h1::date::DateCache;
use crate::h1::head::HostMemo;
use crate::site::{BlockingJob, Site, WorkerSite};

/// What a worker lends each connection while driving it (the parts of [`Ctx`]), kept apart
/// from the socket table so that both can be borrowed at once.
pub(super) struct Lending {
    pub(super) site: WorkerSite,
    pub(super) date: DateCache,
    pub(super) buffers: BufferPool,
    pub(super) hosts: HostMemo,
    /// A graceful shutdown has begun: responses say `Connection: close`.
    pub(super) shutting_down: bool,
}

impl Lending {
    pub(super) fn ctx(&mut self) -> Ctx<'_, WorkerSite> {
        Ctx {
            dispatch: &self.site,
            limits: &self.site.site().limits,
            date: self.date.as_bytes(),
            buffers: &mut self.buffers,
            hosts: &mut self.hosts,
            shutting_down: self.shutting_down,
        }
    }
}

/// One event loop, on one thread.
pub(super) struct Worker {
    pub(super) index: usize,
    pub(super) poll: Poll,
    pub(super) listener: Option<TcpListener>,
    /// Accepting is paused at the connection limit and after running out of descriptors.
    pub(super) accept_paused: bool,
    pub(super) accept_retry_at: Option<Instant>,
    pub(super) warned_exhausted: bool,
    pub(super) sockets: Slab<Socket>,
    /// Sockets whose turn's budget ran out with work left: driven again next turn.
    again: Vec<(usize, u64)>,
    /// What each connection borrows while it is driven.
    pub(super) lend: Lending,
    pub(super) control: Arc<Control>,
    timers: Timers,
    /// Set when a graceful shutdown starts: the time by which it must be over.
    pub(super) shutdown_deadline: Option<Instant>,
    /// During shutdown, until when connections that have sent nothing are kept open.
    pub(super) first_request_cutoff: Option<Instant>,
    /// This worker's share of `Config::max_connections`.
    pub(super) max_connections: usize,
    /// Where `blocking` handlers run, and how their responses come back to this worker.
    blocking: BlockingLink<BlockingJob>,
    /// How live connections' handles wake this worker.
    pub(super) pushes: Pushes,
    pub(super) next_id: u64,
    /// HTTPS: new sessions' settings and the handshake deadlines.
    #[cfg(feature = "tls")]
    pub(super) tls: Option<super::tls::Edge>,
    /// This worker's connection counters, for the metrics.
    pub(super) meter: Meter,
}

impl Worker {
    pub(super) fn new(
        index: usize,
        poll: Poll,
        listener: TcpListener,
        site: &Arc<Site>,
        control: &Arc<Control>,
        blocking: Option<Arc<BlockingPool<BlockingJob>>>,
    ) -> Self {
        let config = &site.config;
        Self {
            index,
            poll,
            listener: Some(listener),
            accept_paused: false,
            accept_retry_at: None,
            warned_exhausted: false,
            sockets: Slab::new(),
            again: Vec::new(),
            lend: Lending {
                site: WorkerSite::new(site),
                date: DateCache::new(),
                buffers: BufferPool::default(),
                hosts: HostMemo::default(),
                shutting_down: false,
            },
            control: Arc::clone(control),
            timers: Timers::new(site.limits.timeouts),
            shutdown_deadline: None,
            first_request_cutoff: None,
            // The kernel spreads SO_REUSEPORT connections evenly, so an even share of the
            // process-wide limit keeps the total within it without a shared counter.
            max_connections: config
                .max_connections
                .div_ceil(config.workers.max(1))
                .max(1),
            blocking: BlockingLink::new(blocking, Arc::clone(&control.wakers[index])),
            pushes: Pushes::new(Arc::clone(&control.wakers[index])),
            next_id: 0,
            #[cfg(feature = "tls")]
            tls: None,
            meter: Meter::new(site),
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
            self.lend.site.wake();
            for event in &events {
                match event.token() {
                    LISTENER => self.accept(now),
                    // Responses from blocking handlers, pushes to live connections; the
                    // control state is read below.
                    WAKER => {
                        self.receive_completed(now);
                        self.receive_pushes(now);
                    }
                    Token(key) => {
                        let readable =
                            event.is_readable() || event.is_read_closed() || event.is_error();
                        self.on_ready(key, readable, event.is_read_closed(), now);
                    }
                }
            }
            self.drive_again(now);
            self.expire_timers(now);
            #[cfg(feature = "tls")]
            self.expire_tls(now);
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

    /// Sleep until the nearest deadline, or indefinitely when there is none; not at all
    /// while sockets wait for another turn.
    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        if !self.again.is_empty() {
            return Some(Duration::ZERO);
        }
        [
            self.timers.next_deadline(),
            self.shutdown_deadline,
            self.first_request_cutoff,
            self.accept_retry_at,
            #[cfg(feature = "tls")]
            self.tls.as_ref().and_then(super::tls::Edge::next_deadline),
        ]
        .into_iter()
        .flatten()
        .min()
        // Round up so that a wake-up is never a hair early (and then a busy re-poll).
        .map(|deadline| deadline.saturating_duration_since(now) + Duration::from_millis(1))
    }

    pub(super) fn on_ready(&mut self, key: usize, readable: bool, peer_closed: bool, now: Instant) {
        self.drive_woken(key, readable, peer_closed, now);
    }

    /// Drives the sockets whose last turn ran out of budget.
    fn drive_again(&mut self, now: Instant) {
        for (key, id) in std::mem::take(&mut self.again) {
            if self.sockets.get(key).is_some_and(|socket| socket.id == id) {
                self.drive(key, now);
            }
        }
    }

    /// Drives a socket until it waits for an event, then settles what its connection asks.
    pub(super) fn drive(&mut self, key: usize, now: Instant) {
        self.drive_woken(key, false, false, now);
    }

    /// [`drive`](Self::drive) for a readiness event that said the socket is `readable` and
    /// whether the peer closed its side, recorded on the socket as it is looked up for its
    /// turn (once per turn: the turn and the usual settling share the lookup).
    /// A loop, never recursion: a request the blocking pool refuses is answered (503) here
    /// and the socket driven again for the requests pipelined behind it, however many.
    fn drive_woken(&mut self, key: usize, mut readable: bool, mut peer_closed: bool, now: Instant) {
        loop {
            let mut ctx = self.lend.ctx();
            let Some(socket) = self.sockets.get_mut(key) else {
                return; // An event for a socket closed earlier in this batch.
            };
            if readable {
                socket.read_drained = false;
            }
            socket.peer_closed |= peer_closed;
            (readable, peer_closed) = (false, false);
            let next = socket.drive(&mut ctx, &self.meter);
            // The usual end of a turn: the response is written and the connection waits for
            // its next request. Then there is no job, nothing live, no interest to change and
            // both buffers are empty: only the idle deadline is left to restart.
            if let Next::Idle(epoch) = next {
                socket.conn.release_idle_buffers(ctx.buffers);
                let timer = Timer {
                    kind: TimerKind::Idle,
                    epoch,
                };
                set_timer(&mut self.timers, key, socket, Some(timer), now);
                let answered = socket.conn.answered();
                if self.closes_idle_now(answered) {
                    self.close(key);
                }
                return;
            }
            if !self.settle(key, next, now) {
                return;
            }
        }
    }

    /// Acts on what a driven socket's connection asks, for any end of a turn but the usual
    /// one (see `drive_woken`): closing, another turn, a job for the blocking pool, interest,
    /// its deadline, its idle buffers. Returns true when the socket must be driven again at
    /// once (its blocking request was refused and answered). Out of line: most turns end
    /// without it.
    #[inline(never)]
    fn settle(&mut self, key: usize, next: Next, now: Instant) -> bool {
        match next {
            Next::Close => {
                self.close(key);
                return false;
            }
            Next::Again => {
                if let Some(socket) = self.sockets.get(key) {
                    self.again.push((key, socket.id));
                }
            }
            Next::Wait | Next::Idle(_) => {}
        }
        let Some(socket) = self.sockets.get_mut(key) else {
            return false;
        };
        // A job for the pool, or a connection that just went live, need the whole worker;
        // most turns have neither, and go on with the socket already at hand.
        if let Some(job) = socket.conn.poll_job() {
            let id = socket.id;
            if self.submit_job(key, id, job) {
                return true;
            }
        } else if socket.conn.needs_wake() && self.attach_live(key) {
            return true;
        }
        let Some(socket) = self.sockets.get_mut(key) else {
            return false;
        };
        let wanted = socket.wanted_interest();
        if wanted != socket.interest {
            if let Err(error) =
                self.poll
                    .registry()
                    .reregister(&mut socket.stream, Token(key), wanted)
            {
                log::debug!(
                    "peer={} cannot change interest: {error}",
                    socket.conn.peer()
                );
                self.close(key);
                return false;
            }
            socket.interest = wanted;
        }
        socket.conn.release_buffers(&mut self.lend.buffers);
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut self.tls {
            tls.settle(socket, key, now);
        }
        restart_timer(&mut self.timers, key, socket, now);
        if socket.is_idle() {
            let answered = socket.conn.answered();
            if self.closes_idle_now(answered) {
                self.close(key);
            }
        }
        false
    }

    /// Whether an idle connection that has answered `answered` requests is closed now: during
    /// a graceful shutdown, unless it has answered none and may still send its first request
    /// (until the cut-off for first requests).
    #[inline]
    fn closes_idle_now(&self, answered: u64) -> bool {
        self.shutdown_deadline.is_some() && (answered > 0 || self.first_request_cutoff.is_none())
    }

    /// Sets the deadline the socket's connection wants, if it changed since it was last set.
    pub(super) fn apply_timer(&mut self, key: usize, now: Instant) {
        if let Some(socket) = self.sockets.get_mut(key) {
            restart_timer(&mut self.timers, key, socket, now);
        }
    }

    /// Hands a request for a `blocking` handler to the pool. When the pool cannot take it,
    /// the connection gets its answer (503) at once and this returns true: it has more to do.
    fn submit_job(&mut self, key: usize, id: u64, job: BlockingJob) -> bool {
        let Some(response) = self.blocking.submit(&self.lend.site, key, id, job) else {
            return false;
        };
        self.meter.blocking_refused();
        let mut ctx = self.lend.ctx();
        let Some(socket) = self.sockets.get_mut(key) else {
            return false;
        };
        socket.conn.handle_job_done(response, &mut ctx);
        true
    }

    /// Delivers responses from blocking handlers to their connections and carries on with them.
    fn receive_completed(&mut self, now: Instant) {
        while let Some(done) = self.blocking.completed() {
            let mut ctx = self.lend.ctx();
            match self.sockets.get_mut(done.key) {
                Some(socket) if socket.id == done.id => {
                    socket.conn.handle_job_done(done.response, &mut ctx);
                }
                // The client went away meanwhile; its response has nowhere to go.
                _ => continue,
            }
            self.drive(done.key, now);
        }
    }

    fn expire_timers(&mut self, now: Instant) {
        while let Some((key, kind)) = self.timers.pop_expired(now) {
            let mut ctx = self.lend.ctx();
            let Some(socket) = self.sockets.get_mut(key) else {
                continue;
            };
            log::debug!(
                "peer={} token={key} {kind:?} deadline passed",
                socket.conn.peer()
            );
            // The list no longer holds it: whatever the connection wants next is set anew.
            socket.timer = None;
            socket.conn.handle_timeout(kind, &mut ctx);
            self.drive(key, now);
        }
    }

    /// Closes the TLS sockets whose handshake (or last flush) is past its deadline.
    #[cfg(feature = "tls")]
    fn expire_tls(&mut self, now: Instant) {
        while let Some((key, id, what)) = self.tls.as_mut().and_then(|tls| tls.pop_expired(now)) {
            if let Some(socket) = self.sockets.get(key)
                && socket.id == id
                && socket.tls_stalled(what)
            {
                log::debug!(
                    "peer={} token={key} TLS {what:?} deadline passed",
                    socket.conn.peer()
                );
                self.close(key);
            }
        }
    }

    pub(super) fn close(&mut self, key: usize) {
        self.timers.cancel(key);
        if let Some(mut socket) = self.sockets.try_remove(key) {
            #[cfg(feature = "tls")]
            socket.goodbye();
            self.meter.closed();
            #[cfg(feature = "metrics")]
            if socket.live {
                self.meter.live_closed();
            }
            socket.conn.close();
            socket.conn.release_buffers(&mut self.lend.buffers);
            deregister(self.poll.registry(), &mut socket.stream);
            log::debug!(
                "worker {} closed token={key} peer={}",
                self.index,
                socket.conn.peer()
            );
        }
        if self.accept_paused && self.accept_retry_at.is_none() && self.listener.is_some() {
            // A slot is free again: take the connections that queued meanwhile (no new
            // edge-triggered event will announce them).
            self.accept_paused = false;
            self.accept(Instant::now());
        }
    }
}

pub(super) fn deregister(registry: &Registry, source: &mut impl mio::event::Source) {
    // Closing the descriptor removes it from epoll anyway; deregistering first keeps the
    // poller's view exact and costs one syscall per connection, not per request.
    let _ = registry.deregister(source);
}

/// Sets the deadline `socket` (at `key`) wants, if it changed since it was last set.
fn restart_timer(timers: &mut Timers, key: usize, socket: &mut Socket, now: Instant) {
    set_timer(timers, key, socket, socket.conn.poll_timer(), now);
}

/// Sets the deadline `timer` for the socket, if it is not the one set last.
#[inline]
fn set_timer(
    timers: &mut Timers,
    key: usize,
    socket: &mut Socket,
    timer: Option<Timer>,
    now: Instant,
) {
    if timer != socket.timer {
        match timer {
            Some(timer) => timers.set(key, timer.kind, now),
            None => timers.cancel(key),
        }
        socket.timer = timer;
    }
}
