//! Serving files: a folder under a URL prefix ([`App::static_dir`](crate::App::static_dir)),
//! and one file from a handler ([`Request::send_file`], [`Request::send_from_directory`]).
//!
//! The one rule that matters here is that no request reaches a file outside the folder:
//! paths are decoded once, every segment is checked (no `..`, `.`, empty segment, backslash
//! or NUL, so neither `%2e%2e`, `..%2f`, nor `//etc/passwd` get through), and the resolved
//! path is canonicalised and must still lie inside the canonical folder (so a symlink that
//! points out is refused too). Anything refused is a plain 404, revealing nothing.

use std::fs::Metadata;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use http::StatusCode;
use http::header::{ACCEPT_RANGES, CACHE_CONTROL, ETAG, HeaderValue, LAST_MODIFIED};

use crate::error::{Error, HttpError};
use crate::request::Request;
use crate::response::Response;

/// A folder served under a URL prefix.
#[derive(Debug)]
pub(crate) struct StaticDir {
    root: PathBuf,
}

impl StaticDir {
    /// Serves `dir`, a readable directory.
    pub(crate) fn new(dir: &Path) -> Result<Self, Error> {
        let root = dir.canonicalize().map_err(|source| Error::Directory {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Self { root })
    }

    /// Answers a GET or HEAD for the file named by the route's `filename` parameter.
    pub(crate) fn serve(&self, req: &Request<'_>) -> Response {
        let Some(path) = req
            .param("filename")
            .and_then(|relative| self.resolve(relative))
        else {
            return HttpError::not_found().into();
        };
        match std::fs::metadata(&path) {
            Ok(metadata) => Self::file_response(req, &path, &metadata),
            Err(error) => {
                log::debug!("static file {} vanished: {error}", path.display());
                HttpError::not_found().into()
            }
        }
    }

    /// Maps a decoded relative path to a file inside the folder, or `None`.
    pub(crate) fn resolve(&self, relative: &str) -> Option<PathBuf> {
        resolve_inside(&self.root, relative)
    }
}

/// Maps `relative` to a file inside `root` (canonical), or `None` if any segment is unsafe,
/// the file does not exist, or it resolves outside `root` (through a symlink, say).
fn resolve_inside(root: &Path, relative: &str) -> Option<PathBuf> {
    let mut path = root.to_path_buf();
    for segment in relative.split('/') {
        let unsafe_segment = segment.is_empty()
            || segment == "."
            || segment == ".."
            || segment.contains(['\\', '\0']);
        if unsafe_segment {
            return None;
        }
        path.push(segment);
    }
    let resolved = path.canonicalize().ok()?;
    (resolved.starts_with(root) && resolved.is_file()).then_some(resolved)
}

/// [`Request::send_file`]: the file at `path`, or a 404 (logged) if it cannot be read.
pub(crate) fn send_file(req: &Request<'_>, path: &Path) -> Response {
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_file() => StaticDir::file_response(req, path, &metadata),
        Ok(_) => {
            log::warn!("send_file: {} is not a file", path.display());
            HttpError::not_found().into()
        }
        Err(error) => {
            log::warn!("send_file: cannot read {}: {error}", path.display());
            HttpError::not_found().into()
        }
    }
}

/// [`Request::send_from_directory`]: `relative` (a path from the client) inside `dir`, with
/// the rules of [`App::static_dir`](crate::App::static_dir); a 404 for anything refused.
pub(crate) fn send_from_directory(req: &Request<'_>, dir: &Path, relative: &str) -> Response {
    let root = match dir.canonicalize() {
        Ok(root) => root,
        Err(error) => {
            log::warn!(
                "send_from_directory: cannot open {}: {error}",
                dir.display()
            );
            return HttpError::not_found().into();
        }
    };
    match resolve_inside(&root, relative) {
        Some(path) => send_file(req, &path),
        None => HttpError::not_found().into(),
    }
}

