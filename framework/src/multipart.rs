//! `multipart/form-data` bodies (RFC 7578): [`Multipart`], its text fields and its
//! [`UploadedFile`]s.
//!
//! carafe reads the whole body before a handler runs, so this parser is one pass over a
//! complete slice, and every field name, value and file borrows the request body: nothing is
//! copied unless it had to be decoded (a quoted-string escape, `filename*`, invalid UTF-8).
//!
//! It is written here, on `memchr::memmem` (delimiter search) and `httparse::parse_headers`
//! (part headers), because no maintained crate parses a complete in-memory body
//! synchronously: `multer`, the maintained one, is an async stream parser that would need a
//! stream adapter, an executor and a copy of the body into `Bytes`; `multipart` is
//! unmaintained and tied to hyper 0.10; the small sans-IO crates are young one-author
//! projects. What is left to write is about 200 lines of framing and RFC 9110 parameters.
//!
//! Strictness (RFC 2046 §5.1.1, as Werkzeug reads it): a delimiter is CRLF, `--`, the boundary,
//! then `--` (the end) or optional spaces/tabs and CRLF; the same bytes followed by anything
//! else are data. Content before the first boundary (the preamble) and after the last (the
//! epilogue) is ignored. Syntax errors are 400, limits 413; nothing here panics on input.

use std::borrow::Cow;
use std::fmt;

use memchr::memmem;

use crate::error::MultipartError;
use crate::form::Form;
use crate::media_type::{ParameterError, Parameters, split_parameters};

impl From<ParameterError> for MultipartError {
    fn from(error: ParameterError) -> Self {
        MultipartError::Malformed(error.0)
    }
}

/// The limits a body is parsed under, from [`Config`](crate::Config). A part's header section
/// has a request head's limits (browsers send one or two fields, about 150 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MultipartLimits {
    /// Parts, fields and files together (`max_form_parts`).
    pub max_parts: usize,
    /// Bytes of one file (`max_file_size`).
    pub max_file_size: u64,
    /// Bytes of one part's header section (`max_head_size`).
    pub max_part_head: usize,
    /// Fields in one part's header section (`max_headers`).
    pub max_part_headers: usize,
}

impl MultipartLimits {
    /// The limits of `config`.
    pub(crate) fn from_config(config: &crate::Config) -> Self {
        Self {
            max_parts: config.max_form_parts,
            max_file_size: config.max_file_size,
            max_part_head: config.max_head_size,
            max_part_headers: config.max_headers,
        }
    }
}

/// Longest boundary RFC 2046 allows.
const MAX_BOUNDARY_LEN: usize = 70;

/// A parsed `multipart/form-data` body: the text fields (as a [`Form`]) and the uploaded
/// files, in the order sent. Get it from [`Request::multipart`](crate::Request::multipart).
///
/// A part with a `filename` parameter in its `Content-Disposition` is a file, even when the
/// filename is empty (a browser's file input with no file chosen sends `filename=""`); every
/// other part is a text field, decoded as UTF-8 with invalid bytes replaced by U+FFFD.
///
/// ```
/// use carafe::testing::{MultipartBody, TestClient};
/// use carafe::{route, App, HttpError, Request};
///
/// fn upload(req: &Request) -> Result<String, HttpError> {
///     let upload = req.multipart()?; // 415 unless multipart, 400 if malformed, 413 over a limit
///     let note = upload.form().get("note").unwrap_or("");
///     let names: Vec<&str> = upload.files().iter().map(|file| file.filename()).collect();
///     Ok(format!("{note}: {}", names.join(", ")))
/// }
///
/// let mut app = App::new();
/// route!(app, POST "/upload" => upload).unwrap();
/// let body = MultipartBody::new()
///     .text("note", "holiday")
///     .file("photos", "beach.jpg", "image/jpeg", b"\xFF\xD8...".to_vec())
///     .file("photos", "sunset.jpg", "image/jpeg", b"\xFF\xD8...".to_vec());
/// let response = TestClient::new(app).post("/upload").multipart(body).send();
/// assert_eq!(response.text(), "holiday: beach.jpg, sunset.jpg");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Multipart<'a> {
    form: Form<'a>,
    files: Vec<UploadedFile<'a>>,
}

impl<'a> Multipart<'a> {
    /// Parses `body` as `multipart/form-data` with the boundary from `content_type` (the
    /// request's `Content-Type`), under `limits`.
    pub(crate) fn parse(
        content_type: Option<&str>,
        body: &'a [u8],
        limits: &MultipartLimits,
    ) -> Result<Self, MultipartError> {
        let boundary = boundary(content_type.ok_or(MultipartError::NotMultipart)?)?;
        let delimiter = [b"\r\n--".as_slice(), &boundary].concat();
        let scanner = Scanner {
            body,
            delimiter: &delimiter,
            finder: memmem::Finder::new(&delimiter),
        };
        let mut multipart = Multipart::default();
        let mut line = scanner
            .opening()
            .ok_or(MultipartError::Malformed("no boundary line opens the body"))?;
        let mut parts = 0;
        // One array of header slots for every part's head, sized by the limit.
        let mut storage = vec![httparse::EMPTY_HEADER; limits.max_part_headers];
        while let BoundaryLine::Part(start) = line {
            parts += 1;
            if parts > limits.max_parts {
                return Err(MultipartError::TooManyParts(limits.max_parts));
            }
            let (end, next) = scanner
                .next_delimiter(start)
                .ok_or(MultipartError::Malformed(
                    "the body ends inside a part, without a closing boundary",
                ))?;
            multipart.add_part(&body[start..end], limits, &mut storage)?;
            line = next;
        }
        Ok(multipart)
    }

    fn add_part(
        &mut self,
        part: &'a [u8],
        limits: &MultipartLimits,
        storage: &mut [httparse::Header<'a>],
    ) -> Result<(), MultipartError> {
        let max_file_size = limits.max_file_size;
        let head = PartHead::parse(part, limits.max_part_head, storage)?;
        let bytes = &part[head.len..];
        match head.filename {
            Some(filename) => {
                if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > max_file_size {
                    return Err(MultipartError::FileTooLarge {
                        field: head.name.into_owned(),
                        limit: max_file_size,
                    });
                }
                self.files.push(UploadedFile {
                    name: head.name,
                    filename,
                    content_type: head.content_type,
                    bytes,
                });
            }
            None => self.form.push(head.name, String::from_utf8_lossy(bytes)),
        }
        Ok(())
    }

    /// The text fields (parts without a filename), repeated names kept, like Flask's
    /// `request.form` for a multipart body.
    ///
    /// ```
    /// # use carafe::testing::{MultipartBody, TestClient};
    /// # let mut app = carafe::App::new();
    /// carafe::route!(app, POST "/" => |req| {
    ///     let form = req.multipart()?.form();
    ///     Ok::<_, carafe::HttpError>(format!("{:?} {:?}", form.get("title"), form.get_all("tag")))
    /// }).unwrap();
    /// # let body = MultipartBody::new().text("title", "Notes").text("tag", "a").text("tag", "b");
    /// # let text = TestClient::new(app).post("/").multipart(body).send().text();
    /// # assert_eq!(text, r#"Some("Notes") ["a", "b"]"#);
    /// ```
    pub fn form(&self) -> &Form<'a> {
        &self.form
    }

