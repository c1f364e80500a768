//! Serving a folder of static files: [`App::static_dir`](crate::App::static_dir).
//!
//! The one rule that matters here is that no request reaches a file outside the folder:
//! paths are decoded once, every segment is checked (no `..`, `.`, empty segment, backslash
//! or NUL, so neither `%2e%2e`, `..%2f`, nor `//etc/passwd` get through), and the resolved
//! path is canonicalised and must still lie inside the canonical folder (so a symlink that
//! points out is refused too). Anything refused is a plain 404, revealing nothing.

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use http::StatusCode;
use http::header::{CACHE_CONTROL, ETAG, HeaderValue, LAST_MODIFIED};

use crate::error::{Error, HttpError};
use crate::request::Request;
use crate::response::Response;
use crate::template::check_directory;

/// A folder served under a URL prefix.
#[derive(Debug)]
pub(crate) struct StaticDir {
    root: PathBuf,
}

impl StaticDir {
    /// Serves `dir`, which must be a readable directory.
    pub(crate) fn new(dir: &Path) -> Result<Self, Error> {
        check_directory(dir)?;
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
        let mut path = self.root.clone();
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
        (resolved.starts_with(&self.root) && resolved.is_file()).then_some(resolved)
    }

    fn file_response(req: &Request<'_>, path: &Path, metadata: &Metadata) -> Response {
        let modified = metadata.modified().unwrap_or(UNIX_EPOCH);
        let etag = entity_tag(metadata.len(), modified);
        let last_modified = httpdate::fmt_http_date(modified);
        let mut response = if is_not_modified(req, &etag, modified) {
            Response::new(StatusCode::NOT_MODIFIED)
        } else {
            match std::fs::read(path) {
                Ok(bytes) => {
                    let mut response = Response::bytes(bytes);
                    let content_type = content_type_for(path);
                    // mime_guess only produces valid header values.
                    let _ = response.set_header("content-type", &content_type);
                    response
                }
                Err(error) => {
                    log::warn!("cannot read static file {}: {error}", path.display());
                    return HttpError::not_found().into();
                }
            }
        };
        let headers = response.headers_mut();
        // An entity tag and an HTTP date are always valid header values.
        if let Ok(value) = HeaderValue::from_str(&etag) {
            headers.insert(ETAG, value);
        }
        if let Ok(value) = HeaderValue::from_str(&last_modified) {
            headers.insert(LAST_MODIFIED, value);
        }
        // Revalidate on every use: cheap (a 304), and edits show up on the next reload.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
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
    fn entity_tags_change_with_size_and_time() {
        let time = UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_ne!(entity_tag(1, time), entity_tag(2, time));
        assert_ne!(
            entity_tag(1, time),
            entity_tag(1, time + std::time::Duration::from_nanos(1))
        );
    }
}
