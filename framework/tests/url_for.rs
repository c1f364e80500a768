//! Reverse routing through the public API: `App::url_for` at setup, `Request::url_for` in
//! handlers, and `url_for(...)` in templates, each URL followed back through the router.

use std::path::PathBuf;

use carafe::testing::TestClient;
use carafe::{App, HttpError, Request, Response, StatusCode, UrlForError, context, route};

fn post(req: &Request) -> String {
    format!("post {}", req.param("slug").unwrap_or_default())
}

fn files(req: &Request) -> String {
    format!("file {}", req.param("path").unwrap_or_default())
}

/// A scratch folder with `files`, removed when dropped.
struct Folder(PathBuf);

impl Folder {
    fn new(name: &str, files: &[(&str, &str)]) -> Self {
        let dir =
            std::env::temp_dir().join(format!("carafe-url-for-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (file, text) in files {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Self(dir)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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
    let client = TestClient::new(app).propagate_errors(false);

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
    let client = TestClient::new(app).propagate_errors(false);
    let response = client.get("/broken").send();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !response.text().contains("no_such_route"),
        "the details stay in the log"
    );
    assert_eq!(client.get("/blog/x").send().text(), "post x");
}

#[test]
fn names_come_from_the_handler_or_route_and_static_dirs_answer_to_static() {
    let statics = Folder::new(
        "static",
        &[("style.css", "body {}"), ("img/a b.png", "png")],
    );
    let mut app = App::new();
    app.static_dir("/static", &statics.0).unwrap();
    app.static_dir("/media/", &statics.0).unwrap();
    route!(app, GET "/blog/{slug}" => post).unwrap();
    route!(app, GET "/" => |_req| "home", name = "index").unwrap();
    assert_eq!(app.url_for("index", &[]).unwrap(), "/");
    assert_eq!(app.url_for("post", &[("slug", "x")]).unwrap(), "/blog/x");
    let style = app.url_for("static", &[("filename", "style.css")]).unwrap();
    assert_eq!(style, "/static/style.css");
    let image = app
        .url_for("static:/media/", &[("filename", "img/a b.png")])
        .unwrap();
    assert_eq!(image, "/media/img/a%20b.png");
    assert_eq!(
        app.url_for("static", &[("filename", "style.css"), ("v", "3")])
            .unwrap(),
        "/static/style.css?v=3"
    );
    let client = TestClient::new(app);
    assert_eq!(client.get(&style).send().text(), "body {}");
    assert_eq!(client.get(&image).send().text(), "png");
}

#[test]
fn a_route_named_static_before_static_dir_is_a_registration_error() {
    let statics = Folder::new("static-clash", &[("style.css", "")]);
    let mut app = App::new();
    route!(app, GET "/assets/{*filename}" => |_req| "mine", name = "static").unwrap();
    let error = app.static_dir("/static", &statics.0).unwrap_err();
    assert!(error.to_string().contains("route name `static`"), "{error}");
}

#[test]
fn templates_call_url_for_with_keyword_arguments() {
    let templates = Folder::new(
        "templates",
        &[
            (
                "nav.html",
                "<a href=\"{{ url_for('index') }}\">home</a> \
                 <a href=\"{{ url_for('post', slug=slug) }}\">post</a> \
                 <a href=\"{{ url_for('user', id=7) }}\">user</a> \
                 <a href=\"{{ url_for('post', slug='x', page=2, sort='new') }}\">page</a> \
                 <link href=\"{{ url_for('static', filename='css/site.css') }}\"> \
                 <a href=\"{{ url_for('index', tab='a&b', page=2) }}\">tab</a> \
                 <a href=\"{{ url_for('faq') }}\">faq</a>",
            ),
            (
                "link.txt",
                "{{ url_for('post', slug='x', page=2, sort='new') }} {{ url_for('index') }} \
                 {{ url_for('index', tab='a&b', page=2) }} {{ url_for('faq') }}",
            ),
            ("unknown.html", "{{ url_for('nope') }}"),
            ("missing.html", "{{ url_for('post') }}"),
            ("undefined.html", "{{ url_for('post', slug=nothing) }}"),
        ],
    );
    let statics = Folder::new("template-static", &[]);
    // Templates first, routes after: the template function sees the final table.
    let mut app = App::new();
    app.templates(&templates.0).unwrap();
    route!(app, GET "/" => |req| req.render("nav.html", context! { slug => "a b/c" }), name = "index")
        .unwrap();
    route!(app, GET "/blog/{slug}" => post).unwrap();
    route!(app, GET "/user/{id}" => |_req| "user", name = "user").unwrap();
    // A route without parameters whose URL HTML escaping changes: its two made-once forms.
    route!(app, GET "/q&a" => |_req| "faq", name = "faq").unwrap();
    route!(app, GET "/link.txt" => |req| {
        let mut response = req.render("link.txt", context! {});
        response.set_header("content-type", "text/plain").unwrap();
        response
    })
    .unwrap();
    for name in ["unknown", "missing", "undefined"] {
        let template = format!("{name}.html");
        app.route(
            carafe::RouteSpec::new(&[carafe::Method::GET], format!("/{name}")),
            move |req: &Request| req.render(&template, context! {}),
        )
        .unwrap();
    }
    app.static_dir("/static", &statics.0).unwrap();
    let client = TestClient::new(app).propagate_errors(false);

    let html = client.get("/").send().text();
    assert_eq!(
        html,
        "<a href=\"/\">home</a> \
         <a href=\"/blog/a%20b%2Fc\">post</a> \
         <a href=\"/user/7\">user</a> \
         <a href=\"/blog/x?page=2&amp;sort=new\">page</a> \
         <link href=\"/static/css/site.css\"> \
         <a href=\"/?page=2&amp;tab=a%26b\">tab</a> \
         <a href=\"/q&amp;a\">faq</a>",
        "a route without parameters takes keyword arguments as its query string"
    );
    // No HTML escaping outside HTML templates.
    assert_eq!(
        client.get("/link.txt").send().text(),
        "/blog/x?page=2&sort=new / /?page=2&tab=a%26b /q&a"
    );
    for name in ["unknown", "missing", "undefined"] {
        let response = client.get(&format!("/{name}")).send();
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{name}"
        );
    }
    assert_eq!(client.get("/blog/a%20b%2Fc").send().text(), "post a b/c");
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
