//! Cookies and sessions through the in-process test client, whose cookie jar plays the
//! browser: what is set, what is sent back, what survives tampering.

use carafe::cookie::{Cookie, SameSite};
use carafe::testing::TestClient;
use carafe::{App, HttpError, Request, Response, StatusCode, context, route};

const SECRET: &str = "a test secret that is at least thirty-two bytes long";

/// Counts visits in the session; `/reset` clears it.
fn counter_app(secret: &str) -> App {
    let mut app = App::new();
    app.secret_key(secret).unwrap();
    route!(app, GET "/count" => count).unwrap();
    route!(app, GET "/peek" => |req| format!("{:?}", req.session().get::<u32>("visits"))).unwrap();
    route!(app, POST "/reset" => |req| { req.session().clear(); Response::redirect("/count") })
        .unwrap();
    route!(app, GET "/plain" => |_req| "no session here").unwrap();
    app
}

fn count(req: &Request) -> Result<String, HttpError> {
    let session = req.session();
    let visits = session.get::<u32>("visits").unwrap_or(0) + 1;
    session.insert("visits", visits)?;
    Ok(visits.to_string())
}

#[test]
fn the_session_persists_across_requests_through_the_jar() {
    let client = TestClient::new(counter_app(SECRET));
    for expected in ["1", "2", "3"] {
        assert_eq!(client.get("/count").send().text(), expected);
    }
    assert_eq!(client.get("/peek").send().text(), "Some(3)");
    // Another browser has its own session.
    let other = TestClient::new(counter_app(SECRET));
    assert_eq!(other.get("/count").send().text(), "1");
    assert_eq!(client.get("/count").send().text(), "4");
}

#[test]
fn the_session_cookie_has_its_attributes() {
    let client = TestClient::new(counter_app(SECRET));
    let response = client.get("/count").send();
    let cookie = response.cookie("session").expect("a session cookie");
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.same_site(), Some(SameSite::Lax));
    assert_eq!(cookie.path(), Some("/"));
    assert_eq!(cookie.secure(), None, "plain HTTP: not Secure");
    assert_eq!(cookie.max_age(), None, "a browser-session cookie");
    assert_eq!(response.header("vary"), Some("Cookie"));
    assert!(
        !cookie.value().contains("visits"),
        "the payload is base64: {}",
        cookie.value()
    );
}

#[test]
fn the_session_cookie_is_secure_behind_an_https_proxy() {
    let mut app = counter_app(SECRET);
    app.config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let client = TestClient::new(app);
    let response = client
        .get("/count")
        .header("X-Forwarded-Proto", "https")
        .send();
    assert_eq!(response.cookie("session").unwrap().secure(), Some(true));
    // From an untrusted peer the header means nothing (the test client is 127.0.0.1).
    let client = TestClient::new(counter_app(SECRET));
    let response = client
        .get("/count")
        .header("X-Forwarded-Proto", "https")
        .send();
    assert_eq!(response.cookie("session").unwrap().secure(), None);
}

#[test]
fn only_a_changed_session_is_written() {
    let client = TestClient::new(counter_app(SECRET));
    client.get("/count").send();
    let peek = client.get("/peek").send();
    assert_eq!(peek.text(), "Some(1)");
    assert_eq!(
        peek.header("set-cookie"),
        None,
        "read only: nothing to write"
    );
    assert_eq!(peek.header("vary"), Some("Cookie"));
    let plain = client.get("/plain").send();
    assert_eq!(plain.header("set-cookie"), None);
    assert_eq!(plain.header("vary"), None, "the session was not used");
}

#[test]
fn clearing_the_session_deletes_the_cookie() {
    let client = TestClient::new(counter_app(SECRET));
    client.get("/count").send();
    client.get("/count").send();
    let reset = client.post("/reset").send();
    assert_eq!(reset.status(), StatusCode::SEE_OTHER);
    let removal = reset.cookie("session").expect("a removal cookie");
    assert_eq!(removal.value(), "");
    assert_eq!(
        removal.max_age(),
        Some(carafe::cookie::time::Duration::ZERO)
    );
    assert_eq!(removal.path(), Some("/"));
    assert_eq!(client.cookie("session"), None, "the jar dropped it");
    assert_eq!(client.get("/count").send().text(), "1");
    // Clearing a session the client never had writes nothing.
    let fresh = TestClient::new(counter_app(SECRET));
    assert_eq!(fresh.post("/reset").send().header("set-cookie"), None);
}

