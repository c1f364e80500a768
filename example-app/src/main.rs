//! `cargo run -p example-app`: serves the example web-app on http://127.0.0.1:8080.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// carafe's showcase site: pages from templates, a blog, a contact form validated with
/// post/redirect/get and flash messages, a session counter, file uploads, a JSON API, static
/// files and styled error pages.
#[derive(Debug, Parser)]
#[command(
    version,
    about,
    after_help = "Environment:\n  CARAFE_SECRET_KEY  secret (32+ bytes) that signs session cookies; without it a random \
                  key is used and sessions end when the server restarts"
)]
struct Args {
    /// Address to listen on: PORT or :PORT (on 127.0.0.1), HOST:PORT (a name is resolved),
    /// or IP:PORT; 0.0.0.0:PORT for every interface [default: 127.0.0.1:8080, or
    /// 127.0.0.1:$PORT when PORT is set]
    #[arg(long, value_parser = parse_addr)]
    addr: Option<SocketAddr>,
    /// Folder of HTML templates [default: the repository's templates/]
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
    /// Folder served under /static [default: the repository's static/]
    #[arg(long = "static", value_name = "DIR")]
    static_dir: Option<PathBuf>,
    /// Event-loop threads, 1 or more [default: one per CPU]
    #[arg(long, value_name = "N", value_parser = parse_workers)]
    workers: Option<usize>,
    /// Trust X-Forwarded-For/-Proto and X-Request-Id from this proxy address or network
    /// (repeatable), e.g. 127.0.0.1 or 10.0.0.0/8
    #[arg(long = "trusted-proxy", value_name = "NET", value_parser = parse_network)]
    trusted_proxies: Vec<carafe::IpNet>,
    /// Let pages of this origin call the JSON API from a browser (CORS; repeatable), e.g.
    /// https://dashboard.example
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
    /// Share the port with another process (SO_REUSEPORT), for rolling restarts
    #[arg(long)]
    reuse_port: bool,
    /// Seconds that in-flight requests get to finish after SIGTERM [default: 10]
    #[arg(long, value_name = "SECONDS")]
    shutdown_grace: Option<u64>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key); SIGHUP reloads both
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve Prometheus metrics at /metrics (requests, latency, connections, bytes, the
    /// blocking pool, live connections)
    #[arg(long)]
    metrics: bool,
    /// Print the route table (methods, pattern, handler) and exit, like `flask routes`
    #[arg(long)]
    routes: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let addr = match (args.addr, port_from_environment()) {
        (Some(addr), _) => addr,
        (None, Ok(port)) => SocketAddr::from(([127, 0, 0, 1], port.unwrap_or(8080))),
        (None, Err(message)) => {
            eprintln!("error: {message}");
            return ExitCode::from(2); // a usage error, as clap's own
        }
    };
    match serve(args, addr) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The whole chain: "cannot listen on 127.0.0.1:8080: Address already in use".
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: Args, addr: SocketAddr) -> Result<(), carafe::Error> {
    let defaults = example_app::Options::default();
    let options = example_app::Options {
        templates: args.templates.unwrap_or(defaults.templates),
        static_dir: args.static_dir.unwrap_or(defaults.static_dir),
        cors_origins: args.cors_origins.clone(),
    };
    let mut app = example_app::build(&options)?;
    // Liveness and readiness (503 once a shutdown starts), for a load balancer or Kubernetes.
    app.health("/healthz", "/readyz")?;
    if args.metrics {
        app.metrics("/metrics")?;
    }
    if args.routes {
        print_routes(&app);
        return Ok(());
    }
    if let Some(workers) = args.workers {
        app.config.workers = workers;
    }
    app.config.reuse_port = args.reuse_port;
    if let Some(seconds) = args.shutdown_grace {
        app.config.shutdown_grace = std::time::Duration::from_secs(seconds);
    }
    app.config.trusted_proxies = args.trusted_proxies;
    match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => app.run_tls(addr, cert, key),
        _ => app.run(addr),
    }
}

/// `10.0.0.0/8`, or a single address meaning just that host.
fn parse_network(text: &str) -> Result<carafe::IpNet, String> {
    text.parse::<carafe::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(carafe::IpNet::from))
        .map_err(|_| "expected an IP address (127.0.0.1) or network (10.0.0.0/8)".to_owned())
}

/// `--addr`: `8080` or `:8080` (port on 127.0.0.1), `localhost:8080` (a name, resolved), or
/// `0.0.0.0:8080` / `[::1]:8080`.
fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    const FORMS: &str = "expected PORT, :PORT, HOST:PORT or IP:PORT, e.g. 8080, localhost:8080 \
                         or 0.0.0.0:8080";
    let port_only = text.strip_prefix(':').unwrap_or(text);
    if !port_only.is_empty() && port_only.bytes().all(|b| b.is_ascii_digit()) {
        let port = port_only
            .parse::<u16>()
            .map_err(|_| format!("port {port_only} is over 65535"))?;
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    if !text.contains(':') {
        return Err(format!("{text:?} has no port: {FORMS}"));
    }
    let mut resolved = text
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {text:?} ({error}): {FORMS}"))?;
    resolved
        .next()
        .ok_or_else(|| format!("{text:?} resolves to no address"))
}

/// `--workers`: a whole number, 1 or more.
fn parse_workers(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("a server needs at least 1 worker".to_owned()),
        Ok(workers) => Ok(workers),
        Err(_) => Err(format!("{text:?} is not a number of threads (1 or more)")),
    }
}

/// The port in `PORT`, as platforms that run apps set it; `Ok(None)` when it is not set.
fn port_from_environment() -> Result<Option<u16>, String> {
    match std::env::var("PORT") {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Ok(port) => port
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("PORT={port:?} is not a port number (0 to 65535)")),
        Err(std::env::VarError::NotUnicode(port)) => {
            Err(format!("PORT={port:?} is not a port number (0 to 65535)"))
        }
    }
}

fn print_routes(app: &carafe::App) {
    let rows: Vec<[String; 5]> = app
        .routes()
        .iter()
        .map(|route| {
            let methods: Vec<&str> = route.methods().iter().map(|m| m.as_str()).collect();
            let mut handler = route.handler().to_owned();
            if route.is_blocking() {
                handler.push_str(" (blocking)");
            }
            [
                route.name().unwrap_or("-").to_owned(),
                methods.join(", "),
                route.pattern().to_owned(),
                handler,
                route.blueprint().unwrap_or("-").to_owned(),
            ]
        })
        .collect();
    let headers = ["Name", "Methods", "Pattern", "Handler", "Blueprint"];
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            rows.iter()
                .map(|row| row[i].len())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 5]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    println!("{}", line(headers));
    let rules: Vec<String> = widths.iter().map(|width| "-".repeat(*width)).collect();
    println!(
        "{}",
        line([&rules[0], &rules[1], &rules[2], &rules[3], &rules[4]].map(String::as_str))
    );
    for row in &rows {
        println!(
            "{}",
            line([&row[0], &row[1], &row[2], &row[3], &row[4]].map(String::as_str))
        );
    }
}
