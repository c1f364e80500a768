//! One accepted socket, driven: read until drained, let the sans-IO [`Conn`] answer, write
//! until done or the socket is full, then linger or close. The worker (`worker.rs`) calls
//! [`Connection::drive`] on every readiness event and acts on the [`Next`] it returns.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use mio::Interest;
use mio::net::TcpStream;

use crate::conn::{Conn, Ctx, Phase};

/// How long a closing connection may keep sending before it is closed anyway.
pub(super) const LINGER_TIMEOUT: Duration = Duration::from_secs(2);
/// Most bytes read and discarded from a closing connection.
const LINGER_BYTES: usize = 1024 * 1024;

/// One accepted socket and its protocol state.
pub(super) struct Connection {
    pub(super) stream: TcpStream,
    pub(super) conn: Conn,
    /// The interest registered with the poller.
    pub(super) interest: Interest,
    /// False until a read hits `WouldBlock` (or a short read), true after: with
    /// edge-triggered readiness there is nothing more to read until the next readable event.
    pub(super) read_drained: bool,
    /// The last event reported that the peer closed its side: read to EOF, not just until a
    /// short read, because the FIN came with the data and no further edge will announce it.
    pub(super) peer_closed: bool,
    /// Closing: our write side is shut down and incoming bytes are discarded until EOF.
    pub(super) lingering: Option<usize>,
    /// The phase and answered count when the timer was last set, to restart it only on change.
    pub(super) timer_phase: Phase,
    pub(super) timer_answered: u64,
    /// Unique within the worker: a response from the blocking pool for slab key `k` is only
    /// delivered if the connection at `k` is still the one that asked.
    pub(super) id: u64,
}

/// What a connection asks of its worker after being driven.
pub(super) enum Next {
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
    pub(super) fn drive(&mut self, ctx: &mut Ctx<'_>) -> Next {
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
    pub(super) fn wanted_interest(&self) -> Interest {
        if self.conn.pending_output().is_empty() {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        }
    }
}
