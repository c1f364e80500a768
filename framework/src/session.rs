//! [`Session`]: Flask's `session`, a map of JSON values kept in a signed cookie.
//!
//! The cookie's value is `MAC | payload`, where the payload is `SECONDS.DATA`: the Unix time
//! the cookie was written, then the session's JSON object in URL-safe base64. The MAC is
//! HMAC-SHA256 over the payload, made and checked by the [`cookie`] crate's signed jar with
//! the app's secret key. The client can read the session (do not store secrets in it) but
//! cannot change it, make one up, or extend its life: any cookie that does not verify, is
//! older than [`Config::session_lifetime`](crate::Config::session_lifetime), or does not
//! decode is treated as no session at all.

use std::cell::{Cell, RefCell};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, CookieJar, Key, SameSite};
use http::HeaderValue;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::cookies;
use crate::error::{Error, SessionError};

/// The largest `Set-Cookie` value the session may need, attributes included. Browsers keep
/// cookies of at least 4096 bytes (RFC 6265 §6.1) and drop larger ones without a word.
pub(crate) const MAX_COOKIE_SIZE: usize = 4096;

/// The shortest secret accepted: HMAC-SHA256 is only as strong as its key, and the key
/// expansion (HKDF) refuses less.
pub(crate) const MIN_SECRET_LEN: usize = 32;

/// The session of one request: string keys to JSON values, read from the signed session
/// cookie and written back as one when the handler changed it. Reach it with
/// [`Request::session`](crate::Request::session).
///
/// - **Reading** is lazy: the cookie is verified and decoded on the first
///   [`Request::session`](crate::Request::session) call.
/// - **Writing** happens after the handler and any error handler have run, and only if the
///   session was changed: then the response gets a `Set-Cookie` for the whole session
///   (`HttpOnly; SameSite=Lax; Path=/`, and `Secure` when [`Request::scheme`](crate::Request::scheme)
///   is `https`), with no `Max-Age`, so it lasts until the browser closes. An emptied session
///   deletes the cookie. A handler that panics has its changes dropped.
/// - **Lifetime**: the signed cookie records when it was written; one older than
///   [`Config::session_lifetime`](crate::Config::session_lifetime) (default 31 days) reads as
///   an empty session. Each write starts the time again.
/// - **Tampering** (a bad signature, another key's cookie, a truncated or garbage value)
///   reads as an empty session, never an error.
/// - **Size**: browsers drop cookies over 4 KiB. A session that would need a larger cookie is
///   not written: the response becomes a logged 500 (through the app's 500 page), so that data
///   is never lost without a word. Keep sessions small: ids, not records.
/// - **Key**: [`App::secret_key`](crate::App::secret_key), else the `CARAFE_SECRET_KEY`
///   environment variable, else a random key made at start-up (logged as a warning: sessions
///   then end when the server restarts).
/// - **Privacy**: the session is signed, not encrypted: the client can read what is in it.
///
/// ```
/// use carafe::testing::TestClient;
/// use carafe::{route, App, HttpError, Request};
///
/// fn visit(req: &Request) -> Result<String, HttpError> {
///     let session = req.session();
///     let visits = session.get::<u32>("visits").unwrap_or(0) + 1;
///     session.insert("visits", visits)?;
///     Ok(format!("visit {visits}"))
/// }
///
/// let mut app = App::new();
/// app.secret_key("a long random secret of at least 32 bytes, from a vault")?;
/// route!(app, GET "/" => visit)?;
/// route!(app, POST "/logout" => |req| { req.session().clear(); "bye" })?;
///
/// let client = TestClient::new(app); // keeps cookies between requests, like a browser
/// assert_eq!(client.get("/").send().text(), "visit 1");
/// assert_eq!(client.get("/").send().text(), "visit 2");
/// client.post("/logout").send();
/// assert_eq!(client.get("/").send().text(), "visit 1");
/// # Ok::<(), carafe::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct Session {
    values: RefCell<Map<String, Value>>,
    modified: Cell<bool>,
    /// The request carried a session cookie (valid or not), so an emptied session must delete it.
    had_cookie: bool,
}

