//! What a newcomer sees from a program that is just an app: `App::run` says where it
//! listens, and with no logger set up, panics, template errors and requests still show.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use carafe_e2e::{Scratch, curl, write_file};

/// `bare-app` running, and the lines of its stderr as they come.
struct BareApp {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// What it wrote before the banner (start-up warnings).
    early: Vec<String>,
    addr: SocketAddr,
    _templates: Scratch,
}

impl BareApp {
    fn start(extra: &[&str]) -> Self {
        let templates = Scratch::new();
        // url_for names a route that has no name (closure routes have none): a render error.
        write_file(
            &templates,
            "broken.html",
            b"<p>line one</p>\n<a href=\"{{ url_for('nowhere') }}\">x</a>\n",
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_bare-app"))
            .arg(templates.path(""))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start bare-app");
        let stderr = child.stderr.take().expect("piped stderr");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        // Start-up warnings (no secret key, url_for names) come first; then the banner.
        let mut early = Vec::new();
        let addr = loop {
            let line = lines
                .recv_timeout(Duration::from_secs(10))
                .expect("the banner on stderr");
            if let Some(rest) = line.strip_prefix(" * Running on http://") {
                break rest
                    .strip_suffix(" (1 worker, Ctrl-C to stop)")
                    .unwrap_or_else(|| panic!("the banner: {line:?}"))
                    .parse()
                    .expect("an address in the banner");
            }
            early.push(line);
        };
        Self {
            child,
            lines,
            early,
            addr,
            _templates: templates,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the app with SIGTERM and returns everything it wrote to stderr but the banner.
    fn stop(mut self) -> Vec<String> {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill(1), from Debian's procps");
        assert!(status.success());
        let exit = self.child.wait().expect("bare-app exits");
        assert!(exit.success(), "a graceful stop: {exit}");
        self.early
            .into_iter()
            .chain(self.lines.try_iter())
            .collect()
    }
}

#[test]
fn without_a_logger_run_shows_the_address_panics_template_errors_and_requests() {
    let app = BareApp::start(&[]);
    assert_eq!(curl(&["-s", &app.url("/")]).body, b"hello");
    assert_eq!(curl(&["-s", &app.url("/panic")]).status, 500);
    assert_eq!(curl(&["-s", &app.url("/broken")]).status, 500);
    let lines = app.stop();
    let log = lines.join("\n");
    let has = |needle: &str| lines.iter().any(|line| line.contains(needle));
    assert!(has("bare-app panics on purpose"), "the panic: {log}");
    assert!(has("bare-app.rs:"), "where it panicked: {log}");
    assert!(
        has("template broken.html line 2: url_for('nowhere') names no route"),
        "warned at start-up: {log}"
    );
    assert!(
        has("cannot render template broken.html line 2 for GET /broken"),
        "the render error names the template line: {log}"
    );
    assert!(has("nowhere"), "what the template got wrong: {log}");
    assert!(has("\"GET /panic HTTP/1.1\" 500"), "the access log: {log}");
    assert!(lines.iter().all(|line| !line.starts_with("OWN ")));
}

#[test]
fn a_program_with_its_own_logger_keeps_it() {
    let app = BareApp::start(&["--own-logger"]);
    assert_eq!(curl(&["-s", &app.url("/panic")]).status, 500);
    let lines = app.stop();
    let log = lines.join("\n");
    assert!(
        lines.iter().any(
            |line| line.starts_with("OWN ERROR") && line.contains("bare-app panics on purpose")
        ),
        "the panic went to the program's logger: {log}"
    );
    assert!(
        lines.iter().any(
            |line| line.starts_with("OWN INFO") && line.contains("\"GET /panic HTTP/1.1\" 500")
        ),
        "{log}"
    );
    assert!(
        lines
            .iter()
            .all(|line| line.starts_with("OWN ") || line.starts_with("  ") || line.is_empty()),
        "every line through the program's logger: {log}"
    );
}

#[test]
fn an_error_returned_from_main_reads_as_a_sentence() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let templates = Scratch::new();
    let output = Command::new(env!("CARGO_BIN_EXE_bare-app"))
        .arg(templates.path(""))
        .args(["--addr", &addr])
        .output()
        .expect("run bare-app");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    // Rust prints a `main`'s error with `Debug`: the sentence, not `Bind { addr: .. }`.
    assert!(
        last.starts_with(&format!(
            "Error: cannot listen on {addr}: Address already in use"
        )),
        "{stderr}"
    );
    drop(taken);
}

#[test]
fn a_slow_handler_on_the_event_loop_is_reported_once_with_the_cure() {
    let app = BareApp::start(&[]);
    for _ in 0..2 {
        assert_eq!(curl(&["-s", &app.url("/slow")]).body, b"slow");
        assert_eq!(curl(&["-s", &app.url("/slow-blocking")]).body, b"slow");
    }
    let lines = app.stop();
    let log = lines.join("\n");
    let warnings: Vec<_> = lines
        .iter()
        .filter(|line| line.contains("on the event loop (over 100 ms)"))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "once per route, not for the blocking one: {log}"
    );
    assert!(
        warnings[0].contains("handler `slow` for GET /slow took 1")
            && warnings[0].contains("route!(app, GET \"/slow\" => slow, blocking)"),
        "{log}"
    );
}
