//! A WebSocket connection once upgraded: the connection's [`Tunnel`], driving tungstenite's
//! protocol over the connection's buffers. What the client sends is read into it; each
//! complete message goes up to the app ([`WsEvents::on_message`], on the event loop); what
//! the app sends, from a callback or from any thread, waits in the connection's
//! [`Outbox`] and is written on the loop, as far as the client keeps up.
//!
//! Faults close the connection with the code RFC 6455 gives: a protocol violation (an
//! unmasked frame, reserved bits, an unknown opcode, a fragmented or oversized control
//! frame) 1002, text that is not UTF-8 1007, a message over the limit 1009, a client too
//! slow for its queue 1008. A quiet connection is pinged; one that does not answer, or does
//! not answer a close, is dropped after the same interval.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::Arc;

use tungstenite::error::Error as WsError;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{Role, WebSocketConfig, WebSocketContext};

use super::Message;
use crate::h1::outbox::Outbox;
use crate::h1::tunnel::{LiveLimits, Offload, Tunnel, Wake};

/// The layer above, as a WebSocket sees it: the app's callbacks, run on the event loop.
pub(crate) trait WsEvents: Send {
    /// The connection is open (its `101` went out).
    fn on_open(&mut self);
    /// A whole message arrived.
    fn on_message(&mut self, message: Message);
    /// The connection closed: the code and reason of the close (1006 when none came).
    fn on_close(&mut self, code: u16, reason: &str);
    /// From now on, run the callbacks on `pool` (in order), not on the loop.
    fn offload(&mut self, pool: Arc<dyn Offload>);
}

/// What a connection's handles push.
#[derive(Debug)]
pub(crate) enum Push {
    Message(Message),
    Close(u16, String),
}

/// Where a WebSocket connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    /// Our close frame is out; the client's is awaited (for at most one ping interval).
    Closing,
    Done,
}

/// One upgraded connection.
pub(crate) struct WsTunnel {
    socket: WebSocketContext,
    events: Box<dyn WsEvents>,
    outbox: Arc<Outbox<Push>>,
    phase: Phase,
    /// A ping went out and no frame has come since.
    awaiting_pong: bool,
    /// `on_close` was called.
    reported: bool,
    /// Output held past which pushed messages wait for the client to read.
    max_output: usize,
}

impl std::fmt::Debug for WsTunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsTunnel")
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

/// The connection's buffers as the stream tungstenite reads and writes: reading takes from
/// what arrived and then would block; writing appends to the output.
struct Wire<'a> {
    input: &'a [u8],
    read: usize,
    out: &'a mut Vec<u8>,
}

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = &self.input[self.read..];
        if rest.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.read += n;
        Ok(n)
    }
}

impl Write for Wire<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl WsTunnel {
    pub(crate) fn new(
        events: Box<dyn WsEvents>,
        outbox: Arc<Outbox<Push>>,
        limits: &LiveLimits,
    ) -> Self {
        Self {
            socket: WebSocketContext::new(Role::Server, Some(config(limits))),
            events,
            outbox,
            phase: Phase::Open,
            awaiting_pong: false,
            reported: false,
            max_output: limits.max_output,
        }
    }

    /// Reports the close to the app, once.
    fn report_close(&mut self, code: u16, reason: &str) {
        if !self.reported {
            self.reported = true;
            self.outbox.close();
            let _on_loop = self.outbox.on_loop();
            self.events.on_close(code, reason);
        }
    }

    /// Hands a message to the app, then writes what it sent in reply.
    fn deliver(&mut self, message: Message, wire: &mut Wire<'_>) {
        {
            let _on_loop = self.outbox.on_loop();
            self.events.on_message(message);
        }
        self.drain(wire);
    }