impl StaticDir {
    /// The file at `path`, or (with the `compression` feature on) its precompressed
    /// `path.br` / `path.gz` when the client takes it: its own body, length and validators,
    /// the original's Content-Type.
    fn file_response(req: &Request<'_>, path: &Path, metadata: &Metadata) -> Response {
        #[cfg(feature = "compression")]
        match crate::compression::precompressed(req, path, metadata) {
            crate::compression::Precompressed::No => {}
            crate::compression::Precompressed::Identity => {
                let mut response = Self::representation(req, path, metadata, path);
                crate::compression::mark_negotiated(&mut response);
                return response;
            }
            crate::compression::Precompressed::Sibling(sibling, coding) => {
                let (sibling_path, sibling_metadata) = &*sibling;
                let mut response = Self::representation(req, sibling_path, sibling_metadata, path);
                crate::compression::mark_precompressed(&mut response, coding);
                return response;
            }
        }
        Self::representation(req, path, metadata, path)
    }

    /// The file at `path` (whose metadata is `metadata`) with the Content-Type of
    /// `type_path`'s name.
    fn representation(
        req: &Request<'_>,
        path: &Path,
        metadata: &Metadata,
        type_path: &Path,
    ) -> Response {
        let len = metadata.len();
        let modified = metadata.modified().unwrap_or(UNIX_EPOCH);
        let etag = entity_tag(len, modified);
        let last_modified = httpdate::fmt_http_date(modified);
        let mut response = if is_not_modified(req, &etag, modified) {
            Response::new(StatusCode::NOT_MODIFIED)
        } else {
            let range = match req.method() {
                // RFC 9110 §14.2: Range is defined for GET only.
                &http::Method::GET => requested_range(req, len, &etag, &last_modified),
                _ => RangeRequest::Whole,
            };
            match Self::file_body(path, len, range) {
                Ok(response) => response,
                Err(error) => {
                    log::warn!("cannot read static file {}: {error}", path.display());
                    return HttpError::not_found().into();
                }
            }
        };
        if response.status() != StatusCode::RANGE_NOT_SATISFIABLE {
            // mime_guess only produces valid header values.
            let _ = response.set_header("content-type", &content_type_for(type_path));
        }
        let headers = response.headers_mut();
        // An entity tag and an HTTP date are always valid header values.
        if let Ok(value) = HeaderValue::from_str(&etag) {
            headers.insert(ETAG, value);
        }
        if let Ok(value) = HeaderValue::from_str(&last_modified) {
            headers.insert(LAST_MODIFIED, value);
        }
        headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        // Revalidate on every use: cheap (a 304), and edits show up on the next reload.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }

    /// The body for the whole file or one range of it: read into memory when small, else
    /// streamed from the file as the client takes it (memory stays flat for any size).
    fn file_body(path: &Path, len: u64, range: RangeRequest) -> std::io::Result<Response> {
        let (status, start, count) = match range {
            RangeRequest::Whole => (StatusCode::OK, 0, len),
            RangeRequest::Part { start, end } => {
                (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
            }
            RangeRequest::Unsatisfiable => {
                let mut response: Response = HttpError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "the requested range is not in the file",
                )
                .into();
                // RFC 9110 §14.4: the current length, so the client can ask again.
                let _ = response.set_header("content-range", &format!("bytes */{len}"));
                return Ok(response);
            }
        };
        let mut file = std::fs::File::open(path)?;
        let mut response = if count <= STREAM_THRESHOLD {
            let mut bytes = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
            file.seek(SeekFrom::Start(start))?;
            file.take(count).read_to_end(&mut bytes)?;
            Response::bytes(bytes)
        } else {
            file.seek(SeekFrom::Start(start))?;
            Response::stream(file.take(count), Some(count))
        };
        response.set_status(status);
        if status == StatusCode::PARTIAL_CONTENT {
            let end = start + count - 1;
            let _ = response.set_header("content-range", &format!("bytes {start}-{end}/{len}"));
        }
        Ok(response)
    }
}

/// Files up to this size are read whole; larger ones (or ranges) are streamed.
const STREAM_THRESHOLD: u64 = 256 * 1024;

/// What a `Range` header asks for, as far as carafe serves ranges: one range of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeRequest {
    /// No usable Range (absent, malformed, several ranges, or a stale If-Range): the whole file.
    Whole,
    /// Bytes `start..=end`, both within the file.
    Part { start: u64, end: u64 },
    /// A syntactically valid range that lies wholly past the end: 416.
    Unsatisfiable,
}

