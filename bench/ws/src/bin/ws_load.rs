//! The load generator of the WebSocket benchmark, one thread (pin it to a core of its own).
//!
//! ```sh
//! ws-load echo --url ws://127.0.0.1:PORT/ws/echo [--conns 64] [--secs 3] [--size 32] [--warmup 0.5]
//! ws-load broadcast --url ws://127.0.0.1:PORT/ws/room --post http://127.0.0.1:PORT/broadcast \
//!     [--subscribers 10000] [--messages 20]
//! ```
//!
//! - `echo`: every connection, in a closed loop, sends a text message of `size` bytes (its
//!   own connection and sequence number, padded) and waits for its echo, which must equal it.
//!   Round trips that end within the `secs` window (after the warm-up) are counted and timed.
//! - `broadcast`: opens the subscribers in batches (`--batch`, default 100: at most that many
//!   handshakes in flight, so the server's accept backlog is never overrun; axum's, from
//!   tokio's `TcpListener::bind`, is 128, carafe's 1024; an overrun costs a 1 s SYN retry),
//!   sends one unmeasured warm-up broadcast, then `messages` broadcasts one at a time, each a raw HTTP/1.1 `POST` (keep-alive) with the body `m<i>-<unix µs>`. The
//!   fan-out latency of one is the time from writing its `POST` to the moment the last
//!   subscriber has read it; the next is sent only once every subscriber has it (or after
//!   `--timeout` seconds). Every subscriber must get every message exactly once, in order;
//!   the `POST` must answer the subscriber count.
//!
//! Prints one JSON line. `errors` counts wrong echoes, missed, duplicated or foreign
//! broadcasts, failed connections and wrong `POST` answers; it must be 0.
//!
//! `--sync` is for a runner that reads the server's CPU time around the measured window:
//! ws-load prints `@start` (then `@end`) on stdout and waits for a line on stdin before it
//! goes on. Opening and closing the connections stay outside the window. `--verbose` tells
//! on stderr when each phase ended.

use std::{
    cell::{Cell, RefCell},
    io::{BufRead, Write},
    rc::Rc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use futures_util::{SinkExt, StreamExt, future::join_all};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::{Notify, watch},
    task::LocalSet,
    time::{sleep, timeout},
};
use tokio_tungstenite::{
    WebSocketStream, client_async_with_config,
    tungstenite::{Message, protocol::WebSocketConfig},
};

type Ws = WebSocketStream<TcpStream>;

const USAGE: &str = "usage:
  ws-load echo --url ws://HOST:PORT/ws/echo [--conns 64] [--secs 3] [--size 32] [--warmup 0.5] [--batch 100] [--sync] [--verbose]
  ws-load broadcast --url ws://HOST:PORT/ws/room --post http://HOST:PORT/broadcast [--subscribers 10000] [--messages 20] [--batch 100] [--timeout 10] [--sync] [--verbose]";

struct Args {
    mode: String,
    url: String,
    post: String,
    conns: usize,
    secs: f64,
    size: usize,
    warmup: f64,
    subscribers: usize,
    messages: usize,
    batch: usize,
    timeout: f64,
    sync: bool,
    verbose: bool,
}

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut raw = std::env::args().skip(1);
    let mode = raw.next().unwrap_or_else(|| usage());
    if mode != "echo" && mode != "broadcast" {
        usage();
    }
    let mut args = Args {
        mode,
        url: String::new(),
        post: String::new(),
        conns: 64,
        secs: 3.0,
        size: 32,
        warmup: 0.5,
        subscribers: 10_000,
        messages: 20,
        batch: 100,
        timeout: 10.0,
        sync: false,
        verbose: false,
    };
    fn num<T: std::str::FromStr>(flag: &str, value: Option<String>) -> T {
        value.and_then(|v| v.parse().ok()).unwrap_or_else(|| {
            eprintln!("{flag} needs a number");
            usage()
        })
    }
    while let Some(flag) = raw.next() {
        match flag.as_str() {
            "--sync" => args.sync = true,
            "--verbose" => args.verbose = true,
            "--url" => args.url = raw.next().unwrap_or_else(|| usage()),
            "--post" => args.post = raw.next().unwrap_or_else(|| usage()),
            "--conns" => args.conns = num(&flag, raw.next()),
            "--secs" => args.secs = num(&flag, raw.next()),
            "--size" => args.size = num(&flag, raw.next()),
            "--warmup" => args.warmup = num(&flag, raw.next()),
            "--subscribers" => args.subscribers = num(&flag, raw.next()),
            "--messages" => args.messages = num(&flag, raw.next()),
            "--batch" => args.batch = num::<usize>(&flag, raw.next()).max(1),
            "--timeout" => args.timeout = num(&flag, raw.next()),
            _ => usage(),
        }
    }
    if args.url.is_empty() || (args.mode == "broadcast" && args.post.is_empty()) {
        usage();
    }
    args
}

