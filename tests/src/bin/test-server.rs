//! The example app in its own process, with limits set from flags, for end-to-end tests that
//! need a separate process: signals, memory, file-descriptor exhaustion, a reverse proxy in
//! front, a successor process on the same port.
//!
//! usage: test-server [--addr ADDR] [--reuse-port] [--trusted-proxy NET]... [--workers N]
//!                    [--max-connections N] [--max-pending-output BYTES] [--grace-ms MS]
//!                    [--blocking-threads N] [--blocking-queue N] [--send-buffer BYTES]
//!                    [--tls-cert PEM --tls-key PEM] [--metrics]
//!
//! Binds `--addr` (default 127.0.0.1:0) and prints `listening on ADDR` on stdout once it
//! accepts connections. `--addr`, `--reuse-port`, `--trusted-proxy` and `--workers` mean what
//! they mean to `example-app`; `--metrics` serves `/metrics`, `/healthz` and `/readyz`. Extra routes: `/chunk?kb=N` answers N KiB of `x`; `/panic`
//! panics; `/headers` answers the request's header fields as a JSON list of `[name, value]`.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use carafe::{Json, Response, route};

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let mut app =
        example_app::build(&example_app::Options::default()).expect("the example app builds");
    app.config.workers = 1;
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let (mut tls_cert, mut tls_key) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--reuse-port" {
            app.config.reuse_port = true;
            continue;
        }
        if flag == "--metrics" {
            app.metrics("/metrics").expect("the metrics route");
            app.health("/healthz", "/readyz")
                .expect("the health routes");
            continue;
        }
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => addr = value.parse().expect("--addr needs IP:PORT"),
            "--trusted-proxy" => app.config.trusted_proxies.push(network(&value)),
            "--max-connections" => app.config.max_connections = number(&flag, &value),
            "--max-pending-output" => app.config.max_pending_output = number(&flag, &value),
            "--grace-ms" => {
                app.config.shutdown_grace = Duration::from_millis(number(&flag, &value));
            }
            "--workers" => app.config.workers = number(&flag, &value),
            "--blocking-threads" => app.config.blocking_threads = number(&flag, &value),
            "--blocking-queue" => app.config.blocking_queue = number(&flag, &value),
            "--tls-cert" => tls_cert = Some(value),
            "--tls-key" => tls_key = Some(value),
            "--send-buffer" => app.config.send_buffer_size = Some(number(&flag, &value)),
            "--files" => {
                app.static_dir("/files", &value)
                    .expect("a readable --files folder");
            }
            other => panic!("unknown flag {other}"),
        }
    }
    route!(app, GET "/chunk" => |req| {
        let kib: usize = req.query_as("kb").ok().flatten().unwrap_or(64);
        Response::bytes(vec![b'x'; kib * 1024])
    })
    .expect("route");
    route!(app, GET "/panic" => |_req| -> &'static str { panic!("test-server panic route") })
        .expect("route");
    route!(app, GET "/headers" => |req| {
        let fields: Vec<(String, String)> = req
            .headers()
            .map(|(name, value)| (name.to_owned(), String::from_utf8_lossy(value).into_owned()))
            .collect();
        Json(fields)
    })
    .expect("route");
    // HTTPS with both TLS flags: SIGHUP then reloads the two files.
    let server = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => {
            let tls = carafe::Tls::from_pem_files(cert, key).expect("a usable certificate and key");
            app.bind_tls(addr, tls).expect("bind")
        }
        _ => app.bind(addr).expect("bind"),
    };
    println!("listening on {}", server.local_addr());
    std::io::stdout().flush().expect("stdout");
    if let Err(error) = server.run_until_signal() {
        eprintln!("test-server: {error}");
        std::process::exit(1);
    }
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> T {
    value
        .parse()
        .unwrap_or_else(|_| panic!("{flag} needs a number"))
}

/// `10.0.0.0/8`, or a single address meaning just that host (as `example-app` reads it).
fn network(value: &str) -> carafe::IpNet {
    value
        .parse::<carafe::IpNet>()
        .or_else(|_| value.parse::<IpAddr>().map(carafe::IpNet::from))
        .unwrap_or_else(|_| panic!("--trusted-proxy needs an address or network, not {value:?}"))
}
