//! Heap allocations per request in the steady state of a keep-alive connection, pinned so that
//! a change that adds one to the hot path fails CI rather than a benchmark months later.
//!
//! Requests go through one in-memory connection (`carafe::__bench::Driver`: read buffer,
//! codec, router, handler, encoder, output buffer; what the event loop runs, minus the socket)
//! in pipelined batches of 16, as `wrk` sends them. The count per request is the difference
//! between 2N and N batches, divided by N × 16, so whatever is allocated once (the app, the
//! connection's buffers, the date) cancels out. The allocator is dhat's, in testing mode: on a
//! failed `dhat::assert_eq!` it saves a heap profile, with the call stack of every allocation,
//! to `target/tmp/dhat-allocations.json` (open it in DHAT's viewer, `dh_view.html`).
//!
//! dhat counts every thread's allocations and allows one profiler at a time, so this binary
//! has no test harness (`harness = false` in `Cargo.toml`): `main` runs the measurement on the
//! only thread there is. Under libtest, its runner thread allocated now and then while the
//! test measured (under CPU load, "/json: 60 blocks over 64 requests"), and the count drifted.

use carafe::__bench::{Driver, bench_app};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Requests per batch, pipelined in one read.
const PIPELINE: usize = 16;
/// Batches in the shorter of the two runs.
const BATCHES: usize = 4;

/// What a run of batches allocated: blocks and bytes.
fn allocated_by(run: impl FnOnce()) -> (u64, u64) {
    let before = dhat::HeapStats::get();
    run();
    let after = dhat::HeapStats::get();
    (
        after.total_blocks - before.total_blocks,
        after.total_bytes - before.total_bytes,
    )
}

/// Allocations per request for `GET path`, in the steady state: blocks and bytes.
fn per_request(path: &str, body: &str) -> (u64, u64) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let batch = request.repeat(PIPELINE).into_bytes();
    let mut driver = Driver::new(bench_app());
    let mut out = Vec::with_capacity(64 * 1024);

    // Warm up, and check that every request got its answer.
    driver.send(&batch, &mut out);
    let text = String::from_utf8_lossy(&out);
    assert_eq!(
        text.matches("HTTP/1.1 200 OK\r\n").count(),
        PIPELINE,
        "{text}"
    );
    assert_eq!(
        text.matches(&format!("\r\n\r\n{body}")).count(),
        PIPELINE,
        "{text}"
    );
    driver.send(&batch, &mut out);

    let mut run = |batches: usize| {
        allocated_by(|| {
            for _ in 0..batches {
                out.clear();
                driver.send(&batch, &mut out);
            }
        })
    };
    let (blocks_n, bytes_n) = run(BATCHES);
    let (blocks_2n, bytes_2n) = run(2 * BATCHES);
    let requests = (BATCHES * PIPELINE) as u64;
    let (blocks, bytes) = (blocks_2n - blocks_n, bytes_2n - bytes_n);
    // A whole number per request, or the count is not deterministic and means nothing.
    assert_eq!(
        (blocks % requests, bytes % requests),
        (0, 0),
        "{path}: {blocks} blocks, {bytes} bytes over {requests} requests"
    );
    (blocks / requests, bytes / requests)
}

fn main() {
    heap_allocations_per_pipelined_request();
    println!("allocations: heap allocations per pipelined request are as pinned");
}

fn heap_allocations_per_pipelined_request() {
    let _profiler = dhat::Profiler::builder()
        .testing()
        .file_name(concat!(
            env!("CARGO_TARGET_TMPDIR"),
            "/dhat-allocations.json"
        ))
        .build();
    let measured = [
        ("/plaintext", per_request("/plaintext", "Hello, World!").0),
        (
            "/json",
            per_request("/json", r#"{"message":"Hello, World!"}"#).0,
        ),
        ("/user/42", per_request("/user/42", "42").0),
    ];
    let pinned = [
        // Nothing at all: head parsed in place, static route from the exact-match map, a
        // `&'static str` body, encoded into the connection's pooled output buffer.
        ("/plaintext", 0),
        // The handler's: `Json` serialises with `serde_json::to_vec` into a fresh Vec (128
        // bytes, its starting capacity), which the response body then owns.
        ("/json", 1),
        // The handler's: `to_owned()` makes the id a `String` (2 bytes), which becomes the
        // body without a copy. Looking up `/user/{id}` in matchit allocates nothing.
        ("/user/42", 1),
    ];
    dhat::assert_eq!(
        measured,
        pinned,
        "heap allocations per request (a new one on the request path? see \
         target/tmp/dhat-allocations.json for where)"
    );
}
