//! `App::metrics` over real sockets: requests sent with curl and raw TCP, the exposition
//! scraped with curl and read by a strict OpenMetrics parser (the openmetrics-parser crate,
//! not the code that wrote it): counts by route pattern, method and status class, histograms,
//! open connections, bytes, the blocking pool's jobs, queue and refusals, live connections.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use carafe::{App, Message, Request, Response, StatusCode, WebSocket, WsSender, route};
use carafe_e2e::{Served, curl};
use openmetrics_parser::{
    HistogramValue, MetricsExposition, OpenMetricsType, OpenMetricsValue,
    openmetrics::parse_openmetrics,
};

const WAIT: Duration = Duration::from_secs(10);

type Scrape = MetricsExposition<OpenMetricsType, OpenMetricsValue>;

/// Scrapes `/metrics` with curl and parses it.
fn scrape(served: &Served) -> Scrape {
    let output = curl(&[&served.url("/metrics")]);
    assert_eq!(output.status, 200, "{output}");
    assert_eq!(
        output.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let text = output.text();
    parse_openmetrics(&text).unwrap_or_else(|error| panic!("{error:?} in\n{text}"))
}

/// The sample of family `family` whose labels include `labels`, if there is one (a counter
/// not yet counted is not written).
fn sample<'s>(
    scrape: &'s Scrape,
    family: &str,
    labels: &[(&str, &str)],
) -> Option<&'s OpenMetricsValue> {
    let family = scrape
        .families
        .get(family)
        .unwrap_or_else(|| panic!("no family {family} in {:?}", scrape.families.keys()));
    let matching: Vec<_> = family
        .iter_samples()
        .filter(|sample| {
            let set = sample.get_labelset().expect("a label set");
            labels
                .iter()
                .all(|(key, value)| set.get_label_value(key) == Some(*value))
        })
        .map(|sample| &sample.value)
        .collect();
    assert!(matching.len() <= 1, "{labels:?}: {matching:?}");
    matching.first().copied()
}

/// The number of a counter or gauge sample, 0 if there is none.
fn value(scrape: &Scrape, family: &str, labels: &[(&str, &str)]) -> f64 {
    match sample(scrape, family, labels) {
        None => 0.0,
        Some(OpenMetricsValue::Counter(counter)) => counter.value.as_f64(),
        Some(OpenMetricsValue::Gauge(number)) => number.as_f64(),
        Some(other) => panic!("{family}: not a number: {other:?}"),
    }
}

/// The latency histogram of `route`.
fn histogram<'s>(scrape: &'s Scrape, route: &str) -> &'s HistogramValue {
    match sample(
        scrape,
        "carafe_http_request_duration_seconds",
        &[("route", route)],
    ) {
        Some(OpenMetricsValue::Histogram(histogram)) => histogram,
        other => panic!("no histogram for {route}: {other:?}"),
    }
}

/// The count of the bucket whose upper bound is `bound`.
fn bucket(histogram: &HistogramValue, bound: f64) -> f64 {
    histogram
        .buckets
        .iter()
        .find(|bucket| bucket.upper_bound == bound)
        .unwrap_or_else(|| panic!("no bucket {bound}: {histogram:?}"))
        .count
        .as_f64()
}

