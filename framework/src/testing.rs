//! An in-process test client: requests go through the same codec, connection state machine
//! and router as on a socket, without one.
//!
//! ```
//! use carafe::testing::TestClient;
//! use carafe::{route, App, StatusCode};
//!
//! let mut app = App::new();
//! route!(app, GET "/hello/{name}" => |req| format!("Hello, {}!", req.param("name").unwrap_or("you"))).unwrap();
//! route!(app, POST "/echo" => |req| req.body().to_vec()).unwrap();
//! let client = TestClient::new(app);
//!
//! let response = client.get("/hello/W%C3%B6rld").send();
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.text(), "Hello, Wörld!");
//!
//! let response = client.post("/echo").body("ping").send();
//! assert_eq!(response.body(), b"ping");
//! assert_eq!(client.get("/missing").send().status(), StatusCode::NOT_FOUND);
//! ```
//!
//! Like a browser, a `TestClient` keeps the cookies its responses set (its cookie jar) and
//! sends them back with later requests, so sessions carry over from one request to the next.
//!
//! As Flask's test client does, it fails the test when a request fails on the server's side:
//! a handler or hook that panics, a template that cannot render, an error's logged cause. The
//! test panics with the message (and the panic's location) instead of seeing only a 500; a
//! test that wants to look at the 500 page turns that off with
//! [`propagate_errors(false)`](TestClient::propagate_errors).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cookie::Cookie;

use http::{Method, StatusCode};

use crate::app::App;
use crate::h1::memory::MemoryConnection;
use crate::handler::collect_server_errors;
use crate::site::Site;

/// Sends requests to an [`App`] in memory.
pub struct TestClient {
    site: Arc<Site>,
    peer: SocketAddr,
    /// Cookies set by responses, by name. One site, every path: `Domain` and `Path` are not
    /// matched, which is all an in-memory client of one app needs.
    cookies: Mutex<BTreeMap<String, String>>,
    /// Fail the test on a server error (the default), or answer it as the server would.
    propagate_errors: bool,
}

