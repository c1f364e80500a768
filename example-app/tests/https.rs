//! The example app serves HTTPS when given a certificate: `--tls-cert` and `--tls-key`,
//! checked with curl trusting a certificate made here; either flag alone is refused.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const APP: &str = env!("CARGO_BIN_EXE_example-app");

#[test]
fn with_a_certificate_the_example_app_serves_https() {
    let dir = std::env::temp_dir().join(format!("example-app-https-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();

    let mut child = Command::new(APP)
        .args(["--addr", "0", "--workers", "1", "--tls-cert"])
        .arg(&cert_path)
        .arg("--tls-key")
        .arg(&key_path)
        .env_remove("PORT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example app");
    let stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut seen = Vec::new();
    let mut port = None;
    for line in stderr.lines().map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix(" * Running on https://127.0.0.1:") {
            port = rest
                .split(' ')
                .next()
                .and_then(|port| port.parse::<u16>().ok());
            break;
        }
        seen.push(line);
    }
    let outcome = port.map(|port| {
        Command::new("curl")
            .args(["-sS", "--max-time", "10", "--cacert"])
            .arg(&cert_path)
            .arg("--resolve")
            .arg(format!("localhost:{port}:127.0.0.1"))
            .arg(format!("https://localhost:{port}/api/time"))
            .output()
    });
    child.kill().expect("stop the example app");
    child.wait().expect("wait for the example app");
    let _ = std::fs::remove_dir_all(&dir);
    let output = outcome
        .unwrap_or_else(|| panic!("no https banner; stderr: {seen:#?}"))
        .unwrap_or_else(|error| panic!("cannot run curl ({error}): apt-get install curl"));
    let body = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(body.contains("\"unix\""), "{body}");
}

#[test]
fn a_certificate_without_its_key_is_refused() {
    let output = Command::new(APP)
        .args(["--addr", "0", "--tls-cert", "cert.pem"])
        .output()
        .expect("run the example app");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--tls-key"), "{stderr}");
}
