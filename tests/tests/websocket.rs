//! WebSockets over a real socket, with tungstenite as the client: the handshake and its
//! refusals, echo of text and binary, fragmented messages, pings, the close handshake,
//! protocol violations sent as raw frames, limits, rooms across connections, pushes from
//! another thread, and a graceful shutdown's close.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use carafe::{App, Hub, Message, Request, WebSocket, WsHandler, WsSender, route};
use carafe_e2e::Served;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

type Client = tungstenite::WebSocket<TcpStream>;

/// Senders of the open `/held` connections, for the test to push through.
#[derive(Default)]
struct Held(Mutex<Vec<WsSender>>);

struct Chat {
    hub: Arc<Hub>,
    name: String,
}

impl WsHandler for Chat {
    fn on_open(&mut self, ws: &WsSender) {
        self.hub.join("room", ws);
        self.hub
            .send("room", Message::Text(format!("{} joined", self.name)));
    }
    fn on_message(&mut self, _ws: &WsSender, message: Message) {
        let text = message.as_text().unwrap_or("(binary)");
        self.hub
            .send("room", Message::Text(format!("{}: {text}", self.name)));
    }
    fn on_close(&mut self, ws: &WsSender, _code: u16, _reason: &str) {
        self.hub.leave("room", ws);
        self.hub
            .send("room", Message::Text(format!("{} left", self.name)));
    }
}

fn app(held: Arc<Held>) -> App {
    let mut app = App::new();
    app.config.workers = 2;
    app.config.linger_timeout = Duration::from_millis(200);
    app.config.max_websocket_message = 64 * 1024;
    app.config.live_ping_interval = Duration::from_millis(300);
    route!(app, GET "/echo" => |_req| WebSocket::new(|ws: &WsSender, message: Message| {
        let _ = ws.send(message);
    }), websocket)
    .unwrap();
    route!(app, GET "/chat" => |req: &Request| {
        let name = req.query("name").unwrap_or("anon").to_owned();
        WebSocket::new(Chat { hub: Arc::clone(req.hub()), name })
    }, websocket)
    .unwrap();
    route!(app, GET "/held" => move |_req| {
        let held = Arc::clone(&held);
        WebSocket::new(move |ws: &WsSender, message: Message| {
            if message.as_text() == Some("hold me") {
                held.0.lock().unwrap().push(ws.clone());
            }
        })
    }, websocket)
    .unwrap();
    route!(app, GET "/private" => |req: &Request| -> Result<WebSocket, carafe::HttpError> {
        if req.header("authorization") != Some("Bearer ok") {
            return Err(carafe::HttpError::new(carafe::StatusCode::FORBIDDEN, "no token"));
        }
        Ok(WebSocket::new(|ws: &WsSender, _message: Message| {
            let _ = ws.send("private hello");
        }))
    }, websocket)
    .unwrap();
    app
}

