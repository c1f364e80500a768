//! `App::before` and `App::after` through the in-process test client: the order of
//! operations, early answers, which responses after hooks see, and panicking hooks.

use std::sync::{Arc, Mutex};

use carafe::testing::TestClient;
use carafe::{App, Method, Request, Response, StatusCode, abort, route};

/// A shared list of what ran, in order.
#[derive(Clone, Default)]
struct Trace(Arc<Mutex<Vec<String>>>);

impl Trace {
    fn push(&self, step: impl Into<String>) {
        self.0.lock().unwrap().push(step.into());
    }
    /// What ran since the last call.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Adds `value` to the response's `x-after` header list.
fn mark(response: &mut Response, value: &str) {
    response
        .headers_mut()
        .append("x-after", value.parse().unwrap());
}

fn after_marks(response: &carafe::testing::TestResponse) -> Vec<&str> {
    response.header_all("x-after").collect()
}

#[test]
fn before_hooks_handler_error_handler_and_after_hooks_run_in_order() {
    let trace = Trace::default();
    let mut app = App::new();
    for name in ["before 1", "before 2"] {
        let trace = trace.clone();
        app.before(move |req: &Request| {
            trace.push(format!("{name} {}", req.path()));
            None
        });
    }
    for name in ["after 1", "after 2"] {
        let trace = trace.clone();
        app.after(move |_req: &Request, response: &mut Response| {
            trace.push(format!("{name} {}", response.status().as_u16()));
            mark(response, name);
        });
    }
    let handler_trace = trace.clone();
    route!(app, GET "/" => move |_req| { handler_trace.push("handler"); "home" }).unwrap();
    let error_trace = trace.clone();
    app.error_handler(StatusCode::NOT_FOUND, move |_req, _error| {
        error_trace.push("error handler");
        Response::text("custom 404")
    });
    let client = TestClient::new(app);

    let response = client.get("/").send();
    assert_eq!(response.text(), "home");
    assert_eq!(after_marks(&response), ["after 1", "after 2"]);
    assert_eq!(
        trace.take(),
        [
            "before 1 /",
            "before 2 /",
            "handler",
            "after 1 200",
            "after 2 200"
        ]
    );

    // No route: the hooks still run, and the after hooks see the error handler's page.
    let response = client.get("/missing").send();
    assert_eq!(
        (response.status(), response.text().as_str()),
        (StatusCode::NOT_FOUND, "custom 404")
    );
    assert_eq!(after_marks(&response), ["after 1", "after 2"]);
    assert_eq!(
        trace.take(),
        [
            "before 1 /missing",
            "before 2 /missing",
            "error handler",
            "after 1 404",
            "after 2 404"
        ]
    );
}

#[test]
fn a_before_hook_answer_skips_the_handler_and_later_before_hooks() {
    let trace = Trace::default();
    let mut app = App::new();
    app.before(|req: &Request| {
        if req.path().starts_with("/admin") && req.header("authorization").is_none() {
            return Some(abort(StatusCode::UNAUTHORIZED).into());
        }
        None
    });
    let second = trace.clone();
    app.before(move |_req: &Request| {
        second.push("second before hook");
        None
    });
    app.after(|_req: &Request, response: &mut Response| mark(response, "after"));
    let handler = trace.clone();
    route!(app, GET "/admin" => move |_req| { handler.push("handler"); "secret" }).unwrap();
    app.error_handler(StatusCode::UNAUTHORIZED, |_req, _error| {
        Response::text("log in first")
    });
    let client = TestClient::new(app);

    let response = client.get("/admin").send();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.text(),
        "log in first",
        "an early error answer gets the error page"
    );
    assert_eq!(
        after_marks(&response),
        ["after"],
        "after hooks run on early answers"
    );
    assert!(trace.take().is_empty(), "nothing else ran");

    let response = client
        .get("/admin")
        .header("Authorization", "Basic x")
        .send();
    assert_eq!(response.text(), "secret");
    assert_eq!(trace.take(), ["second before hook", "handler"]);
}

