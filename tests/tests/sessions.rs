//! The session counter of the example app, driven by `curl` with a cookie jar file (`-b` to
//! send, `-c` to save), as a browser would keep it across visits.

use std::path::Path;

use carafe_e2e::{
    CurlOutput, Scratch, Served, ServerProcess, arg, assert_status, curl, read_until_close,
};

const SECRET: &str = "an end-to-end secret of at least thirty-two bytes";
const SERVER: &str = env!("CARGO_BIN_EXE_test-server");

/// One curl run of `args` against `url` that reads and updates the cookie jar at `jar`.
fn curl_with_jar(jar: &Path, args: &[&str], url: &str) -> CurlOutput {
    let jar = arg(jar);
    let mut all = vec!["-b", jar.as_str(), "-c", jar.as_str()];
    all.extend_from_slice(args);
    all.push(url);
    curl(&all)
}

/// `csrf_token=...` as the page's form sends it.
fn token_field(page: &str) -> String {
    let token = page
        .split(r#"name="csrf_token" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's form carries a CSRF token");
    format!("csrf_token={token}")
}

/// The visit count shown on a counter page.
fn visits(page: &CurlOutput) -> u64 {
    let html = page.text();
    let start = html
        .find("<strong id=\"visits\">")
        .unwrap_or_else(|| panic!("no visit count on the page:\n{page}"))
        + "<strong id=\"visits\">".len();
    let end = start + html[start..].find('<').expect("the count's closing tag");
    html[start..end].parse().expect("a number")
}

fn set_cookies(output: &CurlOutput) -> Vec<&str> {
    output
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, value)| value.as_str())
        .collect()
}

/// The session cookie's line in a Netscape-format jar, split into its seven fields.
fn session_line(jar: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(jar).expect("curl wrote its cookie jar");
    let line = text
        .lines()
        .find(|line| line.split('\t').nth(5) == Some("session"))
        .unwrap_or_else(|| panic!("no session cookie in the jar:\n{text}"));
    line.split('\t').map(str::to_owned).collect()
}

/// Rewrites the session cookie's value in the jar file.
fn replace_session_value(jar: &Path, value: &str) {
    let text = std::fs::read_to_string(jar).expect("read the jar");
    let rewritten: Vec<String> = text
        .lines()
        .map(|line| {
            let mut fields: Vec<&str> = line.split('\t').collect();
            if fields.get(5) == Some(&"session") {
                fields[6] = value;
            }
            fields.join("\t")
        })
        .collect();
    std::fs::write(jar, rewritten.join("\n") + "\n").expect("write the jar");
}

#[test]
fn the_counter_counts_across_curl_runs_sharing_a_jar() {
    let served = Served::example_app();
    let scratch = Scratch::new();
    let jar = scratch.path("jar.txt");
    let url = served.url("/counter");

    let first = curl_with_jar(&jar, &[], &url);
    assert_status(&first, 200);
    assert_eq!(visits(&first), 1);
    let cookies = set_cookies(&first);
    assert_eq!(cookies.len(), 1, "{first}");
    assert!(cookies[0].starts_with("session="), "{}", cookies[0]);
    assert!(
        cookies[0].ends_with("; HttpOnly; SameSite=Lax; Path=/"),
        "{}",
        cookies[0]
    );
    assert_eq!(first.header("vary"), Some("Cookie"));
    let fields = session_line(&jar);
    assert_eq!(
        fields[0], "#HttpOnly_127.0.0.1",
        "curl keeps it as HttpOnly"
    );
    assert_eq!(fields[2], "/");

    for expected in [2, 3] {
        let page = curl_with_jar(&jar, &[], &url);
        assert_status(&page, 200);
        assert_eq!(visits(&page), expected, "{page}");
    }
    assert!(
        first.text().contains("href=\"/counter\""),
        "the nav links it"
    );

    // A visitor without the jar starts at 1 and does not disturb the first one.
    assert_eq!(visits(&curl(&[&url])), 1);
    assert_eq!(visits(&curl_with_jar(&jar, &[], &url)), 4);
}

#[test]
fn a_tampered_session_cookie_resets_the_counter() {
    let served = Served::example_app();
    let scratch = Scratch::new();
    let jar = scratch.path("jar.txt");
    let url = served.url("/counter");
    for _ in 0..3 {
        curl_with_jar(&jar, &[], &url);
    }
    let genuine = session_line(&jar)[6].clone();
    // Change one character of the payload: the signature no longer matches.
    let mut tampered = genuine.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ASCII");
    for bad in [tampered.as_str(), &genuine[..genuine.len() / 2], "garbage"] {
        replace_session_value(&jar, bad);
        let page = curl_with_jar(&jar, &[], &url);
        assert_status(&page, 200);
        assert_eq!(visits(&page), 1, "{bad:?} must count as no session");
    }
    // The fresh session the last run saved counts on.
    assert_eq!(visits(&curl_with_jar(&jar, &[], &url)), 2);
}

