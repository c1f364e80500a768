//! Blueprints: routes under a prefix with their own hooks, error handlers, templates and
//! static files, names for url_for, and conflicts reported at registration.

use std::sync::Mutex;

use carafe::testing::TestClient;
use carafe::{App, Blueprint, HttpError, Request, Response, StatusCode, context, route};

/// What ran, in order, for the requests answered.
struct Trace(Mutex<Vec<String>>);

/// The app's trace, shared with the test.
struct TraceRef(std::sync::Arc<Trace>);

fn note(req: &Request, what: &str) {
    if let Ok(trace) = req.state::<TraceRef>() {
        trace.0.0.lock().unwrap().push(what.to_owned());
    }
}

/// A folder of `files`, written by the first test that asks: tests run in parallel, and a
/// file rewritten while another test reads it would read as empty.
fn folder(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    static WRITTEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let dir = std::env::temp_dir().join(format!("carafe-bp-{}-{name}", std::process::id()));
    let mut written = WRITTEN.lock().unwrap();
    if !written.iter().any(|done| done == name) {
        std::fs::create_dir_all(&dir).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        written.push(name.to_owned());
    }
    dir
}

fn app() -> App {
    let mut admin = Blueprint::new("admin");
    admin.before(|req: &Request| {
        note(req, "admin before");
        None
    });
    admin.after(|req: &Request, _: &mut Response| note(req, "admin after"));
    admin.error_handler(StatusCode::NOT_FOUND, |req: &Request, _: &HttpError| {
        note(req, "admin 404");
        "admin: no such page"
    });
    route!(admin, GET "/" => |req| { note(req, "admin handler"); "dashboard" }, name = "dashboard")
        .unwrap();
    route!(admin, GET "/users/{id}" => |req| -> Result<String, HttpError> {
        let id: u32 = req.param_as("id")?;
        if id == 0 { return Err(HttpError::not_found()); }
        Ok(format!("user {id}, list at {}", req.url_for(".dashboard", &[])?))
    }, name = "user")
    .unwrap();
    route!(admin, GET "/slow" => |req| req.url_for(".dashboard", &[]).unwrap_or_default(), blocking, name = "slow").unwrap();
    route!(admin, GET "/page" => |req| req.render("admin_page.html", context! {}), name = "page")
        .unwrap();

    let mut app = App::new();
    app.before(|req: &Request| {
        note(req, "app before");
        None
    });
    app.after(|req: &Request, _: &mut Response| note(req, "app after"));
    app.error_handler(StatusCode::NOT_FOUND, |req: &Request, _: &HttpError| {
        note(req, "app 404");
        "app: no such page"
    });
    app.templates(folder("app", &[("shared.html", "the app's version")]))
        .unwrap();
    route!(app, GET "/" => |req| { note(req, "app handler"); "home" }, name = "index").unwrap();
    admin
        .templates(folder(
            "admin",
            &[
                (
                    "admin_page.html",
                    "<a href=\"{{ url_for('.user', id=7) }}\">7</a> {% include 'shared.html' %}",
                ),
                ("shared.html", "the blueprint's version"),
            ],
        ))
        .unwrap();
    admin
        .static_dir("/assets", folder("assets", &[("a.css", "p{}")]))
        .unwrap();
    app.register("/admin", admin).unwrap();
    app
}

