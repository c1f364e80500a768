//! [`Limits`]: every limit and timeout the protocol layer enforces, in one value.
//!
//! It is computed once from the app's `Config` when the app stops changing (`From<&Config>`
//! in `config.rs`, the layer above), and lent to every connection of a worker.

use std::time::Duration;

use super::body::ChunkedLimits;
use super::head::HeadLimits;

/// The limits and timeouts of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The request head: size, fields, target, query parameters, cookies.
    pub head: HeadLimits,
    /// A chunked body: decoded size, extensions, trailers.
    pub chunked: ChunkedLimits,
    /// Response bytes held per connection before it stops reading pipelined requests.
    pub max_pending_output: usize,
    /// The timeouts, by kind.
    pub timeouts: Timeouts,
    /// Live connections' queue and message limits.
    pub live: super::tunnel::LiveLimits,
}

/// How long a connection may stay in each state that waits on its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    /// From the first byte of a head to its end.
    pub header: Duration,
    /// Between two reads of a body.
    pub body: Duration,
    /// Between requests on a kept-alive connection.
    pub keep_alive: Duration,
    /// Between two writes while output is pending.
    pub write: Duration,
    /// After the last response of a closing connection, for the client's last bytes.
    pub linger: Duration,
    /// A live connection's quiet interval: a WebSocket is pinged, an event stream gets a
    /// heartbeat comment.
    pub ping: Duration,
}

impl Limits {
    /// The largest the input buffer may need to grow for one request: a head, a body, and
    /// what the chunked decoder may still wait on (a size line or the trailer section).
    pub(crate) fn max_request_buffer(&self) -> usize {
        let body = usize::try_from(self.chunked.max_body).unwrap_or(usize::MAX);
        self.head
            .max_head
            .saturating_add(body)
            .saturating_add(self.chunked.max_undecoded())
    }
}
