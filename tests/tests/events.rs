//! Server-sent events over a real socket: curl -N reads a stream as it is written, a stream
//! survives many events and ends cleanly, a client that leaves is noticed by its sender, and a
//! graceful shutdown ends open streams.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use carafe::{App, Event, EventSender, Request, Response, route};
use carafe_e2e::{Served, curl};

/// Streams whose handlers keep their sender here, for the test to push through.
#[derive(Default)]
struct Senders(Mutex<Vec<EventSender>>);

fn app(senders: Arc<Senders>) -> App {
    let mut app = App::new();
    app.config.workers = 1;
    app.config.live_ping_interval = Duration::from_millis(200);
    route!(app, GET "/count" => |req| {
        let n: u32 = req.query_as("n").ok().flatten().unwrap_or(3);
        let (response, sender) = Response::events();
        // Another thread feeds it, as a real source of events would.
        std::thread::spawn(move || {
            for i in 0..n {
                if sender.send(Event::new(format!("event {i}")).id(i.to_string())).is_err() {
                    return;
                }
            }
            // Dropping the last sender ends the stream.
        });
        response
    })
    .unwrap();
    route!(app, GET "/held" => move |req: &Request| {
        let (response, sender) = Response::events();
        let greeting = format!("last id {}", req.last_event_id().unwrap_or("none"));
        sender.send(Event::new(greeting)).unwrap();
        senders.0.lock().unwrap().push(sender);
        response
    })
    .unwrap();
    app
}

#[test]
fn curl_reads_a_thousand_events_and_the_stream_ends_cleanly() {
    let served = Served::app(app(Arc::default()));
    let output = curl(&["-sN", &served.url("/count?n=1000")]);
    assert_eq!(output.status, 200);
    assert_eq!(output.header("content-type"), Some("text/event-stream"));
    assert_eq!(output.header("transfer-encoding"), Some("chunked"));
    let body = output.text();
    assert_eq!(
        body.matches("\ndata: event ").count() + usize::from(body.starts_with("data: event ")),
        1000
    );
    assert!(
        body.contains("id: 999\ndata: event 999\n\n"),
        "{}",
        &body[body.len().saturating_sub(200)..]
    );
    assert!(
        body.starts_with("id: 0\ndata: event 0\n\n"),
        "{}",
        &body[..100]
    );
}

#[test]
fn a_client_that_leaves_is_noticed_heartbeats_keep_it_open_and_shutdown_ends_streams() {
    let senders = Arc::new(Senders::default());
    let served = Served::app(app(Arc::clone(&senders)));
    let mut stream = TcpStream::connect(served.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /held HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 41\r\n\r\n")
        .unwrap();
    let mut received = Vec::new();
    let read_until = |stream: &mut TcpStream, received: &mut Vec<u8>, needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buffer = [0u8; 4096];
        while !String::from_utf8_lossy(received).contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in {:?}",
                String::from_utf8_lossy(received)
            );
            let n = stream.read(&mut buffer).unwrap();
            assert!(n > 0, "closed before {needle:?}");
            received.extend_from_slice(&buffer[..n]);
        }
    };
    read_until(&mut stream, &mut received, "data: last id 41\n\n");
    // Quiet for the ping interval: a heartbeat comment.
    read_until(&mut stream, &mut received, "\r\n:\n\n\r\n");
    let sender = senders.0.lock().unwrap()[0].clone();
    sender
        .send(Event::new("pushed from the test").event("news"))
        .unwrap();
    read_until(
        &mut stream,
        &mut received,
        "event: news\ndata: pushed from the test\n\n",
    );

    // A second client, then the server stops: the open stream ends with its last chunk.
    let mut second = TcpStream::connect(served.addr()).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    second
        .write_all(b"GET /held HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut second_received = Vec::new();
    read_until(&mut second, &mut second_received, "data: last id none\n\n");

    // The first client leaves: its sender learns it on its next sends.
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(5);
    while sender.send(Event::new("anyone?")).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the sender never learnt the client left"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(sender.is_closed());

    let stopped = Instant::now();
    served.shutdown();
    assert!(
        stopped.elapsed() < Duration::from_secs(5),
        "shutdown waited for the stream"
    );
    let mut rest = Vec::new();
    let _ = second.read_to_end(&mut rest);
    second_received.extend_from_slice(&rest);
    assert!(
        String::from_utf8_lossy(&second_received).ends_with("0\r\n\r\n"),
        "{:?}",
        String::from_utf8_lossy(&second_received)
    );
}
