//! The least a server can do with each request if it parses the head with httparse: the peer
//! benchmark's `ceiling` (a bare mio loop answering every request with one canned response),
//! with its search for the blank line replaced by `httparse::Request::parse` into 16 header
//! slots. Same sockets, same reads and writes, same canned response; no routing, no checks, no
//! response encoding. Its CPU per request, against the ceiling's in the same run, is what
//! httparse alone adds, and so a lower bound for any server that uses it (carafe included).
//!
//! usage: httparse-floor PORT (binds 127.0.0.1:PORT; stop it with SIGINT or SIGTERM)
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

/// The ceiling's response, byte for byte.
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: c\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nDate: Mon, 23 Nov 2026 00:00:00 GMT\r\n\r\nHello, World!";

struct Connection {
    stream: TcpStream,
    input: Vec<u8>,
    output: Vec<u8>,
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .expect("usage: httparse-floor PORT");
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(([127, 0, 0, 1], port).into())?;
    poll.registry()
        .register(&mut listener, Token(0), Interest::READABLE)?;
    let mut connections: HashMap<usize, Connection> = HashMap::new();
    let mut next_token = 1;
    let mut events = Events::with_capacity(1024);
    let mut read_buf = vec![0u8; 65536];
    loop {
        if let Err(error) = poll.poll(&mut events, None) {
            if error.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        for event in events.iter() {
            if event.token() == Token(0) {
                while let Ok((mut stream, _)) = listener.accept() {
                    let token = next_token;
                    next_token += 1;
                    stream.set_nodelay(true)?;
                    poll.registry().register(
                        &mut stream,
                        Token(token),
                        Interest::READABLE | Interest::WRITABLE,
                    )?;
                    let (input, output) = (Vec::new(), Vec::new());
                    connections.insert(
                        token,
                        Connection {
                            stream,
                            input,
                            output,
                        },
                    );
                }
                continue;
            }
            let token = event.token().0;
            let Some(conn) = connections.get_mut(&token) else {
                continue;
            };
            if !serve(conn, &mut read_buf) {
                connections.remove(&token);
            }
        }
    }
}

/// Reads what there is, answers every complete request, writes what it can. False: close.
fn serve(conn: &mut Connection, read_buf: &mut [u8]) -> bool {
    loop {
        match conn.stream.read(read_buf) {
            Ok(0) => return false,
            Ok(n) => conn.input.extend_from_slice(&read_buf[..n]),
            Err(error) if error.kind() == ErrorKind::WouldBlock => break,
            Err(_) => return false,
        }
    }
    let mut start = 0;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&conn.input[start..]) {
            Ok(httparse::Status::Complete(len)) => {
                conn.output.extend_from_slice(RESPONSE);
                start += len;
            }
            Ok(httparse::Status::Partial) => break,
            Err(_) => return false,
        }
    }
    conn.input.drain(..start);
    while !conn.output.is_empty() {
        match conn.stream.write(&conn.output) {
            Ok(n) => drop(conn.output.drain(..n)),
            Err(error) if error.kind() == ErrorKind::WouldBlock => break,
            Err(_) => return false,
        }
    }
    true
}
