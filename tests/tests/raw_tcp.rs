//! The example-app on a real socket, driven with raw bytes: pipelining, malformed input,
//! slow clients, resets.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::Duration;

use carafe_e2e::{Served, assert_status, curl, raw_exchange, read_until_close, statuses};

const WAIT: Duration = Duration::from_secs(5);

#[test]
fn many_pipelined_requests_in_one_write_are_answered_in_order() {
    let served = Served::example_app();
    let mut batch = String::new();
    for n in 0..50 {
        batch.push_str(&format!("GET /hello/n{n} HTTP/1.1\r\nHost: x\r\n\r\n"));
    }
    batch.push_str("GET /hello/last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let received = raw_exchange(served.addr(), batch.as_bytes(), WAIT);
    let text = String::from_utf8_lossy(&received);
    assert_eq!(statuses(&received), vec![200; 51]);
    let mut position = 0;
    for n in (0..50).map(|n| format!("n{n}")).chain(["last".to_owned()]) {
        let greeting = format!("Hello, {n}!");
        let found = text[position..]
            .find(&greeting)
            .unwrap_or_else(|| panic!("{greeting} missing or out of order"));
        position += found + greeting.len();
    }
}

#[test]
fn malformed_requests_get_400_and_the_server_keeps_serving() {
    let served = Served::example_app();
    // Junk rather than framing tricks (those are in framing.rs).
    let malformed: [&[u8]; 5] = [
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 tls hello\r\n\r\n",
        b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n:no-name\r\n\r\n",
    ];
    for request in malformed {
        let received = raw_exchange(served.addr(), request, WAIT);
        let text = String::from_utf8_lossy(&received);
        assert!(
            text.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{:?} got {text:?}",
            String::from_utf8_lossy(request)
        );
        assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
        assert_status(&curl(&[&served.url("/")]), 200);
    }
}

#[test]
fn other_protocol_errors_get_their_status() {
    let served = Served::example_app();
    let cases: [(&[u8], &str); 3] = [
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505 "),
        (
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "HTTP/1.1 501 ",
        ),
        (
            b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx",
            "HTTP/1.1 417 ",
        ),
    ];
    for (request, expected) in cases {
        let received = raw_exchange(served.addr(), request, WAIT);
        let text = String::from_utf8_lossy(&received);
        assert!(
            text.starts_with(expected),
            "{:?} got {text:?}",
            String::from_utf8_lossy(request)
        );
    }
}

#[test]
fn a_request_sent_one_byte_at_a_time_is_answered() {
    let served = Served::example_app();
    let mut stream = TcpStream::connect(served.addr()).unwrap();
    stream.set_nodelay(true).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let request =
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nbytes";
    for byte in request {
        stream.write_all(&[*byte]).unwrap();
        thread::sleep(Duration::from_micros(200));
    }
    let received = read_until_close(&mut stream);
    let text = String::from_utf8_lossy(&received);
    assert!(
        text.starts_with("HTTP/1.1 200 OK\r\n") && text.ends_with("\r\n\r\nbytes"),
        "{text}"
    );
}

#[test]
fn http_10_closes_and_http_10_keep_alive_stays_open() {
    let served = Served::example_app();
    let received = raw_exchange(served.addr(), b"GET /hello/old HTTP/1.0\r\n\r\n", WAIT);
    let text = String::from_utf8_lossy(&received);
    assert!(
        text.contains("Connection: close\r\n") && text.contains("Hello, old!"),
        "{text}"
    );

    let mut stream = TcpStream::connect(served.addr()).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    for round in 0..2 {
        stream
            .write_all(b"GET /api/time HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        let mut buffer = [0u8; 4096];
        let n = stream.read(&mut buffer).unwrap();
        let text = String::from_utf8_lossy(&buffer[..n]);
        assert!(
            text.contains("Connection: keep-alive\r\n"),
            "round {round}: {text}"
        );
    }
}

#[test]
fn a_client_half_closing_after_its_request_still_gets_the_response() {
    let served = Served::example_app();
    let mut stream = TcpStream::connect(served.addr()).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
        .write_all(b"GET /hello/half HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let received = read_until_close(&mut stream);
    assert!(String::from_utf8_lossy(&received).contains("Hello, half!"));
}

#[test]
fn resets_mid_request_and_mid_response_do_not_hurt_the_server() {
    let served = Served::example_app();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(served.addr()).unwrap();
        stream
            .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\npartial")
            .unwrap();
        drop(stream);
        let mut stream = TcpStream::connect(served.addr()).unwrap();
        stream
            .write_all(b"GET /blog HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        drop(stream); // Closed before reading: the response meets a reset.
    }
    assert_status(&curl(&[&served.url("/blog")]), 200);
}

#[test]
fn several_workers_share_the_port() {
    let served = Served::example_app_with(|app| app.config.workers = 3);
    let handles: Vec<_> = (0..12)
        .map(|n| {
            let url = served.url(&format!("/hello/w{n}"));
            thread::spawn(move || curl(&[&url]))
        })
        .collect();
    for (n, handle) in handles.into_iter().enumerate() {
        let response = handle.join().unwrap();
        assert_status(&response, 200);
        assert!(response.text().contains(&format!("Hello, w{n}!")));
    }
    served.shutdown();
}

#[test]
fn an_absolute_form_target_ends_its_authority_at_the_query() {
    // Issue 11, defect 4: `http://x?/static/style.css` was routed to the stylesheet, past any
    // front end that filters on the path.
    let served = Served::example_app();
    let received = raw_exchange(
        served.addr(),
        b"GET http://x?/static/style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        WAIT,
    );
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.contains("Content-Type: text/html"),
        "the home page, not the stylesheet: {text}"
    );
}

#[test]
fn errors_answering_head_have_no_body() {
    // Issue 11, defect 5.
    let served = Served::example_app();
    for request in [
        &b"HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n"[..],
        b"HEAD / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
    ] {
        let received = raw_exchange(served.addr(), request, WAIT);
        let text = String::from_utf8_lossy(&received);
        assert!(text.starts_with("HTTP/1.1 4"), "{text}");
        assert!(text.ends_with("\r\n\r\n"), "a body followed: {text:?}");
    }
}

#[test]
fn options_star_is_answered_by_the_server() {
    // Issue 11, defect 6.
    let served = Served::example_app();
    let received = raw_exchange(
        served.addr(),
        b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        WAIT,
    );
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 204 No Content\r\n"), "{text}");
    assert!(
        text.contains("\r\nAllow: GET, HEAD, POST, OPTIONS\r\n"),
        "{text}"
    );
}
