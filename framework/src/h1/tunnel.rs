//! A connection that has left request/response HTTP: after a `101 Switching Protocols` (a
//! WebSocket) or the head of an event stream (`text/event-stream`), the bytes that follow
//! belong to a [`Tunnel`], which the layer above hands down inside the response
//! ([`Body::Live`](super::encode::Body::Live)).
//!
//! A tunnel is sans-IO, as the connection is: bytes in, bytes out, and a deadline it wants.
//! What makes it live is that others may write to it: a handle held by another thread (or a
//! handler on another connection) puts a message in the tunnel's own queue and calls the
//! [`Wake`] the driver [attached](Tunnel::attach), and the driver then calls
//! [`handle_push`](Tunnel::handle_push) on its loop.

use std::sync::Arc;

/// The protocol a connection carries after its HTTP head.
pub(crate) trait Tunnel: Send {
    /// Bytes arrived from the client; returns how many were taken (the rest stay for later).
    /// Anything to send goes into `out`.
    fn handle_read(&mut self, input: &[u8], out: &mut Vec<u8>) -> usize;

    /// The client closed its sending side.
    fn handle_eof(&mut self, out: &mut Vec<u8>);

    /// Someone pushed something: the tunnel drains its queue into `out`.
    fn handle_push(&mut self, out: &mut Vec<u8>);

    /// Its deadline passed ([`wants_timer`](Self::wants_timer)): ping, heartbeat or give up.
    fn handle_timeout(&mut self, out: &mut Vec<u8>);

    /// The server is shutting down: say goodbye (a close frame, the end of the stream).
    fn handle_shutdown(&mut self, out: &mut Vec<u8>);

    /// How the driver is woken when something is pushed from elsewhere; given once, when the
    /// driver knows the connection (its worker and slot).
    fn attach(&mut self, wake: Arc<dyn Wake>);

    /// Runs the app's callbacks on `pool` rather than on the event loop (a `blocking`
    /// WebSocket route). Tunnels without callbacks ignore it.
    fn offload(&mut self, pool: Arc<dyn Offload>) {
        let _ = pool;
    }

    /// The app's limits for live connections.
    fn configure(&mut self, limits: &LiveLimits) {
        let _ = limits;
    }

    /// Its head went out: `chunked` when what follows it is framed as a chunked body (an
    /// event stream to an HTTP/1.1 client), not when the connection's end delimits it.
    fn begin(&mut self, chunked: bool) {
        let _ = chunked;
    }

    /// Whether it wants the keep-alive deadline (a ping or heartbeat interval) now.
    fn wants_timer(&self) -> bool;

    /// Whether it wants more bytes from the client (not after its close, say).
    fn wants_read(&self) -> bool;

    /// It is over: once its output is written, the connection closes.
    fn is_done(&self) -> bool;
}

/// The limits a live connection keeps to, from the app's `Config` (given when the app
/// answers with it, through [`Tunnel::configure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LiveLimits {
    /// Messages or events queued and not yet written.
    pub max_queue: usize,
    /// Output held past which queued items wait for the client to read.
    pub max_output: usize,
    /// The largest WebSocket message a client may send.
    pub max_message: usize,
}

/// Wakes the driver of one connection from any thread, to call
/// [`Tunnel::handle_push`] on its loop.
pub(crate) trait Wake: Send + Sync {
    /// Asks for the push to be handled; false if the connection is gone.
    fn wake(&self) -> bool;
}

/// Runs work away from the event loop: the server's blocking pool, as the layer above sees it.
pub(crate) trait Offload: Send + Sync {
    /// Queues `work`; false (and `work` dropped) when the pool is full or stopping.
    // Only WebSocket callbacks are offloaded today.
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    fn offload(&self, work: Box<dyn FnOnce() + Send>) -> bool;
}

/// Runs work at once, where it is called: what runs jobs when there is no pool.
pub(crate) struct RunHere;

impl Offload for RunHere {
    fn offload(&self, work: Box<dyn FnOnce() + Send>) -> bool {
        work();
        true
    }
}

impl std::fmt::Debug for dyn Tunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tunnel")
    }
}
