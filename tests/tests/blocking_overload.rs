//! A full blocking pool under a flood of pipelined blocking requests: every one is refused
//! with a 503, in order, and the server lives on (issue 11, defect 1: each refusal used to
//! add a stack frame on the event loop until the process aborted with a stack overflow).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use carafe_e2e::{ServerProcess, raw_exchange, statuses};

const SERVER: &str = env!("CARGO_BIN_EXE_test-server");
const WAIT: Duration = Duration::from_secs(5);

/// Waits until a blocking request is refused: the pool's only thread is taken.
fn wait_until_pool_is_full(server: &ServerProcess) {
    let deadline = Instant::now() + WAIT;
    loop {
        let probe = raw_exchange(
            server.addr(),
            b"GET /slow?ms=0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            WAIT,
        );
        if statuses(&probe) == [503] {
            return;
        }
        assert!(Instant::now() < deadline, "the pool never filled up");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn thousands_of_refused_pipelined_blocking_requests_are_answered_in_order() {
    let server = ServerProcess::start(
        &[],
        SERVER,
        &["--blocking-threads", "1", "--blocking-queue", "0"],
    );
    // The pool's one thread sleeps for the whole test.
    let mut holder = TcpStream::connect(server.addr()).unwrap();
    holder
        .write_all(b"GET /slow?ms=10000 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    wait_until_pool_is_full(&server);

    // A 4 MB body first grows the connection's input buffer, so that the pipelined requests
    // behind it are all at hand at once; then blocking requests, every 1,000th followed by a
    // page that tells them apart, to check the order.
    const REFUSED: usize = 60_000;
    let mut requests = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        4_000_000
    )
    .into_bytes();
    requests.resize(requests.len() + 4_000_000, b'e');
    for n in 0..REFUSED {
        requests.extend_from_slice(b"GET /slow?ms=0 HTTP/1.1\r\nHost: x\r\n\r\n");
        if n % 1000 == 999 {
            requests.extend_from_slice(
                format!("GET /hello/n{n} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
            );
        }
    }
    requests.extend_from_slice(b"GET /hello/last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

    let mut client = TcpStream::connect(server.addr()).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut writer = client.try_clone().unwrap();
    let sending = std::thread::spawn(move || writer.write_all(&requests));
    let mut received = Vec::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        match client.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(error) => panic!(
                "reading failed after {} bytes ({error}); server stderr:\n{}",
                received.len(),
                server.stderr()
            ),
        }
    }
    sending.join().unwrap().expect("every request was sent");

    let codes = statuses(&received);
    let pages = REFUSED / 1000 + 1;
    assert_eq!(
        codes.len(),
        1 + REFUSED + pages,
        "every request is answered; server stderr:\n{}",
        server.stderr()
    );
    assert_eq!(codes[0], 200, "the echo");
    let text = String::from_utf8_lossy(&received);
    let mut hellos = text.match_indices("Hello, n").map(|(at, _)| at);
    let mut expected = 1;
    for (index, code) in codes.iter().enumerate().skip(1) {
        if index % 1001 == 0 || index == codes.len() - 1 {
            assert_eq!(*code, 200, "response {index} is a page");
        } else {
            assert_eq!(*code, 503, "response {index} is a refusal");
            expected += 1;
        }
    }
    assert_eq!(expected, 1 + REFUSED);
    // The pages come in the order they were asked for.
    let order: Vec<usize> = hellos
        .by_ref()
        .map(|at| {
            let digits: String = text[at + 8..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().unwrap()
        })
        .collect();
    let wanted: Vec<usize> = (0..REFUSED).filter(|n| n % 1000 == 999).collect();
    assert_eq!(order, wanted);
    assert!(text.contains("Hello, last!"), "the last page");

    // The server lives on.
    let after = raw_exchange(
        server.addr(),
        b"GET /hello/alive HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        WAIT,
    );
    assert_eq!(statuses(&after), [200], "{}", server.stderr());
    drop(holder);
}