#[test]
fn tampered_and_garbage_cookies_are_an_empty_session() {
    let client = TestClient::new(counter_app(SECRET));
    client.get("/count").send();
    client.get("/count").send();
    let genuine = client.cookie("session").unwrap();

    let mut forged = genuine.clone();
    forged.replace_range(44..45, if &genuine[44..45] == "A" { "B" } else { "A" });
    let truncated = genuine[..genuine.len() - 3].to_owned();
    for bad in [
        forged.as_str(),
        truncated.as_str(),
        "garbage",
        "",
        "%FF%FE",
        "{\"visits\":99}",
    ] {
        client.set_cookie("session", bad);
        let response = client.get("/count").send();
        assert_eq!(response.status(), StatusCode::OK, "{bad:?}");
        assert_eq!(response.text(), "1", "{bad:?} must read as no session");
    }
    // Raw header garbage too, several Cookie headers included.
    let fresh = TestClient::new(counter_app(SECRET));
    let response = fresh
        .get("/peek")
        .header("Cookie", "session=é漢字; ;=;==")
        .header("Cookie", "session")
        .send();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text(), "None");
}

#[test]
fn a_cookie_signed_with_another_key_is_refused_and_the_same_key_accepted() {
    let first = TestClient::new(counter_app(SECRET));
    first.get("/count").send();
    first.get("/count").send();
    let cookie = first.cookie("session").unwrap();

    let other_key = TestClient::new(counter_app("another secret, also thirty-two bytes or more"));
    other_key.set_cookie("session", &cookie);
    assert_eq!(other_key.get("/peek").send().text(), "None");

    // A restart with the same secret keeps everyone's session.
    let restarted = TestClient::new(counter_app(SECRET));
    restarted.set_cookie("session", &cookie);
    assert_eq!(restarted.get("/count").send().text(), "3");

    // Without a secret key, the test client signs with a random one per app.
    let mut app = App::new();
    route!(app, GET "/count" => count).unwrap();
    let random = TestClient::new(app);
    random.set_cookie("session", &cookie);
    assert_eq!(random.get("/count").send().text(), "1");
    assert_eq!(random.get("/count").send().text(), "2");
}

#[test]
fn a_session_too_large_for_a_cookie_is_a_500_not_lost_data() {
    let mut app = counter_app(SECRET);
    route!(app, GET "/big" => |req| {
        req.session().insert("blob", "x".repeat(5000))?;
        Ok::<_, HttpError>("stored?")
    })
    .unwrap();
    app.error_handler(
        StatusCode::INTERNAL_SERVER_ERROR,
        |_: &Request, _: &HttpError| "our 500 page",
    );
    let client = TestClient::new(app).propagate_errors(false);
    client.get("/count").send();
    let response = client.get("/big").send();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.text(), "our 500 page");
    assert_eq!(response.header("set-cookie"), None);
    // The session as it was before is untouched.
    assert_eq!(client.get("/peek").send().text(), "Some(1)");
}

#[test]
fn a_value_with_no_json_form_is_a_500() {
    let mut app = counter_app(SECRET);
    route!(app, GET "/bad" => |req| {
        let map = std::collections::HashMap::from([((1, 2), 3)]);
        req.session().insert("map", map)?;
        Ok::<_, HttpError>("unreachable")
    })
    .unwrap();
    let client = TestClient::new(app).propagate_errors(false);
    let response = client.get("/bad").send();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.header("set-cookie"), None);
}

#[test]
fn error_handlers_may_use_the_session_and_panics_discard_changes() {
    let mut app = counter_app(SECRET);
    app.error_handler(StatusCode::NOT_FOUND, |req: &Request, _: &HttpError| {
        let misses = req.session().get::<u32>("misses").unwrap_or(0) + 1;
        match req.session().insert("misses", misses) {
            Ok(()) => format!("miss {misses}"),
            Err(_) => "miss".to_owned(),
        }
    });
    route!(app, GET "/boom" => |req| -> &'static str {
        let _ = req.session().insert("visits", 1000);
        panic!("after changing the session")
    })
    .unwrap();
    let client = TestClient::new(app).propagate_errors(false);
    assert_eq!(client.get("/nope").send().text(), "miss 1");
    assert_eq!(client.get("/nope").send().text(), "miss 2");
    client.get("/count").send();
    let boom = client.get("/boom").send();
    assert_eq!(boom.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(boom.header("set-cookie"), None);
    assert_eq!(client.get("/peek").send().text(), "Some(1)");
}

