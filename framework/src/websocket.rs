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

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use http::StatusCode;

use crate::h1::encode::{Body, ContentType, LiveBody};
use crate::h1::outbox::{Outbox, Overflow, PushError};
use crate::h1::tunnel::{LiveLimits, Offload};
use crate::response::{IntoResponse, Response};
use crate::ws::Message;
use crate::ws::handshake::Refusal;
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
            sender,
            runner: Runner::OnLoop(self.handler),
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

/// The app's handler as the protocol floor sees it: called on the event loop, or (for a
/// `blocking` route) on the blocking pool, one event at a time, in order.
struct Callbacks {
    sender: WsSender,
    runner: Runner,
}

enum Runner {
    OnLoop(Box<dyn WsHandler>),
    Pooled(Arc<Pooled>),
    /// Only while switching from one to the other.
    Switching,
}

/// What happened, for the handler.
enum Event {
    Open,
    Message(Message),
    Close(u16, String),
}

impl Callbacks {
    fn handle(&mut self, event: Event) {
        match &mut self.runner {
            Runner::OnLoop(handler) => call(handler.as_mut(), &self.sender, event),
            Runner::Pooled(pooled) => pooled.post(event),
            Runner::Switching => unreachable!("switched before any event"),
        }
    }
}

impl WsEvents for Callbacks {
    fn on_open(&mut self) {
        self.handle(Event::Open);
    }

    fn on_message(&mut self, message: Message) {
        self.handle(Event::Message(message));
    }

    fn on_close(&mut self, code: u16, reason: &str) {
        self.handle(Event::Close(code, reason.to_owned()));
    }

    fn offload(&mut self, pool: Arc<dyn Offload>) {
        if let Runner::OnLoop(handler) = std::mem::replace(&mut self.runner, Runner::Switching) {
            self.runner = Runner::Pooled(Arc::new(Pooled {
                pool,
                sender: self.sender.clone(),
                handler: Mutex::new(handler),
                pending: Mutex::new(Pending::default()),
            }));
        }
    }
}

/// Calls the handler for `event`, behind a panic boundary: a callback that panics costs its
/// own connection (closed with 1011), never the thread it runs on.
fn call(handler: &mut dyn WsHandler, sender: &WsSender, event: Event) {
    let called = crate::handler::call_guarded(|| match event {
        Event::Open => handler.on_open(sender),
        Event::Message(message) => handler.on_message(sender, message),
        Event::Close(code, reason) => handler.on_close(sender, code, &reason),
    });
    if let Err(panic) = called {
        log::error!("a WebSocket handler panicked: {panic}; closing its connection (1011)");
        let _ = sender.close(1011, "server error");
    }
}

/// A `blocking` route's handler: its events wait in `pending` for the pool, where one job at
/// a time runs them in order, so that the handler sees them as it would on the loop.
struct Pooled {
    pool: Arc<dyn Offload>,
    sender: WsSender,
    handler: Mutex<Box<dyn WsHandler>>,
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    events: VecDeque<Event>,
    /// A job on the pool is running them (or is queued to).
    running: bool,
}

/// Events one job runs before making way for other connections' jobs.
const EVENTS_PER_JOB: usize = 32;

impl Pooled {
    /// Queues `event` for the handler, starting a job if none is running. A client whose
    /// messages pile up past the queue limit faster than the handler takes them is closed
    /// with 1008, as one that reads too slowly is; if the pool is full, 1013 (try again).
    fn post(self: &Arc<Self>, event: Event) {
        let start = {
            let mut pending = lock(&self.pending);
            let message = matches!(event, Event::Message(_));
            if message && pending.events.len() >= self.sender.outbox.limit() {
                drop(pending);
                let _ = self
                    .sender
                    .close(1008, "messages arrive faster than they are handled");
                return;
            }
            pending.events.push_back(event);
            !std::mem::replace(&mut pending.running, true)
        };
        if start {
            self.start();
        }
    }

    fn start(self: &Arc<Self>) {
        let this = Arc::clone(self);
        if !self.pool.offload(Box::new(move || this.run())) {
            let mut pending = lock(&self.pending);
            pending.events.clear();
            pending.running = false;
            drop(pending);
            let _ = self
                .sender
                .close(1013, "the server is busy; try again later");
        }
    }

    /// Runs queued events, then hands the rest (if any) to a new job.
    fn run(self: Arc<Self>) {
        let mut handler = lock(&self.handler);
        for _ in 0..EVENTS_PER_JOB {
            let event = {
                let mut pending = lock(&self.pending);
                let Some(event) = pending.events.pop_front() else {
                    pending.running = false;
                    return;
                };
                event
            };
            call(handler.as_mut(), &self.sender, event);
        }
        drop(handler);
        self.start();
    }
}

/// A panic while holding these locks leaves a valid queue and a handler that was closed.
fn lock<T: ?Sized>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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

/// Whether the head is a valid opening handshake, as [`accept`] will need it, from a page
/// `allowed_origins` lets in.
pub(crate) fn check_handshake(
    head: &crate::h1::head::Head<'_, '_>,
    allowed_origins: &[String],
) -> Result<(), Refusal> {
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
    })?;
    match field("origin") {
        Some(origin) if !origin_allowed(origin, field("host"), allowed_origins) => Err(Refusal {
            status: StatusCode::FORBIDDEN,
            reason: "pages of this Origin may not open a WebSocket here \
                     (Config::websocket_origins lists the ones that may)",
        }),
        _ => Ok(()),
    }
}

/// Whether a page of `origin` may open a WebSocket to the host named `host`: its own pages
/// may (the origin's authority is the request's `Host`), and those `allowed` lists.
fn origin_allowed(origin: &str, host: Option<&str>, allowed: &[String]) -> bool {
    let origin = origin.trim();
    let authority = origin.split_once("://").map(|(_, authority)| authority);
    if host.is_some_and(|host| authority.is_some_and(|a| a.eq_ignore_ascii_case(host.trim()))) {
        return true;
    }
    allowed
        .iter()
        .any(|allowed| allowed == "*" || allowed.trim_end_matches('/').eq_ignore_ascii_case(origin))
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

#[cfg(test)]
mod tests {
    use super::origin_allowed;

    #[test]
    fn a_page_of_the_app_itself_or_of_a_listed_origin_may_open_a_websocket() {
        let listed = ["https://app.example".to_owned()];
        assert!(origin_allowed(
            "http://localhost:8080",
            Some("localhost:8080"),
            &[]
        ));
        assert!(origin_allowed(
            "https://Shop.Example",
            Some("shop.example"),
            &[]
        ));
        assert!(origin_allowed(
            "https://app.example",
            Some("api.example"),
            &listed
        ));
        assert!(origin_allowed(
            "https://any.example",
            Some("api.example"),
            &["*".to_owned()]
        ));

        assert!(!origin_allowed(
            "http://evil.example",
            Some("localhost:8080"),
            &[]
        ));
        assert!(!origin_allowed(
            "http://localhost:8081",
            Some("localhost:8080"),
            &[]
        ));
        assert!(!origin_allowed(
            "https://app.example.evil",
            Some("x"),
            &listed
        ));
        assert!(!origin_allowed("null", Some("localhost"), &[]));
        assert!(!origin_allowed("http://localhost", None, &[]));
    }
}
