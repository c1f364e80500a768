//! The example app's `/blog` in axum with minijinja: the axum peer of `bench/pages.py`.
//!
//! It renders the repository's `templates/blog.html` (which extends `base.html`) on every
//! request, from the posts in `posts.json` (the example app's `POSTS`, written by
//! `cargo run -p example-app --example posts_json`), with a minijinja `url_for` that gives
//! the same URLs as the example app's routes, and answers with the same headers as the
//! example app's `/blog` (its after hook's security headers, `X-Request-Id` and the blog's
//! `Cache-Control`). One thread: a current-thread tokio runtime.
//!
//! `axum-pages --addr 127.0.0.1:PORT [--templates DIR] [--posts FILE]`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderName, HeaderValue, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use minijinja::value::{Kwargs, Serde, Value};
use minijinja::{Environment, context};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::{Deserialize, Serialize};

/// The example app's Content-Security-Policy (`example_app::CONTENT_SECURITY_POLICY_VALUE`).
const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; style-src 'self'; \
     img-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// The example app's `Cache-Control` for blog pages.
const BLOG_CACHE_CONTROL: &str = "public, max-age=300";

/// The example app's routes that the templates name, as matchit patterns.
const ROUTES: &[(&str, &str)] = &[
    ("index", "/"),
    ("blog", "/blog"),
    ("post", "/blog/{slug}"),
    ("hello", "/hello/{name}"),
    ("contact", "/contact"),
    ("counter", "/counter"),
    ("upload", "/upload"),
    ("api.time", "/api/time"),
    ("static", "/static/{filename}"),
];

/// Bytes a path segment cannot carry as themselves: carafe's `url_for` set (RFC 3986 `pchar`).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A blog post, as the example app serializes its `Post`.
#[derive(Debug, Serialize, Deserialize)]
struct Post {
    slug: String,
    title: String,
    date: String,
    summary: String,
    body: Vec<String>,
}

struct Site {
    templates: Environment<'static>,
    posts: Vec<Post>,
    /// Numbers the responses for `X-Request-Id`, as the example app's `ResponseCounter`.
    responses: AtomicU64,
}

struct Args {
    addr: SocketAddr,
    templates: PathBuf,
    posts: PathBuf,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let posts: Vec<Post> = serde_json::from_slice(&std::fs::read(&args.posts)?)?;
    let site = Arc::new(Site {
        templates: environment(args.templates),
        posts,
        responses: AtomicU64::new(0),
    });
    let app = axum::Router::new()
        .route("/blog", get(blog))
        .with_state(site);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr).await?;
        axum::serve(listener, app).await
    })?;
    Ok(())
}

fn parse_args() -> Result<Args, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut args = Args {
        addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
        templates: root.join("templates"),
        posts: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("posts.json"),
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let value = argv.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => args.addr = value.parse().map_err(|e| format!("--addr: {e}"))?,
            "--templates" => args.templates = value.into(),
            "--posts" => args.posts = value.into(),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

/// Templates cached after their first load, with `url_for` and an always-empty
/// `get_flashed_messages` (this peer has no sessions; the example app finds no session cookie
/// in wrk's requests, so its list is empty as well).
fn environment(templates: PathBuf) -> Environment<'static> {
    let mut env = Environment::new();
    // minijinja checks a loaded template's file for changes on every lookup unless told not
    // to (two `statx` calls per /blog); carafe's release builds and Flask outside debug mode
    // do not check.
    env.set_auto_reload(false);
    env.set_loader(minijinja::path_loader(templates));
    env.add_function("url_for", url_for);
    env.add_function("get_flashed_messages", |_options: Kwargs| {
        Value::from(Vec::<Value>::new())
    });
    env
}

/// `url_for(name, **params)`: the route's pattern with each `{param}` percent-encoded as a
/// path segment; a URL is marked safe so that `/` is not escaped, as carafe's is.
fn url_for(name: &str, params: Kwargs) -> Result<Value, minijinja::Error> {
    let unknown = || minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, "no route");
    let pattern = ROUTES
        .iter()
        .find(|(route, _)| *route == name)
        .ok_or_else(unknown)?
        .1;
    let mut url = String::with_capacity(pattern.len() + 16);
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        url.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').ok_or_else(unknown)?;
        let value: Value = params.get(&rest[open + 1..close])?;
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        url.extend(utf8_percent_encode(&text, SEGMENT));
        rest = &rest[close + 1..];
    }
    url.push_str(rest);
    params.assert_all_used()?;
    Ok(Value::from_safe_string(url))
}

async fn blog(State(site): State<Arc<Site>>) -> Response {
    let rendered = site
        .templates
        .get_template("blog.html")
        .and_then(|template| template.render(context! { posts => Serde(&site.posts) }));
    match rendered {
        Ok(html) => {
            let mut response = html.into_response();
            let headers = response.headers_mut();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            headers.insert(CACHE_CONTROL, HeaderValue::from_static(BLOG_CACHE_CONTROL));
            standard_headers(&site, headers);
            response
        }
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

/// The example app's after hook: `X-Request-Id` (process id and a counter) and the security
/// headers.
fn standard_headers(site: &Site, headers: &mut HeaderMap) {
    let number = site.responses.fetch_add(1, Ordering::Relaxed) + 1;
    if let Ok(id) = HeaderValue::try_from(format!("{}-{number}", std::process::id())) {
        headers.insert(HeaderName::from_static("x-request-id"), id);
    }
    for (name, value) in [
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (X_FRAME_OPTIONS, "DENY"),
        (REFERRER_POLICY, "strict-origin-when-cross-origin"),
        (CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_VALUE),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
}
