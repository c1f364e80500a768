//! The example-app in a real browser: headless Chromium, driven over WebDriver through
//! `chromedriver`, browses the served app the way a visitor would.
//!
//! One session covers what curl cannot see: the page title and heading as rendered, a nav link
//! followed by a real click, the contact form typed into and submitted with its button (first
//! with a field missing, which brings it back with the error and what was typed; then complete,
//! which redirects to a thank-you flash; markup characters come back as the same text, so the
//! templates escaped them), the stylesheet applied (computed styles, not the CSS source) on
//! every page, error pages included, and screenshots that have actually been painted, saved
//! to `target/screenshots/` (home, blog, the contact form with errors, 404, 405). Then the
//! example app once more over HTTPS (the `tls` feature), with a certificate made in the test
//! that Chromium is told to trust by its public key, and nothing else about it relaxed.
//!
//! The client is `fantoccini` rather than `thirtyfour`: it is the lighter of the two (hyper's
//! HTTP/1 client, no reqwest, no proc macros, and it can be built without any TLS stack, which
//! a WebDriver server on loopback does not need), and its few async calls run on a
//! current-thread tokio runtime built inside the test.
//!
//! Chromium and chromedriver are Debian's (`chromium`, `chromium-driver`; `./test` installs
//! them). Without them the test fails, naming the packages: it must never pass without a
//! browser.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock, mpsc};
use std::thread;
use std::time::Duration;

use carafe_e2e::{Scratch, Served};
use fantoccini::elements::Element;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const INSTALL_HINT: &str = "apt-get install chromium chromium-driver";

/// How long chromedriver may take to start and report its port.
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a page may take to reach the state a step waits for.
const PAGE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a wait re-checks the page; the app answers in well under a millisecond.
const PAGE_POLL: Duration = Duration::from_millis(20);

/// The window size, fixed so the screenshot does not depend on Chromium's default.
const WINDOW_WIDTH: u32 = 1024;
const WINDOW_HEIGHT: u32 = 768;

/// `--paper` in `static/style.css`, the page background.
const PAPER_RGB: [u8; 3] = [0xfb, 0xf8, 0xf3];

#[test]
fn a_visitor_browses_the_example_app_in_headless_chromium() {
    require_executables(&[Path::new(CHROMIUM), Path::new(CHROMEDRIVER)]);
    // Declared first, dropped last: the apps outlive the browser, and the browser's profile
    // folder outlives chromedriver and Chromium. Two more sites on other ports call the
    // example app's API from their pages: the first is a CORS origin the app allows.
    let api_url = Arc::new(OnceLock::new());
    let caller = Served::app(calling_site(&api_url));
    let stranger = Served::app(calling_site(&api_url));
    let served = {
        let options = example_app::Options {
            cors_origins: vec![format!("http://{}", caller.addr())],
            ..example_app::Options::default()
        };
        let mut app = example_app::build(&options).expect("the example app builds");
        app.config.workers = 1;
        Served::app(app)
    };
    let (https, spki_hash) = served_over_https();
    api_url
        .set(served.url("/api/time"))
        .expect("set the API's address once");
    let scratch = Scratch::new();
    let driver = ChromeDriver::start(&scratch);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a current-thread tokio runtime");
    runtime.block_on(async {
        let browser = open_session(&driver, &scratch.path("chromium-profile"), &spki_hash).await;
        browser
            .set_window_size(WINDOW_WIDTH, WINDOW_HEIGHT)
            .await
            .expect("set the window size");
        home_page_links_to_the_blog(&browser, &served).await;
        contact_form_checks_then_thanks(&browser, &served).await;
        pages_look_like_one_site(&browser, &served).await;
        stylesheet_is_applied(&browser, &served).await;
        screenshot_is_painted(&browser).await;
        cross_origin_calls_follow_the_apps_cors_policy(&browser, &caller, &stranger).await;
        two_pages_chat_and_the_live_panel_follows(&browser, &served).await;
        the_site_renders_over_https(&browser, &https).await;
        // Ending the session makes chromedriver quit Chromium; the guard then stops
        // chromedriver. If a step above panicked, the guard alone cleans up.
        browser.close().await.expect("close the WebDriver session");
    });
}

