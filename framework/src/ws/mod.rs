//! WebSocket (RFC 6455), the protocol floor's second protocol: reached from HTTP/1.1 by an
//! upgrade, then bytes in, messages out, sans-IO like `h1/`. tungstenite's protocol layer
//! does the framing (masking, fragmentation, UTF-8 across fragments, control frames, the
//! close handshake, size limits), driven here over the connection's own buffers rather than
//! a socket.
//!
//! - `handshake.rs`: whether a request is a valid opening handshake, and the accept key.
//! - `tunnel.rs`: `WsTunnel`, the connection's tunnel once upgraded, and `WsEvents`, the
//!   interface to the layer above (the app's callbacks).

pub(crate) mod handshake;
pub(crate) mod tunnel;

/// A WebSocket message: text (valid UTF-8, checked) or binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

impl Message {
    /// The message's bytes (a text message's UTF-8).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(bytes) => bytes,
        }
    }

    /// The text of a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(text) => Some(text),
            Message::Binary(_) => None,
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::Text(text.to_owned())
    }
}

impl From<Vec<u8>> for Message {
    fn from(bytes: Vec<u8>) -> Self {
        Message::Binary(bytes)
    }
}