/// `scheme://HOST:PORT/path` → (`HOST:PORT`, `/path`).
fn split_url(url: &str) -> (String, String) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    match rest.find('/') {
        Some(slash) => (rest[..slash].to_owned(), rest[slash..].to_owned()),
        None => (rest.to_owned(), "/".to_owned()),
    }
}

/// Raises the soft open-file limit to the hard one (10,000 subscribers need 10,000 sockets).
fn raise_nofile_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// With `--sync`: tells the runner where the measured window starts or ends and waits for
/// its line on stdin (it reads the server's CPU time meanwhile). Blocks the whole runtime on
/// purpose: nothing is sent while the runner reads.
fn sync_point(enabled: bool, label: &str) {
    if !enabled {
        return;
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{label}");
    let _ = out.flush();
    drop(out);
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
}

async fn connect(url: &str, host_port: &str) -> Result<Ws, String> {
    let tcp = TcpStream::connect(host_port).await.map_err(|e| format!("connect: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    // A small read buffer: 10,000 subscribers with tungstenite's 128 KiB each would be 1.3 GB.
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let (ws, _) = client_async_with_config(url, tcp, Some(config))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    Ok(ws)
}

/// Opens `n` WebSockets, `batch` handshakes at a time. Failures are reported and counted.
async fn connect_all(url: &str, n: usize, batch: usize) -> (Vec<Ws>, usize) {
    let (host_port, _) = split_url(url);
    let mut open = Vec::with_capacity(n);
    let mut failed = 0;
    let mut first_error = None;
    while open.len() + failed < n {
        let count = batch.min(n - open.len() - failed);
        for result in join_all((0..count).map(|_| connect(url, &host_port))).await {
            match result {
                Ok(ws) => open.push(ws),
                Err(error) => {
                    failed += 1;
                    first_error.get_or_insert(error);
                }
            }
        }
    }
    if let Some(error) = first_error {
        eprintln!("ws-load: {failed} of {n} connections failed, the first with {error}");
    }
    (open, failed)
}

/// Closes every socket (close handshake, so the server closes the TCP connection first),
/// giving up (and just dropping them) after two seconds.
async fn close_all(sockets: Vec<Ws>) {
    let _ = timeout(
        Duration::from_secs(2),
        join_all(sockets.into_iter().map(|mut ws| async move {
            if ws.close(None).await.is_ok() {
                while let Some(Ok(_)) = ws.next().await {}
            }
        })),
    )
    .await;
}

/// With `--verbose`: when each phase ended, on stderr.
fn phase(args: &Args, since: Instant, label: &str) {
    if args.verbose {
        eprintln!("ws-load: {:8.3} s {label}", since.elapsed().as_secs_f64());
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

// ---------------------------------------------------------------------------------- echo

#[derive(Default)]
struct EchoState {
    measuring: Cell<bool>,
    stop: Cell<bool>,
    errors: Cell<u64>,
    latencies_us: RefCell<Vec<u64>>,
}

async fn echo_loop(mut ws: Ws, id: usize, size: usize, state: Rc<EchoState>) -> Option<Ws> {
    let mut payload = String::with_capacity(size + 32);
    let mut seq = 0u64;
    while !state.stop.get() {
        payload.clear();
        use std::fmt::Write as _;
        let _ = write!(payload, "{id}:{seq}:");
        while payload.len() < size {
            payload.push('x');
        }
        payload.truncate(size);
        let sent = Instant::now();
        if ws.send(Message::Text(payload.clone().into())).await.is_err() {
            state.errors.set(state.errors.get() + 1);
            return None;
        }
        let ok = loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => break text.as_str() == payload,
                Some(Ok(Message::Binary(_))) => break false,
                Some(Ok(_)) => continue, // ping, pong
                Some(Err(_)) | None => {
                    state.errors.set(state.errors.get() + 1);
                    return None;
                }
            }
        };
        if !ok {
            state.errors.set(state.errors.get() + 1);
        }
        if state.measuring.get() {
            state.latencies_us.borrow_mut().push(sent.elapsed().as_micros() as u64);
        }
        seq += 1;
    }
    Some(ws)
}

async fn run_echo(args: &Args) {
    let begun = Instant::now();
    let (sockets, failed) = connect_all(&args.url, args.conns, args.batch).await;
    phase(args, begun, "connected");
    let state = Rc::new(EchoState::default());
    state.errors.set(failed as u64);
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(id, ws)| tokio::task::spawn_local(echo_loop(ws, id, args.size, Rc::clone(&state))))
        .collect();
    sleep(Duration::from_secs_f64(args.warmup)).await;
    sync_point(args.sync, "@start");
    state.latencies_us.borrow_mut().reserve(1 << 20);
    state.measuring.set(true);
    let started = Instant::now();
    sleep(Duration::from_secs_f64(args.secs)).await;
    state.measuring.set(false);
    let window = started.elapsed().as_secs_f64();
    sync_point(args.sync, "@end");
    phase(args, begun, "measured");
    state.stop.set(true);
    // Each loop ends after its round trip in flight; a server that stopped answering is an error.
    match timeout(Duration::from_secs(5), join_all(tasks)).await {
        Ok(results) => {
            close_all(results.into_iter().filter_map(|r| r.ok().flatten()).collect()).await;
            phase(args, begun, "closed");
        }
        Err(_) => {
            eprintln!("ws-load: some echoes never came back");
            state.errors.set(state.errors.get() + 1);
        }
    }
    let mut latencies = state.latencies_us.take();
    latencies.sort_unstable();
    let round_trips = latencies.len();
    println!(
        "{{\"mode\":\"echo\",\"conns\":{},\"size\":{},\"secs\":{:.3},\"round_trips\":{},\"rt_per_s\":{:.0},\"p50_us\":{},\"p99_us\":{},\"errors\":{}}}",
        args.conns,
        args.size,
        window,
        round_trips,
        round_trips as f64 / window,
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        state.errors.get()
    );
}

// ----------------------------------------------------------------------------- broadcast

struct RoomState {
    /// Messages sent so far (the warm-up included): the index the next one will have.
    total: usize,
    /// For every message, how many subscribers have it, and when the last one read it.
    received: RefCell<Vec<usize>>,
    completed_at: RefCell<Vec<Option<Instant>>>,
    subscribers: usize,
    all_received: Notify,
    missed: Cell<u64>,
    duplicated: Cell<u64>,
    foreign: Cell<u64>,
    dropped: Cell<u64>,
}

impl RoomState {
    fn bump(cell: &Cell<u64>, by: u64) {
        cell.set(cell.get() + by);
    }
}

/// Reads broadcasts until told to stop, checking that they come in order, each once.
/// Returns the socket (to close it) and the index of the message it expects next.
async fn subscriber(mut ws: Ws, state: Rc<RoomState>, mut stop: watch::Receiver<bool>) -> (Option<Ws>, usize) {
    let mut next = 0usize;
    loop {
        let message = tokio::select! {
            message = ws.next() => message,
            _ = stop.changed() => return (Some(ws), next),
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(_)) => {
                RoomState::bump(&state.foreign, 1);
                continue;
            }
            Some(Err(_)) | None => {
                RoomState::bump(&state.dropped, 1);
                return (None, next);
            }
        };
        let index = text
            .as_str()
            .strip_prefix('m')
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(index, _)| index.parse::<usize>().ok());
        let Some(index) = index.filter(|&i| i < state.total) else {
            RoomState::bump(&state.foreign, 1);
            continue;
        };
        if index < next {
            RoomState::bump(&state.duplicated, 1);
            continue;
        }
        if index > next {
            RoomState::bump(&state.missed, (index - next) as u64);
        }
        next = index + 1;
        let mut received = state.received.borrow_mut();
        received[index] += 1;
        if received[index] == state.subscribers {
            state.completed_at.borrow_mut()[index] = Some(Instant::now());
            state.all_received.notify_one();
        }
    }
}