#[test]
fn the_session_cookie_name_is_configurable() {
    let mut app = counter_app(SECRET);
    app.config.session_cookie_name = "app_sid".to_owned();
    let client = TestClient::new(app);
    client.get("/count").send();
    assert!(client.cookie("session").is_none());
    assert!(client.cookie("app_sid").is_some());
    assert_eq!(client.get("/count").send().text(), "2");
}

fn cookie_app() -> TestClient {
    let mut app = App::new();
    route!(app, GET "/set" => |_req| {
        let mut response = Response::text("set");
        response.set_cookie(("theme", "dark"))?;
        response.set_cookie(("note", "a b;c=d,\"é\""))?;
        response.set_cookie(
            Cookie::build(("admin", "yes"))
                .path("/admin")
                .secure(true)
                .http_only(true)
                .same_site(SameSite::Strict)
                .max_age(carafe::cookie::time::Duration::minutes(5)),
        )?;
        Ok::<_, HttpError>(response)
    })
    .unwrap();
    route!(app, GET "/show" => |req| {
        let all: Vec<String> = req.cookies().map(|(name, value)| format!("{name}={value}")).collect();
        all.join("|")
    })
    .unwrap();
    route!(app, GET "/forget" => |_req| {
        let mut response = Response::text("forgot");
        response.remove_cookie("theme")?;
        Ok::<_, HttpError>(response)
    })
    .unwrap();
    TestClient::new(app)
}

#[test]
fn several_cookies_are_set_with_their_attributes() {
    let client = cookie_app();
    let response = client.get("/set").send();
    let headers: Vec<&str> = response.header_all("set-cookie").collect();
    assert_eq!(headers.len(), 3, "{headers:?}");
    assert_eq!(headers[0], "theme=dark; Path=/");
    assert_eq!(headers[1], "note=a%20b%3Bc%3Dd%2C%22%C3%A9%22; Path=/");
    assert_eq!(
        headers[2],
        "admin=yes; HttpOnly; SameSite=Strict; Secure; Path=/admin; Max-Age=300"
    );
    assert_eq!(
        client.get("/show").send().text(),
        "admin=yes|note=a b;c=d,\"é\"|theme=dark"
    );
}

#[test]
fn a_removed_cookie_leaves_the_jar() {
    let client = cookie_app();
    client.get("/set").send();
    let response = client.get("/forget").send();
    let removal = response.cookie("theme").unwrap();
    assert_eq!(
        removal.max_age(),
        Some(carafe::cookie::time::Duration::ZERO)
    );
    assert_eq!(removal.path(), Some("/"));
    assert_eq!(client.cookie("theme"), None);
    assert_eq!(client.cookie("note").as_deref(), Some("a b;c=d,\"é\""));
    client.clear_cookies();
    assert_eq!(client.get("/show").send().text(), "");
}

#[test]
fn request_cookies_come_from_every_cookie_header_and_skip_bad_pairs() {
    let client = cookie_app();
    let response = client
        .get("/show")
        .header("Cookie", "a=1; broken; =nameless; b=%41%42")
        .header("Cookie", "c=3;;")
        .header("Cookie", "d=%FF")
        .send();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text(), "a=1|b=AB|c=3");
}

#[test]
fn a_cookie_header_that_is_not_utf8_is_ignored() {
    let client = cookie_app();
    let answer = client
        .send_raw(b"GET /show HTTP/1.1\r\nHost: x\r\nCookie: a=\xff\xfe\r\nCookie: b=2\r\n\r\n");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.ends_with("\r\n\r\nb=2"), "{text}");
}

