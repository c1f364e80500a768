//! HTTPS (the `tls` feature) over real sockets with real clients: curl trusting a certificate
//! made here with rcgen, `openssl s_client` for protocol versions, ALPN and close_notify, and
//! a rustls client for what a byte-exact check needs. Bad clients (plain HTTP on the TLS port,
//! garbage, a stalled handshake, slowloris inside TLS) are cut without disturbing the others;
//! a new certificate serves new handshakes while open connections keep going.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use carafe::{App, Message, Response, Tls, WebSocket, WsSender, route};
use carafe_e2e::{Scratch, Served, ServerProcess, curl, read_until_close, write_until_stalled};

const WAIT: Duration = Duration::from_secs(5);

/// A self-signed certificate for `localhost` and 127.0.0.1, as PEM: (chain, key).
fn certificate() -> (String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("rcgen makes a certificate");
    (cert.cert.pem(), cert.signing_key.serialize_pem())
}

struct Https {
    served: Served,
    tls: Tls,
    /// The certificate clients trust, as a file for curl and openssl.
    ca_file: std::path::PathBuf,
    ca_pem: String,
    _scratch: Scratch,
}

fn app() -> App {
    let mut app = App::new();
    app.config.workers = 1;
    route!(app, GET "/" => |_req| "hello over TLS").unwrap();
    route!(app, POST "/echo" => |req| req.body().to_vec()).unwrap();
    route!(app, GET "/big" => |_req| Response::bytes(big_body())).unwrap();
    route!(app, GET "/60k" => |_req| Response::bytes(vec![b'y'; 60 * 1024])).unwrap();
    // Echoes, and answers "later" from another thread (through the worker's waker).
    route!(app, GET "/ws" => |_req| WebSocket::new(|ws: &WsSender, message: Message| {
        if message.as_text() == Some("later") {
            let ws = ws.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                let _ = ws.send("pushed");
            });
        } else {
            let _ = ws.send(message);
        }
    }), websocket)
    .unwrap();
    app
}

fn big_body() -> Vec<u8> {
    (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect()
}

fn serve(configure: impl FnOnce(&mut App)) -> Https {
    let mut app = app();
    configure(&mut app);
    let (chain, key) = certificate();
    let tls = Tls::from_pem(&chain, &key).expect("the certificate loads");
    let scratch = Scratch::new();
    let ca_file = scratch.path("ca.pem");
    std::fs::write(&ca_file, &chain).unwrap();
    Https {
        served: Served::app_tls(app, tls.clone()),
        tls,
        ca_file,
        ca_pem: chain,
        _scratch: scratch,
    }
}

impl Https {
    fn addr(&self) -> SocketAddr {
        self.served.addr()
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr().port())
    }

    fn curl(&self, args: &[&str]) -> carafe_e2e::CurlOutput {
        let resolve = format!("localhost:{}:127.0.0.1", self.addr().port());
        let mut all = vec![
            "--cacert",
            self.ca_file.to_str().unwrap(),
            "--resolve",
            &resolve,
        ];
        all.extend_from_slice(args);
        curl(&all)
    }

    /// A TLS client connection trusting `ca_pem`.
    fn client(&self, ca_pem: &str) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
        client(self.addr(), ca_pem).expect("the TLS handshake succeeds")
    }
}

fn client(
    addr: SocketAddr,
    ca_pem: &str,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, std::io::Error> {
    client_with(addr, ca_pem, None)
}

/// [`client`] with the socket's receive buffer set first (`SO_RCVBUF`), to play a slow link.
fn client_with(
    addr: SocketAddr,
    ca_pem: &str,
    receive_buffer: Option<usize>,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, std::io::Error> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    if let Some(size) = receive_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    socket.connect(&addr.into())?;
    let mut tcp = TcpStream::from(socket);
    tcp.set_read_timeout(Some(WAIT))?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)?;
    }
    Ok(rustls::StreamOwned::new(conn, tcp))
}

