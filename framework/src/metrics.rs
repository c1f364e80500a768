//! Prometheus metrics ([`App::metrics`]), with the `metrics` Cargo feature.
//!
//! ```
//! use carafe::{route, testing::TestClient, App};
//!
//! let mut app = App::new();
//! route!(app, GET "/user/{id}" => |req| req.param("id").unwrap_or_default().to_owned())?;
//! app.metrics("/metrics")?;
//!
//! let client = TestClient::new(app);
//! client.get("/user/7").send();
//! let text = client.get("/metrics").send().text();
//! assert!(text.contains(
//!     r#"carafe_http_requests_total{route="/user/{id}",method="GET",status="2xx"} 1"#
//! ));
//! # Ok::<(), carafe::RouteError>(())
//! ```
//!
//! What is counted, and where:
//!
//! - per request (this file, the site floor, which knows the route and the status): requests
//!   by route pattern, method and status class, and a latency histogram per route pattern;
//! - per connection (the server floor, `server/`): connections accepted and open, bytes
//!   received and sent, live connections (WebSockets, event streams) open, and the blocking
//!   pool's jobs in flight, its queue and its refusals.
//!
//! No lock and no shared cache line on the request path. Each thread that answers requests
//! (a worker, a blocking-pool thread) owns a block of counters that it alone writes; each
//! worker owns one for its connections. A single writer needs
//! no read-modify-write instruction: an `AtomicU64` written with a `Relaxed` load and store
//! compiles to a plain load and store, and the atomic type only makes the scrape's reads from
//! another thread well defined (a scrape may see a count one request old, never a torn one).
//! Each block is its own allocation, padded to 128 bytes at both ends, so two workers never
//! write the same cache line. A scrape sums the blocks through a prometheus-client
//! [`Collector`], which writes the text. A thread's block is registered (under a mutex) the
//! first time it records, not on the request path after that. A worker's event loop holds its
//! block as `WorkerCounters`, in the per-worker view of the site it dispatches to (the
//! protocol layer, which knows nothing of metrics, passes that view down as it is); other
//! threads (the blocking pool's, a test client's) find theirs through a thread-local, which
//! costs a lookup per request that the event loop does not pay.
//!
//! Latency is measured to the response built (for a `blocking` route, to the pool's answer:
//! its time in the queue counts) with the CPU's time-stamp counter (the
//! [quanta](https://docs.rs/quanta) crate; the monotonic clock where the counter is
//! unreliable), only when the app serves metrics. On a worker's event loop it is measured
//! from the later of the loop's wake-up for the events that brought the request and the end
//! of the last answer the loop gave: the time spent answering requests before it is theirs,
//! not its own, while the reading, parsing and writing since is counted. One reading of the
//! clock per request is then enough (each answer's end starts the next). Elsewhere (the
//! blocking pool's threads, a test client) it runs from just before the route lookup.
//!
//! Labels are bounded: a route's pattern (`/user/{id}`, never the path; a request no route
//! matched, including 404s, 405s and automatic OPTIONS answers, is `<unmatched>`), the method
//! (the seven common ones, else `OTHER`), and the status class (`1xx` to `5xx`). Requests the
//! protocol layer refuses before they reach the app (a malformed head, 408, 431, 413) are not
//! requests here; a blocking request the full pool refuses is counted as a refusal.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use http::{Method, StatusCode};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use crate::app::App;
use crate::error::RouteError;
use crate::response::Response;
use crate::router::RouteSpec;

/// The method label: the common methods by name, any other as `OTHER` (a client may send
/// any token as a method; the label set must stay bounded).
const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER",
];

/// The status label.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "<unmatched>";

