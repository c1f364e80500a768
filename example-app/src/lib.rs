//! carafe's showcase site: pages rendered from templates, a blog, a contact form validated
//! on the server with post/redirect/get and flash messages, a session counter, file uploads,
//! a JSON API, static files, and styled error pages (JSON under `/api/`).
//!
//! [`build`] returns the configured [`App`]; `main.rs` parses flags and serves it, and the
//! end-to-end tests in `tests/` serve it on port 0. Sessions (`/counter`) are signed with
//! `CARAFE_SECRET_KEY` when it is set, which carafe reads when the app starts serving.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use carafe::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderName, HeaderValue, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use carafe::{
    App, Blueprint, Cors, CsrfProtection, HttpError, Json, Request, Response, StatusCode, context,
    route,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub mod live;

/// Where the app finds its files.
#[derive(Debug, Clone)]
pub struct Options {
    /// Folder of HTML templates.
    pub templates: PathBuf,
    /// Folder served under `/static`.
    pub static_dir: PathBuf,
    /// Origins whose pages may call the JSON API from a browser (CORS), e.g.
    /// `https://dashboard.example`; none by default.
    pub cors_origins: Vec<String>,
}

impl Default for Options {
    /// The repository's `templates/` and `static/`, found from the crate's own location so
    /// that the app works from any working directory.
    fn default() -> Self {
        let root = repository_root();
        Self {
            templates: root.join("templates"),
            static_dir: root.join("static"),
            cors_origins: Vec::new(),
        }
    }
}

/// The repository root: the parent of this crate's folder.
pub fn repository_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// Builds the example app with every route, its templates, static files and error pages.
pub fn build(options: &Options) -> Result<App, carafe::Error> {
    let mut app = App::new();
    app.state(ResponseCounter::default())
        .state(Inbox::default());
    app.templates(&options.templates)?;
    app.static_dir("/static", &options.static_dir)?;
    route!(app, GET "/" => index)?;
    route!(app, GET "/blog" => blog)?;
    route!(app, GET "/blog/{slug}" => post)?;
    route!(app, GET "/blog/{slug}/download" => download_post)?;
    route!(app, GET "/hello/{name}" => hello)?;
    // Open to curl and conformance tools, which post raw bytes without a session.
    route!(app, POST "/echo" => echo, csrf_exempt)?;
    // Pages that carry the CSRF token next to what the visitor sent are never compressed
    // (BREACH: the sizes would leak the token).
    route!(app, [GET, POST] "/contact" => contact, no_compression)?;
    route!(app, GET "/counter" => counter, no_compression)?;
    route!(app, POST "/counter/reset" => reset_counter)?;
    route!(app, [GET, POST] "/upload" => upload, no_compression)?;
    app.register("/api", api(&options.cors_origins)?)?;
    live::routes(&mut app)?;
    route!(app, GET "/slow" => slow, blocking)?;
    for status in ERROR_PAGES {
        app.error_handler(status, error_page);
    }
    app.after(standard_headers);
    // Pages, the stylesheet and JSON go out gzip- or brotli-compressed to clients that ask.
    app.compress(carafe::Compression::default());
    // Every form of the site carries {{ csrf_token() }}; a POST without it is refused.
    app.csrf_protect(CsrfProtection::default());
    Ok(app)
}

