//! Every size limit on the real server over a socket: the right status, the connection
//! closed, and the server still serving others. Also the connection limit. (Backpressure
//! against a client that does not read is measured on the server's memory in `process.rs`.)

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use carafe::{HttpError, route};
use carafe_e2e::{Served, assert_status, curl, raw_exchange, read_until_close};

const WAIT: Duration = Duration::from_secs(5);

/// Sends `request`, expects a response starting with `status_line`, `Connection: close`,
/// and the server closing the connection; then checks the server still serves.
#[track_caller]
fn assert_rejected(served: &Served, request: &[u8], status_line: &str) {
    let received = raw_exchange(served.addr(), request, WAIT);
    let text = String::from_utf8_lossy(&received);
    assert!(
        text.starts_with(status_line),
        "expected {status_line:?}, got {text:?}"
    );
    assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
    assert_status(&curl(&[&served.url("/hello/still-up")]), 200);
}

#[test]
fn head_over_the_limit_is_431() {
    let served = Served::example_app_with(|app| app.config.max_head_size = 1024);
    let request = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(2000)
    );
    assert_rejected(&served, request.as_bytes(), "HTTP/1.1 431 ");
    // The limit also applies while the head is still arriving (no blank line yet).
    let unfinished = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}", "a".repeat(2000));
    assert_rejected(&served, unfinished.as_bytes(), "HTTP/1.1 431 ");
}

#[test]
fn too_many_headers_is_431() {
    let served = Served::example_app_with(|app| app.config.max_headers = 10);
    let mut request = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    for n in 0..10 {
        request.push_str(&format!("X-{n}: v\r\n"));
    }
    request.push_str("\r\n");
    assert_rejected(&served, request.as_bytes(), "HTTP/1.1 431 ");
}

#[test]
fn long_target_is_414() {
    let served = Served::example_app_with(|app| app.config.max_target_len = 100);
    let request = format!("GET /hello/{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(200));
    assert_rejected(&served, request.as_bytes(), "HTTP/1.1 414 ");
    // Decided before the request line ends, so a huge line is never buffered whole.
    let unfinished = format!("GET /{}", "a".repeat(500));
    assert_rejected(&served, unfinished.as_bytes(), "HTTP/1.1 414 ");
}

#[test]
fn body_over_the_limit_is_413_before_it_is_sent() {
    let served = Served::example_app_with(|app| app.config.max_body_size = 1000);
    // The body never follows: the answer must come from the Content-Length alone.
    assert_rejected(
        &served,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n",
        "HTTP/1.1 413 ",
    );
    let expecting =
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n";
    let received = raw_exchange(served.addr(), expecting, WAIT);
    let text = String::from_utf8_lossy(&received);
    assert!(
        text.starts_with("HTTP/1.1 413 "),
        "413 instead of 100 Continue: {text}"
    );
    assert!(!text.contains("100 Continue"));
    // At the limit exactly is fine.
    let body = "b".repeat(1000);
    let request = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n{body}"
    );
    let received = raw_exchange(served.addr(), request.as_bytes(), WAIT);
    assert!(String::from_utf8_lossy(&received).starts_with("HTTP/1.1 200 "));
}

#[test]
fn chunked_body_is_413_as_soon_as_it_passes_the_limit() {
    let served = Served::example_app_with(|app| app.config.max_body_size = 1000);
    let mut stream = TcpStream::connect(served.addr()).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    stream
        .write_all(format!("200\r\n{}\r\n", "c".repeat(0x200)).as_bytes())
        .unwrap();
    // This chunk takes the body past 1000 bytes; its size line alone decides.
    stream.write_all(b"200\r\n").unwrap();
    let received = read_until_close(&mut stream);
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
    assert_status(&curl(&[&served.url("/")]), 200);
}

