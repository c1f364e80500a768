//! Reverse routing through the public API: `App::url_for` at setup and `Request::url_for` in
//! handlers, each URL followed back through the router.

use carafe::testing::TestClient;
use carafe::{App, HttpError, Request, Response, StatusCode, UrlForError, route};

fn post(req: &Request) -> String {
    format!("post {}", req.param("slug").unwrap_or_default())
}

fn files(req: &Request) -> String {
    format!("file {}", req.param("path").unwrap_or_default())
}

#[test]
fn handlers_build_urls_that_route_back_to_the_same_values() {
    let mut app = App::new();
    route!(app, GET "/blog/{slug}" => post).unwrap();
    route!(app, GET "/files/{*path}" => files).unwrap();
    // The value arrives as the body, so any text can be sent as is.
    route!(app, POST "/link/post" => |req| -> Result<String, HttpError> {
        Ok(req.url_for("post", &[("slug", req.text()?)])?)
    })
    .unwrap();
    route!(app, POST "/link/files" => |req| -> Result<String, HttpError> {
        Ok(req.url_for("files", &[("path", req.text()?)])?)
    })
    .unwrap();
    let client = TestClient::new(app);

    for slug in [
        "epoll", "a b", "a/b", "100%", "why?", "c#", "Wörld", "{x}", "a+b",
    ] {
        let url = client.post("/link/post").body(slug).send().text();
        let followed = client.get(&url).send();
        assert_eq!(followed.text(), format!("post {slug}"), "{slug} via {url}");
    }
    for path in ["css/site.css", "a b/c d.txt", "x/100%/y?#"] {
        let url = client.post("/link/files").body(path).send().text();
        let followed = client.get(&url).send();
        assert_eq!(followed.text(), format!("file {path}"), "{path} via {url}");
    }
    let missing = client.post("/link/post").body("").send();
    assert_eq!(
        missing.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "an empty slug"
    );
}

#[test]
fn a_redirect_built_with_url_for() {
    let mut app = App::new();
    route!(app, GET "/blog/{slug}" => post).unwrap();
    route!(app, GET "/latest" => |req| -> Result<Response, HttpError> {
        Ok(Response::redirect(&req.url_for("post", &[("slug", "epoll")])?))
    })
    .unwrap();
    let client = TestClient::new(app);
    let response = client.get("/latest").send();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.header("location"), Some("/blog/epoll"));
}

#[test]
fn an_unknown_name_or_missing_param_is_an_error_and_a_500_with_question_mark() {
    let mut app = App::new();
    route!(app, GET "/blog/{slug}" => post).unwrap();
    route!(app, GET "/broken" => |req| -> Result<String, HttpError> {
        Ok(req.url_for("no_such_route", &[])?)
    })
    .unwrap();
    assert_eq!(
        app.url_for("no_such_route", &[]),
        Err(UrlForError::UnknownRoute {
            name: "no_such_route".into()
        })
    );
    assert_eq!(
        app.url_for("post", &[]).unwrap_err().to_string(),
        "cannot build a URL for route `post`: parameter `slug` is missing"
    );
    // Into carafe::Error, for `?` in a setup function.
    let error: carafe::Error = app.url_for("post", &[("slug", "")]).unwrap_err().into();
    assert_eq!(
        error.to_string(),
        "cannot build a URL for route `post`: parameter `slug` is empty"
    );
    let client = TestClient::new(app);
    let response = client.get("/broken").send();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !response.text().contains("no_such_route"),
        "the details stay in the log"
    );
    assert_eq!(client.get("/blog/x").send().text(), "post x");
}

#[test]
fn names_come_from_the_handler_or_the_route() {
    let mut app = App::new();
    route!(app, GET "/blog/{slug}" => post).unwrap();
    route!(app, GET "/p/{slug}" => post).unwrap();
    route!(app, GET "/" => |_req| "home", name = "index").unwrap();
    assert_eq!(app.url_for("index", &[]).unwrap(), "/");
    assert_eq!(
        app.url_for("post", &[("slug", "x")]).unwrap(),
        "/blog/x",
        "a handler on two paths builds the first"
    );
}
