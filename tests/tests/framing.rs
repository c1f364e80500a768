//! Strict HTTP/1.1 framing on the real server (RFC 9112 §6 and §11): every request that a
//! proxy and carafe could disagree about is refused with 400 (or 501) and the connection
//! closed, so no bytes of it can be taken for a second, smuggled request.

use std::time::Duration;

use carafe_e2e::{Served, assert_status, curl, raw_exchange, statuses};

const CASES: [(&str, &[u8], u16); 17] = [
    ("Content-Length with Transfer-Encoding",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("final coding not chunked",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400),
    ("unknown coding before chunked",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    ("differing Content-Length values",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc", 400),
    ("differing Content-Length list",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 30\r\n\r\nabc", 400),
    ("Content-Length not a plain decimal",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", 400),
    ("Content-Length overflowing u64",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 184467440737095516160\r\n\r\n", 400),
    ("invalid chunk size",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3x\r\nabc\r\n0\r\n\r\n", 400),
    ("overflowing chunk size",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", 400),
    ("bare LF in a chunk extension",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a\nb\r\nabc\r\n0\r\n\r\n", 400),
    ("obs-fold continuation line",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n  b\r\n\r\n", 400),
    ("whitespace between name and colon",
        b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n", 400),
    ("NUL in a header value",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n", 400),
    ("CR in a header value",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Cr: a\rb\r\n\r\n", 400),
    ("missing Host on HTTP/1.1",
        b"GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n", 400),
    ("invalid method token",
        b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("chunked on HTTP/1.0",
        b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
];

#[test]
fn ambiguous_framing_is_refused_and_closes_the_connection() {
    let served = Served::example_app();
    for (what, request, status) in CASES {
        let received = raw_exchange(served.addr(), request, Duration::from_secs(5));
        let text = String::from_utf8_lossy(&received);
        assert_eq!(
            statuses(&received),
            vec![status],
            "{what}: exactly one response, then close: {text:?}"
        );
        assert!(text.contains("\r\nConnection: close\r\n"), "{what}: {text}");
    }
    assert_status(&curl(&[&served.url("/")]), 200);
}

#[test]
fn a_body_the_handler_ignores_is_still_consumed() {
    // GET /hello ignores its body; the body's bytes must not be parsed as a second request.
    let served = Served::example_app();
    let request = b"GET /hello/first HTTP/1.1\r\nHost: x\r\nContent-Length: 39\r\n\r\n\
GET /hello/smuggled HTTP/1.1\r\nHost: x\r\n\r\nGET /hello/second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let received = raw_exchange(served.addr(), request, Duration::from_secs(5));
    let text = String::from_utf8_lossy(&received);
    assert_eq!(statuses(&received), vec![200, 200], "{text}");
    assert!(text.contains("Hello, first!") && text.contains("Hello, second!"));
    assert!(!text.contains("smuggled"), "{text}");
}