impl Session {
    /// The session stored in `cookie_value`, or an empty one if it is absent, does not verify
    /// with `key`, was written more than `lifetime` before `now`, or does not decode to a
    /// JSON object.
    pub(crate) fn load(
        cookie_value: Option<&str>,
        key: Option<&Key>,
        lifetime: Duration,
        now: SystemTime,
    ) -> Self {
        let Some(cookie_value) = cookie_value else {
            return Self::default();
        };
        let values = match key.map(|key| decode(cookie_value, key, lifetime, now)) {
            Some(Ok(values)) => values,
            Some(Err(reason)) => {
                // The client controls the cookie, so this is no operator error.
                log::debug!("session cookie ignored: {reason}");
                Map::new()
            }
            None => Map::new(),
        };
        Self {
            values: RefCell::new(values),
            modified: Cell::new(false),
            had_cookie: true,
        }
    }

    /// The value under `key` as a `T`; `None` if it is absent or is not a `T`.
    ///
    /// ```
    /// fn greet(req: &carafe::Request) -> String {
    ///     match req.session().get::<String>("user") {
    ///         Some(user) => format!("Hello, {user}"),
    ///         None => "Hello, stranger".to_owned(),
    ///     }
    /// }
    /// ```
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        // Cloned so that no borrow is held while user `Deserialize` code runs.
        let value = self.values.borrow().get(key).cloned()?;
        serde_json::from_value(value).ok()
    }

    /// Stores `value` under `key` as JSON, replacing what was there. Fails only if `value`
    /// cannot be represented as JSON (such as a map with non-string keys); the error
    /// converts into a logged 500 with `?`.
    ///
    /// ```
    /// fn login(req: &carafe::Request) -> Result<&'static str, carafe::HttpError> {
    ///     req.session().insert("user", "ada")?;
    ///     req.session().insert("roles", ["admin", "editor"])?;
    ///     Ok("logged in")
    /// }
    /// ```
    pub fn insert(
        &self,
        key: impl Into<String>,
        value: impl Serialize,
    ) -> Result<(), SessionError> {
        let key = key.into();
        let value = match serde_json::to_value(value) {
            Ok(value) => value,
            Err(source) => return Err(SessionError::Serialize { key, source }),
        };
        self.values.borrow_mut().insert(key, value);
        self.modified.set(true);
        Ok(())
    }

    /// Removes `key`; whether it was there.
    ///
    /// ```
    /// fn forget(req: &carafe::Request) -> &'static str {
    ///     if req.session().remove("cart") { "cart emptied" } else { "no cart" }
    /// }
    /// ```
    pub fn remove(&self, key: &str) -> bool {
        let removed = self.values.borrow_mut().remove(key).is_some();
        if removed {
            self.modified.set(true);
        }
        removed
    }

    /// Removes `key` and returns its value as a `T` (Flask's `session.pop`), e.g. a message
    /// shown once. `None` if it was absent or not a `T` (it is removed either way).
    ///
    /// ```
    /// fn inbox(req: &carafe::Request) -> String {
    ///     req.session().take::<String>("flash").unwrap_or_default()
    /// }
    /// ```
    pub fn take<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let value = self.values.borrow_mut().remove(key)?;
        self.modified.set(true);
        serde_json::from_value(value).ok()
    }

    /// Empties the session, e.g. on logout; the response then deletes the session cookie.
    ///
    /// ```
    /// fn logout(req: &carafe::Request) -> carafe::Response {
    ///     req.session().clear();
    ///     carafe::Response::redirect("/")
    /// }
    /// ```
    pub fn clear(&self) {
        let mut values = self.values.borrow_mut();
        // A cookie that did not verify is an empty session, but still worth deleting.
        if !values.is_empty() || self.had_cookie {
            values.clear();
            self.modified.set(true);
        }
    }

    /// Whether `key` is set.
    ///
    /// ```
    /// fn admin(req: &carafe::Request) -> Result<&'static str, carafe::HttpError> {
    ///     if !req.session().contains_key("user") {
    ///         return Err(carafe::abort(carafe::StatusCode::UNAUTHORIZED));
    ///     }
    ///     Ok("welcome")
    /// }
    /// ```
    pub fn contains_key(&self, key: &str) -> bool {
        self.values.borrow().contains_key(key)
    }

    /// Whether the session holds nothing.
    ///
    /// ```
    /// fn status(req: &carafe::Request) -> &'static str {
    ///     if req.session().is_empty() { "new visitor" } else { "welcome back" }
    /// }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.values.borrow().is_empty()
    }

    /// Whether this request changed the session, so that it will be written back.
    ///
    /// ```
    /// fn touch(req: &carafe::Request) -> String {
    ///     let session = req.session();
    ///     let before = session.is_modified(); // false: nothing changed yet
    ///     session.remove("draft"); // changes the session only if "draft" was there
    ///     format!("{before} {}", session.is_modified())
    /// }
    /// ```
    pub fn is_modified(&self) -> bool {
        self.modified.get()
    }

    /// The `Set-Cookie` value that stores this session under `name`, stamped as written at
    /// `now`: `None` if it was not modified, or was emptied and the client had no cookie to
    /// delete.
    pub(crate) fn set_cookie_value(
        &self,
        name: &str,
        key: Option<&Key>,
        secure: bool,
        now: SystemTime,
    ) -> Result<Option<HeaderValue>, SessionError> {
        if !self.modified.get() {
            return Ok(None);
        }
        let values = self.values.borrow();
        if values.is_empty() {
            if !self.had_cookie {
                return Ok(None);
            }
            let removal = session_cookie(name.to_owned(), String::new(), secure);
            return Ok(Some(cookies::removal_cookie_value(removal)?));
        }
        let key = key.ok_or(SessionError::NoKey)?;
        let json = serde_json::to_vec(&*values).map_err(|source| SessionError::Serialize {
            key: String::new(),
            source,
        })?;
        let payload = format!("{}.{}", unix_seconds(now), URL_SAFE_NO_PAD.encode(json));
        let value = sign(name, payload, key);
        let header = cookies::set_cookie_value(session_cookie(name.to_owned(), value, secure))?;
        if header.len() > MAX_COOKIE_SIZE {
            return Err(SessionError::TooLarge {
                size: header.len(),
                limit: MAX_COOKIE_SIZE,
            });
        }
        Ok(Some(header))
    }
}

