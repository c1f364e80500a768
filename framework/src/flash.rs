//! Message flashing, Flask's `flash`: [`Flash`](crate::Flash) and `Request::flash`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use minijinja::value::{Kwargs, Object, Value, from_args};
use serde::{Deserialize, Serialize};

use crate::error::SessionError;
use crate::request::Request;

/// The session key the messages are kept under.
pub(crate) const FLASHES_KEY: &str = "_flashes";

/// One flashed message and its category (`"message"` unless one was given).
///
/// Message flashing, as in Flask: a handler records a message for the visitor
/// ([`Request::flash`]), typically before a redirect, and the next page they see shows it
/// once, from any template, with `get_flashed_messages()`. Messages live in the session,
/// under the key `_flashes`.
///
/// ```
/// use carafe::testing::TestClient;
/// use carafe::{route, App, HttpError, Request, Response};
///
/// fn save(req: &Request) -> Result<Response, HttpError> {
///     req.flash("Saved.")?;
///     Ok(Response::redirect("/"))
/// }
///
/// fn home(req: &Request) -> String {
///     let messages: Vec<String> =
///         req.flashed_messages().into_iter().map(|flash| flash.message).collect();
///     messages.join(" ")
/// }
///
/// let mut app = App::new();
/// route!(app, POST "/save" => save)?;
/// route!(app, GET "/" => home)?;
/// let client = TestClient::new(app);
/// client.post("/save").send();
/// assert_eq!(client.get("/").send().text(), "Saved.");
/// assert_eq!(client.get("/").send().text(), "", "shown once");
/// # Ok::<(), carafe::Error>(())
/// ```
///
/// In a template (`base.html`, so every page shows them):
///
/// ```jinja
/// {% for category, message in get_flashed_messages(with_categories=true) %}
///   <p class="flash {{ category }}">{{ message }}</p>
/// {% endfor %}
/// ```
///
/// A page that does not call `get_flashed_messages()` leaves the messages for the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    /// What kind of message it is, for styling: Flask's convention is `message`, `error`,
    /// `info`, `warning`.
    pub category: String,
    /// The text.
    pub message: String,
}

impl Request<'_> {
    /// Records `message` (category `"message"`) for the next page the visitor sees, as
    /// Flask's `flash`. Fails only if the session cannot hold it.
    pub fn flash(&self, message: impl Into<String>) -> Result<(), SessionError> {
        self.flash_with("message", message)
    }

    /// Records `message` under `category` (e.g. `"error"`) for the next page.
    pub fn flash_with(
        &self,
        category: impl Into<String>,
        message: impl Into<String>,
    ) -> Result<(), SessionError> {
        let session = self.session();
        let mut flashes: Vec<Flash> = session.get(FLASHES_KEY).unwrap_or_default();
        flashes.push(Flash {
            category: category.into(),
            message: message.into(),
        });
        session.insert(FLASHES_KEY, flashes)
    }

    /// The messages flashed for this visitor, oldest first, removed from the session: each
    /// is shown once. Flask's `get_flashed_messages`.
    pub fn flashed_messages(&self) -> Vec<Flash> {
        self.session().take(FLASHES_KEY).unwrap_or_default()
    }

    /// The messages waiting for this visitor, left in place, for a template about to render;
    /// the session is read only if the visitor has one (or this request already used it).
    pub(crate) fn pending_flashes(&self) -> Vec<Flash> {
        if !self.has_session() {
            return Vec::new();
        }
        self.session().get(FLASHES_KEY).unwrap_or_default()
    }

    /// The visitor's CSRF token, if their session has one (read only if they have a session).
    pub(crate) fn pending_csrf_token(&self) -> Option<String> {
        if !self.has_session() {
            return None;
        }
        self.session().get(crate::csrf::TOKEN_KEY)
    }

    /// Whether the visitor sent a session cookie, or this request already used the session:
    /// reading it then costs nothing more than what is already done.
    fn has_session(&self) -> bool {
        self.session_if_used().is_some()
            || self
                .cookie(&self.site().config.session_cookie_name)
                .is_some()
    }
}

/// `get_flashed_messages()` in a template: the messages pending when the render began. It
/// remembers whether the template called it, so that only a page that showed the messages
/// removes them from the session.
#[derive(Debug)]
pub(crate) struct TemplateFlashes {
    flashes: Vec<Flash>,
    shown: AtomicBool,
}

impl TemplateFlashes {
    pub(crate) fn new(flashes: Vec<Flash>) -> Arc<Self> {
        Arc::new(Self {
            flashes,
            shown: AtomicBool::new(false),
        })
    }

    /// Whether the template asked for the messages (and there were some to remove).
    pub(crate) fn were_shown(&self) -> bool {
        self.shown.load(Ordering::Relaxed) && !self.flashes.is_empty()
    }
}

impl Object for TemplateFlashes {
    /// `get_flashed_messages()` → the messages; `get_flashed_messages(with_categories=true)`
    /// → `(category, message)` pairs; `category_filter=["error"]` keeps those categories.
    fn call(
        self: &Arc<Self>,
        _state: &mut minijinja::State<'_, '_>,
        args: &[Value],
    ) -> Result<Value, minijinja::Error> {
        let (kwargs,): (Kwargs,) = from_args(args)?;
        // `peek` and a check of the names rather than `get` and `assert_all_used`: the same
        // answers and errors, without a `String` and a hash-set insert per name (each page
        // calls this once).
        let with_categories: Option<bool> = kwargs.peek("with_categories")?;
        let filter: Option<Vec<String>> = kwargs.peek("category_filter")?;
        if let Some(unknown) = kwargs
            .args()
            .find(|key| !matches!(*key, "with_categories" | "category_filter"))
        {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::TooManyArguments,
                format!("unknown keyword argument '{unknown}'"),
            ));
        }
        self.shown.store(true, Ordering::Relaxed);
        let kept = self.flashes.iter().filter(|flash| {
            filter
                .as_ref()
                .is_none_or(|categories| categories.contains(&flash.category))
        });
        Ok(if with_categories.unwrap_or(false) {
            kept.map(|flash| Value::from(vec![flash.category.clone(), flash.message.clone()]))
                .collect()
        } else {
            kept.map(|flash| Value::from(flash.message.clone()))
                .collect()
        })
    }
}
