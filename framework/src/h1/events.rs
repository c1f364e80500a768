//! Server-sent events on the wire: the tunnel of a `text/event-stream` response. Events are
//! pushed (already formatted as `event:`/`data:`/`id:` lines) through its
//! [`Outbox`](super::outbox::Outbox) by any thread, and written as they arrive: each as a
//! chunk of the chunked body (HTTP/1.1), or as plain bytes to an HTTP/1.0 client, whose
//! stream ends when the connection does. A comment line is sent when the stream has been
//! quiet for the ping interval, so that proxies and clients keep it open.

use std::sync::Arc;

use super::encode::chunk_header;
use super::outbox::Outbox;
use super::tunnel::{LiveLimits, Tunnel, Wake};

/// What a stream's senders push.
#[derive(Debug)]
pub(crate) enum Item {
    /// One event, formatted, ending with its blank line.
    Event(String),
    /// The last sender is gone: the stream ends.
    End,
}

/// The tunnel of one event stream.
#[derive(Debug)]
pub(crate) struct EventTunnel {
    outbox: Arc<Outbox<Item>>,
    chunked: bool,
    done: bool,
    /// Output held past which queued events wait for the client to read.
    max_output: usize,
}

impl EventTunnel {
    pub(crate) fn new(outbox: Arc<Outbox<Item>>, max_output: usize) -> Self {
        Self {
            outbox,
            chunked: false,
            done: false,
            max_output,
        }
    }

    fn write(&self, bytes: &[u8], out: &mut Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        if self.chunked {
            out.extend_from_slice(&chunk_header(bytes.len()));
            out.extend_from_slice(bytes);
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(bytes);
        }
    }

    /// Ends the stream: the last chunk, and no more pushes.
    fn end(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if self.chunked {
            out.extend_from_slice(b"0\r\n\r\n");
        }
        self.done = true;
        self.outbox.close();
    }
}

impl Tunnel for EventTunnel {
    fn handle_read(&mut self, input: &[u8], _out: &mut Vec<u8>) -> usize {
        // A client of an event stream sends nothing after its request; whatever comes is
        // dropped, read only so that its close is seen.
        input.len()
    }

    fn handle_eof(&mut self, _out: &mut Vec<u8>) {
        // The client left: the stream is over, and the senders' next push says so.
        self.done = true;
        self.outbox.close();
    }

    fn handle_push(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        let (mut items, overflowed) = self.outbox.drain();
        if overflowed {
            log::debug!("event stream closed: its client fell too far behind");
            self.end(out);
            return;
        }
        while out.len() < self.max_output {
            match items.pop_front() {
                Some(Item::Event(event)) => self.write(event.as_bytes(), out),
                Some(Item::End) => {
                    self.end(out);
                    return;
                }
                None => break,
            }
        }
        // The rest waits for the client to read what is written.
        self.outbox.put_back(items);
    }

    fn handle_timeout(&mut self, out: &mut Vec<u8>) {
        if !self.done {
            self.write(b":\n\n", out);
        }
    }

    fn handle_shutdown(&mut self, out: &mut Vec<u8>) {
        self.end(out);
    }

    fn attach(&mut self, wake: Arc<dyn Wake>) {
        self.outbox.set_wake(wake);
    }

    fn begin(&mut self, chunked: bool) {
        self.chunked = chunked;
    }

    fn configure(&mut self, limits: &LiveLimits) {
        self.max_output = limits.max_output;
        self.outbox.set_limit(limits.max_queue);
    }

    fn wants_timer(&self) -> bool {
        !self.done
    }

    fn wants_read(&self) -> bool {
        !self.done
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

impl Drop for EventTunnel {
    fn drop(&mut self) {
        // However the connection ended, its senders learn it.
        self.outbox.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::outbox::Overflow;

    #[test]
    fn events_are_chunks_heartbeats_comments_and_the_end_the_last_chunk() {
        let outbox = Outbox::new(16, Overflow::Close);
        let mut tunnel = EventTunnel::new(Arc::clone(&outbox), 1 << 20);
        tunnel.begin(true);
        let mut out = Vec::new();
        outbox.push(Item::Event("data: a\n\n".into())).unwrap();
        tunnel.handle_push(&mut out);
        tunnel.handle_timeout(&mut out);
        outbox.push(Item::End).unwrap();
        tunnel.handle_push(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "00000009\r\ndata: a\n\n\r\n00000003\r\n:\n\n\r\n0\r\n\r\n"
        );
        assert!(tunnel.is_done());
        assert!(outbox.push(Item::End).is_err(), "senders learn it is over");
    }

    #[test]
    fn to_http_10_the_bytes_go_as_they_are_and_a_slow_client_holds_them_back() {
        let outbox = Outbox::new(16, Overflow::Close);
        let mut tunnel = EventTunnel::new(Arc::clone(&outbox), 10);
        tunnel.begin(false);
        for n in 0..3 {
            outbox.push(Item::Event(format!("data: {n}\n\n"))).unwrap();
        }
        let mut out = Vec::new();
        tunnel.handle_push(&mut out);
        assert_eq!(
            out, b"data: 0\n\ndata: 1\n\n",
            "stops once 10 bytes are held"
        );
        assert!(!outbox.is_empty(), "the rest waits");
        out.clear();
        tunnel.handle_push(&mut out);
        assert_eq!(out, b"data: 2\n\n");
    }
}