/// Upper bounds of the latency histogram's buckets, in nanoseconds: 100 µs to 10 s, about
/// 2.5 steps a decade. A carafe handler on the event loop usually answers in microseconds,
/// so Prometheus' default buckets (from 5 ms) would put nearly every request in the first;
/// these start at 100 µs and end at 10 s, past which a request is better seen in the logs.
const BUCKETS_NS: [u64; 16] = [
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// `AtomicU64`s of padding before and after a block's cells: 128 bytes, two cache lines
/// (adjacent-line prefetch pairs them), so that two threads' blocks never share one.
const PAD: usize = 16;

/// Adds `n` to a counter only this thread writes: a plain load and store, no locked
/// instruction.
#[inline(always)]
fn bump(cell: &AtomicU64, n: u64) {
    cell.store(
        cell.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}

fn read(cell: &AtomicU64) -> u64 {
    cell.load(Ordering::Relaxed)
}

/// The metrics of one app: the layout of its labels and every thread's counters.
pub(crate) struct Metrics {
    /// The latency clock: the time-stamp counter where the CPU has a reliable one (a read
    /// is a few instructions, where `Instant::now` and a subtraction cost about 90), else
    /// the monotonic clock.
    clock: quanta::Clock,
    /// The histogram's bounds in the clock's own ticks, so that a request's time is compared
    /// and summed without scaling; converted to seconds at scrape.
    bounds: [u64; BUCKETS_NS.len()],
    /// Nanoseconds per 2^32 ticks, for that conversion.
    nanos_per_2_32_ticks: u64,
    /// Set when the app is frozen, once its routes are known.
    layout: OnceLock<Layout>,
    requests: Mutex<Vec<Arc<RequestBlock>>>,
    servers: Mutex<Vec<Arc<ServerBlock>>>,
    /// The blocking pool's count of jobs admitted (queued or running), and its threads.
    blocking: OnceLock<(Weak<AtomicUsize>, usize)>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// The route patterns, each once (two routes may share a pattern with different methods),
/// with [`UNMATCHED`] last; and each route's slot among them.
struct Layout {
    patterns: Vec<String>,
    slot_of_route: Vec<usize>,
}

/// Cells per route slot: the request counts by method and class, the histogram's buckets
/// (and +Inf), and the sum of the latencies in nanoseconds.
const PER_SLOT: usize = METHODS.len() * CLASSES.len() + BUCKETS_NS.len() + 1 + 1;
const BUCKETS_AT: usize = METHODS.len() * CLASSES.len();
const SUM_AT: usize = BUCKETS_AT + BUCKETS_NS.len() + 1;

/// One thread's request counters.
pub(crate) struct RequestBlock {
    cells: Box<[AtomicU64]>,
    slots: usize,
}

impl RequestBlock {
    fn new(layout: &Layout) -> Self {
        let slots = layout.patterns.len();
        Self {
            cells: (0..PAD + slots * PER_SLOT + PAD)
                .map(|_| AtomicU64::new(0))
                .collect(),
            slots,
        }
    }

    /// The cells of one route slot.
    #[inline(always)]
    fn slot(&self, slot: usize) -> Option<&[AtomicU64; PER_SLOT]> {
        let start = PAD + slot * PER_SLOT;
        self.cells.get(start..start + PER_SLOT)?.try_into().ok()
    }

    fn count(&self, slot: usize, method: usize, class: usize) -> u64 {
        self.slot(slot)
            .map_or(0, |cells| read(&cells[method * CLASSES.len() + class]))
    }

    fn bucket(&self, slot: usize, bucket: usize) -> u64 {
        self.slot(slot)
            .map_or(0, |cells| read(&cells[BUCKETS_AT + bucket]))
    }

    fn sum(&self, slot: usize) -> u64 {
        self.slot(slot).map_or(0, |cells| read(&cells[SUM_AT]))
    }
}

/// One worker's connection counters, written by that worker alone.
#[repr(align(128))]
#[derive(Default)]
pub(crate) struct ServerBlock {
    accepted: AtomicU64,
    closed: AtomicU64,
    live_opened: AtomicU64,
    live_closed: AtomicU64,
    received: AtomicU64,
    sent: AtomicU64,
    blocking_refused: AtomicU64,
    /// Padding up to the next block: the fields above fill one line, this the next.
    _pad: [u64; 9],
}

impl ServerBlock {
    /// A connection was accepted.
    pub(crate) fn accepted(&self) {
        bump(&self.accepted, 1);
    }
    /// A connection was closed.
    pub(crate) fn closed(&self) {
        bump(&self.closed, 1);
    }
    /// A connection became live (a WebSocket, an event stream).
    pub(crate) fn live_opened(&self) {
        bump(&self.live_opened, 1);
    }
    /// A live connection was closed.
    pub(crate) fn live_closed(&self) {
        bump(&self.live_closed, 1);
    }
    /// Bytes read from a client.
    #[inline(always)]
    pub(crate) fn received(&self, bytes: usize) {
        bump(&self.received, bytes as u64);
    }
    /// Bytes written to a client.
    #[inline(always)]
    pub(crate) fn sent(&self, bytes: usize) {
        bump(&self.sent, bytes as u64);
    }
    /// The blocking pool was full: the request got 503.
    pub(crate) fn blocking_refused(&self) {
        bump(&self.blocking_refused, 1);
    }
}

/// A thread's request blocks: for each app it answered for, the app's address (the key), a
/// `Weak` that keeps that address from being reused, and the block.
type ThreadBlocks = Vec<(usize, Weak<Metrics>, Arc<RequestBlock>)>;

thread_local! {
    /// This thread's request block for each app it has answered for (one, except in tests
    /// that run several apps' test clients on one thread).
    /// Each is keyed by its app's address, which cannot be reused while the `Weak` keeps the
    /// allocation.
    static BLOCKS: RefCell<ThreadBlocks> = const { RefCell::new(Vec::new()) };
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let clock = quanta::Clock::new();
        // 2^32 ticks is about a second of a GHz counter: enough digits for the ratio.
        let nanos_per_2_32_ticks = clock.delta_as_nanos(0, 1 << 32).max(1);
        let bounds = BUCKETS_NS.map(|ns| {
            u64::try_from((u128::from(ns) << 32) / u128::from(nanos_per_2_32_ticks))
                .unwrap_or(u64::MAX)
        });
        Self {
            clock,
            bounds,
            nanos_per_2_32_ticks,
            layout: OnceLock::new(),
            requests: Mutex::new(Vec::new()),
            servers: Mutex::new(Vec::new()),
            blocking: OnceLock::new(),
        }
    }

    /// Fixes the labels, from the frozen app's routes (in the router's order).
    pub(crate) fn set_layout<'a>(&self, routes: impl Iterator<Item = &'a str>) {
        let mut patterns: Vec<String> = Vec::new();
        let slot_of_route = routes
            .map(|pattern| match patterns.iter().position(|p| p == pattern) {
                Some(slot) => slot,
                None => {
                    patterns.push(pattern.to_owned());
                    patterns.len() - 1
                }
            })
            .collect();
        patterns.push(UNMATCHED.to_owned());
        let _ = self.layout.set(Layout {
            patterns,
            slot_of_route,
        });
    }

    /// The label slot of route `index`, or of unmatched requests.
    pub(crate) fn slot(&self, route: Option<usize>) -> usize {
        let Some(layout) = self.layout.get() else {
            return 0;
        };
        route
            .and_then(|index| layout.slot_of_route.get(index).copied())
            .unwrap_or(layout.patterns.len() - 1)
    }

    /// A reading of the latency clock, for [`record`](Self::record).
    #[inline(always)]
    pub(crate) fn now(&self) -> Stamp {
        Stamp(self.clock.raw())
    }

    /// Counts one answered request for the route with metrics slot `slot` (`None`: no route
    /// matched), which arrived at `started`.
    #[inline(never)]
    pub(crate) fn record(
        self: &Arc<Self>,
        slot: Option<usize>,
        method: &Method,
        status: StatusCode,
        started: Stamp,
    ) {
        // A clock that went backwards (another core's counter) counts as no time.
        let ticks = self.clock.raw().saturating_sub(started.0);
        self.count(slot, method, status, ticks);
    }

    /// Seconds in `ticks` of the clock.
    fn seconds(&self, ticks: u64) -> f64 {
        ((u128::from(ticks) * u128::from(self.nanos_per_2_32_ticks)) >> 32) as f64 / 1e9
    }

    /// Counts one answered request that took `ticks`.
    #[inline(always)]
    fn count(
        self: &Arc<Self>,
        slot: Option<usize>,
        method: &Method,
        status: StatusCode,
        ticks: u64,
    ) {
        let key = Arc::as_ptr(self) as usize;
        BLOCKS.with(|blocks| {
            let mut blocks = blocks.borrow_mut();
            let block = match blocks.first() {
                Some((owner, _, block)) if *owner == key => block,
                _ => match self.block_for_thread(&mut blocks) {
                    Some(block) => block,
                    None => return,
                },
            };
            self.add(block, slot, method, status, ticks);
        });
    }

    /// Adds one answered request that took `ticks` to `block`.
    #[inline(always)]
    fn add(
        &self,
        block: &RequestBlock,
        slot: Option<usize>,
        method: &Method,
        status: StatusCode,
        ticks: u64,
    ) {
        let method = method_index(method);
        // Statuses are 100 to 999.
        let class = usize::from(status.as_u16() / 100 - 1).min(CLASSES.len() - 1);
        let bucket = self
            .bounds
            .iter()
            .position(|&bound| ticks <= bound)
            .unwrap_or(BUCKETS_NS.len());
        let Some(cells) = block.slot(slot.unwrap_or(block.slots - 1)) else {
            return;
        };
        bump(&cells[method * CLASSES.len() + class], 1);
        bump(&cells[BUCKETS_AT + bucket], 1);
        bump(&cells[SUM_AT], ticks);
    }

    /// Counters for one worker's event loop, registered now (after the layout is set: the
    /// app is frozen before its workers start). `None` before that.
    pub(crate) fn worker_counters(self: &Arc<Self>) -> Option<WorkerCounters> {
        let block = Arc::new(RequestBlock::new(self.layout.get()?));
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&block));
        Some(WorkerCounters {
            metrics: Arc::clone(self),
            block,
            clock: self.clock.clone(),
            free_since: Cell::new(Stamp(self.clock.raw())),
        })
    }

    /// This thread's block for this app, made and registered on first use and moved to the
    /// front (where the next request looks first). `None` before the layout is set.
    #[cold]
    fn block_for_thread<'b>(
        self: &Arc<Self>,
        blocks: &'b mut ThreadBlocks,
    ) -> Option<&'b Arc<RequestBlock>> {
        // Blocks of apps that are gone are dropped from the thread's list.
        blocks.retain(|(_, owner, _)| owner.strong_count() > 0);
        let key = Arc::as_ptr(self) as usize;
        let found = blocks.iter().position(|(owner, _, _)| *owner == key);
        let entry = match found {
            Some(index) => blocks.remove(index),
            None => {
                let block = Arc::new(RequestBlock::new(self.layout.get()?));
                self.requests
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(Arc::clone(&block));
                (key, Arc::downgrade(self), block)
            }
        };
        blocks.insert(0, entry);
        blocks.first().map(|(_, _, block)| block)
    }

    /// A block for a worker's connection counters.
    pub(crate) fn server_block(&self) -> Arc<ServerBlock> {
        let block = Arc::new(ServerBlock::default());
        self.servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&block));
        block
    }

    /// Where to read the blocking pool's jobs in flight (queued or running), and how many
    /// threads it has.
    pub(crate) fn set_blocking_pool(&self, admitted: Weak<AtomicUsize>, threads: usize) {
        let _ = self.blocking.set((admitted, threads));
    }

    /// The Prometheus text exposition (OpenMetrics 1.0) of everything counted so far.
    pub(crate) fn render(self: &Arc<Self>) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Scrape(Arc::clone(self))));
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &registry) {
            log::error!("cannot write the metrics: {error}");
        }
        text
    }
}

