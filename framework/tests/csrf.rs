//! CSRF protection (`App::csrf_protect`, `Blueprint::csrf_protect`): forged requests are
//! refused, real ones pass, and the exemptions hold.

use carafe::testing::{MultipartBody, TestClient};
use carafe::{App, Blueprint, CsrfProtection, Request, context, route};

/// Written once: tests run in parallel, and a template rewritten while another test reads it
/// (templates reload in debug builds) would read as empty.
fn templates() -> std::path::PathBuf {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("carafe-csrf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("form.html"), "{{ csrf_token() }}").unwrap();
        std::fs::write(dir.join("plain.html"), "no form here").unwrap();
        dir
    })
    .clone()
}

fn app(protection: CsrfProtection) -> App {
    let mut app = App::new();
    app.templates(templates()).unwrap();
    app.csrf_protect(protection);
    route!(app, GET "/form" => |req| req.render("form.html", context! {})).unwrap();
    route!(app, GET "/plain" => |req| req.render("plain.html", context! {})).unwrap();
    route!(app, GET "/token" => |req: &Request| req.csrf_token()).unwrap();
    route!(app, [POST, PUT, PATCH, DELETE] "/change" => |req| req.method().to_string()).unwrap();
    route!(app, POST "/hook" => |_req| "open", csrf_exempt).unwrap();
    app
}

fn token(client: &TestClient) -> String {
    client.get("/form").send().text()
}

#[test]
fn unsafe_methods_need_the_visitors_token() {
    let client = TestClient::new(app(CsrfProtection::default()));
    assert_eq!(
        client.get("/plain").send().text(),
        "no form here",
        "GET needs none"
    );
    assert!(
        client.cookie("session").is_none(),
        "a page without a form stores no token"
    );
    let missing = client.post("/change").form(&[("x", "1")]).send();
    assert_eq!(missing.status(), 400);
    assert!(
        missing.text().contains("the CSRF token is missing"),
        "{}",
        missing.text()
    );
    let mine = token(&client);
    assert_eq!(mine.len(), 43);
    assert_eq!(mine, token(&client), "one token per session");
    let forged = client
        .post("/change")
        .form(&[("csrf_token", "forged")])
        .send();
    assert_eq!(forged.status(), 400);
    assert!(
        forged.text().contains("does not match"),
        "{}",
        forged.text()
    );
    assert_eq!(
        client
            .post("/change")
            .form(&[("csrf_token", &mine)])
            .send()
            .text(),
        "POST"
    );
    for method in ["PUT", "PATCH", "DELETE"] {
        let method: carafe::Method = method.parse().unwrap();
        let refused = client.request(method.clone(), "/change").send();
        assert_eq!(refused.status(), 400, "{method}");
        let accepted = client
            .request(method.clone(), "/change")
            .header("X-CSRF-Token", &mine)
            .send();
        assert_eq!(accepted.text(), method.as_str());
    }
    let upload = MultipartBody::new()
        .text("csrf_token", &mine)
        .text("note", "hi");
    assert_eq!(
        client.post("/change").multipart(upload).send().text(),
        "POST"
    );
    // Another visitor's token is no good here.
    let other = TestClient::new(app(CsrfProtection::default()));
    let theirs = token(&other);
    assert_eq!(
        client
            .post("/change")
            .form(&[("csrf_token", &theirs)])
            .send()
            .status(),
        400
    );
    assert_eq!(
        client.get("/token").send().text(),
        mine,
        "req.csrf_token() agrees"
    );
}

#[test]
fn exempt_routes_and_json_bodies() {
    let client = TestClient::new(app(CsrfProtection::default()));
    assert_eq!(client.post("/hook").body("raw").send().text(), "open");
    let json = client
        .post("/change")
        .header("Content-Type", "application/json")
        .body("{}")
        .send();
    assert_eq!(
        json.text(),
        "POST",
        "JSON needs a CORS preflight cross-site"
    );
    let strict = TestClient::new(app(CsrfProtection { exempt_json: false }));
    let json = strict
        .post("/change")
        .header("Content-Type", "application/json")
        .body("{}")
        .send();
    assert_eq!(json.status(), 400);
    assert_eq!(
        strict.post("/nowhere").send().status(),
        404,
        "an unknown path is a 404, not a CSRF refusal"
    );
}

#[test]
fn a_blueprint_can_be_protected_alone() {
    let mut admin = Blueprint::new("admin");
    admin.csrf_protect(CsrfProtection::default());
    route!(admin, POST "/delete" => |_req| "deleted").unwrap();
    let mut app = App::new();
    route!(app, POST "/public" => |_req| "posted").unwrap();
    route!(app, GET "/token" => |req: &Request| req.csrf_token()).unwrap();
    app.register("/admin", admin).unwrap();
    let client = TestClient::new(app);
    assert_eq!(client.post("/public").send().text(), "posted");
    assert_eq!(client.post("/admin/delete").send().status(), 400);
    let token = client.get("/token").send().text();
    assert_eq!(
        client
            .post("/admin/delete")
            .header("X-CSRF-Token", &token)
            .send()
            .text(),
        "deleted"
    );
}
