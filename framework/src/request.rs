//! [`Request`]: what a handler sees of one HTTP request.
//!
//! A `Request` is a view: it borrows the connection's read buffer (method, target, headers and
//! body are never copied) and the frozen app, its `Site` (settings, templates, routes). Query strings and form bodies are
//! decoded lazily, on first use. Its lifetime parameter is elided in handler signatures:
//! `fn index(req: &Request) -> ...`.

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use crate::cookies::{self, CookiePairs};
use crate::error::{HttpError, UrlForError};
use crate::form::Form;
use crate::h1::head::Head;
use crate::handler::report_server_error;
use crate::multipart::{Multipart, MultipartLimits};
use crate::proxy;
use crate::response::Response;
use crate::router::RouteInfo;
#[cfg(feature = "sessions")]
use crate::session::Session;
use crate::site::Site;
use http::{Extensions, Method, StatusCode, Version};

/// One HTTP request, as a handler sees it.
///
/// ```
/// use carafe::Request;
///
/// fn hello(req: &Request) -> String {
///     let name = req.param("name").unwrap_or("you");
///     let agent = req.header("user-agent").unwrap_or("an unknown client");
///     format!("Hello, {name}! You are using {agent}.")
/// }
/// ```
pub struct Request<'a> {
    head: &'a Head<'a, 'a>,
    body: &'a [u8],
    peer: SocketAddr,
    site: &'a Site,
    route: Option<&'a RouteInfo>,
    /// Path parameters as matched (matchit keeps up to three inline, no allocation);
    /// borrowed, as a request is only a view.
    params: &'a matchit::Params<'a, 'a>,
    /// Everything parsed on demand (query, form, uploads, cookies, session, decoded params),
    /// behind one pointer: a request whose handler uses none of it sets up and drops one word.
    lazy: OnceCell<Box<Lazy<'a>>>,
}

/// The parts of a request parsed on first use; see [`Request::lazy`].
#[derive(Default)]
struct Lazy<'a> {
    /// Every parameter value percent-decoded, built only if a value has a `%`.
    decoded_params: OnceCell<Vec<Cow<'a, str>>>,
    args: OnceCell<Form<'a>>,
    form: OnceCell<Result<Form<'a>, HttpError>>,
    multipart: OnceCell<Result<Multipart<'a>, HttpError>>,
    cookies: OnceCell<CookiePairs<'a>>,
    #[cfg(feature = "sessions")]
    session: OnceCell<Session>,
    /// What hooks and the handler stored with `set_local`, by type.
    locals: RefCell<Extensions>,
}