/// The failure a machine without the browser gets: a message naming the Debian packages.
#[test]
#[should_panic(expected = "apt-get install chromium chromium-driver")]
fn a_missing_browser_fails_the_test_naming_the_packages() {
    require_executables(&[Path::new("/nonexistent/chromium")]);
}

/// Loads `/`, checks what a visitor sees first, then clicks "Blog" in the nav.
async fn home_page_links_to_the_blog(browser: &Client, served: &Served) {
    browser.goto(&served.url("/")).await.expect("load /");
    assert_eq!(
        browser.title().await.expect("read the title"),
        "Home · carafe example"
    );
    assert_eq!(text_of(browser, "main h1").await, "Welcome to carafe");

    // The nav's own link, not the "All posts" link further down the page.
    let blog_link = find(browser, "nav a[href='/blog']").await;
    assert_eq!(blog_link.text().await.expect("read the link text"), "Blog");
    blog_link.click().await.expect("click the Blog link");
    wait_for_path(browser, served, "/blog").await;

    assert_eq!(text_of(browser, "main h1").await, "Blog");
    let post_titles = texts_of(browser, "article.summary h2 a").await;
    assert_eq!(
        post_titles,
        example_app::POSTS
            .iter()
            .map(|post| post.title)
            .collect::<Vec<_>>(),
        "the blog lists every post, newest first"
    );
}

/// Types into the contact form and submits it with its button: first with the email left
/// out, which brings the form back with the error and what was typed; then complete, which
/// redirects to the form with a thank-you flash message.
async fn contact_form_checks_then_thanks(browser: &Client, served: &Served) {
    // Markup and entity characters: shown back as the same text only if the template
    // escaped them (unescaped, `<b>` would become an element and vanish from the text).
    let name = "Ada <b>Lovelace</b> & Co";
    let email = "ada+carafe&co@example.com";
    let message = "1 < 2 && 3 > 2; \"quoted\" 'too' <script>alert(1)</script> — Wörld";

    browser
        .goto(&served.url("/contact"))
        .await
        .expect("load /contact");
    for (field, typed) in [("name", name), ("message", message)] {
        type_into(browser, field, typed).await;
    }
    submit_contact_form(browser).await;
    let error = wait_for(browser, "#email-error").await;
    assert_eq!(
        error.text().await.expect("read the error"),
        "Please give an email address for the answer."
    );
    // What was typed is still there, as text.
    assert_eq!(field_value(browser, "name").await, name);
    assert_eq!(field_value(browser, "message").await, message);
    save_screenshot(browser, "contact-with-errors").await;

    type_into(browser, "email", email).await;
    submit_contact_form(browser).await;
    let flash = wait_for(browser, ".flash-success").await;
    wait_for_path(browser, served, "/contact").await;
    assert_eq!(
        flash.text().await.expect("read the flash"),
        format!("Thanks, {name}! Your message was received; the answer goes to {email}.")
    );
    assert!(
        browser
            .find_all(Locator::Css(".flash b, .flash script"))
            .await
            .expect("look for injected elements")
            .is_empty(),
        "typed markup became elements: {}",
        browser.source().await.unwrap_or_default()
    );
    assert_eq!(
        field_value(browser, "name").await,
        "",
        "a fresh form after the redirect"
    );
}

async fn type_into(browser: &Client, field: &str, text: &str) {
    find(browser, &format!("#{field}"))
        .await
        .send_keys(text)
        .await
        .unwrap_or_else(|error| panic!("type into #{field}: {error}"));
}

