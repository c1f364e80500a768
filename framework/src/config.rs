//! [`Config`]: limits, timeouts and worker count, with defaults chosen like nginx's.

use std::time::Duration;

use ipnet::IpNet;

use crate::h1::body::ChunkedLimits;
use crate::h1::head::HeadLimits;
use crate::h1::limits::{Limits, Timeouts};
use crate::h1::tunnel::LiveLimits;

/// Server limits and timeouts. Change fields on [`App::config`](crate::App::config) before
/// binding:
///
/// ```
/// use std::time::Duration;
///
/// let mut app = carafe::App::new();
/// app.config.max_body_size = 64 * 1024 * 1024;
/// app.config.max_file_size = 16 * 1024 * 1024;
/// app.config.keep_alive_timeout = Duration::from_secs(5);
/// app.config.workers = 1;
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Event-loop threads, each with its own `SO_REUSEPORT` listener. Default: the number of
    /// CPUs available.
    pub workers: usize,
    /// Largest request head (request line and headers) in bytes; more is answered with 431.
    /// Default 16 KiB.
    pub max_head_size: usize,
    /// Most header fields in a request; more is answered with 431. Default 100, at most 256.
    pub max_headers: usize,
    /// Longest request-target in bytes; longer is answered with 414. Default 8 KiB.
    pub max_target_len: usize,
    /// Largest request body in bytes; larger is answered with 413 before the body is read.
    /// Default 8 MiB.
    pub max_body_size: u64,
    /// Most bytes of chunk extensions (what follows the size on each chunk's line) in one
    /// chunked request body, summed over its chunks; more is answered with 400. carafe uses
    /// no extension, and without a cap a client could send gigabytes of them around a small
    /// body. The trailer section after the last chunk counts against `max_head_size` and
    /// `max_headers`, like the header section. Default 16 KiB (hyper's limit).
    pub max_chunk_extensions: usize,
    /// Largest uploaded file in a `multipart/form-data` body, in bytes:
    /// [`Request::multipart`](crate::Request::multipart) answers a larger one with 413. The
    /// whole body, all files and fields together, stays bounded by `max_body_size`. Default
    /// 2 MiB (with the 8 MiB body limit, PHP's long-standing pair of defaults).
    pub max_file_size: u64,
    /// Most fields in a form body: urlencoded pairs for [`Request::form`](crate::Request::form),
    /// parts (fields and files) for [`Request::multipart`](crate::Request::multipart); one more
    /// is answered with 413. Werkzeug's `max_form_parts`. Default 1,000.
    pub max_form_parts: usize,
    /// Most parameters in a request's query string (empty pairs, as in `a&&b`, do not count);
    /// one more is answered with 414 before the request reaches the app. Default 1,000.
    pub max_query_params: usize,
    /// Most cookies a request may carry, across its `Cookie` headers; one more is answered
    /// with 431 before the request reaches the app. Browsers keep at most about 180 per
    /// site. Default 200.
    pub max_cookies: usize,
    /// Most open connections for the whole server, shared evenly by the workers; at its
    /// share a worker stops accepting until one of its connections closes. Default: the
    /// `RLIMIT_NOFILE` soft limit less 64 descriptors kept for everything else.
    pub max_connections: usize,
    /// Response bytes held per connection (unsent, or sent and not yet dropped, which is
    /// never more than the unsent) above which carafe stops reading more pipelined requests
    /// from it until the client catches up. Default 1 MiB.
    pub max_pending_output: usize,
    /// Time allowed from the first byte of a request head to its end; then 408 and close
    /// (stops slowloris). Default 10 s.
    pub header_timeout: Duration,
    /// Time allowed between two reads of a request body; then 408 and close. Default 30 s.
    pub body_timeout: Duration,
    /// How long an idle keep-alive connection stays open. Default 30 s.
    pub keep_alive_timeout: Duration,
    /// Time allowed between two successful writes while a response is pending; then the
    /// connection is closed and its buffers freed. Default 30 s.
    pub write_timeout: Duration,
    /// After the last response of a connection carafe closes (an error, `Connection: close`),
    /// how long it keeps reading and dropping what the client still sends before closing, so
    /// that the client reads the response rather than a reset (RFC 9112 §9.6); at most 1 MiB
    /// is read. Default 2 s.
    pub linger_timeout: Duration,
    /// On shutdown, how long in-flight requests may take before their connections are cut.
    /// Default 10 s.
    pub shutdown_grace: Duration,
    /// Threads running `blocking` handlers, shared by all workers; started only if some
    /// route is blocking. Default 16.
    pub blocking_threads: usize,
    /// Requests for `blocking` handlers that may wait for a free thread; beyond that they are
    /// answered with 503 and `Retry-After`. Default 256.
    pub blocking_queue: usize,
    /// A handler not marked `blocking` that runs longer than this holds up every connection
    /// of its event loop: carafe logs a warning, once per route, naming the route and the
    /// time and suggesting `blocking`. Default 100 ms; `None` turns the check off (it reads
    /// the clock twice per request, about 60 instructions).
    pub slow_handler_warning: Option<Duration>,
    /// How long a live connection may be quiet: a WebSocket is then pinged (and closed if
    /// the pong does not come within the same time), an event stream gets a heartbeat
    /// comment so that proxies and clients keep it open. Default 30 s.
    pub live_ping_interval: Duration,
    /// The largest WebSocket message (after joining its fragments) a client may send;
    /// larger closes the connection with 1009. Default 1 MiB.
    pub max_websocket_message: usize,
    /// Messages (or events) queued for one live connection and not yet written, past which
    /// its client counts as too slow: a WebSocket is closed with 1008, an event stream
    /// ends. Default 1,024.
    pub max_live_queue: usize,
    /// Origins (`scheme://host[:port]`, as browsers send them) of other sites whose pages may
    /// open WebSockets to this app; `"*"` allows any. A browser sends `Origin` with every
    /// handshake, and carries the visitor's cookies: without this check any site the visitor
    /// opens could talk to the app as them (cross-site WebSocket hijacking). A page of the
    /// app itself (an `Origin` naming the request's `Host`) and a client that is not a
    /// browser (no `Origin`) are always let in; anyone else gets 403. Default: none.
    pub websocket_origins: Vec<String>,
    /// How long a TLS client has, from the moment it connects, to finish its handshake; then
    /// the connection is closed (a client that opens TLS and stalls, slowloris style).
    /// Default 10 s.
    #[cfg(feature = "tls")]
    pub tls_handshake_timeout: Duration,
    /// Length of the listen queue (`listen(2)` backlog). Default 1024.
    pub backlog: u32,
    /// The kernel send buffer of each connection (`SO_SNDBUF`), in bytes. Default `None`:
    /// the kernel sizes it and grows it as needed, which is best for almost everyone. A small
    /// value makes a fast client look like a slow WAN one (the kernel takes each response a
    /// few KiB at a time), as nginx's `listen ... sndbuf=` does.
    pub send_buffer_size: Option<usize>,
    /// Let other processes bind the same port (`SO_REUSEPORT`), so a new process can start
    /// while the old one still serves: a rolling restart. Default false: binding a port that
    /// another server holds is then an "address in use" error, not a silent share. (Several
    /// workers always share their port among themselves.)
    pub reuse_port: bool,
    /// Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed, for
    /// [`Request::remote_addr`](crate::Request::remote_addr) and
    /// [`Request::scheme`](crate::Request::scheme); see also
    /// [`Request::is_from_trusted_proxy`](crate::Request::is_from_trusted_proxy). Default:
    /// none (headers ignored).
    pub trusted_proxies: Vec<IpNet>,
    /// Response compression: `None` (the default) sends every body as the handler made it;
    /// `Some` compresses with gzip or brotli as `Accept-Encoding` asks, with these settings
    /// (minimum size, levels, types, precompressed static files). Set it with
    /// [`App::compress`](crate::App::compress); see [`Compression`](crate::Compression).
    /// Needs the `compression` feature.
    #[cfg(feature = "compression")]
    pub compression: Option<crate::compression::Compression>,
    /// Name of the cookie that holds [`Request::session`](crate::Request::session). Give apps
    /// on one host different names: browsers share cookies across ports. Default `session`.
    #[cfg(feature = "sessions")]
    pub session_cookie_name: String,
    /// How long a session stays valid after it was last written: the signed cookie carries
    /// the time it was made, and an older one reads as an empty session, so a copied cookie
    /// does not open the session for ever. Flask checks its `PERMANENT_SESSION_LIFETIME` the
    /// same way. Default 31 days.
    #[cfg(feature = "sessions")]
    pub session_lifetime: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            workers: std::thread::available_parallelism().map_or(1, usize::from),
            max_head_size: 16 * 1024,
            max_headers: 100,
            max_target_len: 8 * 1024,
            max_body_size: 8 * 1024 * 1024,
            max_chunk_extensions: 16 * 1024,
            max_file_size: 2 * 1024 * 1024,
            max_form_parts: 1000,
            max_query_params: 1000,
            max_cookies: 200,
            max_connections: default_max_connections(),
            max_pending_output: 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            linger_timeout: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(10),
            blocking_threads: 16,
            blocking_queue: 256,
            slow_handler_warning: Some(Duration::from_millis(100)),
            live_ping_interval: Duration::from_secs(30),
            max_websocket_message: 1024 * 1024,
            max_live_queue: 1024,
            websocket_origins: Vec::new(),
            #[cfg(feature = "tls")]
            tls_handshake_timeout: Duration::from_secs(10),
            backlog: 1024,
            send_buffer_size: None,
            reuse_port: false,
            trusted_proxies: Vec::new(),
            #[cfg(feature = "compression")]
            compression: None,
            #[cfg(feature = "sessions")]
            session_cookie_name: "session".to_owned(),
            #[cfg(feature = "sessions")]
            session_lifetime: Duration::from_secs(31 * 24 * 60 * 60),
        }
    }
}