/// What counts answered requests: the app's [`Metrics`] (through this thread's block) or a
/// worker's [`WorkerCounters`].
pub(crate) trait Recorder {
    /// When the latency of a request the site turns to now starts.
    fn start(&self) -> Stamp;

    /// Counts one answered request for the route with metrics slot `slot` (`None`: no route
    /// matched), which arrived at `started`.
    fn record(&self, slot: Option<usize>, method: &Method, status: StatusCode, started: Stamp);
}

impl Recorder for Arc<Metrics> {
    #[inline(always)]
    fn start(&self) -> Stamp {
        Metrics::now(self)
    }

    #[inline(always)]
    fn record(&self, slot: Option<usize>, method: &Method, status: StatusCode, started: Stamp) {
        Metrics::record(self, slot, method, status, started);
    }
}

/// One worker's request counters, held by its event loop: written without the thread-local
/// lookup, which is most of what counting a request costs.
pub(crate) struct WorkerCounters {
    metrics: Arc<Metrics>,
    block: Arc<RequestBlock>,
    /// The app's latency clock, held here too: one pointer fewer to follow per reading.
    clock: quanta::Clock,
    /// The later of the loop's last wake-up and the end of its last answer.
    free_since: Cell<Stamp>,
}

impl WorkerCounters {
    /// The worker's loop woke up for a batch of events.
    #[inline(always)]
    pub(crate) fn wake(&self) {
        self.free_since.set(Stamp(self.clock.raw()));
    }
}