#[test]
fn a_before_hook_can_redirect() {
    let mut app = App::new();
    app.before(|req: &Request| (req.path() == "/old").then(|| Response::redirect("/new")));
    route!(app, GET "/old" => |_req| "old page").unwrap();
    let client = TestClient::new(app);
    let response = client.get("/old").send();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.header("location"), Some("/new"));
}

#[test]
fn after_hooks_run_for_404_405_options_head_and_handler_panics() {
    let mut app = App::new();
    app.after(|req: &Request, response: &mut Response| {
        let route = req.route_name().unwrap_or("-").to_owned();
        response.set_header("x-route", &route).unwrap();
    });
    fn page(_req: &Request) -> &'static str {
        "page"
    }
    route!(app, GET "/page" => page).unwrap();
    route!(app, GET "/boom" => |_req| -> &'static str { panic!("handler exploded") }, name = "boom")
        .unwrap();
    let client = TestClient::new(app).propagate_errors(false);

    let cases = [
        (Method::GET, "/page", 200, "page"),
        (Method::HEAD, "/page", 200, "page"),
        (Method::GET, "/nope", 404, "-"),
        (Method::POST, "/page", 405, "-"),
        (Method::OPTIONS, "/page", 204, "-"),
        (Method::GET, "/boom", 500, "boom"),
    ];
    for (method, path, status, route) in cases {
        let response = client.request(method.clone(), path).send();
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        assert_eq!(response.header("x-route"), Some(route), "{method} {path}");
    }
    let response = client.request(Method::POST, "/page").send();
    assert_eq!(
        response.header("allow"),
        Some("GET, HEAD, OPTIONS"),
        "a 405 keeps its Allow"
    );
}

#[test]
fn a_panicking_before_hook_is_a_500_and_the_next_request_is_fine() {
    let trace = Trace::default();
    let mut app = App::new();
    app.before(|req: &Request| {
        if req.query("explode").is_some() {
            panic!("before hook exploded");
        }
        None
    });
    app.after(|_req: &Request, response: &mut Response| mark(response, "after"));
    let handler = trace.clone();
    route!(app, GET "/" => move |_req| { handler.push("handler"); "fine" }).unwrap();
    app.error_handler(StatusCode::INTERNAL_SERVER_ERROR, |_req, _error| {
        Response::text("our 500 page")
    });
    let client = TestClient::new(app).propagate_errors(false);

    let response = client.get("/?explode").send();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.text(), "our 500 page");
    assert_eq!(after_marks(&response), ["after"]);
    assert!(trace.take().is_empty(), "the handler did not run");

    let response = client.get("/").send();
    assert_eq!(response.text(), "fine");
    assert_eq!(trace.take(), ["handler"]);
}

#[test]
fn a_panicking_after_hook_is_the_500_page_with_the_after_hooks_rerun() {
    let mut app = App::new();
    app.after(|_req: &Request, response: &mut Response| mark(response, "first"));
    app.after(|req: &Request, response: &mut Response| {
        if req.query("explode").is_some() && response.status() == StatusCode::OK {
            panic!("after hook exploded");
        }
        mark(response, "second");
    });
    app.after(|_req: &Request, response: &mut Response| mark(response, "third"));
    route!(app, GET "/" => |_req| "fine").unwrap();
    app.error_handler(StatusCode::INTERNAL_SERVER_ERROR, |_req, _error| {
        Response::text("our 500 page")
    });
    let client = TestClient::new(app).propagate_errors(false);

    let response = client.get("/?explode").send();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.text(), "our 500 page");
    // The first pass's marks went with the discarded response; the page got all three.
    assert_eq!(after_marks(&response), ["first", "second", "third"]);

    let response = client.get("/").send();
    assert_eq!(response.text(), "fine");
    assert_eq!(after_marks(&response), ["first", "second", "third"]);
}

