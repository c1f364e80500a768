//! The live pages: `/ws/echo`, a WebSocket that sends every message back unchanged (a fixed
//! target for conformance tools and load generators, as `/echo` is for HTTP); `/chat`, rooms
//! of named visitors over a WebSocket; and `/live`, a panel fed by server-sent events (the
//! visitors watching it, chat activity, the latest posts).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use carafe::{
    App, Event, EventSender, HttpError, Hub, Message, Request, Response, WebSocket, WsHandler,
    WsSender, context, route,
};
use serde::Serialize;

use crate::POSTS;

/// The live panel's listeners, and what it shows.
#[derive(Debug, Default)]
pub struct Panel {
    listeners: Mutex<Vec<EventSender>>,
    /// Chat messages sent since the server started.
    chat_messages: AtomicU64,
}

impl Panel {
    /// Sends `event` to every listener; those who left are dropped. Returns how many remain.
    fn announce(&self, event: &Event) -> usize {
        let mut listeners = self
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        listeners.retain(|listener| listener.send(event.clone()).is_ok());
        listeners.len()
    }

    fn visitors(&self) -> usize {
        self.listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn stats(&self) -> Event {
        let stats = serde_json::json!({
            "visitors": self.visitors(),
            "chat_messages": self.chat_messages.load(Ordering::Relaxed),
        });
        Event::new(stats.to_string()).event("stats")
    }
}

/// Registers the live routes and starts the panel's ticker.
pub fn routes(app: &mut App) -> Result<(), carafe::Error> {
    let panel = Arc::new(Panel::default());
    app.state(Arc::clone(&panel));
    route!(app, GET "/ws/echo" => |_req| WebSocket::new(echo), websocket)?;
    route!(app, GET "/ws/chat" => chat_socket, websocket)?;
    route!(app, GET "/chat" => |req| req.render("chat.html", context! {}))?;
    route!(app, GET "/live" => |req| req.render("live.html", context! {}))?;
    route!(app, GET "/events" => events)?;
    // Every few seconds the panel learns who left (a send to a closed stream fails) and
    // shows the time, so that it visibly lives.
    let ticker = Arc::downgrade(&panel);
    std::thread::Builder::new()
        .name("live-panel".into())
        .spawn(move || {
            while let Some(panel) = ticker.upgrade() {
                panel.announce(&panel.stats());
                let now = httpdate::fmt_http_date(std::time::SystemTime::now());
                panel.announce(&Event::new(now).event("time"));
                drop(panel);
                std::thread::sleep(Duration::from_secs(5));
            }
        })
        .map_err(carafe::Error::Io)?;
    Ok(())
}

/// Every message back, text as text and binary as binary.
fn echo(ws: &WsSender, message: Message) {
    let _ = ws.send(message);
}

/// What the chat page receives: who said what, or who came and went.
#[derive(Serialize)]
struct ChatLine<'a> {
    kind: &'a str,
    name: &'a str,
    text: &'a str,
}

/// One visitor in one room of the chat.
struct Chatter {
    hub: Arc<Hub>,
    panel: Arc<Panel>,
    room: String,
    name: String,
}

impl Chatter {
    fn broadcast(&self, kind: &str, text: &str) {
        let line = ChatLine {
            kind,
            name: &self.name,
            text,
        };
        if let Ok(json) = serde_json::to_string(&line) {
            self.hub.send(&self.room, Message::Text(json));
        }
    }
}

impl WsHandler for Chatter {
    fn on_open(&mut self, ws: &WsSender) {
        self.hub.join(&self.room, ws);
        self.broadcast("join", "joined");
    }

    fn on_message(&mut self, _ws: &WsSender, message: Message) {
        // Text only, at most 1,000 characters; the page shows it as text, never as HTML.
        let Some(text) = message.as_text() else {
            return;
        };
        let text: String = text.trim().chars().take(1000).collect();
        if text.is_empty() {
            return;
        }
        self.panel.chat_messages.fetch_add(1, Ordering::Relaxed);
        self.broadcast("message", &text);
        self.panel.announce(&self.panel.stats());
    }

    fn on_close(&mut self, ws: &WsSender, _code: u16, _reason: &str) {
        self.hub.leave(&self.room, ws);
        self.broadcast("leave", "left");
    }
}

/// `/ws/chat?room=lobby&name=Ada`: a name of up to 40 characters (else "anonymous") in a room.
fn chat_socket(req: &Request) -> Result<WebSocket, HttpError> {
    let name: String = req
        .query("name")
        .unwrap_or("")
        .trim()
        .chars()
        .take(40)
        .collect();
    let room: String = req
        .query("room")
        .unwrap_or("lobby")
        .trim()
        .chars()
        .take(40)
        .collect();
    Ok(WebSocket::new(Chatter {
        hub: Arc::clone(req.hub()),
        panel: Arc::clone(req.state::<Arc<Panel>>()?),
        room: if room.is_empty() {
            "lobby".into()
        } else {
            room
        },
        name: if name.is_empty() {
            "anonymous".into()
        } else {
            name
        },
    }))
}

/// `/events`: the live panel's stream. It starts with the latest posts and the stats.
fn events(req: &Request) -> Result<Response, HttpError> {
    let panel = req.state::<Arc<Panel>>()?;
    let (response, sender) = Response::events();
    let posts: Vec<_> = POSTS
        .iter()
        .map(|post| serde_json::json!({ "title": post.title, "slug": post.slug }))
        .collect();
    let _ = sender.send(Event::new(serde_json::Value::from(posts).to_string()).event("posts"));
    let now = httpdate::fmt_http_date(std::time::SystemTime::now());
    let _ = sender.send(Event::new(now).event("time"));
    panel
        .listeners
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(sender);
    panel.announce(&panel.stats());
    Ok(response)
}
