//! A connection driven in memory, the way the event loop drives one over a socket: bytes in
//! through the connection's read buffer, everything it writes taken at once (a client that
//! reads fast), blocking jobs run in place. The one loop behind the test client, the
//! criterion benches, the allocation test and the property tests.

use std::net::SocketAddr;
use std::sync::Arc;

use super::buffer::BufferPool;
use super::conn::{Connection, Ctx, Dispatch};
use super::date::{DateCache, HTTP_DATE_LEN};
use super::head::HostMemo;
use super::limits::Limits;
use super::tunnel::{Offload, RunHere};

/// One in-memory connection, with the buffers and the `Date` a worker would lend it.
#[derive(Debug)]
pub(crate) struct MemoryConnection<J> {
    pub(crate) conn: Connection<J>,
    lent: Lent,
}

/// What a worker lends its connections, kept apart from the connection so that both can be
/// borrowed at once.
#[derive(Debug)]
struct Lent {
    buffers: BufferPool,
    date: [u8; HTTP_DATE_LEN],
    hosts: HostMemo,
}

impl Lent {
    fn ctx<'a, D>(&'a mut self, dispatch: &'a D, limits: &'a Limits) -> Ctx<'a, D> {
        Ctx {
            dispatch,
            limits,
            date: &self.date,
            buffers: &mut self.buffers,
            hosts: &mut self.hosts,
            shutting_down: false,
        }
    }
}

/// How a delivery went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delivered {
    /// Bytes taken by the connection.
    pub taken: usize,
    /// The connection wanted input but offered no space to read into: a real driver would
    /// stop reading, and the connection would hang until a timeout.
    pub stalled: bool,
}

impl<J> MemoryConnection<J> {
    /// A fresh connection from `peer`, with the current date.
    pub(crate) fn new(peer: SocketAddr) -> Self {
        Self::with_date(peer, *DateCache::new().as_bytes())
    }

    /// A fresh connection from `peer` whose responses carry `date`, so that they do not
    /// depend on the clock.
    pub(crate) fn with_date(peer: SocketAddr, date: [u8; HTTP_DATE_LEN]) -> Self {
        Self {
            conn: Connection::new(peer),
            lent: Lent {
                buffers: BufferPool::default(),
                date,
                hosts: HostMemo::default(),
            },
        }
    }

    /// Delivers `bytes` in reads of what the read buffer offers, each ending at the next of
    /// `splits` (sorted offsets into `bytes`) at the latest, appending to `out` everything
    /// the connection writes. Stops early when the connection no longer reads.
    pub(crate) fn deliver<D: Dispatch<Job = J>>(
        &mut self,
        dispatch: &D,
        limits: &Limits,
        bytes: &[u8],
        splits: &[usize],
        out: &mut Vec<u8>,
    ) -> Delivered {
        let mut taken = 0;
        for &end in splits.iter().chain(std::iter::once(&bytes.len())) {
            while taken < end && self.conn.wants_read(limits) {
                let mut ctx = self.lent.ctx(dispatch, limits);
                let buffer = self.conn.read_buffer(&mut ctx);
                if buffer.is_empty() {
                    return Delivered {
                        taken,
                        stalled: true,
                    };
                }
                let n = buffer.len().min(end - taken);
                buffer[..n].copy_from_slice(&bytes[taken..taken + n]);
                taken += n;
                self.conn.handle_read(n, &mut ctx);
                self.drain(dispatch, limits, out);
            }
        }
        self.drain(dispatch, limits, out);
        Delivered {
            taken,
            stalled: false,
        }
    }

    /// Runs the blocking jobs and takes the output until the connection has nothing more to
    /// do, then gives idle buffers back as a worker does.
    pub(crate) fn drain<D: Dispatch<Job = J>>(
        &mut self,
        dispatch: &D,
        limits: &Limits,
        out: &mut Vec<u8>,
    ) {
        loop {
            let mut ctx = self.lent.ctx(dispatch, limits);
            if let Some(job) = self.conn.poll_job() {
                let response = dispatch.run(job, &(Arc::new(RunHere) as Arc<dyn Offload>));
                self.conn.handle_job_done(response, &mut ctx);
                continue;
            }
            let pending = self.conn.poll_transmit();
            if pending.is_empty() {
                break;
            }
            out.extend_from_slice(pending);
            let written = pending.len();
            self.conn.handle_written(written, &mut ctx);
        }
        self.conn.poll_shutdown();
        self.conn.release_buffers(&mut self.lent.buffers);
    }

    /// Lets the connection act on what it holds, as a write of nothing would: for tests that
    /// check nothing was left undone.
    #[cfg(test)]
    pub(crate) fn poke<D: Dispatch<Job = J>>(&mut self, dispatch: &D, limits: &Limits) {
        let mut ctx = self.lent.ctx(dispatch, limits);
        self.conn.handle_written(0, &mut ctx);
    }

    /// How much the connection would read now, as a driver would ask.
    #[cfg(test)]
    pub(crate) fn read_space<D: Dispatch<Job = J>>(
        &mut self,
        dispatch: &D,
        limits: &Limits,
    ) -> usize {
        if !self.conn.wants_read(limits) {
            return 0;
        }
        let mut ctx = self.lent.ctx(dispatch, limits);
        self.conn.read_buffer(&mut ctx).len()
    }
}