#[test]
fn an_after_hook_that_panics_on_the_500_page_too_leaves_the_page() {
    let mut app = App::new();
    app.after(|req: &Request, _response: &mut Response| {
        if req.query("explode").is_some() {
            panic!("after hook always explodes");
        }
    });
    app.after(|_req: &Request, response: &mut Response| mark(response, "never reached"));
    route!(app, GET "/" => |_req| "fine").unwrap();
    let client = TestClient::new(app).propagate_errors(false);
    let response = client.get("/?explode").send();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(after_marks(&response).is_empty());
    assert_eq!(client.get("/").send().text(), "fine");
}

#[cfg(feature = "sessions")]
#[test]
fn hooks_see_the_session_and_a_hook_panic_discards_its_changes() {
    let mut app = App::new();
    // An auth check that reads the session.
    app.before(|req: &Request| {
        let logged_in = req.session().get::<String>("user").is_some();
        (req.path() == "/private" && !logged_in).then(|| abort(StatusCode::FORBIDDEN).into())
    });
    app.after(|req: &Request, _response: &mut Response| {
        if req.query("explode").is_some() {
            panic!("after hook exploded");
        }
    });
    route!(app, POST "/login" => |req| -> Result<&'static str, carafe::HttpError> {
        req.session().insert("user", "ada")?;
        Ok("logged in")
    })
    .unwrap();
    route!(app, GET "/private" => |_req| "private").unwrap();
    let client = TestClient::new(app).propagate_errors(false);

    assert_eq!(
        client.get("/private").send().status(),
        StatusCode::FORBIDDEN
    );
    let response = client.post("/login?explode").send();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        response.header("set-cookie").is_none(),
        "a request that panicked stores no session"
    );
    assert_eq!(
        client.get("/private").send().status(),
        StatusCode::FORBIDDEN
    );
    client.post("/login").send();
    assert_eq!(client.get("/private").send().text(), "private");
}

#[test]
fn hooks_are_listed_in_debug() {
    let mut app = App::new();
    app.before(|_req: &Request| None);
    app.after(|_req: &Request, _response: &mut Response| {});
    app.after(|_req: &Request, _response: &mut Response| {});
    let debug = format!("{app:?}");
    assert!(debug.contains("hooks (before, after): (1, 2)"), "{debug}");
}

/// What a before hook found out about the request, for the handler and the after hooks.
#[derive(Clone, Debug, PartialEq)]
struct Visitor(String);

#[test]
fn request_locals_carry_values_from_before_hooks_to_the_handler_and_after_hooks() {
    let mut app = App::new();
    app.before(|req: &Request| {
        assert_eq!(req.local::<Visitor>(), None, "each request starts empty");
        if let Some(name) = req.query("as") {
            req.set_local(Visitor(name.to_owned()));
        }
        None
    });
    app.after(|req: &Request, response: &mut Response| {
        let name = req.local::<Visitor>().map_or("nobody".to_owned(), |v| v.0);
        response.set_header("x-visitor", &name).unwrap();
    });
    route!(app, GET "/" => |req| {
        let previous = req.set_local(Visitor("the handler".to_owned()));
        format!("{previous:?}")
    })
    .unwrap();
    route!(app, GET "/plain" => |_req| "no locals").unwrap();
    // A blocking route runs its hooks with its handler (on the pool, in a server), so it
    // sees them too.
    route!(app, GET "/report" => |req| format!("{:?}", req.local::<Visitor>()), blocking).unwrap();

    let client = TestClient::new(app);
    let response = client.get("/?as=ada").send();
    assert_eq!(response.text(), r#"Some(Visitor("ada"))"#);
    assert_eq!(response.header("x-visitor"), Some("the handler"));
    let response = client.get("/plain").send();
    assert_eq!(response.header("x-visitor"), Some("nobody"));
    let response = client.get("/report?as=eve").send();
    assert_eq!(response.text(), r#"Some(Visitor("eve"))"#);
    // The 404 page goes through the after hooks too, with what the before hook stored.
    let response = client.get("/missing?as=bob").send();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.header("x-visitor"), Some("bob"));
}