/// The session cookie with its fixed attributes.
fn session_cookie(name: String, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build()
}

/// `MAC | payload`, the value the cookie crate's signed jar stores for `payload`.
fn sign(name: &str, payload: String, key: &Key) -> String {
    let mut jar = CookieJar::new();
    jar.signed_mut(key)
        .add(Cookie::new(name.to_owned(), payload));
    jar.get(name)
        .expect("a jar holds the cookie just added to it")
        .value()
        .to_owned()
}

/// Verifies and decodes a session cookie value written at most `lifetime` before `now`, or
/// says why it cannot.
fn decode(
    cookie_value: &str,
    key: &Key,
    lifetime: Duration,
    now: SystemTime,
) -> Result<Map<String, Value>, &'static str> {
    let cookie = Cookie::new("session", cookie_value.to_owned());
    let verified = CookieJar::new()
        .signed(key)
        .verify(cookie)
        .ok_or("bad signature")?;
    let (written, data) = verified
        .value()
        .split_once('.')
        .ok_or("payload has no time")?;
    let written: u64 = written.parse().map_err(|_| "payload has no time")?;
    // A time ahead of ours (another instance's clock) counts as age zero: the MAC proves
    // that carafe wrote it.
    if unix_seconds(now).saturating_sub(written) > lifetime.as_secs() {
        return Err("session expired");
    }
    let json = URL_SAFE_NO_PAD
        .decode(data)
        .map_err(|_| "payload is not base64")?;
    serde_json::from_slice(&json).map_err(|_| "payload is not a JSON object")
}

