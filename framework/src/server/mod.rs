//! The I/O driver, the top floor: the one module that touches sockets and threads.
//!
//! This is the notes' `event_loop()` grown up. Each worker thread runs one `Worker`
//! (`worker.rs`): a mio `Poll` (epoll, edge-triggered), its own `SO_REUSEPORT` listener, and a
//! `Slab` of sockets keyed by `Token`. On readiness it accepts until `WouldBlock`
//! (`accept.rs`), and drives each ready `Socket` (`socket.rs`): read until the socket is
//! drained, let its sans-IO `Connection` answer, write until done or `WouldBlock`, asking for
//! `WRITABLE` only while output is pending. Between events it sleeps in `epoll_wait` with a
//! timeout that is the nearest deadline (`timer.rs`), or none: an idle server uses no CPU.
//! `blocking.rs` is the pool of threads for `blocking` handlers, `shutdown.rs` the graceful
//! shutdown, `listen.rs` the listening sockets, `tls.rs` HTTPS (the `tls` feature).
//!
//! This file holds what the public API sees: [`Server`], [`ServerHandle`], [`RunningServer`],
//! and [`App::bind`], [`App::run`] and [`App::spawn`].

mod accept;
mod blocking;
mod console;
mod listen;
mod live;
mod meter;
mod shutdown;
mod socket;
mod timer;
#[cfg(feature = "tls")]
pub(crate) mod tls;
mod worker;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::thread::{self, JoinHandle};

use mio::net::TcpListener;
use mio::{Interest, Poll, Token, Waker};

use crate::app::App;
use crate::error::Error;
use crate::health::Readiness;
use crate::site::Site;
use blocking::BlockingPool;
use listen::{ListenOptions, listen};
use worker::Worker;

pub(super) const LISTENER: Token = Token(usize::MAX - 1);
pub(super) const WAKER: Token = Token(usize::MAX - 2);

/// What the workers are asked to do, from any thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum RunState {
    Running = 0,
    /// Stop accepting, finish what is in flight within the grace period.
    Graceful = 1,
    /// Stop now.
    Immediate = 2,
}

impl From<u8> for RunState {
    fn from(value: u8) -> Self {
        match value {
            0 => RunState::Running,
            1 => RunState::Graceful,
            _ => RunState::Immediate,
        }
    }
}

/// Shared between the workers and every [`ServerHandle`].
struct Control {
    /// A [`RunState`]; it only ever goes up.
    state: AtomicU8,
    wakers: Vec<Arc<Waker>>,
    /// The app's readiness ([`App::health`](crate::App::health)), cleared as a shutdown starts.
    readiness: Readiness,
}

impl Control {
    fn request(&self, state: RunState) {
        // Before any worker hears of it: a readiness probe answered from now on says 503.
        self.readiness.shutting_down();
        self.state.fetch_max(state as u8, Ordering::SeqCst);
        for waker in &self.wakers {
            if let Err(error) = waker.wake() {
                log::error!("cannot wake a worker to stop it: {error}");
            }
        }
    }
}

/// Stops a running server from any thread.
#[derive(Clone)]
pub struct ServerHandle {
    control: Arc<Control>,
}

impl ServerHandle {
    /// Starts a graceful shutdown: stop accepting, close idle connections, let in-flight
    /// requests finish (answered with `Connection: close`) within
    /// [`Config::shutdown_grace`](crate::Config::shutdown_grace), then return from `run`.
    pub fn shutdown(&self) {
        self.control.request(RunState::Graceful);
    }

    /// Stops at once, dropping every connection.
    pub fn stop_now(&self) {
        self.control.request(RunState::Immediate);
    }
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle").finish_non_exhaustive()
    }
}

/// A bound server, not serving yet: read its address, take a handle, then [`run`](Self::run).
///
/// ```
/// let server = carafe::App::new().bind("127.0.0.1:0").unwrap();
/// let addr = server.local_addr();
/// let handle = server.handle();
/// let thread = std::thread::spawn(move || server.run());
/// // ... talk to `addr` ...
/// handle.shutdown();
/// thread.join().unwrap().unwrap();
/// ```
pub struct Server {
    site: Arc<Site>,
    addr: SocketAddr,
    workers: Vec<(Poll, TcpListener)>,
    control: Arc<Control>,
    /// `App::run` has printed where it listens: `run` need not log it again.
    announced: bool,
    /// HTTPS: the certificate and settings every worker's sessions share.
    #[cfg(feature = "tls")]
    tls: Option<tls::Tls>,
}

