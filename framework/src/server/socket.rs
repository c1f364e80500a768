//! One accepted socket, driven: read until drained, let its protocol [`Connection`] answer,
//! write until done or the socket is full; shut the write side when the connection asks.
//! The worker (`worker.rs`) calls [`Socket::drive`] on every readiness event and acts on the
//! [`Next`] it returns.

use std::io::{self, Read, Write};
use std::net::Shutdown;

use mio::Interest;
use mio::net::TcpStream;

use super::meter::Meter;
use crate::h1::conn::{Connection, Ctx, Timer};
use crate::site::{BlockingJob, WorkerSite};

/// Most bytes read and written for one socket in one turn of the loop: past it, the socket
/// waits for the next turn (the worker keeps it on its list of sockets to drive again), so
/// that a client that never stops sending and reading cannot keep a worker from the others.
pub(super) const TURN_BUDGET: usize = 256 * 1024;

/// One accepted socket and the protocol connection it carries.
pub(super) struct Socket {
    pub(super) stream: TcpStream,
    pub(super) conn: Connection<BlockingJob>,
    /// The interest registered with the poller.
    pub(super) interest: Interest,
    /// False until a read hits `WouldBlock` (or a short read), true after: with
    /// edge-triggered readiness there is nothing more to read until the next readable event.
    pub(super) read_drained: bool,
    /// The last event reported that the peer closed its side: read to EOF, not just until a
    /// short read, because the FIN came with the data and no further edge will announce it.
    pub(super) peer_closed: bool,
    /// The deadline last set for this socket in the worker's timer lists.
    pub(super) timer: Option<Timer>,
    /// Unique within the worker: a response from the blocking pool for slab key `k` is only
    /// delivered if the socket at `k` is still the one that asked.
    pub(super) id: u64,
    /// The TLS session between the socket and the connection, on an HTTPS server.
    #[cfg(feature = "tls")]
    pub(super) tls: Option<Box<super::tls::TlsConn>>,
    /// It went live (a WebSocket, an event stream): counted among live connections.
    #[cfg(feature = "metrics")]
    pub(super) live: bool,
}

/// What a socket asks of its worker after being driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// Wait for the next readiness event (or timer, or blocking job).
    Wait,
    /// More work is ready but this turn's budget is spent: drive again on the next turn.
    Again,
    Close,
    /// [`Wait`](Self::Wait) in the usual case, which the worker settles on a short path:
    /// the socket is plain, drained and registered for reading only, and its connection
    /// waits for its next request with nothing buffered (`Connection::awaiting_epoch`,
    /// whose idle deadline's epoch this carries).
    Idle(u64),
}

impl Socket {
    pub(super) fn new(stream: TcpStream, conn: Connection<BlockingJob>, id: u64) -> Self {
        Self {
            stream,
            conn,
            interest: Interest::READABLE,
            read_drained: false,
            peer_closed: false,
            timer: None,
            id,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "metrics")]
            live: false,
        }
    }

    /// Reads, answers and writes until no more progress is possible without a new event, or
    /// the turn's budget is spent.
    pub(super) fn drive(&mut self, ctx: &mut Ctx<'_, WorkerSite>, meter: &Meter) -> Next {
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            return self.drive_tls(ctx, meter);
        }
        let mut budget = TURN_BUDGET;
        loop {
            let read = match self.read(ctx, &mut budget, meter) {
                Ok(read) => read,
                Err(error) => return self.fail(&error, "read"),
            };
            let wrote = match self.flush(ctx, &mut budget, meter) {
                Ok(wrote) => wrote,
                Err(error) => return self.fail(&error, "write"),
            };
            let shut = self.conn.poll_shutdown();
            if shut && self.stream.shutdown(Shutdown::Write).is_err() {
                return Next::Close;
            }
            // The usual end: nothing left to read until the next event, every request answered
            // and written (so not done, not shut, nothing to write).
            if self.read_drained
                && self.interest == Interest::READABLE
                && let Some(epoch) = self.conn.awaiting_epoch()
            {
                return Next::Idle(epoch);
            }
            if self.conn.is_done() {
                return Next::Close;
            }
            // Nothing left to read until the next event, nor to write: another pass would do
            // nothing (the usual end of a turn), so it is not made.
            let nothing_left = !shut && self.read_drained && !self.conn.has_output();
            if !(read || wrote || shut) || nothing_left {
                return Next::Wait;
            }
            if budget == 0 {
                return Next::Again;
            }
        }
    }

    /// Reads until the socket is drained, the connection stops wanting input, or the budget
    /// is spent. Returns whether anything happened.
    fn read(
        &mut self,
        ctx: &mut Ctx<'_, WorkerSite>,
        budget: &mut usize,
        meter: &Meter,
    ) -> io::Result<bool> {
        let mut any = false;
        while !self.read_drained && *budget > 0 && self.conn.wants_read(ctx.limits) {
            let buffer = self.conn.read_buffer(ctx);
            let space = buffer.len();
            if space == 0 {
                break;
            }
            match self.stream.read(buffer) {
                Ok(0) => {
                    log::trace!("peer={} closed its side", self.conn.peer());
                    self.read_drained = true;
                    self.conn.handle_eof();
                    any = true;
                }
                Ok(n) => {
                    any = true;
                    *budget = budget.saturating_sub(n);
                    meter.received(n);
                    self.conn.handle_read(n, ctx);
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

    /// Writes pending output until done, the socket is full, or the budget is spent. Returns
    /// whether any was written.
    fn flush(
        &mut self,
        ctx: &mut Ctx<'_, WorkerSite>,
        budget: &mut usize,
        meter: &Meter,
    ) -> io::Result<bool> {
        let mut any = false;
        while *budget > 0 {
            let pending = self.conn.poll_transmit();
            if pending.is_empty() {
                break;
            }
            match self.stream.write(pending) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    let full = n < pending.len();
                    any = true;
                    meter.sent(n);
                    *budget = budget.saturating_sub(n);
                    self.conn.handle_written(n, ctx);
                    if full {
                        // The send buffer is full; WRITABLE interest reports when it drains.
                        break;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(any)
    }

    pub(super) fn fail(&self, error: &io::Error, during: &str) -> Next {
        // Resets and broken pipes are the client's business, not the operator's.
        log::debug!("peer={} {during} failed: {error}", self.conn.peer());
        Next::Close
    }

    /// Nothing in progress: the connection is between requests with nothing buffered, and no
    /// TLS records wait to be sent (the end of a response, which a shutdown must not cut).
    pub(super) fn is_idle(&self) -> bool {
        #[cfg(feature = "tls")]
        if self
            .tls
            .as_deref()
            .is_some_and(super::tls::TlsConn::wants_write)
        {
            return false;
        }
        self.conn.is_idle()
    }

    /// The interest this socket needs now: `WRITABLE` only while output is pending.
    pub(super) fn wanted_interest(&self) -> Interest {
        #[cfg(feature = "tls")]
        if self
            .tls
            .as_deref()
            .is_some_and(super::tls::TlsConn::wants_write)
        {
            return Interest::READABLE | Interest::WRITABLE;
        }
        if !self.conn.has_output() {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        }
    }
}
