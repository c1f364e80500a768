//! The blocking pool: threads that run `blocking` handlers, so that a handler that waits
//! (on a database, a sleep, a long computation) never stalls an event loop — the problem the
//! notes started from, a single-threaded server stuck on one client.
//!
//! A worker hands over a [`Job`]: an owned copy of the request and where to send the answer.
//! A pool thread parses the head again, runs the whole request through [`App::respond`] (hooks,
//! handler, error pages, session) and sends the response back through the worker's channel,
//! then wakes the worker's event loop with the job's `wake` callback. The queue is bounded: a
//! full queue refuses the job, and the worker answers 503.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::app::App;
use crate::error::HttpError;
use crate::h1::head::{self, HeadLimits};
use crate::response::Response;

/// A request copied out of its connection's buffer: the head and the (decoded) body.
#[derive(Debug)]
pub(crate) struct OwnedRequest {
    bytes: Vec<u8>,
    head_len: usize,
    peer: SocketAddr,
}

impl OwnedRequest {
    /// Copies a request whose head is `buffer[..head_len]` and body `buffer[head_len..]`.
    pub(crate) fn new(buffer: &[u8], head_len: usize, peer: SocketAddr) -> Self {
        Self {
            bytes: buffer.to_vec(),
            head_len,
            peer,
        }
    }

    /// Answers the request on this thread: the head is parsed again (it was valid when it
    /// arrived, and the bytes have not changed) and the app responds as it would on a worker.
    pub(crate) fn respond(&self, app: &App) -> Response {
        let limits = HeadLimits::from_config(&app.config);
        let mut storage = head::header_storage();
        match head::parse_head(&self.bytes[..self.head_len], &mut storage, &limits) {
            Ok(Some(head)) => app.respond(&head, &self.bytes[self.head_len..], self.peer, true),
            // Unreachable in practice: the same bytes parsed on the worker.
            _ => HttpError::internal("request head changed").into(),
        }
    }
}

/// Where a finished job's response goes.
pub(crate) struct Reply {
    /// The worker's results channel.
    pub results: Sender<Completed>,
    /// Wakes the worker's event loop after sending.
    pub wake: Arc<dyn Fn() + Send + Sync>,
    /// The connection it belongs to: slab key, and an id so that a key reused by a newer
    /// connection is never handed someone else's response.
    pub key: usize,
    pub id: u64,
}

/// A request for a blocking handler and where to send its response.
pub(crate) struct Job {
    pub request: OwnedRequest,
    pub reply: Reply,
}

/// A response ready for connection `key`/`id`.
pub(crate) struct Completed {
    pub key: usize,
    pub id: u64,
    pub response: Response,
}

/// A fixed set of threads with a bounded queue of jobs.
pub(crate) struct BlockingPool {
    queue: Option<Sender<Job>>,
    /// Jobs admitted and not finished (queued or running), capped at `capacity`. Counted
    /// here rather than by a bounded channel, whose limit would depend on whether a thread
    /// has already taken the previous job off the queue.
    admitted: Arc<AtomicUsize>,
    capacity: usize,
}

impl BlockingPool {
    /// Starts `threads` threads answering requests for `app`, with room for `queue` waiting jobs.
    pub(crate) fn start(app: &Arc<App>, threads: usize, queue: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let admitted = Arc::new(AtomicUsize::new(0));
        for index in 0..threads {
            let app = Arc::clone(app);
            let receiver = Arc::clone(&receiver);
            let admitted = Arc::clone(&admitted);
            // Detached: a handler stuck forever must not keep the server from stopping (the
            // process ending takes such a thread with it).
            thread::Builder::new()
                .name(format!("carafe-blocking-{index}"))
                .spawn(move || run_jobs(&app, &receiver, &admitted))?;
        }
        log::debug!("blocking pool: {threads} threads, queue of {queue}");
        Ok(Self {
            queue: Some(sender),
            admitted,
            capacity: threads + queue,
        })
    }

    /// Queues `job`, or gives it back when `threads + queue` jobs are already admitted.
    pub(crate) fn submit(&self, job: Job) -> Result<(), Job> {
        let Some(queue) = &self.queue else {
            return Err(job);
        };
        let admitted = self
            .admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| {
                (count < self.capacity).then_some(count + 1)
            });
        if admitted.is_err() {
            return Err(job);
        }
        queue.send(job).map_err(|error| {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            error.0
        })
    }
}

impl Drop for BlockingPool {
    /// Closes the queue: each thread ends once it finds it empty.
    fn drop(&mut self) {
        self.queue = None;
    }
}

fn run_jobs(app: &App, receiver: &Mutex<Receiver<Job>>, admitted: &AtomicUsize) {
    loop {
        // Hold the lock only to take one job; a poisoned lock (a thread panicked while
        // holding it, which `recv` cannot do) would still hand out the receiver.
        let next = receiver
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .recv();
        let Ok(job) = next else {
            return; // The pool is shutting down.
        };
        let response = job.request.respond(app);
        admitted.fetch_sub(1, Ordering::AcqRel);
        let reply = job.reply;
        // A worker that has stopped no longer listens; its connections are gone anyway.
        if reply
            .results
            .send(Completed {
                key: reply.key,
                id: reply.id,
                response,
            })
            .is_ok()
        {
            (reply.wake)();
        }
    }
}