async fn field_value(browser: &Client, field: &str) -> String {
    find(browser, &format!("#{field}"))
        .await
        .prop("value")
        .await
        .expect("read a field's value")
        .unwrap_or_default()
}

async fn submit_contact_form(browser: &Client) {
    find(browser, "form.contact-form button[type='submit']")
        .await
        .click()
        .await
        .expect("click the submit button");
}

/// Waits for the page that replaces the current one to show `selector`.
async fn wait_for(browser: &Client, selector: &str) -> Element {
    browser
        .wait()
        .at_most(PAGE_TIMEOUT)
        .every(PAGE_POLL)
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|error| panic!("no {selector} appeared: {error}"))
}

/// Screenshots of the pages a visitor meets, error pages included, saved as
/// `target/screenshots/NAME.png` for a person to look at: one layout, one stylesheet.
async fn pages_look_like_one_site(browser: &Client, served: &Served) {
    for (name, path, heading) in [
        ("home", "/", "Welcome to carafe"),
        ("blog", "/blog", "Blog"),
        ("404", "/no/such/page", "Page not found"),
        ("405", "/echo", "Method not allowed"),
    ] {
        browser.goto(&served.url(path)).await.expect("load a page");
        assert_eq!(text_of(browser, "main h1").await, heading, "{path}");
        assert_eq!(
            computed_style(browser, "body", "background-color").await,
            paper_css(),
            "{path} has the site's stylesheet"
        );
        assert_eq!(
            texts_of(browser, "nav a").await.len(),
            9,
            "{path} has the site's navigation"
        );
        save_screenshot(browser, name).await;
    }
}

/// `rgb(r, g, b)` of `--paper`, as computed styles give it.
fn paper_css() -> String {
    let [red, green, blue] = PAPER_RGB;
    format!("rgb({red}, {green}, {blue})")
}

/// Saves a screenshot of the current page to `target/screenshots/{name}.png`.
async fn save_screenshot(browser: &Client, name: &str) {
    let png_bytes = browser.screenshot().await.expect("take a screenshot");
    let folder = example_app::repository_root().join("target/screenshots");
    std::fs::create_dir_all(&folder).expect("create target/screenshots");
    std::fs::write(folder.join(format!("{name}.png")), &png_bytes).expect("save a screenshot");
}

/// A site whose page calls `api_url` (set once the API's port is known) with `fetch` and a
/// custom header, so that the browser sends a CORS preflight first; `#result` says how it went.
fn calling_site(api_url: &Arc<OnceLock<String>>) -> carafe::App {
    let api_url = Arc::clone(api_url);
    let mut app = carafe::App::new();
    app.config.workers = 1;
    carafe::route!(app, GET "/" => move |_req| {
        let url = api_url.get().cloned().unwrap_or_default();
        carafe::Html(format!(
            "<!doctype html><title>caller</title><p id=\"result\">waiting</p><script>\
             fetch({url:?}, {{headers: {{'X-Requested-With': 'fetch'}}}})\
             .then(r => r.json())\
             .then(j => document.getElementById('result').textContent = 'ok ' + j.unix)\
             .catch(e => document.getElementById('result').textContent = 'refused: ' + e);\
             </script>"
        ))
    })
    .expect("the caller's route");
    app
}

/// The page of the allowed origin reads the API's answer; the other one's call is refused
/// by the browser, as the app's CORS policy says.
async fn cross_origin_calls_follow_the_apps_cors_policy(
    browser: &Client,
    caller: &Served,
    stranger: &Served,
) {
    for (site, expected) in [(caller, "ok "), (stranger, "refused: ")] {
        browser
            .goto(&site.url("/"))
            .await
            .expect("load a calling page");
        let result = find(browser, "#result").await;
        let mut text = String::new();
        for _ in 0..(PAGE_TIMEOUT.as_millis() / PAGE_POLL.as_millis()) {
            text = result.text().await.expect("read #result");
            if text != "waiting" {
                break;
            }
            tokio::time::sleep(PAGE_POLL).await;
        }
        assert!(text.starts_with(expected), "{}: {text}", site.url("/"));
    }
}

