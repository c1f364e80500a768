//! The example-app on a real socket, driven by the real `curl` binary: what a user sees with
//! `curl -i`.

use carafe_e2e::{
    Scratch, Served, Visitor, arg, assert_status, curl, curl_raw, pseudo_random_bytes, write_file,
};

#[test]
fn index_renders_the_layout_and_its_links() {
    let served = Served::example_app();
    let page = curl(&[&served.url("/")]);
    assert_status(&page, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("server"), Some("carafe"));
    let date = page.header("date").expect("a Date header");
    assert!(
        date.ends_with(" GMT") && date.len() == 29,
        "IMF-fixdate: {date}"
    );
    assert_eq!(
        page.header("content-length"),
        Some(page.body.len().to_string().as_str())
    );
    let html = page.text();
    assert!(html.contains("<h1>Welcome to carafe</h1>"), "{html}");
    for link in [
        "href=\"/blog\"",
        "href=\"/contact\"",
        "href=\"/static/style.css\"",
    ] {
        assert!(html.contains(link), "missing {link}");
    }
    // The curl hint names the address the client actually used.
    let hint = format!("curl --data-binary @file http://{}/echo", served.addr());
    assert!(html.contains(&hint), "missing {hint:?}");
}

#[test]
fn blog_lists_posts_and_each_post_has_a_page() {
    let served = Served::example_app();
    let blog = curl(&[&served.url("/blog")]);
    assert_status(&blog, 200);
    assert!(blog.text().contains("href=\"/blog/epoll\""));
    let post = curl(&[&served.url("/blog/epoll")]);
    assert_status(&post, 200);
    assert!(post.text().contains("<h1>From select to epoll</h1>"));
}

#[test]
fn unknown_post_and_unknown_path_render_the_404_page() {
    let served = Served::example_app();
    for path in ["/blog/no-such-post", "/no/such/page"] {
        let page = curl(&[&served.url(path)]);
        assert_status(&page, 404);
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert!(page.text().contains("<h1>Page not found</h1>"), "{page}");
    }
}

#[test]
fn hello_escapes_the_name() {
    let served = Served::example_app();
    let page = curl(&[&served.url("/hello/%3Cscript%3Ealert(1)%3C%2Fscript%3E")]);
    assert_status(&page, 200);
    let html = page.text();
    assert!(
        html.contains("Hello, &lt;script&gt;alert(1)&lt;&#x2f;script&gt;!"),
        "{html}"
    );
    assert!(
        !html.contains("<script>"),
        "the name must not become markup"
    );
    let plain = curl(&[&served.url("/hello/W%C3%B6rld")]);
    assert!(plain.text().contains("Hello, Wörld!"));
}

