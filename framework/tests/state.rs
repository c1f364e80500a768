//! Shared application state (`App::state`, `Request::state`) through the test client.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use carafe::testing::TestClient;
use carafe::{App, HttpError, Request, Response, StatusCode, route};

struct Counter(AtomicU64);
struct Log(Mutex<Vec<String>>);

fn app() -> App {
    let mut app = App::new();
    app.state(Counter(AtomicU64::new(0)))
        .state(Log(Mutex::new(Vec::new())));
    app.before(|req: &Request| {
        if let Ok(log) = req.state::<Log>() {
            log.0.lock().unwrap().push(format!("before {}", req.path()));
        }
        None
    });
    app.after(|req: &Request, response: &mut Response| {
        let count = req
            .state::<Counter>()
            .map_or(0, |c| c.0.load(Ordering::Relaxed));
        response.set_header("X-Count", &count.to_string()).unwrap();
    });
    app.error_handler(StatusCode::NOT_FOUND, |req: &Request, _: &HttpError| {
        let entries = req
            .state::<Log>()
            .map_or(0, |log| log.0.lock().unwrap().len());
        format!("not found; {entries} log entries")
    });
    route!(app, GET "/count" => |req| -> Result<String, HttpError> {
        let next = req.state::<Counter>()?.0.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(next.to_string())
    })
    .unwrap();
    route!(app, GET "/slow-count" => |req| -> Result<String, HttpError> {
        Ok(req.state::<Counter>()?.0.load(Ordering::Relaxed).to_string())
    }, blocking)
    .unwrap();
    route!(app, GET "/missing" => |req| -> Result<String, HttpError> {
        Ok(req.state::<String>()?.clone())
    })
    .unwrap();
    app
}

#[test]
fn handlers_hooks_error_handlers_and_blocking_handlers_share_the_state() {
    let client = TestClient::new(app());
    assert_eq!(client.get("/count").send().text(), "1");
    let second = client.get("/count").send();
    assert_eq!(second.text(), "2");
    assert_eq!(
        second.header("x-count"),
        Some("2"),
        "the after hook sees it"
    );
    assert_eq!(
        client.get("/slow-count").send().text(),
        "2",
        "on the pool too"
    );
    assert_eq!(
        client.get("/nowhere").send().text(),
        "not found; 4 log entries",
        "the before hook logged each request, the error handler reads the log"
    );
}

#[test]
fn missing_state_is_a_500_whose_cause_names_the_type() {
    let client = TestClient::new(app()).propagate_errors(false);
    assert_eq!(client.get("/missing").send().status(), 500);
    let message = std::panic::catch_unwind(|| {
        TestClient::new(app()).get("/missing").send();
    })
    .expect_err("the test client fails the test");
    let message = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains(
            "no state of type `alloc::string::String`: give it to the app with App::state"
        ),
        "{message}"
    );
}
