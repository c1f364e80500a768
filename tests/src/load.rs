//! A steady stream of `GET /api/whoami` from several client threads, recording every
//! request's outcome and which process answered it, for the tests that take a server away
//! under load (nginx fail-over, rolling restarts).
//!
//! Two kinds of client, like real traffic:
//!
//! - [`Client::Fresh`] opens a new connection per request (`Connection: close`) and never
//!   retries: any failure, a reset included, is a lost request.
//! - [`Client::KeepAlive`] keeps its connection across requests and reconnects when the server
//!   says `Connection: close`. When a *reused* connection fails before any byte of the
//!   response arrives (the server closed it while idle, or as the request was on its way) it
//!   retries once on a new connection, as browsers and curl do; that retry is counted. Any
//!   other failure, on the retry too, is a lost request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::http_client::{ClientError, HttpConnection, HttpResponse};

/// The path every client requests: its JSON names the answering process.
const PATH: &str = "/api/whoami";

/// A kind of client thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// A new connection per request; no retries.
    Fresh,
    /// One connection for many requests; one retry when a reused connection dies first.
    KeepAlive,
}

/// What became of one request.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Which client thread sent it (index into the list given to [`Load::start`]).
    pub client: usize,
    /// When the client began it.
    pub started: Instant,
    /// When it ended.
    pub finished: Instant,
    /// The status and the answering process id, or why there was no response.
    pub result: Result<(u16, u32), String>,
    /// Whether a keep-alive client had to retry it on a new connection.
    pub retried: bool,
}

impl Outcome {
    /// A 200 response.
    pub fn is_ok(&self) -> bool {
        matches!(self.result, Ok((200, _)))
    }

    /// The process that answered, if any did.
    pub fn pid(&self) -> Option<u32> {
        self.result.as_ref().ok().map(|&(_, pid)| pid)
    }
}

/// Client threads running until [`Load::stop`] (or drop).
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Vec<Outcome>>>,
}

impl Load {
    /// Starts one thread per entry of `clients`, each sending requests to `addr` back to back
    /// with `pause` between them.
    pub fn start(addr: SocketAddr, clients: &[Client], pause: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = clients
            .iter()
            .enumerate()
            .map(|(index, &kind)| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || run_client(index, kind, addr, pause, &stop))
            })
            .collect();
        Self { stop, threads }
    }

    /// Stops every client after its current request and returns all outcomes, in the order
    /// they finished.
    pub fn stop(mut self) -> Report {
        self.stop.store(true, Ordering::SeqCst);
        let mut outcomes: Vec<Outcome> = std::mem::take(&mut self.threads)
            .into_iter()
            .flat_map(|thread| thread.join().expect("a client thread panicked"))
            .collect();
        outcomes.sort_by_key(|outcome| outcome.finished);
        Report { outcomes }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        // On a panic elsewhere in the test: end the clients rather than leave them running.
        self.stop.store(true, Ordering::SeqCst);
        for thread in std::mem::take(&mut self.threads) {
            let _ = thread.join();
        }
    }
}

fn run_client(
    client: usize,
    kind: Client,
    addr: SocketAddr,
    pause: Duration,
    stop: &AtomicBool,
) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let mut connection: Option<HttpConnection> = None;
    while !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        let (response, retried) = match kind {
            Client::Fresh => (fresh_request(addr), false),
            Client::KeepAlive => keep_alive_request(&mut connection, addr),
        };
        let result = response.map_err(|error| error.to_string()).and_then(|r| {
            let pid = r.json()["pid"]
                .as_u64()
                .and_then(|pid| u32::try_from(pid).ok())
                .ok_or_else(|| format!("status {} without a pid: {}", r.status, r.text()))?;
            Ok((r.status, pid))
        });
        outcomes.push(Outcome {
            client,
            started,
            finished: Instant::now(),
            result,
            retried,
        });
        std::thread::sleep(pause);
    }
    outcomes
}

fn connect(addr: SocketAddr) -> Result<HttpConnection, ClientError> {
    HttpConnection::connect(addr).map_err(|error| ClientError {
        got_response_bytes: false,
        message: format!("connect: {error}"),
    })
}

fn fresh_request(addr: SocketAddr) -> Result<HttpResponse, ClientError> {
    connect(addr)?.get(PATH, &[("Connection", "close")])
}

/// One request on the kept connection, or a new one; returns whether it was retried.
fn keep_alive_request(
    connection: &mut Option<HttpConnection>,
    addr: SocketAddr,
) -> (Result<HttpResponse, ClientError>, bool) {
    let mut retried = false;
    if let Some(reused) = connection.as_mut() {
        match reused.get(PATH, &[]) {
            Ok(response) => {
                if response.closes_connection() {
                    *connection = None;
                }
                return (Ok(response), false);
            }
            // Closed before answering: the request may never have been seen. Retry it once.
            Err(error) if !error.got_response_bytes => {
                *connection = None;
                retried = true;
            }
            Err(error) => {
                *connection = None;
                return (Err(error), false);
            }
        }
    }
    let result = connect(addr).and_then(|mut fresh| {
        let response = fresh.get(PATH, &[])?;
        if !response.closes_connection() {
            *connection = Some(fresh);
        }
        Ok(response)
    });
    (result, retried)
}

/// Every request's outcome, in the order they finished.
#[derive(Debug)]
pub struct Report {
    /// The outcomes.
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// Requests that got no 200.
    pub fn failures(&self) -> Vec<&Outcome> {
        self.outcomes.iter().filter(|o| !o.is_ok()).collect()
    }

    /// Requests a keep-alive client retried on a new connection.
    pub fn retries(&self) -> usize {
        self.outcomes.iter().filter(|o| o.retried).count()
    }

    /// Requests answered by process `pid`.
    pub fn served_by(&self, pid: u32) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.pid() == Some(pid))
            .count()
    }

    /// Requests begun at or after `instant`.
    pub fn started_after(&self, instant: Instant) -> Vec<&Outcome> {
        self.outcomes
            .iter()
            .filter(|o| o.started >= instant)
            .collect()
    }

    /// Fails the test unless every request got a 200, listing the first failures.
    #[track_caller]
    pub fn assert_all_ok(&self) {
        let failures = self.failures();
        assert!(
            failures.is_empty(),
            "{} of {} requests failed; the first ones:\n{:#?}",
            failures.len(),
            self.outcomes.len(),
            &failures[..failures.len().min(10)]
        );
    }
}
