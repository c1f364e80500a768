//! Response compression ([`Compression`], the `compression` feature): gzip
//! ([flate2](https://docs.rs/flate2)) or brotli ([brotli](https://docs.rs/brotli)), chosen
//! from the request's `Accept-Encoding` with its q-values.
//!
//! Turn it on for an app with [`App::compress`](crate::App::compress) (it sets
//! [`Config::compression`](crate::Config)); every response is then looked at once it is
//! final, after the handler, the error page, the after hooks and the session cookie (step 6
//! of "The order of an answer" in ARCHITECTURE.md), so headers a hook sets are seen.
//!
//! ```
//! use carafe::testing::TestClient;
//! use carafe::{route, App, Compression};
//!
//! let page = "<p>carafe</p>".repeat(200); // 2,600 bytes of HTML
//! let mut app = App::new();
//! app.compress(Compression::default());
//! route!(app, GET "/" => move |_req| carafe::Html(page.clone())).unwrap();
//! route!(app, GET "/search" => |req| carafe::Html(format!("{:?}", req.query("q")).repeat(100)), no_compression).unwrap();
//!
//! let client = TestClient::new(app);
//! let response = client.get("/").header("accept-encoding", "gzip, br").send();
//! assert_eq!(response.header("content-encoding"), Some("br"));
//! assert_eq!(response.header("vary"), Some("Accept-Encoding"));
//! assert!(response.body().len() < 100);
//!
//! let mut html = Vec::new();
//! let mut decoder = brotli::Decompressor::new(response.body(), 4096);
//! std::io::Read::read_to_end(&mut decoder, &mut html).unwrap();
//! assert_eq!(html, "<p>carafe</p>".repeat(200).as_bytes());
//!
//! // No Accept-Encoding (or `identity`): the page as it is, still with `Vary`.
//! let plain = client.get("/").send();
//! assert_eq!(plain.header("content-encoding"), None);
//! assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
//!
//! // A route that opts out (it reflects the query: see BREACH below).
//! let search = client.get("/search?q=x").header("accept-encoding", "gzip").send();
//! assert_eq!(search.header("content-encoding"), None);
//! ```
//!
//! What is compressed: a response whose content type is in [`Compression::types`] and whose
//! body is at least [`Compression::min_size`] bytes (or streamed, of unknown length), with a
//! status that has content. A whole body ([`Body::Bytes`], [`Body::Static`]) is compressed in
//! one go, and sent as it is if that does not make it smaller; a streamed one
//! ([`Body::Reader`]) goes through a compressing reader, so it is compressed as it streams
//! (64 KiB read at a time, memory bounded) and sent chunked. `Vary: Accept-Encoding` is added
//! to every such response, compressed or not, so that a cache keeps the two apart.
//!
//! What never is: a response that already has a `Content-Encoding`; 1xx, 204, 206 and 304
//! answers; any answer to a request with `Range` (a range is of the identity
//! representation); event streams and WebSockets (an event must reach the browser when it is
//! sent, and a compressor holds bytes back until it has a block's worth); routes marked
//! `no_compression`; and HEAD requests. A HEAD answer describes the identity representation
//! (its `Content-Length`, no `Content-Encoding`, with `Vary`), because compressing a body
//! only to count its bytes costs the CPU that HEAD exists to save; a GET with the same
//! `Accept-Encoding` may then get a compressed body. RFC 9110 §9.3.2 lets a server leave out
//! or change such representation-specific fields for HEAD.
//!
//! Entity tags: a strong `ETag` of a compressed response gets the coding inside its quotes
//! (`"abc"` becomes `"abc-br"`, as Apache writes it), because the bytes differ; a weak one
//! is kept. An `If-None-Match` naming the compressed tag gets a 304.
//!
//! Static files: with [`Compression::precompressed`] (on by default), `style.css.br` or
//! `style.css.gz` next to `style.css` is sent instead of it when the client accepts that
//! coding (nginx's `gzip_static`), with its own `ETag` and `Last-Modified`, the original's
//! `Content-Type`, and `Vary`; never for a `Range` request, never if it is older than the
//! original (stale) or a symlink.
//!
//! **BREACH.** Compression leaks how alike parts of a response are through its size. A page
//! that holds a secret (a CSRF token, a session value, an API key) *and* text the attacker
//! chooses (a search term reflected from the query) lets an attacker who sees the encrypted
//! traffic guess the secret a character at a time, even over TLS. Mark such routes
//! `no_compression` (or keep secrets and reflections on different pages).

use std::io::{Read, Write};

use http::StatusCode;
use http::header::{
    ACCEPT_RANGES, CONTENT_ENCODING, CONTENT_LENGTH, ETAG, HeaderMap, HeaderValue, VARY,
};