/// Two windows join the chat; what one sends the other shows, as text; the live panel, fed
/// by server-sent events, counts its watchers and the chat's messages.
async fn two_pages_chat_and_the_live_panel_follows(browser: &Client, served: &Served) {
    let first = browser.window().await.expect("the current window");
    join_chat(browser, served, "Ada").await;
    wait_for_text(browser, "#chat-log", "Ada joined").await;

    let second = browser
        .new_window(true)
        .await
        .expect("a second window")
        .handle;
    browser
        .switch_to_window(second.clone())
        .await
        .expect("switch");
    join_chat(browser, served, "Bob").await;
    wait_for_text(browser, "#chat-log", "Bob joined").await;

    browser
        .switch_to_window(first.clone())
        .await
        .expect("switch");
    wait_for_text(browser, "#chat-log", "Bob joined").await;
    type_into(browser, "chat-message", "hello <b>Bob</b>").await;
    find(browser, "#chat-send button")
        .await
        .click()
        .await
        .expect("send");

    browser
        .switch_to_window(second.clone())
        .await
        .expect("switch");
    wait_for_text(browser, "#chat-log", "Ada hello <b>Bob</b>").await;
    assert!(
        browser
            .find_all(Locator::Css("#chat-log b"))
            .await
            .expect("look for injected elements")
            .is_empty(),
        "a message became markup"
    );

    // The first window watches the panel; the second sends, and the panel counts it.
    browser.switch_to_window(first).await.expect("switch");
    browser
        .goto(&served.url("/live"))
        .await
        .expect("load /live");
    wait_for_text(browser, "#live-visitors", "1").await;
    let before: u64 = text_of(browser, "#live-chat").await.parse().unwrap_or(0);
    browser.switch_to_window(second).await.expect("switch");
    type_into(browser, "chat-message", "one more").await;
    find(browser, "#chat-send button")
        .await
        .click()
        .await
        .expect("send");
    browser
        .close_window()
        .await
        .expect("close the second window");
    let windows = browser.windows().await.expect("the windows");
    browser
        .switch_to_window(windows[0].clone())
        .await
        .expect("back to the first");
    wait_for_text(browser, "#live-chat", &(before + 1).to_string()).await;
    save_screenshot(browser, "live").await;
}

async fn join_chat(browser: &Client, served: &Served, name: &str) {
    browser
        .goto(&served.url("/chat"))
        .await
        .expect("load /chat");
    type_into(browser, "chat-name", name).await;
    find(browser, "#chat-join button")
        .await
        .click()
        .await
        .expect("join");
}

/// Waits until the text of `selector` contains `expected`.
async fn wait_for_text(browser: &Client, selector: &str, expected: &str) {
    let mut text = String::new();
    for _ in 0..(PAGE_TIMEOUT.as_millis() / PAGE_POLL.as_millis()) {
        if let Ok(element) = browser.find(Locator::Css(selector)).await {
            text = element.text().await.unwrap_or_default();
            if text.contains(expected) {
                return;
            }
        }
        tokio::time::sleep(PAGE_POLL).await;
    }
    panic!("{selector} never showed {expected:?}; it shows {text:?}");
}

/// The stylesheet reached the browser and applies: computed values, as rendered.
async fn stylesheet_is_applied(browser: &Client, served: &Served) {
    browser.goto(&served.url("/")).await.expect("load /");
    assert_eq!(
        computed_style(browser, "body", "background-color").await,
        paper_css(),
        "body has the --paper background"
    );
    assert_eq!(
        computed_style(browser, ".brand", "font-weight").await,
        "700",
        ".brand is bold"
    );
}

