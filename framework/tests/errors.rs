//! Errors clients can use: default error bodies negotiated by `Accept`, the catch-all error
//! handler, `HttpError::with_json`, and header tuples as responses.

use carafe::testing::TestClient;
use carafe::{App, HttpError, Request, StatusCode, route};

fn app() -> App {
    let mut app = App::new();
    route!(app, POST "/items" => |_req| -> Result<&'static str, HttpError> {
        Err(HttpError::bad_request("an item needs a <name>"))
    })
    .unwrap();
    route!(app, GET "/bad-header" => |_req| ([("x-bad", "a\r\nb")], "never sent")).unwrap();
    app
}

#[test]
fn default_error_bodies_follow_accept() {
    let client = TestClient::new(app());
    let cases = [
        (None, "text/html; charset=utf-8", "<h1>404 Not Found</h1>"),
        (
            Some("text/html,application/xhtml+xml,*/*;q=0.8"),
            "text/html; charset=utf-8",
            "<title>404 Not Found</title>",
        ),
        (
            Some("*/*"),
            "text/html; charset=utf-8",
            "<h1>404 Not Found</h1>",
        ),
        (
            Some("application/json"),
            "application/json",
            r#"{"error":{"status":404,"message":"Not Found"}}"#,
        ),
        (
            Some("application/json, text/plain, */*"),
            "application/json",
            r#"{"error":{"status":404,"message":"Not Found"}}"#,
        ),
        (
            Some("text/plain"),
            "text/plain; charset=utf-8",
            "404 Not Found\n",
        ),
    ];
    for (accept, content_type, body) in cases {
        let mut request = client.get("/nowhere");
        if let Some(accept) = accept {
            request = request.header("Accept", accept);
        }
        let response = request.send();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{accept:?}");
        assert_eq!(
            response.header("content-type"),
            Some(content_type),
            "{accept:?}"
        );
        assert!(
            response.text().contains(body),
            "{accept:?}: {}",
            response.text()
        );
    }
    // The message a handler gave is in the page, escaped.
    let page = client.post("/items").send().text();
    assert!(
        page.contains("<p>an item needs a &lt;name&gt;</p>"),
        "{page}"
    );
    let json = client
        .post("/items")
        .header("Accept", "application/json")
        .send()
        .text();
    assert_eq!(
        json,
        r#"{"error":{"status":400,"message":"an item needs a <name>"}}"#
    );
    // A 405 keeps its Allow whatever the body.
    let wrong = client
        .get("/items")
        .header("Accept", "application/json")
        .send();
    assert_eq!(wrong.header("allow"), Some("POST, OPTIONS"));
    assert_eq!(
        wrong.text(),
        r#"{"error":{"status":405,"message":"Method Not Allowed"}}"#
    );
}

#[test]
fn the_catch_all_handler_answers_statuses_without_their_own() {
    let mut app = app();
    app.error_handler(
        StatusCode::NOT_FOUND,
        |_req: &Request, _e: &HttpError| "missing",
    );
    app.error_handler_any(|req: &Request, error: &HttpError| {
        format!(
            "{} for {}: {}",
            error.status().as_u16(),
            req.path(),
            error.message()
        )
    });
    let client = TestClient::new(app).propagate_errors(false);
    assert_eq!(client.get("/nowhere").send().text(), "missing");
    let bad = client.post("/items").send();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(bad.text(), "400 for /items: an item needs a <name>");
    let refused_header = client.get("/bad-header").send();
    assert_eq!(refused_header.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        refused_header.text(),
        "500 for /bad-header: Internal Server Error"
    );
}