use crate::h1::encode::Body;
use crate::request::Request;
use crate::response::Response;

/// How responses are compressed: set with [`App::compress`](crate::App::compress) (or
/// [`Config::compression`](crate::Config)). Needs the `compression` feature.
///
/// ```
/// use carafe::{App, Compression};
///
/// let mut settings = Compression::default();
/// settings.min_size = 4096;
/// settings.brotli_quality = 5;
/// settings.types.push("application/x-ndjson".to_owned());
/// let mut app = App::new();
/// app.compress(settings);
/// assert_eq!(app.config.compression.as_ref().map(|c| c.min_size), Some(4096));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compression {
    /// Smallest body, in bytes, that is compressed. Below about a kilobyte a response fits
    /// in one TCP segment (1,460 bytes on Ethernet) whether compressed or not, so
    /// compressing saves no packet and no round trip, while gzip's and brotli's framing and
    /// the CPU are paid anyway. A streamed body of unknown length is always compressed.
    /// Default 1 KiB.
    pub min_size: usize,
    /// gzip's level, 0 (store) to 9 (smallest, slowest). Default 6, zlib's own default: on
    /// the example app's blog page it makes a body 3 % larger than level 9 at about half
    /// its CPU (BENCHMARKS.md).
    pub gzip_level: u32,
    /// brotli's quality, 0 to 11. Default 4: on the measured pages it compresses better than
    /// gzip 6 in less CPU; 5 and above cost several times more for a few percent (11 is for
    /// files compressed once, ahead of time: see `precompressed`).
    pub brotli_quality: u32,
    /// The media types compressed, each an essence (`application/json`), a type with `/*`
    /// (`text/*`) or a structured-syntax suffix (`+json`, `+xml`), compared without case.
    /// Default: `text/*` (but never `text/event-stream`), `application/json`,
    /// `application/javascript`, `application/xml`, `application/wasm`, `image/svg+xml`,
    /// `+json` and `+xml`. Images, video, audio, fonts in WOFF2 and archives are compressed
    /// already and are left out.
    pub types: Vec<String>,
    /// Static files (`App::static_dir`, `Request::send_file`): send `name.br` or `name.gz`
    /// from beside the file when the client accepts it. Default true.
    pub precompressed: bool,
}

impl Default for Compression {
    fn default() -> Self {
        Self {
            min_size: 1024,
            gzip_level: 6,
            brotli_quality: 4,
            types: [
                "text/*",
                "application/json",
                "application/javascript",
                "application/xml",
                "application/wasm",
                "image/svg+xml",
                "+json",
                "+xml",
            ]
            .map(str::to_owned)
            .to_vec(),
            precompressed: true,
        }
    }
}

impl Compression {
    /// Whether a response of `content_type` may be compressed.
    fn compresses(&self, content_type: &[u8]) -> bool {
        let Ok(content_type) = std::str::from_utf8(content_type) else {
            return false;
        };
        let essence = crate::media_type::essence(content_type);
        if essence.eq_ignore_ascii_case("text/event-stream") {
            return false;
        }
        let (kind, _) = essence.split_once('/').unwrap_or((essence, ""));
        self.types.iter().any(|pattern| {
            if let Some(suffix) = pattern.strip_prefix('+') {
                essence
                    .rsplit_once('+')
                    .is_some_and(|(_, end)| end.eq_ignore_ascii_case(suffix))
            } else if let Some(prefix) = pattern.strip_suffix("/*") {
                prefix.eq_ignore_ascii_case(kind)
            } else {
                pattern.eq_ignore_ascii_case(essence)
            }
        })
    }
}

/// A content coding carafe writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Brotli,
    Gzip,
}

/// The codings, carafe's favourite first (brotli is smaller for the same CPU).
const OFFERED: [&str; 2] = ["br", "gzip"];

impl Coding {
    fn from_token(token: &str) -> Option<Self> {
        match token {
            "br" => Some(Coding::Brotli),
            "gzip" => Some(Coding::Gzip),
            _ => None,
        }
    }

    /// The `Content-Encoding` token, also the `ETag` suffix.
    fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
        }
    }

    /// The file extension of a precompressed static file.
    fn extension(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gz",
        }
    }
}

/// The coding the request's `Accept-Encoding` prefers among `offered`, if any.
fn negotiate(request: &Request<'_>, offered: &[&str]) -> Option<Coding> {
    let accept = request.header("accept-encoding")?;
    crate::media_type::preferred_coding(accept, offered).and_then(Coding::from_token)
}

