//! The server as its own process: signals and graceful shutdown, memory under a client that
//! does not read, and running out of file descriptors.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use carafe_e2e::{ServerProcess, read_until_close, write_until_stalled};

const SERVER: &str = env!("CARGO_BIN_EXE_test-server");
const WAIT: Duration = Duration::from_secs(5);

fn start(args: &[&str]) -> ServerProcess {
    ServerProcess::start(&[], SERVER, args)
}

#[test]
fn a_client_that_does_not_read_cannot_grow_server_memory() {
    let server = start(&["--max-pending-output", "262144"]);
    let before = server.rss_kib();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_nonblocking(true).unwrap();
    // Each 40-byte request asks for 16 KiB. Without backpressure 2 MiB of requests would
    // make the server hold 800 MiB of responses; with it, it stops reading at 256 KiB.
    let request = b"GET /chunk?kb=16 HTTP/1.1\r\nHost: x\r\n\r\n";
    let sent = write_until_stalled(2 * 1024 * 1024, || stream.write(request));
    std::thread::sleep(Duration::from_millis(200));
    let grown = server.rss_kib().saturating_sub(before);
    assert!(
        grown < 32 * 1024,
        "server RSS grew by {grown} KiB after {} pipelined requests that nobody read",
        sent / request.len()
    );
    // As the client reads, the server drains its output and reads requests again: a write
    // goes through after some reading.
    let mut buffer = vec![0u8; 1024 * 1024];
    let mut read = 0usize;
    loop {
        stream.set_nonblocking(false).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let n = stream
            .read(&mut buffer)
            .expect("responses arrive as we read");
        assert!(n > 0, "the server closed the connection");
        read += n;
        stream.set_nonblocking(true).unwrap();
        if stream.write(request).is_ok() {
            break;
        }
        assert!(
            read < 1024 * 1024 * 1024,
            "read {read} bytes and the server never resumed reading"
        );
    }
    // And it still serves others.
    let mut other = TcpStream::connect(server.addr()).unwrap();
    other.set_read_timeout(Some(WAIT)).unwrap();
    other
        .write_all(b"GET /hello/other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert!(String::from_utf8_lossy(&read_until_close(&mut other)).contains("Hello, other!"));
}

#[test]
fn a_slow_reader_cannot_grow_server_memory_with_what_it_already_read() {
    // A 64 KiB send buffer, far below the 1 MiB of output the server may queue: the kernel
    // takes the output a piece at a time, as for a client on a modest WAN link, so it is
    // never written out whole. The
    // client pipelines requests for a small static file and reads every byte, steadily.
    // The server used to keep every byte already sent until its output emptied, which never
    // happened: its memory grew with what the client read (issue 11, defect 2).
    let server = start(&["--send-buffer", "65536"]);
    let before = server.rss_kib();
    let stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sending = std::thread::spawn({
        let stop = std::sync::Arc::clone(&stop);
        move || {
            let batch = b"GET /static/style.css HTTP/1.1\r\nHost: x\r\n\r\n".repeat(64);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if writer.write_all(&batch).is_err() {
                    return;
                }
            }
        }
    });
    let mut reader = stream;
    let mut buffer = vec![0u8; 64 * 1024];
    let (mut read, mut most_grown) = (0u64, 0u64);
    let started = Instant::now();
    while read < 128 * 1024 * 1024 && started.elapsed() < Duration::from_secs(20) {
        let n = reader.read(&mut buffer).expect("responses keep coming");
        assert!(n > 0, "the server closed the connection");
        read += n as u64;
        if read % (8 * 1024 * 1024) < n as u64 {
            most_grown = most_grown.max(server.rss_kib().saturating_sub(before));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    reader.shutdown(std::net::Shutdown::Both).unwrap();
    sending.join().unwrap();
    assert!(
        read > 64 * 1024 * 1024,
        "only {read} bytes arrived in {:?}: too slow to tell",
        started.elapsed()
    );
    // The output limit (1 MiB) bounds what one connection holds, sent or not.
    assert!(
        most_grown < 16 * 1024,
        "server RSS grew by {most_grown} KiB while the client read {} MiB",
        read / (1024 * 1024)
    );
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits() {
    let mut server = start(&[]);
    let mut idle = TcpStream::connect(server.addr()).unwrap();
    idle.set_read_timeout(Some(WAIT)).unwrap();
    idle.write_all(b"GET /hello/idle HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buffer = [0u8; 4096];
    assert!(idle.read(&mut buffer).unwrap() > 0);

    let mut upload = TcpStream::connect(server.addr()).unwrap();
    upload.set_read_timeout(Some(WAIT)).unwrap();
    upload
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nfirst")
        .unwrap();
    // Connected, but its request is sent only after the signal: it is still answered.
    let mut late = TcpStream::connect(server.addr()).unwrap();
    late.set_read_timeout(Some(WAIT)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    server.signal("TERM");
    std::thread::sleep(Duration::from_millis(200));
    late.write_all(b"GET /hello/late HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let late_response = String::from_utf8_lossy(&read_until_close(&mut late)).into_owned();
    assert!(late_response.contains("Hello, late!"), "{late_response}");
    assert!(
        late_response.contains("\r\nConnection: close\r\n"),
        "{late_response}"
    );

    // The idle keep-alive connection is closed; new connections are refused.
    assert_eq!(
        idle.read(&mut buffer).unwrap(),
        0,
        "the idle connection should be closed"
    );
    assert!(
        TcpStream::connect(server.addr()).is_err(),
        "the listener should be closed"
    );
    assert!(
        server.wait_exit(Duration::from_millis(10)).is_none(),
        "exited with a request in flight"
    );

    // The in-flight request completes, answered with Connection: close.
    upload.write_all(b"-last").unwrap();
    let response = String::from_utf8_lossy(&read_until_close(&mut upload)).into_owned();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("\r\nConnection: close\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nfirst-last"), "{response}");
    let status = server
        .wait_exit(WAIT)
        .expect("the server exits once the request is done");
    assert!(status.success(), "exit status {status}");
}

#[test]
fn connections_queued_at_the_connection_limit_are_served_at_shutdown() {
    // At its connection limit the server stops accepting; what queues meanwhile must be
    // answered when it shuts down, not reset by closing the listener (issue 11's sweep).
    let mut server = start(&["--max-connections", "1", "--grace-ms", "5000"]);
    let mut busy = TcpStream::connect(server.addr()).unwrap();
    busy.set_read_timeout(Some(WAIT)).unwrap();
    busy.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nfirst")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut queued = TcpStream::connect(server.addr()).unwrap();
    queued.set_read_timeout(Some(WAIT)).unwrap();
    queued
        .write_all(b"GET /hello/queued HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    server.signal("TERM");
    let answer = String::from_utf8_lossy(&read_until_close(&mut queued)).into_owned();
    assert!(
        answer.starts_with("HTTP/1.1 200 OK\r\n") && answer.contains("Hello, queued!"),
        "the queued connection was not served: {answer:?}"
    );
    assert!(answer.contains("\r\nConnection: close\r\n"), "{answer}");
    busy.write_all(b"-last").unwrap();
    let response = String::from_utf8_lossy(&read_until_close(&mut busy)).into_owned();
    assert!(response.ends_with("\r\n\r\nfirst-last"), "{response}");
    let status = server.wait_exit(WAIT).expect("the server exits");
    assert!(status.success(), "exit status {status}");
}

#[test]
fn the_grace_period_cuts_a_stuck_request() {
    let mut server = start(&["--grace-ms", "300"]);
    let mut stuck = TcpStream::connect(server.addr()).unwrap();
    stuck
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nnever")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let signalled = Instant::now();
    server.signal("TERM");
    let status = server
        .wait_exit(WAIT)
        .expect("the server exits after the grace period");
    let took = signalled.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "exited after {took:?}"
    );
    assert!(
        server.stderr().contains("grace period over"),
        "what was cut is logged: {}",
        server.stderr()
    );
}

#[test]
fn a_second_signal_stops_at_once() {
    let mut server = start(&["--grace-ms", "60000"]);
    let mut stuck = TcpStream::connect(server.addr()).unwrap();
    stuck
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nnever")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    server.signal("INT");
    // Signals are flags, not a queue: two sent before the first is handled count as one. A
    // person's second Ctrl-C comes long after the first; here, wait until the first has
    // visibly started the shutdown (the listener is closed).
    let deadline = Instant::now() + WAIT;
    while TcpStream::connect(server.addr()).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the first signal did not start a shutdown"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    server.signal("INT");
    assert!(
        server.wait_exit(Duration::from_secs(2)).is_some(),
        "the second signal did not stop it"
    );
}

#[test]
fn running_out_of_descriptors_does_not_spin_the_loop() {
    // 48 descriptors in all; the connection limit is set far above, so accept() itself fails.
    let server = ServerProcess::start(
        &["prlimit", "--nofile=48"],
        SERVER,
        &["--max-connections", "100000"],
    );
    let mut held = Vec::new();
    for _ in 0..80 {
        held.push(TcpStream::connect(server.addr()).expect("the kernel queues connections"));
    }
    std::thread::sleep(Duration::from_millis(300));
    let cpu_before = server.cpu_seconds();
    std::thread::sleep(Duration::from_secs(1));
    let cpu_used = server.cpu_seconds() - cpu_before;
    assert!(
        cpu_used < 0.2,
        "the server used {cpu_used} s of CPU in 1 s while out of descriptors"
    );
    let warnings = server.stderr().matches("accept failed").count();
    assert_eq!(
        warnings,
        1,
        "one warning, not one per retry: {}",
        server.stderr()
    );

    // Once descriptors are free again, queued connections are served.
    held.truncate(10);
    let mut fresh = TcpStream::connect(server.addr()).unwrap();
    fresh.set_read_timeout(Some(WAIT)).unwrap();
    fresh
        .write_all(b"GET /hello/again HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    drop(held);
    let response = String::from_utf8_lossy(&read_until_close(&mut fresh)).into_owned();
    assert!(response.contains("Hello, again!"), "{response}");
}
