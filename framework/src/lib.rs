//! # carafe
//!
//! A small, fast, Flask-style HTTP/1.1 micro-framework on a mio event loop.
//!
//! Handlers are plain functions or closures from [`&Request`](Request) to anything that
//! implements [`IntoResponse`], registered with [`route!`]:
//!
// The example needs the `json` feature (a default one); without it, it is shown but not run.
#![cfg_attr(feature = "json", doc = "```")]
#![cfg_attr(not(feature = "json"), doc = "```ignore")]
//! use carafe::testing::TestClient;
//! use carafe::{context, route, App, HttpError, Json, Request, Response};
//!
//! fn index(_req: &Request) -> &'static str {
//!     "Hello from carafe"
//! }
//!
//! fn user(req: &Request) -> Result<Json<serde_json::Value>, HttpError> {
//!     let id: u32 = req.param_as("id")?; // "abc" is a 404, not a panic
//!     Ok(Json(serde_json::json!({ "id": id })))
//! }
//!
//! fn main() -> Result<(), carafe::Error> {
//!     let mut app = App::new();
//!     route!(app, GET "/" => index)?;
//!     route!(app, GET "/user/{id}" => user)?;
//!     route!(app, [GET, POST] "/echo" => |req| req.body().to_vec())?;
//!
//!     // In a real program: `app.run("127.0.0.1:8080")`. Here, the in-process test client:
//!     let client = TestClient::new(app);
//!     assert_eq!(client.get("/").send().text(), "Hello from carafe");
//!     assert_eq!(client.get("/user/7").send().text(), r#"{"id":7}"#);
//!     assert_eq!(client.get("/user/abc").send().status(), 404);
//!     Ok(())
//! }
//! ```
//!
//! ## Layers
//!
//! Three floors, every arrow pointing down: `server` (the mio event loop, the only module
//! with sockets and threads) drives `h1` (sans-IO HTTP/1.1: heads, bodies, the encoder and
//! the connection state machine), which hands each request up through one trait to the
//! site (`App` frozen into a `Site`: the router, `Request`, `Response`, templates,
//! sessions, hooks). `ARCHITECTURE.md` in the repository walks through them.
//!
//! ## Cargo features
//!
//! Both on by default:
//! - `json`: `Json`, `Request::json` and `Response::json` (serde_json).
//! - `sessions`: `Request::session` and `App::secret_key`, a map of JSON values in an
//!   HMAC-signed cookie; implies `json`.
//!
//! Off by default:
//! - `compression`: `Compression` and `App::compress`, gzip and brotli responses chosen from
//!   `Accept-Encoding` (flate2, brotli).
//!
//! With `default-features = false`, routing, templates, forms, uploads, cookies, static files
//! and the test client remain.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod app;
mod bench;
mod blueprint;
#[cfg(feature = "compression")]
mod compression;
mod config;
mod cookies;
mod cors;
#[cfg(feature = "sessions")]
mod csrf;
mod debug_page;
mod error;
mod error_body;
mod event_stream;
mod extract;
#[cfg(feature = "sessions")]
mod flash;
mod form;
mod h1;
mod handler;
mod health;
mod hooks;
mod html;
#[cfg(feature = "websocket")]
mod hub;
mod macros;
mod media_type;
#[cfg(feature = "metrics")]
pub mod metrics;
mod multipart;
#[cfg(test)]
mod proptests;
mod proxy;
mod request;
mod response;
mod router;
mod scope;
mod server;
#[cfg(feature = "sessions")]
mod session;
mod site;
mod state;
mod static_files;
mod template;
pub mod testing;
mod url_for;
#[cfg(feature = "websocket")]
mod websocket;
#[cfg(feature = "websocket")]
mod ws;

pub use app::App;
pub use blueprint::Blueprint;
#[cfg(feature = "compression")]
pub use compression::Compression;
pub use config::Config;
pub use cors::Cors;
#[cfg(feature = "sessions")]
pub use csrf::CsrfProtection;
#[cfg(feature = "sessions")]
pub use error::SessionError;
pub use error::{Error, HttpError, InvalidHeader, RouteError, UrlForError, abort};
pub use event_stream::{Event, EventSender};
#[cfg(feature = "sessions")]
pub use flash::Flash;
pub use form::Form;
pub use h1::outbox::{Overflow, PushError};
#[cfg(feature = "websocket")]
pub use hub::Hub;
pub use multipart::{Multipart, UploadedFile};
pub use request::Request;
#[cfg(feature = "json")]
pub use response::Json;
pub use response::{Body, BodyReader, Html, IntoResponse, Response};
pub use router::{RouteInfo, RouteSpec};
#[cfg(feature = "tls")]
pub use server::tls::Tls;
pub use server::{RunningServer, Server, ServerHandle};
#[cfg(feature = "sessions")]
pub use session::Session;
#[cfg(feature = "websocket")]
pub use websocket::{WebSocket, WsHandler, WsSender};
#[cfg(feature = "websocket")]
pub use ws::Message;

/// Cookie types for [`Response::set_cookie`] and [`Response::remove_cookie`], from the
/// [`cookie`](https://docs.rs/cookie) crate.
///
/// ```
/// use carafe::cookie::{Cookie, SameSite, time::Duration};
///
/// let cookie = Cookie::build(("theme", "dark"))
///     .max_age(Duration::days(30))
///     .same_site(SameSite::Lax)
///     .http_only(true);
/// let mut response = carafe::Response::text("saved");
/// response.set_cookie(cookie).unwrap();
/// assert_eq!(
///     response.header("set-cookie"),
///     Some("theme=dark; HttpOnly; SameSite=Lax; Path=/; Max-Age=2592000")
/// );
/// ```
pub mod cookie {
    pub use ::cookie::{Cookie, CookieBuilder, Expiration, SameSite, time};
}

/// The `http` crate, whose types carafe uses for methods, status codes and headers.
pub use http;
pub use http::{Method, StatusCode, Version};
/// Networks for [`Config::trusted_proxies`]: `"10.0.0.0/8".parse::<IpNet>()`.
pub use ipnet::IpNet;

/// Template values, for contexts built by hand.
pub use minijinja::Value;

#[doc(hidden)]
pub mod __private {
    pub use minijinja;
}

/// Hooks into internals for carafe's own benchmarks and allocation test. **Unstable, not
/// public API**: outside semver, may change or vanish in any release (see `src/bench.rs`).
#[doc(hidden)]
pub mod __bench {
    #[cfg(feature = "json")]
    pub use crate::bench::bench_app;
    pub use crate::bench::{Driver, HeadParser, add_filler_routes, encode_response, route_lookup};
}

/// The README's examples, compiled and run as doc-tests so the README cannot drift. They use
/// the default features (JSON and sessions).
#[cfg(all(doctest, feature = "sessions"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// GUIDE.md's examples, run as doc-tests as the README's are.
#[cfg(all(doctest, feature = "sessions", feature = "websocket"))]
#[doc = include_str!("../../GUIDE.md")]
pub struct GuideDoctests;
