//! The access log (`carafe::access` at `info`): one line per answered request, with the
//! client, the request line, the status, the body bytes sent, the time taken and the
//! response's request id when it is one printable word.
//!
//! This test binary installs its own logger that keeps the access lines, so it can read them;
//! each test tells its lines from the others' by the client's port.

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Mutex, Once};
use std::time::Duration;

use carafe::{App, Response, route};
use carafe_e2e::{Served, read_until_close};

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Keep;

impl log::Log for Keep {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.target() == "carafe::access" && metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            LINES.lock().unwrap().push(record.args().to_string());
        }
    }

    fn flush(&self) {}
}

fn keep_access_lines() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        log::set_boxed_logger(Box::new(Keep)).expect("no other logger in this test binary");
        log::set_max_level(log::LevelFilter::Info);
    });
}

/// An app whose `/id/{id}` answers with that `X-Request-Id` (as an app or proxy might set it).
fn app() -> App {
    let mut app = App::new();
    app.config.workers = 1;
    route!(app, GET "/hello" => |_req| "hello, world").unwrap();
    route!(app, GET "/id/{id}" => |req| {
        let id = req.param("id").unwrap_or_default();
        Response::text("ok")
            .with_header("X-Request-Id", id)
            .expect("a valid header value")
    })
    .unwrap();
    app
}

/// Sends `requests` on one connection that closes after the last, and returns the access
/// lines the server wrote for that connection (once it has closed, all are written).
fn access_lines(served: &Served, requests: &[u8]) -> Vec<String> {
    let mut stream = TcpStream::connect(served.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let client = stream.local_addr().unwrap().to_string();
    stream.write_all(requests).unwrap();
    read_until_close(&mut stream);
    let prefix = format!("{client} ");
    LINES
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.starts_with(&prefix))
        .map(|line| line[prefix.len()..].to_owned())
        .collect()
}

/// `"GET / HTTP/1.1" 200 12 0.123ms` → (`"GET / HTTP/1.1" 200 12`, the rest after the time).
fn without_time(line: &str) -> (String, String) {
    let (before, after) = line.rsplit_once("ms").expect("a time in ms");
    let (fixed, time) = before.rsplit_once(' ').expect("a space before the time");
    let (whole, fraction) = time.split_once('.').expect("a decimal time");
    assert!(
        whole.bytes().all(|b| b.is_ascii_digit()) && fraction.len() == 3,
        "time {time:?} in {line:?}"
    );
    (fixed.to_owned(), after.to_owned())
}

#[test]
fn one_line_per_request_with_status_bytes_and_time() {
    keep_access_lines();
    let served = Served::app(app());
    let lines = access_lines(
        &served,
        b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n\
          HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /missing?q=1 HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /hello HTTP/1.0\r\n\r\n",
    );
    let lines: Vec<_> = lines.iter().map(|line| without_time(line)).collect();
    let not_found_len = {
        let response = carafe_e2e::curl(&["-s", &served.url("/missing?q=1")]);
        response.body.len()
    };
    assert_eq!(
        lines,
        [
            ("\"GET /hello HTTP/1.1\" 200 12".to_owned(), String::new()),
            // HEAD sends no body: 0 bytes, whatever GET would have sent.
            ("\"HEAD /hello HTTP/1.1\" 200 0".to_owned(), String::new()),
            (
                format!("\"GET /missing?q=1 HTTP/1.1\" 404 {not_found_len}"),
                String::new()
            ),
            ("\"GET /hello HTTP/1.0\" 200 12".to_owned(), String::new()),
        ]
    );
    served.shutdown();
}

#[test]
fn the_request_id_is_logged_only_when_it_is_one_printable_word() {
    keep_access_lines();
    let served = Served::app(app());
    let ids: Vec<_> = ["req-42", "two%20words", "caf%C3%A9"]
        .iter()
        .flat_map(|id| {
            let request = format!("GET /id/{id} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            access_lines(&served, request.as_bytes())
        })
        .map(|line| without_time(&line).1)
        .collect();
    // A space or a byte outside ASCII would let a response forge or garble the line: left out.
    assert_eq!(ids, [" id=req-42", "", ""]);
    served.shutdown();
}
