//! Static files over a socket: large files stream (never whole in memory), `Range` requests
//! get 206/416, `curl -C` resumes, and a slow downloader does not stall anyone else.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use carafe_e2e::{
    Scratch, Served, ServerProcess, arg, assert_status, curl, pseudo_random_bytes, write_file,
};

const SIZE: usize = 3 * 1024 * 1024;

/// The example app with `dir` served under `/files`.
fn serve_files(dir: &Scratch) -> Served {
    let folder = dir.path("");
    Served::example_app_with(move |app| {
        app.static_dir("/files", &folder).unwrap();
    })
}

fn big_file(scratch: &Scratch) -> Vec<u8> {
    let bytes = pseudo_random_bytes(SIZE, 42);
    write_file(scratch, "big.bin", &bytes);
    bytes
}

#[test]
fn a_large_file_downloads_whole_and_exact() {
    let scratch = Scratch::new();
    let bytes = big_file(&scratch);
    let served = serve_files(&scratch);
    let response = curl(&[&served.url("/files/big.bin")]);
    assert_status(&response, 200);
    assert_eq!(
        response.header("content-length"),
        Some(SIZE.to_string().as_str())
    );
    assert_eq!(response.header("accept-ranges"), Some("bytes"));
    assert_eq!(
        response.header("content-type"),
        Some("application/octet-stream")
    );
    assert!(
        response.body == bytes,
        "the streamed bytes differ from the file"
    );
    let head = curl(&["-I", &served.url("/files/big.bin")]);
    assert_eq!(
        head.header("content-length"),
        Some(SIZE.to_string().as_str())
    );
    assert_eq!(head.metric("size_download"), 0);
}

#[test]
fn ranges_give_206_with_exact_bytes_and_416_past_the_end() {
    let scratch = Scratch::new();
    let bytes = big_file(&scratch);
    let served = serve_files(&scratch);
    let url = served.url("/files/big.bin");
    let last = SIZE - 1;
    let cases: [(&str, usize, usize); 4] = [
        ("100-199", 100, 199),
        ("-500", SIZE - 500, last),
        ("3145000-", 3_145_000, last),
        ("1000-9999999", 1000, last),
    ];
    for (range, start, end) in cases {
        let response = curl(&["-r", range, &url]);
        assert_status(&response, 206);
        let expected = format!("bytes {start}-{end}/{SIZE}");
        assert_eq!(
            response.header("content-range"),
            Some(expected.as_str()),
            "{range}"
        );
        assert!(response.body == bytes[start..=end], "{range}: wrong bytes");
    }
    let past = curl(&["-r", "4000000-", &url]);
    assert_status(&past, 416);
    assert_eq!(
        past.header("content-range"),
        Some(format!("bytes */{SIZE}").as_str())
    );
    // Several ranges are not served piecewise: the whole file, which the RFC allows.
    let several = curl(&["-r", "0-1,5-6", &url]);
    assert_status(&several, 200);
    assert_eq!(several.body.len(), SIZE);
}

#[test]
fn if_range_serves_the_part_only_while_the_file_is_unchanged() {
    let scratch = Scratch::new();
    big_file(&scratch);
    let served = serve_files(&scratch);
    let url = served.url("/files/big.bin");
    let etag = curl(&["-I", &url])
        .header("etag")
        .expect("an ETag")
        .to_owned();
    let same = curl(&["-r", "0-9", "-H", &format!("If-Range: {etag}"), &url]);
    assert_status(&same, 206);
    let changed = curl(&["-r", "0-9", "-H", "If-Range: \"not-the-tag\"", &url]);
    assert_status(&changed, 200);
    assert_eq!(changed.body.len(), SIZE);
}

#[test]
fn curl_resumes_an_interrupted_download() {
    let scratch = Scratch::new();
    let bytes = big_file(&scratch);
    let served = serve_files(&scratch);
    let partial = write_file(&scratch, "partial.bin", &bytes[..1_000_000]);
    let output = std::process::Command::new("curl")
        .args(["-sS", "-C", "-", "-o"])
        .arg(&partial)
        .arg(served.url("/files/big.bin"))
        .output()
        .expect("run curl");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        std::fs::read(&partial).unwrap() == bytes,
        "the resumed file differs"
    );
    let _ = arg(&partial);
}

#[test]
fn a_slow_downloader_does_not_stall_other_clients() {
    let scratch = Scratch::new();
    big_file(&scratch);
    let served = serve_files(&scratch);
    let mut slow = TcpStream::connect(served.addr()).unwrap();
    slow.write_all(b"GET /files/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 1024];
    assert!(slow.read(&mut first).unwrap() > 0, "the download started");
    // The slow client reads nothing more; everyone else is served at once.
    for _ in 0..5 {
        let started = Instant::now();
        assert_status(&curl(&[&served.url("/hello/fast")]), 200);
        assert!(started.elapsed() < Duration::from_millis(500));
    }
    // And the slow client still gets the rest when it reads.
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut received = first.len();
    let mut buffer = vec![0u8; 256 * 1024];
    while received < SIZE {
        let n = slow.read(&mut buffer).unwrap();
        assert!(n > 0, "closed after {received} bytes");
        received += n;
    }
}

#[test]
fn streaming_a_large_file_keeps_server_memory_flat() {
    const LARGE: usize = 64 * 1024 * 1024;
    let scratch = Scratch::new();
    write_file(&scratch, "large.bin", &vec![7u8; LARGE]);
    let folder = arg(&scratch.path(""));
    let server = ServerProcess::start(
        &[],
        env!("CARGO_BIN_EXE_test-server"),
        &["--files", &folder],
    );
    let before = server.rss_kib();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
        .write_all(b"GET /files/large.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut received = 0usize;
    let mut peak = before;
    let mut buffer = vec![0u8; 1024 * 1024];
    loop {
        let n = stream.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        received += n;
        // Read slowly at first, so the server holds the connection mid-file for a while.
        if received < 8 * 1024 * 1024 {
            std::thread::sleep(Duration::from_millis(2));
        }
        if received % (4 * 1024 * 1024) < n {
            peak = peak.max(server.rss_kib());
        }
    }
    assert!(received > LARGE, "got {received} bytes");
    let grown = peak.saturating_sub(before);
    assert!(
        grown < 16 * 1024,
        "server RSS grew by {grown} KiB while streaming a 64 MiB file"
    );
}
