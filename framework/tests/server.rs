//! The embedding API on real sockets: bind port 0, read the address, serve on a thread, stop
//! from another thread; and who may share a port.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use carafe::{App, Error, route};

fn app(workers: usize) -> App {
    let mut app = App::new();
    app.config.workers = workers;
    route!(app, GET "/" => |_req| "up").unwrap();
    app
}

fn get(addr: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn bind_port_zero_run_on_a_thread_and_stop_from_another() {
    let server = app(1).bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0, "the real port is known before serving");
    let handle = server.handle();
    let thread = std::thread::spawn(move || server.run());
    assert!(get(addr).ends_with("\r\n\r\nup"));
    handle.shutdown();
    thread.join().unwrap().unwrap();
    assert!(
        TcpStream::connect(addr).is_err(),
        "stopped servers release their port"
    );
}

#[test]
fn dropping_a_running_server_stops_it() {
    let server = app(2).spawn("127.0.0.1:0").unwrap();
    let addr = server.addr();
    assert!(get(addr).ends_with("up"));
    drop(server);
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn a_taken_port_is_an_error_unless_both_servers_share_it() {
    for workers in [1, 2] {
        let first = app(workers).spawn("127.0.0.1:0").unwrap();
        let second = app(workers).bind(first.addr());
        assert!(
            matches!(&second, Err(Error::Bind { source, .. }) if source.kind() == std::io::ErrorKind::AddrInUse),
            "{workers} worker(s): {:?}",
            second.err()
        );
    }
    // Both opt in to sharing (a rolling restart): the second binds next to the first.
    let mut sharing = app(1);
    sharing.config.reuse_port = true;
    let first = sharing.spawn("127.0.0.1:0").unwrap();
    let mut successor = app(1);
    successor.config.reuse_port = true;
    let second = successor.spawn(first.addr()).unwrap();
    drop(first);
    assert!(
        get(second.addr()).ends_with("up"),
        "the successor serves once the first is gone"
    );
}