impl Recorder for WorkerCounters {
    #[inline(always)]
    fn start(&self) -> Stamp {
        self.free_since.get()
    }

    #[inline(always)]
    fn record(&self, slot: Option<usize>, method: &Method, status: StatusCode, started: Stamp) {
        let now = self.clock.raw();
        self.free_since.set(Stamp(now));
        // A clock that went backwards (another core's counter) counts as no time.
        let ticks = now.saturating_sub(started.0);
        self.metrics.add(&self.block, slot, method, status, ticks);
    }
}

/// A reading of the latency clock (raw: its unit is the clock's own).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamp(u64);

/// The method's label index.
#[inline(always)]
fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::DELETE => 4,
        Method::PATCH => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}

/// The collector a scrape runs: sums every block.
#[derive(Debug)]
struct Scrape(Arc<Metrics>);

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let metrics = &self.0;
        if let Some(layout) = metrics.layout.get() {
            let blocks = metrics
                .requests
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            encode_requests(&mut encoder, metrics, layout, &blocks)?;
        }
        let servers = metrics
            .servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let total = |field: fn(&ServerBlock) -> &AtomicU64| -> u64 {
            servers.iter().map(|block| read(field(block))).sum()
        };
        let accepted = total(|b| &b.accepted);
        let closed = total(|b| &b.closed);
        let live_opened = total(|b| &b.live_opened);
        let live_closed = total(|b| &b.live_closed);
        counter(
            &mut encoder,
            "carafe_connections",
            "Connections accepted.",
            None,
            accepted,
        )?;
        gauge(
            &mut encoder,
            "carafe_connections_open",
            "Connections open now.",
            accepted.saturating_sub(closed),
        )?;
        gauge(
            &mut encoder,
            "carafe_live_connections_open",
            "Live connections (WebSockets, event streams) open now.",
            live_opened.saturating_sub(live_closed),
        )?;
        counter(
            &mut encoder,
            "carafe_received",
            "Bytes read from clients.",
            Some(&Unit::Bytes),
            total(|b| &b.received),
        )?;
        counter(
            &mut encoder,
            "carafe_sent",
            "Bytes written to clients.",
            Some(&Unit::Bytes),
            total(|b| &b.sent),
        )?;
        let (admitted, threads) = match metrics.blocking.get() {
            Some((admitted, threads)) => (
                admitted
                    .upgrade()
                    .map_or(0, |count| count.load(Ordering::Relaxed) as u64),
                *threads as u64,
            ),
            None => (0, 0),
        };
        gauge(
            &mut encoder,
            "carafe_blocking_jobs",
            "Requests for blocking handlers admitted to the pool: queued or running.",
            admitted,
        )?;
        gauge(
            &mut encoder,
            "carafe_blocking_queue_depth",
            "Requests for blocking handlers waiting for a free pool thread.",
            admitted.saturating_sub(threads),
        )?;
        counter(
            &mut encoder,
            "carafe_blocking_refused",
            "Requests for blocking handlers refused with 503 because the pool and its queue were full.",
            None,
            total(|b| &b.blocking_refused),
        )
    }
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, unit, metric.metric_type())?)
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// The request counts and the latency histograms, summed over the threads' blocks. Only
/// label sets that have been seen are written.
fn encode_requests(
    encoder: &mut DescriptorEncoder,
    metrics: &Metrics,
    layout: &Layout,
    blocks: &[Arc<RequestBlock>],
) -> Result<(), std::fmt::Error> {
    let slots = layout.patterns.len();
    let blocks: Vec<&RequestBlock> = blocks
        .iter()
        .map(|block| &**block)
        .filter(|block| block.slots == slots)
        .collect();
    let total = |cell: &dyn Fn(&RequestBlock) -> u64| blocks.iter().map(|b| cell(b)).sum::<u64>();
    let mut counts = Vec::new();
    let mut histograms = Vec::new();
    for (slot, pattern) in layout.patterns.iter().enumerate() {
        for (method, method_name) in METHODS.iter().enumerate() {
            for (class, class_name) in CLASSES.iter().enumerate() {
                let count = total(&|block| block.count(slot, method, class));
                if count > 0 {
                    counts.push(([pattern.as_str(), method_name, class_name], count));
                }
            }
        }
        // Each bucket's own count: the encoder makes them cumulative, and writes the last
        // bound (f64::MAX, its convention) as `+Inf`.
        let buckets: Vec<(f64, u64)> = BUCKETS_NS
            .iter()
            .map(|&ns| ns as f64 / 1e9)
            .chain(std::iter::once(f64::MAX))
            .enumerate()
            .map(|(index, bound)| (bound, total(&|block| block.bucket(slot, index))))
            .collect();
        let count: u64 = buckets.iter().map(|(_, count)| count).sum();
        if count > 0 {
            let sum = metrics.seconds(total(&|block| block.sum(slot)));
            histograms.push((pattern.as_str(), sum, count, buckets));
        }
    }
    // A family is written only with samples: an empty one trips some parsers.
    if !counts.is_empty() {
        let mut family = encoder.encode_descriptor(
            "carafe_http_requests",
            "Requests answered, by route pattern, method and status class.",
            None,
            MetricType::Counter,
        )?;
        for ([route, method, status], count) in &counts {
            let labels = [("route", *route), ("method", method), ("status", status)];
            family
                .encode_family(&labels)?
                .encode_counter::<[(&str, &str); 0], _, u64>(count, None)?;
        }
    }
    if !histograms.is_empty() {
        // The unit is in the name, not in a `# UNIT` line: OpenMetrics parsers disagree on
        // whether a histogram may have one.
        let mut family = encoder.encode_descriptor(
            "carafe_http_request_duration_seconds",
            "Time from a request's arrival at the app to its response, by route pattern.",
            None,
            MetricType::Histogram,
        )?;
        for (route, sum, count, buckets) in &histograms {
            family
                .encode_family(&[("route", *route)])?
                .encode_histogram::<[(&str, &str); 0]>(*sum, *count, buckets, None)?;
        }
    }
    Ok(())
}