#[test]
fn at_the_connection_limit_accepting_pauses_and_resumes() {
    let served = Served::example_app_with(|app| app.config.max_connections = 2);
    let mut first = TcpStream::connect(served.addr()).unwrap();
    let mut second = TcpStream::connect(served.addr()).unwrap();
    for stream in [&mut first, &mut second] {
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream
            .write_all(b"GET /hello/in HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buffer = [0u8; 4096];
        assert!(stream.read(&mut buffer).unwrap() > 0);
    }
    // The kernel completes the third handshake, but carafe does not accept it yet.
    let mut third = TcpStream::connect(served.addr()).unwrap();
    third
        .write_all(b"GET /hello/third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buffer = [0u8; 4096];
    let waited = third.read(&mut buffer);
    assert!(
        matches!(&waited, Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "the third connection was served while two were open: {waited:?}"
    );
    drop(first);
    third.set_read_timeout(Some(WAIT)).unwrap();
    let received = read_until_close(&mut third);
    assert!(
        String::from_utf8_lossy(&received).contains("Hello, third!"),
        "not served after a slot freed"
    );
}

/// One exchange on a fresh connection that ends it; the status code of the answer.
fn status_of(served: &Served, request: &str) -> String {
    let received = raw_exchange(served.addr(), request.as_bytes(), WAIT);
    let text = String::from_utf8_lossy(&received);
    text.get(9..12).unwrap_or("").to_owned()
}

#[test]
fn form_fields_over_the_limit_are_413() {
    // A route that reads the form (exempt from CSRF: raw requests carry no session).
    let served = Served::example_app_with(|app| {
        app.config.max_form_parts = 10;
        route!(app, POST "/fields" => |req| -> Result<String, HttpError> {
            Ok(req.form()?.len().to_string())
        }, csrf_exempt)
        .unwrap();
    });
    let post = |pairs: usize| {
        let body = vec!["a=1"; pairs].join("&");
        format!(
            "POST /fields HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    assert_eq!(status_of(&served, &post(10)), "200", "at the limit");
    assert_eq!(status_of(&served, &post(11)), "413", "one over");
    // 8 MiB of `a&a&...`: four million pairs used to cost 200 MB for this one request.
    let flood = "a&".repeat(4 * 1024 * 1024);
    let request = format!(
        "POST /fields HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{flood}",
        flood.len()
    );
    assert_eq!(status_of(&served, &request), "413");
    assert_status(&curl(&[&served.url("/hello/still-up")]), 200);
}

#[test]
fn query_parameters_over_the_limit_are_414() {
    let served = Served::example_app_with(|app| app.config.max_query_params = 10);
    let get = |pairs: usize| {
        let query = vec!["q=1"; pairs].join("&");
        format!("GET /hello/x?{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    };
    assert_eq!(status_of(&served, &get(10)), "200", "at the limit");
    // Empty pairs are not pairs (`a&&b` holds two), as for the parser.
    let sparse = format!(
        "GET /hello/x?{}&& HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ["q=1"; 10].join("&&")
    );
    assert_eq!(
        status_of(&served, &sparse),
        "200",
        "empty pairs do not count"
    );
    let over = raw_exchange(served.addr(), get(11).as_bytes(), WAIT);
    let text = String::from_utf8_lossy(&over);
    assert!(text.starts_with("HTTP/1.1 414 "), "{text}");
    assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
}

#[test]
fn cookies_over_the_limit_are_431() {
    let served = Served::example_app_with(|app| app.config.max_cookies = 10);
    let get = |cookies: usize| {
        let pairs: Vec<String> = (0..cookies).map(|n| format!("c{n}=v")).collect();
        // Split over two headers: the limit counts them together.
        let (first, second) = pairs.split_at(cookies / 2);
        format!(
            "GET /hello/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {}\r\nCookie: {}\r\n\r\n",
            first.join("; "),
            second.join("; ")
        )
    };
    assert_eq!(status_of(&served, &get(10)), "200", "at the limit");
    assert_rejected(&served, get(11).as_bytes(), "HTTP/1.1 431 ");
}

#[test]
fn chunk_extensions_over_the_limit_are_400() {
    let served = Served::example_app_with(|app| app.config.max_chunk_extensions = 20);
    // Ten bytes of extensions per one-byte chunk: two chunks are the limit, three are over.
    let post = |chunks: usize| {
        let mut request = String::from(
            "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        for _ in 0..chunks {
            request.push_str("1;ext=12345\r\nz\r\n");
        }
        request.push_str("0\r\n\r\n");
        request
    };
    let received = raw_exchange(served.addr(), post(2).as_bytes(), WAIT);
    let text = String::from_utf8_lossy(&received);
    assert!(
        text.starts_with("HTTP/1.1 200 ") && text.ends_with("\r\n\r\nzz"),
        "{text}"
    );
    assert_rejected(&served, post(3).as_bytes(), "HTTP/1.1 400 ");
}

#[test]
fn trailers_have_the_limits_of_a_header_section() {
    let served = Served::example_app_with(|app| {
        app.config.max_head_size = 1024;
        app.config.max_headers = 4;
    });
    let post = |trailers: &str| {
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n\
             1\r\nz\r\n0\r\n{trailers}\r\n"
        )
    };
    let four = "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n";
    assert_eq!(status_of(&served, &post(four)), "200", "at the limit");
    assert_rejected(
        &served,
        post(&format!("{four}E: 5\r\n")).as_bytes(),
        "HTTP/1.1 431 ",
    );
    let long = format!("X: {}\r\n", "a".repeat(1024));
    assert_rejected(&served, post(&long).as_bytes(), "HTTP/1.1 431 ");
}