#[test]
fn wrong_method_is_405_with_allow() {
    let served = Served::example_app();
    let response = curl(&["-X", "DELETE", &served.url("/blog")]);
    assert_status(&response, 405);
    assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS"));
    let response = curl(&["-X", "PUT", &served.url("/contact")]);
    assert_status(&response, 405);
    assert_eq!(response.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
}

#[test]
fn options_is_204_with_allow() {
    let served = Served::example_app();
    let response = curl(&["-X", "OPTIONS", &served.url("/contact")]);
    assert_status(&response, 204);
    assert_eq!(response.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    assert!(response.body.is_empty());
}

#[test]
fn head_has_the_get_headers_and_no_body() {
    let served = Served::example_app();
    let get = curl(&[&served.url("/blog")]);
    let head = curl(&["-I", &served.url("/blog")]);
    assert_status(&head, 200);
    assert_eq!(head.header("content-length"), get.header("content-length"));
    assert_eq!(head.header("content-type"), get.header("content-type"));
    // With -I curl writes the headers where the body would go; what it downloaded is the test.
    assert_eq!(
        head.metric("size_download"),
        0,
        "a HEAD response carried a body"
    );
}

#[test]
fn echo_returns_one_mebibyte_byte_for_byte() {
    let served = Served::example_app();
    let scratch = Scratch::new();
    let sent = pseudo_random_bytes(1024 * 1024, 7);
    let file = write_file(&scratch, "upload.bin", &sent);
    let data = format!("@{}", arg(&file));
    let response = curl(&[
        "--data-binary",
        &data,
        "-H",
        "Content-Type: application/x-carafe-test",
        &served.url("/echo"),
    ]);
    assert_status(&response, 200);
    assert_eq!(
        response.header("content-type"),
        Some("application/x-carafe-test")
    );
    assert_eq!(response.body.len(), sent.len());
    assert!(
        response.body == sent,
        "the echoed body differs from what was sent"
    );
}

#[test]
fn chunked_upload_is_decoded() {
    let served = Served::example_app();
    let scratch = Scratch::new();
    let sent = pseudo_random_bytes(300 * 1024, 11);
    let file = write_file(&scratch, "chunked.bin", &sent);
    let data = format!("@{}", arg(&file));
    let response = curl(&[
        "--data-binary",
        &data,
        "-H",
        "Transfer-Encoding: chunked",
        &served.url("/echo"),
    ]);
    assert_status(&response, 200);
    assert!(
        response.raw_headers.contains("Content-Length: 307200"),
        "{response}"
    );
    assert!(
        response.body == sent,
        "the chunked body was not decoded exactly"
    );
}

#[test]
fn expect_100_continue_does_not_stall() {
    let served = Served::example_app();
    let response = curl(&[
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        "waiting for permission",
        &served.url("/echo"),
    ]);
    assert_status(&response, 200);
    assert!(
        response.raw_headers.starts_with("HTTP/1.1 100 Continue"),
        "{response}"
    );
    assert_eq!(response.text(), "waiting for permission");
    // curl waits up to a second for `100 Continue` before sending anyway; answered at once,
    // the whole exchange takes a fraction of that.
    let seconds = response.info["time_total"].as_f64().expect("time_total");
    assert!(
        seconds < 0.5,
        "took {seconds} s: 100 Continue was not sent promptly"
    );
}

#[test]
fn two_urls_in_one_curl_run_share_one_connection() {
    let served = Served::example_app();
    let output = curl_raw(&[
        "-sS",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{num_connects}\n",
        &served.url("/"),
        &served.url("/blog"),
    ]);
    assert_eq!(
        output, "200 1\n200 0\n",
        "the second request must reuse the first connection"
    );
}

#[test]
fn static_file_has_validators_and_answers_304() {
    let served = Served::example_app();
    let css = curl(&[&served.url("/static/style.css")]);
    assert_status(&css, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    let on_disk = std::fs::read(example_app::repository_root().join("static/style.css")).unwrap();
    assert!(css.body == on_disk, "served bytes differ from the file");
    let etag = css.header("etag").expect("an ETag").to_owned();
    // Spelled as RFC 9110 spells it (header names are case-insensitive, but tools and people
    // read them): `ETag`, not `Etag`.
    assert!(
        css.raw_headers.contains(&format!("\r\nETag: {etag}\r\n")),
        "{}",
        css.raw_headers
    );
    assert_eq!(css.header("cache-control"), Some("no-cache"));
    let last_modified = css
        .header("last-modified")
        .expect("a Last-Modified")
        .to_owned();

    let by_etag = curl(&[
        "-H",
        &format!("If-None-Match: {etag}"),
        &served.url("/static/style.css"),
    ]);
    assert_status(&by_etag, 304);
    assert!(by_etag.body.is_empty());
    assert_eq!(by_etag.header("etag"), Some(etag.as_str()));

    let by_date = curl(&[
        "-H",
        &format!("If-Modified-Since: {last_modified}"),
        &served.url("/static/style.css"),
    ]);
    assert_status(&by_date, 304);

    let stale = curl(&[
        "-H",
        "If-None-Match: \"something-else\"",
        &served.url("/static/style.css"),
    ]);
    assert_status(&stale, 200);
}

#[test]
fn static_files_cannot_escape_their_folder() {
    let served = Served::example_app();
    let attempts = [
        "/static/..%2f..%2fCargo.toml",
        "/static/%2e%2e/%2e%2e/Cargo.toml",
        "/static/%2e%2e%2f%2e%2e%2fCargo.toml",
        "/static/..%5c..%5cCargo.toml",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/style.css%00.txt",
    ];
    for path in attempts {
        // --path-as-is: send the path exactly, without curl normalising `..` away.
        let response = curl(&["--path-as-is", &served.url(path)]);
        assert_status(&response, 404);
        assert!(
            !response.text().contains("[workspace]"),
            "{path} leaked a file"
        );
    }
}

#[test]
fn contact_form_redirects_after_a_good_post_and_escapes_what_comes_back() {
    let served = Served::example_app();
    let form = curl(&[&served.url("/contact")]);
    assert_status(&form, 200);
    assert!(
        form.text()
            .contains("<form method=\"post\" action=\"/contact\"")
    );
    // A mistake: the form again, 422, with the markup typed kept as text.
    let visitor = Visitor::new(&served);
    let refused = visitor.curl(&[
        "--data-urlencode",
        "name=Ada",
        "--data-urlencode",
        "email=",
        "--data-urlencode",
        "message=<b>1 + 1</b> & more",
        &served.url("/contact"),
    ]);
    assert_status(&refused, 422);
    let html = refused.text();
    assert!(html.contains("Please give an email address"), "{html}");
    assert!(
        html.contains("&lt;b&gt;1 + 1&lt;&#x2f;b&gt; &amp; more</textarea>"),
        "{html}"
    );
    // A good one: 303 to the form, which thanks the sender once (a flash in the session,
    // so the cookie jar matters).
    let thanked = visitor.curl(&[
        "-L",
        "--data-urlencode",
        "name=Ada <b>Lovelace</b>",
        "--data-urlencode",
        "email=ada@example.com",
        "--data-urlencode",
        "message=Hello",
        &served.url("/contact"),
    ]);
    assert!(
        thanked.raw_headers.contains("HTTP/1.1 303 See Other"),
        "{}",
        thanked.raw_headers
    );
    assert_status(&thanked, 200);
    let html = thanked.text();
    assert!(
        html.contains("Thanks, Ada &lt;b&gt;Lovelace&lt;&#x2f;b&gt;! Your message was received"),
        "{html}"
    );
    let again = visitor.curl(&[&served.url("/contact")]);
    assert!(!again.text().contains("Thanks,"), "shown once");
}

#[test]
fn api_time_is_json() {
    let served = Served::example_app();
    let response = curl(&[&served.url("/api/time")]);
    assert_status(&response, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let json: serde_json::Value = serde_json::from_slice(&response.body).expect("valid JSON");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let unix = json["unix"].as_u64().expect("a unix field");
    assert!(now.abs_diff(unix) < 60, "{json}");
    assert!(
        json["http_date"]
            .as_str()
            .is_some_and(|date| date.ends_with("GMT"))
    );
}

#[test]
fn pages_answer_while_ten_slow_requests_wait_on_the_blocking_pool() {
    let served = Served::example_app();
    let slow: Vec<_> = (0..10)
        .map(|_| {
            let url = served.url("/slow?ms=800");
            std::thread::spawn(move || curl(&[&url]))
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(150));
    let index = curl(&[&served.url("/")]);
    assert_status(&index, 200);
    let seconds = index.info["time_total"].as_f64().unwrap();
    assert!(
        seconds < 0.3,
        "/ took {seconds} s while /slow requests were in flight"
    );
    for handle in slow {
        let response = handle.join().unwrap();
        assert_status(&response, 200);
        assert_eq!(response.text(), "slept 800 ms on a blocking thread\n");
    }
}

/// The `href` (or `action`) values in `html` after each `attribute="`, in order.
fn attribute_values<'h>(html: &'h str, attribute: &str) -> Vec<&'h str> {
    let opening = format!("{attribute}=\"");
    html.split(opening.as_str())
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

#[test]
fn nav_links_and_forms_point_at_the_routes_paths() {
    let served = Served::example_app();
    let page = curl(&[&served.url("/")]);
    assert_status(&page, 200);
    let html = page.text();
    let nav = html
        .split("<nav")
        .nth(1)
        .and_then(|rest| rest.split("</nav>").next())
        .expect("a <nav> element");
    assert_eq!(
        attribute_values(nav, "href"),
        [
            "/",
            "/blog",
            "/hello/world",
            "/contact",
            "/counter",
            "/upload",
            "/chat",
            "/live",
            "/api/time"
        ]
    );
    let head = html.split("</head>").next().unwrap_or_default();
    assert_eq!(attribute_values(head, "href"), ["/static/style.css"]);
    let body_links = attribute_values(&html, "href");
    for link in [
        "/blog/epoll",
        "/blog/generators",
        "/hello/carafe",
        "/hello/%3Cscript%3E",
    ] {
        assert!(body_links.contains(&link), "missing {link}: {body_links:?}");
    }
    // Every link answers: url_for built paths the router routes. Three show error pages on
    // purpose.
    for link in body_links {
        let expected = match link {
            "/api/nothing-here" | "/no/such/page" => 404,
            "/echo" => 405,
            _ => 200,
        };
        let response = curl(&[&served.url(link)]);
        assert_status(&response, expected);
    }
    let contact = curl(&[&served.url("/contact")]).text();
    assert_eq!(attribute_values(&contact, "action"), ["/contact"]);
    let counter = curl(&[&served.url("/counter")]).text();
    assert_eq!(attribute_values(&counter, "action"), ["/counter/reset"]);
    let blog = curl(&[&served.url("/blog")]).text();
    assert!(blog.contains("href=\"/blog/blocking-server\""), "{blog}");
}

#[test]
fn every_response_carries_the_security_headers_and_a_request_id() {
    let served = Served::example_app();
    let requests: &[(&[&str], &str, u16)] = &[
        (&[], "/", 200),
        (&[], "/blog/epoll", 200),
        (&[], "/contact", 200),
        (&[], "/counter", 200),
        (&[], "/api/time", 200),
        (&[], "/static/style.css", 200),
        (&["-I"], "/blog", 200),
        (&[], "/no/such/page", 404),
        (&["-X", "DELETE"], "/blog", 405),
        (&["-X", "OPTIONS"], "/contact", 204),
        // Refused (no CSRF token): a refusal carries the headers too.
        (&["-X", "POST"], "/counter/reset", 400),
    ];
    let mut ids = Vec::new();
    for (options, path, status) in requests {
        let url = served.url(path);
        let mut args = options.to_vec();
        args.push(&url);
        let response = curl(&args);
        assert_status(&response, *status);
        let expected = [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "strict-origin-when-cross-origin"),
            (
                "content-security-policy",
                example_app::CONTENT_SECURITY_POLICY_VALUE,
            ),
        ];
        for (name, value) in expected {
            assert_eq!(response.header(name), Some(value), "{path}: {name}");
        }
        let id = response.header("x-request-id").expect("an X-Request-Id");
        let (pid, number) = id.split_once('-').expect("pid-number");
        assert!(
            pid.parse::<u32>().is_ok() && number.parse::<u64>().is_ok(),
            "{path}: X-Request-Id {id}"
        );
        ids.push(id.to_owned());
    }
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "request ids repeat: {ids:?}");
}

#[test]
fn pages_satisfy_their_content_security_policy() {
    // The policy allows one same-origin stylesheet and nothing else: no scripts, no inline
    // styles or event handlers, nothing loaded from elsewhere, forms posting here.
    let served = Served::example_app();
    for path in [
        "/",
        "/blog",
        "/blog/epoll",
        "/hello/x",
        "/contact",
        "/counter",
        "/nope",
    ] {
        let html = curl(&[&served.url(path)]).text();
        for forbidden in [
            "<script",
            "<style",
            " style=",
            " src=",
            " onclick=",
            " onload=",
            "<iframe",
        ] {
            assert!(!html.contains(forbidden), "{path} has {forbidden:?}");
        }
        assert_eq!(
            attribute_values(&html, "rel"),
            ["stylesheet"],
            "{path}: one stylesheet"
        );
        for attribute in ["href", "action"] {
            for value in attribute_values(&html, attribute) {
                assert!(value.starts_with('/'), "{path}: {attribute}={value:?}");
            }
        }
    }
}