/// Whole seconds since the Unix epoch (0 for a clock set before it).
fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The key that signs sessions, derived with HKDF from `secret`, which must have at least
/// [`MIN_SECRET_LEN`] bytes; `origin` names where it came from for the error.
pub(crate) fn key_from_secret(secret: &[u8], origin: &'static str) -> Result<Key, Error> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(Error::SecretKey {
            origin,
            len: secret.len(),
            min: MIN_SECRET_LEN,
        });
    }
    Ok(Key::derive_from(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Key {
        key_from_secret(&[byte; 32], "test").unwrap()
    }

    /// When the tests' sessions are written and read, unless a test says otherwise.
    const T0: u64 = 1_800_000_000;
    const LIFETIME: Duration = Duration::from_secs(31 * 24 * 60 * 60);

    fn at(unix_seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix_seconds)
    }

    fn load(cookie_value: Option<&str>, key: Option<&Key>) -> Session {
        Session::load(cookie_value, key, LIFETIME, at(T0))
    }

    /// The cookie value a session with `values` is written as, signed with `key`.
    fn stored(values: &[(&str, Value)], key: &Key) -> String {
        let session = Session::default();
        for (name, value) in values {
            session.insert(*name, value).unwrap();
        }
        let header = session
            .set_cookie_value("session", Some(key), false, at(T0))
            .unwrap()
            .expect("a modified session is written");
        let text = header.to_str().unwrap();
        let pairs = cookies::parse_cookie_headers(std::iter::once(text.split(';').next().unwrap()));
        pairs[0].1.clone().into_owned()
    }

    #[test]
    fn a_signed_session_round_trips() {
        let key = key(1);
        let value = stored(
            &[
                ("user", Value::from("ada")),
                ("visits", Value::from(3)),
                ("tags", serde_json::json!(["a", "b"])),
            ],
            &key,
        );
        let session = load(Some(&value), Some(&key));
        assert_eq!(session.get::<String>("user").as_deref(), Some("ada"));
        assert_eq!(session.get::<u32>("visits"), Some(3));
        assert_eq!(
            session.get::<Vec<String>>("tags"),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(session.get::<u32>("user"), None, "wrong type is None");
        assert_eq!(session.get::<u32>("missing"), None);
        assert!(!session.is_modified());
        assert_eq!(
            session
                .set_cookie_value("session", Some(&key), false, at(T0))
                .unwrap(),
            None,
            "an unchanged session is not written"
        );
    }

    #[test]
    fn tampered_truncated_foreign_and_garbage_cookies_are_empty_sessions() {
        let key = key(1);
        let value = stored(&[("user", Value::from("ada"))], &key);
        let mut flipped = value.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        // A payload for {"user":"admin"} with the original signature.
        let forged = format!(
            "{}{}",
            &value[..44],
            URL_SAFE_NO_PAD.encode(br#"{"user":"admin"}"#)
        );
        let wrong_key = stored(&[("user", Value::from("ada"))], &self::key(2));
        // The same with a time, as the payload has now.
        let forged_with_time = format!(
            "{}{T0}.{}",
            &value[..44],
            URL_SAFE_NO_PAD.encode(br#"{"user":"admin"}"#)
        );
        // Correctly signed, but not a JSON object, not base64, or without the time.
        let not_an_object = sign(
            "session",
            format!("{T0}.{}", URL_SAFE_NO_PAD.encode(b"[1,2]")),
            &key,
        );
        let not_base64 = sign("session", format!("{T0}.!!!"), &key);
        let no_time = sign(
            "session",
            URL_SAFE_NO_PAD.encode(br#"{"user":"ada"}"#),
            &key,
        );
        let bad_time = sign(
            "session",
            format!("-1.{}", URL_SAFE_NO_PAD.encode(b"{}")),
            &key,
        );
        let cases = [
            flipped.as_str(),
            &value[..value.len() - 1],
            &value[..44],
            &value[..10],
            &value[44..],
            forged.as_str(),
            forged_with_time.as_str(),
            wrong_key.as_str(),
            not_an_object.as_str(),
            not_base64.as_str(),
            no_time.as_str(),
            bad_time.as_str(),
            "",
            "garbage",
            "é漢字🍪 not base64 at all, and long enough to pass the digest length check",
        ];
        for case in cases {
            let session = load(Some(case), Some(&key));
            assert!(session.is_empty(), "{case:?} gave {session:?}");
            assert_eq!(session.get::<String>("user"), None);
        }
        let session = load(Some(&value), None);
        assert!(session.is_empty(), "no key, no session");
    }

    #[test]
    fn a_session_lasts_its_lifetime_from_the_last_write() {
        let key = key(1);
        let value = stored(&[("user", Value::from("ada"))], &key);
        let read_at = |seconds: u64| Session::load(Some(&value), Some(&key), LIFETIME, at(seconds));
        let lifetime = LIFETIME.as_secs();
        assert!(read_at(T0 + lifetime).contains_key("user"), "last second");
        assert!(read_at(T0 + lifetime + 1).is_empty(), "expired");
        assert!(
            read_at(T0 - 3600).contains_key("user"),
            "a clock behind the writer's"
        );
        let short = Session::load(
            Some(&value),
            Some(&key),
            Duration::from_secs(60),
            at(T0 + 61),
        );
        assert!(short.is_empty(), "the lifetime is the app's setting");

        // Writing again starts the time again.
        let session = read_at(T0 + lifetime - 10);
        session.insert("visits", 2).unwrap();
        let header = session
            .set_cookie_value("session", Some(&key), false, at(T0 + lifetime - 10))
            .unwrap()
            .unwrap();
        let text = header.to_str().unwrap();
        let renewed =
            &cookies::parse_cookie_headers(std::iter::once(text.split(';').next().unwrap()))[0].1;
        let later = Session::load(
            Some(renewed),
            Some(&key),
            LIFETIME,
            at(T0 + 2 * lifetime - 10),
        );
        assert_eq!(later.get::<String>("user").as_deref(), Some("ada"));
        assert_eq!(later.get::<u32>("visits"), Some(2));
    }

    #[test]
    fn only_changes_are_written_and_emptying_deletes_the_cookie() {
        let key = key(1);
        let fresh = load(None, Some(&key));
        fresh.clear();
        assert!(!fresh.remove("x"));
        assert_eq!(
            fresh
                .set_cookie_value("session", Some(&key), false, at(T0))
                .unwrap(),
            None
        );

        let value = stored(&[("a", Value::from(1))], &key);
        let session = load(Some(&value), Some(&key));
        assert!(session.remove("a"));
        let header = session
            .set_cookie_value("session", Some(&key), true, at(T0))
            .unwrap()
            .unwrap();
        let text = header.to_str().unwrap();
        assert!(
            text.starts_with("session=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0"),
            "{text}"
        );

        // A cookie that did not verify is deleted by `clear`.
        let bogus = load(Some("garbage"), Some(&key));
        bogus.clear();
        let header = bogus
            .set_cookie_value("session", Some(&key), false, at(T0))
            .unwrap()
            .unwrap();
        assert!(header.to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn the_cookie_has_the_session_attributes() {
        let key = key(1);
        let session = Session::default();
        session.insert("a", 1).unwrap();
        let header = session
            .set_cookie_value("sid", Some(&key), false, at(T0))
            .unwrap()
            .unwrap();
        let text = header.to_str().unwrap();
        assert!(text.starts_with("sid="), "{text}");
        assert!(text.ends_with("; HttpOnly; SameSite=Lax; Path=/"), "{text}");
        let header = session
            .set_cookie_value("sid", Some(&key), true, at(T0))
            .unwrap()
            .unwrap();
        assert!(header.to_str().unwrap().contains("; Secure"));
    }

    #[test]
    fn take_and_insert_mark_the_session_modified() {
        let session = Session::default();
        assert!(!session.is_modified());
        session.insert("flash", "saved").unwrap();
        assert!(session.is_modified() && session.contains_key("flash"));
        assert_eq!(session.take::<String>("flash").as_deref(), Some("saved"));
        assert_eq!(session.take::<String>("flash"), None);
        assert!(session.is_empty());
    }

    #[test]
    fn values_that_are_not_json_are_refused() {
        let session = Session::default();
        let mut map = std::collections::HashMap::new();
        map.insert((1, 2), "tuple keys are not JSON object keys");
        let error = session.insert("map", &map).unwrap_err();
        assert!(matches!(error, SessionError::Serialize { ref key, .. } if key == "map"));
        assert!(!session.is_modified());
    }

    #[test]
    fn a_session_too_large_for_a_cookie_is_an_error() {
        let key = key(1);
        let session = Session::default();
        // Fits: about 3 KiB of JSON is about 4 KiB of base64.
        session.insert("blob", "x".repeat(2900)).unwrap();
        let header = session
            .set_cookie_value("session", Some(&key), false, at(T0))
            .unwrap()
            .unwrap();
        assert!(header.len() <= MAX_COOKIE_SIZE);
        session.insert("blob", "x".repeat(3200)).unwrap();
        let error = session
            .set_cookie_value("session", Some(&key), false, at(T0))
            .unwrap_err();
        assert!(
            matches!(error, SessionError::TooLarge { size, limit: MAX_COOKIE_SIZE } if size > MAX_COOKIE_SIZE),
            "{error:?}"
        );
    }

    #[test]
    fn secrets_shorter_than_32_bytes_are_refused() {
        let error = key_from_secret(&[7; 31], "CARAFE_SECRET_KEY").unwrap_err();
        assert!(
            error.to_string().contains("CARAFE_SECRET_KEY is 31 bytes"),
            "{error}"
        );
        let short = key_from_secret(&[7; 32], "x").unwrap();
        let long = key_from_secret(&[7; 100], "x").unwrap();
        assert_ne!(short, long, "every byte of a long secret counts");
    }

    #[test]
    fn a_modified_session_needs_a_key() {
        let session = Session::default();
        session.insert("a", 1).unwrap();
        assert!(matches!(
            session.set_cookie_value("session", None, false, at(T0)),
            Err(SessionError::NoKey)
        ));
    }
}