/// The JSON API, a blueprint under `/api`: `api.time` and `api.whoami` for url_for; its
/// answers are never stored by a cache, its errors (its routes', and any unknown path under
/// `/api`) are JSON, and pages of `cors_origins` may call it from a browser.
fn api(cors_origins: &[String]) -> Result<Blueprint, carafe::Error> {
    let mut api = Blueprint::new("api");
    if !cors_origins.is_empty() {
        let policy = cors_origins
            .iter()
            .fold(Cors::new(), |policy, origin| policy.allow_origin(origin))
            .allow_methods(["GET"])
            .allow_headers(["x-requested-with"]);
        api.cors(policy)?;
    }
    route!(api, GET "/time" => time)?;
    route!(api, GET "/whoami" => whoami)?;
    api.after(|_req: &Request, response: &mut Response| {
        // API answers change on every call and depend on the caller.
        response
            .headers_mut()
            .entry(CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    });
    api.error_handler_any(|_req: &Request, error: &HttpError| {
        let status = error.status();
        let message = if status.is_server_error() {
            "Something went wrong on our side; it was logged."
        } else {
            error.message()
        };
        Response::json(&ApiError {
            status: status.as_u16(),
            error: message,
        })
    });
    Ok(api)
}

/// The Content-Security-Policy of every response: the pages load their stylesheet and
/// nothing else from this origin, run no scripts, post forms only here, and may not be framed.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; style-src 'self'; \
     img-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// Numbers the responses of this process for `X-Request-Id`: shared state
/// ([`App::state`](carafe::App::state)) that changes on every request, so an atomic.
#[derive(Debug, Default)]
pub struct ResponseCounter(AtomicU64);

/// The contact messages received since the server started: shared state that handlers add
/// to and read, so behind a `Mutex`, held only to push or count.
#[derive(Debug, Default)]
pub struct Inbox(Mutex<Vec<ContactMessage>>);

/// The after hook: an `X-Request-Id`, the standard security headers and a `Cache-Control` on
/// every response, error pages and static files included. A handler that sets one of these
/// headers keeps its own. The id is the one a trusted proxy sent (nginx's `$request_id`, so its access log and
/// the client see the same id), or else the process id and a counter, unique across the
/// instances behind one proxy; an id from anyone else is not repeated back.
fn standard_headers(req: &Request, response: &mut Response) {
    let proxy_id = req
        .is_from_trusted_proxy()
        .then(|| req.header("x-request-id"))
        .flatten()
        .filter(|id| is_request_id(id))
        .and_then(|id| HeaderValue::try_from(id).ok());
    let id = proxy_id.or_else(|| {
        let counter = req.state::<ResponseCounter>().ok()?;
        let number = counter.0.fetch_add(1, Ordering::Relaxed) + 1;
        // Written on the stack and copied once: `format!` costs a formatter run and a String
        // that `HeaderValue` then wraps in a second allocation.
        let (mut pid, mut number_text) = (itoa::Buffer::new(), itoa::Buffer::new());
        let (pid, number) = (pid.format(std::process::id()), number_text.format(number));
        let mut id = [0u8; 32]; // a u32, a dash and a u64: at most 10 + 1 + 20 bytes
        let len = pid.len() + 1 + number.len();
        id[..pid.len()].copy_from_slice(pid.as_bytes());
        id[pid.len()] = b'-';
        id[pid.len() + 1..len].copy_from_slice(number.as_bytes());
        // Digits and a dash are always a valid header value.
        HeaderValue::from_bytes(&id[..len]).ok()
    });
    if let Some(id) = id {
        let headers = response.headers_mut();
        headers.entry(X_REQUEST_ID).or_insert(id);
    }
    let cache_control = HeaderValue::from_static(cache_policy(response));
    let headers = response.headers_mut();
    // Constants, so that `from_static` checks each value when the app is compiled; called at
    // run time it checks every byte on every response (the policy is 170 of them).
    const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
    const DENY: HeaderValue = HeaderValue::from_static("DENY");
    const REFERRER: HeaderValue = HeaderValue::from_static("strict-origin-when-cross-origin");
    const POLICY: HeaderValue = HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE);
    for (name, value) in [
        (CACHE_CONTROL, cache_control),
        (X_CONTENT_TYPE_OPTIONS, NOSNIFF),
        (X_FRAME_OPTIONS, DENY),
        (REFERRER_POLICY, REFERRER),
        (CONTENT_SECURITY_POLICY, POLICY),
    ] {
        headers.entry(name).or_insert(value);
    }
}

/// The request id's header name, made when the app is compiled.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What a cache may do with a response the handler left without `Cache-Control`, so that
/// no cache guesses a freshness of its own (RFC 9111 §4.2.2 lets it when nothing is said): a
/// server error is not stored; any other page may be kept but is checked with the server
/// before each use. (Static files say `no-cache` themselves, blog pages `max-age`, the
/// counter `private`, the API `no-store`.)
fn cache_policy(response: &Response) -> &'static str {
    if response.status().is_server_error() {
        "no-store"
    } else {
        "no-cache"
    }
}

/// How long a blog page may be cached: the posts are compiled into the binary, so they
/// change only with a new release.
/// (A constant `HeaderValue`: checked at compile time, and never copied to the heap.)
const BLOG_CACHE_CONTROL: HeaderValue = HeaderValue::from_static("public, max-age=300");