/// Reads one response whose body has a Content-Length.
fn read_response(stream: &mut impl Read) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("a response head");
        got.push(byte[0]);
    }
    let head = String::from_utf8(got).unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("a Content-Length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).expect("the body");
    head + &String::from_utf8_lossy(&body)
}

fn openssl(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| {
            panic!("cannot run openssl ({error}); the TLS tests need it: apt-get install openssl")
        });
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    waiter.join().unwrap()
}

#[test]
fn curl_gets_pages_over_https_with_the_certificate_made_here() {
    let https = serve(|_| {});
    assert!(https.served.url("/").starts_with("https://127.0.0.1:"));
    let out = https.curl(&[&https.url("/")]);
    assert_eq!(out.status, 200, "{out:?}");
    assert_eq!(out.body, b"hello over TLS");
    // Two requests on one kept-alive connection, and a body up.
    let out = https.curl(&["-v", &https.url("/"), &https.url("/")]);
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(
        out.stderr.contains("Re-using existing") || out.stderr.contains("Reusing existing"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("ALPN: server accepted http/1.1"),
        "{}",
        out.stderr
    );
    let out = https.curl(&["--data-binary", "abc=123", &https.url("/echo")]);
    assert_eq!(
        (out.status, out.body.as_slice()),
        (200, &b"abc=123"[..]),
        "{out:?}"
    );
}

#[test]
fn a_large_response_arrives_whole_over_tls() {
    let https = serve(|_| {});
    let out = https.curl(&["--limit-rate", "4M", &https.url("/big")]);
    assert_eq!(out.status, 200, "{out:?}");
    assert!(
        out.body == big_body(),
        "{} bytes, not the 3 MiB sent",
        out.body.len()
    );
}

#[test]
fn a_client_that_does_not_trust_the_certificate_or_asks_another_name_is_refused() {
    let https = serve(|_| {});
    // No --cacert: the system roots do not know this certificate.
    let out = curl(&[&https.url("/").replace("localhost", "127.0.0.1")]);
    assert_eq!(out.exit_code, Some(60), "{out:?}");
    // A name the certificate does not hold (wrong SNI): the client refuses it.
    let resolve = format!("wrong.example:{}:127.0.0.1", https.addr().port());
    let out = curl(&[
        "--cacert",
        https.ca_file.to_str().unwrap(),
        "--resolve",
        &resolve,
        &format!("https://wrong.example:{}/", https.addr().port()),
    ]);
    assert_eq!(out.exit_code, Some(60), "{out:?}");
    // Nobody else noticed.
    assert_eq!(https.curl(&[&https.url("/")]).status, 200);
}

#[test]
fn tls_1_2_and_1_3_are_spoken_and_nothing_older() {
    let https = serve(|_| {});
    let connect = https.addr().to_string();
    for (flag, version) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let out = openssl(
            &[
                "s_client",
                "-connect",
                &connect,
                flag,
                "-ign_eof",
                "-alpn",
                "http/1.1",
                "-CAfile",
                https.ca_file.to_str().unwrap(),
                "-servername",
                "localhost",
            ],
            b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("Protocol  : {version}")),
            "{flag}: {stdout}"
        );
        assert!(
            stdout.contains("ALPN protocol: http/1.1"),
            "{flag}: {stdout}"
        );
        assert!(
            stdout.contains("Verify return code: 0 (ok)"),
            "{flag}: {stdout}"
        );
        assert!(stdout.contains("hello over TLS"), "{flag}: {stdout}");
    }
    // TLS 1.1, allowed on the client's side (security level 0): the server refuses.
    let out = openssl(
        &[
            "s_client",
            "-connect",
            &connect,
            "-tls1_1",
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
        ],
        b"",
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{all}");
    assert!(
        // rustls answers a ClientHello without 1.2 or 1.3 with a handshake_failure alert.
        all.contains("alert handshake failure") && all.contains("Cipher is (NONE)"),
        "{all}"
    );
    assert!(!all.contains("hello over TLS"), "{all}");
    assert_eq!(https.curl(&[&https.url("/")]).status, 200);
}

