//! CORS policies with the header fields browsers send: preflights answered before routing,
//! allowed and refused origins, `Vary: Origin`, credentials, and a blueprint's own policy.

use std::time::Duration;

use carafe::testing::TestClient;
use carafe::{App, Blueprint, Cors, route};

const SITE: &str = "https://site.example";

fn app() -> App {
    let mut app = App::new();
    route!(app, [GET, POST, DELETE] "/items" => |req| req.method().to_string()).unwrap();
    app.cors(
        Cors::new()
            .allow_origin(SITE)
            .allow_methods(["GET", "POST", "DELETE"])
            .allow_headers(["Content-Type", "X-Client"])
            .expose_headers(["X-Total"])
            .allow_credentials(true)
            .max_age(Duration::from_secs(600)),
    )
    .unwrap();
    app
}

fn preflight<'c>(
    client: &'c TestClient,
    origin: &str,
    method: &str,
) -> carafe::testing::TestRequest<'c> {
    client
        .options("/items")
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
}

#[test]
fn a_preflight_is_answered_before_routing_with_what_is_allowed() {
    let client = TestClient::new(app());
    let answer = preflight(&client, SITE, "DELETE")
        .header("Access-Control-Request-Headers", "x-client, content-type")
        .send();
    assert_eq!(answer.status(), 204);
    assert_eq!(answer.header("access-control-allow-origin"), Some(SITE));
    assert_eq!(
        answer.header("access-control-allow-methods"),
        Some("GET, POST, DELETE")
    );
    assert_eq!(
        answer.header("access-control-allow-headers"),
        Some("x-client, content-type")
    );
    assert_eq!(
        answer.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(answer.header("access-control-max-age"), Some("600"));
    assert_eq!(answer.header("vary"), Some("Origin"));
    assert_eq!(
        answer.header("allow"),
        None,
        "not the router's OPTIONS answer"
    );

    for (origin, method, header, why) in [
        (
            "https://evil.example",
            "GET",
            None,
            "origin https://evil.example is not allowed",
        ),
        (SITE, "PUT", None, "method PUT is not allowed"),
        (
            SITE,
            "GET",
            Some("x-secret"),
            "header x-secret is not allowed",
        ),
    ] {
        let mut request = preflight(&client, origin, method);
        if let Some(header) = header {
            request = request.header("Access-Control-Request-Headers", header);
        }
        let refused = request.header("Accept", "text/plain").send();
        assert_eq!(refused.status(), 403, "{why}");
        assert_eq!(refused.header("access-control-allow-origin"), None);
        assert!(refused.text().contains(why), "{}", refused.text());
    }
    // An OPTIONS that is not a preflight is still the router's.
    let plain = client.options("/items").send();
    assert_eq!(
        plain.header("allow"),
        Some("GET, HEAD, POST, DELETE, OPTIONS")
    );
}

#[test]
fn actual_requests_get_the_fields_for_allowed_origins_only() {
    let client = TestClient::new(app());
    let allowed = client.delete("/items").header("Origin", SITE).send();
    assert_eq!(allowed.text(), "DELETE");
    assert_eq!(allowed.header("access-control-allow-origin"), Some(SITE));
    assert_eq!(
        allowed.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        allowed.header("access-control-expose-headers"),
        Some("X-Total")
    );
    assert_eq!(allowed.header("vary"), Some("Origin"));
    let other = client
        .get("/items")
        .header("Origin", "https://evil.example")
        .send();
    assert_eq!(
        other.text(),
        "GET",
        "answered; the browser keeps it from the page"
    );
    assert_eq!(other.header("access-control-allow-origin"), None);
    assert_eq!(
        other.header("vary"),
        Some("Origin"),
        "a cache must not mix them up"
    );
    let same_site = client.get("/items").send();
    assert_eq!(same_site.header("access-control-allow-origin"), None);
    assert_eq!(
        client
            .get("/nowhere")
            .header("Origin", SITE)
            .send()
            .header("access-control-allow-origin"),
        Some(SITE),
        "errors too, so the page can read them"
    );
}

#[test]
fn any_origin_is_a_star_never_with_credentials() {
    let mut app = App::new();
    route!(app, GET "/open" => |_req| "open").unwrap();
    app.cors(Cors::new().allow_any_origin()).unwrap();
    let client = TestClient::new(app);
    let answer = client
        .get("/open")
        .header("Origin", "https://any.example")
        .send();
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    assert_eq!(answer.header("vary"), None, "the same for every origin");
    let error = App::new()
        .cors(Cors::new().allow_any_origin().allow_credentials(true))
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("credentials cannot be allowed for any origin"),
        "{error}"
    );
}

#[test]
fn a_blueprints_policy_covers_its_routes_only() {
    let mut api = Blueprint::new("api");
    route!(api, [GET, PUT] "/data" => |req| req.method().to_string()).unwrap();
    api.cors(Cors::new().allow_origin(SITE).allow_methods(["GET", "PUT"]))
        .unwrap();
    let mut app = App::new();
    route!(app, GET "/page" => |_req| "page").unwrap();
    app.register("/api", api).unwrap();
    let client = TestClient::new(app);
    let preflight = client
        .options("/api/data")
        .header("Origin", SITE)
        .header("Access-Control-Request-Method", "PUT")
        .send();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some(SITE));
    let page = client.get("/page").header("Origin", SITE).send();
    assert_eq!(page.header("access-control-allow-origin"), None);
}
