//! Timeouts on the real server, set to milliseconds so no test sleeps for seconds.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use carafe::{Response, route};
use carafe_e2e::{Served, assert_status, curl, read_until_close};

const SHORT: Duration = Duration::from_millis(200);
const WAIT: Duration = Duration::from_secs(5);

fn connect(served: &Served) -> TcpStream {
    let stream = TcpStream::connect(served.addr()).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Reads what the server sends until it closes, and how long that took.
fn closed_after(stream: &mut TcpStream, since: Instant) -> (String, Duration) {
    let received = read_until_close(stream);
    (
        String::from_utf8_lossy(&received).into_owned(),
        since.elapsed(),
    )
}

#[test]
fn an_unfinished_head_gets_408_after_the_header_timeout() {
    let served = Served::example_app_with(|app| app.config.header_timeout = SHORT);
    let mut stream = connect(&served);
    let started = Instant::now();
    stream
        .write_all(b"GET /hello/slow HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let (text, took) = closed_after(&mut stream, started);
    assert!(
        text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{text}"
    );
    assert!(text.contains("Connection: close"), "{text}");
    assert!(took >= SHORT && took < SHORT * 5, "closed after {took:?}");
}

#[test]
fn trickling_header_bytes_does_not_extend_the_header_timeout() {
    let served = Served::example_app_with(|app| app.config.header_timeout = SHORT);
    let mut stream = connect(&served);
    let started = Instant::now();
    let mut writer = stream.try_clone().unwrap();
    let trickle = thread::spawn(move || {
        // A slowloris: one header byte every 20 ms, never the blank line.
        for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if writer.write_all(&[*byte]).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
    });
    let (text, took) = closed_after(&mut stream, started);
    trickle.join().unwrap();
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    assert!(
        took < SHORT * 5,
        "the slow head kept the connection for {took:?}"
    );
}

#[test]
fn a_stalled_body_gets_408_but_a_slow_steady_one_completes() {
    let served = Served::example_app_with(|app| app.config.body_timeout = SHORT);
    let mut stalled = connect(&served);
    let started = Instant::now();
    stalled
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    let (text, took) = closed_after(&mut stalled, started);
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    assert!(took >= SHORT && took < SHORT * 5, "closed after {took:?}");

    // The body timeout is between reads: a body arriving every 100 ms is fine even though
    // the whole takes longer than the timeout.
    let mut steady = connect(&served);
    steady
        .write_all(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    for byte in b"12345" {
        thread::sleep(Duration::from_millis(100));
        steady.write_all(&[*byte]).unwrap();
    }
    let text = String::from_utf8_lossy(&read_until_close(&mut steady)).into_owned();
    assert!(
        text.starts_with("HTTP/1.1 200 ") && text.ends_with("12345"),
        "{text}"
    );
}

#[test]
fn an_idle_keep_alive_connection_is_closed_quietly() {
    let served = Served::example_app_with(|app| app.config.keep_alive_timeout = SHORT);
    let mut stream = connect(&served);
    // Counted from before the request: the server's idle timer starts after it answers, so
    // the close can come no sooner than SHORT after this, however late the client reads.
    let idle_since = Instant::now();
    stream
        .write_all(b"GET /hello/ka HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buffer = [0u8; 8192];
    let n = stream.read(&mut buffer).unwrap();
    assert!(String::from_utf8_lossy(&buffer[..n]).contains("Hello, ka!"));
    let (text, took) = closed_after(&mut stream, idle_since);
    assert_eq!(text, "", "closed without a response");
    assert!(took >= SHORT && took < SHORT * 5, "closed after {took:?}");

    // Activity restarts the timer: requests every 100 ms keep the connection for longer.
    let mut busy = connect(&served);
    for round in 0..5 {
        busy.write_all(b"GET /hello/busy HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let n = busy.read(&mut buffer).unwrap();
        assert!(n > 0, "closed in round {round} despite activity");
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_connection_that_never_sends_is_closed_after_the_idle_timeout() {
    let served = Served::example_app_with(|app| app.config.keep_alive_timeout = SHORT);
    let mut stream = connect(&served);
    let (text, took) = closed_after(&mut stream, Instant::now());
    assert_eq!(text, "");
    assert!(took < SHORT * 5, "closed after {took:?}");
}

#[test]
fn a_client_that_stops_reading_is_dropped_after_the_write_timeout() {
    const SIZE: usize = 64 * 1024 * 1024;
    let served = Served::example_app_with(|app| {
        app.config.write_timeout = SHORT;
        route!(app, GET "/huge" => |_req| Response::bytes(vec![b'h'; SIZE])).unwrap();
    });
    let mut stream = connect(&served);
    stream
        .write_all(b"GET /huge HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Do not read while the write timeout runs out several times over.
    thread::sleep(SHORT * 6);
    let mut received = 0usize;
    let mut buffer = vec![0u8; 1024 * 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => received += n,
            Err(error) if error.kind() == ErrorKind::ConnectionReset => break,
            Err(error) => panic!("read failed: {error}"),
        }
    }
    assert!(
        received < SIZE,
        "the whole response arrived; the write timeout never fired"
    );
    assert_status(&curl(&[&served.url("/hello/next")]), 200);
}

#[test]
fn a_slowloris_of_100_connections_does_not_delay_a_normal_request() {
    let served = Served::example_app();
    let mut slow: Vec<TcpStream> = (0..100).map(|_| connect(&served)).collect();
    for stream in &mut slow {
        stream.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trickler = {
        let stop = std::sync::Arc::clone(&stop);
        thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for stream in &mut slow {
                    let _ = stream.write_all(b"X");
                }
                thread::sleep(Duration::from_millis(50));
            }
        })
    };
    thread::sleep(Duration::from_millis(200));
    for _ in 0..5 {
        let response = curl(&[&served.url("/blog")]);
        assert_status(&response, 200);
        let seconds = response.info["time_total"].as_f64().unwrap();
        assert!(
            seconds < 0.5,
            "a normal request took {seconds} s under a slowloris"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    trickler.join().unwrap();
}

#[test]
fn a_lingering_connection_is_closed_after_the_linger_timeout() {
    let served = Served::example_app_with(|app| app.config.linger_timeout = SHORT);
    let mut stream = connect(&served);
    stream
        .write_all(b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n")
        .unwrap();
    let answered = Instant::now();
    // The 400 comes, then the server shuts its write side: the client reads to EOF.
    let (text, _) = closed_after(&mut stream, answered);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    // A client that keeps sending is read and ignored while the server lingers (so that it
    // sees the 400, not a reset); once the linger timeout is over the socket is closed, and
    // the kernel answers the next bytes with a reset.
    let reset_after = loop {
        if stream.write_all(b"more").is_err() {
            break answered.elapsed();
        }
        assert!(
            answered.elapsed() < WAIT,
            "the lingering connection was never closed"
        );
        thread::sleep(Duration::from_millis(20));
    };
    assert!(
        reset_after >= SHORT && reset_after < SHORT * 5,
        "closed {reset_after:?} after the answer"
    );
}