#[test]
fn hooks_and_error_handlers_nest_app_outside_blueprint_inside() {
    let trace = std::sync::Arc::new(Trace(Mutex::new(Vec::new())));
    let mut app = app();
    app.state(TraceRef(trace.clone()));
    let client = TestClient::new(app);
    let take = || std::mem::take(&mut *trace.0.lock().unwrap());

    assert_eq!(client.get("/admin").send().text(), "dashboard");
    assert_eq!(
        take(),
        [
            "app before",
            "admin before",
            "admin handler",
            "admin after",
            "app after"
        ]
    );
    assert_eq!(
        client.get("/admin/users/0").send().text(),
        "admin: no such page"
    );
    assert_eq!(
        take(),
        [
            "app before",
            "admin before",
            "admin 404",
            "admin after",
            "app after"
        ],
        "the blueprint's error handler, then its after hooks, then the app's"
    );
    assert_eq!(
        client.get("/admin/missing").send().text(),
        "admin: no such page",
        "unrouted under the prefix: the blueprint's"
    );
    take();
    assert_eq!(client.get("/missing").send().text(), "app: no such page");
    assert_eq!(
        take(),
        ["app before", "app 404", "app after"],
        "no blueprint hook outside it"
    );
    assert_eq!(client.get("/").send().text(), "home");
    assert_eq!(take(), ["app before", "app handler", "app after"]);
}

#[test]
fn names_relative_names_templates_static_files_and_blocking_routes() {
    let app = app();
    assert_eq!(
        app.url_for("admin.user", &[("id", "3")]).unwrap(),
        "/admin/users/3"
    );
    assert_eq!(app.url_for("admin.dashboard", &[]).unwrap(), "/admin");
    assert_eq!(
        app.url_for("admin.static", &[("filename", "a.css")])
            .unwrap(),
        "/admin/assets/a.css"
    );
    let user = app
        .routes()
        .into_iter()
        .find(|route| route.name() == Some("admin.user"))
        .unwrap();
    assert_eq!(user.blueprint(), Some("admin"));
    assert_eq!(user.pattern(), "/admin/users/{id}");
    let client = TestClient::new(app);
    assert_eq!(
        client.get("/admin/users/5").send().text(),
        "user 5, list at /admin"
    );
    assert_eq!(
        client.get("/admin/page").send().text(),
        "<a href=\"/admin/users/7\">7</a> the app's version",
        "'.user' in the blueprint's template; the app's folder is searched first"
    );
    assert_eq!(client.get("/admin/assets/a.css").send().text(), "p{}");
    assert_eq!(
        client.get("/admin/slow").send().text(),
        "/admin",
        "on the pool too"
    );
}

#[test]
fn conflicts_between_blueprints_name_both_routes() {
    let mut app = App::new();
    let mut one = Blueprint::new("one");
    route!(one, GET "/items/{id}" => |_req| "one").unwrap();
    let mut two = Blueprint::new("two");
    route!(two, GET "/{name}" => |_req| "two").unwrap();
    app.register("/shop", one).unwrap();
    let error = app.register("/shop/items", two).unwrap_err().to_string();
    assert!(
        error.contains("/shop/items/{name}") && error.contains("/shop/items/{id}"),
        "{error}"
    );
    let again = app
        .register("/other", Blueprint::new("one"))
        .unwrap_err()
        .to_string();
    assert!(again.contains("already registered"), "{again}");
    let bad = app
        .register("nope", Blueprint::new("three"))
        .unwrap_err()
        .to_string();
    assert!(bad.contains("must start with '/'"), "{bad}");
}

/// A blueprint's template may name routes relatively (`.item`) and absolutely (`index`,
/// `shop.item`) side by side: `url_for` asks the render for the blueprint only for a relative
/// name (issue 17, which made the others skip that lookup).
#[test]
fn a_blueprint_template_mixes_relative_and_absolute_names() {
    let mut app = App::new();
    app.templates(folder("shop-app", &[])).unwrap();
    route!(app, GET "/" => |_req| "home", name = "index").unwrap();
    let mut shop = Blueprint::new("shop");
    route!(shop, GET "/items/{id}" => |req| req.render("links.html", context! {}), name = "item")
        .unwrap();
    shop.templates(folder(
        "shop",
        &[(
            "links.html",
            "{{ url_for('.item', id=1) }} {{ url_for('index') }} {{ url_for('shop.item', id=2) }}",
        )],
    ))
    .unwrap();
    app.register("/shop", shop).unwrap();
    let client = TestClient::new(app);
    assert_eq!(
        client.get("/shop/items/9").send().text(),
        "/shop/items/1 / /shop/items/2"
    );
}