/// Reads `Range` (RFC 9110 §14.1.2) for a file of `len` bytes. Anything carafe does not serve
/// (another unit, several ranges, bad syntax) falls back to the whole file, which the RFC
/// allows; `If-Range` that no longer matches the file does the same (§13.1.5).
fn requested_range(req: &Request<'_>, len: u64, etag: &str, last_modified: &str) -> RangeRequest {
    let Some(range) = req.header("range") else {
        return RangeRequest::Whole;
    };
    if let Some(validator) = req.header("if-range") {
        // A strong comparison: the W/ of a weak tag never matches, and a date must be exact.
        if validator.trim() != etag && validator.trim() != last_modified {
            return RangeRequest::Whole;
        }
    }
    parse_range(range, len)
}

fn parse_range(header: &str, len: u64) -> RangeRequest {
    let Some((unit, spec)) = header.split_once('=') else {
        return RangeRequest::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let number = |text: &str| crate::h1::head::parse_decimal(text.as_bytes());
    match (first.is_empty(), last.is_empty()) {
        // `-n`: the last n bytes.
        (true, false) => match number(last) {
            Some(0) | None => RangeRequest::Unsatisfiable,
            Some(_) if len == 0 => RangeRequest::Unsatisfiable,
            Some(suffix) => RangeRequest::Part {
                start: len.saturating_sub(suffix),
                end: len - 1,
            },
        },
        // `a-` and `a-b`.
        (false, open_ended) => {
            let Some(start) = number(first) else {
                return RangeRequest::Whole;
            };
            let end = if open_ended {
                Some(u64::MAX)
            } else {
                number(last)
            };
            match end {
                None => RangeRequest::Whole,
                Some(end) if end < start => RangeRequest::Whole,
                Some(_) if start >= len => RangeRequest::Unsatisfiable,
                Some(end) => RangeRequest::Part {
                    start,
                    end: end.min(len - 1),
                },
            }
        }
        (true, true) => RangeRequest::Whole,
    }
}

/// A strong validator from size and modification time, like nginx's.
fn entity_tag(len: u64, modified: SystemTime) -> String {
    let since_epoch = modified.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!(
        "\"{len:x}-{:x}{:08x}\"",
        since_epoch.as_secs(),
        since_epoch.subsec_nanos()
    )
}

/// RFC 9110 §13.2.2: If-None-Match decides when present; If-Modified-Since only otherwise.
fn is_not_modified(req: &Request<'_>, etag: &str, modified: SystemTime) -> bool {
    if let Some(candidates) = req.header("if-none-match") {
        return candidates.split(',').any(|candidate| {
            let candidate = candidate.trim();
            // Weak comparison (RFC 9110 §8.8.3.2): the W/ prefix does not matter here.
            candidate == "*" || candidate.trim_start_matches("W/") == etag
        });
    }
    let Some(since) = req
        .header("if-modified-since")
        .and_then(|v| httpdate::parse_http_date(v).ok())
    else {
        return false;
    };
    // HTTP dates have whole seconds; compare at that precision.
    let seconds = |time: SystemTime| time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    seconds(modified) <= seconds(since)
}

/// The Content-Type for a file, with `charset=utf-8` for text types.
fn content_type_for(path: &Path) -> String {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let textual = mime.type_() == mime_guess::mime::TEXT
        || mime.essence_str() == "application/javascript"
        || mime.essence_str() == "application/json";
    if textual && mime.get_param("charset").is_none() {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixture {
        base: PathBuf,
        served: StaticDir,
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.base);
        }
    }

    fn fixture(name: &str) -> Fixture {
        let base =
            std::env::temp_dir().join(format!("carafe-static-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let public = base.join("public");
        std::fs::create_dir_all(public.join("css")).unwrap();
        std::fs::write(public.join("css/site.css"), "body{}").unwrap();
        std::fs::write(public.join("index.html"), "<p>hi</p>").unwrap();
        std::fs::write(base.join("secret.txt"), "secret").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(base.join("secret.txt"), public.join("escape.txt")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(public.join("index.html"), public.join("inside.html")).unwrap();
        let served = StaticDir::new(&public).unwrap();
        Fixture { base, served }
    }

    #[test]
    fn serves_files_inside_the_folder() {
        let fixture = fixture("inside");
        assert!(fixture.served.resolve("css/site.css").is_some());
        assert!(fixture.served.resolve("index.html").is_some());
        #[cfg(unix)]
        assert!(
            fixture.served.resolve("inside.html").is_some(),
            "a symlink within the folder is fine"
        );
    }

    #[test]
    fn refuses_every_way_out() {
        let fixture = fixture("escape");
        // These are decoded paths, as `Request::param` gives them: `%2e%2e` arrives as `..`
        // and `%2f` as `/`.
        let attempts = [
            "../secret.txt",
            "css/../../secret.txt",
            "./index.html",
            "/etc/passwd",
            "css//site.css",
            "css\\..\\..\\secret.txt",
            "index.html\0.css",
            "..",
            "",
            "css",
            "escape.txt",
            "missing.txt",
        ];
        for attempt in attempts {
            assert_eq!(fixture.served.resolve(attempt), None, "{attempt:?}");
        }
    }

    #[test]
    fn content_types_carry_a_charset_for_text() {
        assert_eq!(
            content_type_for(Path::new("a.css")),
            "text/css; charset=utf-8"
        );
        assert_eq!(
            content_type_for(Path::new("a.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type_for(Path::new("a.png")), "image/png");
        assert_eq!(
            content_type_for(Path::new("a.unknownext")),
            "application/octet-stream"
        );
    }

    #[test]
    fn range_table() {
        use RangeRequest::{Part, Unsatisfiable, Whole};
        let cases = [
            ("bytes=0-99", 1000, Part { start: 0, end: 99 }),
            (
                "bytes=100-",
                1000,
                Part {
                    start: 100,
                    end: 999,
                },
            ),
            (
                "bytes=-100",
                1000,
                Part {
                    start: 900,
                    end: 999,
                },
            ),
            ("bytes=-5000", 1000, Part { start: 0, end: 999 }),
            (
                "bytes=990-2000",
                1000,
                Part {
                    start: 990,
                    end: 999,
                },
            ),
            ("Bytes = 5-5", 1000, Part { start: 5, end: 5 }),
            ("bytes=1000-", 1000, Unsatisfiable),
            ("bytes=5000-6000", 1000, Unsatisfiable),
            ("bytes=-0", 1000, Unsatisfiable),
            ("bytes=0-", 0, Unsatisfiable),
            ("bytes=0-1,5-6", 1000, Whole),
            ("bytes=9-3", 1000, Whole),
            ("bytes=a-b", 1000, Whole),
            ("bytes=-", 1000, Whole),
            ("items=0-9", 1000, Whole),
            ("bytes 0-9", 1000, Whole),
            ("bytes=+1-2", 1000, Whole),
        ];
        for (header, len, expected) in cases {
            assert_eq!(parse_range(header, len), expected, "{header} of {len}");
        }
    }

    #[test]
    fn entity_tags_change_with_size_and_time() {
        let time = UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_ne!(entity_tag(1, time), entity_tag(2, time));
        assert_ne!(
            entity_tag(1, time),
            entity_tag(1, time + std::time::Duration::from_nanos(1))
        );
    }
}
