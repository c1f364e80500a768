//! carafe behind nginx, as `deploy/nginx.conf` sets it up: Debian's nginx runs that file
//! (ports, certificate and log paths substituted) in front of two `test-server` processes,
//! each trusting X-Forwarded-* from 127.0.0.1 only.
//!
//! nginx runs as an ordinary child process, root or not: its own prefix, configuration, pid
//! file, logs and temp folders in a scratch folder, `daemon off`, listening on free loopback
//! ports only, in its own process group that a guard kills when dropped, also on a panic.
//! Without nginx (Debian's `nginx-light`, which `./test` installs) the tests fail, naming
//! the package; they never skip.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use carafe_e2e::http_client::{HttpConnection, HttpResponse};
use carafe_e2e::load::{Client, Load};
use carafe_e2e::{Scratch, ServerProcess, curl, free_port};

const NGINX: &str = "/usr/sbin/nginx";
const NGINX_HINT: &str = "apt-get install nginx-light";
const OPENSSL: &str = "/usr/bin/openssl";
const OPENSSL_HINT: &str = "apt-get install openssl";
const SERVER: &str = env!("CARGO_BIN_EXE_test-server");
/// The deployment recipe under test.
const DEPLOY_CONF: &str = include_str!("../../deploy/nginx.conf");
const WAIT: Duration = Duration::from_secs(5);
/// How long the load runs before an instance is stopped, and after it has gone.
const PHASE: Duration = Duration::from_millis(400);
/// A loopback address other than nginx's own, for a client that is not the trusted proxy.
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

#[test]
fn nginx_spreads_requests_over_both_instances_on_kept_alive_connections() {
    let (a, b) = (instance(), instance());
    let nginx = Nginx::start([a.addr(), b.addr()]);

    let mut peers: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for _ in 0..20 {
        let whoami = get(nginx.http, "/api/whoami", &[]).json();
        let pid = whoami["pid"].as_u64().expect("a pid");
        let peer = whoami["peer"].as_str().expect("a peer").to_owned();
        peers.entry(pid).or_default().insert(peer);
    }
    let pids: BTreeSet<u64> = peers.keys().copied().collect();
    let expected: BTreeSet<u64> = [a.pid(), b.pid()].map(u64::from).into();
    assert_eq!(pids, expected, "requests reach both instances");
    // Ten requests each, one after another: with keep-alive, nginx sends them all down the
    // one connection it keeps to each instance (each would come from a new port otherwise).
    for (pid, addresses) in &peers {
        assert_eq!(
            addresses.len(),
            1,
            "instance {pid} saw nginx connect from {addresses:?}"
        );
    }

    // What nginx sends upstream: HTTP/1.1 keep-alive, the Host asked for, who and how.
    let fields = headers_seen_upstream(&get(nginx.http, "/headers", &[]));
    assert_eq!(fields.get("host").map(String::as_str), Some("127.0.0.1"));
    assert_eq!(
        fields.get("x-forwarded-for").map(String::as_str),
        Some("127.0.0.1")
    );
    assert_eq!(
        fields.get("x-forwarded-proto").map(String::as_str),
        Some("http")
    );
    assert_eq!(fields.get("connection"), None, "{fields:?}");
}

#[test]
fn a_websocket_and_an_event_stream_pass_through() {
    let (a, b) = (instance(), instance());
    let nginx = Nginx::start([a.addr(), b.addr()]);

    // WebSocket echo: nginx passes the upgrade on and relays frames both ways.
    let stream = std::net::TcpStream::connect(nginx.http).expect("connect to nginx");
    stream.set_read_timeout(Some(WAIT)).expect("a read timeout");
    let url = format!("ws://{}/ws/echo", nginx.http);
    let (mut socket, response) =
        tungstenite::client(url.as_str(), stream).expect("the handshake through nginx");
    assert_eq!(response.status(), 101);
    for message in [
        tungstenite::Message::text("through nginx"),
        tungstenite::Message::binary(vec![1u8, 2, 3]),
    ] {
        socket.send(message.clone()).expect("send");
        assert_eq!(socket.read().expect("the echo"), message);
    }
    socket.close(None).expect("close");

    // Server-sent events: nginx passes them on as they come (curl stops after 3 s).
    let events = curl(&[
        "-sN",
        "--max-time",
        "3",
        &format!("http://{}/events", nginx.http),
    ]);
    let body = events.text();
    assert!(body.contains("event: posts\ndata: ["), "{body}");
    assert!(body.contains("event: stats\ndata: {"), "{body}");
    assert_eq!(events.header("content-type"), Some("text/event-stream"));
}

