//! The example app's command line: the forms `--addr` accepts, and flags and environment
//! values it refuses with a message that says what it accepts.

use std::net::SocketAddr;
use std::process::Command;

mod common;
use common::APP;

/// Starts the app with `args` and `env`, waits for its banner, and returns the address it
/// names; the app is stopped before this returns.
fn listening_address(args: &[&str], env: &[(&str, &str)]) -> SocketAddr {
    let app = common::start(args, env);
    app.url
        .as_deref()
        .and_then(|url| url.strip_prefix("http://"))
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no banner for {args:?}; stderr: {:#?}", app.before_banner))
}

/// Runs the app with `args` and `env`, expecting it to refuse them: its exit code and stderr.
fn refused(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let output = Command::new(APP)
        .args(args)
        .env_remove("PORT")
        .envs(env.iter().copied())
        .output()
        .expect("run the example app");
    assert!(!output.status.success(), "{args:?} {env:?} was accepted");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_bare_port_or_colon_port_listens_on_loopback() {
    for form in ["0", ":0"] {
        let addr = listening_address(&["--addr", form, "--workers", "1"], &[]);
        assert_eq!(addr.ip().to_string(), "127.0.0.1", "--addr {form}");
        assert_ne!(addr.port(), 0, "--addr {form}: the real port is shown");
    }
}

#[test]
fn a_host_name_is_resolved() {
    let addr = listening_address(&["--addr", "localhost:0", "--workers", "1"], &[]);
    assert!(addr.ip().is_loopback(), "{addr}");
}

#[test]
fn port_from_the_environment_is_used_when_no_addr_is_given() {
    let addr = listening_address(&["--workers", "1"], &[("PORT", "0")]);
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
}

/// Arguments, environment, and what the refusal must say.
type Refusal<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn bad_addresses_ports_and_worker_counts_are_refused_with_what_is_accepted() {
    let cases: [Refusal<'_>; 6] = [
        (&["--addr", "99999"], &[], "port 99999 is over 65535"),
        (
            &["--addr", "nohost"],
            &[],
            "has no port: expected PORT, :PORT, HOST:PORT or IP:PORT",
        ),
        (
            &["--addr", "no.such.host.invalid:80"],
            &[],
            "cannot resolve",
        ),
        (
            &[],
            &[("PORT", "abc")],
            "PORT=\"abc\" is not a port number (0 to 65535)",
        ),
        (&["--workers", "0"], &[], "a server needs at least 1 worker"),
        (
            &["--workers", "two"],
            &[],
            "\"two\" is not a number of threads (1 or more)",
        ),
    ];
    for (args, env, message) in cases {
        let (code, stderr) = refused(args, env);
        assert_eq!(code, 2, "{args:?} {env:?}: a usage error\n{stderr}");
        assert!(stderr.contains(message), "{args:?} {env:?}: {stderr}");
    }
}
