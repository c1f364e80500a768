//! `blocking` handlers on a real server: they run on the pool, the event loop keeps serving,
//! a full pool answers 503, responses stay in request order, and panics stay contained.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use carafe::{App, RunningServer, route};

const WAIT: Duration = Duration::from_secs(10);

fn serve(threads: usize, queue: usize) -> RunningServer {
    let mut app = App::new();
    app.config.workers = 1;
    app.config.blocking_threads = threads;
    app.config.blocking_queue = queue;
    route!(app, GET "/slow" => |req| {
        let ms: u64 = req.query_as("ms").ok().flatten().unwrap_or(300);
        thread::sleep(Duration::from_millis(ms));
        format!("slept {ms} ms on {}", thread::current().name().unwrap_or("?"))
    }, blocking)
    .unwrap();
    route!(app, GET "/boom" => |_req| -> &'static str { panic!("blocking handler panic") }, blocking).unwrap();
    route!(app, GET "/fast" => |_req| "fast").unwrap();
    app.spawn("127.0.0.1:0").unwrap()
}

/// Sends one request on a new connection and reads the whole response.
fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn the_loop_keeps_serving_while_blocking_handlers_wait() {
    let server = serve(16, 64);
    let addr = server.addr();
    let slow: Vec<_> = (0..10)
        .map(|_| thread::spawn(move || get(addr, "/slow?ms=500")))
        .collect();
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let fast = get(addr, "/fast");
    let took = started.elapsed();
    assert!(fast.ends_with("\r\n\r\nfast"), "{fast}");
    assert!(
        took < Duration::from_millis(200),
        "/fast waited {took:?} behind blocking handlers"
    );
    for handle in slow {
        let response = handle.join().unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(
            response.contains("slept 500 ms on carafe-blocking-"),
            "ran on the pool: {response}"
        );
    }
}

#[test]
fn a_full_pool_answers_503_with_retry_after() {
    let server = serve(1, 1);
    let addr = server.addr();
    // One running, one queued, and the rest refused.
    let requests: Vec<_> = (0..4)
        .map(|_| thread::spawn(move || get(addr, "/slow?ms=400")))
        .collect();
    let responses: Vec<String> = requests.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = responses
        .iter()
        .filter(|r| r.starts_with("HTTP/1.1 200 "))
        .count();
    let busy: Vec<&String> = responses
        .iter()
        .filter(|r| r.starts_with("HTTP/1.1 503 "))
        .collect();
    assert_eq!(ok + busy.len(), 4, "{responses:#?}");
    assert_eq!(
        (ok, busy.len()),
        (2, 2),
        "one running and one queued are answered: {responses:#?}"
    );
    assert!(
        busy.iter().all(|r| r.contains("\r\nRetry-After: 1\r\n")),
        "{busy:#?}"
    );
}

#[test]
fn pipelined_requests_stay_in_order_around_a_blocking_one() {
    let server = serve(4, 16);
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
        .write_all(
            b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n\
              GET /slow?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n\
              GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut received = String::new();
    stream.read_to_string(&mut received).unwrap();
    let fast_first = received.find("fast").expect("first /fast");
    let slow = received
        .find("slept 200 ms")
        .expect("the blocking response");
    let fast_last = received.rfind("fast").expect("last /fast");
    assert!(
        fast_first < slow && slow < fast_last,
        "out of order: {received}"
    );
    assert_eq!(received.matches("HTTP/1.1 200 OK").count(), 3, "{received}");
}

#[test]
fn a_panic_on_the_pool_is_one_500() {
    let server = serve(2, 8);
    let response = get(server.addr(), "/boom");
    assert!(response.starts_with("HTTP/1.1 500 "), "{response}");
    assert!(
        get(server.addr(), "/slow?ms=10").starts_with("HTTP/1.1 200 "),
        "the pool thread survived"
    );
}

#[test]
fn a_client_leaving_mid_handler_costs_nothing() {
    let server = serve(2, 8);
    for _ in 0..5 {
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream
            .write_all(b"GET /slow?ms=100 HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        drop(stream);
    }
    thread::sleep(Duration::from_millis(300));
    assert!(get(server.addr(), "/fast").ends_with("fast"));
}

#[test]
fn shutdown_waits_for_a_blocking_handler() {
    let server = serve(2, 8);
    let addr = server.addr();
    let slow = thread::spawn(move || get(addr, "/slow?ms=300"));
    thread::sleep(Duration::from_millis(100));
    server.shutdown().unwrap();
    let response = slow.join().unwrap();
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    assert!(response.contains("\r\nConnection: close\r\n"), "{response}");
}

#[test]
fn the_test_client_runs_blocking_handlers_inline() {
    let mut app = App::new();
    route!(app, GET "/slow" => |_req| "done", blocking).unwrap();
    assert!(app.routes()[0].is_blocking());
    let client = carafe::testing::TestClient::new(app);
    assert_eq!(client.get("/slow").send().text(), "done");
}