/// Compresses `response` if it should be (see the module docs). The common cases leave at
/// once: a small body in memory (plain-text and JSON answers of an API), a live body.
#[inline]
pub(crate) fn compress(settings: &Compression, request: &Request<'_>, response: &mut Response) {
    let small = match response.body() {
        Body::Static(bytes) => bytes.len() < settings.min_size,
        Body::Bytes(bytes) => bytes.len() < settings.min_size,
        Body::Reader(reader) => reader
            .declared_len()
            .is_some_and(|len| len < settings.min_size as u64),
        // A 304 has no body but says what the 200 would vary by.
        Body::Empty => response.status() != StatusCode::NOT_MODIFIED,
        Body::Live(_) => true,
    };
    if !small {
        compress_cold(settings, request, response);
    }
}

#[inline(never)]
fn compress_cold(settings: &Compression, request: &Request<'_>, response: &mut Response) {
    let status = response.status();
    let bodiless = status.is_informational()
        || matches!(status.as_u16(), 204 | 205 | 206)
        || request
            .route_info()
            .is_some_and(|route| route.is_compression_off())
        || response.headers().contains_key(CONTENT_ENCODING);
    if bodiless
        || !response
            .header("content-type")
            .is_some_and(|t| settings.compresses(t.as_bytes()))
    {
        return;
    }
    add_vary(response.headers_mut());
    if status == StatusCode::NOT_MODIFIED
        || request.method() == http::Method::HEAD
        || request.header("range").is_some()
    {
        return;
    }
    let Some(coding) = negotiate(request, &OFFERED) else {
        return;
    };
    let tag = response
        .headers()
        .get(ETAG)
        .and_then(|tag| coded_tag(tag.as_bytes(), coding));
    if let Some(tag) = &tag
        && request
            .header("if-none-match")
            .is_some_and(|candidates| none_match(candidates, tag))
    {
        // The client holds this very representation (RFC 9110 §13.1.2).
        response.set_status(StatusCode::NOT_MODIFIED);
        response.set_body(Body::Empty);
        set_tag(response.headers_mut(), tag);
        return;
    }
    let body = std::mem::take(&mut response.outgoing_mut().body);
    let body = match body {
        Body::Reader(reader) => Body::reader(encoder(settings, coding, reader.into_reader()), None),
        body => match compress_bytes(settings, coding, body.as_bytes()) {
            Some(compressed) if compressed.len() < body.len() => Body::Bytes(compressed),
            // Not smaller (or the encoder failed): sent as it is.
            _ => {
                response.set_body(body);
                return;
            }
        },
    };
    response.set_body(body);
    let headers = response.headers_mut();
    headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
    // Ranges are of the identity representation; a handler's length is of it too.
    headers.remove(ACCEPT_RANGES);
    headers.remove(CONTENT_LENGTH);
    if let Some(tag) = &tag {
        set_tag(headers, tag);
    }
}

/// Adds `Accept-Encoding` to `Vary` unless it is there already (or `Vary: *`).
fn add_vary(headers: &mut HeaderMap) {
    let present = headers.get_all(VARY).iter().any(|value| {
        value.to_str().is_ok_and(|names| {
            names
                .split(',')
                .map(str::trim)
                .any(|name| name == "*" || name.eq_ignore_ascii_case("accept-encoding"))
        })
    });
    if !present {
        headers.append(VARY, HeaderValue::from_static("Accept-Encoding"));
    }
}

/// The tag of the `coding` representation: a strong `"x"` becomes `"x-gzip"`; a weak tag
/// says "equivalent", which the compressed bytes are, so it stays; anything malformed stays.
fn coded_tag(tag: &[u8], coding: Coding) -> Option<String> {
    let tag = std::str::from_utf8(tag).ok()?;
    if tag.starts_with("W/") {
        return None;
    }
    let opaque = tag.strip_prefix('"')?.strip_suffix('"')?;
    Some(format!("\"{opaque}-{}\"", coding.token()))
}

fn set_tag(headers: &mut HeaderMap, tag: &str) {
    // Made of a valid tag's characters and a coding's letters.
    if let Ok(value) = HeaderValue::from_str(tag) {
        headers.insert(ETAG, value);
    }
}

/// Whether an `If-None-Match` list names `tag` (weak comparison, RFC 9110 §13.1.2).
fn none_match(candidates: &str, tag: &str) -> bool {
    candidates.split(',').any(|candidate| {
        let candidate = candidate.trim();
        candidate == "*" || candidate.trim_start_matches("W/") == tag
    })
}

