//! The debug page (`App::debug`): what it shows, what it masks, and where it is refused.

use std::io::{Read, Write};
use std::net::TcpStream;

use carafe::testing::TestClient;
use carafe::{App, context, route};

fn app(debug: bool, templates: &std::path::Path) -> App {
    let mut app = App::new();
    app.debug(debug);
    app.templates(templates).unwrap();
    route!(app, GET "/boom" => |_req| -> &'static str { panic!("the cache is <empty>") }).unwrap();
    route!(app, GET "/page" => |req| req.render("page.html", context! {})).unwrap();
    app
}

/// Written once: tests run in parallel, and a template rewritten while another test reads it
/// (templates reload in debug builds) would read as empty.
fn templates() -> std::path::PathBuf {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("carafe-debug-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("page.html"), "<p>one</p>\n<p>{{ 1 + }}</p>\n").unwrap();
        dir
    })
    .clone()
}

#[test]
fn a_panic_shows_message_location_backtrace_and_the_request_with_secrets_masked() {
    let dir = templates();
    let client = TestClient::new(app(true, &dir)).propagate_errors(false);
    let page = client
        .get("/boom?x=1")
        .header("Cookie", "session=s3cr3t")
        .header("Authorization", "Bearer t0k3n")
        .header("X-Trace", "abc")
        .send();
    assert_eq!(page.status(), 500);
    let html = page.text();
    assert!(html.contains("panicked</h1>"), "{html}");
    assert!(
        html.contains("the cache is &lt;empty&gt;"),
        "escaped message: {html}"
    );
    assert!(
        html.contains("framework/tests/debug.rs:"),
        "location: {html}"
    );
    assert!(html.contains("<h2>Backtrace</h2>"), "{html}");
    assert!(html.contains("<code>/boom?x=1</code>"), "{html}");
    assert!(
        html.contains("<code>abc</code>"),
        "other headers are shown: {html}"
    );
    assert!(
        !html.contains("s3cr3t") && !html.contains("t0k3n"),
        "masked: {html}"
    );
    assert_eq!(html.matches("(hidden)").count(), 2, "{html}");
}

#[test]
fn a_template_error_shows_the_template_line() {
    let dir = templates();
    let client = TestClient::new(app(true, &dir)).propagate_errors(false);
    let html = client.get("/page").send().text();
    assert!(
        html.contains("Template error in page.html line 2"),
        "{html}"
    );
    assert!(
        html.contains("{{ 1 + }}"),
        "the template's own line: {html}"
    );
}

#[test]
fn off_the_500_says_nothing_internal() {
    let dir = templates();
    let client = TestClient::new(app(false, &dir)).propagate_errors(false);
    let html = client.get("/boom").send().text();
    assert!(!html.contains("cache"), "{html}");
    assert!(!html.contains("debug.rs"), "{html}");
}

#[test]
fn the_debug_page_is_refused_on_an_address_others_can_reach() {
    let dir = templates();
    // Every interface: reachable from elsewhere, so the page stays off (traffic here still
    // goes to 127.0.0.1 only).
    let server = app(true, &dir).spawn("0.0.0.0:0").unwrap();
    let mut stream = TcpStream::connect(("127.0.0.1", server.addr().port())).unwrap();
    stream
        .write_all(b"GET /boom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
    assert!(!answer.contains("the cache is"), "no details: {answer}");
    server.shutdown().unwrap();

    // On loopback it is on.
    let server = app(true, &dir).spawn("127.0.0.1:0").unwrap();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .write_all(b"GET /boom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.contains("the cache is &lt;empty&gt;"), "{answer}");
    server.shutdown().unwrap();
}