/// A session cookie for `{"visits":41}` as the app with `SECRET` writes it, stamped as
/// written at `unix_seconds` (the format in `carafe::Session`'s docs: `MAC | SECONDS.DATA`).
fn written_at(unix_seconds: u64) -> String {
    let key = cookie::Key::derive_from(SECRET.as_bytes());
    let mut jar = cookie::CookieJar::new();
    let payload = format!("{unix_seconds}.eyJ2aXNpdHMiOjQxfQ");
    jar.signed_mut(&key).add(Cookie::new("session", payload));
    jar.get("session").unwrap().value().to_owned()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn a_session_older_than_the_configured_lifetime_is_empty() {
    let mut app = counter_app(SECRET);
    app.config.session_lifetime = std::time::Duration::from_secs(3600);
    let client = TestClient::new(app);
    client.set_cookie("session", &written_at(unix_now() - 600));
    assert_eq!(client.get("/peek").send().text(), "Some(41)");
    client.set_cookie("session", &written_at(unix_now() - 7200));
    assert_eq!(client.get("/peek").send().text(), "None", "expired");
    // Counting again writes a fresh cookie, stamped with the current time.
    assert_eq!(client.get("/count").send().text(), "1");
    let value = client.cookie("session").unwrap();
    let (written, _) = value[44..]
        .split_once('.')
        .expect("SECONDS.DATA after the MAC");
    let written: u64 = written.parse().unwrap();
    assert!(unix_now().abs_diff(written) <= 5, "{value}");
}

#[test]
fn flashed_messages_show_once_on_the_next_page_that_asks_for_them() {
    let dir = std::env::temp_dir().join(format!("carafe-flash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("shows.html"),
        "{% for category, message in get_flashed_messages(with_categories=true) %}\
         [{{ category }}: {{ message }}]{% endfor %}",
    )
    .unwrap();
    std::fs::write(
        dir.join("errors.html"),
        "{{ get_flashed_messages(category_filter=['error']) | join(',') }}",
    )
    .unwrap();
    std::fs::write(dir.join("quiet.html"), "nothing to see").unwrap();
    std::fs::write(
        dir.join("typo.html"),
        "{{ get_flashed_messages(with_categories=true, category=['error']) }}",
    )
    .unwrap();
    let mut app = App::new();
    app.secret_key(SECRET).unwrap();
    app.templates(&dir).unwrap();
    route!(app, POST "/save" => |req| -> Result<Response, HttpError> {
        req.flash("Saved <b>")?;
        req.flash_with("error", "But one field was odd")?;
        Ok(Response::redirect("/shows"))
    })
    .unwrap();
    route!(app, GET "/shows" => |req| req.render("shows.html", context! {})).unwrap();
    route!(app, GET "/errors" => |req| req.render("errors.html", context! {})).unwrap();
    route!(app, GET "/quiet" => |req| req.render("quiet.html", context! {})).unwrap();
    route!(app, GET "/typo" => |req| req.render("typo.html", context! {})).unwrap();
    let client = TestClient::new(app).propagate_errors(false);

    let typo = client.get("/typo").send();
    assert_eq!(typo.status(), 500);
    assert!(
        typo.text()
            .contains("too many arguments: unknown keyword argument &#x27;category&#x27;"),
        "an unknown keyword argument is an error: {}",
        typo.text()
    );

    assert_eq!(client.post("/save").send().status(), 303);
    // A page that does not ask leaves them for the next one.
    assert_eq!(client.get("/quiet").send().text(), "nothing to see");
    assert_eq!(
        client.get("/shows").send().text(),
        "[message: Saved &lt;b&gt;][error: But one field was odd]",
        "in order, with categories, escaped"
    );
    assert_eq!(client.get("/shows").send().text(), "", "shown once");

    client.post("/save").send();
    assert_eq!(client.get("/errors").send().text(), "But one field was odd");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A page's own values reach the template beside what carafe adds, and carafe's
/// `get_flashed_messages` wins over a page value of that name (issue 17 put carafe's names and
/// the page's values in one layer instead of two; the order is unchanged).
#[test]
fn page_values_sit_under_carafes_template_names() {
    let dir = std::env::temp_dir().join(format!("carafe-layers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("page.html"),
        "{{ title }} {{ get_flashed_messages() | length }} {{ posts | join(',') }}",
    )
    .unwrap();
    let mut app = App::new();
    app.secret_key(SECRET).unwrap();
    app.templates(&dir).unwrap();
    route!(app, GET "/" => |req| req.render(
        "page.html",
        context! { title => "Home", get_flashed_messages => "shadowed", posts => [1, 2] },
    ))
    .unwrap();
    let client = TestClient::new(app);
    assert_eq!(client.get("/").send().text(), "Home 0 1,2");
    std::fs::remove_dir_all(dir).unwrap();
}