/// One keep-alive HTTP/1.1 connection for the `POST`s.
struct Poster {
    host_port: String,
    path: String,
    stream: Option<TcpStream>,
}

impl Poster {
    /// Writes the `POST` (connecting first if need be: the clock starts after that) and
    /// returns the response body.
    async fn post(&mut self, body: &str, clock: &mut Instant) -> Result<String, String> {
        if self.stream.is_none() {
            let tcp = TcpStream::connect(&self.host_port).await.map_err(|e| format!("connect: {e}"))?;
            let _ = tcp.set_nodelay(true);
            self.stream = Some(tcp);
        }
        let result = self.exchange(body, clock).await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn exchange(&mut self, body: &str, clock: &mut Instant) -> Result<String, String> {
        let stream = self.stream.as_mut().unwrap();
        let request = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{}",
            self.path,
            self.host_port,
            body.len(),
            body
        );
        *clock = Instant::now();
        stream.write_all(request.as_bytes()).await.map_err(|e| format!("write: {e}"))?;
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await.map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("connection closed before the response".into());
            }
            buf.extend_from_slice(&chunk[..n]);
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            let head_len = match response.parse(&buf) {
                Ok(httparse::Status::Complete(len)) => len,
                Ok(httparse::Status::Partial) => continue,
                Err(e) => return Err(format!("bad response: {e}")),
            };
            let status = response.code.unwrap_or(0);
            let mut content_length = None;
            let mut close = false;
            for header in response.headers.iter() {
                if header.name.eq_ignore_ascii_case("content-length") {
                    content_length = std::str::from_utf8(header.value).ok().and_then(|v| v.trim().parse::<usize>().ok());
                } else if header.name.eq_ignore_ascii_case("connection") {
                    close = header.value.eq_ignore_ascii_case(b"close");
                } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                    return Err("chunked responses are not handled".into());
                }
            }
            let Some(length) = content_length else {
                return Err("response without Content-Length".into());
            };
            while buf.len() < head_len + length {
                let n = stream.read(&mut chunk).await.map_err(|e| format!("read: {e}"))?;
                if n == 0 {
                    return Err("connection closed in the response body".into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = String::from_utf8_lossy(&buf[head_len..head_len + length]).into_owned();
            if close {
                self.stream = None;
            }
            if status != 200 {
                return Err(format!("status {status}: {body}"));
            }
            return Ok(body);
        }
    }
}