#[test]
fn forwarded_headers_are_believed_from_the_trusted_proxy_only() {
    let (a, b) = (instance(), instance());
    let nginx = Nginx::start([a.addr(), b.addr()]);
    let forged = [
        ("X-Forwarded-For", "6.6.6.6"),
        ("X-Forwarded-Proto", "https"),
    ];

    // Through nginx over plain HTTP, from 127.0.0.2: nginx (127.0.0.1) vouches for the
    // client; the address the client put in X-Forwarded-For is to the left and not believed,
    // and nginx overwrites the proto with the truth.
    let mut connection = HttpConnection::connect_from(CLIENT, nginx.http).expect("connect");
    let whoami = ok(connection.get("/api/whoami", &forged)).json();
    assert_eq!(whoami["client"], "127.0.0.2", "{whoami}");
    assert_eq!(whoami["scheme"], "http", "{whoami}");
    assert!(is_from(&whoami["peer"], "127.0.0.1"), "{whoami}");

    // Through nginx over HTTPS: the scheme carafe reports is the one the client used.
    let url = format!("https://{}/api/whoami", nginx.https);
    let output = curl(&["--insecure", "--interface", "127.0.0.2", &url]);
    assert_eq!(output.status, 200, "{output}");
    let whoami: serde_json::Value = serde_json::from_slice(&output.body).expect("JSON");
    assert_eq!(whoami["client"], "127.0.0.2", "{whoami}");
    assert_eq!(whoami["scheme"], "https", "{whoami}");

    // Straight to an instance from 127.0.0.2, which it does not trust: the forged headers
    // are ignored and the client is its TCP peer.
    let mut direct = HttpConnection::connect_from(CLIENT, a.addr()).expect("connect");
    let whoami = ok(direct.get("/api/whoami", &forged)).json();
    assert_eq!(whoami["client"], "127.0.0.2", "{whoami}");
    assert_eq!(whoami["scheme"], "http", "{whoami}");
    // The same headers from the trusted address are believed: trust is the only difference.
    let whoami = get(a.addr(), "/api/whoami", &forged).json();
    assert_eq!(whoami["client"], "6.6.6.6", "{whoami}");
    assert_eq!(whoami["scheme"], "https", "{whoami}");
}

#[test]
fn the_client_nginx_and_the_instance_name_a_request_by_one_id() {
    let logging = || {
        ServerProcess::start_with_env(
            &[],
            SERVER,
            &["--trusted-proxy", "127.0.0.1"],
            &[("RUST_LOG", "carafe::access=info")],
        )
    };
    let (a, b) = (logging(), logging());
    let nginx = Nginx::start([a.addr(), b.addr()]);
    let mut ids = BTreeSet::new();
    for path in ["/", "/no-such-page"] {
        let mut connection = HttpConnection::connect(nginx.http).expect("connect");
        // nginx replaces an id the client sent with its own.
        let response = connection
            .get(path, &[("X-Request-Id", "chosen-by-the-client")])
            .expect("an answer");
        let id = response.header("x-request-id").expect("an X-Request-Id");
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{path}: {id} should be nginx's $request_id"
        );
        // nginx writes the line once the response is sent, so it may lag the client a little.
        let line = format!("request_id={id}");
        let deadline = Instant::now() + Duration::from_secs(5);
        while nginx.access_log_lines_with(&line) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            nginx.access_log_lines_with(&line),
            1,
            "{path}: the access log names the request by the id the client got"
        );
        ids.insert(id.to_owned());
    }
    assert_eq!(ids.len(), 2, "each request has its own id: {ids:?}");
    // And the instance that answered logged it on its own access line.
    for id in &ids {
        let suffix = format!(" id={id}");
        let logged: usize = [&a, &b]
            .iter()
            .map(|instance| {
                let log = instance.stderr();
                log.lines()
                    .filter(|line| line.contains("carafe::access") && line.ends_with(&suffix))
                    .count()
            })
            .sum();
        assert_eq!(
            logged,
            1,
            "access lines with id={id}:\n{}\n{}",
            a.stderr(),
            b.stderr()
        );
    }
}