fn connect(served: &Served, path: &str) -> Client {
    let stream = TcpStream::connect(served.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let url = format!("ws://{}{path}", served.addr());
    let (client, response) = tungstenite::client(url.as_str(), stream).expect("the handshake");
    assert_eq!(response.status(), 101);
    client
}

fn text(client: &mut Client) -> String {
    match client.read().expect("a message") {
        tungstenite::Message::Text(text) => text.as_str().to_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// Sends `request` raw and returns the answer: its head and `Content-Length` body (a refused
/// handshake leaves the connection open for more requests).
fn raw(served: &Served, request: &str) -> String {
    let mut stream = TcpStream::connect(served.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length: usize = text[..head_end]
                .lines()
                .find_map(|line| line.trim_end().strip_prefix("Content-Length: "))
                .and_then(|value| value.parse().ok())
                .unwrap_or(0);
            if answer.len() >= head_end + 4 + length {
                return text;
            }
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return text,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
        }
    }
}

#[test]
fn echo_keeps_text_text_and_binary_binary_over_fragments_and_pings() {
    let served = Served::app(app(Arc::default()));
    let mut client = connect(&served, "/echo");
    client.send(tungstenite::Message::text("héllo")).unwrap();
    assert_eq!(text(&mut client), "héllo");
    client
        .send(tungstenite::Message::binary(vec![0u8, 1, 2, 255]))
        .unwrap();
    assert_eq!(
        client.read().unwrap(),
        tungstenite::Message::binary(vec![0u8, 1, 2, 255])
    );
    client.send(tungstenite::Message::Ping("p".into())).unwrap();
    assert_eq!(
        client.read().unwrap(),
        tungstenite::Message::Pong("p".into())
    );
    // A big message arrives whole, in many reads.
    let big = "x".repeat(60 * 1024);
    client
        .send(tungstenite::Message::text(big.clone()))
        .unwrap();
    assert_eq!(text(&mut client), big);
    client.close(None).unwrap();
    loop {
        match client.read() {
            Ok(tungstenite::Message::Close(_)) => continue,
            Err(tungstenite::Error::ConnectionClosed) => break,
            other => panic!("after close: {other:?}"),
        }
    }
}

#[test]
fn invalid_handshakes_are_refused_with_the_reason_and_hooks_can_refuse() {
    let served = Served::app(app(Arc::default()));
    let plain = raw(
        &served,
        "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        plain.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{plain}"
    );
    assert!(
        plain.contains("Sec-Websocket-Version: 13\r\n")
            || plain.contains("Sec-WebSocket-Version: 13\r\n"),
        "{plain}"
    );
    let old = raw(
        &served,
        "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    assert!(old.starts_with("HTTP/1.1 426"), "{old}");
    let keyless = raw(
        &served,
        "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
    );
    assert!(keyless.starts_with("HTTP/1.1 400"), "{keyless}");
    assert!(
        keyless.contains("Sec-WebSocket-Key is missing"),
        "{keyless}"
    );
    // The handshake, then a masked close frame (code 1000) so that the server ends it.
    let mut opening =
        b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            .to_vec();
    opening.extend_from_slice(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
    let accepted = String::from_utf8_lossy(&raw_bytes(&served, &opening)).into_owned();
    assert!(
        accepted.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{accepted}"
    );
    assert!(
        accepted.contains("Sec-Websocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{accepted}"
    );
    // The handler refuses: its answer, no upgrade.
    let stream = TcpStream::connect(served.addr()).unwrap();
    let url = format!("ws://{}/private", served.addr());
    match tungstenite::client(url.as_str(), stream) {
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("expected a 403, got {:?}", other.map(|(_, r)| r.status())),
    }
}

#[test]
fn protocol_violations_close_with_their_codes() {
    let served = Served::app(app(Arc::default()));
    let handshake = "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                     Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    let close_code = |frame: &[u8]| {
        let mut request = handshake.as_bytes().to_vec();
        request.extend_from_slice(frame);
        let answer = raw_bytes(&served, &request);
        let head_end = find(&answer, b"\r\n\r\n").expect("a 101") + 4;
        let frames = &answer[head_end..];
        assert_eq!(frames.first(), Some(&0x88), "a close frame: {frames:?}");
        u16::from_be_bytes([frames[2], frames[3]])
    };
    // Unmasked text frame.
    assert_eq!(close_code(b"\x81\x02hi"), 1002);
    // Reserved bit set.
    assert_eq!(close_code(b"\xc1\x80abcd"), 1002);
    // Unknown opcode 3.
    assert_eq!(close_code(b"\x83\x80abcd"), 1002);
    // Fragmented ping.
    assert_eq!(close_code(b"\x09\x80abcd"), 1002);
    // Invalid UTF-8 (0xff) in a text frame, masked with zeros.
    assert_eq!(close_code(b"\x81\x81\x00\x00\x00\x00\xff"), 1007);
    // Over the 64 KiB limit: 100,000 bytes announced.
    assert_eq!(
        close_code(b"\x82\xff\x00\x00\x00\x00\x00\x01\x86\xa0abcd"),
        1009
    );
}

fn raw_bytes(served: &Served, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(served.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[test]
fn a_room_spans_connections_and_workers() {
    let served = Served::app(app(Arc::default()));
    let mut ada = connect(&served, "/chat?name=ada");
    assert_eq!(text(&mut ada), "ada joined");
    let mut bob = connect(&served, "/chat?name=bob");
    assert_eq!(text(&mut bob), "bob joined");
    assert_eq!(text(&mut ada), "bob joined");
    ada.send(tungstenite::Message::text("hi bob")).unwrap();
    assert_eq!(text(&mut ada), "ada: hi bob");
    assert_eq!(text(&mut bob), "ada: hi bob");
    drop(ada);
    assert_eq!(text(&mut bob), "ada left");
}

#[test]
fn another_thread_pushes_learns_when_the_client_left_and_shutdown_closes_with_1001() {
    let held = Arc::new(Held::default());
    let served = Served::app(app(Arc::clone(&held)));
    let mut client = connect(&served, "/held");
    client.send(tungstenite::Message::text("hold me")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let sender = loop {
        if let Some(sender) = held.0.lock().unwrap().first().cloned() {
            break sender;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    };
    std::thread::spawn({
        let sender = sender.clone();
        move || sender.send("from another thread").unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(text(&mut client), "from another thread");
    // The server pings a quiet connection; a client that reads answers (tungstenite queues
    // the pong and sends it with its next write or read).
    client
        .get_mut()
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let quiet = Instant::now();
    let mut pings = 0;
    while quiet.elapsed() < Duration::from_millis(1000) {
        match client.read() {
            Ok(tungstenite::Message::Ping(_)) => pings += 1,
            Err(tungstenite::Error::Io(error))
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            other => panic!("while quiet: {other:?}"),
        }
        let _ = client.flush();
    }
    assert!(
        pings >= 2,
        "pinged {pings} times in a second at a 300 ms interval"
    );
    client
        .get_mut()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    sender.send("still here").unwrap();
    assert_eq!(text(&mut client), "still here");

    let mut second = connect(&served, "/held");
    second.send(tungstenite::Message::text("hold me")).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    drop(client);
    let deadline = Instant::now() + Duration::from_secs(5);
    while sender.send("anyone?").is_ok() {
        assert!(Instant::now() < deadline, "never learnt the client left");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(sender.is_closed());

    std::thread::spawn(move || served.shutdown());
    match second.read() {
        Ok(tungstenite::Message::Close(Some(CloseFrame { code, .. }))) => {
            assert_eq!(code, CloseCode::Away);
        }
        other => panic!("expected a 1001 close, got {other:?}"),
    }
}

#[test]
fn a_client_that_never_answers_pings_is_dropped() {
    let held = Arc::new(Held::default());
    let served = Served::app(app(Arc::clone(&held)));
    let mut client = connect(&served, "/held");
    client.send(tungstenite::Message::text("hold me")).unwrap();
    // The client reads nothing from now on: the ping at 300 ms goes unanswered.
    let started = Instant::now();
    let sender = loop {
        if let Some(sender) = held.0.lock().unwrap().first().cloned() {
            break sender;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    while !sender.is_closed() {
        assert!(started.elapsed() < Duration::from_secs(5), "never dropped");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        started.elapsed() >= Duration::from_millis(550),
        "dropped too early"
    );
    drop(client);
}

#[test]
fn pages_of_other_sites_may_not_open_websockets_unless_listed() {
    let mut app = app(Arc::default());
    app.config.websocket_origins = vec!["https://friend.example".to_owned()];
    let served = Served::app(app);
    let from = |origin: &str| {
        let answer = raw(
            &served,
            &format!(
                "GET /echo HTTP/1.1\r\nHost: app.example\r\nOrigin: {origin}\r\n\
                 Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            ),
        );
        answer.lines().next().unwrap_or_default().to_owned()
    };
    assert_eq!(from("https://evil.example"), "HTTP/1.1 403 Forbidden");
    assert_eq!(from("null"), "HTTP/1.1 403 Forbidden");
    assert_eq!(
        from("http://app.example"),
        "HTTP/1.1 101 Switching Protocols"
    );
    assert_eq!(
        from("https://friend.example"),
        "HTTP/1.1 101 Switching Protocols"
    );
}

/// An app whose WebSockets queue at most 8 messages, and two routes that each queue 100 at
/// once on opening: one under each overflow policy.
fn flooding_app() -> App {
    let mut app = App::new();
    app.config.max_live_queue = 8;
    let flood = |ws: &WsSender| {
        for i in 0..100 {
            let _ = ws.send(format!("m{i}"));
        }
    };
    struct Flood(fn(&WsSender));
    impl WsHandler for Flood {
        fn on_open(&mut self, ws: &WsSender) {
            (self.0)(ws);
        }
        fn on_message(&mut self, _ws: &WsSender, _message: Message) {}
    }
    route!(app, GET "/close" => move |_req| WebSocket::new(Flood(flood)), websocket).unwrap();
    route!(app, GET "/drop" => move |_req| {
        WebSocket::new(Flood(flood)).overflow(carafe::Overflow::DropOldest)
    }, websocket)
    .unwrap();
    app
}

#[test]
fn a_client_that_falls_behind_is_closed_with_1008_or_loses_the_oldest() {
    let served = Served::app(flooding_app());
    let mut closed = connect(&served, "/close");
    loop {
        match closed.read() {
            Ok(tungstenite::Message::Text(_)) => {}
            Ok(tungstenite::Message::Close(Some(frame))) => {
                assert_eq!(frame.code, CloseCode::Policy);
                break;
            }
            other => panic!("expected messages, then a 1008 close: {other:?}"),
        }
    }
    let mut dropping = connect(&served, "/drop");
    let kept: Vec<String> = (0..8).map(|_| text(&mut dropping)).collect();
    let newest: Vec<String> = (92..100).map(|i| format!("m{i}")).collect();
    assert_eq!(kept, newest);
    dropping.close(None).unwrap();
}

#[test]
fn a_handshake_and_frames_sent_a_byte_at_a_time_work() {
    let served = Served::app(app(Arc::default()));
    let mut stream = TcpStream::connect(served.addr()).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut bytes =
        b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            .to_vec();
    // "héllo" as two fragments, the é split between them, masked with a key of zeros.
    bytes.extend_from_slice(&[0x01, 0x82, 0, 0, 0, 0, b'h', 0xc3]);
    bytes.extend_from_slice(&[0x80, 0x84, 0, 0, 0, 0, 0xa9, b'l', b'l', b'o']);
    for byte in bytes {
        stream.write_all(&[byte]).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut answer = Vec::new();
    let echo = [0x81, 0x06, b'h', 0xc3, 0xa9, b'l', b'l', b'o'];
    let mut buffer = [0u8; 1024];
    while !answer.ends_with(&echo) {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => panic!("no echo: {}", String::from_utf8_lossy(&answer)),
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
        }
    }
    assert!(answer.starts_with(b"HTTP/1.1 101 "));
}

/// Echoes `text` as `thread name: text`, sleeping first when told to.
fn slow_echo(ws: &WsSender, message: Message) {
    let text = message.as_text().unwrap_or_default().to_owned();
    if let Some(ms) = text.strip_prefix("sleep ") {
        std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
    }
    if text == "boom" {
        panic!("the handler failed on purpose");
    }
    let thread = std::thread::current().name().unwrap_or("?").to_owned();
    let _ = ws.send(format!("{thread}: {text}"));
}

fn blocking_app() -> App {
    let mut app = App::new();
    app.config.workers = 1;
    app.config.blocking_threads = 2;
    app.config.linger_timeout = Duration::from_millis(200);
    route!(app, GET "/pooled" => |_req| WebSocket::new(slow_echo), websocket, blocking).unwrap();
    route!(app, GET "/on-loop" => |_req| WebSocket::new(slow_echo), websocket).unwrap();
    route!(app, GET "/ping" => |_req| "pong").unwrap();
    app
}

fn closed_with(client: &mut Client) -> Option<CloseFrame> {
    loop {
        match client.read() {
            Ok(tungstenite::Message::Close(frame)) => return frame,
            Ok(_) => continue,
            Err(error) => panic!("expected a close frame, got {error}"),
        }
    }
}

#[test]
fn a_blocking_route_handles_messages_on_the_pool_in_order_without_stalling_the_loop() {
    let served = Served::app(blocking_app());
    let mut client = connect(&served, "/pooled");
    client
        .send(tungstenite::Message::text("sleep 600"))
        .unwrap();
    client.send(tungstenite::Message::text("second")).unwrap();
    client.send(tungstenite::Message::text("third")).unwrap();

    // The only worker's loop answers while the handler sleeps on the pool.
    let started = Instant::now();
    let pong = carafe_e2e::curl(&[&served.url("/ping")]);
    assert_eq!(pong.text(), "pong");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "the loop waited for the handler: {:?}",
        started.elapsed()
    );

    for expected in ["sleep 600", "second", "third"] {
        let answer = text(&mut client);
        let (thread, echoed) = answer.split_once(": ").unwrap();
        assert!(thread.starts_with("carafe-blocking-"), "ran on {thread}");
        assert_eq!(echoed, expected);
    }
    client.close(None).unwrap();
    served.shutdown();
}

#[test]
fn a_panicking_websocket_handler_costs_its_connection_1011_and_nothing_else() {
    let served = Served::app(blocking_app());
    for path in ["/on-loop", "/pooled"] {
        let mut client = connect(&served, path);
        client.send(tungstenite::Message::text("boom")).unwrap();
        let frame = closed_with(&mut client).expect("a close code");
        assert_eq!(frame.code, CloseCode::Error, "{path}");

        // The thread that ran it still serves: new connections, on the loop and the pool.
        for path in ["/on-loop", "/pooled"] {
            let mut again = connect(&served, path);
            again
                .send(tungstenite::Message::text("still here"))
                .unwrap();
            assert!(text(&mut again).ends_with(": still here"));
        }
        assert_eq!(carafe_e2e::curl(&[&served.url("/ping")]).text(), "pong");
    }
    served.shutdown();
}

#[test]
fn a_reset_in_the_middle_of_a_message_frees_the_connection_and_tells_the_app() {
    #[derive(Default)]
    struct Seen {
        sender: Mutex<Option<WsSender>>,
        closed: Mutex<Option<u16>>,
    }
    struct Watch {
        seen: Arc<Seen>,
        hub: Arc<Hub>,
    }
    impl WsHandler for Watch {
        fn on_open(&mut self, ws: &WsSender) {
            self.hub.join("watchers", ws);
            *self.seen.sender.lock().unwrap() = Some(ws.clone());
        }
        fn on_message(&mut self, _ws: &WsSender, _message: Message) {}
        fn on_close(&mut self, _ws: &WsSender, code: u16, _reason: &str) {
            *self.seen.closed.lock().unwrap() = Some(code);
        }
    }
    let seen = Arc::new(Seen::default());
    let mut app = App::new();
    app.config.workers = 1;
    let watched = Arc::clone(&seen);
    route!(app, GET "/watch" => move |req: &Request| {
        WebSocket::new(Watch { seen: Arc::clone(&watched), hub: Arc::clone(req.hub()) })
    }, websocket)
    .unwrap();
    let hub = app.hub();
    let served = Served::app(app);

    let mut stream = TcpStream::connect(served.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(
            b"GET /watch HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    // A masked binary frame announcing 60,000 bytes, of which 1,000 come before the reset.
    let mut frame = vec![0x82, 0x80 | 126, 0xEA, 0x60, 1, 2, 3, 4];
    frame.extend(std::iter::repeat_n(0u8, 1000));
    stream.write_all(&frame).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(stream); // an RST, not a FIN

    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.closed.lock().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        *seen.closed.lock().unwrap(),
        Some(1006),
        "on_close: abnormal closure"
    );
    let sender = seen.sender.lock().unwrap().clone().expect("opened");
    assert!(sender.is_closed());
    assert!(sender.send("anyone there?").is_err());
    assert_eq!(hub.send("watchers", "anyone?"), 0, "the room forgot it");
    assert!(hub.is_empty("watchers"));
    served.shutdown();
}