async fn run_broadcast(args: &Args) {
    let begun = Instant::now();
    let (sockets, failed) = connect_all(&args.url, args.subscribers, args.batch).await;
    phase(args, begun, "connected");
    let total = args.messages + 1; // message 0 is the unmeasured warm-up
    let state = Rc::new(RoomState {
        total,
        received: RefCell::new(vec![0; total]),
        completed_at: RefCell::new(vec![None; total]),
        subscribers: sockets.len(),
        all_received: Notify::new(),
        missed: Cell::new(0),
        duplicated: Cell::new(0),
        foreign: Cell::new(0),
        dropped: Cell::new(0),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|ws| tokio::task::spawn_local(subscriber(ws, Rc::clone(&state), stop_rx.clone())))
        .collect();
    let (host_port, path) = split_url(&args.post);
    let mut poster = Poster { host_port, path, stream: None };
    let mut post_errors = 0u64;
    let mut fanouts_ms = Vec::with_capacity(args.messages);
    let mut first_post_error = None;
    let wait = Duration::from_secs_f64(args.timeout);
    for index in 0..total {
        if index == 1 {
            sync_point(args.sync, "@start");
        }
        let stamp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros();
        let body = format!("m{index}-{stamp}");
        let mut clock = Instant::now();
        match poster.post(&body, &mut clock).await {
            Ok(answer) if answer.trim().parse::<usize>().ok() == Some(state.subscribers) => {}
            Ok(answer) => {
                post_errors += 1;
                first_post_error.get_or_insert(format!("answered {answer:?}, not {}", state.subscribers));
            }
            Err(error) => {
                post_errors += 1;
                first_post_error.get_or_insert(error);
            }
        }
        let everyone = async {
            while state.received.borrow()[index] < state.subscribers {
                state.all_received.notified().await;
            }
        };
        let _ = timeout(wait.saturating_sub(clock.elapsed()), everyone).await;
        let done = state.completed_at.borrow()[index];
        if index > 0 {
            // A message some subscriber never got counts at the timeout (and as missed).
            let end = done.unwrap_or_else(Instant::now);
            fanouts_ms.push(end.saturating_duration_since(clock).as_secs_f64() * 1e3);
        }
    }
    sync_point(args.sync, "@end");
    phase(args, begun, "measured");
    // A moment for duplicates to show up, then the tally.
    sleep(Duration::from_millis(100)).await;
    let _ = stop_tx.send(true);
    let mut open = Vec::new();
    let mut missed_at_end = 0u64;
    for task in tasks {
        match task.await {
            Ok((ws, next)) => {
                missed_at_end += (total - next) as u64;
                open.extend(ws);
            }
            Err(_) => missed_at_end += total as u64,
        }
    }
    phase(args, begun, "tallied");
    close_all(open).await;
    phase(args, begun, "closed");
    if let Some(error) = &first_post_error {
        eprintln!("ws-load: {post_errors} POST(s) failed, the first: {error}");
    }
    let missed = state.missed.get() + missed_at_end;
    let (duplicated, foreign, dropped) = (state.duplicated.get(), state.foreign.get(), state.dropped.get());
    if missed + duplicated + foreign + dropped > 0 {
        eprintln!(
            "ws-load: {missed} missed, {duplicated} duplicated, {foreign} foreign deliveries, {dropped} subscribers dropped"
        );
    }
    let errors = failed as u64 + post_errors + missed + duplicated + foreign + dropped;
    let delivered: usize = state.received.borrow()[1..].iter().sum();
    let mut sorted = fanouts_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let median = if sorted.is_empty() {
        0.0
    } else if sorted.len() % 2 == 1 {
        sorted[sorted.len() / 2]
    } else {
        (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2.0
    };
    println!(
        "{{\"mode\":\"broadcast\",\"subscribers\":{},\"messages\":{},\"delivered\":{},\"fanout_ms_p50\":{:.3},\"fanout_ms_max\":{:.3},\"errors\":{}}}",
        args.subscribers,
        args.messages,
        delivered,
        median,
        sorted.last().copied().unwrap_or(0.0),
        errors
    );
}

fn main() {
    let args = parse_args();
    raise_nofile_limit();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let local = LocalSet::new();
    local.block_on(&runtime, async {
        match args.mode.as_str() {
            "echo" => run_echo(&args).await,
            _ => run_broadcast(&args).await,
        }
    });
}