/// Scrapes until `check` holds of a scrape, or fails with the last one.
fn scrape_until(served: &Served, what: &str, check: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + WAIT;
    loop {
        let scrape = scrape(served);
        if check(&scrape) {
            return scrape;
        }
        assert!(
            Instant::now() < deadline,
            "never {what}: {:?}",
            scrape.families
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn requests(scrape: &Scrape, route: &str, method: &str, status: &str) -> f64 {
    value(
        scrape,
        "carafe_http_requests",
        &[("route", route), ("method", method), ("status", status)],
    )
}

fn app() -> App {
    try_app().expect("the test app's routes register")
}

fn try_app() -> Result<App, carafe::RouteError> {
    let mut app = App::new();
    app.config.workers = 2;
    route!(app, GET "/plain" => |_req| "plain")?;
    route!(app, [GET, POST] "/user/{id}" => |req: &Request| {
        req.param("id").unwrap_or_default().to_owned()
    })?;
    route!(app, GET "/fail" => |_req| (StatusCode::INTERNAL_SERVER_ERROR, "no"))?;
    route!(app, GET "/slow" => |req: &Request| {
        let ms: u64 = req.query_as("ms").ok().flatten().unwrap_or(0);
        std::thread::sleep(Duration::from_millis(ms));
        "slept"
    }, blocking)?;
    route!(app, GET "/ws" => |_req| WebSocket::new(|ws: &WsSender, message: Message| {
        let _ = ws.send(message);
    }), websocket)?;
    app.metrics("/metrics")?;
    Ok(app)
}

#[test]
fn requests_are_counted_by_route_pattern_method_and_status_class_with_a_histogram_each() {
    let served = Served::app(app());
    for id in 1..=3 {
        assert_eq!(curl(&[&served.url(&format!("/user/{id}"))]).status, 200);
    }
    assert_eq!(
        curl(&["-X", "POST", "-d", "x", &served.url("/user/9")]).status,
        200
    );
    assert_eq!(curl(&[&served.url("/plain")]).status, 200);
    assert_eq!(curl(&["-I", &served.url("/plain")]).status, 200);
    assert_eq!(curl(&[&served.url("/fail")]).status, 500);
    assert_eq!(curl(&[&served.url("/nowhere/at/all")]).status, 404);
    assert_eq!(curl(&["-X", "DELETE", &served.url("/plain")]).status, 405);
    // A method no one registers, twice: one bounded label.
    assert_eq!(curl(&["-X", "BREW", &served.url("/plain")]).status, 405);
    assert_eq!(curl(&["-X", "FROB", &served.url("/x")]).status, 404);
    // Pipelined on one connection: three more, and the raw paths never become labels.
    let mut stream = TcpStream::connect(served.addr()).unwrap();
    stream
        .write_all(
            b"GET /user/a HTTP/1.1\r\nHost: x\r\n\r\nGET /user/b HTTP/1.1\r\nHost: x\r\n\r\n\
              GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut answers = Vec::new();
    stream.read_to_end(&mut answers).unwrap();

    let scrape = scrape(&served);
    assert_eq!(requests(&scrape, "/user/{id}", "GET", "2xx"), 5.0);
    assert_eq!(requests(&scrape, "/user/{id}", "POST", "2xx"), 1.0);
    assert_eq!(requests(&scrape, "/plain", "GET", "2xx"), 2.0);
    assert_eq!(requests(&scrape, "/plain", "HEAD", "2xx"), 1.0);
    assert_eq!(requests(&scrape, "/fail", "GET", "5xx"), 1.0);
    assert_eq!(requests(&scrape, "<unmatched>", "GET", "4xx"), 1.0);
    assert_eq!(requests(&scrape, "<unmatched>", "DELETE", "4xx"), 1.0);
    assert_eq!(requests(&scrape, "<unmatched>", "OTHER", "4xx"), 2.0);
    let routes: Vec<String> = scrape.families["carafe_http_requests"]
        .iter_samples()
        .filter_map(|sample| {
            let set = sample.get_labelset().ok()?;
            set.get_label_value("route").map(str::to_owned)
        })
        .collect();
    assert!(
        routes.iter().all(
            |route| ["/user/{id}", "/plain", "/fail", "<unmatched>", "/metrics"]
                .contains(&route.as_str())
        ),
        "a raw path became a label: {routes:?}"
    );

    // The histogram of /user/{id}: 6 requests, all under 10 s, buckets cumulative.
    let users = histogram(&scrape, "/user/{id}");
    assert_eq!(users.buckets.len(), 17, "16 bounds and +Inf: {users:?}");
    let counts: Vec<f64> = users.buckets.iter().map(|b| b.count.as_f64()).collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert_eq!(bucket(users, f64::INFINITY), 6.0);
    assert_eq!(bucket(users, 10.0), 6.0);
    assert_eq!(users.count, Some(6));
    let sum = users.sum.expect("a sum").as_f64();
    assert!(sum > 0.0 && sum < 6.0 * 10.0, "sum {sum}");

    // Connections: 11 curl runs and the raw one; bytes both ways.
    assert!(value(&scrape, "carafe_connections", &[]) >= 12.0);
    let received = value(&scrape, "carafe_received_bytes", &[]);
    let sent = value(&scrape, "carafe_sent_bytes", &[]);
    assert!(
        received > 500.0 && sent > 1000.0,
        "in {received}, out {sent}"
    );
    assert!(sent >= answers.len() as f64);
    served.shutdown();
}

#[test]
fn the_latency_of_a_slow_request_lands_in_its_bucket() {
    let served = Served::app(app());
    assert_eq!(curl(&[&served.url("/slow?ms=300")]).status, 200);
    let scrape = scrape(&served);
    let slow = histogram(&scrape, "/slow");
    assert_eq!(
        bucket(slow, 0.25),
        0.0,
        "300 ms is not under 250 ms: {slow:?}"
    );
    assert_eq!(bucket(slow, 0.5), 1.0, "300 ms is under 500 ms: {slow:?}");
    served.shutdown();
}

#[test]
fn a_request_is_measured_from_when_the_loop_could_turn_to_it() {
    let mut app = app();
    // On the event loop: the request pipelined behind it waits for it.
    route!(app, GET "/nap" => |_req| {
        std::thread::sleep(Duration::from_millis(300));
        "rested"
    })
    .unwrap();
    let served = Served::app(app);
    let mut stream = TcpStream::connect(served.addr()).unwrap();
    stream
        .write_all(
            b"GET /nap HTTP/1.1\r\nHost: x\r\n\r\n\
              GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut answers = String::new();
    stream.read_to_string(&mut answers).unwrap();
    assert_eq!(answers.matches("HTTP/1.1 200 OK").count(), 2, "{answers}");
    // After a quiet spell, a request's time starts when the loop wakes for it.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(curl(&[&served.url("/plain")]).status, 200);
    let scrape = scrape(&served);
    let nap = histogram(&scrape, "/nap");
    assert_eq!(
        bucket(nap, 0.25),
        0.0,
        "300 ms is not under 250 ms: {nap:?}"
    );
    assert_eq!(bucket(nap, 0.5), 1.0, "{nap:?}");
    // Neither /plain counts the nap before it, nor the quiet spell.
    let plain = histogram(&scrape, "/plain");
    assert_eq!(bucket(plain, 0.25), 2.0, "{plain:?}");
    served.shutdown();
}

#[test]
fn a_refused_websocket_handshake_is_counted_on_its_route() {
    let served = Served::app(app());
    let refused = curl(&[&served.url("/ws")]);
    assert!(refused.status / 100 == 4, "{refused}");
    let scrape = scrape(&served);
    assert_eq!(requests(&scrape, "/ws", "GET", "4xx"), 1.0);
    served.shutdown();
}

#[test]
fn open_connections_rise_and_fall() {
    let served = Served::app(app());
    let baseline = scrape(&served);
    assert_eq!(
        value(&baseline, "carafe_connections_open", &[]),
        1.0,
        "the scrape's own"
    );
    let held: Vec<TcpStream> = (0..5)
        .map(|_| TcpStream::connect(served.addr()).unwrap())
        .collect();
    scrape_until(&served, "6 connections open", |s| {
        value(s, "carafe_connections_open", &[]) == 6.0
    });
    drop(held);
    scrape_until(&served, "back to the scrape's own", |s| {
        value(s, "carafe_connections_open", &[]) == 1.0
    });
    served.shutdown();
}

#[test]
fn the_blocking_pool_shows_its_jobs_queue_and_refusals() {
    let mut app = app();
    app.config.blocking_threads = 1;
    app.config.blocking_queue = 1;
    let served = Served::app(app);
    // One request runs, one waits: the pool and its queue are full. The two
    // connections may land on different workers, so either may reach the
    // pool first: both sleep long enough to overlap whichever order it is.
    let mut running = TcpStream::connect(served.addr()).unwrap();
    running
        .write_all(b"GET /slow?ms=1500 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut queued = TcpStream::connect(served.addr()).unwrap();
    queued
        .write_all(b"GET /slow?ms=1500 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let full = scrape_until(&served, "two blocking jobs", |s| {
        value(s, "carafe_blocking_jobs", &[]) == 2.0
    });
    assert_eq!(value(&full, "carafe_blocking_queue_depth", &[]), 1.0);
    assert_eq!(value(&full, "carafe_blocking_refused", &[]), 0.0);
    // The third is refused.
    let refused = curl(&[&served.url("/slow?ms=0")]);
    assert_eq!(refused.status, 503, "{refused}");
    let after = scrape(&served);
    assert_eq!(value(&after, "carafe_blocking_refused", &[]), 1.0);
    for mut stream in [running, queued] {
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let done = scrape_until(&served, "an empty pool", |s| {
        value(s, "carafe_blocking_jobs", &[]) == 0.0
    });
    // Both were counted on the pool's thread, with their time in the queue.
    assert_eq!(requests(&done, "/slow", "GET", "2xx"), 2.0);
    served.shutdown();
}

#[test]
fn live_connections_are_counted_while_open() {
    let served = Served::app(app());
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let stream = TcpStream::connect(served.addr()).unwrap();
            stream.set_read_timeout(Some(WAIT)).unwrap();
            let url = format!("ws://{}/ws", served.addr());
            let (mut client, response) = tungstenite::client(url.as_str(), stream).unwrap();
            assert_eq!(response.status(), 101);
            client.send(tungstenite::Message::text("hi")).unwrap();
            assert_eq!(client.read().unwrap(), tungstenite::Message::text("hi"));
            client
        })
        .collect();
    let open = scrape_until(&served, "3 live connections", |s| {
        value(s, "carafe_live_connections_open", &[]) == 3.0
    });
    assert_eq!(requests(&open, "/ws", "GET", "1xx"), 3.0, "the 101s");
    for mut client in clients {
        client.close(None).unwrap();
        // Read until the server's close comes back and the connection ends.
        while client.read().is_ok() {}
    }
    scrape_until(&served, "no live connection", |s| {
        value(s, "carafe_live_connections_open", &[]) == 0.0
    });
    served.shutdown();
}

#[test]
fn the_status_counted_is_the_one_sent_after_the_after_hooks() {
    let mut app = app();
    app.after(|req: &Request, response: &mut Response| {
        if req.path() == "/plain" {
            response.set_status(StatusCode::SERVICE_UNAVAILABLE);
        }
    });
    let served = Served::app(app);
    assert_eq!(curl(&[&served.url("/plain")]).status, 503);
    let scrape = scrape(&served);
    assert_eq!(requests(&scrape, "/plain", "GET", "5xx"), 1.0);
    assert_eq!(requests(&scrape, "/plain", "GET", "2xx"), 0.0);
    served.shutdown();
}
