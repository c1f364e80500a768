//! `App::health` over real sockets: liveness and readiness answer 200 while the server runs;
//! once a graceful shutdown starts, readiness answers 503 at once while a slow request in
//! flight still finishes with its 200; the same in a process that gets SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use carafe::{App, Request, route};
use carafe_e2e::{Served, ServerProcess, curl, raw_exchange, statuses};

const WAIT: Duration = Duration::from_secs(10);

fn app() -> App {
    let mut app = App::new();
    app.config.workers = 1;
    app.config.shutdown_grace = Duration::from_secs(10);
    route!(app, GET "/slow" => |req: &Request| {
        let ms: u64 = req.query_as("ms").ok().flatten().unwrap_or(0);
        std::thread::sleep(Duration::from_millis(ms));
        "slow done"
    }, blocking)
    .unwrap();
    app.health("/healthz", "/readyz").unwrap();
    app
}

#[test]
fn liveness_and_readiness_answer_200_and_show_in_the_routes() {
    let app = app();
    let names: Vec<_> = app
        .routes()
        .iter()
        .filter_map(|r| r.name())
        .map(str::to_owned)
        .collect();
    assert!(names.contains(&"carafe_liveness".to_owned()), "{names:?}");
    assert!(names.contains(&"carafe_readiness".to_owned()), "{names:?}");
    let served = Served::app(app);
    let live = curl(&[&served.url("/healthz")]);
    assert_eq!((live.status, live.text().as_str()), (200, "ok\n"));
    let ready = curl(&[&served.url("/readyz")]);
    assert_eq!((ready.status, ready.text().as_str()), (200, "ready\n"));
    assert_eq!(curl(&["-I", &served.url("/readyz")]).status, 200);
    served.shutdown();
}

#[test]
fn readiness_turns_503_the_moment_shutdown_starts_while_a_request_in_flight_finishes() {
    let served = Served::app(app());
    let started = Instant::now();
    // A slow request in flight: it holds the server in its graceful shutdown.
    let mut slow = TcpStream::connect(served.addr()).unwrap();
    slow.set_read_timeout(Some(WAIT)).unwrap();
    slow.write_all(b"GET /slow?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // A probe's connection, open before the shutdown (the listener closes when it starts).
    let mut probe = TcpStream::connect(served.addr()).unwrap();
    probe.set_read_timeout(Some(WAIT)).unwrap();
    // Readiness is 200 now, on a connection of its own.
    assert_eq!(
        statuses(&raw_exchange(
            served.addr(),
            b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            WAIT
        )),
        [200]
    );
    // Give the slow request time to reach its handler, then start the shutdown.
    std::thread::sleep(Duration::from_millis(200));
    let handle = served.handle();
    handle.shutdown();
    probe
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    probe.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.ends_with("shutting down\n"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "readiness answered only after the slow request ({:?})",
        started.elapsed()
    );
    // The request in flight finishes with its 200, and `Connection: close`.
    let mut slow_answer = Vec::new();
    slow.read_to_end(&mut slow_answer).unwrap();
    let slow_answer = String::from_utf8_lossy(&slow_answer);
    assert!(slow_answer.starts_with("HTTP/1.1 200"), "{slow_answer}");
    assert!(slow_answer.ends_with("slow done"), "{slow_answer}");
    served.shutdown();
}

#[test]
fn under_sigterm_the_process_says_not_ready_while_it_finishes_a_request() {
    let server = ServerProcess::start(
        &[],
        env!("CARGO_BIN_EXE_test-server"),
        &["--metrics", "--grace-ms", "10000"],
    );
    let base = format!("http://{}", server.addr());
    assert_eq!(curl(&[&format!("{base}/healthz")]).status, 200);
    assert_eq!(curl(&[&format!("{base}/readyz")]).status, 200);
    let mut slow = TcpStream::connect(server.addr()).unwrap();
    slow.set_read_timeout(Some(WAIT)).unwrap();
    slow.write_all(b"GET /slow?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut probe = TcpStream::connect(server.addr()).unwrap();
    probe.set_read_timeout(Some(WAIT)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    server.signal("TERM");
    // The signal thread flips readiness; a probe that arrives just before it still sees 200.
    // Probe on the connection kept open (the listener has closed): its answer is 503.
    std::thread::sleep(Duration::from_millis(100));
    probe
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    probe.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(signalled.elapsed() < Duration::from_millis(1300));
    let mut slow_answer = Vec::new();
    slow.read_to_end(&mut slow_answer).unwrap();
    let slow_answer = String::from_utf8_lossy(&slow_answer);
    assert!(slow_answer.starts_with("HTTP/1.1 200"), "{slow_answer}");
}
