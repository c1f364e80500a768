//! The worker's end of live connections (WebSockets, event streams): how a handle on any
//! thread wakes the worker that owns its connection. Each worker has one channel of
//! `(slot, id)` pairs and one mio `Waker`; a push sends its connection's pair and wakes the
//! loop, which then lets that connection write what was pushed. The id guards against a slot
//! reused by a newer connection.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Instant;

use mio::Waker;

use super::worker::Worker;
use crate::h1::tunnel::Wake;

/// The worker's channel of live connections with something pushed to them.
pub(super) struct Pushes {
    receiver: Receiver<(usize, u64)>,
    sender: Sender<(usize, u64)>,
    waker: Arc<Waker>,
}

impl Pushes {
    pub(super) fn new(waker: Arc<Waker>) -> Self {
        let (sender, receiver) = mpsc::channel();
        Self {
            receiver,
            sender,
            waker,
        }
    }

    /// A wake for the connection at `key` with `id`.
    fn wake_for(&self, key: usize, id: u64) -> Arc<dyn Wake> {
        Arc::new(WorkerWake {
            sender: self.sender.clone(),
            waker: Arc::clone(&self.waker),
            key,
            id,
        })
    }
}

/// Wakes one worker for one of its connections.
struct WorkerWake {
    sender: Sender<(usize, u64)>,
    waker: Arc<Waker>,
    key: usize,
    id: u64,
}

impl Wake for WorkerWake {
    fn wake(&self) -> bool {
        // A worker that has stopped no longer listens: its connections are gone.
        self.sender.send((self.key, self.id)).is_ok() && self.waker.wake().is_ok()
    }
}

impl Worker {
    /// Gives a connection that just went live its wake, then lets it write what was pushed
    /// before it had one. True when the socket must be driven again.
    pub(super) fn attach_live(&mut self, key: usize) -> bool {
        let wake = match self.sockets.get(key) {
            Some(socket) if socket.conn.needs_wake() => self.pushes.wake_for(key, socket.id),
            _ => return false,
        };
        let mut ctx = self.lend.ctx();
        let Some(socket) = self.sockets.get_mut(key) else {
            return false;
        };
        socket.conn.attach(wake);
        #[cfg(feature = "metrics")]
        if !socket.live {
            socket.live = true;
            self.meter.live_opened();
        }
        socket.conn.handle_push(&mut ctx);
        true
    }

    /// Lets each live connection something was pushed to write it.
    pub(super) fn receive_pushes(&mut self, now: Instant) {
        while let Ok((key, id)) = self.pushes.receiver.try_recv() {
            let mut ctx = self.lend.ctx();
            match self.sockets.get_mut(key) {
                Some(socket) if socket.id == id => socket.conn.handle_push(&mut ctx),
                // Gone meanwhile: its handles learn it on their next push.
                _ => continue,
            }
            self.drive(key, now);
        }
    }

    /// At a graceful shutdown, live connections say goodbye (a close frame, the end of the
    /// stream) and close once that is done, within the grace period.
    pub(super) fn end_live(&mut self, now: Instant) {
        let live: Vec<usize> = self
            .sockets
            .iter()
            .filter(|(_, socket)| socket.conn.is_live())
            .map(|(key, _)| key)
            .collect();
        for key in live {
            let mut ctx = self.lend.ctx();
            if let Some(socket) = self.sockets.get_mut(key) {
                socket.conn.handle_shutdown(&mut ctx);
            }
            self.drive(key, now);
        }
    }
}