#[test]
fn an_instance_stopped_with_sigterm_costs_no_request() {
    losing_an_instance_costs_no_request("TERM");
}

#[test]
fn an_instance_killed_with_sigkill_costs_no_request() {
    losing_an_instance_costs_no_request("KILL");
}

/// Steady GETs through nginx while one instance gets `signal`: every one is a 200, none
/// needed a client retry, and the survivor serves everything after.
fn losing_an_instance_costs_no_request(signal: &str) {
    let (mut lost, survivor) = (instance(), instance());
    let nginx = Nginx::start([lost.addr(), survivor.addr()]);
    let load = Load::start(
        nginx.http,
        &[
            Client::Fresh,
            Client::Fresh,
            Client::KeepAlive,
            Client::KeepAlive,
        ],
        Duration::ZERO,
    );
    std::thread::sleep(PHASE);
    lost.signal(signal);
    let status = lost
        .wait_exit(WAIT)
        .unwrap_or_else(|| panic!("the instance did not exit after SIG{signal}"));
    let gone = Instant::now();
    std::thread::sleep(PHASE);
    let report = load.stop();

    let retried_upstream = nginx.access_log_lines_with(", ");
    eprintln!(
        "SIG{signal}: {} requests through nginx, {} by the stopped instance ({status}), {} by \
         the survivor; nginx retried {retried_upstream} on the other instance",
        report.outcomes.len(),
        report.served_by(lost.pid()),
        report.served_by(survivor.pid()),
    );
    report.assert_all_ok();
    assert_eq!(
        report.retries(),
        0,
        "a client had to retry: nginx should hide the loss"
    );
    assert!(
        report.served_by(lost.pid()) > 0,
        "the first instance served nothing"
    );
    let after = report.started_after(gone);
    assert!(
        after.len() > 10,
        "only {} requests after the instance was gone",
        after.len()
    );
    assert!(
        after.iter().all(|o| o.pid() == Some(survivor.pid())),
        "the survivor serves every request once the other is gone"
    );
}

/// The failure a machine without nginx gets: a message naming the Debian package.
#[test]
#[should_panic(expected = "apt-get install nginx-light")]
fn a_missing_nginx_fails_the_test_naming_the_package() {
    require_executable(Path::new("/nonexistent/nginx"), NGINX_HINT);
}

/// A carafe instance that believes X-Forwarded-* from 127.0.0.1 only, as the recipe says.
fn instance() -> ServerProcess {
    ServerProcess::start(&[], SERVER, &["--trusted-proxy", "127.0.0.1"])
}

/// GET on a new connection from 127.0.0.1; panics unless the answer is a 200.
fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    let mut connection = HttpConnection::connect(addr).expect("connect");
    ok(connection.get(path, headers))
}

#[track_caller]
fn ok(result: Result<HttpResponse, carafe_e2e::http_client::ClientError>) -> HttpResponse {
    let response = result.unwrap_or_else(|error| panic!("request failed: {error}"));
    assert_eq!(response.status, 200, "{}", response.text());
    response
}

/// `/headers`' list of fields as a map by lower-case name.
fn headers_seen_upstream(response: &HttpResponse) -> BTreeMap<String, String> {
    let list: Vec<(String, String)> =
        serde_json::from_slice(&response.body).expect("a JSON list of fields");
    list.into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect()
}

/// Whether a `peer` value (`IP:PORT`) is from `ip`.
fn is_from(peer: &serde_json::Value, ip: &str) -> bool {
    peer.as_str()
        .and_then(|peer| peer.parse::<SocketAddr>().ok())
        .is_some_and(|peer| peer.ip().to_string() == ip)
}

