//! The benchmark server: `/plaintext`, `/json` and `/user/{id}` written with carafe's public
//! API exactly as an application would, for the side-by-side runs in `BENCHMARKS.md`.
//!
//! ```sh
//! cargo run --release -p carafe --example bench_server -- --addr 127.0.0.1:8080 [--workers N] [--extra-routes N] [--slow-handler-check] [--compress] [--metrics]
//! ```
//!
//! `--compress` (built with `--features compression`) turns on response compression with
//! its default settings; `/page` answers a 20 KiB JSON document (200 records, serialized on
//! each request) for measuring what gzip and brotli cost and save.
//!
//! `--metrics` (built with `--features metrics`) serves `/metrics`, so that every request is
//! counted: what the metrics cost a request.
//!
//! `--extra-routes N` registers N more routes before the three (a mix of static paths,
//! parameters and catch-alls, from the unstable `carafe::__bench::add_filler_routes`), to
//! measure what a large route table costs: `--extra-routes 997` makes 1,000 routes.
//!
//! For the WebSocket benchmarks (`bench/ws/`): `/ws/echo` sends every message back, `/ws/room`
//! joins the one room `all`, and `POST /broadcast` sends its body to everyone in it.
//!
//! Like the peers it is measured against, it logs nothing: it serves with `bind` and
//! `run_until_signal` (which install no logger, unlike `App::run`), and the slow-handler
//! check (`Config::slow_handler_warning`, two clock reads per request) is off unless
//! `--slow-handler-check` turns it on to measure what it costs.
//!
//! Built with `--features tls`, `--tls-cert PEM --tls-key PEM` serves HTTPS instead
//! (`bench/tls_bench.py`).

use std::sync::Arc;

use carafe::{App, Hub, Json, Message, Request, WebSocket, WsHandler, WsSender, route};
use serde::Serialize;

/// A subscriber of the broadcast room.
struct Member(Arc<Hub>);

impl WsHandler for Member {
    fn on_open(&mut self, ws: &WsSender) {
        self.0.join("all", ws);
    }
    fn on_message(&mut self, _ws: &WsSender, _message: Message) {}
}

#[derive(Serialize)]
struct Greeting {
    message: &'static str,
}

fn plaintext(_req: &Request) -> &'static str {
    "Hello, World!"
}

fn json(_req: &Request) -> Json<Greeting> {
    Json(Greeting {
        message: "Hello, World!",
    })
}

/// One record of `/page`.
#[derive(Serialize)]
struct Record {
    id: u32,
    title: String,
    tags: [&'static str; 3],
    summary: &'static str,
}

/// About 20 KiB of JSON, made on each request as an API's answer would be.
fn page(_req: &Request) -> Json<Vec<Record>> {
    Json(
        (0..200)
            .map(|id| Record {
                id,
                title: format!("Post number {id}"),
                tags: ["rust", "http", "epoll"],
                summary: "An event loop, a codec and a router.",
            })
            .collect(),
    )
}

fn user(req: &Request) -> String {
    req.param("id").unwrap_or_default().to_owned()
}

fn main() -> Result<(), carafe::Error> {
    let mut addr = String::from("127.0.0.1:8080");
    let mut extra_routes = 0;
    #[cfg(feature = "tls")]
    let (mut tls_cert, mut tls_key) = (String::new(), String::new());
    let mut app = App::new();
    app.config.slow_handler_warning = None;
    let mut metrics = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--slow-handler-check" {
            app.config.slow_handler_warning = carafe::Config::default().slow_handler_warning;
            continue;
        }
        if flag == "--compress" {
            #[cfg(not(feature = "compression"))]
            {
                eprintln!("bench_server: --compress needs `--features compression`");
                std::process::exit(2);
            }
            #[cfg(feature = "compression")]
            {
                app.compress(carafe::Compression::default());
                continue;
            }
        }
        if flag == "--metrics" {
            metrics = true;
            continue;
        }
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--addr" => addr = value,
            "--workers" => app.config.workers = value.parse().unwrap_or(1),
            "--extra-routes" => extra_routes = value.parse().unwrap_or(0),
            #[cfg(feature = "tls")]
            "--tls-cert" => tls_cert = value,
            #[cfg(feature = "tls")]
            "--tls-key" => tls_key = value,
            _ => {
                eprintln!(
                    "usage: bench_server --addr HOST:PORT [--workers N] [--extra-routes N] \
                     [--slow-handler-check] [--compress] [--metrics]"
                );
                std::process::exit(2);
            }
        }
    }
    carafe::__bench::add_filler_routes(&mut app, extra_routes)?;
    route!(app, GET "/plaintext" => plaintext)?;
    route!(app, GET "/json" => json)?;
    route!(app, GET "/page" => page)?;
    route!(app, GET "/user/{id}" => user)?;
    route!(app, GET "/ws/echo" => |_req| WebSocket::new(|ws: &WsSender, message: Message| {
        let _ = ws.send(message);
    }), websocket)?;
    route!(app, GET "/ws/room" => |req: &Request| WebSocket::new(Member(Arc::clone(req.hub()))), websocket)?;
    route!(app, POST "/broadcast" => |req: &Request| {
        let text = String::from_utf8_lossy(req.body()).into_owned();
        req.hub().send("all", Message::Text(text)).to_string()
    })?;
    if metrics {
        #[cfg(feature = "metrics")]
        app.metrics("/metrics")?;
        #[cfg(not(feature = "metrics"))]
        {
            eprintln!("bench_server: --metrics needs `--features metrics`");
            std::process::exit(2);
        }
    }
    #[cfg(feature = "tls")]
    if !tls_cert.is_empty() {
        let tls = carafe::Tls::from_pem_files(tls_cert, tls_key)?;
        return app.bind_tls(addr.as_str(), tls)?.run_until_signal();
    }
    app.bind(addr.as_str())?.run_until_signal()
}
