//! The example app in its own process, with limits set from flags, for end-to-end tests that
//! need a separate process: signals, memory, file-descriptor exhaustion.
//!
//! usage: test-server [--max-connections N] [--max-pending-output BYTES] [--grace-ms MS]
//!                    [--workers N]
//!
//! Binds 127.0.0.1:0 and prints `listening on ADDR` on stdout once it accepts connections.
//! Extra routes: `/chunk?kb=N` answers N KiB of `x`; `/panic` panics.

use std::io::Write;
use std::time::Duration;

use carafe::{Response, route};

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let mut app =
        example_app::build(&example_app::Options::default()).expect("the example app builds");
    app.config.workers = 1;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        let number: u64 = value
            .parse()
            .unwrap_or_else(|_| panic!("{flag} needs a number"));
        let number_usize = usize::try_from(number).expect("fits usize");
        match flag.as_str() {
            "--max-connections" => app.config.max_connections = number_usize,
            "--max-pending-output" => app.config.max_pending_output = number_usize,
            "--grace-ms" => app.config.shutdown_grace = Duration::from_millis(number),
            "--workers" => app.config.workers = number_usize,
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
    let server = app.bind("127.0.0.1:0").expect("bind");
    println!("listening on {}", server.local_addr());
    std::io::stdout().flush().expect("stdout");
    if let Err(error) = server.run_until_signal() {
        eprintln!("test-server: {error}");
        std::process::exit(1);
    }
}