    /// Writes what handles pushed, while the client keeps up; the rest waits.
    fn drain(&mut self, wire: &mut Wire<'_>) {
        if self.phase != Phase::Open {
            return;
        }
        let (mut pushed, overflowed) = self.outbox.drain();
        if overflowed {
            self.close_with(1008, "the client fell too far behind", wire);
            return;
        }
        while wire.out.len() < self.max_output {
            let Some(push) = pushed.pop_front() else {
                break;
            };
            let sent = match push {
                Push::Message(Message::Text(text)) => {
                    self.socket.write(wire, tungstenite::Message::text(text))
                }
                Push::Message(Message::Binary(bytes)) => {
                    self.socket.write(wire, tungstenite::Message::binary(bytes))
                }
                Push::Close(code, reason) => {
                    self.close_with(code, &reason, wire);
                    return;
                }
            };
            if let Err(error) = sent {
                self.fail(error, wire);
                return;
            }
        }
        self.outbox.put_back(pushed);
        self.flush(wire);
    }

    /// Starts the close handshake with `code`.
    fn close_with(&mut self, code: u16, reason: &str, wire: &mut Wire<'_>) {
        if self.phase != Phase::Open {
            return;
        }
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_owned().into(),
        };
        let _ = self.socket.close(wire, Some(frame));
        self.flush(wire);
        self.phase = Phase::Closing;
        self.report_close(code, reason);
        self.outbox.put_back(VecDeque::new());
    }

    /// A fault: the close frame with its code, and the connection ends without waiting.
    fn fail(&mut self, error: WsError, wire: &mut Wire<'_>) {
        let (code, reason) = match &error {
            WsError::Protocol(_) => (1002, "protocol error"),
            WsError::Utf8(_) => (1007, "invalid UTF-8"),
            WsError::Capacity(_) => (1009, "message too big"),
            _ => (1011, "server error"),
        };
        log::debug!("WebSocket closed: {error} ({code})");
        if self.phase == Phase::Open {
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            };
            let _ = self.socket.close(wire, Some(frame));
            self.flush(wire);
        }
        self.phase = Phase::Done;
        self.report_close(code, reason);
    }

    fn flush(&mut self, wire: &mut Wire<'_>) {
        match self.socket.flush(wire) {
            Ok(()) => {}
            // After the close handshake the server closes the connection (RFC 6455 §7.1.1).
            Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => self.phase = Phase::Done,
            Err(_) => self.phase = Phase::Done,
        }
    }
}

/// tungstenite's settings: the app's message limit, and no buffers of its own beyond what a
/// frame needs (the connection's buffers are the real ones), so an idle WebSocket is small.
fn config(limits: &LiveLimits) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(0)
        .write_buffer_size(0)
        .max_message_size(Some(limits.max_message))
        .max_frame_size(Some(limits.max_message))
}