    /// The first file sent in field `name` (Flask's `request.files.get(name)`).
    ///
    /// ```
    /// # use carafe::testing::{MultipartBody, TestClient};
    /// # let mut app = carafe::App::new();
    /// carafe::route!(app, POST "/avatar" => |req| {
    ///     let upload = req.multipart()?;
    ///     let file = upload.file("avatar").ok_or_else(|| carafe::HttpError::bad_request("no avatar"))?;
    ///     Ok::<_, carafe::HttpError>(format!("{} bytes", file.len()))
    /// }).unwrap();
    /// # let body = MultipartBody::new().file("avatar", "me.png", "image/png", vec![0; 42]);
    /// # let text = TestClient::new(app).post("/avatar").multipart(body).send().text();
    /// # assert_eq!(text, "42 bytes");
    /// ```
    pub fn file(&self, name: &str) -> Option<&UploadedFile<'a>> {
        self.files.iter().find(|file| file.name == name)
    }

    /// Every file sent in field `name`, in order (an `<input type="file" multiple>`; Flask's
    /// `request.files.getlist(name)`).
    ///
    /// ```
    /// # use carafe::testing::{MultipartBody, TestClient};
    /// # let mut app = carafe::App::new();
    /// carafe::route!(app, POST "/" => |req| {
    ///     let total: usize = req.multipart()?.files_named("photos").map(|file| file.len()).sum();
    ///     Ok::<_, carafe::HttpError>(format!("{total} bytes"))
    /// }).unwrap();
    /// # let body = MultipartBody::new()
    /// #     .file("photos", "a.jpg", "image/jpeg", vec![1; 3])
    /// #     .file("other", "b.jpg", "image/jpeg", vec![1; 5])
    /// #     .file("photos", "c.jpg", "image/jpeg", vec![1; 4]);
    /// # assert_eq!(TestClient::new(app).post("/").multipart(body).send().text(), "7 bytes");
    /// ```
    pub fn files_named<'s>(
        &'s self,
        name: &'s str,
    ) -> impl Iterator<Item = &'s UploadedFile<'a>> + 's {
        self.files.iter().filter(move |file| file.name == name)
    }

    /// Every file, whatever its field, in the order sent.
    ///
    /// ```
    /// # use carafe::testing::{MultipartBody, TestClient};
    /// # let mut app = carafe::App::new();
    /// carafe::route!(app, POST "/" => |req| {
    ///     let fields: Vec<&str> = req.multipart()?.files().iter().map(|file| file.name()).collect();
    ///     Ok::<_, carafe::HttpError>(fields.join(" "))
    /// }).unwrap();
    /// # let body = MultipartBody::new().file("cv", "cv.pdf", "application/pdf", b"%PDF".to_vec()).text("x", "y")
    /// #     .file("letter", "l.txt", "text/plain", b"hi".to_vec());
    /// # assert_eq!(TestClient::new(app).post("/").multipart(body).send().text(), "cv letter");
    /// ```
    pub fn files(&self) -> &[UploadedFile<'a>] {
        &self.files
    }
}

/// One uploaded file of a [`Multipart`] body. Its bytes borrow the request body.
///
/// ```
/// # use carafe::testing::{MultipartBody, TestClient};
/// # let mut app = carafe::App::new();
/// carafe::route!(app, POST "/upload" => |req| {
///     let upload = req.multipart()?;
///     let Some(file) = upload.file("doc").filter(|file| !file.filename().is_empty()) else {
///         return Err(carafe::HttpError::bad_request("choose a file"));
///     };
///     Ok(format!(
///         "{} as {:?}, {} bytes of {}",
///         file.filename(),
///         file.safe_filename(),
///         file.len(),
///         file.content_type().unwrap_or("unknown type")
///     ))
/// }).unwrap();
/// # let body = MultipartBody::new().file("doc", "../../etc/passwd", "text/plain", b"root:x:0:0".to_vec());
/// # let text = TestClient::new(app).post("/upload").multipart(body).send().text();
/// # assert_eq!(text, r#"../../etc/passwd as Some("passwd"), 10 bytes of text/plain"#);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct UploadedFile<'a> {
    name: Cow<'a, str>,
    filename: Cow<'a, str>,
    content_type: Option<&'a str>,
    bytes: &'a [u8],
}

impl<'a> UploadedFile<'a> {
    /// The form field's name (`name` in the part's `Content-Disposition`).
    ///
    /// ```
    /// fn field(file: &carafe::UploadedFile) -> String {
    ///     format!("sent in field {:?}", file.name())
    /// }
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The filename as the client sent it: `filename*` (RFC 5987, UTF-8 or ISO-8859-1) when
    /// present, else `filename`. It may hold a path, `..`, or be empty when a browser's file
    /// input had no file chosen. Show it escaped; to name a file on disk, use
    /// [`safe_filename`](Self::safe_filename).
    ///
    /// ```
    /// fn chosen(file: &carafe::UploadedFile) -> bool {
    ///     !file.filename().is_empty()
    /// }
    /// ```
    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// The filename's last path component (after any `/` or `\`), without control and
    /// text-direction characters (NUL, CR, LF, U+202E...) and without leading or trailing
    /// dots and spaces, so that it cannot climb out of a folder, hide itself (`.htaccess`) or
    /// disguise its extension. `None` when nothing is left (`""`, `..`, `/`). Long names are
    /// not shortened, and two uploads may give the same name: prefer names you generate.
    ///
    /// ```
    /// # use carafe::testing::{MultipartBody, TestClient};
    /// # let mut app = carafe::App::new();
    /// # carafe::route!(app, POST "/" => |req| {
    /// #     let names: Vec<Option<String>> = req.multipart()?.files().iter().map(|f| f.safe_filename()).collect();
    /// #     Ok::<_, carafe::HttpError>(format!("{names:?}"))
    /// # }).unwrap();
    /// # let body = MultipartBody::new()
    /// #     .file("f", "C:\\Users\\ada\\report.pdf", "application/pdf", vec![])
    /// #     .file("f", "../../.bashrc", "text/plain", vec![])
    /// #     .file("f", "..", "text/plain", vec![]);
    /// # let text = TestClient::new(app).post("/").multipart(body).send().text();
    /// // "C:\Users\ada\report.pdf" → Some("report.pdf"), "../../.bashrc" → Some("bashrc"), ".." → None
    /// # assert_eq!(text, r#"[Some("report.pdf"), Some("bashrc"), None]"#);
    /// ```
    pub fn safe_filename(&self) -> Option<String> {
        let last = self.filename.rsplit(['/', '\\']).next().unwrap_or_default();
        let visible: String = last.chars().filter(|&c| !is_hidden_char(c)).collect();
        let trimmed = visible.trim_matches(|c: char| c == '.' || c.is_whitespace());
        (!trimmed.is_empty()).then(|| trimmed.to_owned())
    }