impl Server {
    fn bind(site: Arc<Site>, addr: impl ToSocketAddrs) -> Result<Self, Error> {
        let requested = addr
            .to_socket_addrs()
            .and_then(|mut addrs| {
                addrs
                    .next()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))
            })
            .map_err(|source| Error::Bind {
                addr: "(unresolved)".into(),
                source,
            })?;
        let config = &site.config;
        let count = config.workers.max(1);
        let bind_error = |source| Error::Bind {
            addr: requested.to_string(),
            source,
        };
        let requested = if count > 1 && !config.reuse_port {
            // Several workers need SO_REUSEPORT, which would also let this server quietly
            // share a port another server holds. Claim the port alone first: a bind without
            // SO_REUSEPORT fails with "address in use" if anyone has it. (It is free again
            // for the instant between this probe and the real bind below.)
            let probe = std::net::TcpListener::bind(requested).map_err(bind_error)?;
            probe.local_addr().map_err(bind_error)?
        } else {
            requested
        };
        let options = ListenOptions {
            reuse_port: count > 1 || config.reuse_port,
            backlog: config.backlog,
            send_buffer_size: config.send_buffer_size,
        };
        let first = listen(requested, &options).map_err(bind_error)?;
        let addr = first.local_addr().map_err(bind_error)?;
        let mut listeners = vec![first];
        for _ in 1..count {
            // The others join the port the first one got (port 0 resolves once).
            let options = ListenOptions {
                reuse_port: true,
                ..options
            };
            listeners.push(listen(addr, &options).map_err(bind_error)?);
        }
        let mut workers = Vec::with_capacity(count);
        let mut wakers = Vec::with_capacity(count);
        for mut listener in listeners {
            let poll = Poll::new()?;
            poll.registry()
                .register(&mut listener, LISTENER, Interest::READABLE)?;
            wakers.push(Arc::new(Waker::new(poll.registry(), WAKER)?));
            workers.push((poll, listener));
        }
        let control = Arc::new(Control {
            state: AtomicU8::new(RunState::Running as u8),
            wakers,
            readiness: site.readiness.clone(),
        });
        Ok(Self {
            site,
            addr,
            workers,
            control,
            announced: false,
            #[cfg(feature = "tls")]
            tls: None,
        })
    }

    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle to stop the server from another thread.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            control: Arc::clone(&self.control),
        }
    }

    /// `https` on a TLS server, `http` otherwise.
    fn scheme(&self) -> &'static str {
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            return "https";
        }
        "http"
    }

    /// Serves until [`ServerHandle::shutdown`], running one worker on this thread and the
    /// others on their own threads.
    pub fn run(self) -> Result<(), Error> {
        if !self.announced {
            log::info!(
                "listening on {}://{} ({} worker{})",
                self.scheme(),
                self.addr,
                self.workers.len(),
                plural(self.workers.len())
            );
        }
        let scheme = self.scheme();
        // Threads for `blocking` handlers, shared by the workers; only if some route needs them.
        let blocking = if self.site.has_blocking_routes() {
            let config = &self.site.config;
            let pool =
                BlockingPool::start(&self.site, config.blocking_threads, config.blocking_queue)?;
            #[cfg(feature = "metrics")]
            if let Some(metrics) = &self.site.metrics {
                metrics.set_blocking_pool(pool.admitted(), config.blocking_threads.max(1));
            }
            Some(Arc::new(pool))
        } else {
            None
        };
        let mut workers = self
            .workers
            .into_iter()
            .enumerate()
            .map(|(index, (poll, listener))| {
                #[allow(unused_mut, reason = "only the tls feature changes it")]
                let mut worker = Worker::new(
                    index,
                    poll,
                    listener,
                    &self.site,
                    &self.control,
                    blocking.clone(),
                );
                #[cfg(feature = "tls")]
                if let Some(tls) = &self.tls {
                    let config = &self.site.config;
                    worker.tls = Some(tls::Edge::new(
                        tls,
                        config.tls_handshake_timeout,
                        config.write_timeout,
                    ));
                }
                worker
            });
        let Some(first) = workers.next() else {
            return Ok(());
        };
        let mut threads: Vec<JoinHandle<io::Result<()>>> = Vec::new();
        for worker in workers {
            let name = format!("carafe-worker-{}", worker.index);
            match thread::Builder::new()
                .name(name)
                .spawn(move || worker.run())
            {
                Ok(thread) => threads.push(thread),
                Err(error) => {
                    self.control.request(RunState::Immediate);
                    let _ = join_all(threads); // The spawn error is the one to report.
                    return Err(error.into());
                }
            }
        }
        let result = first.run();
        if result.is_err() {
            // A failed worker takes the others down rather than leaving a half-served port.
            self.control.request(RunState::Immediate);
        }
        let others = join_all(threads);
        log::info!("server on {scheme}://{} stopped", self.addr);
        result.and(others).map_err(Error::from)
    }

    /// Serves until SIGINT or SIGTERM: the first starts a graceful shutdown, a second stops
    /// at once. [`App::run`](crate::App::run) is `bind` then this; call it yourself to learn
    /// the bound address first. On an HTTPS server, SIGHUP reloads the certificate
    /// (`Tls::reload`, with the `tls` feature).
    pub fn run_until_signal(self) -> Result<(), Error> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let handle = self.handle();
        #[allow(unused_mut, reason = "only the tls feature adds a signal")]
        let mut wanted = vec![SIGINT, SIGTERM];
        #[cfg(feature = "tls")]
        let tls = self.tls.clone();
        #[cfg(feature = "tls")]
        if tls.is_some() {
            wanted.push(signal_hook::consts::SIGHUP);
        }
        let mut signals = signal_hook::iterator::Signals::new(wanted)?;
        let signals_handle = signals.handle();
        thread::Builder::new()
            .name("carafe-signals".into())
            .spawn(move || {
                let mut stops = 0;
                for signal in signals.forever() {
                    #[cfg(feature = "tls")]
                    if signal == signal_hook::consts::SIGHUP {
                        if let Some(tls) = &tls {
                            match tls.reload() {
                                Ok(()) => log::info!("SIGHUP: TLS certificate reloaded"),
                                Err(error) => log::error!(
                                    "SIGHUP: TLS certificate not reloaded, the old one stays: {error:?}"
                                ),
                            }
                        }
                        continue;
                    }
                    let _ = signal;
                    stops += 1;
                    if stops == 1 {
                        log::info!("shutting down gracefully (signal again to stop now)");
                        handle.shutdown();
                    } else {
                        log::warn!("stopping now");
                        handle.stop_now();
                        break;
                    }
                }
            })?;
        let result = self.run();
        signals_handle.close();
        result
    }

    /// Serves on a background thread; see [`RunningServer`].
    fn spawn(self) -> Result<RunningServer, Error> {
        let addr = self.addr;
        let scheme = self.scheme();
        let handle = self.handle();
        let thread = thread::Builder::new()
            .name("carafe-server".into())
            .spawn(move || self.run())?;
        Ok(RunningServer {
            addr,
            scheme,
            handle,
            thread: Some(thread),
        })
    }
}

