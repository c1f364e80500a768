//! Response compression: [`Compression`] (its docs say what is compressed and when), the
//! step that compresses a final response ([`compress`], called last in `Site::respond`),
//! `Accept-Encoding` negotiation (in `media_type.rs`), and precompressed static files.

use std::io::{Read, Write};

use http::StatusCode;
use http::header::{
    ACCEPT_RANGES, CONTENT_ENCODING, CONTENT_LENGTH, ETAG, HeaderMap, HeaderValue, VARY,
};

use crate::h1::encode::Body;
use crate::request::Request;
use crate::response::Response;

/// Response compression (the `compression` feature): gzip
/// ([flate2](https://docs.rs/flate2)) or brotli ([brotli](https://docs.rs/brotli)), chosen
/// from the request's `Accept-Encoding` with its q-values.
///
/// Turn it on for an app with [`App::compress`](crate::App::compress) (it sets
/// [`Config::compression`](crate::Config)); every response is then looked at once it is
/// final, after the handler, the error page, the after hooks and the session cookie (step 6
/// of "The order of an answer" in ARCHITECTURE.md), so headers a hook sets are seen.
///
/// ```
/// use carafe::testing::TestClient;
/// use carafe::{route, App, Compression};
///
/// let page = "<p>carafe</p>".repeat(200); // 2,600 bytes of HTML
/// let mut app = App::new();
/// app.compress(Compression::default());
/// route!(app, GET "/" => move |_req| carafe::Html(page.clone())).unwrap();
/// route!(app, GET "/search" => |req| carafe::Html(format!("{:?}", req.query("q")).repeat(100)), no_compression).unwrap();
///
/// let client = TestClient::new(app);
/// let response = client.get("/").header("accept-encoding", "gzip, br").send();
/// assert_eq!(response.header("content-encoding"), Some("br"));
/// assert_eq!(response.header("vary"), Some("Accept-Encoding"));
/// assert!(response.body().len() < 100);
///
/// let mut html = Vec::new();
/// let mut decoder = brotli::Decompressor::new(response.body(), 4096);
/// std::io::Read::read_to_end(&mut decoder, &mut html).unwrap();
/// assert_eq!(html, "<p>carafe</p>".repeat(200).as_bytes());
///
/// // No Accept-Encoding (or `identity`): the page as it is, still with `Vary`.
/// let plain = client.get("/").send();
/// assert_eq!(plain.header("content-encoding"), None);
/// assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
///
/// // A route that opts out (it reflects the query: see BREACH below).
/// let search = client.get("/search?q=x").header("accept-encoding", "gzip").send();
/// assert_eq!(search.header("content-encoding"), None);
/// ```
///
/// What is compressed: a response whose content type is in [`types`](Self::types) and whose
/// body is at least [`min_size`](Self::min_size) bytes (or streamed, of unknown length), with a
/// status that has content. A whole body ([`Body::Bytes`], [`Body::Static`]) is compressed in
/// one go, and sent as it is if that does not make it smaller; a streamed one
/// ([`Body::Reader`]) goes through a compressing reader, so it is compressed as it streams
/// (64 KiB read at a time, memory bounded) and sent chunked. `Vary: Accept-Encoding` is added
/// to every such response, compressed or not, so that a cache keeps the two apart.
///
/// What never is: a response that already has a `Content-Encoding`; 1xx, 204, 206 and 304
/// answers; any answer to a request with `Range` (a range is of the identity
/// representation); event streams and WebSockets (an event must reach the browser when it is
/// sent, and a compressor holds bytes back until it has a block's worth); routes marked
/// `no_compression`; and HEAD requests. A HEAD answer describes the identity representation
/// (its `Content-Length`, no `Content-Encoding`, with `Vary`), because compressing a body
/// only to count its bytes costs the CPU that HEAD exists to save; a GET with the same
/// `Accept-Encoding` may then get a compressed body. RFC 9110 §9.3.2 lets a server leave out
/// or change such representation-specific fields for HEAD.
///
/// Entity tags: a strong `ETag` of a compressed response gets the coding inside its quotes
/// (`"abc"` becomes `"abc-br"`, as Apache writes it), because the bytes differ; a weak one
/// is kept. An `If-None-Match` naming the compressed tag gets a 304.
///
/// Static files: with [`precompressed`](Self::precompressed) (on by default), `style.css.br` or
/// `style.css.gz` next to `style.css` is sent instead of it when the client accepts that
/// coding (nginx's `gzip_static`), with its own `ETag` and `Last-Modified`, the original's
/// `Content-Type`, and `Vary`; never for a `Range` request, never if it is older than the
/// original (stale) or a symlink.
///
/// **CPU and memory.** A whole body is compressed on the thread that answers it (the event
/// loop, or the pool for a `blocking` route): about 115–130 µs for a 23 KB JSON answer with
/// either coding. Each response's encoder allocates its tables afresh;
/// with glibc's default malloc settings that memory goes back to the kernel after each
/// response and brotli then spends most of its time in page faults (BENCHMARKS.md measured
/// 777 µs instead of 126 µs). A server that compresses much should run with
/// `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456`
/// or a caching global allocator.
///
/// **BREACH.** Compression leaks how alike parts of a response are through its size. A page
/// that holds a secret (a CSRF token, a session value, an API key) *and* text the attacker
/// chooses (a search term reflected from the query) lets an attacker who sees the encrypted
/// traffic guess the secret a character at a time, even over TLS. Mark such routes
/// `no_compression` (or keep secrets and reflections on different pages).
///
/// The settings are fields; change them on `Compression::default()`:
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
    /// gzip's level, 0 (store) to 9 (smallest, slowest). Default 4: on a 23 KB JSON answer,
    /// the example app's blog page and its stylesheet, level 4 came within 1 % of level 6's
    /// size (zlib's default) in 25–34 % less CPU, and level 1 was up to 20 % larger
    /// (BENCHMARKS.md).
    pub gzip_level: u32,
    /// brotli's quality, 0 to 11. Default 4: on the same three bodies it was as small as
    /// gzip's or smaller, and on the JSON a quarter of gzip 4's CPU; quality 5 and above
    /// took about 4 ms for any of them (40 to 200 times quality 4) for 2–8 % fewer bytes.
    /// Quality 11 is for files compressed once, ahead of time (see `precompressed`).
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
            gzip_level: 4,
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