/// A whole body compressed; `None` if the encoder failed.
fn compress_bytes(settings: &Compression, coding: Coding, body: &[u8]) -> Option<Vec<u8>> {
    match coding {
        Coding::Gzip => {
            let level = flate2::Compression::new(settings.gzip_level.min(9));
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 3), level);
            encoder.write_all(body).ok()?;
            encoder.finish().ok()
        }
        Coding::Brotli => {
            // The window just big enough for the body: brotli's memory follows it.
            let bits = usize::BITS - body.len().max(1).leading_zeros();
            let params = brotli::enc::BrotliEncoderParams {
                quality: settings.brotli_quality.min(11) as i32,
                lgwin: bits.clamp(10, 22) as i32,
                size_hint: body.len(),
                ..Default::default()
            };
            let mut out = Vec::with_capacity(body.len() / 3);
            brotli::BrotliCompress(&mut &body[..], &mut out, &params).ok()?;
            Some(out)
        }
    }
}

/// brotli's window for a streamed body (256 KiB): its ring buffer is held per connection
/// for as long as the stream lasts, so not the 4 MiB that suits a large file on disk.
const STREAM_WINDOW_BITS: u32 = 18;

/// The buffer of brotli's reader, and how much of the source flate2's reads at a time.
const STREAM_BUFFER: usize = 16 * 1024;

/// A reader that yields `source` compressed, as the connection pulls it.
fn encoder(
    settings: &Compression,
    coding: Coding,
    source: Box<dyn Read + Send>,
) -> Box<dyn Read + Send> {
    match coding {
        Coding::Gzip => {
            let level = flate2::Compression::new(settings.gzip_level.min(9));
            let source = std::io::BufReader::with_capacity(STREAM_BUFFER, source);
            Box::new(flate2::bufread::GzEncoder::new(source, level))
        }
        Coding::Brotli => Box::new(brotli::CompressorReader::new(
            source,
            STREAM_BUFFER,
            settings.brotli_quality.min(11),
            STREAM_WINDOW_BITS,
        )),
    }
}

/// What static files do about a precompressed sibling of `path`.
pub(crate) enum Precompressed {
    /// Compression is off, the request has a `Range`, or no sibling exists: serve `path`.
    No,
    /// A sibling exists, but the client does not take it: serve `path`, with `Vary`.
    Identity,
    /// Serve this file, of this coding, instead.
    Sibling(std::path::PathBuf, std::fs::Metadata, Coding),
}

/// Looks for `path.br` and `path.gz`, usable ones only: regular files (not symlinks, which
/// could lead out of a static folder), no older than `path` (`original` is its metadata).
pub(crate) fn precompressed(
    request: &Request<'_>,
    path: &std::path::Path,
    original: &std::fs::Metadata,
) -> Precompressed {
    let Some(settings) = &request.site().config.compression else {
        return Precompressed::No;
    };
    if !settings.precompressed {
        return Precompressed::No;
    }
    let modified = original.modified().ok();
    let mut found: Vec<(Coding, std::path::PathBuf, std::fs::Metadata)> = Vec::new();
    for coding in [Coding::Brotli, Coding::Gzip] {
        let mut name = path.as_os_str().to_owned();
        name.push(".");
        name.push(coding.extension());
        let sibling = std::path::PathBuf::from(name);
        let Ok(metadata) = std::fs::symlink_metadata(&sibling) else {
            continue;
        };
        let stale = modified
            .is_some_and(|original| metadata.modified().is_ok_and(|sibling| sibling < original));
        if !metadata.is_file() || stale {
            log::debug!(
                "precompressed {} skipped (a symlink, not a file, or stale)",
                sibling.display()
            );
            continue;
        }
        found.push((coding, sibling, metadata));
    }
    if found.is_empty() {
        return Precompressed::No;
    }
    if request.header("range").is_some() {
        return Precompressed::Identity;
    }
    let offered: Vec<&str> = found.iter().map(|(coding, _, _)| coding.token()).collect();
    match negotiate(request, &offered) {
        Some(chosen) => found
            .into_iter()
            .find(|(coding, _, _)| *coding == chosen)
            .map_or(Precompressed::Identity, |(coding, path, metadata)| {
                Precompressed::Sibling(path, metadata, coding)
            }),
        None => Precompressed::Identity,
    }
}

/// Marks a static file's response as the sibling of `coding` (see [`precompressed`]).
pub(crate) fn mark_precompressed(response: &mut Response, coding: Coding) {
    let status = response.status();
    let headers = response.headers_mut();
    if status == StatusCode::OK {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
    }
    // Ranges are served from the original only.
    headers.remove(ACCEPT_RANGES);
    add_vary(headers);
}

/// Adds `Vary: Accept-Encoding` to a static file's response whose representation depends on
/// it (a precompressed sibling exists).
pub(crate) fn mark_negotiated(response: &mut Response) {
    add_vary(response.headers_mut());
}