/// A server serving on background threads, from [`App::spawn`](crate::App::spawn). Dropping
/// it shuts the server down and waits for it, so a test cannot leak a server.
pub struct RunningServer {
    addr: SocketAddr,
    /// `http`, or `https` for a TLS server.
    scheme: &'static str,
    handle: ServerHandle,
    thread: Option<JoinHandle<Result<(), Error>>>,
}

impl RunningServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{addr}{path}` (`https://` for a TLS server).
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }

    /// A handle to stop the server from elsewhere.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Shuts down gracefully and waits until every worker has stopped.
    pub fn shutdown(mut self) -> Result<(), Error> {
        self.handle.shutdown();
        self.join()
    }

    fn join(&mut self) -> Result<(), Error> {
        match self.thread.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Error::Io(io::Error::other("a server thread panicked"))),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.handle.shutdown();
            if let Err(error) = self.join() {
                log::error!("server stopped with an error: {error}");
            }
        }
    }
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn join_all(threads: Vec<JoinHandle<io::Result<()>>>) -> io::Result<()> {
    let mut outcome = Ok(());
    for thread in threads {
        let result = thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("a worker thread panicked")));
        if outcome.is_ok() {
            outcome = result;
        }
    }
    outcome
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

impl App {
    /// Binds the listening socket(s) without serving yet, so the caller can read the bound
    /// address (bind port 0 for any free port) and take a shutdown handle first. The app is
    /// frozen here: what it is now is what serves.
    pub fn bind(self, addr: impl ToSocketAddrs) -> Result<Server, Error> {
        // Resolved here first: whether the debug page may be on depends on the address.
        let ip = addr
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .map(|addr| addr.ip());
        Server::bind(Arc::new(self.freeze_listening(true, ip)?), addr)
    }

