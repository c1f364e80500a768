//! Faults under load: a panicking handler among concurrent clients, and a thousand
//! concurrent connections.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use carafe::route;
use carafe_e2e::{Served, statuses};

#[test]
fn a_panic_under_concurrent_load_costs_exactly_that_request() {
    let served = Served::example_app_with(|app| {
        route!(app, GET "/panic" => |_req| -> &'static str { panic!("deliberate test panic") })
            .unwrap();
    });
    let addr = served.addr();
    let clients: Vec<_> = (0..8)
        .map(|client| {
            thread::spawn(move || {
                // 40 pipelined requests per client on one keep-alive connection: every
                // fourth one panics.
                let mut batch = String::new();
                for n in 0..40 {
                    let path = if n % 4 == 0 {
                        "/panic".to_owned()
                    } else {
                        format!("/hello/c{client}n{n}")
                    };
                    batch.push_str(&format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"));
                }
                batch.push_str("GET /hello/done HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                carafe_e2e::raw_exchange(addr, batch.as_bytes(), Duration::from_secs(10))
            })
        })
        .collect();
    for client in clients {
        let received = client.join().unwrap();
        let codes = statuses(&received);
        let expected: Vec<u16> = (0..40)
            .map(|n| if n % 4 == 0 { 500 } else { 200 })
            .chain([200])
            .collect();
        assert_eq!(codes, expected, "{}", String::from_utf8_lossy(&received));
    }
}

#[test]
fn a_thousand_concurrent_connections_are_all_answered() {
    let served = Served::example_app_with(|app| app.config.workers = 2);
    let mut streams: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(served.addr()).expect("connect"))
        .collect();
    // Every connection is open before any is answered.
    for (n, stream) in streams.iter_mut().enumerate() {
        stream
            .write_all(
                format!("GET /hello/c{n} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .unwrap();
    }
    for (n, stream) in streams.iter_mut().enumerate() {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut received = Vec::new();
        stream.read_to_end(&mut received).expect("a response");
        let text = String::from_utf8_lossy(&received);
        assert!(
            text.starts_with("HTTP/1.1 200 ") && text.contains(&format!("Hello, c{n}!")),
            "connection {n}: {text}"
        );
    }
}