    /// The part's `Content-Type` as sent (browsers guess it from the extension: do not trust
    /// it), or `None` if the part had none.
    ///
    /// ```
    /// fn is_png(file: &carafe::UploadedFile) -> bool {
    ///     file.content_type() == Some("image/png") && file.bytes().starts_with(b"\x89PNG")
    /// }
    /// ```
    pub fn content_type(&self) -> Option<&str> {
        self.content_type
    }

    /// The file's contents, borrowed from the request body.
    ///
    /// ```
    /// fn save(file: &carafe::UploadedFile, path: &std::path::Path) -> std::io::Result<()> {
    ///     std::fs::write(path, file.bytes())
    /// }
    /// ```
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The file's size in bytes.
    ///
    /// ```
    /// fn size(file: &carafe::UploadedFile) -> String {
    ///     format!("{} bytes", file.len())
    /// }
    /// ```
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the file is empty (as it is when no file was chosen).
    ///
    /// ```
    /// fn check(file: &carafe::UploadedFile) -> Result<(), carafe::HttpError> {
    ///     if file.is_empty() {
    ///         return Err(carafe::HttpError::bad_request("the file is empty"));
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl fmt::Debug for UploadedFile<'_> {
    /// The size rather than the bytes, which may be megabytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadedFile")
            .field("name", &self.name)
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Characters that `safe_filename` drops: controls (NUL, CR, LF...) and the invisible
/// direction marks that can make `gpj.exe` display as `exe.jpg`.
fn is_hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// What follows a boundary: a part whose content starts at the offset, or the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BoundaryLine {
    Part(usize),
    Close,
}

/// Finds delimiters (`\r\n--boundary`) in a body.
struct Scanner<'a, 'd> {
    body: &'a [u8],
    /// `\r\n--boundary`.
    delimiter: &'d [u8],
    finder: memmem::Finder<'d>,
}

impl Scanner<'_, '_> {
    /// The first boundary line: at the very start of the body (no CRLF before it) or after
    /// a preamble.
    fn opening(&self) -> Option<BoundaryLine> {
        let dash_boundary = &self.delimiter[2..];
        if self.body.starts_with(dash_boundary)
            && let Some(line) = self.boundary_line(dash_boundary.len())
        {
            return Some(line);
        }
        self.next_delimiter(0).map(|(_, line)| line)
    }

    /// The first delimiter at or after `from`: where it starts (the part before it ends
    /// there) and what its line says. A match not followed by `--` or padding and CRLF is
    /// part of the data, so the search goes on past it.
    fn next_delimiter(&self, from: usize) -> Option<(usize, BoundaryLine)> {
        let rest = self.body.get(from..)?;
        self.finder.find_iter(rest).find_map(|offset| {
            let start = from + offset;
            self.boundary_line(start + self.delimiter.len())
                .map(|line| (start, line))
        })
    }

    /// Reads the rest of a boundary line whose boundary ends at `after`: `--` closes the body
    /// (whatever follows is the epilogue); spaces or tabs then CRLF start a part.
    fn boundary_line(&self, after: usize) -> Option<BoundaryLine> {
        let rest = self.body.get(after..)?;
        if rest.starts_with(b"--") {
            return Some(BoundaryLine::Close);
        }
        let padding = rest
            .iter()
            .take_while(|&&byte| byte == b' ' || byte == b'\t')
            .count();
        rest[padding..]
            .starts_with(b"\r\n")
            .then_some(BoundaryLine::Part(after + padding + 2))
    }
}

/// What a part's header section says.
struct PartHead<'a> {
    /// Length of the header section, blank line included.
    len: usize,
    name: Cow<'a, str>,
    filename: Option<Cow<'a, str>>,
    content_type: Option<&'a str>,
}

