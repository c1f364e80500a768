//! Thin wrappers over crate internals for carafe's own micro-benchmarks
//! (`framework/benches/`) and allocation test (`framework/tests/allocations.rs`), re-exported
//! as the hidden `carafe::__bench`.
//!
//! **Unstable, not public API**: hidden from the docs, outside semver, and free to change or
//! vanish in any release. Each wrapper calls the internal function it names and adds nothing
//! to the hot path, so the benchmarks measure what the server runs; nothing here is used by
//! the server itself.

use std::net::{Ipv4Addr, SocketAddr};

use http::{Method, Version};

use crate::app::App;
use crate::config::Config;
use crate::error::RouteError;
use crate::h1::date::HTTP_DATE_LEN;
use crate::h1::encode::EncodeOptions;
use crate::h1::head::{self, HeadLimits};
use crate::h1::limits::Limits;
use crate::h1::memory::MemoryConnection;
use crate::request::Request;
use crate::response::Response;
use crate::router::{Lookup, RouteSpec};
use crate::site::{BlockingJob, Site};

/// A fixed `Date` value, so that encoded responses do not depend on the clock.
const DATE: &[u8; HTTP_DATE_LEN] = b"Sun, 06 Nov 1994 08:49:37 GMT";

/// Parses request heads as a connection does, under the limits of a [`Config`] (read once:
/// `Config::default` reads `/proc`, which a benchmark loop must not).
#[derive(Debug, Clone, Copy)]
pub struct HeadParser {
    limits: HeadLimits,
}

impl HeadParser {
    /// A parser with `config`'s head limits.
    pub fn new(config: &Config) -> Self {
        Self {
            limits: Limits::from(config).head,
        }
    }

    /// Parses the request head at the start of `buf`. Returns the head's length and its
    /// number of header fields, or `None` if the head is incomplete or invalid.
    pub fn parse(&self, buf: &[u8]) -> Option<(usize, usize)> {
        let mut storage = head::header_storage();
        // A fresh Host memo: the Host value is checked in full, as for a worker's first request.
        let mut hosts = head::HostMemo::default();
        match head::parse_head(buf, &mut storage, &self.limits, &mut hosts) {
            Ok(Some(head)) => Some((head.len, head.headers.len())),
            Ok(None) | Err(_) => None,
        }
    }
}

/// Encodes `response` into `out` as the answer to an HTTP/1.1 keep-alive GET, with a fixed
/// `Date`, as a connection does. A streamed body is not read, only its head is written.
pub fn encode_response(response: &mut Response, out: &mut Vec<u8>) {
    let options = EncodeOptions {
        version: Version::HTTP_11,
        keep_alive: true,
        head_only: false,
        date: DATE,
    };
    let _stream = response.outgoing_mut().encode(&options, out);
}

/// Looks up `method` and `path` in the app's route table. Returns the number of path
/// parameters of the matched route, or `None` if no route answers (404, 405 or OPTIONS).
pub fn route_lookup(app: &App, method: &Method, path: &str) -> Option<usize> {
    match app.router().lookup(method, path) {
        Lookup::Found(_, params) => Some(params.len()),
        Lookup::MethodNotAllowed(_) | Lookup::Options(_) | Lookup::NotFound => None,
    }
}

/// One in-memory keep-alive connection to an app, driven as the event loop drives a socket
/// (`h1/memory.rs`): bytes in through the connection's read buffer, responses out of its
/// output buffer, idle buffers back to the worker's pool after each batch. Unlike
/// [`TestClient::send_raw`](crate::testing::TestClient::send_raw), which builds a fresh
/// connection per call, it keeps the connection, its buffers and the date, so that repeated
/// batches measure the steady state.
pub struct Driver {
    site: Site,
    conn: MemoryConnection<BlockingJob>,
}

impl Driver {
    /// A connection to `app` from `127.0.0.1:40000`. Like `TestClient::new`, an app without
    /// a secret key gets a random session key.
    pub fn new(app: App) -> Self {
        let site = app
            .freeze(false)
            .expect("the operating system provides randomness for a session key");
        let peer = SocketAddr::from((Ipv4Addr::LOCALHOST, 40000));
        Self {
            site,
            conn: MemoryConnection::with_date(peer, *DATE),
        }
    }

    /// Delivers `bytes` as one or more socket reads and appends every byte answered to
    /// `out`. Returns the number of requests answered so far on this connection.
    pub fn send(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> u64 {
        self.conn
            .deliver(&self.site, &self.site.limits, bytes, &[], out);
        self.conn.conn.answered()
    }
}

/// The app of `examples/bench_server.rs` (written out there as an application would write
/// it): `/plaintext`, `/json` and `/user/{id}`, for the pipeline bench and the allocation test.
#[cfg(feature = "json")]
pub fn bench_app() -> App {
    #[derive(serde::Serialize)]
    struct Message {
        message: &'static str,
    }
    let mut app = App::new();
    crate::route!(app, GET "/plaintext" => |_req| "Hello, World!")
        .expect("a fresh app takes the route");
    crate::route!(app, GET "/json" => |_req| crate::Json(Message { message: "Hello, World!" }))
        .expect("a fresh app takes the route");
    crate::route!(app, GET "/user/{id}" => |req: &Request<'_>| req.param("id").unwrap_or_default().to_owned())
        .expect("a fresh app takes the route");
    app
}

/// Registers `n` more GET routes on `app`, a mix such as a large app has, for measuring how
/// routing cost grows with the table (`bench_server --extra-routes N`, `benches/router.rs`).
/// By `i % 10`: half static paths (`/api/v1/resource{i}`, the exact-match map's share), three
/// in ten with one parameter under their own prefix (`/items{i}/{id}`), one in ten below
/// `/user/{id}` (`/user/{id}/field{i}`, crowding the tree next to `bench_server`'s
/// `/user/{id}`), and the rest a parameter then a static tail (`/api/v2/{org}/repo{i}`),
/// except one in a hundred, a catch-all (`/files{i}/{*path}`). Each answers its pattern.
pub fn add_filler_routes(app: &mut App, n: usize) -> Result<(), RouteError> {
    for i in 0..n {
        let pattern = match i % 10 {
            0..=4 => format!("/api/v1/resource{i}"),
            5..=7 => format!("/items{i}/{{id}}"),
            8 => format!("/user/{{id}}/field{i}"),
            _ if i % 100 == 99 => format!("/files{i}/{{*path}}"),
            _ => format!("/api/v2/{{org}}/repo{i}"),
        };
        let spec = RouteSpec::new(&[Method::GET], pattern.as_str()).name(format!("filler{i}"));
        app.route(spec, move |_req: &Request<'_>| pattern.clone())?;
    }
    Ok(())
}
