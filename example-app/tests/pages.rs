//! The example app through `carafe::testing::TestClient`: every page, in memory, no socket.
//! (The curl and browser tests in `tests/` cover the same app over a real connection.)

use carafe::StatusCode;
use carafe::testing::{MultipartBody, TestClient};

/// The visitor's CSRF token, as the site's forms carry it (every POST form of the example
/// app is protected).
fn csrf_token(client: &TestClient) -> String {
    let page = client.get("/contact").send().text();
    page.split(r#"name="csrf_token" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the contact form carries a token")
        .to_owned()
}

fn client() -> TestClient {
    let app = example_app::build(&example_app::Options::default()).expect("the example app builds");
    TestClient::new(app)
}

#[test]
fn every_page_renders() {
    let client = client();
    for path in [
        "/",
        "/blog",
        "/blog/epoll",
        "/hello/world",
        "/contact",
        "/counter",
        "/upload",
        "/api/time",
    ] {
        let response = client.get(path).send();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(
            response.header("x-request-id").is_some(),
            "{path}: the after hook ran"
        );
    }
}

#[test]
fn a_post_downloads_as_a_text_file() {
    let client = client();
    let page = client.get("/blog/epoll").send().text();
    assert!(
        page.contains(r#"href="/blog/epoll/download" download"#),
        "{page}"
    );
    let response = client.get("/blog/epoll/download").send();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.header("content-disposition"),
        Some(r#"attachment; filename="epoll.txt""#)
    );
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(
        response
            .text()
            .starts_with("From select to epoll\n2026-11-20\n\n")
    );
    let missing = client.get("/blog/nothing/download").send();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[test]
fn unknown_pages_render_the_404_template() {
    let response = client().get("/blog/no-such-post").send();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().contains("<h1>Page not found</h1>"));
}

#[test]
fn the_counter_counts_visits_in_the_session() {
    let client = client();
    let token = csrf_token(&client);
    for expected in 1..=3 {
        let page = client.get("/counter").send().text();
        assert!(
            page.contains(&format!("<strong id=\"visits\">{expected}</strong>")),
            "visit {expected}: {page}"
        );
    }
    let reset = client
        .post("/counter/reset")
        .header("X-CSRF-Token", &token)
        .send();
    assert_eq!(reset.status(), StatusCode::SEE_OTHER);
    assert!(
        client
            .get("/counter")
            .send()
            .text()
            .contains("<strong id=\"visits\">1</strong>")
    );
}

#[test]
fn an_upload_reports_size_and_sha256() {
    let client = client();
    let token = csrf_token(&client);
    let body = MultipartBody::new().text("note", "hello").file(
        "file",
        "greeting.txt",
        "text/plain",
        b"hello world\n".to_vec(),
    );
    let page = client
        .post("/upload")
        .header("X-CSRF-Token", &token)
        .multipart(body)
        .send()
        .text();
    assert!(page.contains("greeting.txt"), "{page}");
    // sha256sum of "hello world\n".
    assert!(
        page.contains("a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447"),
        "{page}"
    );
}

#[test]
fn routes_flag_lists_names_methods_patterns_and_handlers() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_example-app"))
        .arg("--routes")
        .output()
        .expect("run example-app --routes");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(table.starts_with("Name"), "{table}");
    assert!(
        table.lines().any(|line| line.split_whitespace().eq([
            "post",
            "GET",
            "/blog/{slug}",
            "post",
            "-"
        ])),
        "{table}"
    );
    assert!(
        table.lines().any(|line| line.split_whitespace().eq([
            "api.time",
            "GET",
            "/api/time",
            "time",
            "api"
        ])),
        "the API's routes are its blueprint's: {table}"
    );
    assert!(table.contains("slow (blocking)"), "{table}");
}

#[test]
fn a_request_id_is_taken_only_from_a_trusted_proxy() {
    let generated = |id: &str| {
        let (pid, number) = id.split_once('-').expect("PID-N");
        pid == std::process::id().to_string() && number.parse::<u64>().is_ok()
    };
    let nginx_id = "3f2a9c0d5e6b47a8b1c2d3e4f5a6b7c8";

    // From an untrusted peer, a request id is what the client chose: not repeated back.
    let direct = client();
    let response = direct.get("/").header("X-Request-Id", nginx_id).send();
    let id = response.header("x-request-id").expect("an id");
    assert!(generated(id), "{id}");

    // TestClient requests come from 127.0.0.1, here the trusted proxy.
    let mut app =
        example_app::build(&example_app::Options::default()).expect("the example app builds");
    app.config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let behind_proxy = TestClient::new(app);
    for path in ["/", "/no-such-page", "/static/style.css"] {
        let response = behind_proxy
            .get(path)
            .header("X-Request-Id", nginx_id)
            .send();
        assert_eq!(response.header("x-request-id"), Some(nginx_id), "{path}");
    }
    // An id that could garble a log line, or none, gets one of ours.
    let too_long = "a".repeat(129);
    for sent in [
        Some("two words"),
        Some("a\"b"),
        Some(too_long.as_str()),
        None,
    ] {
        let mut request = behind_proxy.get("/");
        if let Some(sent) = sent {
            request = request.header("X-Request-Id", sent);
        }
        let response = request.send();
        let id = response.header("x-request-id").expect("an id");
        assert!(generated(id), "{sent:?} gave {id}");
    }
}

#[test]
fn every_answer_says_how_it_may_be_cached() {
    let client = client().propagate_errors(false);
    for (path, expected) in [
        ("/", "no-cache"),
        ("/hello/x", "no-cache"),
        ("/contact", "no-cache"),
        ("/blog", "public, max-age=300"),
        ("/blog/epoll", "public, max-age=300"),
        ("/counter", "private, no-cache"),
        ("/api/time", "no-store"),
        ("/api/whoami", "no-store"),
        ("/static/style.css", "no-cache"),
        ("/no/such/page", "no-cache"),
    ] {
        let response = client.get(path).send();
        assert_eq!(response.header("cache-control"), Some(expected), "{path}");
    }
}

#[test]
fn a_contact_message_with_mistakes_comes_back_with_the_values_kept() {
    let client = client();
    let token = csrf_token(&client);
    let page = client
        .post("/contact")
        .header("X-CSRF-Token", &token)
        .form(&[
            ("name", "  "),
            ("email", "ada at example"),
            ("message", "Hi <b>"),
        ])
        .send();
    assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = page.text();
    assert!(
        html.contains(r#"id="name-error">Please tell us your name."#),
        "{html}"
    );
    assert!(
        html.contains("That does not look like an email address."),
        "{html}"
    );
    assert!(
        !html.contains(r#"id="message-error""#),
        "the message is fine: {html}"
    );
    assert!(html.contains(r#"value="ada at example""#), "kept: {html}");
    assert!(
        html.contains(">Hi &lt;b&gt;</textarea>"),
        "kept, escaped: {html}"
    );
    assert!(!html.contains("Thanks"), "{html}");

    let empty = client
        .post("/contact")
        .header("X-CSRF-Token", &token)
        .form(&[])
        .send();
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.text().contains("Please write a message."));
}

#[test]
fn a_good_contact_message_redirects_and_is_thanked_once() {
    let client = client();
    let token = csrf_token(&client);
    let sent = client
        .post("/contact")
        .header("X-CSRF-Token", &token)
        .form(&[
            ("name", "Ada <Lovelace>"),
            ("email", "ada@example.com"),
            ("message", "Hello"),
        ])
        .send();
    assert_eq!(sent.status(), StatusCode::SEE_OTHER, "post/redirect/get");
    assert_eq!(sent.header("location"), Some("/contact"));
    let page = client.get("/contact").send().text();
    assert!(
        page.contains(
            "Thanks, Ada &lt;Lovelace&gt;! Your message was received; the answer goes to \
             ada@example.com."
        ),
        "{page}"
    );
    assert!(page.contains(r#"class="flash flash-success""#), "{page}");
    let again = client.get("/contact").send().text();
    assert!(!again.contains("Thanks,"), "shown once");
    assert!(
        again.contains(r#"<span id="received">1</span> message received"#),
        "kept in the app's shared Inbox: {again}"
    );
}

#[test]
fn error_pages_are_the_sites_own_html_and_json_under_the_api() {
    let client = client();
    for (method, path, status, title) in [
        ("GET", "/no/such/page", 404, "Page not found"),
        ("GET", "/echo", 405, "Method not allowed"),
        ("PUT", "/blog", 405, "Method not allowed"),
    ] {
        let method: carafe::Method = method.parse().unwrap();
        let page = client.request(method.clone(), path).send();
        assert_eq!(page.status().as_u16(), status, "{method} {path}");
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
        let html = page.text();
        assert!(html.contains(&format!("<h1>{title}</h1>")), "{html}");
        assert!(
            html.contains(r#"<link rel="stylesheet""#),
            "in the layout: {html}"
        );
    }
    assert_eq!(
        client.get("/echo").send().header("allow"),
        Some("POST, OPTIONS"),
        "the 405 page keeps Allow"
    );

    let api = client.get("/api/nothing-here").send();
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    assert_eq!(api.header("content-type"), Some("application/json"));
    assert_eq!(api.text(), r#"{"status":404,"error":"Not Found"}"#);
}

#[test]
fn a_body_over_the_limit_gets_the_styled_413() {
    let mut app =
        example_app::build(&example_app::Options::default()).expect("the example app builds");
    app.config.max_body_size = 1024;
    let client = TestClient::new(app);
    let page = client
        .post("/upload")
        .multipart(MultipartBody::new().file(
            "file",
            "big.bin",
            "application/octet-stream",
            vec![0; 4096],
        ))
        .send();
    assert_eq!(page.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let html = page.text();
    assert!(html.contains("<h1>Too large</h1>"), "{html}");
    assert!(
        html.contains("request body larger than 1024 bytes"),
        "{html}"
    );
    assert!(page.header("x-request-id").is_some(), "the after hook ran");
}

#[test]
fn a_forged_post_is_refused_and_a_real_one_accepted() {
    let client = client();
    let forged = client
        .post("/contact")
        .form(&[
            ("name", "Mallory"),
            ("email", "m@example.com"),
            ("message", "hi"),
        ])
        .send();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert!(
        forged.text().contains("the CSRF token is missing"),
        "{}",
        forged.text()
    );
    assert!(
        forged.text().contains("<h1>Bad Request</h1>"),
        "the site's own error page: {}",
        forged.text()
    );
    let token = csrf_token(&client);
    let real = client
        .post("/contact")
        .form(&[
            ("name", "Ada"),
            ("email", "ada@example.com"),
            ("message", "hi"),
            ("csrf_token", &token),
        ])
        .send();
    assert_eq!(real.status(), StatusCode::SEE_OTHER);
    // POST /echo stays open to tools.
    assert_eq!(client.post("/echo").body("raw").send().text(), "raw");
}
