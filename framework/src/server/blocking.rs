//! The blocking pool: threads that run `blocking` handlers, so that a handler that waits (on a
//! database, a sleep, a long computation) never stalls an event loop, the problem the notes
//! started from: a single-threaded server stuck on one client.
//!
//! A worker hands over the job a connection made (the site's `BlockingJob`: the request
//! parsed once on the loop, copied out), with where to send the answer. A pool thread runs
//! it with [`Dispatch::run`], sends the response back through the worker's channel and wakes
//! the worker's event loop. The queue is bounded: a full pool refuses the job, and the worker
//! answers [`service_unavailable`] at once. A job always gets an answer: one that panics is a
//! 500, and one dropped unanswered (a thread gone, a pool stopping) answers 503 as it goes.
//!
//! The same threads run the callbacks of `blocking` WebSocket routes: the site hands them
//! over through [`Offload`], one job per connection at a time so that its events stay in order.

use std::fmt::Display;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread;

use http::StatusCode;
use http::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use mio::Waker;

use crate::h1::conn::Dispatch;
use crate::h1::encode::Outgoing;
use crate::h1::tunnel::{Offload, RunHere};

/// The answer when the pool cannot take a job: 503 with `Retry-After`.
fn service_unavailable() -> Outgoing {
    let mut response = Outgoing::text(StatusCode::SERVICE_UNAVAILABLE, "503 busy, try again\n");
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response.headers = Some(Box::new(headers));
    response
}

/// A response ready for the connection at slab `key` with `id`.
#[derive(Debug)]
pub(super) struct Completed {
    pub key: usize,
    pub id: u64,
    pub response: Outgoing,
}

/// Where a job's response goes. Sent once; if dropped unsent, it answers 503 itself, so that
/// its connection never waits for an answer that will not come.
pub(super) struct Reply {
    /// The worker's results channel; `None` once sent.
    results: Option<Sender<Completed>>,
    /// Wakes the worker's event loop after sending.
    waker: Arc<Waker>,
    /// The connection it belongs to: slab key, and an id so that a key reused by a newer
    /// connection is never handed someone else's response.
    key: usize,
    id: u64,
}

impl Reply {
    fn new(results: Sender<Completed>, waker: Arc<Waker>, key: usize, id: u64) -> Self {
        Self {
            results: Some(results),
            waker,
            key,
            id,
        }
    }

    fn send(mut self, response: Outgoing) {
        self.deliver(response);
    }

    /// Drops the reply without answering: its job was refused, and the caller answers.
    fn cancel(mut self) {
        self.results = None;
    }

    fn deliver(&mut self, response: Outgoing) {
        let Some(results) = self.results.take() else {
            return;
        };
        let completed = Completed {
            key: self.key,
            id: self.id,
            response,
        };
        // A worker that has stopped no longer listens; its connections are gone anyway.
        if results.send(completed).is_ok()
            && let Err(error) = self.waker.wake()
        {
            log::error!("cannot wake a worker with a blocking handler's response: {error}");
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.deliver(service_unavailable());
    }
}

/// A worker's end of the pool: it hands jobs over and collects their answers, which pool
/// threads send down the worker's own channel before waking its event loop.
pub(super) struct BlockingLink<J> {
    /// `None` when the site has no `blocking` route, so no pool was started.
    pool: Option<Arc<BlockingPool<J>>>,
    results: Receiver<Completed>,
    results_sender: Sender<Completed>,
    waker: Arc<Waker>,
}

impl<J: Display + Send + 'static> BlockingLink<J> {
    pub(super) fn new(pool: Option<Arc<BlockingPool<J>>>, waker: Arc<Waker>) -> Self {
        let (results_sender, results) = mpsc::channel();
        Self {
            pool,
            results,
            results_sender,
            waker,
        }
    }

    /// Hands the job of the connection at slab `key` with `id` to the pool. `None` when the
    /// pool took it (its answer comes back through [`completed`](Self::completed)); else the
    /// answer to send now: 503 when the pool is full, rather than letting requests pile up
    /// without bound.
    pub(super) fn submit<D: Dispatch<Job = J>>(
        &self,
        dispatch: &D,
        key: usize,
        id: u64,
        job: J,
    ) -> Option<Outgoing> {
        let Some(pool) = &self.pool else {
            // Only reachable if a blocking route exists without a pool; answer here, slowly.
            return Some(dispatch.run(job, &(Arc::new(RunHere) as Arc<dyn Offload>)));
        };
        let reply = Reply::new(
            self.results_sender.clone(),
            Arc::clone(&self.waker),
            key,
            id,
        );
        let job = pool.submit(job, reply).err()?;
        log::debug!("blocking pool full: 503 for {job}");
        Some(service_unavailable())
    }

    /// The next answer a pool thread has sent back, if any.
    pub(super) fn completed(&self) -> Option<Completed> {
        self.results.try_recv().ok()
    }
}