#[test]
fn reset_deletes_the_session_and_redirects_back() {
    let served = Served::example_app();
    let scratch = Scratch::new();
    let jar = scratch.path("jar.txt");
    let url = served.url("/counter");
    let mut page = String::new();
    for _ in 0..2 {
        page = curl_with_jar(&jar, &[], &url).text();
    }
    // The reset form's CSRF token, sent as its hidden field would be.
    let reset = curl_with_jar(
        &jar,
        &["-d", &token_field(&page)],
        &served.url("/counter/reset"),
    );
    assert_status(&reset, 303);
    assert_eq!(reset.header("location"), Some("/counter"));
    let cookies = set_cookies(&reset);
    assert_eq!(cookies.len(), 1, "{reset}");
    assert!(
        cookies[0].starts_with("session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Expires="),
        "{}",
        cookies[0]
    );
    let text = std::fs::read_to_string(&jar).expect("the jar");
    assert!(!text.contains("\tsession\t"), "curl dropped it:\n{text}");
    assert_eq!(visits(&curl_with_jar(&jar, &[], &url)), 1);

    // The form's way: POST, follow the 303 with a GET, land on a fresh count. (The reset
    // ended the session and its token; the page made a new one.)
    let page = curl_with_jar(&jar, &[], &url).text();
    let followed = curl_with_jar(
        &jar,
        &["-L", "-d", &token_field(&page)],
        &served.url("/counter/reset"),
    );
    assert_status(&followed, 200);
    assert_eq!(visits(&followed), 1);
    let page = curl(&[&url]);
    assert!(
        page.text()
            .contains("<form method=\"post\" action=\"/counter/reset\""),
        "{page}"
    );
}

#[test]
fn pages_that_do_not_use_the_session_set_no_cookie() {
    let served = Served::example_app();
    let scratch = Scratch::new();
    let jar = scratch.path("jar.txt");
    curl_with_jar(&jar, &[], &served.url("/counter"));
    for path in ["/", "/blog", "/api/time", "/static/style.css"] {
        let page = curl_with_jar(&jar, &[], &served.url(path));
        assert_status(&page, 200);
        assert!(set_cookies(&page).is_empty(), "{path}: {page}");
        // The pages' layout shows flash messages, so for a visitor with a session they read
        // it and say so (as Flask's do); the API and static files never touch it.
        let reads_session = !path.starts_with("/api/") && !path.starts_with("/static/");
        // (Compressible pages also vary by Accept-Encoding: the example app compresses.)
        let varies_by_cookie = page
            .headers
            .iter()
            .any(|(name, value)| name.eq_ignore_ascii_case("vary") && value == "Cookie");
        assert_eq!(varies_by_cookie, reads_session, "{path}: {page}");
    }
}

#[test]
fn sessions_survive_a_restart_with_the_same_secret_only() {
    let scratch = Scratch::new();
    let jar = scratch.path("jar.txt");
    let with_secret = |secret: &'static str| {
        Served::example_app_with(move |app| {
            app.secret_key(secret).expect("a long enough secret");
        })
    };
    // curl keys cookies by host, not port, so one jar follows the "restarted" server.
    let before = with_secret(SECRET);
    curl_with_jar(&jar, &[], &before.url("/counter"));
    curl_with_jar(&jar, &[], &before.url("/counter"));
    before.shutdown();

    let after = with_secret(SECRET);
    assert_eq!(visits(&curl_with_jar(&jar, &[], &after.url("/counter"))), 3);
    after.shutdown();

    let other = with_secret("a different secret, also thirty-two bytes long");
    assert_eq!(visits(&curl_with_jar(&jar, &[], &other.url("/counter"))), 1);
}

/// A GET of `path` with a `Cookie` header over raw TCP; what the server answered.
fn raw_get(addr: std::net::SocketAddr, path: &str, cookie: &str) -> String {
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    std::io::Write::write_all(&mut stream, request.as_bytes()).expect("send");
    String::from_utf8_lossy(&read_until_close(&mut stream)).into_owned()
}

/// The `session=...` pair of a raw response's `Set-Cookie`.
fn session_pair(response: &str) -> String {
    response
        .lines()
        .find_map(|line| line.strip_prefix("Set-Cookie: "))
        .and_then(|value| value.split(';').next())
        .unwrap_or_else(|| panic!("no Set-Cookie in {response}"))
        .to_owned()
}

#[test]
fn the_server_process_signs_with_carafe_secret_key() {
    let env = format!("CARAFE_SECRET_KEY={SECRET}");
    let first = ServerProcess::start(&["env", &env], SERVER, &[]);
    let pair = session_pair(&raw_get(first.addr(), "/counter", ""));
    assert!(!first.stderr().contains("random key"), "{}", first.stderr());
    drop(first);

    let second = ServerProcess::start(&["env", &env], SERVER, &[]);
    let page = raw_get(second.addr(), "/counter", &pair);
    assert!(page.contains("<strong id=\"visits\">2</strong>"), "{page}");
}

#[test]
fn without_a_secret_the_server_warns_and_sessions_end_with_it() {
    let first = ServerProcess::start(&["env", "-u", "CARAFE_SECRET_KEY"], SERVER, &[]);
    // Said once, at start-up, where an operator reads: before any request.
    let warning = "are signed with a random key and end when the server restarts";
    assert_eq!(
        first.stderr().matches(warning).count(),
        1,
        "{}",
        first.stderr()
    );
    let pair = session_pair(&raw_get(first.addr(), "/counter", ""));
    raw_get(first.addr(), "/counter", &pair);
    assert_eq!(
        first.stderr().matches(warning).count(),
        1,
        "{}",
        first.stderr()
    );
    drop(first);
    let second = ServerProcess::start(&["env", "-u", "CARAFE_SECRET_KEY"], SERVER, &[]);
    let page = raw_get(second.addr(), "/counter", &pair);
    assert!(page.contains("<strong id=\"visits\">1</strong>"), "{page}");
}