impl From<&Config> for Limits {
    /// The limits the protocol layer enforces, from the settings.
    fn from(config: &Config) -> Self {
        Limits {
            head: HeadLimits {
                max_head: config.max_head_size,
                max_headers: config.max_headers,
                max_target: config.max_target_len,
                max_query_params: config.max_query_params,
                max_cookies: config.max_cookies,
            },
            chunked: ChunkedLimits {
                max_body: config.max_body_size,
                max_extensions: config.max_chunk_extensions,
                // The trailer section is a header section, with its limits.
                max_trailer_size: config.max_head_size,
                max_trailers: config.max_headers,
            },
            max_pending_output: config.max_pending_output,
            live: LiveLimits {
                max_queue: config.max_live_queue,
                max_output: config.max_pending_output,
                max_message: config.max_websocket_message,
            },
            timeouts: Timeouts {
                header: config.header_timeout,
                body: config.body_timeout,
                keep_alive: config.keep_alive_timeout,
                write: config.write_timeout,
                linger: config.linger_timeout,
                ping: config.live_ping_interval,
            },
        }
    }
}

/// Connections a process can hold: the soft file-descriptor limit, less a margin for the
/// listeners, pollers, log files and templates the process also opens.
fn default_max_connections() -> usize {
    const RESERVED_DESCRIPTORS: u64 = 64;
    let soft_limit = read_nofile_limit().unwrap_or(1024);
    usize::try_from(soft_limit.saturating_sub(RESERVED_DESCRIPTORS).max(16)).unwrap_or(usize::MAX)
}

/// The soft `RLIMIT_NOFILE`, read from `/proc/self/limits` so that no `unsafe` libc call is
/// needed; `None` where that file does not exist (non-Linux), which falls back to 1024.
fn read_nofile_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    let soft = line.split_whitespace().nth(3)?;
    if soft == "unlimited" {
        Some(u64::MAX)
    } else {
        soft.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_sane() {
        let config = Config::default();
        assert!(config.workers >= 1);
        assert!(config.max_connections >= 16);
        assert_eq!(config.max_head_size, 16 * 1024);
        assert_eq!(config.max_body_size, 8 * 1024 * 1024);
        assert_eq!(config.max_file_size, 2 * 1024 * 1024);
        #[cfg(feature = "sessions")]
        assert_eq!(
            config.session_lifetime,
            Duration::from_secs(31 * 24 * 60 * 60)
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_the_descriptor_limit() {
        assert!(read_nofile_limit().is_some_and(|limit| limit > 0));
    }
}
