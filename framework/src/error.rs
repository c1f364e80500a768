//! Every error type of carafe, in one place.
//!
//! - [`Error`]: what the public API returns (binding, registering routes, templates, headers).
//! - [`RouteError`]: a route that cannot be registered, naming both routes of a conflict.
//! - [`HttpError`]: what a handler returns to stop early with a status (`Err(HttpError::not_found())?`).
//! - [`SessionError`]: a session that cannot be stored; converts into a logged 500.
//! - [`UrlForError`]: `url_for` asked for a route or parameter that does not exist; converts
//!   into a logged 500.
//! - `ParseError` (internal, in `h1/error.rs`): why a request could not be read, at the
//!   protocol layer.
//! - `MultipartError` (internal): why a `multipart/form-data` body was refused; it becomes the
//!   [`HttpError`] that [`Request::multipart`](crate::Request::multipart) returns.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use http::StatusCode;

/// An error from carafe's public API.
///
/// Its `Debug` form is the sentence `Display` gives, followed by each underlying cause (as
/// anyhow prints errors), so that `fn main() -> Result<(), carafe::Error>` ends with
/// `Error: cannot listen on 127.0.0.1:8080: Address already in use (os error 98)` rather
/// than the enum's fields.
#[non_exhaustive]
#[derive(thiserror::Error)]
pub enum Error {
    /// An I/O error outside a connection (creating the poller, spawning a worker).
    #[error("i/o error")]
    Io(#[from] io::Error),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address as given.
        addr: String,
        /// Why the operating system refused.
        #[source]
        source: io::Error,
    },
    /// A route could not be registered.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// A template could not be loaded or rendered.
    #[error("template error")]
    Template(#[from] minijinja::Error),
    /// A header name or value was refused (it would break the response framing).
    #[error(transparent)]
    InvalidHeader(#[from] InvalidHeader),
    /// A directory given to [`App::static_dir`](crate::App::static_dir) or
    /// [`App::templates`](crate::App::templates) cannot be used.
    #[error("{} is not a readable directory", path.display())]
    Directory {
        /// The directory as given.
        path: PathBuf,
        /// Why it cannot be used.
        #[source]
        source: io::Error,
    },
    /// A URL could not be built by [`App::url_for`](crate::App::url_for).
    #[error(transparent)]
    UrlFor(#[from] UrlForError),
    /// A CORS policy the Fetch standard forbids (see [`Cors`](crate::Cors)).
    #[error("invalid CORS policy: {0}")]
    Cors(&'static str),
    /// A TLS certificate or key could not be read or used (see [`Tls`](crate::Tls)).
    #[cfg(feature = "tls")]
    #[error("TLS: {0}")]
    Tls(String),
    /// A secret key for signing sessions is too short to be safe.
    #[cfg(feature = "sessions")]
    #[error(
        "the secret key from {origin} is {len} bytes; sessions need at least {min} random bytes \
         (e.g. `openssl rand -base64 48`)"
    )]
    SecretKey {
        /// Where the key came from: `App::secret_key` or `CARAFE_SECRET_KEY`.
        origin: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The shortest length accepted.
        min: usize,
    },
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// A session that cannot be stored. [`Session::insert`](crate::Session::insert) returns it
/// for a value with no JSON form; the others arise when carafe writes the session cookie after
/// the handler, and are then logged and answered with a 500. With `?` in a handler, it
/// becomes a logged 500 too.
///
/// ```
/// use std::collections::HashMap;
///
/// fn store(req: &carafe::Request) -> Result<&'static str, carafe::HttpError> {
///     let by_pair = HashMap::from([((1, 2), "JSON object keys must be strings")]);
///     if let Err(error @ carafe::SessionError::Serialize { .. }) = req.session().insert("pairs", &by_pair) {
///         return Err(error.into()); // a logged 500
///     }
///     Ok("stored")
/// }
/// ```
#[cfg(feature = "sessions")]
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// A value cannot be represented as JSON (e.g. a map whose keys are not strings).
    #[error("session value {key:?} cannot be stored as JSON")]
    Serialize {
        /// The session key it was stored under.
        key: String,
        /// serde_json's reason.
        #[source]
        source: serde_json::Error,
    },
    /// The session's cookie would be larger than browsers keep.
    #[error(
        "the session cookie would be {size} bytes, over the {limit} bytes browsers keep; \
         store less in the session"
    )]
    TooLarge {
        /// The `Set-Cookie` value's size in bytes.
        size: usize,
        /// The largest size written.
        limit: usize,
    },
    /// The app has no key to sign with (an app served without `bind` or `TestClient`).
    #[error("no secret key to sign the session with")]
    NoKey,
    /// The session cookie name cannot be written in a header.
    #[error(transparent)]
    InvalidHeader(#[from] InvalidHeader),
}

#[cfg(feature = "sessions")]
impl From<SessionError> for HttpError {
    /// A 500; the details are logged with the request when the response is made.
    fn from(error: SessionError) -> Self {
        HttpError::internal_because(crate::error::chain(&error))
    }
}

/// `error: cause: cause`, for a log line that says everything.
#[cfg(feature = "sessions")]
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Why [`App::url_for`](crate::App::url_for) or [`Request::url_for`](crate::Request::url_for)
/// (or `url_for` in a template) could not build a URL. Each is a mistake in the app, not in
/// the request: with `?` in a handler it becomes a logged 500, and in a template it fails the
/// render (also a logged 500).
///
/// ```
/// use carafe::{route, App, UrlForError};
///
/// let mut app = App::new();
/// route!(app, GET "/blog/{slug}" => |_req| "a post", name = "post").unwrap();
/// assert_eq!(
///     app.url_for("post", &[]),
///     Err(UrlForError::MissingParam { route: "post".into(), param: "slug".into() })
/// );
/// assert_eq!(
///     app.url_for("posts", &[]).unwrap_err().to_string(),
///     "no route is named `posts`"
/// );
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlForError {
    /// No route has this name.
    #[error("no route is named `{name}`")]
    UnknownRoute {
        /// The name asked for.
        name: String,
    },
    /// The route's pattern has a parameter that was not given.
    #[error("cannot build a URL for route `{route}`: parameter `{param}` is missing")]
    MissingParam {
        /// The route's name.
        route: String,
        /// The parameter without a value.
        param: String,
    },
    /// A value that would not route back: empty (the router never matches an empty
    /// parameter), or a whole segment of `.` or `..` (clients resolve those away).
    #[error("cannot build a URL for route `{route}`: parameter `{param}` {reason}")]
    InvalidParam {
        /// The route's name.
        route: String,
        /// The parameter.
        param: String,
        /// What is wrong with its value.
        reason: &'static str,
    },
}

impl From<UrlForError> for HttpError {
    /// A 500 (a URL the app cannot build is the app's bug); the reason is logged with the
    /// request when the response is made.
    fn from(error: UrlForError) -> Self {
        HttpError::internal_because(error)
    }
}

/// A header name or value that carafe refuses to write: it contains CR, LF, NUL or another
/// control character, or the name is not an HTTP token. Writing it would let a value inject
/// headers or split the response.
#[derive(Debug, thiserror::Error)]
#[error("invalid header {what}: {text:?}")]
pub struct InvalidHeader {
    what: &'static str,
    text: String,
}

impl InvalidHeader {
    pub(crate) fn name(text: impl Into<String>) -> Self {
        Self {
            what: "name",
            text: text.into(),
        }
    }
    pub(crate) fn value(text: impl Into<String>) -> Self {
        Self {
            what: "value",
            text: text.into(),
        }
    }
}

/// A route that cannot be registered. Returned by [`route!`](crate::route) and
/// [`App::route`](crate::App::route) at registration time, never at request time.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The same method and pattern were registered twice.
    #[error(
        "route {method} {pattern} (handler `{handler}`) is already registered by handler `{existing}`"
    )]
    Duplicate {
        /// The method registered twice.
        method: String,
        /// The pattern registered twice.
        pattern: String,
        /// The handler being registered.
        handler: String,
        /// The handler already registered.
        existing: String,
    },
    /// The pattern overlaps an existing pattern ambiguously, e.g. `/user/{id}` and `/user/{name}`.
    #[error(
        "route {pattern} (handler `{handler}`) conflicts with route {with} (handler `{existing}`)"
    )]
    Conflict {
        /// The pattern being registered.
        pattern: String,
        /// The handler being registered.
        handler: String,
        /// The registered pattern it conflicts with.
        with: String,
        /// The handler of the registered pattern.
        existing: String,
    },
    /// The pattern is malformed (bad `{param}`, a catch-all not at the end, no leading `/`).
    #[error("invalid route pattern {pattern} (handler `{handler}`): {reason}")]
    Invalid {
        /// The pattern as given.
        pattern: String,
        /// The handler being registered.
        handler: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A route name used twice; names must be unique so `url_for` is unambiguous.
    #[error("route name `{name}` is used by {pattern} and {existing}")]
    DuplicateName {
        /// The name.
        name: String,
        /// The pattern being registered.
        pattern: String,
        /// The pattern already using the name.
        existing: String,
    },
}