/// Whether a proxy's request id is one to pass on: up to 128 letters, digits, `-`, `_`, `.`
/// and `:` (nginx's are 32 hex digits, UUIDs fit too), nothing that could garble a log line.
fn is_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A blog post: the posts tell how a server gets from one blocking socket to an event loop.
#[derive(Debug, Serialize)]
pub struct Post {
    /// URL segment.
    pub slug: &'static str,
    /// Headline.
    pub title: &'static str,
    /// Publication date, ISO 8601.
    pub date: &'static str,
    /// One-line summary for the index.
    pub summary: &'static str,
    /// Paragraphs.
    pub body: &'static [&'static str],
}

/// Every post, newest first.
pub const POSTS: &[Post] = &[
    Post {
        slug: "epoll",
        title: "From select to epoll",
        date: "2026-11-20",
        summary: "Why a readiness API that scales with active sockets, not watched ones, changes everything.",
        body: &[
            "select() hands the kernel every socket on every call; poll() lifts the 1024 limit but keeps the scan. epoll keeps the interest list in the kernel and returns only the sockets that are ready.",
            "Edge-triggered epoll goes one step further: it reports a change once, so a server must read and write until the call would block. carafe's loop does exactly that, and asks for write readiness only while a response is waiting.",
        ],
    },
    Post {
        slug: "generators",
        title: "Concurrency from the ground up",
        date: "2026-11-12",
        summary: "Generator tasks that yield the socket they wait on, and a loop that resumes them.",
        body: &[
            "Beazley's trick: each connection is a generator that yields ('read', sock) or ('write', sock); the event loop keeps two dicts of waiting tasks and resumes them when select() says their socket is ready.",
            "carafe keeps the idea but makes the state explicit: each connection is a small state machine (reading a head, reading a body, writing) instead of a suspended generator.",
        ],
    },
    Post {
        slug: "blocking-server",
        title: "A server that serves one client at a time",
        date: "2026-11-03",
        summary: "accept(), then recv() in a loop: simple, and stuck on the first client.",
        body: &[
            "The first server most of us write accepts a client and serves it until it leaves. A second client waits in the listen queue the whole time.",
            "The fix is not more threads but an event loop: a single thread that only ever does work that is ready to be done.",
        ],
    },
];

fn index(req: &Request) -> Response {
    let latest: Vec<&Post> = POSTS.iter().take(2).collect();
    // The address the browser used, for the curl hint on the page.
    let host = req.header("host").unwrap_or("127.0.0.1:8080");
    req.render("index.html", context! { posts => latest, host })
}

fn blog(req: &Request) -> Response {
    cached_for_a_while(req.render("blog.html", context! { posts => POSTS }))
}

/// A blog page that rendered gets [`BLOG_CACHE_CONTROL`]; an error page keeps the default.
fn cached_for_a_while(mut page: Response) -> Response {
    if page.status() == StatusCode::OK {
        page.headers_mut().insert(CACHE_CONTROL, BLOG_CACHE_CONTROL);
    }
    page
}

fn post(req: &Request) -> Result<Response, HttpError> {
    let slug = req.param("slug").unwrap_or_default();
    let post = POSTS
        .iter()
        .find(|post| post.slug == slug)
        .ok_or_else(HttpError::not_found)?;
    Ok(cached_for_a_while(
        req.render("post.html", context! { post => post }),
    ))
}

/// The post as plain text, offered as a download named after it.
fn download_post(req: &Request) -> Result<Response, HttpError> {
    let slug = req.param("slug").unwrap_or_default();
    let post = POSTS
        .iter()
        .find(|post| post.slug == slug)
        .ok_or_else(HttpError::not_found)?;
    let mut text = format!("{}\n{}\n\n", post.title, post.date);
    for paragraph in post.body {
        text.push_str(paragraph);
        text.push_str("\n\n");
    }
    Ok(Response::text(text).with_attachment(&format!("{}.txt", post.slug)))
}

fn hello(req: &Request) -> Response {
    req.render(
        "hello.html",
        context! { name => req.param("name").unwrap_or("you") },
    )
}

/// Answers with the request body, byte for byte, and its Content-Type.
fn echo(req: &Request) -> Response {
    let mut response = Response::bytes(req.body().to_vec());
    if let Some(content_type) = req.content_type() {
        // A value that arrived in a request header is a valid header value.
        let _ = response.set_header("content-type", content_type);
    }
    response
}