#[test]
fn close_notify_is_sent_after_the_last_response_and_answered_when_the_client_sends_it() {
    let https = serve(|_| {});
    // openssl shows the alerts it reads: the server's close_notify after `Connection: close`.
    let out = openssl(
        &[
            "s_client",
            "-connect",
            &https.addr().to_string(),
            "-msg",
            "-ign_eof",
            "-CAfile",
            https.ca_file.to_str().unwrap(),
        ],
        b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("hello over TLS"), "{stdout}");
    assert!(
        stdout.contains("<<< TLS 1.3, Alert [length 0002], warning close_notify"),
        "no close_notify from the server: {stdout}"
    );
    // rustls's reader returns Ok(0) only after a close_notify (UnexpectedEof on a bare FIN).
    let mut stream = https.client(&https.ca_pem);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    stream
        .read_to_end(&mut all)
        .expect("a clean end: the server sent close_notify");
    assert!(String::from_utf8_lossy(&all).contains("hello over TLS"));
    // The client says goodbye first, on a kept-alive connection: the server answers in kind.
    let mut stream = https.client(&https.ca_pem);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut stream).contains("hello over TLS"));
    stream.conn.send_close_notify();
    stream.flush().unwrap();
    stream.conn.complete_io(&mut stream.sock).unwrap();
    let mut rest = Vec::new();
    let started = Instant::now();
    stream
        .read_to_end(&mut rest)
        .expect("the server's close_notify in answer");
    assert!(rest.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the server waited {:?}",
        started.elapsed()
    );
}

#[test]
fn plain_http_to_the_tls_port_is_told_to_use_https() {
    let https = serve(|_| {});
    let mut tcp = TcpStream::connect(https.addr()).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let got = String::from_utf8_lossy(&read_until_close(&mut tcp)).into_owned();
    assert!(got.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{got:?}");
    assert!(got.ends_with("use https:// to reach it"), "{got:?}");
    // curl with http:// sees the same answer.
    let out = curl(&[&format!("http://127.0.0.1:{}/", https.addr().port())]);
    assert_eq!(out.status, 400, "{out:?}");
    assert_eq!(
        out.body,
        b"This port speaks HTTPS: use https:// to reach it"
    );
    assert_eq!(https.curl(&[&https.url("/")]).status, 200);
}

#[test]
fn garbage_on_the_tls_port_is_closed_and_others_are_served() {
    let https = serve(|_| {});
    // A handshake record header, then nonsense; then bytes that are not TLS at all.
    for junk in [
        &b"\x16\x03\x01\x00\x10garbage-garbage!"[..],
        &b"\x00\x01\x02\x03\xff\xfe\xfd"[..],
    ] {
        let mut tcp = TcpStream::connect(https.addr()).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        tcp.write_all(junk).unwrap();
        let started = Instant::now();
        let got = read_until_close(&mut tcp);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "not closed: {got:?}"
        );
        // At most a TLS alert record (content type 21), never HTTP.
        assert!(got.is_empty() || got[0] == 21, "{got:?}");
    }
    assert_eq!(https.curl(&[&https.url("/")]).status, 200);
}

#[test]
fn a_stalled_handshake_is_cut_at_the_handshake_timeout() {
    let https = serve(|app| {
        app.config.tls_handshake_timeout = Duration::from_millis(300);
        // Far longer: only the handshake timeout can explain a close within a second or two.
        app.config.keep_alive_timeout = Duration::from_secs(20);
        app.config.header_timeout = Duration::from_secs(20);
    });
    let mut stalled = Vec::new();
    for bytes in [
        &b""[..],
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
    ] {
        let mut tcp = TcpStream::connect(https.addr()).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        tcp.write_all(bytes).unwrap();
        stalled.push(tcp);
    }
    let started = Instant::now();
    for mut tcp in stalled {
        let mut buf = [0u8; 64];
        match tcp.read(&mut buf) {
            Ok(0) => {}
            Err(error) if error.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("expected the server to close: {other:?}"),
        }
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    // A client that finishes its handshake in time is not cut.
    let mut stream = https.client(&https.ca_pem);
    std::thread::sleep(Duration::from_millis(600));
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut stream).contains("hello over TLS"));
}

