//! A small blocking HTTP/1.1 client over one TCP connection, for the deployment tests: it
//! keeps a connection alive across requests, can bind its socket to a chosen source address
//! (any of 127.0.0.0/8 on Linux), and says whether a failure came before any byte of the
//! response, which is when a client may safely retry an idempotent request.
//!
//! Responses must carry `Content-Length` (carafe's always do, and nginx keeps it when it
//! proxies them); anything else is reported as an error rather than guessed at.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

/// How long one read or write may block before the request counts as failed.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// One response: status, header fields in order, body.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header fields, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::first_header(&self.headers, name)
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics, showing the body, if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text()))
    }

    /// Whether the server said it closes the connection after this response.
    pub fn closes_connection(&self) -> bool {
        self.header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"))
    }
}

/// Why a request got no (complete) response.
#[derive(Debug, Clone)]
pub struct ClientError {
    /// Whether any byte of the response had arrived before the failure. A request that got
    /// none on a reused keep-alive connection may be retried (RFC 9112 §9.3.1); one that got
    /// some may not.
    pub got_response_bytes: bool,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let when = if self.got_response_bytes {
            "mid-response"
        } else {
            "before any response byte"
        };
        write!(f, "{} ({when})", self.message)
    }
}

/// A client connection that can carry several requests one after another.
pub struct HttpConnection {
    stream: TcpStream,
    peer: SocketAddr,
    /// Bytes read past the end of the previous response (none from a well-behaved server).
    leftover: Vec<u8>,
    requests: u64,
}

impl HttpConnection {
    /// Connects to `addr` from an address the kernel picks.
    pub fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
        Self::from_stream(stream, addr)
    }

    /// Connects to `addr` from `source` (port chosen by the kernel): `127.0.0.2` makes a
    /// loopback client that is not `127.0.0.1`.
    pub fn connect_from(source: IpAddr, addr: SocketAddr) -> io::Result<Self> {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        socket.bind(&SocketAddr::new(source, 0).into())?;
        socket.connect_timeout(&addr.into(), IO_TIMEOUT)?;
        Self::from_stream(socket.into(), addr)
    }

    fn from_stream(stream: TcpStream, peer: SocketAddr) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(Self {
            stream,
            peer,
            leftover: Vec::new(),
            requests: 0,
        })
    }

    /// This end's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.stream
            .local_addr()
            .expect("a connected socket has an address")
    }

    /// Requests sent on this connection so far.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Sends `GET path` with `headers` (a `Host` of the server's address unless one is
    /// given) and reads the response.
    pub fn get(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<HttpResponse, ClientError> {
        let mut request = format!("GET {path} HTTP/1.1\r\n");
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("host"))
        {
            request.push_str(&format!("Host: {}\r\n", self.peer));
        }
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        self.requests += 1;
        self.stream
            .write_all(request.as_bytes())
            .map_err(|error| ClientError {
                got_response_bytes: false,
                message: format!("send: {error}"),
            })?;
        self.read_response()
    }

    fn read_response(&mut self) -> Result<HttpResponse, ClientError> {
        let mut received = std::mem::take(&mut self.leftover);
        let fail = |received: &[u8], message: String| ClientError {
            got_response_bytes: !received.is_empty(),
            message,
        };
        let head_end = loop {
            if let Some(end) = find(&received, b"\r\n\r\n") {
                break end + 4;
            }
            self.read_more(&mut received)
                .map_err(|message| fail(&received, message))?;
        };
        let (status, headers) = parse_head(&received[..head_end])
            .ok_or_else(|| fail(&received, "malformed response head".into()))?;
        let length: usize = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.parse().ok())
            .ok_or_else(|| fail(&received, "response without a Content-Length".into()))?;
        while received.len() < head_end + length {
            self.read_more(&mut received)
                .map_err(|message| fail(&received, message))?;
        }
        self.leftover = received.split_off(head_end + length);
        let body = received.split_off(head_end);
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    fn read_more(&mut self, received: &mut Vec<u8>) -> Result<(), String> {
        let mut buffer = [0u8; 16 * 1024];
        match self.stream.read(&mut buffer) {
            Ok(0) => Err(format!("connection closed after {} bytes", received.len())),
            Ok(n) => {
                received.extend_from_slice(&buffer[..n]);
                Ok(())
            }
            Err(error) => Err(format!("receive: {error}")),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// `HTTP/1.1 200 OK` and its fields.
fn parse_head(head: &[u8]) -> Option<(u16, Vec<(String, String)>)> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect::<Option<Vec<_>>>()?;
    Some((status, headers))
}

/// One request on a new connection (sent with `Connection: close`).
pub fn get_once(addr: SocketAddr, path: &str) -> Result<HttpResponse, ClientError> {
    let mut connection = HttpConnection::connect(addr).map_err(|error| ClientError {
        got_response_bytes: false,
        message: format!("connect: {error}"),
    })?;
    connection.get(path, &[("Connection", "close")])
}