/// The contact form. GET shows it; POST checks the fields on the server (a browser's own
/// checks are only a convenience) and either shows the form again with what is wrong, the
/// values kept, or thanks the sender with a flash message after a redirect
/// (post/redirect/get), so that reloading the page does not send the form twice.
fn contact(req: &Request) -> Result<Response, HttpError> {
    let received = || -> Result<usize, HttpError> {
        let inbox = req.state::<Inbox>()?;
        Ok(inbox.0.lock().map_or(0, |messages| messages.len()))
    };
    if req.method() != carafe::Method::POST {
        let errors = std::collections::BTreeMap::<&str, &str>::new();
        let values = ContactMessage::default();
        let received = received()?;
        return Ok(req.render("contact.html", context! { values, errors, received }));
    }
    // The whole form into the struct; a field left out is empty, and the checks below say so.
    let message = req.form_into::<ContactMessage>()?.trimmed();
    let errors = message.errors();
    if !errors.is_empty() {
        let received = received()?;
        let mut page = req.render(
            "contact.html",
            context! { errors => errors, values => &message, received },
        );
        if page.status() == StatusCode::OK {
            page.set_status(StatusCode::UNPROCESSABLE_ENTITY);
        }
        return Ok(page);
    }
    log::info!(
        "contact message from {} <{}>: {} characters",
        message.name,
        message.email,
        message.message.chars().count()
    );
    req.flash_with(
        "success",
        format!(
            "Thanks, {}! Your message was received; the answer goes to {}.",
            message.name, message.email
        ),
    )?;
    // A poisoned lock (a panic while it was held) still holds a valid list.
    let inbox = req.state::<Inbox>()?;
    inbox
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(message);
    Ok(Response::redirect(&req.url_for("contact", &[])?))
}

/// What the contact form sends.
#[derive(Debug, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ContactMessage {
    /// Who writes.
    pub name: String,
    /// Where the answer goes.
    pub email: String,
    /// What they say.
    pub message: String,
}

impl ContactMessage {
    /// Without the spaces around each field.
    fn trimmed(self) -> Self {
        Self {
            name: self.name.trim().to_owned(),
            email: self.email.trim().to_owned(),
            message: self.message.trim().to_owned(),
        }
    }

    /// What is wrong with it, by field name; empty when it can be accepted.
    pub fn errors(&self) -> std::collections::BTreeMap<&'static str, &'static str> {
        let mut errors = std::collections::BTreeMap::new();
        let length = |text: &str| text.chars().count();
        if self.name.is_empty() {
            errors.insert("name", "Please tell us your name.");
        } else if length(&self.name) > 100 {
            errors.insert("name", "Please keep your name under 100 characters.");
        }
        if self.email.is_empty() {
            errors.insert("email", "Please give an email address for the answer.");
        } else if !is_plausible_email(&self.email) || length(&self.email) > 200 {
            errors.insert("email", "That does not look like an email address.");
        }
        if self.message.is_empty() {
            errors.insert("message", "Please write a message.");
        } else if length(&self.message) > 5000 {
            errors.insert("message", "Please keep the message under 5,000 characters.");
        }
        errors
    }
}

/// `someone@somewhere.tld`, roughly: one `@`, something before it, a dot after it, and no
/// spaces. The only real check of an address is a mail that arrives.
fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

/// Counts the visitor's visits in the session and shows the count.
fn counter(req: &Request) -> Result<Response, HttpError> {
    let session = req.session();
    let visits = session.get::<u64>("visits").unwrap_or(0).saturating_add(1);
    session.insert("visits", visits)?;
    let mut page = req.render("counter.html", context! { visits });
    // The visitor's own count: no shared cache may keep it.
    let _ = page.set_header("cache-control", "private, no-cache");
    Ok(page)
}

/// Forgets the count (the session cookie is deleted) and goes back to the counter.
fn reset_counter(req: &Request) -> Result<Response, HttpError> {
    req.session().clear();
    Ok(Response::redirect(&req.url_for("counter", &[])?))
}