/// The content type of the exposition prometheus-client writes.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

impl App {
    /// Serves the app's metrics at `path`, in the Prometheus text exposition format
    /// (OpenMetrics 1.0), for Prometheus to scrape: requests by route pattern, method and
    /// status class (`carafe_http_requests_total`), a latency histogram per route pattern
    /// (`carafe_http_request_duration_seconds`), connections accepted and open, bytes
    /// received and sent, live connections (WebSockets, event streams) open, and the
    /// blocking pool's jobs, queue depth and refusals. The path is an ordinary `GET` route
    /// named `carafe_metrics` (it shows in [`App::routes`], and hooks run for it, so an auth
    /// hook can guard it); every route counts from the moment the server starts.
    ///
    /// Needs the `metrics` Cargo feature. Counting costs each request two clock reads and a
    /// few plain stores into counters its thread owns, no lock; an app that never calls
    /// this pays nothing. See the [module docs](crate::metrics) for what is counted where.
    ///
    /// ```
    /// use carafe::{route, testing::TestClient, App};
    ///
    /// let mut app = App::new();
    /// route!(app, GET "/" => |_req| "home")?;
    /// app.metrics("/metrics")?;
    ///
    /// let client = TestClient::new(app);
    /// client.get("/").send();
    /// client.get("/nowhere").send();
    /// let text = client.get("/metrics").send().text();
    /// assert!(text.contains(r#"carafe_http_requests_total{route="/",method="GET",status="2xx"} 1"#));
    /// assert!(text.contains(r#"carafe_http_requests_total{route="<unmatched>",method="GET",status="4xx"} 1"#));
    /// assert!(text.contains(r#"carafe_http_request_duration_seconds_count{route="/"} 1"#));
    /// # Ok::<(), carafe::RouteError>(())
    /// ```
    pub fn metrics(&mut self, path: &str) -> Result<&mut Self, RouteError> {
        let metrics = Arc::clone(self.metrics.get_or_insert_with(|| Arc::new(Metrics::new())));
        let spec = RouteSpec::new(&[Method::GET], path)
            .handler_name("carafe_metrics", "carafe::metrics")
            .name("carafe_metrics");
        self.route(spec, move |_req| {
            let mut response = Response::text(metrics.render());
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(CONTENT_TYPE),
            );
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_increasing_and_methods_are_bounded() {
        assert!(BUCKETS_NS.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(method_index(&Method::GET), 0);
        assert_eq!(method_index(&Method::from_bytes(b"BREW").unwrap()), 7);
        assert_eq!(method_index(&Method::CONNECT), 7);
    }

    #[test]
    fn a_server_block_fills_whole_cache_lines() {
        assert_eq!(std::mem::size_of::<ServerBlock>() % 128, 0);
        assert_eq!(std::mem::align_of::<ServerBlock>(), 128);
    }

    #[test]
    fn each_thread_counts_in_its_own_block_and_the_scrape_sums_them() {
        let metrics = Arc::new(Metrics::new());
        metrics.set_layout(["/a", "/b", "/a"].into_iter());
        assert_eq!(
            metrics.slot(Some(2)),
            0,
            "two routes with one pattern share its labels"
        );
        assert_eq!(metrics.slot(None), 2, "unmatched comes last");
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let metrics = Arc::clone(&metrics);
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        metrics.count(Some(0), &Method::GET, StatusCode::OK, 0);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(metrics.requests.lock().unwrap().len(), 3);
        let text = metrics.render();
        assert!(
            text.contains(
                r#"carafe_http_requests_total{route="/a",method="GET",status="2xx"} 300"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"carafe_http_request_duration_seconds_bucket{le="0.0001",route="/a"} 300"#
            ) || text.contains(
                r#"carafe_http_request_duration_seconds_bucket{route="/a",le="0.0001"} 300"#
            ),
            "{text}"
        );
    }
}
