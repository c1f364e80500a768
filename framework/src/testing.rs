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

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use http::{Method, StatusCode};

use crate::app::App;
use crate::buffer::BufferPool;
use crate::conn::{Conn, Ctx};
use crate::date::DateCache;

/// Sends requests to an [`App`] in memory.
pub struct TestClient {
    app: Arc<App>,
    peer: SocketAddr,
}

impl TestClient {
    /// A client for `app`. Requests appear to come from `127.0.0.1:40000`.
    pub fn new(app: App) -> Self {
        Self {
            app: Arc::new(app),
            peer: SocketAddr::from((Ipv4Addr::LOCALHOST, 40000)),
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
    pub fn send_raw(&self, bytes: &[u8]) -> Vec<u8> {
        let mut pool = BufferPool::default();
        let date = DateCache::new();
        let mut ctx = Ctx {
            app: &self.app,
            date: date.as_bytes(),
            pool: &mut pool,
            shutting_down: false,
        };
        let mut conn = Conn::new(self.peer);
        let mut output = Vec::new();
        let mut rest = bytes;
        loop {
            let buffer = conn.read_buffer(&mut ctx);
            let n = buffer.len().min(rest.len());
            buffer[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            conn.received(n, &mut ctx);
            output.extend_from_slice(conn.pending_output());
            conn.wrote(conn.pending_output().len());
            if n == 0 || rest.is_empty() || conn.is_closing() {
                break;
            }
        }
        // Held-back requests (output limit) are answered as the "client" reads.
        while conn.can_resume(&ctx) {
            conn.process(&mut ctx);
            if conn.pending_output().is_empty() {
                break;
            }
            output.extend_from_slice(conn.pending_output());
            conn.wrote(conn.pending_output().len());
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
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
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

    /// Sets a JSON body and its Content-Type.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Self {
        let body = serde_json::to_vec(value).expect("test JSON serializes");
        self.header("Content-Type", "application/json").body(body)
    }

    /// Sends the request and returns the parsed response.
    pub fn send(self) -> TestResponse {
        let mut raw = format!("{} {} HTTP/1.1\r\n", self.method, self.target).into_bytes();
        for (name, value) in &self.headers {
            raw.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        if !self.body.is_empty() {
            raw.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        raw.extend_from_slice(&self.body);
        let answer = self.client.send_raw(&raw);
        TestResponse::parse(&answer, self.method == Method::HEAD)
    }
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
            if status.is_informational() {
                raw = &raw[head_len..];
                continue;
            }
            let length = headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, value)| value.parse::<usize>().ok())
                .unwrap_or(0);
            let length = if head_only { 0 } else { length };
            let body = raw[head_len..head_len + length].to_vec();
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

    /// Every header, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
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