/// What the pool's threads take from its queue.
enum Work<J> {
    /// A request for a `blocking` route, and where to send its response.
    Request(J, Reply),
    /// The callbacks of a `blocking` WebSocket route's connection.
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    Callbacks(Box<dyn FnOnce() + Send>),
}

/// A fixed set of threads with a bounded queue of work.
pub(super) struct BlockingPool<J> {
    shared: Arc<Shared<J>>,
}

/// The queue's sending end, shared by the pool's owner and by the threads (which hand it to
/// the live connections they answer, for their callbacks).
struct Shared<J> {
    /// `None` once the pool stops: the channel then closes, and each thread ends once it
    /// finds the queue empty.
    queue: RwLock<Option<Sender<Work<J>>>>,
    /// Work admitted and not finished (queued or running), capped at `capacity`. Counted
    /// here rather than by a bounded channel, whose limit would depend on whether a thread
    /// has already taken the previous job off the queue.
    admitted: Arc<AtomicUsize>,
    capacity: usize,
}

impl<J: Send + 'static> BlockingPool<J> {
    /// Starts `threads` threads running jobs with `dispatch`, with room for `queue` waiting.
    pub(super) fn start<D>(dispatch: &Arc<D>, threads: usize, queue: usize) -> std::io::Result<Self>
    where
        D: Dispatch<Job = J> + Send + Sync + 'static,
    {
        let threads = threads.max(1);
        let (sender, receiver) = mpsc::channel::<Work<J>>();
        let receiver = Arc::new(Mutex::new(receiver));
        let shared = Arc::new(Shared {
            queue: RwLock::new(Some(sender)),
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: threads + queue,
        });
        for index in 0..threads {
            let dispatch = Arc::clone(dispatch);
            let receiver = Arc::clone(&receiver);
            let shared = Arc::clone(&shared);
            // Detached: a handler stuck forever must not keep the server from stopping (the
            // process ending takes such a thread with it).
            thread::Builder::new()
                .name(format!("carafe-blocking-{index}"))
                .spawn(move || run_jobs(&*dispatch, &receiver, shared))?;
        }
        log::debug!("blocking pool: {threads} threads, queue of {queue}");
        Ok(Self { shared })
    }

    /// Where to read the work admitted (queued or running), for the metrics; it does not
    /// keep the pool's state alive.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(super) fn admitted(&self) -> std::sync::Weak<AtomicUsize> {
        Arc::downgrade(&self.shared.admitted)
    }

    /// Queues `job`, to be answered through `reply`; or refuses it when `threads + queue`
    /// jobs are already admitted: then `reply` is cancelled and the job given back, for the
    /// caller to answer.
    pub(super) fn submit(&self, job: J, reply: Reply) -> Result<(), J> {
        match self.shared.submit(Work::Request(job, reply)) {
            Ok(()) => Ok(()),
            Err(Work::Request(job, reply)) => {
                reply.cancel();
                Err(job)
            }
            Err(Work::Callbacks(_)) => unreachable!("a request was submitted"),
        }
    }
}

impl<J> Shared<J> {
    /// Queues `work` if the pool has room and still runs; else gives it back.
    fn submit(&self, work: Work<J>) -> Result<(), Work<J>> {
        if self
            .admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| {
                (count < self.capacity).then_some(count + 1)
            })
            .is_err()
        {
            return Err(work);
        }
        let queue = self.queue.read().unwrap_or_else(PoisonError::into_inner);
        let sent = match &*queue {
            Some(queue) => queue.send(work).map_err(|error| error.0),
            None => Err(work),
        };
        if sent.is_err() {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
        }
        sent
    }
}

impl<J: Send + 'static> Offload for Shared<J> {
    fn offload(&self, work: Box<dyn FnOnce() + Send>) -> bool {
        self.submit(Work::Callbacks(work)).is_ok()
    }
}

