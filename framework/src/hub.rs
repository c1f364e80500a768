//! [`Hub`]: WebSocket connections grouped into named rooms, for sending one message to
//! everyone in a room from any thread. One per app ([`App::hub`](crate::App::hub),
//! [`Request::hub`](crate::Request::hub)); it holds the senders, and drops those whose
//! connection is gone as it meets them.
//!
//! Rooms span the whole process (every worker thread), not several processes: behind a
//! load balancer, instances reach each other's clients only through a broker of the app's
//! choosing (Redis pub/sub, say) that each instance relays into its own hub.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::websocket::WsSender;
use crate::ws::Message;

/// Rooms of WebSocket connections, for sending one message to everyone in a room from any
/// thread. One per app ([`App::hub`](crate::App::hub), [`Request::hub`](crate::Request::hub));
/// it holds the senders and drops those whose connection is gone as it meets them.
///
/// Rooms span the whole process (every worker thread), not several processes: behind a load
/// balancer, instances reach each other's clients only through a broker of the app's choosing
/// (Redis pub/sub, say) that each instance relays into its own hub.
///
/// ```
/// use carafe::{route, App, Hub, Message, Request, WebSocket, WsSender};
/// use std::sync::Arc;
///
/// struct Chat { hub: Arc<Hub> }
///
/// impl carafe::WsHandler for Chat {
///     fn on_open(&mut self, ws: &WsSender) {
///         self.hub.join("lobby", ws);
///     }
///     fn on_message(&mut self, _ws: &WsSender, message: Message) {
///         self.hub.send("lobby", message);
///     }
/// }
///
/// let mut app = App::new();
/// route!(app, GET "/ws/chat" => |req: &Request| WebSocket::new(Chat { hub: Arc::clone(req.hub()) }), websocket)?;
/// let hub = app.hub(); // for other threads: hub.send("lobby", "news".into())
/// # let _ = hub;
/// # Ok::<(), carafe::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct Hub {
    rooms: Mutex<HashMap<String, Vec<WsSender>>>,
}

impl Hub {
    fn rooms(&self) -> MutexGuard<'_, HashMap<String, Vec<WsSender>>> {
        // A panic while holding the lock leaves valid rooms.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts `ws` in `room` (once, however often it joins).
    pub fn join(&self, room: &str, ws: &WsSender) {
        let mut rooms = self.rooms();
        let members = rooms.entry(room.to_owned()).or_default();
        if !members.contains(ws) {
            members.push(ws.clone());
        }
    }

    /// Takes `ws` out of `room`.
    pub fn leave(&self, room: &str, ws: &WsSender) {
        let mut rooms = self.rooms();
        if let Some(members) = rooms.get_mut(room) {
            members.retain(|member| member != ws);
            if members.is_empty() {
                rooms.remove(room);
            }
        }
    }

    /// Sends `message` to everyone in `room`; returns how many it was queued for (those whose
    /// connection is gone leave the room). A `String` or `&str` is text, a `Vec<u8>` binary.
    pub fn send(&self, room: &str, message: impl Into<Message>) -> usize {
        let message = message.into();
        let members: Vec<WsSender> = match self.rooms().get(room) {
            Some(members) => members.clone(),
            None => return 0,
        };
        // Sent outside the lock: a send may wake a worker.
        let mut gone = Vec::new();
        let mut sent = 0;
        for member in &members {
            match member.send(message.clone()) {
                Ok(()) => sent += 1,
                Err(_) => gone.push(member.clone()),
            }
        }
        for member in &gone {
            self.leave(room, member);
        }
        sent
    }

    /// How many connections are in `room` (some may have just closed).
    pub fn len(&self, room: &str) -> usize {
        self.rooms().get(room).map_or(0, Vec::len)
    }

    /// Whether `room` is empty.
    pub fn is_empty(&self, room: &str) -> bool {
        self.len(room) == 0
    }

    /// The rooms with someone in them.
    pub fn room_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.rooms().keys().cloned().collect();
        names.sort();
        names
    }
}
