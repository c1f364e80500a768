//! Support for carafe's end-to-end tests: serve the example-app on a free port, drive it with
//! the real `curl` binary or raw TCP, and report failures with everything that was received.
//!
//! Every server is a [`Served`] guard: it binds `127.0.0.1:0` and shuts the server down when
//! dropped, so no test uses a fixed port or leaks a server.
//!
//! For the deployment tests (a proxy in front, a successor process on the same port):
//! [`http_client`] is a keep-alive client that can pick its source address, and [`load`]
//! runs a steady stream of requests and records who answered each.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use carafe::{App, RunningServer};

pub mod http_client;
pub mod load;

/// A server on a free loopback port, stopped when dropped.
pub struct Served {
    server: RunningServer,
}

impl Served {
    /// Serves the example-app with its default templates and static files, one worker.
    pub fn example_app() -> Self {
        Self::example_app_with(|_| {})
    }

    /// Serves the example-app after `configure` has adjusted it (limits, timeouts, routes).
    pub fn example_app_with(configure: impl FnOnce(&mut App)) -> Self {
        let mut app =
            example_app::build(&example_app::Options::default()).expect("the example app builds");
        app.config.workers = 1;
        configure(&mut app);
        Self::app(app)
    }

    /// Serves any app.
    pub fn app(app: App) -> Self {
        let server = app.spawn("127.0.0.1:0").expect("bind 127.0.0.1:0");
        Self { server }
    }

    /// Serves any app over HTTPS with `tls`.
    pub fn app_tls(app: App, tls: carafe::Tls) -> Self {
        let server = app.spawn_tls("127.0.0.1:0", tls).expect("bind 127.0.0.1:0");
        Self { server }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT{path}` (`https://` when served with [`app_tls`](Self::app_tls)).
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// Shuts down gracefully and waits for the workers to stop.
    pub fn shutdown(self) {
        self.server.shutdown().expect("the server stops cleanly");
    }

    /// A handle that can start the shutdown from another thread.
    pub fn handle(&self) -> carafe::ServerHandle {
        self.server.handle()
    }
}

/// What one curl run returned.
#[derive(Debug)]
pub struct CurlOutput {
    /// The final response's status (0 if none).
    pub status: u16,
    /// Header fields of the final response, in order.
    pub headers: Vec<(String, String)>,
    /// The raw header section curl dumped (all responses, including interim ones).
    pub raw_headers: String,
    /// The body of the (last) response.
    pub body: Vec<u8>,
    /// curl's `--write-out '%{json}'` metrics (`num_connects`, `time_total`, ...).
    pub info: serde_json::Value,
    /// curl's exit status.
    pub exit_code: Option<i32>,
    /// curl's own error messages.
    pub stderr: String,
}

/// The first value of header `name` (case-insensitive) among `headers`, in order.
pub fn first_header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl CurlOutput {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        first_header(&self.headers, name)
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A metric from `--write-out '%{json}'` as an integer.
    pub fn metric(&self, name: &str) -> i64 {
        self.info[name]
            .as_i64()
            .unwrap_or_else(|| panic!("curl reported no {name}: {}", self.info))
    }
}

impl std::fmt::Display for CurlOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let body = String::from_utf8_lossy(&self.body);
        let shown: String = body.chars().take(2000).collect();
        write!(
            f,
            "exit {:?}, stderr {:?}\n{}\n{shown}",
            self.exit_code, self.stderr, self.raw_headers
        )
    }
}

static SCRATCH: AtomicUsize = AtomicUsize::new(0);

/// A private scratch folder, removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    /// A new empty folder under the system temp dir.
    pub fn new() -> Self {
        let n = SCRATCH.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("carafe-e2e-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a scratch folder");
        Self(path)
    }

    /// A path inside the folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `curl -sS` with `args` (which must include the URL) and returns the final response.
///
/// Panics, naming the package, if curl is not installed: the end-to-end tests need it and
/// must not pass without running.
pub fn curl(args: &[&str]) -> CurlOutput {
    let scratch = Scratch::new();
    let headers_path = scratch.path("headers");
    let body_path = scratch.path("body");
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-D"])
        .arg(&headers_path)
        .arg("-o")
        .arg(&body_path)
        .args(["-w", "%{json}"])
        .args(args)
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run curl ({error}); the end-to-end tests need it: apt-get install curl")
        });
    let raw_headers = std::fs::read_to_string(&headers_path).unwrap_or_default();
    let headers = last_header_block(&raw_headers);
    CurlOutput {
        status: serde_json::from_slice::<serde_json::Value>(&output.stdout)
            .ok()
            .and_then(|info| info["http_code"].as_u64())
            .and_then(|code| u16::try_from(code).ok())
            .unwrap_or(0),
        headers,
        raw_headers,
        body: std::fs::read(&body_path).unwrap_or_default(),
        info: serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null),
        exit_code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs curl with `args` exactly as given (no `-o`/`-D` added) and returns stdout, for runs