impl TestClient {
    /// A client for `app`. Requests appear to come from `127.0.0.1:40000`.
    #[cfg_attr(
        feature = "sessions",
        doc = "\nAn app without [`App::secret_key`] gets a random session key here, without \
               reading `CARAFE_SECRET_KEY`, so tests do not depend on the environment."
    )]
    pub fn new(app: App) -> Self {
        let site = app
            .freeze(false)
            .expect("the operating system provides randomness for a session key");
        Self {
            site: Arc::new(site),
            peer: SocketAddr::from((Ipv4Addr::LOCALHOST, 40000)),
            cookies: Mutex::new(BTreeMap::new()),
            propagate_errors: true,
        }
    }

    /// Whether a request that fails on the server's side (a panic in a handler, a hook or an
    /// error handler; a template error; an `HttpError`'s cause) fails the test with its
    /// message, which is the default, or is answered with the 500 the server would send.
    ///
    /// ```
    /// use carafe::{route, testing::TestClient, App};
    ///
    /// let mut app = App::new();
    /// route!(app, GET "/boom" => |_req| -> &'static str { panic!("boom") }).unwrap();
    /// let client = TestClient::new(app).propagate_errors(false);
    /// assert_eq!(client.get("/boom").send().status(), 500);
    /// ```
    ///
    /// ```should_panic
    /// # use carafe::{route, testing::TestClient, App};
    /// let mut app = App::new();
    /// route!(app, GET "/boom" => |_req| -> &'static str { panic!("boom") }).unwrap();
    /// TestClient::new(app).get("/boom").send(); // panics: "... panicked: boom at ..."
    /// ```
    pub fn propagate_errors(mut self, propagate: bool) -> Self {
        self.propagate_errors = propagate;
        self
    }

    /// The value of cookie `name` in the client's jar, as set by an earlier response.
    ///
    /// ```
    /// use carafe::{route, testing::TestClient, App, Response};
    ///
    /// let mut app = App::new();
    /// route!(app, GET "/login" => |_req| Response::text("hi").with_cookie(("user", "ada")))?;
    /// route!(app, GET "/logout" => |_req| {
    ///     let mut response = Response::text("bye");
    ///     response.remove_cookie("user")?;
    ///     Ok::<_, carafe::HttpError>(response)
    /// })?;
    /// let client = TestClient::new(app);
    /// client.get("/login").send();
    /// assert_eq!(client.cookie("user").as_deref(), Some("ada"));
    /// client.get("/logout").send();
    /// assert_eq!(client.cookie("user"), None);
    /// # Ok::<(), carafe::Error>(())
    /// ```
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar().get(name).cloned()
    }

    /// Puts a cookie in the jar, as if a response had set it, e.g. to send a forged session.
    ///
    /// ```
    /// use carafe::{route, testing::TestClient, App};
    ///
    /// let mut app = App::new();
    /// route!(app, GET "/" => |req| req.cookie("theme").unwrap_or("none").to_owned()).unwrap();
    /// let client = TestClient::new(app);
    /// client.set_cookie("theme", "dark");
    /// assert_eq!(client.get("/").send().text(), "dark");
    /// ```
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar().insert(name.to_owned(), value.to_owned());
    }

    /// Forgets cookie `name`.
    ///
    /// ```
    /// let client = carafe::testing::TestClient::new(carafe::App::new());
    /// client.set_cookie("theme", "dark");
    /// client.remove_cookie("theme");
    /// assert_eq!(client.cookie("theme"), None);
    /// ```
    pub fn remove_cookie(&self, name: &str) {
        self.jar().remove(name);
    }

    /// Empties the jar, like a fresh browser profile.
    ///
    /// ```
    /// let client = carafe::testing::TestClient::new(carafe::App::new());
    /// client.set_cookie("a", "1");
    /// client.set_cookie("b", "2");
    /// client.clear_cookies();
    /// assert_eq!(client.cookie("a"), None);
    /// ```
    pub fn clear_cookies(&self) {
        self.jar().clear();
    }

    fn jar(&self) -> MutexGuard<'_, BTreeMap<String, String>> {
        // The map stays consistent even if a test panicked while holding the lock.
        self.cookies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The `Cookie` header for the jar's cookies, if it holds any.
    fn cookie_header(&self) -> Option<String> {
        let jar = self.jar();
        if jar.is_empty() {
            return None;
        }
        let pairs: Vec<String> = jar
            .iter()
            .map(|(name, value)| {
                Cookie::new(name.as_str(), value.as_str())
                    .encoded()
                    .to_string()
            })
            .collect();
        Some(pairs.join("; "))
    }

    /// Stores or deletes the cookies a response sets, as a browser would.
    fn store_cookies(&self, response: &TestResponse) {
        let mut jar = self.jar();
        for cookie in response.set_cookies() {
            let expired = cookie.max_age().is_some_and(|age| age.is_zero())
                || cookie
                    .expires_datetime()
                    .is_some_and(|at| at <= cookie::time::OffsetDateTime::now_utc());
            if expired {
                jar.remove(cookie.name());
            } else {
                jar.insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
    }

    /// A GET request for `target` (path and query).
    pub fn get(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::GET, target)
    }

    /// A POST request for `target`.
    pub fn post(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::POST, target)
    }

    /// A PUT request for `target`.
    pub fn put(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::PUT, target)
    }

    /// A PATCH request for `target`.
    pub fn patch(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::PATCH, target)
    }

    /// A DELETE request for `target`.
    pub fn delete(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::DELETE, target)
    }

    /// A HEAD request for `target`: the response has the GET's headers and no body.
    pub fn head(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::HEAD, target)
    }

    /// An OPTIONS request for `target` (`*` for the whole server).
    pub fn options(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::OPTIONS, target)
    }

    /// A request with any method.
    pub fn request(&self, method: Method, target: &str) -> TestRequest<'_> {
        TestRequest {
            client: self,
            method,
            target: target.to_owned(),
            headers: vec![("Host".into(), "localhost".into())],
            body: Vec::new(),
        }
    }

    /// Feeds raw bytes to a fresh connection, as a socket would deliver them, and returns
    /// every byte it answers, for tests of the protocol itself (pipelining, malformed input).
    ///
    /// A server error fails the test here too, unless [`propagate_errors`](Self::propagate_errors)
    /// is off.
    pub fn send_raw(&self, bytes: &[u8]) -> Vec<u8> {
        let mut output = Vec::new();
        let ((), errors) = collect_server_errors(|| {
            MemoryConnection::new(self.peer).deliver(
                &*self.site,
                &self.site.limits,
                bytes,
                &[],
                &mut output,
            );
        });
        if self.propagate_errors && !errors.is_empty() {
            panic!(
                "the server failed answering this request (a client would see a 500):\n  {}\n\
                 (TestClient::propagate_errors(false) answers with the 500 instead)",
                errors.join("\n  ")
            );
        }
        output
    }
}