impl<'a> PartHead<'a> {
    /// Reads the header section at the start of `part`: at most `max_size` bytes, and as many
    /// fields as `storage` has slots.
    fn parse(
        part: &'a [u8],
        max_size: usize,
        storage: &mut [httparse::Header<'a>],
    ) -> Result<Self, MultipartError> {
        let window = &part[..part.len().min(max_size)];
        storage.fill(httparse::EMPTY_HEADER);
        let (len, fields) = match httparse::parse_headers(window, storage) {
            Ok(httparse::Status::Complete(parsed)) => parsed,
            Ok(httparse::Status::Partial) if part.len() > max_size => {
                return Err(MultipartError::PartHeadTooLarge(max_size));
            }
            Ok(httparse::Status::Partial) => {
                return Err(MultipartError::Malformed(
                    "a part's headers do not end with a blank line",
                ));
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err(MultipartError::TooManyPartHeaders(storage.len()));
            }
            Err(_) => return Err(MultipartError::Malformed("invalid part header")),
        };
        let mut disposition = None;
        let mut content_type = None;
        for field in fields {
            let slot = if field.name.eq_ignore_ascii_case("content-disposition") {
                &mut disposition
            } else if field.name.eq_ignore_ascii_case("content-type") {
                &mut content_type
            } else {
                continue;
            };
            if slot.replace(field.value).is_some() {
                return Err(MultipartError::Malformed("a part header is repeated"));
            }
        }
        let disposition = disposition.ok_or(MultipartError::Malformed(
            "a part has no Content-Disposition",
        ))?;
        let (name, filename) = parse_disposition(disposition)?;
        let content_type = content_type
            .map(|value| std::str::from_utf8(value).map(str::trim))
            .transpose()
            .map_err(|_| MultipartError::Malformed("a part's Content-Type is not UTF-8"))?
            .filter(|value| !value.is_empty());
        Ok(Self {
            len,
            name,
            filename,
            content_type,
        })
    }
}

/// The `name` and `filename` of a part's `Content-Disposition: form-data; name=...`.
fn parse_disposition(value: &[u8]) -> Result<(Cow<'_, str>, Option<Cow<'_, str>>), MultipartError> {
    let (kind, parameters) = split_parameters(value);
    if !kind.eq_ignore_ascii_case(b"form-data") {
        return Err(MultipartError::Malformed(
            "a part's Content-Disposition is not form-data",
        ));
    }
    let (mut name, mut filename, mut extended_filename) = (None, None, None);
    for parameter in Parameters(parameters) {
        let (key, value) = parameter?;
        let slot = if key.eq_ignore_ascii_case(b"name") {
            &mut name
        } else if key.eq_ignore_ascii_case(b"filename") {
            &mut filename
        } else if key.eq_ignore_ascii_case(b"filename*") {
            &mut extended_filename
        } else {
            continue;
        };
        if slot.replace(value).is_some() {
            return Err(MultipartError::Malformed(
                "a Content-Disposition parameter is repeated",
            ));
        }
    }
    let name = name.ok_or(MultipartError::Malformed("a part has no name"))?;
    // RFC 6266 §4.3: `filename*` wins; one in a charset we cannot read falls back to `filename`.
    let filename = match (extended_filename, filename) {
        (Some(extended), plain) => match decode_extended_value(&extended)? {
            Some(decoded) => Some(Cow::Owned(decoded)),
            None => Some(plain.map(lossy_utf8).ok_or(MultipartError::Malformed(
                "filename* is in a charset other than UTF-8 or ISO-8859-1",
            ))?),
        },
        (None, plain) => plain.map(lossy_utf8),
    };
    Ok((lossy_utf8(name), filename))
}

/// An RFC 5987 `ext-value` (`UTF-8''%E2%82%AC%20rates.txt`), decoded; `None` for a charset
/// other than UTF-8 and ISO-8859-1.
fn decode_extended_value(value: &[u8]) -> Result<Option<String>, MultipartError> {
    let mut pieces = value.splitn(3, |&byte| byte == b'\'');
    let (Some(charset), Some(_language), Some(encoded)) =
        (pieces.next(), pieces.next(), pieces.next())
    else {
        return Err(MultipartError::Malformed(
            "filename* is not charset'language'value",
        ));
    };
    let decoded: Vec<u8> = percent_encoding::percent_decode(encoded).collect();
    if charset.eq_ignore_ascii_case(b"utf-8") {
        String::from_utf8(decoded)
            .map(Some)
            .map_err(|_| MultipartError::Malformed("filename* is not valid UTF-8"))
    } else if charset.eq_ignore_ascii_case(b"iso-8859-1") {
        Ok(Some(decoded.into_iter().map(char::from).collect()))
    } else {
        Ok(None)
    }
}

/// Bytes as text, invalid UTF-8 replaced by U+FFFD, borrowed where they were borrowed.
fn lossy_utf8(bytes: Cow<'_, [u8]>) -> Cow<'_, str> {
    match bytes {
        Cow::Borrowed(bytes) => String::from_utf8_lossy(bytes),
        Cow::Owned(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Cow::Owned(text),
            Err(error) => Cow::Owned(String::from_utf8_lossy(error.as_bytes()).into_owned()),
        },
    }
}

/// The boundary parameter of a `multipart/form-data` Content-Type; 415 for another type.
fn boundary(content_type: &str) -> Result<Cow<'_, [u8]>, MultipartError> {
    let (essence, parameters) = split_parameters(content_type.as_bytes());
    if !essence.eq_ignore_ascii_case(b"multipart/form-data") {
        return Err(MultipartError::NotMultipart);
    }
    let mut boundary = None;
    for parameter in Parameters(parameters) {
        let (key, value) = parameter?;
        if key.eq_ignore_ascii_case(b"boundary") && boundary.replace(value).is_some() {
            return Err(MultipartError::Malformed(
                "the boundary parameter is repeated",
            ));
        }
    }
    let boundary = boundary.ok_or(MultipartError::Malformed(
        "the Content-Type has no boundary parameter",
    ))?;
    if !is_valid_boundary(&boundary) {
        return Err(MultipartError::Malformed(
            "the boundary is not 1 to 70 characters of RFC 2046",
        ));
    }
    Ok(boundary)
}

/// RFC 2046 §5.1.1: 1 to 70 `bchars`, the last one not a space.
fn is_valid_boundary(boundary: &[u8]) -> bool {
    (1..=MAX_BOUNDARY_LEN).contains(&boundary.len())
        && boundary.last() != Some(&b' ')
        && boundary
            .iter()
            .all(|&byte| byte.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&byte))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    const CT: &str = "multipart/form-data; boundary=XyZ";
    const NO_LIMIT: u64 = u64::MAX;
    /// The limits these tests run with.
    pub(super) const MAX_PARTS: usize = 100;
    const MAX_PART_HEAD_SIZE: usize = 8 * 1024;
    const MAX_PART_HEADERS: usize = 16;
    pub(super) const LIMITS: MultipartLimits = MultipartLimits {
        max_parts: MAX_PARTS,
        max_file_size: NO_LIMIT,
        max_part_head: MAX_PART_HEAD_SIZE,
        max_part_headers: MAX_PART_HEADERS,
    };

    /// [`LIMITS`] with a file limit.
    pub(super) fn with_file_limit(max_file_size: u64) -> MultipartLimits {
        MultipartLimits {
            max_file_size,
            ..LIMITS
        }
    }