    /// Serves on `addr` until SIGINT or SIGTERM, then shuts down gracefully: in-flight
    /// requests finish (within [`Config::shutdown_grace`](crate::Config::shutdown_grace)),
    /// idle connections close. A second signal stops at once.
    ///
    /// The entry point for a program that is the app. It prints where it listens, Flask
    /// style, on stderr (` * Running on http://127.0.0.1:8080 (2 workers, Ctrl-C to stop)`),
    /// and when the program has installed no logger it installs `env_logger` at `info`
    /// (`RUST_LOG` overrides), so that panics, template errors and the access log show. A
    /// program that set up its own logger keeps it. [`bind`](Self::bind) and
    /// [`spawn`](Self::spawn) print nothing and install nothing.
    pub fn run(self, addr: impl ToSocketAddrs) -> Result<(), Error> {
        console::ensure_logger();
        let mut server = self.bind(addr)?;
        eprintln!(
            "{}",
            console::banner(server.scheme(), server.addr, server.workers.len())
        );
        server.announced = true;
        server.run_until_signal()
    }

    /// Serves on `addr` on background threads and returns at once; the returned handle stops
    /// the server when dropped. What tests use.
    pub fn spawn(self, addr: impl ToSocketAddrs) -> Result<RunningServer, Error> {
        self.bind(addr)?.spawn()
    }
}

#[cfg(feature = "tls")]
impl App {
    /// [`bind`](Self::bind) for HTTPS: every connection speaks TLS 1.2 or 1.3 (ALPN
    /// `http/1.1`) with `tls`'s certificate. See [`Tls`](crate::Tls) for an example.
    pub fn bind_tls(self, addr: impl ToSocketAddrs, tls: tls::Tls) -> Result<Server, Error> {
        let mut server = self.bind(addr)?;
        server.tls = Some(tls);
        Ok(server)
    }

    /// [`run`](Self::run) for HTTPS, with the certificate chain and key read from PEM files;
    /// SIGHUP reads them again ([`Tls::reload`](crate::Tls::reload)): new handshakes get the
    /// new certificate, open connections are not dropped.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), carafe::Error> {
    /// let mut app = carafe::App::new();
    /// carafe::route!(app, GET "/" => |_req| "Hello over TLS")?;
    /// app.run_tls("0.0.0.0:8443", "fullchain.pem", "key.pem")
    /// # }
    /// ```
    pub fn run_tls(
        self,
        addr: impl ToSocketAddrs,
        cert_chain_pem: impl AsRef<std::path::Path>,
        key_pem: impl AsRef<std::path::Path>,
    ) -> Result<(), Error> {
        console::ensure_logger();
        let tls = tls::Tls::from_pem_files(cert_chain_pem, key_pem)?;
        let mut server = self.bind_tls(addr, tls)?;
        eprintln!(
            "{}",
            console::banner(server.scheme(), server.addr, server.workers.len())
        );
        server.announced = true;
        server.run_until_signal()
    }

    /// [`spawn`](Self::spawn) for HTTPS: serves on background threads, stopped when the
    /// returned handle drops; its [`url`](RunningServer::url) says `https://`.
    pub fn spawn_tls(
        self,
        addr: impl ToSocketAddrs,
        tls: tls::Tls,
    ) -> Result<RunningServer, Error> {
        self.bind_tls(addr, tls)?.spawn()
    }
}
