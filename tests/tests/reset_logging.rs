//! Clients that reset their connection mid-request or mid-response are routine: carafe frees
//! the connection and logs at debug, never at error. This file is its own test binary so its
//! capturing logger sees only this test's records.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::Duration;

use carafe::route;
use carafe_e2e::{Served, assert_status, curl};

static RECORDS: Mutex<Vec<(log::Level, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target().starts_with("carafe") {
            RECORDS
                .lock()
                .unwrap()
                .push((record.level(), record.args().to_string()));
        }
    }
    fn flush(&self) {}
}

#[test]
fn resets_mid_request_and_mid_response_log_at_debug_only() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Debug);
    let served = Served::example_app_with(|app| {
        // A deployed app has a secret; without one, start-up warns about sessions.
        app.secret_key("a secret key of at least thirty-two bytes")
            .unwrap();
        route!(app, GET "/big" => |_req| vec![b'b'; 8 * 1024 * 1024]).unwrap();
    });
    for _ in 0..10 {
        // Mid-request: half a body, then the client vanishes.
        let mut stream = TcpStream::connect(served.addr()).unwrap();
        stream
            .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\npart")
            .unwrap();
        drop(stream);
        // Mid-response: an 8 MiB response the client closes on without reading (its unread
        // data turns the close into a reset).
        let mut stream = TcpStream::connect(served.addr()).unwrap();
        stream
            .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        drop(stream);
    }
    assert_status(&curl(&[&served.url("/hello/after")]), 200);
    served.shutdown();
    let records = RECORDS.lock().unwrap();
    let errors: Vec<_> = records
        .iter()
        .filter(|(level, _)| *level <= log::Level::Warn)
        .collect();
    assert!(
        errors.is_empty(),
        "resets were logged above debug: {errors:?}"
    );
    assert!(
        records
            .iter()
            .any(|(level, message)| *level == log::Level::Debug && message.contains("failed")),
        "the resets were not logged at debug at all"
    );
}
