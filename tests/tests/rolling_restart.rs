//! A rolling restart on one host, as `deploy/carafe-example.service` describes it: a new
//! process binds the port the old one serves (both with `--reuse-port`, so `SO_REUSEPORT`),
//! then the old one gets SIGTERM and drains. Clients must not notice: no request may fail.
//!
//! The clients (see `carafe_e2e::load`) are two threads opening a new connection per request,
//! which never retry, and two keep-alive threads, which retry a request once on a new
//! connection only when a reused connection closed before any byte of the response (the old
//! process closes idle keep-alive connections as it stops; browsers and curl retry the same
//! way).
//!
//! When the old process closes its listener, Linux resets the connections still queued on it
//! unless `net.ipv4.tcp_migrate_req` is 1 (Linux 5.14+), which hands them to another listener
//! on the same port. Without it a handover under load loses a request now and then (measured
//! on a 2-core VM: 4 of 260 runs of this test saw one reset). So with the setting on (as
//! `./test` makes it when run as root) the test demands that every request succeeds; with it
//! off it says so loudly and demands everything but those few resets at the instant the old
//! listener closes, which is all the kernel allows.

use std::time::{Duration, Instant};

use carafe_e2e::ServerProcess;
use carafe_e2e::load::{Client, Load};

const SERVER: &str = env!("CARGO_BIN_EXE_test-server");
const WAIT: Duration = Duration::from_secs(5);
/// How long the load runs in each phase: old alone, old and new together, new alone.
const PHASE: Duration = Duration::from_millis(300);
const MIGRATE_REQ: &str = "/proc/sys/net/ipv4/tcp_migrate_req";

#[test]
fn a_successor_on_the_same_port_takes_over_without_losing_a_request() {
    let migration = request_migration();
    let mut old = ServerProcess::start(&[], SERVER, &["--reuse-port", "--workers", "2"]);
    let addr = old.addr();
    let old_pid = old.pid();
    let load = Load::start(
        addr,
        &[
            Client::Fresh,
            Client::Fresh,
            Client::KeepAlive,
            Client::KeepAlive,
        ],
        Duration::ZERO,
    );
    std::thread::sleep(PHASE);

    let addr_arg = addr.to_string();
    let new = ServerProcess::start(
        &[],
        SERVER,
        &["--reuse-port", "--workers", "2", "--addr", &addr_arg],
    );
    std::thread::sleep(PHASE);
    let stopping = Instant::now();
    old.signal("TERM");
    let status = old
        .wait_exit(WAIT)
        .expect("the old process exits after SIGTERM");
    let exited = Instant::now();
    std::thread::sleep(PHASE);
    let report = load.stop();

    eprintln!(
        "{} requests: {} by the old process, {} by the new; {} keep-alive retries; the old \
         process took {:?} to exit",
        report.outcomes.len(),
        report.served_by(old_pid),
        report.served_by(new.pid()),
        report.retries(),
        exited - stopping,
    );
    match &migration {
        Ok(()) => report.assert_all_ok(),
        Err(problem) => {
            eprintln!(
                "NOTE: {problem}, so the kernel resets connections still queued on the old \
                 listener when it closes; a rolling restart can lose those. Enable it as root with \
                 `sysctl -w net.ipv4.tcp_migrate_req=1` (./test does as root; deploy/README.md). \
                 Checking everything else."
            );
            assert_only_queued_resets(&report, stopping, exited);
        }
    }
    assert!(status.success(), "the old process exited with {status}");
    assert!(
        report.served_by(old_pid) > 0,
        "the old process served nothing"
    );
    assert!(
        report
            .outcomes
            .iter()
            .any(|o| o.finished < stopping && o.pid() == Some(new.pid())),
        "the new process got no connections while both listened on {addr}"
    );
    let after = report.started_after(exited);
    assert!(
        after.len() > 10,
        "only {} requests after the old process exited",
        after.len()
    );
    assert!(
        after.iter().all(|o| o.pid() == Some(new.pid())),
        "requests sent after the old process exited were all answered by the new one"
    );
}

/// Whether the kernel hands connections queued on a closing listener to another listener
/// of the same port; if not, why not.
fn request_migration() -> Result<(), String> {
    match std::fs::read_to_string(MIGRATE_REQ)
        .as_deref()
        .map(str::trim)
    {
        Ok("1") => Ok(()),
        Ok(value) => Err(format!("net.ipv4.tcp_migrate_req is {value}")),
        Err(error) => Err(format!(
            "cannot read {MIGRATE_REQ} ({error}; it needs Linux 5.14+)"
        )),
    }
}

/// Without request migration: every failure must be a connection reset that ended while the
/// old process was closing its listener (a connection the kernel had queued on it), and there
/// can only be a few. Anything else (a request cut mid-flight, an error at another time) fails.
fn assert_only_queued_resets(
    report: &carafe_e2e::load::Report,
    stopping: Instant,
    exited: Instant,
) {
    let failures = report.failures();
    let window_end = exited + Duration::from_millis(50);
    let unexplained: Vec<_> = failures
        .iter()
        .filter(|outcome| {
            let reset = outcome
                .result
                .as_ref()
                .err()
                .is_some_and(|error| error.to_lowercase().contains("reset"));
            !(reset && outcome.finished >= stopping && outcome.finished <= window_end)
        })
        .collect();
    assert!(
        unexplained.is_empty(),
        "failures other than queued-connection resets: {unexplained:#?}"
    );
    assert!(
        failures.len() <= 4,
        "{} resets; a closing listener's queue is a handful at most",
        failures.len()
    );
}