/// Compresses `response` if it should be (see [`Compression`]). The common cases leave at
/// once: a small body in memory (plain-text and JSON answers of an API), a live body. Inline:
/// out of line, the call cost more than these tests (callgrind, `bench_server --compress`).
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
    let left_alone = status.is_informational()
        || matches!(status.as_u16(), 204..=206)
        || request
            .route_info()
            .is_some_and(|route| route.is_compression_off())
        || response.headers().contains_key(CONTENT_ENCODING);
    // The bytes of the Content-Type that is sent, as `Response::header` finds them, but
    // without its name comparison and a UTF-8 check that `compresses` makes again.
    if left_alone
        || !response
            .outgoing()
            .content_type_value()
            .is_some_and(|t| settings.compresses(t))
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
    // (For an unsafe method If-None-Match asks for 412, which is the handler's to decide.)
    if let Some(tag) = &tag
        && request.method() == http::Method::GET
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
    // A constant: `from_static` checks the value when carafe is compiled, not per response.
    const ACCEPT_ENCODING: HeaderValue = HeaderValue::from_static("Accept-Encoding");
    if !present {
        headers.append(VARY, ACCEPT_ENCODING);
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
    Sibling(Box<(std::path::PathBuf, std::fs::Metadata)>, Coding),
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
                Precompressed::Sibling(Box::new((path, metadata)), coding)
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

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::path::PathBuf;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::testing::{TestClient, TestResponse};
    use crate::{App, Html, route};

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .expect("a valid gzip stream");
        out
    }

    fn unbrotli(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        brotli::Decompressor::new(bytes, 4096)
            .read_to_end(&mut out)
            .expect("a valid brotli stream");
        out
    }

    /// The body as the client reads it, decoded as its `Content-Encoding` says.
    fn decoded(response: &TestResponse) -> Vec<u8> {
        match response.header("content-encoding") {
            None => response.body().to_vec(),
            Some("gzip") => gunzip(response.body()),
            Some("br") => unbrotli(response.body()),
            Some(other) => panic!("unexpected coding {other}"),
        }
    }

    /// About 6 KiB of HTML, compressible as pages are.
    fn page() -> String {
        (0..120)
            .map(|n| format!("<li><a href=\"/post/{n}\">Post number {n}</a></li>\n"))
            .collect()
    }

    fn app() -> App {
        let mut app = App::new();
        app.compress(Compression::default());
        route!(app, GET "/page" => |_req| Html(page())).unwrap();
        app
    }

    #[test]
    fn gzip_and_brotli_decode_to_the_original() {
        let client = TestClient::new(app());
        for (accept, coding) in [
            ("gzip", "gzip"),
            ("br", "br"),
            ("gzip, deflate, br, zstd", "br"),
            ("br;q=0.5, gzip", "gzip"),
            ("x-gzip", "gzip"),
            ("*", "br"),
        ] {
            let response = client.get("/page").header("accept-encoding", accept).send();
            assert_eq!(response.status(), 200);
            assert_eq!(
                response.header("content-encoding"),
                Some(coding),
                "{accept}"
            );
            assert_eq!(response.header("vary"), Some("Accept-Encoding"));
            assert_eq!(
                response.header("content-type"),
                Some("text/html; charset=utf-8")
            );
            assert_eq!(
                response.header("content-length"),
                Some(response.body().len().to_string().as_str())
            );
            assert!(response.body().len() < page().len() / 4, "{accept}");
            assert_eq!(decoded(&response), page().as_bytes(), "{accept}");
        }
    }

    #[test]
    fn identity_when_not_asked_with_vary_all_the_same() {
        let client = TestClient::new(app());
        for accept in [
            None,
            Some("identity"),
            Some(""),
            Some("deflate"),
            Some("gzip;q=0"),
        ] {
            let mut request = client.get("/page");
            if let Some(accept) = accept {
                request = request.header("accept-encoding", accept);
            }
            let response = request.send();
            assert_eq!(response.header("content-encoding"), None, "{accept:?}");
            assert_eq!(response.header("vary"), Some("Accept-Encoding"));
            assert_eq!(response.body(), page().as_bytes());
        }
    }

    #[test]
    fn small_bodies_other_types_and_encoded_bodies_are_left_alone() {
        let mut app = app();
        route!(app, GET "/small" => |_req| "short".repeat(200)).unwrap(); // 1,000 bytes
        route!(app, GET "/png" => |_req| {
            Response::bytes(vec![7u8; 5000]).with_header("content-type", "image/png")
        })
        .unwrap();
        route!(app, GET "/done" => |_req| {
            let gzipped = compress_bytes(&Compression::default(), Coding::Gzip, page().as_bytes()).unwrap();
            Response::html(gzipped).with_header("content-encoding", "gzip")
        })
        .unwrap();
        route!(app, GET "/bytes" => |_req| vec![b'x'; 5000]).unwrap();
        let client = TestClient::new(app);
        let get = |path| {
            client
                .get(path)
                .header("accept-encoding", "gzip, br")
                .send()
        };
        let small = get("/small");
        assert_eq!(small.header("content-encoding"), None);
        assert_eq!(
            small.header("vary"),
            None,
            "never compressed, so it varies by nothing"
        );
        let png = get("/png");
        assert_eq!(png.header("content-encoding"), None);
        assert_eq!(png.body(), vec![7u8; 5000]);
        let octets = get("/bytes");
        assert_eq!(
            octets.header("content-encoding"),
            None,
            "octet-stream is not in the list"
        );
        let done = get("/done");
        assert_eq!(done.header("content-encoding"), Some("gzip"));
        assert_eq!(
            gunzip(done.body()),
            page().as_bytes(),
            "compressed once, not twice"
        );
    }

    #[test]
    fn a_body_that_would_grow_is_sent_as_it_is() {
        let mut app = app();
        // Bytes with no pattern for deflate to find (xorshift): gzip's framing makes them longer.
        let mut state = 0x2545_f491_u32;
        let noise: Vec<u8> = (0..4000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        let expected = noise.clone();
        route!(app, GET "/noise" => move |_req| Response::text(noise.clone())).unwrap();
        let response = TestClient::new(app)
            .get("/noise")
            .header("accept-encoding", "gzip")
            .send();
        assert_eq!(response.header("content-encoding"), None);
        assert_eq!(response.header("vary"), Some("Accept-Encoding"));
        assert_eq!(response.body(), expected);
    }

    #[test]
    fn head_describes_the_identity_representation() {
        let client = TestClient::new(app());
        let response = client
            .head("/page")
            .header("accept-encoding", "gzip, br")
            .send();
        assert_eq!(response.status(), 200);
        assert_eq!(response.header("content-encoding"), None);
        assert_eq!(
            response.header("content-length"),
            Some(page().len().to_string().as_str())
        );
        assert_eq!(response.header("vary"), Some("Accept-Encoding"));
        assert!(response.body().is_empty());
    }

    #[test]
    fn ranges_opted_out_routes_and_bodiless_statuses_are_never_compressed() {
        let mut app = app();
        route!(app, GET "/secret" => |_req| Html(page()), no_compression).unwrap();
        route!(app, GET "/created" => |_req| (StatusCode::NO_CONTENT, Html(page()))).unwrap();
        let client = TestClient::new(app);
        let ranged = client
            .get("/page")
            .header("accept-encoding", "gzip")
            .header("range", "bytes=0-9")
            .send();
        assert_eq!(ranged.header("content-encoding"), None);
        assert_eq!(
            ranged.body(),
            page().as_bytes(),
            "handlers ignore Range: all of it"
        );
        let secret = client
            .get("/secret")
            .header("accept-encoding", "gzip")
            .send();
        assert_eq!(secret.header("content-encoding"), None);
        assert_eq!(secret.header("vary"), None);
        let empty = client
            .get("/created")
            .header("accept-encoding", "gzip")
            .send();
        assert_eq!(empty.status(), 204);
        assert_eq!(empty.header("content-encoding"), None);
    }

    #[test]
    fn streamed_bodies_are_compressed_as_they_stream() {
        let mut app = app();
        let text = page().repeat(60); // ~370 KiB: several 64 KiB pulls
        let expected = text.clone();
        route!(app, GET "/known" => move |_req| {
            let bytes = text.clone().into_bytes();
            let len = bytes.len() as u64;
            Response::stream(std::io::Cursor::new(bytes), Some(len))
                .with_header("content-type", "text/plain")
        })
        .unwrap();
        let client = TestClient::new(app);
        for coding in ["gzip", "br"] {
            let response = client
                .get("/known")
                .header("accept-encoding", coding)
                .send();
            assert_eq!(response.header("content-encoding"), Some(coding));
            assert_eq!(
                response.header("content-length"),
                None,
                "the length is unknown"
            );
            assert_eq!(response.header("transfer-encoding"), Some("chunked"));
            assert!(response.body().len() < expected.len() / 10);
            assert_eq!(decoded(&response), expected.as_bytes(), "{coding}");
        }
        let plain = client.get("/known").send();
        assert_eq!(
            plain.header("content-length"),
            Some(expected.len().to_string().as_str())
        );
        assert_eq!(plain.body(), expected.as_bytes());
    }

    #[test]
    fn a_stream_is_compressed_a_piece_at_a_time() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        /// 64 MiB of log-like lines, counting what has been read of it.
        struct Lines {
            read: Arc<AtomicUsize>,
            left: usize,
        }
        impl Read for Lines {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let line = b"GET /static/style.css 200 1234 0.4ms\n";
                let n = buf.len().min(self.left) / line.len() * line.len();
                for chunk in buf[..n].chunks_mut(line.len()) {
                    chunk.copy_from_slice(line);
                }
                self.left -= n;
                self.read.fetch_add(n, Ordering::Relaxed);
                Ok(n)
            }
        }
        const TOTAL: usize = 64 << 20;
        for coding in [Coding::Gzip, Coding::Brotli] {
            let read = Arc::new(AtomicUsize::new(0));
            let source = Lines {
                read: Arc::clone(&read),
                left: TOTAL,
            };
            let mut compressed = encoder(&Compression::default(), coding, Box::new(source));
            let mut first = vec![0; 64 * 1024];
            let n = compressed.read(&mut first).unwrap();
            assert!(n > 0, "{coding:?}");
            let consumed = read.load(Ordering::Relaxed);
            assert!(
                consumed < TOTAL / 8,
                "{coding:?}: {consumed} bytes read for the first {n}"
            );
        }
    }

    #[test]
    fn strong_tags_get_the_coding_and_their_own_304() {
        let mut app = app();
        route!(app, GET "/tagged" => |req| {
            if req.header("if-none-match") == Some("\"v1\"") {
                return Response::new(StatusCode::NOT_MODIFIED).with_header("etag", "\"v1\"");
            }
            Response::html(page()).with_header("etag", "\"v1\"")
        })
        .unwrap();
        route!(app, GET "/weak" => |_req| Response::html(page()).with_header("etag", "W/\"v1\""))
            .unwrap();
        let client = TestClient::new(app);
        let send = |path, accept, tag: Option<&str>| {
            let mut request = client.get(path).header("accept-encoding", accept);
            if let Some(tag) = tag {
                request = request.header("if-none-match", tag);
            }
            request.send()
        };
        let gzip = send("/tagged", "gzip", None);
        assert_eq!(gzip.header("etag"), Some("\"v1-gzip\""));
        let br = send("/tagged", "br", None);
        assert_eq!(br.header("etag"), Some("\"v1-br\""));
        assert_eq!(
            send("/tagged", "identity", None).header("etag"),
            Some("\"v1\"")
        );

        let revalidated = send("/tagged", "gzip", Some("\"v1-gzip\""));
        assert_eq!(revalidated.status(), 304);
        assert_eq!(revalidated.header("etag"), Some("\"v1-gzip\""));
        assert_eq!(revalidated.header("vary"), Some("Accept-Encoding"));
        assert!(revalidated.body().is_empty());
        // The gzip copy does not stand for the brotli one.
        let other = send("/tagged", "br", Some("\"v1-gzip\""));
        assert_eq!(other.status(), 200);
        assert_eq!(other.header("etag"), Some("\"v1-br\""));
        assert_eq!(decoded(&other), page().as_bytes());
        // The handler's own 304 for the identity tag passes through as it is.
        let own = send("/tagged", "gzip", Some("\"v1\""));
        assert_eq!(own.status(), 304);
        assert_eq!(
            own.header("vary"),
            None,
            "no content type on this 304: nothing to say"
        );

        let weak = send("/weak", "gzip", None);
        assert_eq!(weak.header("content-encoding"), Some("gzip"));
        assert_eq!(
            weak.header("etag"),
            Some("W/\"v1\""),
            "weak: the same in any coding"
        );
    }

    #[test]
    fn after_hooks_and_blocking_routes_are_seen() {
        let mut app = app();
        route!(app, GET "/slow" => |_req| Html(page()), blocking).unwrap();
        route!(app, GET "/download" => |_req| Html(page())).unwrap();
        app.after(|req, response| {
            if req.path() == "/download" {
                let _ = response.set_header("content-type", "application/zip");
            }
            let _ = response.append_header("vary", "Cookie");
        });
        let client = TestClient::new(app);
        let slow = client.get("/slow").header("accept-encoding", "br").send();
        assert_eq!(slow.header("content-encoding"), Some("br"));
        assert_eq!(decoded(&slow), page().as_bytes());
        let vary: Vec<&str> = slow.header_all("vary").collect();
        assert_eq!(vary, ["Cookie", "Accept-Encoding"]);
        let download = client
            .get("/download")
            .header("accept-encoding", "br")
            .send();
        assert_eq!(
            download.header("content-encoding"),
            None,
            "the hook's type decides"
        );
    }

    #[test]
    fn each_setting_is_honoured() {
        let page = page();
        let serve = |settings: Compression, content_type: &'static str, body: String| {
            let mut app = App::new();
            app.compress(settings);
            route!(app, GET "/" => move |_req| {
                Response::bytes(body.clone()).with_header("content-type", content_type)
            })
            .unwrap();
            TestClient::new(app)
        };
        let get = |client: &TestClient, accept: &str| {
            client.get("/").header("accept-encoding", accept).send()
        };
        // min_size: the boundary itself is compressed, one byte less is not.
        let at = |len: usize| {
            let settings = Compression {
                min_size: 2000,
                ..Compression::default()
            };
            let client = serve(settings, "text/plain", page[..len].to_owned());
            get(&client, "gzip").header("content-encoding").is_some()
        };
        assert!(at(2000));
        assert!(!at(1999));
        // gzip_level: 0 stores, which only adds framing, so the body goes as it is; 9 packs.
        let level = |gzip_level| {
            let settings = Compression {
                gzip_level,
                ..Compression::default()
            };
            get(&serve(settings, "text/html", page.clone()), "gzip")
        };
        assert_eq!(level(0).header("content-encoding"), None);
        assert_eq!(level(9).header("content-encoding"), Some("gzip"));
        assert_eq!(gunzip(level(9).body()), page.as_bytes());
        // brotli_quality: 0 and 11 both decode; 11 is smaller.
        let quality = |brotli_quality| {
            let settings = Compression {
                brotli_quality,
                ..Compression::default()
            };
            get(&serve(settings, "text/html", page.clone()), "br")
        };
        let (fast, small) = (quality(0), quality(11));
        assert!(
            small.body().len() < fast.body().len(),
            "{} {}",
            small.body().len(),
            fast.body().len()
        );
        assert_eq!(unbrotli(fast.body()), page.as_bytes());
        assert_eq!(unbrotli(small.body()), page.as_bytes());
        // types: a type added is compressed; with text/* gone, text/html is not.
        let mut settings = Compression::default();
        settings.types.push("application/x-ndjson".to_owned());
        settings.types.retain(|pattern| pattern != "text/*");
        let ndjson = serve(settings.clone(), "application/x-ndjson", page.clone());
        assert_eq!(
            get(&ndjson, "gzip").header("content-encoding"),
            Some("gzip")
        );
        let html = serve(settings, "text/html", page.clone());
        assert_eq!(get(&html, "gzip").header("content-encoding"), None);
    }

    #[test]
    fn precompressed_siblings_can_be_turned_off() {
        let dir = folder("off");
        let mut app = App::new();
        app.compress(Compression {
            precompressed: false,
            ..Compression::default()
        });
        app.static_dir("/static", &dir.0).unwrap();
        let client = TestClient::new(app);
        let response = client
            .get("/static/style.css")
            .header("accept-encoding", "br")
            .send();
        assert_eq!(
            response.header("content-encoding"),
            Some("br"),
            "compressed on the fly"
        );
        assert_ne!(
            response.body(),
            std::fs::read(dir.0.join("style.css.br")).unwrap()
        );
        assert_eq!(decoded(&response), css().as_bytes());
    }

    #[test]
    fn compressible_types() {
        let settings = Compression::default();
        for (content_type, expected) in [
            ("text/html; charset=utf-8", true),
            ("TEXT/CSS", true),
            ("application/json", true),
            ("application/problem+json", true),
            ("application/atom+xml; charset=utf-8", true),
            ("image/svg+xml", true),
            ("application/javascript", true),
            ("application/wasm", true),
            ("text/event-stream", false),
            ("image/png", false),
            ("application/zip", false),
            ("application/octet-stream", false),
            ("font/woff2", false),
            ("video/mp4", false),
            ("", false),
        ] {
            assert_eq!(
                settings.compresses(content_type.as_bytes()),
                expected,
                "{content_type}"
            );
        }
    }

    #[test]
    fn event_streams_are_left_alone() {
        let mut app = app();
        route!(app, GET "/events" => |_req| {
            let (response, events) = Response::events();
            drop(events); // the stream ends at once
            response
        })
        .unwrap();
        let client = TestClient::new(app);
        let raw =
            client.send_raw(b"GET /events HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n");
        let head = String::from_utf8_lossy(&raw).to_ascii_lowercase();
        assert!(head.contains("content-type: text/event-stream"), "{head}");
        assert!(!head.contains("content-encoding"), "{head}");
    }

    /// A folder with `style.css`, and its `.gz` and `.br` made ahead of time.
    struct Folder(PathBuf);

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn css() -> String {
        (0..100)
            .map(|n| format!(".item-{n} {{ color: #{n:06x}; margin: {n}px; }}\n"))
            .collect()
    }

    fn folder(name: &str) -> Folder {
        let dir = std::env::temp_dir().join(format!(
            "carafe-precompressed-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let settings = Compression {
            gzip_level: 9,
            brotli_quality: 11,
            ..Compression::default()
        };
        std::fs::write(dir.join("style.css"), css()).unwrap();
        let gz = compress_bytes(&settings, Coding::Gzip, css().as_bytes()).unwrap();
        std::fs::write(dir.join("style.css.gz"), gz).unwrap();
        let br = compress_bytes(&settings, Coding::Brotli, css().as_bytes()).unwrap();
        std::fs::write(dir.join("style.css.br"), br).unwrap();
        Folder(dir)
    }

    fn static_client(dir: &Folder) -> TestClient {
        let mut app = app();
        app.static_dir("/static", &dir.0).unwrap();
        TestClient::new(app)
    }

    #[test]
    fn precompressed_siblings_are_served_when_accepted() {
        let dir = folder("served");
        let client = static_client(&dir);
        let get = |accept: &str| {
            client
                .get("/static/style.css")
                .header("accept-encoding", accept)
                .send()
        };
        let br = get("gzip, br");
        assert_eq!(br.header("content-encoding"), Some("br"));
        assert_eq!(
            br.body(),
            std::fs::read(dir.0.join("style.css.br")).unwrap()
        );
        assert_eq!(br.header("content-type"), Some("text/css; charset=utf-8"));
        assert_eq!(br.header("vary"), Some("Accept-Encoding"));
        assert_eq!(br.header("accept-ranges"), None);
        assert_eq!(decoded(&br), css().as_bytes());
        let gzip = get("gzip");
        assert_eq!(gzip.header("content-encoding"), Some("gzip"));
        assert_eq!(
            gzip.body(),
            std::fs::read(dir.0.join("style.css.gz")).unwrap()
        );
        let plain = get("identity");
        assert_eq!(plain.header("content-encoding"), None);
        assert_eq!(plain.body(), css().as_bytes());
        assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
        // Three representations, three tags, and each revalidates to a 304 of its own.
        let tags = [&br, &gzip, &plain].map(|r| r.header("etag").unwrap().to_owned());
        assert!(
            tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2],
            "{tags:?}"
        );
        for (accept, tag) in [("br", &tags[0]), ("gzip", &tags[1])] {
            let again = client
                .get("/static/style.css")
                .header("accept-encoding", accept)
                .header("if-none-match", tag)
                .send();
            assert_eq!(again.status(), 304, "{accept}");
            assert_eq!(again.header("etag"), Some(tag.as_str()));
            assert_eq!(again.header("vary"), Some("Accept-Encoding"));
        }
        // A HEAD says what the GET sends.
        let head = client
            .head("/static/style.css")
            .header("accept-encoding", "br")
            .send();
        assert_eq!(head.header("content-encoding"), Some("br"));
        assert_eq!(
            head.header("content-length"),
            Some(br.body().len().to_string().as_str())
        );
    }

    #[test]
    fn ranges_stale_and_symlinked_siblings_are_not_served() {
        let dir = folder("refused");
        let client = static_client(&dir);
        let ranged = client
            .get("/static/style.css")
            .header("accept-encoding", "br")
            .header("range", "bytes=0-9")
            .send();
        assert_eq!(ranged.status(), 206);
        assert_eq!(ranged.header("content-encoding"), None);
        assert_eq!(ranged.body(), &css().as_bytes()[..10]);
        assert_eq!(ranged.header("vary"), Some("Accept-Encoding"));

        // A stale .br (older than the css): compressed on the fly instead, from the css.
        let old = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(dir.0.join("style.css.br"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        let fresh = client
            .get("/static/style.css")
            .header("accept-encoding", "br")
            .send();
        assert_eq!(fresh.header("content-encoding"), Some("br"));
        assert_ne!(
            fresh.body(),
            std::fs::read(dir.0.join("style.css.br")).unwrap()
        );
        assert_eq!(decoded(&fresh), css().as_bytes());
        let identity_tag = client
            .get("/static/style.css")
            .send()
            .header("etag")
            .unwrap()
            .to_owned();
        assert_eq!(
            fresh.header("etag"),
            Some(format!("{}-br\"", identity_tag.trim_end_matches('"')).as_str())
        );

        // A symlink named like a sibling is not followed.
        #[cfg(unix)]
        {
            std::fs::remove_file(dir.0.join("style.css.gz")).unwrap();
            std::fs::write(dir.0.join("other.gz"), b"not this").unwrap();
            std::os::unix::fs::symlink(dir.0.join("other.gz"), dir.0.join("style.css.gz")).unwrap();
            let gzip = client
                .get("/static/style.css")
                .header("accept-encoding", "gzip")
                .send();
            assert_eq!(gzip.header("content-encoding"), Some("gzip"));
            assert_eq!(gunzip(gzip.body()), css().as_bytes());
        }
    }
}
