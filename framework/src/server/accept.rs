//! Accepting connections: until `WouldBlock`, up to this worker's share of the connection
//! limit, and with a back-off (not a spin) when the process runs out of file descriptors.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::socket::Socket;
use super::worker::Worker;
use crate::h1::conn::Connection;

/// Pause before accepting again after running out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

impl Worker {
    /// Takes every queued connection, until the listener is drained or accepting pauses.
    pub(super) fn accept(&mut self, now: Instant) {
        while !self.accept_paused {
            // At shutdown the queue is drained whatever the limit: the listener is about to
            // close, which would reset every connection still queued on it.
            if self.sockets.len() >= self.max_connections && self.shutdown_deadline.is_none() {
                log::warn!(
                    "worker {}: {} connections open, the limit; pausing accept",
                    self.index,
                    self.sockets.len()
                );
                self.accept_paused = true;
                return;
            }
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => self.add_socket(stream, peer, now),
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

    fn add_socket(&mut self, mut stream: TcpStream, peer: SocketAddr, now: Instant) {
        if let Err(error) = stream.set_nodelay(true) {
            log::debug!("peer={peer} cannot set TCP_NODELAY: {error}");
        }
        let entry = self.sockets.vacant_entry();
        let key = entry.key();
        if let Err(error) =
            self.poll
                .registry()
                .register(&mut stream, Token(key), Interest::READABLE)
        {
            log::warn!("peer={peer} cannot register the connection: {error}");
            return;
        }
        #[allow(unused_mut, reason = "only the tls feature changes it")]
        let mut socket = Socket::new(stream, Connection::new(peer), self.next_id);
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut self.tls {
            match tls.accept(key, self.next_id, now) {
                Some(session) => socket.tls = Some(session),
                None => {
                    super::worker::deregister(self.poll.registry(), &mut socket.stream);
                    return;
                }
            }
        }
        entry.insert(socket);
        self.meter.accepted();
        self.next_id += 1;
        log::debug!("worker {} accepted token={key} peer={peer}", self.index);
        // Its first deadline: idle, until a request starts.
        self.apply_timer(key, now);
    }
}

/// Errors from `accept` that mean the process or system is out of descriptors or memory.
fn is_resource_exhaustion(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
