//! WebSockets for handlers: a route marked `websocket` answers a valid opening handshake by
//! returning a [`WebSocket`], which carries the connection's [`WsHandler`]: callbacks run on
//! the event loop as messages arrive, holding whatever per-connection state they need. A
//! [`WsSender`] writes to the connection from there or from any other thread; a
//! [`Hub`](crate::Hub) groups senders into rooms.
//!
//! ```
//! use carafe::{route, App, Message, Request, WebSocket, WsSender};
//!
//! // Echoes every message back, text as text and binary as binary.
//! fn echo(_req: &Request) -> WebSocket {
//!     WebSocket::new(|ws: &WsSender, message: Message| {
//!         let _ = ws.send(message);
//!     })
//! }
//!
//! let mut app = App::new();
//! route!(app, GET "/ws/echo" => echo, websocket)?;
//! # Ok::<(), carafe::Error>(())
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::StatusCode;

use crate::h1::encode::{Body, ContentType, LiveBody};
use crate::h1::outbox::{Outbox, Overflow, PushError};
use crate::h1::tunnel::LiveLimits;
use crate::response::{IntoResponse, Response};
use crate::ws::Message;
use crate::ws::tunnel::{Push, WsEvents, WsTunnel};

/// Until the app's limits apply (when the connection goes live).
const DEFAULT_LIMITS: LiveLimits = LiveLimits {
    max_queue: 1024,
    max_output: 1024 * 1024,
    max_message: 1024 * 1024,
};

/// What a WebSocket connection does when things happen, run on its event loop: keep the
/// connection's state in `self`. Only [`on_message`](Self::on_message) is required; a
/// closure `FnMut(&WsSender, Message)` is one.
pub trait WsHandler: Send + 'static {
    /// The connection is open. `ws` sends to it (and may be kept, cloned, given to other
    /// threads or put in a room).
    fn on_open(&mut self, ws: &WsSender) {
        let _ = ws;
    }

    /// A message arrived.
    fn on_message(&mut self, ws: &WsSender, message: Message);

    /// The connection closed, with the close frame's code and reason (1006 when it ended
    /// without one: a reset, a timeout, the server stopping at once).
    fn on_close(&mut self, ws: &WsSender, code: u16, reason: &str) {
        let _ = (ws, code, reason);
    }
}

impl<F> WsHandler for F
where
    F: FnMut(&WsSender, Message) + Send + 'static,
{
    fn on_message(&mut self, ws: &WsSender, message: Message) {
        self(ws, message);
    }
}

/// The answer of a `websocket` route's handler that accepts the connection: `101 Switching
/// Protocols`, then the handler's callbacks. A handler that returns anything else (a 403 of
/// an auth check, say) refuses it with that answer.
pub struct WebSocket {
    handler: Box<dyn WsHandler>,
    overflow: Overflow,
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("overflow", &self.overflow)
            .finish_non_exhaustive()
    }
}

impl WebSocket {
    /// Accepts the connection, run by `handler`.
    pub fn new(handler: impl WsHandler) -> Self {
        Self {
            handler: Box::new(handler),
            overflow: Overflow::Close,
        }
    }

    /// What happens when the client reads more slowly than messages are sent to it and
    /// [`Config::max_live_queue`](crate::Config::max_live_queue) of them wait: by default
    /// the connection is closed (1008); [`Overflow::DropOldest`] drops the oldest instead.
    pub fn overflow(mut self, policy: Overflow) -> Self {
        self.overflow = policy;
        self
    }
}

impl IntoResponse for WebSocket {
    /// `101 Switching Protocols` with the connection's tunnel; the site adds the handshake's
    /// header fields, having checked the request.
    fn into_response(self) -> Response {
        let outbox = Outbox::new(DEFAULT_LIMITS.max_queue, self.overflow);
        let sender = WsSender {
            outbox: Arc::clone(&outbox),
            id: next_id(),
        };
        let events = Callbacks {
            handler: self.handler,
            sender,
        };
        let tunnel = WsTunnel::new(Box::new(events), outbox, &DEFAULT_LIMITS);
        let mut response = Response::with_type(
            ContentType::None,
            Body::Live(LiveBody {
                tunnel: Box::new(tunnel),
            }),
        );
        response.set_status(StatusCode::SWITCHING_PROTOCOLS);
        response
    }
}

/// Ids that tell connections apart.
fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The app's handler as the protocol floor sees it.
struct Callbacks {
    handler: Box<dyn WsHandler>,
    sender: WsSender,
}

impl WsEvents for Callbacks {
    fn on_open(&mut self) {
        self.handler.on_open(&self.sender);
    }

    fn on_message(&mut self, message: Message) {
        self.handler.on_message(&self.sender, message);
    }

    fn on_close(&mut self, code: u16, reason: &str) {
        self.handler.on_close(&self.sender, code, reason);
    }
}

/// Sends to one WebSocket connection, from its callbacks or from any thread; clones send to
/// the same connection. Sending only queues: the connection's event loop writes, as fast as
/// the client reads. Once the connection is gone, sends say so.
#[derive(Clone)]
pub struct WsSender {
    outbox: Arc<Outbox<Push>>,
    id: u64,
}

impl std::fmt::Debug for WsSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsSender").field("id", &self.id).finish()
    }
}

impl PartialEq for WsSender {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for WsSender {}

impl WsSender {
    /// Queues `message` (a `String` or `&str` is text, a `Vec<u8>` binary).
    pub fn send(&self, message: impl Into<Message>) -> Result<(), PushError> {
        self.outbox.push(Push::Message(message.into()))
    }

    /// Closes the connection with `code` (1000 is a normal close) and `reason`, after what
    /// was queued before.
    pub fn close(&self, code: u16, reason: &str) -> Result<(), PushError> {
        self.outbox.push(Push::Close(code, reason.to_owned()))
    }

    /// Whether the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.outbox.is_closed()
    }

    /// An id no other connection of the process has.
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// Whether the head is a valid opening handshake, as [`accept`] will need it.
pub(crate) fn check_handshake(
    head: &crate::h1::head::Head<'_, '_>,
) -> Result<String, crate::ws::handshake::Refusal> {
    let field = |name: &str| {
        head.headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case(name))
            .and_then(|header| std::str::from_utf8(header.value).ok())
    };
    crate::ws::handshake::accept(&crate::ws::handshake::Offer {
        method: &head.method,
        version: head.version,
        connection: field("connection"),
        upgrade: field("upgrade"),
        ws_version: field("sec-websocket-version"),
        key: field("sec-websocket-key"),
    })
}

/// The `101` of an accepted handshake: `Upgrade` and `Sec-WebSocket-Accept` added (the
/// request was checked before its hooks and handler ran).
pub(crate) fn accept(request: &crate::request::Request<'_>, mut response: Response) -> Response {
    let key = request.header("sec-websocket-key").unwrap_or("").trim();
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let headers = response.headers_mut();
    headers.insert(
        http::header::UPGRADE,
        http::HeaderValue::from_static("websocket"),
    );
    if let Ok(value) = http::HeaderValue::from_str(&accept) {
        headers.insert("sec-websocket-accept", value);
    }
    response
}