/// Fails the test, naming the Debian package, unless `path` exists.
fn require_executable(path: &Path, hint: &str) {
    assert!(
        path.is_file(),
        "missing {}: the nginx end-to-end test runs Debian's nginx; install it with `{hint}` \
         (./test does)",
        path.display()
    );
}

/// nginx in the foreground with `deploy/nginx.conf` in front of two instances, killed with
/// its workers when dropped.
struct Nginx {
    /// Declared first, dropped first: nginx stops before its folder is removed.
    _group: ProcessGroup,
    /// The plain-HTTP listener.
    http: SocketAddr,
    /// The HTTPS listener.
    https: SocketAddr,
    scratch: Scratch,
}

impl Nginx {
    fn start(instances: [SocketAddr; 2]) -> Self {
        require_executable(Path::new(NGINX), NGINX_HINT);
        let scratch = Scratch::new();
        let (certificate, key) = self_signed_certificate(&scratch);
        // The ports are picked free and then bound by nginx: another process could take one
        // in between, so a start that fails with "address in use" is tried on new ports.
        let mut failures = Vec::new();
        for _ in 0..5 {
            let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let https = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let site = site_config(instances, [http, https], [&certificate, &key], &scratch);
            std::fs::write(scratch.path("carafe.conf"), site).expect("write the site config");
            std::fs::write(scratch.path("nginx.conf"), main_config(&scratch))
                .expect("write nginx.conf");
            let _ = std::fs::remove_file(scratch.path("nginx.pid"));
            let mut group = ProcessGroup::spawn(&scratch);
            match group.wait_until_started(&scratch, [http, https]) {
                Ok(()) => {
                    return Self {
                        _group: group,
                        http,
                        https,
                        scratch,
                    };
                }
                Err(error) if error.contains("Address already in use") => failures.push(error),
                Err(error) => panic!("nginx did not start: {error}"),
            }
        }
        panic!("nginx could not bind free ports in 5 tries: {failures:#?}");
    }

    /// How many lines of the recipe's access log contain `text`.
    fn access_log_lines_with(&self, text: &str) -> usize {
        std::fs::read_to_string(self.scratch.path("carafe.access.log"))
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains(text))
            .count()
    }
}

/// `deploy/nginx.conf` with its ports, certificate and log folder replaced by the test's.
/// Each replaced text must occur exactly once, so that an edit to the recipe that the test
/// would no longer see fails here instead of going untested.
fn site_config(
    instances: [SocketAddr; 2],
    [http, https]: [SocketAddr; 2],
    [certificate, key]: [&Path; 2],
    scratch: &Scratch,
) -> String {
    // The instances the recipe's upstream lists (two), whatever ports it gives them.
    let upstreams: Vec<&str> = DEPLOY_CONF
        .lines()
        .filter_map(|line| line.trim().strip_prefix("server "))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|address| address.parse::<SocketAddr>().is_ok())
        .collect();
    assert_eq!(
        upstreams.len(),
        2,
        "deploy/nginx.conf's upstream should list two instances: the nginx test replaces them"
    );
    let [first, second] = [0, 1].map(|i| format!("server {} ", upstreams[i]));
    let replacements = [
        ("listen 80;", format!("listen {http};")),
        ("listen 443 ssl;", format!("listen {https} ssl;")),
        (first.as_str(), format!("server {} ", instances[0])),
        (second.as_str(), format!("server {} ", instances[1])),
        (
            "/etc/ssl/certs/ssl-cert-snakeoil.pem",
            certificate.display().to_string(),
        ),
        (
            "/etc/ssl/private/ssl-cert-snakeoil.key",
            key.display().to_string(),
        ),
        (
            "/var/log/nginx/",
            format!("{}/", scratch.path("").display()),
        ),
    ];
    let mut config = DEPLOY_CONF.to_owned();
    for (from, to) in replacements {
        assert_eq!(
            config.matches(from).count(),
            1,
            "deploy/nginx.conf should contain `{from}` once: the nginx test substitutes it"
        );
        config = config.replace(from, &to);
    }
    config
}