/// A PNG of the current page (the home page) that holds real rendering, not a blank frame.
async fn screenshot_is_painted(browser: &Client) {
    let png_bytes = browser.screenshot().await.expect("take a screenshot");
    let screenshot = decode_rgb(&png_bytes);
    assert!(
        screenshot.width > 0 && screenshot.height > 0,
        "empty screenshot"
    );
    // Text in several colours, anti-aliased, on two backgrounds: hundreds of colours. A blank
    // or failed paint has one or two.
    let colours = screenshot.distinct_colours();
    assert!(
        colours >= 50,
        "only {colours} distinct colours in a {}x{} screenshot",
        screenshot.width,
        screenshot.height
    );
    assert!(
        screenshot.contains(PAPER_RGB),
        "the --paper background is not in the screenshot"
    );
}

/// Opens a WebDriver session on Debian's Chromium with a fresh profile.
async fn open_session(driver: &ChromeDriver, profile: &Path, spki_hash: &str) -> Client {
    let chrome_options = json!({
        "binary": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            // Chromium otherwise calls home (updates, sync, field trials) and this machine's
            // closed network refuses it, which slows and clutters every run.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            format!("--user-data-dir={}", profile.display()),
            // Trust the HTTPS step's certificate (by its key's SHA-256), and only it.
            format!("--ignore-certificate-errors-spki-list={spki_hash}"),
        ],
    });
    let mut capabilities = Capabilities::new();
    capabilities.insert("goog:chromeOptions".to_owned(), chrome_options);
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|error| {
            panic!(
                "chromedriver could not start {CHROMIUM}: {error}\nchromedriver's log:\n{}",
                driver.log()
            )
        })
}

/// The example app over HTTPS with a certificate for 127.0.0.1 made here, and the base64
/// SHA-256 of its public key (SPKI) for Chromium's `--ignore-certificate-errors-spki-list`.
fn served_over_https() -> (Served, String) {
    use rcgen::PublicKeyData;
    use sha2::Digest;
    let key = rcgen::KeyPair::generate().expect("a key pair");
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("certificate parameters");
    let cert = params.self_signed(&key).expect("a self-signed certificate");
    let tls =
        carafe::Tls::from_pem(cert.pem(), key.serialize_pem()).expect("the certificate loads");
    let mut app =
        example_app::build(&example_app::Options::default()).expect("the example app builds");
    app.config.workers = 1;
    let spki_hash = base64(&sha2::Sha256::digest(key.subject_public_key_info()));
    (Served::app_tls(app, tls), spki_hash)
}

/// Standard base64 with padding (the few bytes of one hash; no crate for that).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The same site over HTTPS: the page, its stylesheet and a click, on a secure origin.
async fn the_site_renders_over_https(browser: &Client, https: &Served) {
    let url = https.url("/");
    assert!(url.starts_with("https://"), "{url}");
    browser.goto(&url).await.expect("load / over HTTPS");
    assert_eq!(
        browser.title().await.expect("read the title"),
        "Home · carafe example"
    );
    let secure = browser
        .execute(
            "return [location.protocol, window.isSecureContext];",
            vec![],
        )
        .await
        .expect("read the page's protocol");
    assert_eq!(secure, json!(["https:", true]));
    assert_eq!(
        computed_style(browser, "body", "background-color").await,
        paper_css(),
        "the stylesheet arrived over HTTPS"
    );
    find(browser, "nav a[href='/blog']")
        .await
        .click()
        .await
        .expect("click the Blog link");
    wait_for_path(browser, https, "/blog").await;
    save_screenshot(browser, "https-blog").await;
}

/// Waits until the browser is at `path` on the served app, e.g. after a click.
async fn wait_for_path(browser: &Client, served: &Served, path: &str) {
    let expected = served.url(path).parse().expect("a valid URL");
    if let Err(error) = browser
        .wait()
        .at_most(PAGE_TIMEOUT)
        .every(PAGE_POLL)
        .for_url(&expected)
        .await
    {
        let current = browser.current_url().await.map(String::from);
        panic!("the browser did not reach {expected} ({error}); it is at {current:?}");
    }
}

