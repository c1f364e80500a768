//! The axum peer of carafe's `bench_server` for the WebSocket benchmark: the same three
//! routes, written as an axum user would write them (the shape of axum's own `websockets` and
//! `chat` examples), on one thread like the HTTP anchor in `shared/bench/anchors`.
//!
//! - `GET /ws/echo`: sends every text or binary message back as it came (pings are answered
//!   by axum/tungstenite itself).
//! - `GET /ws/room`: forwards every broadcast to the socket.
//! - `POST /broadcast`: sends the body, as text, to every `/ws/room` socket; answers how many
//!   receivers it reached.
//!
//! ```sh
//! axum-ws --addr 127.0.0.1:8080
//! ```

use axum::{
    Router,
    extract::{
        State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    response::Response,
    routing::{get, post},
    serve::ListenerExt,
};
use tokio::sync::broadcast;

/// Broadcasts waiting for the slowest subscriber before it starts to lag. The benchmark sends
/// one at a time with pauses, so this is never reached; a lagging subscriber would show up as
/// a missed message in `ws-load`.
const ROOM_CAPACITY: usize = 1024;

async fn echo(ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(|mut socket: WebSocket| async move {
        while let Some(Ok(message)) = socket.recv().await {
            // Pings are answered by tungstenite as it reads; a close ends the stream.
            if matches!(message, Message::Text(_) | Message::Binary(_))
                && socket.send(message).await.is_err()
            {
                break;
            }
        }
    })
}

async fn room(ws: WebSocketUpgrade, State(room): State<broadcast::Sender<String>>) -> Response {
    // Subscribed in the handler, not in the upgrade callback as axum's chat example does:
    // the callback runs only after the 101 went out, so a broadcast sent right after the
    // client saw its handshake complete could miss it. carafe joins the room before its 101
    // is written, so this keeps the two alike.
    let mut receiver = room.subscribe();
    ws.on_upgrade(|mut socket: WebSocket| async move {
        // One task per connection: it must keep reading too, to answer pings and see the
        // close (the chat example splits the socket into two tasks; one `select!` is lighter).
        loop {
            tokio::select! {
                broadcast = receiver.recv() => match broadcast {
                    Ok(text) => {
                        if socket.send(Message::Text(text.into())).await.is_err() {
                            break;
                        }
                    }
                    // Missed messages are the client's to notice; carry on with the rest.
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                incoming = socket.recv() => match incoming {
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break,
                },
            }
        }
    })
}

async fn broadcast(State(room): State<broadcast::Sender<String>>, body: String) -> String {
    // `send` fails only when nobody is subscribed.
    room.send(body).unwrap_or(0).to_string()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut addr = String::from("127.0.0.1:8080");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--addr", Some(value)) => addr = value,
            _ => {
                eprintln!("usage: axum-ws [--addr HOST:PORT]");
                std::process::exit(2);
            }
        }
    }
    let (room_sender, _) = broadcast::channel::<String>(ROOM_CAPACITY);
    let app = Router::new()
        .route("/ws/echo", get(echo))
        .route("/ws/room", get(room))
        .route("/broadcast", post(broadcast))
        .with_state(room_sender);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .unwrap_or_else(|error| panic!("cannot listen on {addr}: {error}"))
        // carafe turns Nagle's algorithm off on every connection; axum leaves it to the app,
        // and its docs show this way of doing it.
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    axum::serve(listener, app).await.unwrap();
}
