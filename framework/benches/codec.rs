//! The sans-IO codec: parsing a request head, encoding a response.
//!
//! `cargo bench -p carafe --bench codec`. Quick and noisy on a shared 2-core machine: for
//! comparing before and after a change on the same machine, not as absolute figures.

use std::hint::black_box;

mod common;

use carafe::__bench::{HeadParser, encode_response};
use carafe::{Config, Response};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// What `wrk` sends: a request line and `Host`.
const WRK_GET: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

/// A browser navigating to a page: 15 header fields, a cookie among them.
const BROWSER_GET: &[u8] = b"GET /blog/epoll-explained?ref=home HTTP/1.1\r\n\
Host: localhost:8080\r\n\
Connection: keep-alive\r\n\
sec-ch-ua: \"Chromium\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n\
sec-ch-ua-mobile: ?0\r\n\
sec-ch-ua-platform: \"Linux\"\r\n\
Upgrade-Insecure-Requests: 1\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n\
Sec-Fetch-Site: same-origin\r\n\
Sec-Fetch-Mode: navigate\r\n\
Sec-Fetch-Dest: document\r\n\
Referer: http://localhost:8080/\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Accept-Language: en-GB,en;q=0.9\r\n\
Cookie: theme=dark; session=eyJ1c2VyIjoiYWRhIn0.c2lnbmF0dXJl\r\n\
\r\n";

fn parse(c: &mut Criterion) {
    let parser = HeadParser::new(&Config::default());
    let mut group = c.benchmark_group("parse_head");
    for (name, request) in [("wrk_get", WRK_GET), ("browser_get", BROWSER_GET)] {
        assert_eq!(
            parser.parse(request).map(|(len, _)| len),
            Some(request.len())
        );
        group.throughput(Throughput::Bytes(request.len() as u64));
        group.bench_function(name, |b| b.iter(|| parser.parse(black_box(request))));
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode_response");
    // `/plaintext`'s answer: the common head (status with a body, no headers of its own).
    let mut plaintext = Response::text("Hello, World!");
    // A response with headers of its own, which takes the general path.
    let mut with_headers = Response::json(&serde_json::json!({ "message": "Hello, World!" }));
    with_headers
        .set_header("cache-control", "no-store")
        .and_then(|r| r.set_header("x-request-id", "5f0c6a2e-3b1d-4c8e-9a7f-1e2d3c4b5a69"))
        .expect("valid headers");
    let mut out = Vec::with_capacity(1024);
    for (name, response) in [
        ("plaintext", &mut plaintext),
        ("json_with_headers", &mut with_headers),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                encode_response(response, &mut out);
                black_box(out.len())
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = parse, encode
}
criterion_main!(benches);