async fn find(browser: &Client, selector: &str) -> Element {
    browser
        .find(Locator::Css(selector))
        .await
        .unwrap_or_else(|error| panic!("no element matches {selector:?}: {error}"))
}

async fn text_of(browser: &Client, selector: &str) -> String {
    find(browser, selector)
        .await
        .text()
        .await
        .unwrap_or_else(|error| panic!("read the text of {selector:?}: {error}"))
}

async fn texts_of(browser: &Client, selector: &str) -> Vec<String> {
    let elements = browser
        .find_all(Locator::Css(selector))
        .await
        .unwrap_or_else(|error| panic!("find {selector:?}: {error}"));
    let mut texts = Vec::with_capacity(elements.len());
    for element in elements {
        texts.push(element.text().await.expect("read an element's text"));
    }
    texts
}

/// The computed value of `property`, as the page's own scripts see it. Chromedriver's Get
/// Element CSS Value command would do, but it reports colours as `rgba(r, g, b, 1)`.
async fn computed_style(browser: &Client, selector: &str, property: &str) -> String {
    let value = browser
        .execute(
            "return getComputedStyle(document.querySelector(arguments[0]))\
                 .getPropertyValue(arguments[1]);",
            vec![json!(selector), json!(property)],
        )
        .await
        .unwrap_or_else(|error| panic!("read {property} of {selector:?}: {error}"));
    match value {
        serde_json::Value::String(value) => value,
        other => panic!("{property} of {selector:?} is not a string: {other}"),
    }
}

/// Fails the test, naming the Debian packages, unless every executable is present.
fn require_executables(paths: &[&Path]) {
    let missing: Vec<_> = paths.iter().filter(|path| !path.is_file()).collect();
    assert!(
        missing.is_empty(),
        "missing {missing:?}: the browser test drives Debian's Chromium through chromedriver; \
         install them with `{INSTALL_HINT}` (./test does)"
    );
}

/// A chromedriver process on a port it chose itself, stopped with the browser it started
/// when dropped, also when the test panics.
struct ChromeDriver {
    process: Child,
    /// `http://127.0.0.1:PORT`.
    url: String,
    log_path: PathBuf,
}

impl ChromeDriver {
    fn start(scratch: &Scratch) -> Self {
        let log_path = scratch.path("chromedriver.log");
        let mut process = Command::new(CHROMEDRIVER)
            // Port 0: chromedriver binds a free port and prints it, so no other process can
            // take the port between our choosing it and chromedriver binding it.
            .arg("--port=0")
            .arg(format!("--log-path={}", log_path.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Its own process group, which Chromium's processes inherit: killing the group on
            // drop stops them too (killing chromedriver alone leaves Chromium running).
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start {CHROMEDRIVER} ({error}); install it with `{INSTALL_HINT}`")
            });
        let stdout = process
            .stdout
            .take()
            .expect("chromedriver's stdout is piped");
        // From here on a panic drops the guard, which stops the process.
        let mut driver = Self {
            process,
            url: String::new(),
            log_path,
        };

        let (port_sender, port_receiver) = mpsc::channel();
        thread::spawn(move || {
            // Read to the end, not just to the port line, so that chromedriver never blocks
            // on a full pipe. The thread ends when the process group is gone.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = reported_port(&line) {
                    let _ = port_sender.send(port);
                }
            }
        });
        let port = port_receiver
            .recv_timeout(DRIVER_START_TIMEOUT)
            .unwrap_or_else(|_| {
                panic!(
                    "chromedriver reported no port within {DRIVER_START_TIMEOUT:?}; its log:\n{}",
                    driver.log()
                )
            });
        driver.url = format!("http://127.0.0.1:{port}");

        // It prints the port once it listens; confirm it answers and is ready for a session.
        let status = get_status(port);
        assert!(
            status.contains("\"ready\":true"),
            "chromedriver is not ready: {status}\nits log:\n{}",
            driver.log()
        );
        driver
    }

    /// chromedriver's log so far, for failure messages.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path)
            .unwrap_or_else(|error| format!("(cannot read {}: {error})", self.log_path.display()))
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The group id is chromedriver's pid (`process_group(0)`); kill(1) signals a whole
        // group when given its id negated, with no `unsafe` call of our own. The group stays
        // ours until `wait` below reaps chromedriver, so the id cannot have been reused.
        let group = format!("-{}", self.process.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.process.wait();
    }
}

