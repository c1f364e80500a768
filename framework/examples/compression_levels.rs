//! Size and time of one compression of each input file, per gzip level and brotli quality,
//! with the same calls as carafe's `compression.rs` (flate2's `GzEncoder`; brotli with the
//! window fitted to the body): what chose `Compression`'s default levels (BENCHMARKS.md).
//! Prints the median microseconds of 7 rounds.
//!
//! ```sh
//! cargo run --release -p carafe --features compression --example compression_levels -- FILE...
//! ```
use std::io::Write;
use std::time::Instant;

fn gzip(body: &[u8], level: u32) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 3),
        flate2::Compression::new(level),
    );
    e.write_all(body).unwrap();
    e.finish().unwrap()
}

fn br(body: &[u8], quality: u32) -> Vec<u8> {
    let bits = usize::BITS - body.len().max(1).leading_zeros();
    let params = brotli::enc::BrotliEncoderParams {
        quality: quality as i32,
        lgwin: bits.clamp(10, 22) as i32,
        size_hint: body.len(),
        ..Default::default()
    };
    let mut out = Vec::with_capacity(body.len() / 3);
    brotli::BrotliCompress(&mut &body[..], &mut out, &params).unwrap();
    out
}

fn time(f: &dyn Fn() -> usize, n: usize) -> (usize, f64) {
    let mut rounds = Vec::new();
    let mut size = 0;
    for _ in 0..7 {
        let start = Instant::now();
        for _ in 0..n {
            size = std::hint::black_box(f());
        }
        rounds.push(start.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    rounds.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (size, rounds[3])
}

fn main() {
    for path in std::env::args().skip(1) {
        let body = std::fs::read(&path).unwrap();
        println!("{path}: {} bytes", body.len());
        for level in [1, 4, 6, 9] {
            let (size, us) = time(&|| gzip(&body, level).len(), 200);
            println!(
                "  gzip {level}:  {size:6} bytes ({:4.1} %)  {us:7.1} us",
                size as f64 * 100.0 / body.len() as f64
            );
        }
        for q in [1, 3, 4, 5, 6, 9, 11] {
            let n = if q >= 9 { 10 } else { 200 };
            let (size, us) = time(&|| br(&body, q).len(), n);
            println!(
                "  br q{q}:     {size:6} bytes ({:4.1} %)  {us:7.1} us",
                size as f64 * 100.0 / body.len() as f64
            );
        }
    }
}