    fn parse<'a>(content_type: &str, body: &'a [u8]) -> Result<Multipart<'a>, MultipartError> {
        Multipart::parse(Some(content_type), body, &LIMITS)
    }

    /// `(name, filename, content type, bytes)` of every file.
    fn files<'m>(
        multipart: &'m Multipart<'_>,
    ) -> Vec<(&'m str, &'m str, Option<&'m str>, &'m [u8])> {
        multipart
            .files()
            .iter()
            .map(|file| {
                (
                    file.name(),
                    file.filename(),
                    file.content_type(),
                    file.bytes(),
                )
            })
            .collect()
    }

    fn fields<'m>(multipart: &'m Multipart<'_>) -> Vec<(&'m str, &'m str)> {
        multipart.form().iter().collect()
    }

    fn status(result: Result<Multipart<'_>, MultipartError>) -> u16 {
        match result {
            Ok(multipart) => panic!("expected an error, parsed {multipart:?}"),
            Err(error) => error.status().as_u16(),
        }
    }

    #[test]
    fn a_browser_form_with_fields_and_files() {
        // As Chromium sends it: a text field, two files in one field, an empty file input.
        let content_type = "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW";
        let body = b"------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n\
            Content-Disposition: form-data; name=\"note\"\r\n\
            \r\n\
            hello, world\r\n\
            ------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n\
            Content-Disposition: form-data; name=\"docs\"; filename=\"a.txt\"\r\n\
            Content-Type: text/plain\r\n\
            \r\n\
            first file\r\n\
            ------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n\
            Content-Disposition: form-data; name=\"docs\"; filename=\"b.bin\"\r\n\
            Content-Type: application/octet-stream\r\n\
            \r\n\
            \x00\x01\x02\r\n\
            ------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n\
            Content-Disposition: form-data; name=\"note\"\r\n\
            \r\n\
            second note\r\n\
            ------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n\
            Content-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n\
            Content-Type: application/octet-stream\r\n\
            \r\n\
            \r\n\
            ------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n";
        let multipart = parse(content_type, body).unwrap();
        assert_eq!(
            fields(&multipart),
            [("note", "hello, world"), ("note", "second note")]
        );
        assert_eq!(
            files(&multipart),
            [
                (
                    "docs",
                    "a.txt",
                    Some("text/plain"),
                    b"first file".as_slice()
                ),
                (
                    "docs",
                    "b.bin",
                    Some("application/octet-stream"),
                    b"\x00\x01\x02"
                ),
                ("empty", "", Some("application/octet-stream"), b""),
            ]
        );
        assert_eq!(
            multipart.file("docs").map(UploadedFile::filename),
            Some("a.txt")
        );
        assert_eq!(multipart.files_named("docs").count(), 2);
        assert!(
            multipart.file("note").is_none(),
            "text fields are not files"
        );
        assert!(multipart.file("empty").is_some_and(UploadedFile::is_empty));
    }

    #[test]
    fn file_bytes_borrow_the_body() {
        let body =
            b"--XyZ\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\ndata\r\n--XyZ--";
        let multipart = parse(CT, body).unwrap();
        let file = multipart.file("f").unwrap();
        assert!(body.as_ptr_range().contains(&file.bytes().as_ptr()));
        assert!(matches!(file.name, Cow::Borrowed(_)));
        assert!(matches!(file.filename, Cow::Borrowed(_)));
    }

    #[test]
    fn binary_content_with_crlf_and_boundary_like_bytes() {
        let tricky: &[u8] =
            b"\r\n\r\n--XyZ!\r\n--XyZ \tx\r\n--Xy\r\n--xyz\r\n\r\n--XyZ\x00\xff\r\n--";
        let mut body =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"bin\"; filename=\"b\"\r\n\r\n"
                .to_vec();
        body.extend_from_slice(tricky);
        body.extend_from_slice(b"\r\n--XyZ--\r\n");
        let multipart = parse(CT, &body).unwrap();
        assert_eq!(multipart.file("bin").unwrap().bytes(), tricky);
    }

    #[test]
    fn boundaries_quoted_unquoted_and_in_any_case() {
        let cases: &[(&str, &[u8])] = &[
            ("multipart/form-data; boundary=simple", b"--simple"),
            ("multipart/form-data;boundary=\"quoted\"", b"--quoted"),
            (
                "Multipart/Form-Data; BOUNDARY=\"with space:and'(more)?\"",
                b"--with space:and'(more)?",
            ),
            (
                "multipart/form-data ; charset=utf-8; boundary = \"b\" ;",
                b"--b",
            ),
            (
                "multipart/form-data; boundary=\"esc\\\"aped\"",
                b"--esc\"aped",
            ),
        ];
        for (content_type, dash_boundary) in cases {
            let mut body = dash_boundary.to_vec();
            body.extend_from_slice(b"\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n");
            body.extend_from_slice(dash_boundary);
            body.extend_from_slice(b"--");
            let result = parse(content_type, &body);
            if dash_boundary.contains(&b'"') {
                // `"` is not a bchar: a quoted-string can carry it, RFC 2046 forbids it.
                assert_eq!(status(result), 400, "{content_type}");
                continue;
            }
            let multipart = result.unwrap_or_else(|error| panic!("{content_type}: {error}"));
            assert_eq!(fields(&multipart), [("a", "1")], "{content_type}");
        }
    }

    #[test]
    fn preamble_epilogue_padding_and_empty_forms() {
        let body = b"This is the preamble.\r\n--XyZ \t\r\n\
            Content-Disposition: form-data; name=a\r\n\r\n1\r\n\
            --XyZ\r\nContent-Disposition: form-data; name=b\r\n\r\n\r\n\
            --XyZ--  \r\nThis is the epilogue.\r\n--XyZ\r\nignored";
        let multipart = parse(CT, body).unwrap();
        assert_eq!(fields(&multipart), [("a", "1"), ("b", "")]);

        // A preamble line that starts like the boundary, then the real opening line.
        let body = b"--XyZ is not a boundary line\r\n--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ--";
        assert_eq!(fields(&parse(CT, body).unwrap()), [("a", "1")]);

        for body in [
            b"--XyZ--".as_slice(),
            b"--XyZ--\r\n",
            b"preamble\r\n--XyZ--",
        ] {
            let multipart = parse(CT, body).unwrap();
            assert!(multipart.form().is_empty() && multipart.files().is_empty());
        }
    }

    #[test]
    fn filenames_quoted_escaped_and_extended() {
        let cases: &[(&str, &str)] = &[
            (r#"filename="plain.txt""#, "plain.txt"),
            (r#"filename=unquoted.txt"#, "unquoted.txt"),
            (r#"FileName="a \"quoted\" name""#, r#"a "quoted" name"#),
            (r#"filename="back\\slash""#, r"back\slash"),
            (r#"filename="C:\Users\ada\cv.pdf""#, r"C:\Users\ada\cv.pdf"),
            (r#"filename="semi;colon.txt""#, "semi;colon.txt"),
            ("filename=\"r\u{e9}sum\u{e9}.pdf\"", "r\u{e9}sum\u{e9}.pdf"),
            (
                r#"filename="EUR rates.txt"; filename*=UTF-8''%E2%82%AC%20rates.txt"#,
                "\u{20ac} rates.txt",
            ),
            (r#"filename*=utf-8'en'%E2%82%AC.txt"#, "\u{20ac}.txt"),
            (r#"filename*=ISO-8859-1''caf%E9.txt"#, "caf\u{e9}.txt"),
            (
                r#"filename="fallback.txt"; filename*=KOI8-R''%C1.txt"#,
                "fallback.txt",
            ),
        ];
        for (parameters, expected) in cases {
            let body = format!(
                "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; {parameters}\r\n\r\nx\r\n--XyZ--"
            );
            let multipart =
                parse(CT, body.as_bytes()).unwrap_or_else(|error| panic!("{parameters}: {error}"));
            assert_eq!(
                multipart.file("f").map(UploadedFile::filename),
                Some(*expected),
                "{parameters}"
            );
        }
    }

    #[test]
    fn non_utf8_text_is_replaced_not_fatal() {
        let body =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"caf\xe9\"\r\n\r\n\xff\xfe\r\n--XyZ--";
        let multipart = parse(CT, body).unwrap();
        assert_eq!(fields(&multipart), [("caf\u{fffd}", "\u{fffd}\u{fffd}")]);
    }

    #[test]
    fn malformed_bodies_are_400() {
        let part = "Content-Disposition: form-data; name=a\r\n\r\n1";
        let cases: &[(&str, String)] = &[
            ("no opening boundary", "just some bytes".into()),
            ("empty body", String::new()),
            ("wrong boundary", format!("--other\r\n{part}\r\n--other--")),
            ("no closing boundary", format!("--XyZ\r\n{part}")),
            ("ends after a delimiter", format!("--XyZ\r\n{part}\r\n--XyZ")),
            ("ends inside the padding", format!("--XyZ\r\n{part}\r\n--XyZ  ")),
            ("closing without CRLF before it", format!("--XyZ\r\n{part}--XyZ--")),
            ("headers not ended", "--XyZ\r\nContent-Disposition: form-data; name=a\r\n--XyZ--".into()),
            ("no headers at all", "--XyZ\r\n\r\n1\r\n--XyZ--".into()),
            ("empty part", "--XyZ\r\n\r\n--XyZ--".into()),
            ("header without colon", "--XyZ\r\nContent-Disposition form-data\r\n\r\n1\r\n--XyZ--".into()),
            ("obs-fold", "--XyZ\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\n1\r\n--XyZ--".into()),
            ("not form-data", "--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\n1\r\n--XyZ--".into()),
            ("no name", "--XyZ\r\nContent-Disposition: form-data; filename=a\r\n\r\n1\r\n--XyZ--".into()),
            ("unclosed quote", "--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\n1\r\n--XyZ--".into()),
            ("junk after quote", "--XyZ\r\nContent-Disposition: form-data; name=\"a\"b\r\n\r\n1\r\n--XyZ--".into()),
            ("no '=' in a parameter", "--XyZ\r\nContent-Disposition: form-data; name\r\n\r\n1\r\n--XyZ--".into()),
            ("empty parameter name", "--XyZ\r\nContent-Disposition: form-data; =a\r\n\r\n1\r\n--XyZ--".into()),
            ("repeated name", "--XyZ\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\n1\r\n--XyZ--".into()),
            ("repeated header", format!("--XyZ\r\nContent-Type: a/b\r\nContent-Type: a/b\r\n{part}\r\n--XyZ--")),
            ("repeated disposition", format!("--XyZ\r\nContent-Disposition: form-data; name=b\r\n{part}\r\n--XyZ--")),
            ("bad filename*", "--XyZ\r\nContent-Disposition: form-data; name=a; filename*=UTF-8%E2\r\n\r\n1\r\n--XyZ--".into()),
            ("filename* not UTF-8", "--XyZ\r\nContent-Disposition: form-data; name=a; filename*=UTF-8''%FF\r\n\r\n1\r\n--XyZ--".into()),
            ("filename* unreadable, no fallback", "--XyZ\r\nContent-Disposition: form-data; name=a; filename*=KOI8-R''%C1\r\n\r\n1\r\n--XyZ--".into()),
        ];
        for (what, body) in cases {
            let error = parse(CT, body.as_bytes()).expect_err(what);
            assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{what}: {error}");
        }
        let content_type_in_latin1 = b"--XyZ\r\nContent-Disposition: form-data; name=a\r\nContent-Type: caf\xe9\r\n\r\n1\r\n--XyZ--";
        assert_eq!(status(parse(CT, content_type_in_latin1)), 400);
    }

    #[test]
    fn content_types_without_a_usable_boundary() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ--";
        assert_eq!(status(Multipart::parse(None, body, &LIMITS)), 415);
        let long = format!("multipart/form-data; boundary={}", "b".repeat(71));
        let cases: &[(&str, u16)] = &[
            ("application/x-www-form-urlencoded", 415),
            ("multipart/mixed; boundary=XyZ", 415),
            ("multipart/form-data", 400),
            ("multipart/form-data; charset=utf-8", 400),
            ("multipart/form-data; boundary=", 400),
            ("multipart/form-data; boundary=\"\"", 400),
            ("multipart/form-data; boundary=\"ends with space \"", 400),
            ("multipart/form-data; boundary=semi\u{e9}", 400),
            ("multipart/form-data; boundary=a<b", 400),
            ("multipart/form-data; boundary=a; boundary=a", 400),
            ("multipart/form-data; boundary=\"open", 400),
            ("multipart/form-data boundary=XyZ", 415),
            (&long, 400),
        ];
        for (content_type, expected) in cases {
            assert_eq!(
                status(parse(content_type, body)),
                *expected,
                "{content_type}"
            );
        }
        let seventy = format!("multipart/form-data; boundary={}", "b".repeat(70));
        let body = format!(
            "--{0}\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--{0}--",
            "b".repeat(70)
        );
        assert!(parse(&seventy, body.as_bytes()).is_ok());
    }

    fn body_with_parts(count: usize) -> Vec<u8> {
        let mut body = Vec::new();
        for index in 0..count {
            body.extend_from_slice(
                format!(
                    "--XyZ\r\nContent-Disposition: form-data; name=f{index}\r\n\r\n{index}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(b"--XyZ--\r\n");
        body
    }

    #[test]
    fn at_most_max_parts() {
        assert_eq!(
            parse(CT, &body_with_parts(MAX_PARTS)).unwrap().form().len(),
            MAX_PARTS
        );
        let error = parse(CT, &body_with_parts(MAX_PARTS + 1)).unwrap_err();
        assert_eq!(error, MultipartError::TooManyParts(MAX_PARTS));
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn part_header_limits_are_413() {
        let padding = "x".repeat(MAX_PART_HEAD_SIZE);
        let body = format!(
            "--XyZ\r\nX-Padding: {padding}\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ--"
        );
        assert_eq!(
            parse(CT, body.as_bytes()).unwrap_err(),
            MultipartError::PartHeadTooLarge(MAX_PART_HEAD_SIZE)
        );

        let fits = "x".repeat(MAX_PART_HEAD_SIZE - 200);
        let body = format!(
            "--XyZ\r\nX-Padding: {fits}\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ--"
        );
        assert!(parse(CT, body.as_bytes()).is_ok());

        let many = "X-Extra: 1\r\n".repeat(MAX_PART_HEADERS);
        let body =
            format!("--XyZ\r\n{many}Content-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ--");
        assert_eq!(
            parse(CT, body.as_bytes()).unwrap_err(),
            MultipartError::TooManyPartHeaders(MAX_PART_HEADERS)
        );
    }

    #[test]
    fn files_over_the_cap_are_413_and_text_fields_are_not_capped() {
        let body = |size: usize, filename: &str| {
            let mut body =
                format!("--XyZ\r\nContent-Disposition: form-data; name=\"up\"{filename}\r\n\r\n")
                    .into_bytes();
            body.resize(body.len() + size, b'z');
            body.extend_from_slice(b"\r\n--XyZ--\r\n");
            body
        };
        let at_cap = body(1000, "; filename=\"a\"");
        let file = Multipart::parse(Some(CT), &at_cap, &with_file_limit(1000)).unwrap();
        assert_eq!(file.file("up").unwrap().len(), 1000);
        let over = body(1001, "; filename=\"a\"");
        let error = Multipart::parse(Some(CT), &over, &with_file_limit(1000)).unwrap_err();
        assert_eq!(
            error,
            MultipartError::FileTooLarge {
                field: "up".into(),
                limit: 1000
            }
        );
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            error.to_string(),
            "file in field \"up\" is larger than 1000 bytes"
        );
        let text = body(1001, "");
        assert_eq!(
            Multipart::parse(Some(CT), &text, &with_file_limit(1000))
                .unwrap()
                .form()
                .get("up")
                .map(str::len),
            Some(1001)
        );
    }

    #[test]
    fn safe_filenames() {
        let cases: &[(&str, Option<&str>)] = &[
            ("report.pdf", Some("report.pdf")),
            (
                "r\u{e9}sum\u{e9} final.pdf",
                Some("r\u{e9}sum\u{e9} final.pdf"),
            ),
            ("../../etc/passwd", Some("passwd")),
            ("/etc/passwd", Some("passwd")),
            (r"C:\Users\ada\cv.pdf", Some("cv.pdf")),
            (r"..\..\boot.ini", Some("boot.ini")),
            ("..", None),
            (".", None),
            ("", None),
            ("dir/", None),
            ("a/..", None),
            (" . . ", None),
            (".htaccess", Some("htaccess")),
            ("...hidden...", Some("hidden")),
            ("nul\0byte.txt", Some("nulbyte.txt")),
            ("line\r\nbreak.txt", Some("linebreak.txt")),
            ("photo\u{202e}gpj.exe", Some("photogpj.exe")),
            ("a..b.txt", Some("a..b.txt")),
        ];
        for (filename, expected) in cases {
            let file = UploadedFile {
                name: "f".into(),
                filename: (*filename).into(),
                content_type: None,
                bytes: b"",
            };
            assert_eq!(file.safe_filename().as_deref(), *expected, "{filename:?}");
        }
    }

    #[test]
    fn debug_shows_the_size_not_the_bytes() {
        let file = UploadedFile {
            name: "f".into(),
            filename: "a.bin".into(),
            content_type: Some("application/octet-stream"),
            bytes: &[7; 4096],
        };
        let debug = format!("{file:?}");
        assert!(
            debug.contains("len: 4096") && !debug.contains("7, 7"),
            "{debug}"
        );
    }
}

/// Properties of the parser over generated bodies, in the style of `proptests.rs` (fixed
/// seed and case count, no persistence files):
///
/// 1. **Round trip.** Any fields and files (names and filenames with quotes, backslashes,
///    spaces and non-ASCII; contents of random bytes, CRLFs, dashes and near-miss delimiters),
///    encoded with any boundary, quoted or not, a preamble, padding and an epilogue, parse back
///    to exactly what was encoded.
/// 2. **No panic on anything.** Random bytes, fragment soups and mutated or truncated valid
///    bodies under a valid Content-Type parse to a value or to a 400/413, never a panic; what
///    parses borrows the body and respects the part and file limits.
#[cfg(test)]
mod properties {
    use super::tests::{LIMITS, MAX_PARTS, with_file_limit};
    use super::*;
    use crate::media_type::is_token_byte;
    use proptest::collection::vec;
    use proptest::option;
    use proptest::prelude::*;
    use proptest::sample::{Index, select};
    use proptest::test_runner::RngSeed;

    /// The seed of `proptests.rs`, so CI sees the same cases on every run.
    const SEED: u64 = 0x00C0_FFEE_CAFE_F00D;
    /// Sized to keep both properties well under a second in a debug build.
    const CASES: u32 = 512;

    /// Boundaries from browsers and clients, and RFC 2046 corner cases (a space, one dash).
    const BOUNDARIES: &[&str] = &[
        "XyZ",
        "----WebKitFormBoundary7MA4YWxkTrZu0gW",
        "------------------------d74496d66958873e",
        "a b:c'(d)?",
        "-",
        "=_+,./",
    ];

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: CASES,
            failure_persistence: None,
            rng_seed: RngSeed::Fixed(SEED),
            ..ProptestConfig::default()
        }
    }

    #[derive(Debug, Clone)]
    struct GeneratedPart {
        name: String,
        filename: Option<String>,
        content_type: Option<&'static str>,
        bytes: Vec<u8>,
    }

    #[derive(Debug, Clone)]
    struct GeneratedBody {
        boundary: &'static str,
        quoted: bool,
        preamble: String,
        padding: String,
        parts: Vec<GeneratedPart>,
        epilogue: Vec<u8>,
    }

    impl GeneratedBody {
        fn content_type(&self) -> String {
            let token = self.boundary.bytes().all(is_token_byte);
            if self.quoted || !token {
                format!("multipart/form-data; boundary=\"{}\"", self.boundary)
            } else {
                format!("multipart/form-data; boundary={}", self.boundary)
            }
        }

        fn encode(&self) -> Vec<u8> {
            let quote = |value: &str| value.replace('\\', "\\\\").replace('"', "\\\"");
            let mut body = self.preamble.as_bytes().to_vec();
            if !self.preamble.is_empty() {
                body.extend_from_slice(b"\r\n");
            }
            for part in &self.parts {
                let line = format!("--{}{}\r\n", self.boundary, self.padding);
                body.extend_from_slice(line.as_bytes());
                let mut disposition = format!("form-data; name=\"{}\"", quote(&part.name));
                if let Some(filename) = &part.filename {
                    disposition.push_str(&format!("; filename=\"{}\"", quote(filename)));
                }
                body.extend_from_slice(
                    format!("Content-Disposition: {disposition}\r\n").as_bytes(),
                );
                if let Some(content_type) = part.content_type {
                    body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
                }
                body.extend_from_slice(b"\r\n");
                body.extend_from_slice(&part.bytes);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(format!("--{}--{}", self.boundary, self.padding).as_bytes());
            body.extend_from_slice(&self.epilogue);
            body
        }
    }

    /// Whether `content`, between the CRLF that ends its headers and the next delimiter,
    /// holds a delimiter of its own (a `\r\n--boundary` followed by `--` or padding and
    /// CRLF): such content cannot be sent with this boundary. A naive check, independent of
    /// the parser's.
    fn holds_delimiter(content: &[u8], boundary: &str) -> bool {
        let delimiter = format!("\r\n--{boundary}");
        let mut full = b"\r\n".to_vec();
        full.extend_from_slice(content);
        full.extend_from_slice(format!("{delimiter}--").as_bytes());
        (0..content.len() + 2).any(|start| {
            let Some(rest) = full[start..].strip_prefix(delimiter.as_bytes()) else {
                return false;
            };
            let after_padding: &[u8] = {
                let skip = rest
                    .iter()
                    .take_while(|b| **b == b' ' || **b == b'\t')
                    .count();
                &rest[skip..]
            };
            rest.starts_with(b"--") || after_padding.starts_with(b"\r\n")
        })
    }

    /// Contents built from the bytes that matter to the framing: CRLFs, dashes, the boundary
    /// and near-miss delimiters, between random bytes.
    fn content(boundary: &'static str) -> impl Strategy<Value = Vec<u8>> {
        let fragment = prop_oneof![
            3 => vec(any::<u8>(), 0..24),
            1 => Just(b"\r\n".to_vec()),
            1 => Just(b"\r\n\r\n".to_vec()),
            1 => Just(b"--".to_vec()),
            1 => Just(b" \t".to_vec()),
            1 => Just(boundary.as_bytes().to_vec()),
            1 => Just(format!("--{boundary}").into_bytes()),
            1 => Just(format!("\r\n--{boundary}").into_bytes()),
            1 => Just(format!("\r\n--{boundary}x").into_bytes()),
        ];
        vec(fragment, 0..8)
            .prop_map(|fragments| fragments.concat())
            .prop_filter("the content holds a delimiter", move |bytes| {
                !holds_delimiter(bytes, boundary)
            })
    }

    fn part(boundary: &'static str) -> impl Strategy<Value = GeneratedPart> {
        let name = "[a-zA-Z0-9_ \"\\\\\\[\\]\u{e9}\u{20ac}-]{0,12}";
        let filename = "[a-zA-Z0-9_ ./\"\\\\\u{e9}\u{20ac}-]{0,16}";
        let content_type = select(&["text/plain", "application/octet-stream", "image/png"][..]);
        (
            name,
            option::of(filename),
            option::of(content_type),
            content(boundary),
        )
            .prop_map(|(name, filename, content_type, bytes)| GeneratedPart {
                name,
                filename,
                content_type,
                bytes,
            })
    }

    fn generated_body() -> impl Strategy<Value = GeneratedBody> {
        select(BOUNDARIES).prop_flat_map(|boundary| {
            (
                any::<bool>(),
                "[a-zA-Z .\r\n]{0,40}",
                select(&["", " ", "\t ", "  "][..]),
                vec(part(boundary), 0..8),
                option::of(vec(any::<u8>(), 0..32)),
            )
                .prop_map(move |(quoted, preamble, padding, parts, epilogue)| {
                    GeneratedBody {
                        boundary,
                        quoted,
                        preamble,
                        padding: padding.to_owned(),
                        parts,
                        epilogue: epilogue
                            .map_or_else(Vec::new, |bytes| [b"\r\n".as_slice(), &bytes].concat()),
                    }
                })
        })
    }

    /// Bodies that are mostly wrong: random bytes, soups of framing fragments, and valid
    /// bodies with a few bytes overwritten and cut short.
    fn hostile_body() -> impl Strategy<Value = (String, Vec<u8>)> {
        let random =
            (select(BOUNDARIES), vec(any::<u8>(), 0..512)).prop_map(|(boundary, bytes)| {
                (
                    format!("multipart/form-data; boundary=\"{boundary}\""),
                    bytes,
                )
            });
        let soup = select(BOUNDARIES).prop_flat_map(|boundary| {
            let fragment = prop_oneof![
                Just(format!("--{boundary}\r\n").into_bytes()),
                Just(format!("\r\n--{boundary}").into_bytes()),
                Just(format!("\r\n--{boundary}--").into_bytes()),
                Just(b"Content-Disposition: form-data; name=\"a\"\r\n".to_vec()),
                Just(b"Content-Disposition: form-data; name=b; filename=\"c\\\"d\"\r\n".to_vec()),
                Just(
                    b"Content-Disposition: form-data; name=\"e; filename*=UTF-8''%E2%82\r\n"
                        .to_vec()
                ),
                Just(b"Content-Type: text/plain\r\n".to_vec()),
                Just(b"\r\n".to_vec()),
                vec(any::<u8>(), 0..16),
            ];
            vec(fragment, 0..24).prop_map(move |fragments| {
                (
                    format!("multipart/form-data; boundary=\"{boundary}\""),
                    fragments.concat(),
                )
            })
        });
        let mutated = (
            generated_body(),
            vec(
                (any::<Index>(), select(&b"-\r\n\";\\ =*'%\x00\xff"[..])),
                0..4,
            ),
            option::of(any::<Index>()),
        )
            .prop_map(|(generated, edits, cut)| {
                let mut bytes = generated.encode();
                if !bytes.is_empty() {
                    for (at, byte) in edits {
                        let at = at.index(bytes.len());
                        bytes[at] = byte;
                    }
                }
                if let Some(cut) = cut {
                    bytes.truncate(cut.index(bytes.len() + 1));
                }
                (generated.content_type(), bytes)
            });
        prop_oneof![random, soup, mutated]
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn encoded_parts_parse_back_exactly(generated in generated_body()) {
            let body = generated.encode();
            let content_type = generated.content_type();
            let multipart = Multipart::parse(Some(&content_type), &body, &LIMITS)
                .map_err(|error| TestCaseError::fail(format!("{error} for {:?}", String::from_utf8_lossy(&body))))?;
            let expected_fields: Vec<(String, String)> = generated.parts.iter()
                .filter(|part| part.filename.is_none())
                .map(|part| (part.name.clone(), String::from_utf8_lossy(&part.bytes).into_owned()))
                .collect();
            let fields: Vec<(String, String)> = multipart.form().iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect();
            prop_assert_eq!(fields, expected_fields);
            let expected_files: Vec<(&str, &str, Option<&str>, &[u8])> = generated.parts.iter()
                .filter_map(|part| part.filename.as_deref().map(|filename| {
                    (part.name.as_str(), filename, part.content_type, part.bytes.as_slice())
                }))
                .collect();
            let files: Vec<(&str, &str, Option<&str>, &[u8])> = multipart.files().iter()
                .map(|file| (file.name(), file.filename(), file.content_type(), file.bytes()))
                .collect();
            prop_assert_eq!(files, expected_files);
        }

        #[test]
        fn hostile_bodies_never_panic((content_type, body) in hostile_body(), max_file_size in 0u64..64) {
            match Multipart::parse(Some(&content_type), &body, &with_file_limit(max_file_size)) {
                Ok(multipart) => {
                    prop_assert!(multipart.form().len() + multipart.files().len() <= MAX_PARTS);
                    for file in multipart.files() {
                        prop_assert!(file.len() as u64 <= max_file_size);
                        let range = body.as_ptr_range();
                        let bytes = file.bytes().as_ptr_range();
                        prop_assert!(range.start <= bytes.start && bytes.end <= range.end);
                        let _ = file.safe_filename();
                    }
                }
                Err(error) => {
                    let status = error.status().as_u16();
                    prop_assert!(status == 400 || status == 413, "{error} is {status}");
                }
            }
        }
    }
}
