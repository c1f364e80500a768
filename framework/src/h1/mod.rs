//! HTTP/1.1, the protocol: the ground floor of carafe.
//!
//! Sans-IO, as h11 and quinn-proto are: bytes in, requests out, responses encoded. Nothing
//! here touches a socket, a thread or a timer, and nothing here knows the application: a
//! request is handed upward through one small interface and its answer comes back down.
//!
//! - `head.rs`: request heads with httparse, and the framing rules of RFC 9112 (`Head`,
//!   `PartialHead` for a head that arrives in pieces).
//! - `body.rs`: body framing, and the chunked decoder that decodes in place.
//! - `encode.rs`: responses as bytes (`Outgoing`, `Body`).
//! - `buffer.rs`: the connection's input and output buffers, and the per-worker pool of them.
//! - `date.rs`: the `Date` header, formatted once a second.
//! - `error.rs`: why a request could not be read, and the status that says so.
//! - `limits.rs`: every limit and timeout of a connection, in one value.
//! - `conn.rs`: one connection as a state machine, and `Dispatch`, the interface upward.
//! - `memory.rs`: a connection driven in memory (the test client, benchmarks, tests).

pub(crate) mod body;
pub(crate) mod buffer;
pub(crate) mod conn;
pub(crate) mod date;
pub(crate) mod encode;
pub(crate) mod error;
pub(crate) mod events;
pub(crate) mod head;
pub(crate) mod limits;
pub(crate) mod memory;
pub(crate) mod outbox;
pub(crate) mod tunnel;
