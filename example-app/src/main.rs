//! `cargo run -p example-app`: serves the example web-app on http://127.0.0.1:8080.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// The carafe example web-app: pages from templates, a blog, a form, a session counter, JSON
/// and static files.
#[derive(Debug, Parser)]
#[command(
    version,
    about,
    after_help = "Environment:\n  CARAFE_SECRET_KEY  secret (32+ bytes) that signs session cookies; without it a random \
                  key is used and sessions end when the server restarts"
)]
struct Args {
    /// Address to listen on [default: 127.0.0.1:8080, or 127.0.0.1:$PORT when PORT is set]
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// Folder of HTML templates [default: the repository's templates/]
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
    /// Folder served under /static [default: the repository's static/]
    #[arg(long = "static", value_name = "DIR")]
    static_dir: Option<PathBuf>,
    /// Event-loop threads [default: one per CPU]
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Trust X-Forwarded-For/-Proto and X-Request-Id from this proxy address or network
    /// (repeatable), e.g. 127.0.0.1 or 10.0.0.0/8
    #[arg(long = "trusted-proxy", value_name = "NET", value_parser = parse_network)]
    trusted_proxies: Vec<carafe::IpNet>,
    /// Share the port with another process (SO_REUSEPORT), for rolling restarts
    #[arg(long)]
    reuse_port: bool,
    /// Seconds that in-flight requests get to finish after SIGTERM [default: 10]
    #[arg(long, value_name = "SECONDS")]
    shutdown_grace: Option<u64>,
    /// Print the route table (methods, pattern, handler) and exit, like `flask routes`
    #[arg(long)]
    routes: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match serve(args) {
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

fn serve(args: Args) -> Result<(), carafe::Error> {
    let defaults = example_app::Options::default();
    let options = example_app::Options {
        templates: args.templates.unwrap_or(defaults.templates),
        static_dir: args.static_dir.unwrap_or(defaults.static_dir),
    };
    let mut app = example_app::build(&options)?;
    if args.routes {
        print_routes(&app);
        return Ok(());
    }
    if let Some(workers) = args.workers {
        app.config.workers = workers.max(1);
    }
    app.config.reuse_port = args.reuse_port;
    if let Some(seconds) = args.shutdown_grace {
        app.config.shutdown_grace = std::time::Duration::from_secs(seconds);
    }
    app.config.trusted_proxies = args.trusted_proxies;
    let addr = args.addr.unwrap_or_else(default_addr);
    app.run(addr)
}

/// `10.0.0.0/8`, or a single address meaning just that host.
fn parse_network(text: &str) -> Result<carafe::IpNet, String> {
    text.parse::<carafe::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(carafe::IpNet::from))
        .map_err(|_| "expected an IP address (127.0.0.1) or network (10.0.0.0/8)".to_owned())
}

fn default_addr() -> SocketAddr {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(8080);
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn print_routes(app: &carafe::App) {
    let rows: Vec<[String; 4]> = app
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
            ]
        })
        .collect();
    let headers = ["Name", "Methods", "Pattern", "Handler"];
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            rows.iter()
                .map(|row| row[i].len())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 4]| {
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
        line([&rules[0], &rules[1], &rules[2], &rules[3]].map(String::as_str))
    );
    for row in &rows {
        println!(
            "{}",
            line([&row[0], &row[1], &row[2], &row[3]].map(String::as_str))
        );
    }
}