/// chromedriver's answer to `GET /status`. Read by its Content-Length: chromedriver sends
/// `Connection: close` but keeps the connection open, so reading to EOF would hang.
fn get_status(port: u16) -> String {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .unwrap_or_else(|error| panic!("connect to chromedriver on port {port}: {error}"));
    stream
        .set_read_timeout(Some(DRIVER_START_TIMEOUT))
        .expect("set a read timeout");
    stream
        .write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("send GET /status");
    let mut response = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        let text = String::from_utf8_lossy(&response);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let content_length = head
                .lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, value)| value.trim().parse::<usize>().ok());
            if content_length.is_some_and(|length| body.len() >= length) {
                return text.into_owned();
            }
        }
        match stream.read(&mut buffer) {
            Ok(0) => return text.into_owned(),
            Ok(n) => response.extend_from_slice(&buffer[..n]),
            Err(error) => panic!("read chromedriver's status: {error}; so far: {text}"),
        }
    }
}

/// The port in chromedriver's "ChromeDriver was started successfully on port 40213." line.
fn reported_port(line: &str) -> Option<u16> {
    line.split_once("started successfully on port ")?
        .1
        .trim_end_matches('.')
        .trim()
        .parse()
        .ok()
}

/// A decoded screenshot as 8-bit RGB pixels.
struct Screenshot {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Screenshot {
    fn pixels(&self) -> impl Iterator<Item = [u8; 3]> + '_ {
        self.rgb
            .chunks_exact(3)
            .map(|pixel| [pixel[0], pixel[1], pixel[2]])
    }

    fn distinct_colours(&self) -> usize {
        self.pixels()
            .collect::<std::collections::HashSet<_>>()
            .len()
    }

    fn contains(&self, colour: [u8; 3]) -> bool {
        self.pixels().any(|pixel| pixel == colour)
    }
}

/// Decodes a PNG to 8-bit RGB, whatever its colour type, so pixels compare directly.
fn decode_rgb(png_bytes: &[u8]) -> Screenshot {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    // Expand palettes and low bit depths to 8-bit channels; 16-bit becomes 8-bit.
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("the screenshot is a PNG");
    let mut buffer = vec![0; reader.output_buffer_size().expect("a sane PNG size")];
    let frame = reader
        .next_frame(&mut buffer)
        .expect("decode the screenshot");
    let pixels = &buffer[..frame.buffer_size()];
    let rgb = match frame.color_type {
        png::ColorType::Rgb => pixels.to_vec(),
        png::ColorType::Rgba => pixels
            .chunks_exact(4)
            .flat_map(|pixel| [pixel[0], pixel[1], pixel[2]])
            .collect(),
        png::ColorType::Grayscale => pixels.iter().flat_map(|&grey| [grey; 3]).collect(),
        png::ColorType::GrayscaleAlpha => pixels
            .chunks_exact(2)
            .flat_map(|pixel| [pixel[0]; 3])
            .collect(),
        png::ColorType::Indexed => unreachable!("normalize_to_color8 expands palettes"),
    };
    Screenshot {
        width: frame.width,
        height: frame.height,
        rgb,
    }
}