/// What Debian's /etc/nginx/nginx.conf provides around the recipe, with every path in the
/// scratch folder: pid file, logs, temp folders; in the foreground, one worker.
fn main_config(scratch: &Scratch) -> String {
    let path = |name: &str| scratch.path(name).display().to_string();
    format!(
        "daemon off;\n\
         worker_processes 1;\n\
         pid {pid};\n\
         error_log {error_log} notice;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n\
         \x20   access_log {access_log};\n\
         \x20   client_body_temp_path {body};\n\
         \x20   proxy_temp_path {proxy};\n\
         \x20   fastcgi_temp_path {fastcgi};\n\
         \x20   uwsgi_temp_path {uwsgi};\n\
         \x20   scgi_temp_path {scgi};\n\
         \x20   include {site};\n\
         }}\n",
        pid = path("nginx.pid"),
        error_log = path("error.log"),
        access_log = path("access.log"),
        body = path("client_body_temp"),
        proxy = path("proxy_temp"),
        fastcgi = path("fastcgi_temp"),
        uwsgi = path("uwsgi_temp"),
        scgi = path("scgi_temp"),
        site = path("carafe.conf"),
    )
}

/// A throw-away self-signed certificate and key for the HTTPS listener.
fn self_signed_certificate(scratch: &Scratch) -> (PathBuf, PathBuf) {
    require_executable(Path::new(OPENSSL), OPENSSL_HINT);
    let (certificate, key) = (scratch.path("cert.pem"), scratch.path("key.pem"));
    let output = Command::new(OPENSSL)
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&certificate)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {OPENSSL} ({error}): `{OPENSSL_HINT}`"));
    assert!(
        output.status.success(),
        "openssl could not make a certificate: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (certificate, key)
}

/// nginx's master process, leader of its own process group (the workers join it), killed
/// with the whole group and reaped when dropped.
struct ProcessGroup(Child);

impl ProcessGroup {
    fn spawn(scratch: &Scratch) -> Self {
        let child = Command::new(NGINX)
            // Prefix and startup error log in the scratch folder: nothing under /etc or
            // /var/log is read or written, so the test runs as any user.
            .arg("-p")
            .arg(scratch.path(""))
            .arg("-e")
            .arg(scratch.path("error.log"))
            .arg("-c")
            .arg(scratch.path("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start {NGINX} ({error}); install it with `{NGINX_HINT}`")
            });
        Self(child)
    }

    /// Waits for nginx to write its pid file, which it does only once it has bound every
    /// listener, then checks both accept connections. On failure, the error log.
    fn wait_until_started(
        &mut self,
        scratch: &Scratch,
        listeners: [SocketAddr; 2],
    ) -> Result<(), String> {
        let error_log = || std::fs::read_to_string(scratch.path("error.log")).unwrap_or_default();
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Err(format!("nginx exited ({status}): {}", error_log()));
            }
            let log = error_log();
            if log.contains("[emerg]") {
                // nginx retries a failed bind for 2.5 s before it gives up: no need to wait.
                return Err(log);
            }
            let pid = std::fs::read_to_string(scratch.path("nginx.pid")).unwrap_or_default();
            if pid.trim() == self.0.id().to_string() {
                for listener in listeners {
                    std::net::TcpStream::connect_timeout(&listener, WAIT)
                        .map_err(|error| format!("nginx on {listener}: {error}"))?;
                }
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(format!(
            "nginx did not start within {WAIT:?}: {}",
            error_log()
        ))
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // SIGTERM to the master first: it stops its workers and reaps them, so none is left
        // to be re-parented to init. Then SIGKILL to the whole group for anything left, while
        // the master is a zombie not yet reaped: the group id (its pid, from
        // `process_group(0)`) cannot have been reused until `wait` below.
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && !has_exited(&pid) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status();
        let _ = self.0.wait();
    }
}

/// Whether process `pid` (our child) has exited, reaped or not: it is a zombie or gone.
fn has_exited(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}
