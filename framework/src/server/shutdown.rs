//! Graceful shutdown of one worker: stop accepting (after taking what is queued), close idle
//! connections, answer requests in flight with `Connection: close`, and give connections that
//! have sent nothing yet a moment for their first request; after the grace period, stop.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::RunState;
use super::worker::{Worker, deregister};

/// At shutdown, how long a connection that has sent nothing yet may take to send its first
/// request (it was accepted, so its client expects an answer).
const FIRST_REQUEST_WINDOW: Duration = Duration::from_secs(1);

impl Worker {
    /// Handles shutdown requests; true when the loop should end.
    pub(super) fn should_exit(&mut self, now: Instant) -> bool {
        match RunState::from(self.control.state.load(Ordering::SeqCst)) {
            RunState::Running => false,
            RunState::Graceful => {
                if self.shutdown_deadline.is_none() {
                    self.begin_shutdown(now);
                }
                if self
                    .first_request_cutoff
                    .is_some_and(|cutoff| now >= cutoff)
                {
                    self.first_request_cutoff = None;
                    self.close_idle();
                }
                if self.sockets.is_empty() {
                    return true;
                }
                if self
                    .shutdown_deadline
                    .is_some_and(|deadline| now >= deadline)
                {
                    log::warn!(
                        "worker {}: shutdown grace period over; cutting {} connection(s) with requests in progress",
                        self.index,
                        self.sockets.len()
                    );
                    return true;
                }
                false
            }
            RunState::Immediate => true,
        }
    }

    fn begin_shutdown(&mut self, now: Instant) {
        let deadline = now + self.lend.site.site().config.shutdown_grace;
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
        self.end_live(now);
        // Keep-alive connections between requests close now, but a request may already be
        // waiting in the socket (its event not handled yet): read once first, so it is
        // answered (with Connection: close) rather than lost to the close. Driving an idle
        // connection during shutdown closes it if nothing arrived. Connections that have
        // sent nothing at all get a moment to send their first request.
        let idle: Vec<usize> = self
            .sockets
            .iter()
            .filter(|(_, socket)| socket.is_idle() && socket.conn.answered() > 0)
            .map(|(key, _)| key)
            .collect();
        let closed = idle.len();
        for key in idle {
            self.on_ready(key, true, false, now);
        }
        log::debug!(
            "worker {}: shutting down, closed {closed} idle connections, {} remain",
            self.index,
            self.sockets.len()
        );
    }

    /// Closes the connections with nothing in progress.
    fn close_idle(&mut self) {
        let idle: Vec<usize> = self
            .sockets
            .iter()
            .filter(|(_, socket)| socket.is_idle())
            .map(|(key, _)| key)
            .collect();
        for key in idle {
            self.close(key);
        }
    }
}
