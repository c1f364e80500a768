//! The example app serves HTTPS when given a certificate: `--tls-cert` and `--tls-key`,
//! checked with curl trusting a certificate made here; either flag alone is refused.

use std::process::Command;

mod common;
use common::APP;

#[test]
fn with_a_certificate_the_example_app_serves_https() {
    let dir = std::env::temp_dir().join(format!("example-app-https-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();

    let (cert_arg, key_arg) = (cert_path.to_str().unwrap(), key_path.to_str().unwrap());
    let mut app = common::start(
        &[
            "--addr",
            "0",
            "--workers",
            "1",
            "--tls-cert",
            cert_arg,
            "--tls-key",
            key_arg,
        ],
        &[],
    );
    let port = app
        .url
        .as_deref()
        .and_then(|url| url.strip_prefix("https://127.0.0.1:"))
        .and_then(|port| port.parse::<u16>().ok());
    let outcome = port.map(|port| {
        Command::new("curl")
            .args(["-sS", "--max-time", "10", "--cacert"])
            .arg(&cert_path)
            .arg("--resolve")
            .arg(format!("localhost:{port}:127.0.0.1"))
            .arg(format!("https://localhost:{port}/api/time"))
            .output()
    });
    let seen = std::mem::take(&mut app.before_banner);
    drop(app);
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