/// An HTTP error a handler returns to end a request early, like Flask's `abort(404)`.
///
/// It renders as a short text response (or through the app's
/// [error handler](crate::App::error_handler) for its status).
///
/// ```
/// use carafe::{HttpError, Request};
///
/// fn show(req: &Request) -> Result<String, HttpError> {
///     let id: u32 = req.param_as("id")?; // not a number: 404
///     if id == 0 {
///         return Err(HttpError::bad_request("id 0 is reserved"));
///     }
///     Ok(format!("item {id}"))
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct HttpError {
    status: StatusCode,
    message: Cow<'static, str>,
    /// What went wrong, for the log only (never sent): logged with the request it answers
    /// when the response is made.
    cause: Option<Arc<str>>,
    /// Details for a JSON client ([`HttpError::with_json`]).
    #[cfg(feature = "json")]
    details: Option<Arc<serde_json::Value>>,
}

impl HttpError {
    /// An error with a status and a message shown to the client.
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
            cause: None,
            #[cfg(feature = "json")]
            details: None,
        }
    }

    /// Adds details for clients that read errors as JSON: the default error body for a
    /// client that prefers JSON becomes
    /// `{"error": {"status": 422, "message": "...", "details": ...}}`. A value that cannot be
    /// serialized is left out.
    ///
    /// ```
    /// use carafe::{route, testing::TestClient, App, HttpError, StatusCode};
    ///
    /// let mut app = App::new();
    /// route!(app, POST "/users" => |_req| -> Result<&'static str, HttpError> {
    ///     Err(HttpError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid user")
    ///         .with_json(serde_json::json!({"email": "already taken"})))
    /// })?;
    /// let client = TestClient::new(app);
    /// let answer = client.post("/users").header("Accept", "application/json").send();
    /// assert_eq!(answer.status(), 422);
    /// assert_eq!(
    ///     answer.text(),
    ///     r#"{"error":{"status":422,"message":"invalid user","details":{"email":"already taken"}}}"#
    /// );
    /// # Ok::<(), carafe::Error>(())
    /// ```
    #[cfg(feature = "json")]
    pub fn with_json(mut self, details: impl serde::Serialize) -> Self {
        self.details = serde_json::to_value(details).ok().map(Arc::new);
        self
    }

    /// The details given with [`with_json`](Self::with_json).
    #[cfg(feature = "json")]
    pub fn details(&self) -> Option<&serde_json::Value> {
        self.details.as_deref()
    }

    /// A 500 for a mistake of the app's (a header it may not write, a URL it cannot build),
    /// whose `cause` is logged with the request, not sent.
    pub(crate) fn internal_because(cause: impl std::fmt::Display) -> Self {
        Self {
            cause: Some(cause.to_string().into()),
            ..Self::internal("Internal Server Error")
        }
    }

    /// What went wrong, for the log.
    pub(crate) fn cause(&self) -> Option<&str> {
        self.cause.as_deref()
    }
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The message shown to the client.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// 400 Bad Request with a message.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    /// 404 Not Found.
    pub fn not_found() -> Self {
        abort(StatusCode::NOT_FOUND)
    }
    /// 500 Internal Server Error. The message goes to the client: keep secrets out of it.
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<InvalidHeader> for HttpError {
    /// A 500; the refused header is logged with the request when the response is made.
    fn from(error: InvalidHeader) -> Self {
        HttpError::internal_because(format_args!(
            "a handler set a header carafe refuses to write: {error}"
        ))
    }
}