impl Tunnel for WsTunnel {
    fn handle_read(&mut self, input: &[u8], out: &mut Vec<u8>) -> usize {
        let mut wire = Wire {
            input,
            read: 0,
            out,
        };
        while self.phase != Phase::Done {
            match self.socket.read(&mut wire) {
                Ok(tungstenite::Message::Text(text)) => {
                    self.awaiting_pong = false;
                    self.deliver(Message::Text(text.as_str().to_owned()), &mut wire);
                }
                Ok(tungstenite::Message::Binary(bytes)) => {
                    self.awaiting_pong = false;
                    self.deliver(Message::Binary(bytes.to_vec()), &mut wire);
                }
                // tungstenite answers pings itself (flushed below).
                Ok(tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_)) => {
                    self.awaiting_pong = false;
                }
                Ok(tungstenite::Message::Close(frame)) => {
                    let (code, reason) = frame.map_or((1005, String::new()), |frame| {
                        (u16::from(frame.code), frame.reason.as_str().to_owned())
                    });
                    self.report_close(code, &reason);
                    // Its reply close frame is queued; once written, the server closes.
                    self.flush(&mut wire);
                    self.phase = Phase::Done;
                }
                Ok(tungstenite::Message::Frame(_)) => {}
                Err(WsError::Io(error)) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => {
                    self.phase = Phase::Done;
                }
                Err(error) => self.fail(error, &mut wire),
            }
        }
        if self.phase != Phase::Done {
            // Pongs tungstenite queued, while reading, for the pings it read.
            self.flush(&mut wire);
        }
        // tungstenite keeps what it read in its own buffer: everything was taken.
        input.len()
    }

    fn handle_eof(&mut self, _out: &mut Vec<u8>) {
        self.phase = Phase::Done;
        self.report_close(1006, "");
    }

    fn handle_push(&mut self, out: &mut Vec<u8>) {
        let mut wire = Wire {
            input: &[],
            read: 0,
            out,
        };
        self.drain(&mut wire);
    }

    fn handle_timeout(&mut self, out: &mut Vec<u8>) {
        let mut wire = Wire {
            input: &[],
            read: 0,
            out,
        };
        match self.phase {
            Phase::Open if self.awaiting_pong => {
                log::debug!("WebSocket closed: no pong within the ping interval");
                self.phase = Phase::Done;
                self.report_close(1006, "");
            }
            Phase::Open => {
                if self
                    .socket
                    .write(&mut wire, tungstenite::Message::Ping(Default::default()))
                    .is_ok()
                {
                    self.flush(&mut wire);
                }
                self.awaiting_pong = true;
            }
            // The client did not answer our close in time.
            Phase::Closing | Phase::Done => self.phase = Phase::Done,
        }
    }

    fn handle_shutdown(&mut self, out: &mut Vec<u8>) {
        let mut wire = Wire {
            input: &[],
            read: 0,
            out,
        };
        self.close_with(1001, "the server is shutting down", &mut wire);
    }

    fn attach(&mut self, wake: Arc<dyn Wake>) {
        self.outbox.set_wake(wake);
    }

    fn offload(&mut self, pool: Arc<dyn Offload>) {
        self.events.offload(pool);
    }

    fn configure(&mut self, limits: &LiveLimits) {
        self.socket
            .set_config(|config| *config = self::config(limits));
        self.max_output = limits.max_output;
        self.outbox.set_limit(limits.max_queue);
    }

    fn begin(&mut self, _chunked: bool) {
        let _on_loop = self.outbox.on_loop();
        self.events.on_open();
    }

    fn wants_timer(&self) -> bool {
        self.phase != Phase::Done
    }

    fn wants_read(&self) -> bool {
        self.phase != Phase::Done
    }

    fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }
}