impl<'a> Request<'a> {
    /// The on-demand parts, allocated the first time a handler asks for any of them.
    fn lazy(&self) -> &Lazy<'a> {
        self.lazy.get_or_init(Box::default)
    }

    /// A request for `head` and `body`, routed to `route` with `params` (or to no route).
    pub(crate) fn new(
        head: &'a Head<'a, 'a>,
        body: &'a [u8],
        peer: SocketAddr,
        site: &'a Site,
        route: Option<&'a RouteInfo>,
        params: &'a matchit::Params<'a, 'a>,
    ) -> Self {
        Self {
            head,
            body,
            peer,
            site,
            route,
            params,
            lazy: OnceCell::new(),
        }
    }

    /// The request method. `HEAD` requests reach `GET` handlers with this still `HEAD`.
    pub fn method(&self) -> &Method {
        &self.head.method
    }

    /// The path as sent, still percent-encoded, without the query: `/hello/W%C3%B6rld`.
    /// Use [`param`](Self::param) for decoded path segments.
    pub fn path(&self) -> &str {
        self.head.path
    }

    /// The request-target as sent: path and query, e.g. `/search?q=rust`.
    pub fn target(&self) -> &str {
        self.head.target
    }

    /// The raw query string without the `?`, if the target has one.
    pub fn query_string(&self) -> Option<&str> {
        self.head.query
    }

    /// The first decoded value of query parameter `key`: `?q=hello+world` gives `hello world`.
    pub fn query(&self, key: &str) -> Option<&str> {
        self.args().get(key)
    }

    /// The query parameter `key` parsed as `T`: `Ok(None)` when absent, 400 when invalid.
    pub fn query_as<T: FromStr>(&self, key: &str) -> Result<Option<T>, HttpError> {
        self.args().get_as(key)
    }

    /// The whole query string as a `T` (axum's `Query`): fields by name, a repeated key into a
    /// `Vec`, an absent one into an `Option` (or a `#[serde(default)]`). A query that does not
    /// fit is a 400 whose message names the field and the problem.
    ///
    /// ```
    /// use carafe::{route, testing::TestClient, App, HttpError, Request};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Search {
    ///     q: String,
    ///     page: Option<u32>,
    ///     #[serde(default)]
    ///     tag: Vec<String>,
    /// }
    ///
    /// fn search(req: &Request) -> Result<String, HttpError> {
    ///     let search: Search = req.query_into()?;
    ///     Ok(format!("{} p{} {:?}", search.q, search.page.unwrap_or(1), search.tag))
    /// }
    ///
    /// let mut app = App::new();
    /// route!(app, GET "/search" => search)?;
    /// let client = TestClient::new(app);
    /// assert_eq!(client.get("/search?q=rust&tag=a&tag=b").send().text(), r#"rust p1 ["a", "b"]"#);
    /// let bad = client.get("/search?q=rust&page=two").send();
    /// assert_eq!(bad.status(), 400);
    /// assert!(bad.text().contains("invalid query string: `page`: invalid digit found in string"));
    /// # Ok::<(), carafe::Error>(())
    /// ```
    pub fn query_into<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        crate::extract::from_urlencoded(self.head.query.unwrap_or("").as_bytes(), "query string")
    }

    /// All decoded query parameters (Flask's `request.args`), repeated keys kept.
    pub fn args(&self) -> &Form<'a> {
        self.lazy()
            .args
            .get_or_init(|| Form::parse(self.head.query.unwrap_or("").as_bytes()))
    }

    /// The HTTP version of the request.
    pub fn version(&self) -> Version {
        self.head.version
    }

    /// The first value of header `name` (case-insensitive), if it is valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_bytes(name)
            .and_then(|value| std::str::from_utf8(value).ok())
    }

    /// The first value of header `name` (case-insensitive), as bytes.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every value of header `name` (case-insensitive), in order, that is valid UTF-8.
    pub fn header_all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .filter_map(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// All header fields in the order received, names as sent.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.head
            .headers
            .iter()
            .map(|header| (header.name, header.value))
    }

    /// The `Content-Type` header, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// The decoded value of path parameter `name`: for route `/hello/{name}` and path
    /// `/hello/W%C3%B6rld`, `param("name")` is `Some("Wörld")`.
    pub fn param(&self, name: &str) -> Option<&str> {
        // `Params::get` compares bytes and validates only the value it returns; iterating
        // would validate every key and value as UTF-8, a third of a small handler's cost.
        let params = self.params;
        let raw = params.get(name)?;
        if !raw.contains('%') {
            return Some(raw);
        }
        let index = params.iter().position(|(key, _)| key == name)?;
        self.param_at(index)
    }

    /// The decoded value of the parameter at `index`: borrowed as matched unless it holds a
    /// `%` escape (the common case costs nothing).
    fn param_at(&self, index: usize) -> Option<&str> {
        let params = self.params;
        let (_, raw) = params.iter().nth(index)?;
        if !raw.contains('%') {
            return Some(raw);
        }
        let decoded = self.lazy().decoded_params.get_or_init(|| {
            params
                .iter()
                .map(|(_, value)| percent_encoding::percent_decode_str(value).decode_utf8_lossy())
                .collect()
        });
        decoded.get(index).map(AsRef::as_ref)
    }

    /// Path parameter `name` parsed as `T`. A value that does not parse is a 404 (no such
    /// resource), so `let id: u32 = req.param_as("id")?;` is all a handler needs.
    pub fn param_as<T: FromStr>(&self, name: &str) -> Result<T, HttpError> {
        self.param(name)
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| HttpError::new(StatusCode::NOT_FOUND, format!("no such {name}")))
    }

    /// All decoded path parameters, in pattern order.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params
            .iter()
            .enumerate()
            .map(|(index, (key, raw))| (key, self.param_at(index).unwrap_or(raw)))
    }

    /// The request body (chunked bodies arrive here already decoded).
    pub fn body(&self) -> &[u8] {
        self.body
    }

    /// The body as UTF-8 text; 400 if it is not UTF-8.
    pub fn text(&self) -> Result<&str, HttpError> {
        std::str::from_utf8(self.body).map_err(|_| HttpError::bad_request("body is not UTF-8"))
    }

    /// The urlencoded form fields of the body (Flask's `request.form`); empty unless the
    /// `Content-Type` is `application/x-www-form-urlencoded`. For an upload form
    /// (`multipart/form-data`), see [`multipart`](Self::multipart).
    ///
    /// Parsed on the first call. A body with more than
    /// [`Config::max_form_parts`](crate::Config::max_form_parts) fields is a 413, ready for `?`
    /// (as Werkzeug raises for `max_form_parts`), so a form of a million fields costs no more
    /// than the limit.
    ///
    /// ```
    /// use carafe::{route, testing::TestClient, App, HttpError, Request};
    ///
    /// fn greet(req: &Request) -> Result<String, HttpError> {
    ///     let form = req.form()?;
    ///     Ok(format!("Hello, {}!", form.get("name").unwrap_or("you")))
    /// }
    ///
    /// let mut app = App::new();
    /// app.config.max_form_parts = 2;
    /// route!(app, POST "/" => greet)?;
    /// let client = TestClient::new(app);
    /// assert_eq!(client.post("/").form(&[("name", "Ada")]).send().text(), "Hello, Ada!");
    /// let flood = client.post("/").form(&[("a", "1"), ("b", "2"), ("c", "3")]).send();
    /// assert_eq!(flood.status(), 413);
    /// # Ok::<(), carafe::Error>(())
    /// ```
    pub fn form(&self) -> Result<&Form<'a>, HttpError> {
        let parsed = self.lazy().form.get_or_init(|| {
            if !self.has_content_type("application/x-www-form-urlencoded") {
                return Ok(Form::default());
            }
            let limit = self.site.config.max_form_parts;
            Form::parse_bounded(self.body, limit).ok_or_else(|| {
                log::debug!(
                    "peer={} {} {}: form refused, more than {limit} fields",
                    self.peer,
                    self.head.method,
                    self.head.path
                );
                HttpError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the form has more than {limit} fields"),
                )
            })
        });
        parsed.as_ref().map_err(Clone::clone)
    }

    /// The whole urlencoded form as a `T` (axum's `Form`), with the rules of
    /// [`query_into`](Self::query_into): a 400 names the field and the problem, another
    /// `Content-Type` is a 415, and more than
    /// [`Config::max_form_parts`](crate::Config::max_form_parts) fields a 413.
    ///
    /// ```
    /// use carafe::{route, testing::TestClient, App, HttpError, Request};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Signup { name: String, age: u8, newsletter: Option<String> }
    ///
    /// fn signup(req: &Request) -> Result<String, HttpError> {
    ///     let form: Signup = req.form_into()?;
    ///     Ok(format!("{} ({}), newsletter: {}", form.name, form.age, form.newsletter.is_some()))
    /// }
    ///
    /// let mut app = App::new();
    /// route!(app, POST "/signup" => signup)?;
    /// let client = TestClient::new(app);
    /// let ok = client.post("/signup").form(&[("name", "Ada"), ("age", "36")]).send();
    /// assert_eq!(ok.text(), "Ada (36), newsletter: false");
    /// let bad = client.post("/signup").form(&[("name", "Ada"), ("age", "300")]).send();
    /// assert_eq!(bad.status(), 400);
    /// assert!(bad.text().contains("invalid form: `age`: number too large to fit in target type"));
    /// # Ok::<(), carafe::Error>(())
    /// ```
    pub fn form_into<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        if !self.has_content_type("application/x-www-form-urlencoded") {
            return Err(HttpError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected Content-Type: application/x-www-form-urlencoded",
            ));
        }
        // The field limit, checked (and cached) as `form` checks it.
        self.form()?;
        crate::extract::from_urlencoded(self.body, "form")
    }

    /// The `multipart/form-data` body: its text fields and uploaded files (Flask's
    /// `request.form` and `request.files` for an upload form). Parsed on the first call,
    /// never for a request whose handler does not ask; file bytes borrow the body.
    ///
    /// [`form`](Self::form) stays empty for a multipart body: parsing one can fail, and this
    /// says why. Errors, ready for `?`: 415 unless the `Content-Type` is
    /// `multipart/form-data`; 400 for a malformed body (no boundary, no closing delimiter,
    /// bad part headers, a part without a name); 413 for more than
    /// [`Config::max_form_parts`](crate::Config::max_form_parts) parts, a part header section
    /// over the head limits (`max_head_size`, `max_headers`), or a file over
    /// [`Config::max_file_size`](crate::Config::max_file_size).
    ///
    /// ```
    /// use carafe::testing::{MultipartBody, TestClient};
    /// use carafe::{route, App, HttpError, Request};
    ///
    /// fn upload(req: &Request) -> Result<String, HttpError> {
    ///     let upload = req.multipart()?;
    ///     let file = upload.file("file").ok_or_else(|| HttpError::bad_request("no file"))?;
    ///     let note = upload.form().get("note").unwrap_or("");
    ///     Ok(format!("{} ({} bytes): {note}", file.filename(), file.len()))
    /// }
    ///
    /// let mut app = App::new();
    /// route!(app, POST "/upload" => upload).unwrap();
    /// let client = TestClient::new(app);
    /// let body = MultipartBody::new()
    ///     .text("note", "hi")
    ///     .file("file", "hello.txt", "text/plain", b"hello\n".to_vec());
    /// assert_eq!(client.post("/upload").multipart(body).send().text(), "hello.txt (6 bytes): hi");
    /// assert_eq!(client.post("/upload").form(&[("note", "hi")]).send().status(), 415);
    /// ```
    pub fn multipart(&self) -> Result<&Multipart<'a>, HttpError> {
        let parsed = self.lazy().multipart.get_or_init(|| {
            let limits = MultipartLimits::from_config(&self.site.config);
            let parsed = Multipart::parse(self.content_type(), self.body, &limits);
            parsed.map_err(|error| {
                log::debug!(
                    "peer={} {} {}: multipart body refused: {error}",
                    self.peer,
                    self.head.method,
                    self.head.path
                );
                HttpError::from(error)
            })
        });
        parsed.as_ref().map_err(Clone::clone)
    }

    /// The body parsed as JSON into `T`: 415 unless the `Content-Type` is JSON, 400 (with
    /// serde's reason) if it does not parse.
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct Note { text: String }
    ///
    /// fn add(req: &carafe::Request) -> Result<String, carafe::HttpError> {
    ///     let note: Note = req.json()?;
    ///     Ok(format!("added {}", note.text))
    /// }
    /// ```
    #[cfg(feature = "json")]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        if !self.content_type().is_some_and(crate::media_type::is_json) {
            return Err(HttpError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected Content-Type: application/json",
            ));
        }
        crate::extract::from_json(self.body)
    }

    /// The decoded value of cookie `name` (Flask's `request.cookies.get(name)`), or `None`.
    /// If the client sent the name twice, the first wins (browsers send the cookie with the
    /// most specific path first).
    ///
    /// The `Cookie` headers are parsed on the first call, never for a request that does not
    /// ask; pairs that do not parse are skipped.
    ///
    /// ```
    /// use carafe::{route, testing::TestClient, App};
    ///
    /// let mut app = App::new();
    /// route!(app, GET "/" => |req| format!("theme: {}", req.cookie("theme").unwrap_or("light")))
    ///     .unwrap();
    /// let client = TestClient::new(app);
    /// let response = client.get("/").header("Cookie", "lang=en; theme=dark").send();
    /// assert_eq!(response.text(), "theme: dark");
    /// ```
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies()
            .find(|(cookie_name, _)| *cookie_name == name)
            .map(|(_, value)| value)
    }

    /// Every cookie the client sent, as decoded `(name, value)` pairs in the order sent,
    /// across all `Cookie` headers.
    ///
    /// ```
    /// fn list(req: &carafe::Request) -> String {
    ///     req.cookies().map(|(name, _)| name).collect::<Vec<_>>().join(", ")
    /// }
    /// ```
    pub fn cookies(&self) -> impl Iterator<Item = (&str, &str)> {
        self.lazy()
            .cookies
            .get_or_init(|| {
                let values = self
                    .head
                    .headers
                    .iter()
                    .filter(|header| header.name.eq_ignore_ascii_case("cookie"))
                    .filter_map(|header| std::str::from_utf8(header.value).ok());
                cookies::parse_cookie_headers(values)
            })
            .iter()
            .map(|(name, value)| (name.as_ref(), value.as_ref()))
    }

    /// Keeps `value` for the rest of this request, one value per type: Flask's `g`. A before
    /// hook can leave what it found (the signed-in user, say) for the handler and the after
    /// hooks, without looking it up twice. Returns the value of that type stored before, if
    /// any. Each request starts with none.
    ///
    /// ```
    /// use carafe::testing::TestClient;
    /// use carafe::{route, App, HttpError, Request, StatusCode};
    ///
    /// #[derive(Clone)]
    /// struct User(String);
    ///
    /// let mut app = App::new();
    /// app.before(|req: &Request| {
    ///     if let Some(name) = req.header("x-user") {
    ///         req.set_local(User(name.to_owned()));
    ///     }
    ///     None
    /// });
    /// route!(app, GET "/me" => |req| -> Result<String, HttpError> {
    ///     let user = req
    ///         .local::<User>()
    ///         .ok_or_else(|| HttpError::new(StatusCode::UNAUTHORIZED, "sign in first"))?;
    ///     Ok(format!("you are {}", user.0))
    /// })?;
    ///
    /// let client = TestClient::new(app);
    /// assert_eq!(client.get("/me").header("x-user", "ada").send().text(), "you are ada");
    /// assert_eq!(client.get("/me").send().status(), 401);
    /// # Ok::<(), carafe::Error>(())
    /// ```
    pub fn set_local<T: Clone + Send + Sync + 'static>(&self, value: T) -> Option<T> {
        self.lazy().locals.borrow_mut().insert(value)
    }

    /// A copy of the value of type `T` stored with [`set_local`](Self::set_local) during this
    /// request, if any.
    pub fn local<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        // No `lazy()`: a request that stored nothing allocates nothing to say so.
        let lazy = self.lazy.get()?;
        lazy.locals.borrow().get::<T>().cloned()
    }

    /// The session: a map of JSON values kept in a signed cookie, like Flask's `session`.
    /// Changes made through it are sent back as a `Set-Cookie` once the handler has returned.
    /// See [`Session`] for what it holds, how it is signed and its limits.
    ///
    /// The session cookie is read and verified on the first call, so a request whose handler
    /// never calls this pays nothing for sessions.
    ///
    /// ```
    /// use carafe::{HttpError, Request, Response};
    ///
    /// fn login(req: &Request) -> Result<Response, HttpError> {
    ///     let user = req.form()?.get("user").unwrap_or("guest");
    ///     req.session().insert("user", user)?;
    ///     Ok(Response::redirect("/"))
    /// }
    /// ```
    #[cfg(feature = "sessions")]
    pub fn session(&self) -> &Session {
        self.lazy().session.get_or_init(|| {
            let config = &self.site.config;
            Session::load(
                self.cookie(&config.session_cookie_name),
                Some(self.site.session_key()),
                config.session_lifetime,
                std::time::SystemTime::now(),
            )
        })
    }

    /// The session if the handler (or an error handler) used it.
    #[cfg(feature = "sessions")]
    pub(crate) fn session_if_used(&self) -> Option<&Session> {
        self.lazy.get().and_then(|lazy| lazy.session.get())
    }

    /// The address of the TCP peer that sent the request (a proxy, if there is one).
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The client's IP address: the TCP peer, or, when the peer is one of
    /// [`Config::trusted_proxies`](crate::Config::trusted_proxies), the client it names in
    /// `X-Forwarded-For` (read right to left, so a client cannot spoof it).
    pub fn remote_addr(&self) -> IpAddr {
        let trusted = &self.site.config.trusted_proxies;
        if trusted.is_empty() {
            // The same form either way: an IPv4 peer of a dual-stack socket as plain IPv4.
            return self.peer.ip().to_canonical();
        }
        let forwarded: Vec<&str> = self.header_all("x-forwarded-for").collect();
        proxy::client_ip(self.peer, forwarded.into_iter(), trusted)
    }

    /// Whether the TCP peer is one of [`Config::trusted_proxies`](crate::Config::trusted_proxies):
    /// then the headers that proxy adds can be believed, as [`remote_addr`](Self::remote_addr)
    /// and [`scheme`](Self::scheme) believe `X-Forwarded-For` and `X-Forwarded-Proto`. Use it
    /// for any other header a proxy vouches for, such as a request id it generated; from anyone
    /// else such headers are whatever the client chose to send.
    pub fn is_from_trusted_proxy(&self) -> bool {
        proxy::is_trusted(self.peer.ip(), &self.site.config.trusted_proxies)
    }

    /// `"https"` when a trusted proxy says so in `X-Forwarded-Proto`, else `"http"` (carafe
    /// itself speaks plain HTTP; TLS ends at the proxy).
    pub fn scheme(&self) -> &str {
        proxy::scheme(
            self.peer,
            self.header_all("x-forwarded-proto").last(),
            &self.site.config.trusted_proxies,
        )
    }

    /// The matched route's name (the handler's name unless `route!` gave one), if any.
    pub fn route_name(&self) -> Option<&str> {
        self.route.and_then(RouteInfo::name)
    }

    /// The matched route's pattern, e.g. `/hello/{name}`, if a route matched.
    pub fn route_pattern(&self) -> Option<&str> {
        self.route.map(RouteInfo::pattern)
    }

    /// The path of the route named `name` with `params`, like Flask's `url_for`; see
    /// [`App::url_for`] for the encoding and the query string. With `?` in a handler, an
    /// error becomes a logged 500.
    ///
    /// ```
    /// use carafe::{route, testing::TestClient, App, HttpError, Request, Response};
    ///
    /// fn post(req: &Request) -> String {
    ///     format!("post {}", req.param("slug").unwrap_or_default())
    /// }
    ///
    /// fn latest(req: &Request) -> Result<Response, HttpError> {
    ///     Ok(Response::redirect(&req.url_for("post", &[("slug", "epoll")])?))
    /// }
    ///
    /// let mut app = App::new();
    /// route!(app, GET "/blog/{slug}" => post)?;
    /// route!(app, GET "/latest" => latest)?;
    /// let client = TestClient::new(app);
    /// assert_eq!(client.get("/latest").send().header("location"), Some("/blog/epoll"));
    /// # Ok::<(), carafe::Error>(())
    /// ```
    ///
    /// [`App::url_for`]: crate::App::url_for
    ///
    /// Inside a [`Blueprint`](crate::Blueprint), `.name` is a route of the same blueprint.
    pub fn url_for(&self, name: &str, params: &[(&str, &str)]) -> Result<String, UrlForError> {
        let blueprint = self.route.and_then(RouteInfo::blueprint);
        let name = crate::url_for::qualified(name, blueprint)?;
        self.site.url_for(&name, params)
    }

    /// Renders template `name` from the app's template folder with `context` (anything
    /// serde can serialize, usually [`context!`](crate::context)) as an HTML response.
    ///
    /// A missing template or a render error is logged with its cause and answered with a
    /// 500; the server carries on.
    ///
    /// ```no_run
    /// use carafe::{context, Request, Response};
    ///
    /// fn index(req: &Request) -> Response {
    ///     req.render("index.html", context! { title => "Home" })
    /// }
    /// ```
    pub fn render<C: serde::Serialize>(&self, name: &str, context: C) -> Response {
        // A blueprint's templates resolve `url_for('.name')` in the blueprint.
        let blueprint = self.route.and_then(RouteInfo::blueprint);
        let page = minijinja::Value::from(minijinja::value::Serde(&context));
        let mut carafe = smallvec::SmallVec::new();
        carafe.push(("_blueprint", minijinja::Value::from(blueprint)));
        // Templates may call `get_flashed_messages()`: the messages waiting for this visitor,
        // removed from the session only if the page showed them; and, with CSRF protection
        // on, `csrf_token()`: a token made by the page is stored in the session.
        #[cfg(feature = "sessions")]
        let (flashes, token) = {
            let flashes = crate::flash::TemplateFlashes::new(self.pending_flashes());
            let token = self
                .site
                .csrf
                .then(|| crate::csrf::TemplateToken::new(self.pending_csrf_token()));
            carafe.push((
                "get_flashed_messages",
                minijinja::Value::from_dyn_object(flashes.clone()),
            ));
            carafe.push((
                "csrf_token",
                minijinja::Value::from(token.clone().map(minijinja::Value::from_dyn_object)),
            ));
            (flashes, token)
        };
        let context = crate::template::RenderContext::value(carafe, page);
        let rendered = self.site.render_template(name, context);
        #[cfg(feature = "sessions")]
        if rendered.is_ok() {
            if flashes.were_shown() {
                self.session().remove(crate::flash::FLASHES_KEY);
            }
            if let Some(made) = token.as_ref().and_then(|token| token.made()) {
                // A string always serializes.
                let _ = self.session().insert(crate::csrf::TOKEN_KEY, made);
            }
        }
        match rendered {
            Ok(html) => Response::html(html),
            Err(error) => {
                // Where it went wrong: the template (an included one, if the error is there)
                // and the line, then minijinja's account with the source around it.
                let place = match (error.name(), error.line()) {
                    (Some(file), Some(line)) => format!("{file} line {line}"),
                    (Some(file), None) => file.to_owned(),
                    _ => format!("{name:?}"),
                };
                report_server_error(format_args!(
                    "cannot render template {place} for {} {}: {error:#}",
                    self.head.method, self.head.path
                ));
                // The debug page shows the template's lines; without it, a debug build says
                // on the 500 what went wrong; a release build keeps it in the log.
                if self.site.debug {
                    let failure = crate::debug_page::Failure::Template {
                        place: &place,
                        error: &error,
                    };
                    crate::debug_page::page(self, &failure)
                } else if cfg!(debug_assertions) {
                    HttpError::internal(format!("template error in {place}: {error}")).into()
                } else {
                    HttpError::internal("template error").into()
                }
            }
        }
    }

    /// Answers with the file at `path`, as [`App::static_dir`](crate::App::static_dir) serves
    /// its files: Content-Type from the extension, `ETag` and `Last-Modified` with 304 answers
    /// to conditional requests, `Range` (206, or 416), and a large file streamed as the client
    /// reads it, never all in memory. A file that cannot be read is a 404, logged with the
    /// reason. Flask's `send_file`.
    ///
    /// `path` is trusted: never build it from the request. For a name the client chose, use
    /// [`send_from_directory`](Self::send_from_directory).
    ///
    /// ```
    /// fn terms(req: &carafe::Request) -> carafe::Response {
    ///     req.send_file("legal/terms.pdf")
    /// }
    /// ```
    pub fn send_file(&self, path: impl AsRef<std::path::Path>) -> Response {
        crate::static_files::send_file(self, path.as_ref())
    }

    /// Answers with the file `relative` inside `dir`, where `relative` may come from the
    /// client: the same checks as [`App::static_dir`](crate::App::static_dir) keep it inside
    /// `dir` (no `..`, no encoded escapes, no symlinks pointing out), and anything refused or
    /// missing is a 404. Otherwise as [`send_file`](Self::send_file). Flask's
    /// `send_from_directory`.
    ///
    /// ```
    /// use carafe::{route, App};
    ///
    /// let mut app = App::new();
    /// route!(app, GET "/reports/{*name}" => |req| {
    ///     req.send_from_directory("reports", req.param("name").unwrap_or_default())
    /// })?;
    /// # Ok::<(), carafe::Error>(())
    /// ```
    pub fn send_from_directory(
        &self,
        dir: impl AsRef<std::path::Path>,
        relative: &str,
    ) -> Response {
        crate::static_files::send_from_directory(self, dir.as_ref(), relative)
    }

    /// The app's shared value of type `T`, given with [`App::state`](crate::App::state): in
    /// handlers, hooks and error handlers alike, blocking handlers included. Missing, it is
    /// a 500 whose logged cause names the type, so `?` is the way to call it.
    ///
    /// ```
    /// use carafe::{route, testing::TestClient, App, HttpError, Request};
    ///
    /// struct Greeting(&'static str);
    ///
    /// fn hello(req: &Request) -> Result<String, HttpError> {
    ///     Ok(format!("{}, world", req.state::<Greeting>()?.0))
    /// }
    ///
    /// let mut app = App::new();
    /// app.state(Greeting("Hello"));
    /// route!(app, GET "/" => hello)?;
    /// assert_eq!(TestClient::new(app).get("/").send().text(), "Hello, world");
    /// # Ok::<(), carafe::Error>(())
    /// ```
    pub fn state<T: 'static>(&self) -> Result<&'a T, HttpError> {
        self.site.state.get::<T>()
    }

    /// What the route that matched says of itself; `None` for a request no route matched.
    #[cfg(any(feature = "sessions", feature = "compression"))]
    pub(crate) fn route_info(&self) -> Option<&'a RouteInfo> {
        self.route
    }

    /// The `Last-Event-ID` a reconnecting event-stream client sends: the id of the last
    /// [`Event`](crate::Event) it received, to resume from.
    pub fn last_event_id(&self) -> Option<&str> {
        self.header("last-event-id")
    }

    /// The app's WebSocket rooms ([`Hub`](crate::Hub)).
    #[cfg(feature = "websocket")]
    pub fn hub(&self) -> &'a std::sync::Arc<crate::hub::Hub> {
        &self.site.hub
    }

    /// Whether the route that matched is a WebSocket endpoint.
    #[cfg(feature = "websocket")]
    pub(crate) fn route_is_websocket(&self) -> bool {
        self.route.is_some_and(RouteInfo::is_websocket)
    }

    /// The frozen app this request is answered by.
    #[cfg(any(feature = "sessions", feature = "compression"))]
    pub(crate) fn site(&self) -> &'a Site {
        self.site
    }

    fn has_content_type(&self, essence: &str) -> bool {
        self.content_type()
            .is_some_and(|value| crate::media_type::is(value, essence))
    }
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", self.method())
            .field("target", &self.target())
            .field("version", &self.version())
            .field("peer", &self.peer)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}
