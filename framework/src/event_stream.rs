//! Server-sent events: [`Response::events`] answers with a `text/event-stream` and gives an
//! [`EventSender`] that any thread may push [`Event`]s through, for as long as the client
//! listens.

use std::sync::Arc;

use http::header::{CACHE_CONTROL, HeaderValue};

use crate::h1::encode::{Body, ContentType, LiveBody};
use crate::h1::events::{EventTunnel, Item};
use crate::h1::outbox::{Outbox, Overflow, PushError};
use crate::response::Response;

/// Queue and output limits until the app's are applied (when the app answers with it).
const DEFAULT_QUEUE: usize = 1024;
const DEFAULT_OUTPUT: usize = 1024 * 1024;

/// One server-sent event: `data` and, if wanted, its `event` type, `id` and `retry`.
///
/// ```
/// use carafe::Event;
///
/// let event = Event::new("line one\nline two").event("news").id("42");
/// assert_eq!(event.to_string(), "event: news\nid: 42\ndata: line one\ndata: line two\n\n");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    event: Option<String>,
    id: Option<String>,
    retry: Option<u64>,
    data: String,
}

impl Event {
    /// An event carrying `data` (several lines become several `data:` fields).
    pub fn new(data: impl Into<String>) -> Self {
        Self {
            data: data.into(),
            ..Self::default()
        }
    }

    /// Its type, for `addEventListener(type, ...)` in the browser.
    pub fn event(mut self, event: impl Into<String>) -> Self {
        self.event = Some(one_line(event.into()));
        self
    }

    /// Its id, which the browser sends back as `Last-Event-ID` when it reconnects
    /// ([`Request::last_event_id`](crate::Request::last_event_id)).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(one_line(id.into()));
        self
    }

    /// How long the browser waits before reconnecting, in milliseconds.
    pub fn retry(mut self, milliseconds: u64) -> Self {
        self.retry = Some(milliseconds);
        self
    }
}

/// A field value may not break its line (it would forge other fields).
fn one_line(value: String) -> String {
    if value.contains(['\r', '\n']) {
        value.replace(['\r', '\n'], " ")
    } else {
        value
    }
}

impl std::fmt::Display for Event {
    /// The event as it goes on the wire.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(event) = &self.event {
            writeln!(f, "event: {event}")?;
        }
        if let Some(id) = &self.id {
            writeln!(f, "id: {id}")?;
        }
        if let Some(retry) = self.retry {
            writeln!(f, "retry: {retry}")?;
        }
        for line in self.data.split('\n') {
            writeln!(f, "data: {}", line.strip_suffix('\r').unwrap_or(line))?;
        }
        writeln!(f)
    }
}

/// Sends events to one stream, from any thread; cloning it gives another sender to the same
/// stream. When the client leaves, [`send`](Self::send) says so; when the last sender is
/// dropped, the stream ends.
#[derive(Debug, Clone)]
pub struct EventSender {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    outbox: Arc<Outbox<Item>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last sender: nothing more will come.
        let _ = self.outbox.push(Item::End);
    }
}

impl EventSender {
    /// Queues `event` for the client; `Err(PushError::Gone)` once the client has left (or
    /// fell too far behind, or the server stopped).
    pub fn send(&self, event: Event) -> Result<(), PushError> {
        self.shared.outbox.push(Item::Event(event.to_string()))
    }

    /// Whether the client has left.
    pub fn is_closed(&self) -> bool {
        self.shared.outbox.is_closed()
    }
}

impl Response {
    /// A `text/event-stream` response (server-sent events) and the sender that feeds it:
    /// return the response from the handler, keep the sender (or give it to another thread)
    /// and send as things happen. The connection stays open, written to as events come, with
    /// a comment line when quiet for [`Config::live_ping_interval`](crate::Config). To an
    /// HTTP/1.0 client the stream ends with the connection.
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use carafe::{route, App, Event, EventSender, Request, Response};
    ///
    /// struct Listeners(Mutex<Vec<EventSender>>);
    ///
    /// fn events(req: &Request) -> Result<Response, carafe::HttpError> {
    ///     let (response, sender) = Response::events();
    ///     sender.send(Event::new("welcome")).ok();
    ///     req.state::<Listeners>()?.0.lock().unwrap().push(sender);
    ///     Ok(response)
    /// }
    ///
    /// let mut app = App::new();
    /// app.state(Listeners(Mutex::new(Vec::new())));
    /// route!(app, GET "/events" => events)?;
    /// // Elsewhere: for each sender, `sender.send(Event::new("news").event("update"))`,
    /// // dropping those whose client left (`send` returns an error).
    /// # Ok::<(), carafe::Error>(())
    /// ```
    pub fn events() -> (Response, EventSender) {
        let outbox = Outbox::new(DEFAULT_QUEUE, Overflow::Close);
        let tunnel = EventTunnel::new(Arc::clone(&outbox), DEFAULT_OUTPUT);
        let mut response = Response::with_type(
            ContentType::EventStream,
            Body::Live(LiveBody {
                tunnel: Box::new(tunnel),
            }),
        );
        // Proxies must pass events on as they come (nginx reads this header) and caches
        // must not keep them.
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        let sender = EventSender {
            shared: Arc::new(Shared { outbox }),
        };
        (response, sender)
    }
}