impl Drop for WsTunnel {
    fn drop(&mut self) {
        // However the connection ended (a reset, the server stopping), the app and the
        // handles learn it.
        self.report_close(1006, "");
        self.outbox.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::outbox::Overflow;
    use proptest::prelude::*;
    use std::sync::Mutex;

    const LIMITS: LiveLimits = LiveLimits {
        max_queue: 64,
        max_output: 1 << 20,
        max_message: 64 * 1024,
    };

    /// Records what the app would see, and echoes each message through the outbox.
    struct Recorder {
        seen: Arc<Mutex<Vec<String>>>,
        outbox: Arc<Outbox<Push>>,
    }

    impl WsEvents for Recorder {
        fn on_open(&mut self) {
            self.seen.lock().unwrap().push("open".into());
        }
        fn on_message(&mut self, message: Message) {
            let seen = match &message {
                Message::Text(text) => format!("text {text}"),
                Message::Binary(bytes) => format!("binary {bytes:?}"),
            };
            self.seen.lock().unwrap().push(seen);
            let _ = self.outbox.push(Push::Message(message));
        }
        fn on_close(&mut self, code: u16, _reason: &str) {
            self.seen.lock().unwrap().push(format!("close {code}"));
        }
        fn offload(&mut self, _pool: Arc<dyn Offload>) {}
    }

    fn tunnel() -> (WsTunnel, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let outbox = Outbox::new(LIMITS.max_queue, Overflow::Close);
        let events = Recorder {
            seen: Arc::clone(&seen),
            outbox: Arc::clone(&outbox),
        };
        let mut tunnel = WsTunnel::new(Box::new(events), outbox, &LIMITS);
        tunnel.begin(false);
        (tunnel, seen)
    }

    /// What a client sends for `messages`, masked, as tungstenite's client writes it.
    fn client_bytes(messages: &[tungstenite::Message]) -> Vec<u8> {
        let mut client = WebSocketContext::new(Role::Client, None);
        let mut out = Vec::new();
        let mut wire = Wire {
            input: &[],
            read: 0,
            out: &mut out,
        };
        for message in messages {
            client.write(&mut wire, message.clone()).unwrap();
        }
        client.flush(&mut wire).unwrap();
        out
    }

    /// Feeds `bytes` in pieces ending at `splits`; what the app saw, and what was written.
    fn feed(bytes: &[u8], splits: &[usize]) -> (Vec<String>, Vec<u8>) {
        let (mut tunnel, seen) = tunnel();
        let mut out = Vec::new();
        let mut start = 0;
        for &end in splits.iter().chain(std::iter::once(&bytes.len())) {
            let taken = tunnel.handle_read(&bytes[start..end], &mut out);
            assert_eq!(taken, end - start, "everything is taken");
            start = end;
        }
        let seen = seen.lock().unwrap().clone();
        (seen, out)
    }

    fn message() -> impl Strategy<Value = tungstenite::Message> {
        prop_oneof![
            ".{0,40}".prop_map(tungstenite::Message::text),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(tungstenite::Message::binary),
            proptest::collection::vec(any::<u8>(), 0..50)
                .prop_map(|bytes| tungstenite::Message::Ping(bytes.into())),
        ]
    }

    #[test]
    fn every_split_of_a_conversation_gives_the_same_messages_and_answers() {
        let bytes = client_bytes(&[
            tungstenite::Message::text("héllo"),
            tungstenite::Message::binary(vec![0, 1, 2, 255]),
            tungstenite::Message::Ping(b"p".to_vec().into()),
            tungstenite::Message::text("x".repeat(300)),
        ]);
        let whole = feed(&bytes, &[]);
        assert_eq!(
            whole.0[..3],
            ["open", "text héllo", "binary [0, 1, 2, 255]"]
        );
        for split in 1..bytes.len() {
            assert_eq!(feed(&bytes, &[split]), whole, "split at {split}");
        }
    }

    proptest! {
        // The property tests' fixed seed: CI sees the same cases on every run.
        #![proptest_config(crate::proptests::config(200))]

        /// Valid messages round-trip (echoed as they came) however the bytes are split.
        #[test]
        fn valid_messages_round_trip_at_any_split(
            messages in proptest::collection::vec(message(), 1..6),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
        ) {
            let bytes = client_bytes(&messages);
            let mut splits: Vec<usize> = cuts.iter().map(|cut| cut.index(bytes.len() + 1)).collect();
            splits.sort_unstable();
            let (seen, out) = feed(&bytes, &splits);
            let data: Vec<_> = messages.iter().filter(|m| m.is_text() || m.is_binary()).collect();
            prop_assert_eq!(seen.len(), 1 + data.len());
            // The echoes, read back as a client reads them.
            let mut client = WebSocketContext::new(Role::Client, None);
            let mut sink = Vec::new();
            let mut wire = Wire { input: &out, read: 0, out: &mut sink };
            let mut echoed = Vec::new();
            while let Ok(message) = client.read(&mut wire) {
                if message.is_text() || message.is_binary() {
                    echoed.push(message);
                }
            }
            prop_assert_eq!(echoed.iter().collect::<Vec<_>>(), data);
        }

        /// Whatever a client sends, the tunnel never panics, and stops on garbage.
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let (mut tunnel, _) = tunnel();
            let mut out = Vec::new();
            for chunk in bytes.chunks(7) {
                tunnel.handle_read(chunk, &mut out);
            }
            tunnel.handle_timeout(&mut out);
            tunnel.handle_eof(&mut out);
            prop_assert!(tunnel.is_done());
        }
    }
}