impl<J> Drop for BlockingPool<J> {
    /// Closes the queue: each thread ends once it finds it empty.
    fn drop(&mut self) {
        *self
            .shared
            .queue
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// Counts a job as finished when dropped, however the job ended.
struct Admission<'a>(&'a AtomicUsize);

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn run_jobs<D: Dispatch>(
    dispatch: &D,
    receiver: &Mutex<Receiver<Work<D::Job>>>,
    shared: Arc<Shared<D::Job>>,
) {
    let pool: Arc<dyn Offload> = Arc::clone(&shared) as Arc<dyn Offload>;
    loop {
        // Hold the lock only to take one job; a poisoned lock (a thread panicked while
        // holding it, which `recv` cannot do) would still hand out the receiver.
        let next = receiver
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .recv();
        let Ok(work) = next else {
            return; // The pool is shutting down.
        };
        let admission = Admission(&shared.admitted);
        match work {
            Work::Request(job, reply) => {
                // Handlers run behind their own panic boundary (a 500 with the app's page);
                // this one is for the rest, so that no job takes its thread down or goes
                // unanswered.
                let response = panic::catch_unwind(AssertUnwindSafe(|| dispatch.run(job, &pool)))
                    .unwrap_or_else(|_| {
                        log::error!("a blocking job panicked outside its handler");
                        Outgoing::text(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "500 Internal Server Error\n",
                        )
                    });
                drop(admission);
                reply.send(response);
            }
            // The callbacks have their own panic boundary (which closes the connection).
            Work::Callbacks(callbacks) => {
                if panic::catch_unwind(AssertUnwindSafe(callbacks)).is_err() {
                    log::error!("a WebSocket's callbacks panicked outside the handler");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::time::Duration;

    use crate::h1::conn::Answer;
    use crate::h1::head::Head;

    /// Runs jobs that are numbers: 0 panics, others answer with a body of that many bytes.
    struct Numbers;

    impl Dispatch for Numbers {
        type Job = usize;
        fn dispatch(&self, _: &Head<'_, '_>, _: &[u8], _: SocketAddr) -> Answer<usize> {
            unreachable!("jobs are submitted directly")
        }
        fn run(&self, job: usize, _pool: &Arc<dyn Offload>) -> Outgoing {
            assert!(job != 0, "job 0 panics");
            Outgoing::text(StatusCode::OK, vec![b'x'; job])
        }
    }

    /// A waker on a poll nobody polls, and the channel its replies arrive on.
    fn reply_to(key: usize) -> (Reply, Receiver<Completed>, mio::Poll) {
        let poll = mio::Poll::new().unwrap();
        let waker = Arc::new(Waker::new(poll.registry(), mio::Token(0)).unwrap());
        let (results, received) = mpsc::channel();
        (Reply::new(results, waker, key, 7), received, poll)
    }

    #[test]
    fn a_panicking_job_is_a_500_and_its_thread_and_slot_live_on() {
        let pool = BlockingPool::start(&Arc::new(Numbers), 1, 0).unwrap();
        let (reply, received, _poll) = reply_to(1);
        assert!(pool.submit(0, reply).is_ok());
        let answer = received.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!((answer.key, answer.id), (1, 7));
        assert_eq!(answer.response.status, StatusCode::INTERNAL_SERVER_ERROR);
        // The one thread is still there, and the admission was given back: the pool, with
        // room for one job, takes the next.
        let (reply, received, _poll) = reply_to(2);
        // The slot is given back just before the answer is sent, so it is free by now.
        assert!(
            pool.submit(3, reply).is_ok(),
            "the slot of the panicked job was not freed"
        );
        let answer = received.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(answer.response.body.len(), 3);
    }

    #[test]
    fn a_reply_dropped_unsent_answers_503() {
        let (reply, received, _poll) = reply_to(4);
        drop(reply);
        let answer = received.recv_timeout(Duration::from_secs(1)).unwrap();
        assert_eq!(answer.key, 4);
        assert_eq!(answer.response.status, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn a_full_pool_gives_the_job_back() {
        let pool = BlockingPool::start(&Arc::new(Numbers), 1, 0).unwrap();
        // Hold the admission count at the capacity by hand: the next job is refused.
        pool.shared.admitted.store(1, Ordering::SeqCst);
        let (reply, received, _poll) = reply_to(5);
        assert!(matches!(pool.submit(9, reply), Err(9)));
        // The caller answers; the reply sends nothing (a second answer would reach whatever
        // the connection asks next).
        assert!(received.recv_timeout(Duration::from_millis(100)).is_err());
    }

    #[test]
    fn the_link_answers_503_when_full_runs_here_without_a_pool_and_collects_answers() {
        let poll = mio::Poll::new().unwrap();
        let waker = Arc::new(Waker::new(poll.registry(), mio::Token(0)).unwrap());
        let pool = Arc::new(BlockingPool::start(&Arc::new(Numbers), 1, 0).unwrap());
        let link = BlockingLink::new(Some(Arc::clone(&pool)), Arc::clone(&waker));
        assert!(
            link.submit(&Numbers, 3, 11, 5).is_none(),
            "an idle pool takes the job"
        );
        let done = (0..500)
            .find_map(|_| {
                std::thread::sleep(Duration::from_millis(10));
                link.completed()
            })
            .expect("the pool answered through the link");
        assert_eq!((done.key, done.id, done.response.body.len()), (3, 11, 5));

        pool.shared.admitted.store(1, Ordering::SeqCst);
        let refused = link
            .submit(&Numbers, 3, 12, 5)
            .expect("a full pool refuses");
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        pool.shared.admitted.store(0, Ordering::SeqCst);

        let without_pool = BlockingLink::new(None, waker);
        let here = without_pool
            .submit(&Numbers, 0, 0, 2)
            .expect("answered in place");
        assert_eq!((here.status, here.body.len()), (StatusCode::OK, 2));
    }
}
