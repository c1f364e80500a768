//! Whole requests in memory: 16 pipelined GETs, as `wrk` sends them, through one keep-alive
//! connection (read buffer, codec, router, handler, encoder, output buffer), with no socket.
//! The connection, its buffer pool and the date are set up once, so this is the steady state.
//! The handlers are `examples/bench_server.rs`'s.
//!
//! `cargo bench -p carafe --bench pipeline`. Noisy on a shared machine: compare within a run.

use std::hint::black_box;

mod common;

use carafe::__bench::{Driver, bench_app};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const PIPELINE: usize = 16;

fn pipelined(c: &mut Criterion) {
    let mut group = c.benchmark_group("pipelined_x16");
    group.throughput(Throughput::Elements(PIPELINE as u64));
    for (name, path) in [
        ("plaintext", "/plaintext"),
        ("json", "/json"),
        ("user", "/user/42"),
    ] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
        let batch = request.repeat(PIPELINE).into_bytes();
        let mut driver = Driver::new(bench_app());
        let mut out = Vec::with_capacity(64 * 1024);
        driver.send(&batch, &mut out);
        assert_eq!(
            out.windows(15).filter(|w| w == b"HTTP/1.1 200 OK").count(),
            PIPELINE,
            "{path}"
        );
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                black_box(driver.send(black_box(&batch), &mut out))
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = pipelined
}
criterion_main!(benches);