#[test]
fn slowloris_inside_tls_gets_408_at_the_header_timeout() {
    let https = serve(|app| app.config.header_timeout = Duration::from_millis(500));
    let mut stream = https.client(&https.ca_pem);
    stream.write_all(b"GET / HTTP/1.1\r\nHost: loc").unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    stream
        .read_to_end(&mut got)
        .expect("a 408, then close_notify");
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

#[test]
fn pipelined_requests_over_tls_are_answered_in_order() {
    let https = serve(|_| {});
    let mut stream = https.client(&https.ca_pem);
    stream
        .write_all(
            b"POST /echo HTTP/1.1\r\nHost: l\r\nContent-Length: 3\r\n\r\none\
                     POST /echo HTTP/1.1\r\nHost: l\r\nContent-Length: 3\r\n\r\ntwo\
                     GET / HTTP/1.1\r\nHost: l\r\n\r\n",
        )
        .unwrap();
    assert!(read_response(&mut stream).ends_with("\r\n\r\none"));
    assert!(read_response(&mut stream).ends_with("\r\n\r\ntwo"));
    assert!(read_response(&mut stream).ends_with("hello over TLS"));
}

#[test]
fn a_new_certificate_serves_new_handshakes_and_open_connections_keep_going() {
    let https = serve(|_| {});
    let mut old = https.client(&https.ca_pem);
    old.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut old).contains("hello over TLS"));

    let (chain, key) = certificate();
    https
        .tls
        .set_pem(&chain, &key)
        .expect("the new certificate loads");
    // A mismatched pair is refused and changes nothing.
    let (_, other_key) = certificate();
    assert!(https.tls.set_pem(&chain, &other_key).is_err());

    // New handshakes get the new certificate: trusted with the new CA, refused with the old.
    let mut new = client(https.addr(), &chain).expect("the new certificate is served");
    new.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut new).contains("hello over TLS"));
    assert!(client(https.addr(), &https.ca_pem).is_err());
    // The connection opened before still works.
    old.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut old).contains("hello over TLS"));
}