/// A request being built by a [`TestClient`].
pub struct TestRequest<'c> {
    client: &'c TestClient,
    method: Method,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl TestRequest<'_> {
    /// Adds a header field (a repeated name adds another line). `Host` replaces the
    /// default `localhost`: a request has one.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if name.eq_ignore_ascii_case("host") {
            self.headers
                .retain(|(field, _)| !field.eq_ignore_ascii_case("host"));
        }
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets an urlencoded form body and its Content-Type.
    pub fn form(self, fields: &[(&str, &str)]) -> Self {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
    }

    /// Sets a `multipart/form-data` body and its Content-Type (with the body's boundary), as
    /// a browser sends an upload form.
    ///
    /// ```
    /// use carafe::testing::{MultipartBody, TestClient};
    /// use carafe::{route, App};
    ///
    /// let mut app = App::new();
    /// route!(app, POST "/" => |req| Ok::<_, carafe::HttpError>(req.multipart()?.files().len().to_string())).unwrap();
    /// let body = MultipartBody::new().file("a", "a.txt", "text/plain", b"1".to_vec());
    /// assert_eq!(TestClient::new(app).post("/").multipart(body).send().text(), "1");
    /// ```
    pub fn multipart(self, body: MultipartBody) -> Self {
        let (content_type, bytes) = body.encode();
        self.header("Content-Type", &content_type).body(bytes)
    }

    /// Sets a JSON body and its Content-Type.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Self {
        let body = serde_json::to_vec(value).expect("test JSON serializes");
        self.header("Content-Type", "application/json").body(body)
    }

    /// Sends the request, with the client's cookies, and returns the parsed response; the
    /// cookies it sets go into the client's jar.
    pub fn send(self) -> TestResponse {
        let mut raw = format!("{} {} HTTP/1.1\r\n", self.method, self.target).into_bytes();
        for (name, value) in &self.headers {
            raw.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        if let Some(cookies) = self.client.cookie_header() {
            raw.extend_from_slice(format!("Cookie: {cookies}\r\n").as_bytes());
        }
        if !self.body.is_empty() {
            raw.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        raw.extend_from_slice(&self.body);
        let answer = self.client.send_raw(&raw);
        let response = TestResponse::parse(&answer, self.method == Method::HEAD);
        self.client.store_cookies(&response);
        response
    }
}

/// A `multipart/form-data` body for [`TestRequest::multipart`]: text fields and files, in
/// order. The boundary is chosen so that it occurs in no part.
///
/// ```
/// use carafe::testing::MultipartBody;
///
/// let body = MultipartBody::new()
///     .text("note", "hi")
///     .file("file", "photo.jpg", "image/jpeg", vec![0xFF, 0xD8, 0xFF]);
/// # let _ = body;
/// ```
#[derive(Debug, Clone, Default)]
pub struct MultipartBody {
    parts: Vec<TestPart>,
}

#[derive(Debug, Clone)]
struct TestPart {
    name: String,
    file: Option<(String, String)>,
    bytes: Vec<u8>,
}

impl MultipartBody {
    /// An empty body: a form with no fields, which parses to no fields and no files.
    ///
    /// ```
    /// use carafe::testing::{MultipartBody, TestClient};
    ///
    /// let mut app = carafe::App::new();
    /// carafe::route!(app, POST "/" => |req| Ok::<_, carafe::HttpError>(req.multipart()?.form().len().to_string())).unwrap();
    /// let client = TestClient::new(app);
    /// assert_eq!(client.post("/").multipart(MultipartBody::new()).send().text(), "0");
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a text field.
    ///
    /// ```
    /// use carafe::testing::{MultipartBody, TestClient};
    ///
    /// let mut app = carafe::App::new();
    /// carafe::route!(app, POST "/" => |req| {
    ///     Ok::<_, carafe::HttpError>(req.multipart()?.form().get_all("tag").join("+"))
    /// }).unwrap();
    /// let body = MultipartBody::new().text("tag", "a").text("tag", "b \"c\"");
    /// assert_eq!(TestClient::new(app).post("/").multipart(body).send().text(), "a+b \"c\"");
    /// ```
    pub fn text(mut self, name: &str, value: &str) -> Self {
        self.parts.push(TestPart {
            name: name.to_owned(),
            file: None,
            bytes: value.as_bytes().to_vec(),
        });
        self
    }

    /// Adds a file part with its filename and Content-Type. The bytes may hold anything,
    /// CRLFs and dashes included: the boundary is chosen to avoid them.
    ///
    /// ```
    /// use carafe::testing::{MultipartBody, TestClient};
    ///
    /// let mut app = carafe::App::new();
    /// carafe::route!(app, POST "/" => |req| {
    ///     let upload = req.multipart()?;
    ///     let file = upload.file("f").ok_or(carafe::StatusCode::BAD_REQUEST)?;
    ///     Ok::<_, carafe::HttpError>(file.bytes().to_vec()) // echoes the file
    /// }).unwrap();
    /// let bytes = b"\r\n--carafe-test-boundary-0\r\n\x00\xff";
    /// let body = MultipartBody::new().file("f", "x.bin", "application/octet-stream", bytes.to_vec());
    /// assert_eq!(TestClient::new(app).post("/").multipart(body).send().body(), bytes);
    /// ```
    pub fn file(
        mut self,
        name: &str,
        filename: &str,
        content_type: &str,
        bytes: impl Into<Vec<u8>>,
    ) -> Self {
        self.parts.push(TestPart {
            name: name.to_owned(),
            file: Some((filename.to_owned(), content_type.to_owned())),
            bytes: bytes.into(),
        });
        self
    }

    /// The Content-Type (with its boundary) and the encoded body.
    fn encode(&self) -> (String, Vec<u8>) {
        let boundary = (0u64..)
            .map(|n| format!("carafe-test-boundary-{n}"))
            .find(|boundary| {
                self.parts
                    .iter()
                    .all(|part| memchr::memmem::find(&part.bytes, boundary.as_bytes()).is_none())
            })
            .expect("some boundary occurs in no part");
        let mut body = Vec::new();
        for part in &self.parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            let mut disposition = format!("form-data; name=\"{}\"", quote(&part.name));
            if let Some((filename, _)) = &part.file {
                disposition.push_str(&format!("; filename=\"{}\"", quote(filename)));
            }
            body.extend_from_slice(format!("Content-Disposition: {disposition}\r\n").as_bytes());
            if let Some((_, content_type)) = &part.file {
                body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(&part.bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={boundary}"), body)
    }
}

/// A name or filename inside a quoted-string: `\` and `"` escaped, CR and LF
/// percent-encoded as browsers do, so that no value can end the header line.
fn quote(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A response received by a [`TestClient`].
#[derive(Debug, Clone)]
pub struct TestResponse {
    status: StatusCode,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl TestResponse {
    /// Parses the first final (non-1xx) response in `raw`.
    fn parse(mut raw: &[u8], head_only: bool) -> Self {
        loop {
            let mut fields = [httparse::EMPTY_HEADER; 64];
            let mut response = httparse::Response::new(&mut fields);
            let head_len = match response.parse(raw) {
                Ok(httparse::Status::Complete(len)) => len,
                other => panic!(
                    "carafe sent an unparseable response ({other:?}): {:?}",
                    String::from_utf8_lossy(raw)
                ),
            };
            let status = StatusCode::from_u16(response.code.unwrap_or(0)).expect("a valid status");
            let headers: Vec<(String, String)> = response
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_owned(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            // A 101 is final: what follows is another protocol (a WebSocket's frames).
            if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
                raw = &raw[head_len..];
                continue;
            }
            let header = |wanted: &str| {
                headers
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
                    .map(|(_, value)| value.as_str())
            };
            let rest = &raw[head_len..];
            let body = if head_only || status == StatusCode::SWITCHING_PROTOCOLS {
                Vec::new()
            } else if header("transfer-encoding")
                .is_some_and(|value| value.eq_ignore_ascii_case("chunked"))
            {
                // The codec's own decoder reads the streamed body back.
                let mut bytes = rest.to_vec();
                let limits = crate::h1::body::ChunkedLimits::unlimited();
                let mut decoder = crate::h1::body::ChunkedDecoder::new(0, limits);
                let filled = bytes.len();
                match decoder.decode(&mut bytes, filled) {
                    Ok(true) => bytes.truncate(decoder.body_end()),
                    other => panic!("carafe sent a malformed chunked body ({other:?})"),
                }
                bytes
            } else if let Some(length) =
                header("content-length").and_then(|value| value.parse::<usize>().ok())
            {
                rest[..length].to_vec()
            } else {
                // Delimited by the end of the connection (HTTP/1.0, unknown length).
                rest.to_vec()
            };
            return Self {
                status,
                headers,
                body,
            };
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (case-insensitive), in order.
    ///
    /// ```
    /// use carafe::{route, testing::TestClient, App, Response};
    ///
    /// let mut app = App::new();
    /// route!(app, GET "/" => |_req| Response::text("").with_cookie(("a", "1"))?.with_cookie(("b", "2"))).unwrap();
    /// let response = TestClient::new(app).get("/").send();
    /// let cookies: Vec<&str> = response.header_all("set-cookie").collect();
    /// assert_eq!(cookies, ["a=1; Path=/", "b=2; Path=/"]);
    /// ```
    pub fn header_all<'r>(&'r self, name: &'r str) -> impl Iterator<Item = &'r str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The cookie named `name` that this response sets, with its attributes, from its
    /// `Set-Cookie` header (the last one, if several set the name).
    ///
    /// ```
    /// use carafe::cookie::{Cookie, SameSite};
    /// use carafe::{route, testing::TestClient, App, Response};
    ///
    /// let mut app = App::new();
    /// route!(app, GET "/" => |_req| {
    ///     Response::text("").with_cookie(Cookie::build(("id", "7")).http_only(true).same_site(SameSite::Lax))
    /// })?;
    /// let id = TestClient::new(app).get("/").send().cookie("id").unwrap();
    /// assert_eq!(id.value(), "7");
    /// assert_eq!(id.http_only(), Some(true));
    /// assert_eq!(id.same_site(), Some(SameSite::Lax));
    /// assert_eq!(id.path(), Some("/"));
    /// # Ok::<(), carafe::Error>(())
    /// ```
    pub fn cookie(&self, name: &str) -> Option<Cookie<'static>> {
        self.set_cookies()
            .filter(|cookie| cookie.name() == name)
            .last()
    }

    /// The cookies this response sets, in order; a `Set-Cookie` that does not parse is skipped.
    fn set_cookies(&self) -> impl Iterator<Item = Cookie<'static>> {
        self.header_all("set-cookie")
            .filter_map(|value| Cookie::parse_encoded(value.to_owned()).ok())
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    #[cfg(feature = "json")]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).expect("the response body is JSON")
    }
}
