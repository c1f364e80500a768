//! The queue between a live connection's handles, which any thread may hold, and its
//! tunnel, which runs on the connection's event loop. A handle pushes and wakes the loop (once
//! per batch); the tunnel drains on the loop and writes. Bounded: a client too slow to keep
//! up gets the policy its route chose, never an unbounded queue.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::tunnel::Wake;

/// What happens when a push finds the queue full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// The connection is closed (a WebSocket with 1008, policy violation): the client could
    /// not keep up. The default.
    Close,
    /// The oldest queued item is dropped to make room: for updates where only the latest
    /// matters (a price, a position).
    DropOldest,
}

/// Why a push did not go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The connection is gone (closed by either side, or the server stopped).
    Gone,
}

impl std::fmt::Display for PushError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the connection is gone")
    }
}

impl std::error::Error for PushError {}

/// A live connection's queue.
#[derive(Debug)]
pub(crate) struct Outbox<T> {
    inner: Mutex<Inner<T>>,
    /// A wake is on its way (or the tunnel is running on the loop and will drain anyway):
    /// pushes need not wake the loop again.
    notified: AtomicBool,
}

struct Inner<T> {
    queue: VecDeque<T>,
    limit: usize,
    overflow: Overflow,
    /// The queue overflowed under [`Overflow::Close`]: the tunnel closes the connection.
    overflowed: bool,
    closed: bool,
    wake: Option<Arc<dyn Wake>>,
}

impl<T> std::fmt::Debug for Inner<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("queued", &self.queue.len())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl<T> Outbox<T> {
    pub(crate) fn new(limit: usize, overflow: Overflow) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner {
                queue: VecDeque::new(),
                limit,
                overflow,
                overflowed: false,
                closed: false,
                wake: None,
            }),
            // Until the driver attaches a wake, pushes wait for the first drain.
            notified: AtomicBool::new(true),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // A panic while holding the lock leaves a valid queue.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `item` and wakes the connection's loop; `Gone` once the connection is.
    pub(crate) fn push(&self, item: T) -> Result<(), PushError> {
        let wake = {
            let mut inner = self.lock();
            if inner.closed {
                return Err(PushError::Gone);
            }
            if inner.queue.len() >= inner.limit {
                match inner.overflow {
                    Overflow::DropOldest => {
                        inner.queue.pop_front();
                    }
                    Overflow::Close => {
                        inner.overflowed = true;
                        inner.queue.clear();
                    }
                }
            }
            if !inner.overflowed {
                inner.queue.push_back(item);
            }
            inner.wake.clone()
        };
        if !self.notified.swap(true, Ordering::AcqRel)
            && let Some(wake) = wake
            && !wake.wake()
        {
            self.close();
            return Err(PushError::Gone);
        }
        Ok(())
    }

    /// Everything queued, and whether the queue overflowed under [`Overflow::Close`]. Pushes
    /// from now on wake the loop again.
    pub(crate) fn drain(&self) -> (VecDeque<T>, bool) {
        self.notified.store(false, Ordering::Release);
        let mut inner = self.lock();
        (std::mem::take(&mut inner.queue), inner.overflowed)
    }

    /// Puts back what could not be written yet (the client is slow), before newer items.
    pub(crate) fn put_back(&self, mut items: VecDeque<T>) {
        if items.is_empty() {
            return;
        }
        let mut inner = self.lock();
        items.append(&mut inner.queue);
        inner.queue = items;
    }

    /// How many items may wait.
    pub(crate) fn set_limit(&self, limit: usize) {
        self.lock().limit = limit;
    }

    /// Items that may wait before the queue overflows.
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    pub(crate) fn limit(&self) -> usize {
        self.lock().limit
    }

    /// Whether nothing waits.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().queue.is_empty()
    }

    /// How the driver wakes the loop from now on.
    pub(crate) fn set_wake(&self, wake: Arc<dyn Wake>) {
        self.lock().wake = Some(wake);
        self.notified.store(false, Ordering::Release);
    }

    /// Marks the connection gone: pushes fail from now on, and what waits is dropped.
    pub(crate) fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.queue.clear();
        inner.wake = None;
    }

    /// Whether the connection is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// While the tunnel runs on the loop (a handler's callback), pushes need not wake it: it
    /// drains before it returns. Returns the guard that ends this.
    #[cfg(any(test, feature = "websocket"))]
    pub(crate) fn on_loop(&self) -> OnLoop<'_, T> {
        let was = self.notified.swap(true, Ordering::AcqRel);
        OnLoop { outbox: self, was }
    }
}

/// See [`Outbox::on_loop`].
#[cfg(any(test, feature = "websocket"))]
pub(crate) struct OnLoop<'o, T> {
    outbox: &'o Outbox<T>,
    was: bool,
}

#[cfg(any(test, feature = "websocket"))]
impl<T> Drop for OnLoop<'_, T> {
    fn drop(&mut self) {
        self.outbox.notified.store(self.was, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    struct Count(AtomicUsize, bool);
    impl Wake for Count {
        fn wake(&self) -> bool {
            self.0.fetch_add(1, Ordering::SeqCst);
            self.1
        }
    }

    #[test]
    fn pushes_wake_the_loop_once_per_drain() {
        let outbox = Outbox::new(10, Overflow::Close);
        let wake = Arc::new(Count(AtomicUsize::new(0), true));
        outbox.set_wake(wake.clone());
        outbox.push(1).unwrap();
        outbox.push(2).unwrap();
        assert_eq!(wake.0.load(Ordering::SeqCst), 1, "one wake for a batch");
        assert_eq!(outbox.drain().0, [1, 2]);
        outbox.push(3).unwrap();
        assert_eq!(wake.0.load(Ordering::SeqCst), 2);
        {
            let _on_loop = outbox.on_loop();
            outbox.push(4).unwrap();
        }
        assert_eq!(
            wake.0.load(Ordering::SeqCst),
            2,
            "no wake from the loop itself"
        );
    }

    #[test]
    fn a_full_queue_closes_or_drops_the_oldest() {
        let closing = Outbox::new(2, Overflow::Close);
        for n in 0..3 {
            closing.push(n).unwrap();
        }
        assert_eq!(closing.drain(), (VecDeque::new(), true), "overflowed");
        let dropping = Outbox::new(2, Overflow::DropOldest);
        for n in 0..3 {
            dropping.push(n).unwrap();
        }
        assert_eq!(dropping.drain(), (VecDeque::from([1, 2]), false));
    }

    #[test]
    fn a_closed_outbox_says_gone() {
        let outbox = Outbox::new(2, Overflow::Close);
        outbox.close();
        assert_eq!(outbox.push(1), Err(PushError::Gone));
        let orphan = Outbox::new(2, Overflow::Close);
        orphan.set_wake(Arc::new(Count(AtomicUsize::new(0), false)));
        assert_eq!(
            orphan.push(1),
            Err(PushError::Gone),
            "the worker has stopped"
        );
        assert!(orphan.is_closed());
    }
}