#[test]
fn sighup_reloads_the_certificate_files_without_dropping_connections() {
    let scratch = Scratch::new();
    let (cert_path, key_path) = (scratch.path("cert.pem"), scratch.path("key.pem"));
    let (chain, key) = certificate();
    std::fs::write(&cert_path, &chain).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let server = ServerProcess::start_with_env(
        &[],
        env!("CARGO_BIN_EXE_test-server"),
        &[
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ],
        &[("RUST_LOG", "info")],
    );
    let mut old = client(server.addr(), &chain).expect("served with the first certificate");
    old.write_all(b"GET /chunk?kb=1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    read_response(&mut old);

    let (new_chain, new_key) = certificate();
    std::fs::write(&cert_path, &new_chain).unwrap();
    std::fs::write(&key_path, &new_key).unwrap();
    server.signal("HUP");
    let deadline = Instant::now() + WAIT;
    while client(server.addr(), &new_chain).is_err() {
        assert!(
            Instant::now() < deadline,
            "the new certificate was never served: {}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(client(server.addr(), &chain).is_err());
    old.write_all(b"GET /chunk?kb=1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut old).ends_with(&"x".repeat(1024)));
    assert!(
        server.stderr().contains("TLS certificate reloaded"),
        "{}",
        server.stderr()
    );
}

#[test]
fn websockets_work_inside_tls_pushes_from_other_threads_included() {
    let https = serve(|_| {});
    let stream = https.client(&https.ca_pem);
    let (mut ws, response) =
        tungstenite::client("ws://localhost/ws", stream).expect("the WebSocket handshake");
    assert_eq!(response.status(), 101);
    for text in ["hello", &"x".repeat(100_000)] {
        ws.send(tungstenite::Message::text(text)).unwrap();
        assert_eq!(ws.read().unwrap().into_text().unwrap().as_str(), text);
    }
    ws.send(tungstenite::Message::text("later")).unwrap();
    assert_eq!(ws.read().unwrap().into_text().unwrap().as_str(), "pushed");
    ws.close(None).unwrap();
    loop {
        match ws.read() {
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(error) => panic!("expected a clean close: {error}"),
        }
    }
}

/// The test server as its own process over HTTPS, with `extra` flags; its certificate's PEM.
fn tls_server_process(extra: &[&str]) -> (ServerProcess, String, Scratch) {
    let scratch = Scratch::new();
    let (cert_path, key_path) = (scratch.path("cert.pem"), scratch.path("key.pem"));
    let (chain, key) = certificate();
    std::fs::write(&cert_path, &chain).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let mut args = vec![
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let server = ServerProcess::start(&[], env!("CARGO_BIN_EXE_test-server"), &args);
    (server, chain, scratch)
}

#[test]
fn a_tls_client_that_does_not_read_cannot_grow_server_memory() {
    let (server, chain, _scratch) = tls_server_process(&["--max-pending-output", "262144"]);
    let before = server.rss_kib();
    let stream = client(server.addr(), &chain).expect("the handshake");
    let (mut conn, mut tcp) = (stream.conn, stream.sock);
    tcp.set_nonblocking(true).unwrap();
    // Each request asks for 16 KiB: without backpressure through TLS, 2 MiB of requests
    // would make the server hold 800 MiB of responses.
    let request = b"GET /chunk?kb=16 HTTP/1.1\r\nHost: x\r\n\r\n";
    // Counted as sent once handed to rustls; its records go out as the socket takes them.
    let sent = write_until_stalled(2 * 1024 * 1024, || {
        if conn.wants_write() {
            conn.write_tls(&mut tcp).map(|_| 0)
        } else {
            conn.writer().write_all(request).map(|()| request.len())
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let grown = server.rss_kib().saturating_sub(before);
    assert!(
        grown < 32 * 1024,
        "server RSS grew by {grown} KiB after {} pipelined requests that nobody read",
        sent / request.len()
    );
    // Others are still served.
    let mut other = client(server.addr(), &chain).expect("a handshake meanwhile");
    other
        .write_all(b"GET /chunk?kb=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut other).ends_with(&"x".repeat(1024)));
}

#[test]
fn a_graceful_shutdown_lets_a_slow_reader_finish_its_response_over_tls() {
    // A small send buffer: the end of the response waits in rustls as TLS records, not in
    // the kernel, when the connection has handed it all over.
    let https = serve(|app| app.config.send_buffer_size = Some(8 * 1024));
    let mut stream = https.client(&https.ca_pem);
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut first = vec![0u8; 64 * 1024];
    stream.read_exact(&mut first).unwrap();
    // The server now holds the rest, some of it as TLS records not yet sent.
    https.served.handle().shutdown();
    std::thread::sleep(Duration::from_millis(200));
    let mut rest = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => rest.extend_from_slice(&chunk[..n]),
            Err(error) => panic!("after {} bytes: {error}", first.len() + rest.len()),
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    first.extend_from_slice(&rest);
    let head_end = first.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(
        first[head_end..] == big_body(),
        "{} body bytes of {}",
        first.len() - head_end,
        big_body().len()
    );
}

#[test]
fn a_graceful_shutdown_does_not_cut_a_response_still_in_tls_records() {
    // The whole 60 KiB response fits rustls's buffer at once, so the connection is idle (its
    // part done) while most of it still waits as TLS records behind a small send buffer and
    // a client that has not read yet. The shutdown must not close it as idle.
    let https = serve(|app| app.config.send_buffer_size = Some(4 * 1024));
    let mut stream =
        client_with(https.addr(), &https.ca_pem, Some(4 * 1024)).expect("the handshake");
    stream
        .write_all(b"GET /60k HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    https.served.handle().shutdown();
    std::thread::sleep(Duration::from_millis(300));
    let got = read_response(&mut stream);
    assert!(got.ends_with(&"y".repeat(60 * 1024)), "{} bytes", got.len());
}