impl From<StatusCode> for HttpError {
    fn from(status: StatusCode) -> Self {
        abort(status)
    }
}

/// An [`HttpError`] with the status's standard reason as its message, like Flask's `abort(code)`.
///
/// ```
/// use carafe::{abort, HttpError, Request, StatusCode};
///
/// fn admin(req: &Request) -> Result<&'static str, HttpError> {
///     if req.header("authorization").is_none() {
///         return Err(abort(StatusCode::UNAUTHORIZED));
///     }
///     Ok("welcome")
/// }
/// ```
pub fn abort(status: StatusCode) -> HttpError {
    HttpError::new(status, status.canonical_reason().unwrap_or("Error"))
}

/// Why a `multipart/form-data` body was refused. Syntax errors are 400, limits 413, a body
/// that is not multipart 415; [`MultipartError::status`] is the one place that decides it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MultipartError {
    /// The request's `Content-Type` is not `multipart/form-data`.
    #[error("expected Content-Type: multipart/form-data")]
    NotMultipart,
    /// The body or a part violates RFC 7578 / RFC 2046 syntax.
    #[error("malformed multipart body: {0}")]
    Malformed(&'static str),
    /// More parts than the limit.
    #[error("multipart body has more than {0} parts")]
    TooManyParts(usize),
    /// A part's header section is larger than the limit.
    #[error("multipart part header section larger than {0} bytes")]
    PartHeadTooLarge(usize),
    /// A part has more header fields than the limit.
    #[error("multipart part has more than {0} header fields")]
    TooManyPartHeaders(usize),
    /// An uploaded file is larger than [`Config::max_file_size`](crate::Config::max_file_size).
    #[error("file in field {field:?} is larger than {limit} bytes")]
    FileTooLarge {
        /// The form field the file was sent in.
        field: String,
        /// The configured limit.
        limit: u64,
    },
}