/// The upload form: GET shows it; POST reports the file's name, size, type and SHA-256 and
/// the note sent with it. A refused upload (too large, malformed) shows the form again with
/// the reason, under the refusal's status.
fn upload(req: &Request) -> Response {
    if req.method() != carafe::Method::POST {
        return req.render("upload.html", context! {});
    }
    let upload = match req.multipart() {
        Ok(upload) => upload,
        Err(error) => return form_error(req, error.status(), error.message()),
    };
    let note = upload.form().get("note").unwrap_or("").trim();
    // A file input left empty still sends a part, with an empty filename.
    let Some(file) = upload
        .file("file")
        .filter(|file| !file.filename().is_empty())
    else {
        return form_error(req, StatusCode::BAD_REQUEST, "Choose a file to upload.");
    };
    let uploaded = context! {
        filename => file.filename(),
        size => file.len(),
        content_type => file.content_type().unwrap_or("(none)"),
        sha256 => sha256_hex(file.bytes()),
        note,
    };
    req.render("upload.html", context! { uploaded })
}

/// The upload form again with `message`, under `status` (unless rendering itself failed).
fn form_error(req: &Request, status: StatusCode, message: &str) -> Response {
    let mut page = req.render("upload.html", context! { error => message });
    if page.status() == StatusCode::OK {
        page.set_status(status);
    }
    page
}

/// Lower-case hex SHA-256, as `sha256sum` prints it.
fn sha256_hex(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(64);
    for byte in Sha256::digest(bytes) {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[derive(Serialize)]
struct Time {
    unix: u64,
    http_date: String,
}

fn time(_req: &Request) -> Json<Time> {
    let now = SystemTime::now();
    let unix = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    Json(Time {
        unix,
        http_date: httpdate::fmt_http_date(now),
    })
}

/// Sleeps `?ms=` milliseconds (default 500, at most 10 s) on the blocking pool: a handler
/// that waits, the classic problem of a single-threaded server, without stalling anyone else.
fn slow(req: &Request) -> Result<String, HttpError> {
    let ms: u64 = req.query_as("ms")?.unwrap_or(500).min(10_000);
    std::thread::sleep(std::time::Duration::from_millis(ms));
    Ok(format!("slept {ms} ms on a blocking thread\n"))
}

#[derive(Serialize)]
struct WhoAmI {
    client: String,
    scheme: String,
    peer: String,
    pid: u32,
}

/// Who the server thinks the client is (through trusted proxies), and which process answered:
/// handy behind a load balancer.
fn whoami(req: &Request) -> Json<WhoAmI> {
    Json(WhoAmI {
        client: req.remote_addr().to_string(),
        scheme: req.scheme().to_owned(),
        peer: req.peer_addr().to_string(),
        pid: std::process::id(),
    })
}

/// The statuses the site answers with its own page rather than carafe's plain text.
const ERROR_PAGES: [StatusCode; 9] = [
    StatusCode::BAD_REQUEST,
    StatusCode::NOT_FOUND,
    StatusCode::METHOD_NOT_ALLOWED,
    StatusCode::PAYLOAD_TOO_LARGE,
    StatusCode::URI_TOO_LONG,
    StatusCode::UNSUPPORTED_MEDIA_TYPE,
    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    StatusCode::INTERNAL_SERVER_ERROR,
    StatusCode::SERVICE_UNAVAILABLE,
];

/// An error answered as JSON under `/api/`.
#[derive(Serialize)]
struct ApiError<'a> {
    status: u16,
    error: &'a str,
}

/// Every error page of the site, in its layout (the API blueprint has its own, in JSON). A
/// server error says only that it was logged: its cause is for the log, not the visitor.
fn error_page(req: &Request, error: &HttpError) -> Response {
    let status = error.status();
    let detail = if status.is_server_error() {
        "Something went wrong on our side; it was logged."
    } else {
        error.message()
    };
    let (title, explanation) = match status {
        StatusCode::NOT_FOUND => ("Page not found", "There is nothing at this address."),
        StatusCode::METHOD_NOT_ALLOWED => (
            "Method not allowed",
            "This address exists, but does not answer this kind of request.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "Too large",
            "What was sent is larger than this site accepts.",
        ),
        StatusCode::INTERNAL_SERVER_ERROR => (
            "Something went wrong",
            "The error was logged. Please try again in a moment.",
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            "Busy",
            "The server has too much to do right now. Please try again in a moment.",
        ),
        _ => (
            status.canonical_reason().unwrap_or("Error"),
            "The request could not be answered.",
        ),
    };
    req.render(
        "error.html",
        context! {
            status => status.as_u16(),
            title,
            explanation,
            detail => (!status.is_server_error()).then_some(detail),
            method => req.method().as_str(),
            path => req.path(),
        },
    )
}