/// with several URLs.
pub fn curl_raw(args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(args)
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run curl ({error}); the end-to-end tests need it: apt-get install curl")
        });
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The fields of the last response in a `-D` dump (which may hold interim 100 responses).
fn last_header_block(raw: &str) -> Vec<(String, String)> {
    let blocks: Vec<&str> = raw
        .split("\r\n\r\n")
        .filter(|block| !block.trim().is_empty())
        .collect();
    let Some(last) = blocks.last() else {
        return Vec::new();
    };
    last.lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

/// A visitor as curl: a cookie jar (so a session carries over) and the CSRF token the example
/// app's forms carry, sent as `X-CSRF-Token` with every request, as a page's form would send
/// its hidden field.
pub struct Visitor {
    jar: String,
    token: String,
    _scratch: Scratch,
}

impl Visitor {
    /// A visitor who has loaded the contact form of `served` (the example app), so holds a
    /// session with a token.
    pub fn new(served: &Served) -> Self {
        let scratch = Scratch::new();
        let jar = arg(&scratch.path("jar.txt"));
        let form = curl(&["-b", &jar, "-c", &jar, &served.url("/contact")]).text();
        let token = form
            .split(r#"name="csrf_token" value=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the contact form carries a CSRF token")
            .to_owned();
        Self {
            jar,
            token,
            _scratch: scratch,
        }
    }

    /// The token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// `curl` with the jar and the token, then `args`.
    pub fn curl(&self, args: &[&str]) -> CurlOutput {
        let header = format!("X-CSRF-Token: {}", self.token);
        let mut all = vec!["-b", &self.jar, "-c", &self.jar, "-H", &header];
        all.extend_from_slice(args);
        curl(&all)
    }
}

/// Writes `request` to a new connection in one write and reads until the server closes it
/// (or `timeout` passes with nothing more arriving). Returns everything received.
pub fn raw_exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(timeout))
        .expect("set a read timeout");
    stream.write_all(request).expect("send the request");
    read_until_close(&mut stream)
}

/// Writes with `write` (which returns the bytes it took, or `WouldBlock`) until `limit` bytes
/// are sent or nothing has gone for half a second: as much as a client that sends and never
/// reads can push before the server's backpressure and the full socket buffers stop it.
/// Returns the bytes sent.
pub fn write_until_stalled(limit: usize, mut write: impl FnMut() -> io::Result<usize>) -> usize {
    let mut sent = 0usize;
    let mut blocked_since: Option<Instant> = None;
    while sent < limit {
        match write() {
            Ok(n) => {
                sent += n;
                blocked_since = None;
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => {
                if blocked_since.get_or_insert_with(Instant::now).elapsed()
                    > Duration::from_millis(500)
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(error) => panic!("write failed: {error}"),
        }
    }
    sent
}

/// Reads until EOF, a reset, or the read timeout.
pub fn read_until_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return received,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

/// The status codes of every response in `raw`, in order (`HTTP/1.1 200 ...` lines that
/// start a response; bodies in these tests are text that never contains such a line).
pub fn statuses(raw: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(raw);
    let mut codes = Vec::new();
    let mut rest: &str = &text;
    while let Some(start) = rest.find("HTTP/1.1 ") {
        let code = &rest[start + 9..(start + 12).min(rest.len())];
        if let Ok(code) = code.parse() {
            codes.push(code);
        }
        rest = &rest[start + 12.min(rest.len() - start)..];
    }
    codes
}

/// Fails the test unless curl ran and the status matches, printing what curl saw.
#[track_caller]
pub fn assert_status(output: &CurlOutput, status: u16) {
    assert_eq!(
        output.status, status,
        "unexpected status; curl saw:\n{output}"
    );
}

/// Writes `bytes` to a fresh file in `scratch` and returns its path.
pub fn write_file(scratch: &Scratch, name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch.path(name);
    std::fs::write(&path, bytes).expect("write a test file");
    path
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.max(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Path to a string for curl arguments.
pub fn arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A server in its own process (the `test-server` binary), killed and reaped when dropped.
pub struct ServerProcess {
    child: std::process::Child,
    addr: SocketAddr,
    stderr_path: PathBuf,
    _scratch: Scratch,
}

impl ServerProcess {
    /// Runs `program` with `args` (optionally under `wrapper`, e.g. `prlimit --nofile=40`),
    /// waiting for its `listening on ADDR` line.
    pub fn start(wrapper: &[&str], program: &str, args: &[&str]) -> Self {
        Self::start_with_env(wrapper, program, args, &[])
    }

    /// [`start`](Self::start) with environment variables added, e.g.
    /// `("RUST_LOG", "carafe::access=info")` for the access log in [`stderr`](Self::stderr).
    pub fn start_with_env(
        wrapper: &[&str],
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        use std::io::BufRead;
        let scratch = Scratch::new();
        let stderr_path = scratch.path("stderr");
        let stderr = std::fs::File::create(&stderr_path).expect("create a stderr file");
        let mut command = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut command = Command::new(first);
                command.args(rest).arg(program);
                command
            }
            None => Command::new(program),
        };
        let mut child = command
            .args(args)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {program}: {error}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from {program}: {line:?}"));
        Self {
            child,
            addr,
            stderr_path,
            _scratch: scratch,
        }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`TERM`, `INT`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{name} failed");
    }

    /// Resident memory in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc status")
    }

    /// User plus system CPU seconds used so far, from /proc.
    pub fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).expect("read /proc stat");
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let ticks: u64 =
            fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
        // Linux reports CPU time in clock ticks of 1/100 s (USER_HZ) on every supported arch.
        ticks as f64 / 100.0
    }

    /// Waits up to `timeout` for the process to exit; its exit code if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// What the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago, for programs like nginx that cannot bind
/// port 0 and report the port they got. Another process may take it first: callers that
/// start such a program retry with a new port when the bind fails.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}