impl MultipartError {
    /// The status that answers this error.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            MultipartError::NotMultipart => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            MultipartError::Malformed(_) => StatusCode::BAD_REQUEST,
            MultipartError::TooManyParts(_)
            | MultipartError::PartHeadTooLarge(_)
            | MultipartError::TooManyPartHeaders(_)
            | MultipartError::FileTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }
}

impl From<MultipartError> for HttpError {
    fn from(error: MultipartError) -> Self {
        HttpError::new(error.status(), error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_the_sentence_with_its_causes() {
        let bind = Error::Bind {
            addr: "127.0.0.1:8080".into(),
            source: io::Error::new(io::ErrorKind::AddrInUse, "Address already in use"),
        };
        assert_eq!(
            format!("{bind:?}"),
            "cannot listen on 127.0.0.1:8080: Address already in use"
        );
        let io = Error::from(io::Error::other("no poller"));
        assert_eq!(format!("{io:?}"), "i/o error: no poller");
        let route = Error::from(RouteError::Invalid {
            pattern: "/{".into(),
            handler: "index".into(),
            reason: "unclosed".into(),
        });
        assert_eq!(
            format!("{route:?}"),
            "invalid route pattern /{ (handler `index`): unclosed"
        );
    }

    #[test]
    fn multipart_errors_map_to_their_statuses() {
        let cases = [
            (MultipartError::NotMultipart, 415),
            (MultipartError::Malformed("x"), 400),
            (MultipartError::TooManyParts(1), 413),
            (MultipartError::PartHeadTooLarge(1), 413),
            (MultipartError::TooManyPartHeaders(1), 413),
            (
                MultipartError::FileTooLarge {
                    field: "f".into(),
                    limit: 1,
                },
                413,
            ),
        ];
        for (error, status) in cases {
            assert_eq!(
                HttpError::from(error.clone()).status().as_u16(),
                status,
                "{error:?}"
            );
        }
    }

    #[test]
    fn abort_uses_the_standard_reason() {
        let error = abort(StatusCode::NOT_FOUND);
        assert_eq!(error.status(), StatusCode::NOT_FOUND);
        assert_eq!(error.message(), "Not Found");
    }

    #[test]
    fn route_conflict_names_both_routes() {
        let error = RouteError::Conflict {
            pattern: "/user/{name}".into(),
            handler: "by_name".into(),
            with: "/user/{id}".into(),
            existing: "by_id".into(),
        };
        assert_eq!(
            error.to_string(),
            "route /user/{name} (handler `by_name`) conflicts with route /user/{id} (handler `by_id`)"
        );
    }
}
