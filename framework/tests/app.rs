//! The public API through the in-process test client: routing, handlers, errors, panics,
//! request accessors and response conversions. No sockets: `TestClient` drives the same
//! connection state machine and codec as the server.

#[cfg(feature = "json")]
use carafe::Json;
use carafe::testing::TestClient;
use carafe::{App, HttpError, Method, Request, Response, StatusCode, abort, route};

fn client(configure: impl FnOnce(&mut App)) -> TestClient {
    let mut app = App::new();
    configure(&mut app);
    TestClient::new(app)
}

#[test]
fn macro_forms_register_and_answer() {
    fn index(_req: &Request) -> &'static str {
        "index"
    }
    fn contact(req: &Request) -> String {
        format!("contact via {}", req.method())
    }
    let client = client(|app| {
        route!(app, GET "/" => index).unwrap();
        route!(app, [GET, POST] "/contact" => contact).unwrap();
        route!(app, GET "/hello/{name}" => |req| format!("Hello, {}!", req.param("name").unwrap_or("you"))).unwrap();
        route!(app, PUT "/named" => index, name = "custom").unwrap();
    });
    assert_eq!(client.get("/").send().text(), "index");
    assert_eq!(client.get("/contact").send().text(), "contact via GET");
    assert_eq!(client.post("/contact").send().text(), "contact via POST");
    assert_eq!(client.get("/hello/Ada%20L").send().text(), "Hello, Ada L!");
    assert_eq!(client.request(Method::PUT, "/named").send().text(), "index");
}

#[test]
fn path_parameters_are_decoded_one_by_one() {
    let client = client(|app| {
        route!(app, GET "/{shelf}/{book}/{page}" => |req| {
            let each = format!(
                "{}|{}|{}|{:?}",
                req.param("shelf").unwrap_or("-"),
                req.param("book").unwrap_or("-"),
                req.param("page").unwrap_or("-"),
                req.param("missing"),
            );
            let all: Vec<String> = req.params().map(|(key, value)| format!("{key}={value}")).collect();
            format!("{each} {}", all.join(","))
        })
        .unwrap();
    });
    assert_eq!(
        client.get("/plain/war%20%26%20peace/12").send().text(),
        "plain|war & peace|12|None shelf=plain,book=war & peace,page=12"
    );
    // A malformed escape stays as sent; invalid UTF-8 becomes U+FFFD instead of failing.
    assert_eq!(
        client.get("/100%/%FF/%41").send().text(),
        "100%|\u{FFFD}|A|None shelf=100%,book=\u{FFFD},page=A"
    );
}

#[test]
fn a_handler_panic_is_one_500_and_the_app_carries_on() {
    let client = client(|app| {
        route!(app, GET "/boom" => |_req| -> &'static str { panic!("handler exploded") }).unwrap();
        route!(app, GET "/fine" => |_req| "fine").unwrap();
    })
    .propagate_errors(false);
    let response = client.get("/boom").send();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !response.text().contains("exploded"),
        "panic details must not reach the client"
    );
    assert_eq!(client.get("/fine").send().text(), "fine");
    let pipelined = client
        .send_raw(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET /fine HTTP/1.1\r\nHost: x\r\n\r\n");
    let text = String::from_utf8_lossy(&pipelined);
    assert!(
        text.starts_with("HTTP/1.1 500 ") && text.ends_with("fine"),
        "{text}"
    );
}

#[test]
fn error_handlers_render_404_405_and_500() {
    let client = client(|app| {
        route!(app, GET "/boom" => |_req| -> &'static str { panic!("no") }).unwrap();
        route!(app, GET "/teapot" => |_req| Err::<&str, _>(abort(StatusCode::IM_A_TEAPOT)))
            .unwrap();
        app.error_handler(StatusCode::NOT_FOUND, |req: &Request, _: &HttpError| {
            Response::html(format!("<h1>no {}</h1>", req.path()))
        });
        app.error_handler(
            StatusCode::METHOD_NOT_ALLOWED,
            |_: &Request, e: &HttpError| format!("custom {}", e.status().as_u16()),
        );
        app.error_handler(
            StatusCode::INTERNAL_SERVER_ERROR,
            |_: &Request, _: &HttpError| "sorry",
        );
        app.error_handler(StatusCode::IM_A_TEAPOT, |_: &Request, _: &HttpError| {
            (StatusCode::OK, "explicit")
        });
    })
    .propagate_errors(false);
    let missing = client.get("/missing").send();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.text(), "<h1>no /missing</h1>");
    assert_eq!(
        missing.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let wrong = client.post("/boom").send();
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.text(), "custom 405");
    assert_eq!(
        wrong.header("allow"),
        Some("GET, HEAD, OPTIONS"),
        "Allow survives the custom page"
    );
    let boom = client.get("/boom").send();
    assert_eq!(
        (boom.status(), boom.text().as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "sorry")
    );
    // An explicit 200 from an error handler keeps the error's status (see App::error_handler).
    assert_eq!(
        client.get("/teapot").send().status(),
        StatusCode::IM_A_TEAPOT
    );
}

#[test]
fn typed_params_are_404_and_typed_queries_are_400() {
    let client = client(|app| {
        route!(app, GET "/user/{id}" => |req| -> Result<String, HttpError> {
            let id: u32 = req.param_as("id")?;
            let page: u32 = req.query_as("page")?.unwrap_or(1);
            Ok(format!("user {id} page {page}"))
        })
        .unwrap();
    });
    assert_eq!(client.get("/user/7").send().text(), "user 7 page 1");
    assert_eq!(client.get("/user/7?page=3").send().text(), "user 7 page 3");
    assert_eq!(
        client.get("/user/seven").send().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        client.get("/user/99999999999").send().status(),
        StatusCode::NOT_FOUND
    );
    let bad_query = client.get("/user/7?page=many").send();
    assert_eq!(bad_query.status(), StatusCode::BAD_REQUEST);
    assert!(bad_query.text().contains("page"), "{}", bad_query.text());
}

#[test]
fn query_form_headers_and_body_accessors() {
    let client = client(|app| {
        route!(app, [GET, POST] "/inspect" => |req| -> Result<String, HttpError> {
            Ok(format!(
                "q={:?} tags={:?} name={:?} agent={:?} ct={:?} body={}",
                req.query("q"),
                req.args().get_all("tag"),
                req.form()?.get("name"),
                req.header("USER-AGENT"),
                req.content_type(),
                req.body().len()
            ))
        })
        .unwrap();
    });
    let response = client
        .get("/inspect?q=a+b%26c&tag=x&tag=y")
        .header("User-Agent", "test/1")
        .send();
    assert_eq!(
        response.text(),
        r#"q=Some("a b&c") tags=["x", "y"] name=None agent=Some("test/1") ct=None body=0"#
    );
    let response = client
        .post("/inspect")
        .form(&[("name", "Ada Lovelace")])
        .send();
    assert!(
        response.text().contains(r#"name=Some("Ada Lovelace")"#),
        "{}",
        response.text()
    );
    let response = client
        .post("/inspect")
        .body("name=not-a-form")
        .header("Content-Type", "text/plain")
        .send();
    assert!(
        response.text().contains("name=None"),
        "form() is empty for other content types"
    );
}

#[cfg(feature = "json")]
#[derive(serde::Deserialize, serde::Serialize)]
struct Note {
    text: String,
}

#[cfg(feature = "json")]
#[test]
fn json_in_and_out() {
    let client = client(|app| {
        route!(app, POST "/notes" => |req| -> Result<Json<Note>, HttpError> {
            let note: Note = req.json()?;
            Ok(Json(Note { text: note.text.to_uppercase() }))
        })
        .unwrap();
    });
    let response = client
        .post("/notes")
        .json(&serde_json::json!({"text": "hi"}))
        .send();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(
        response.json::<serde_json::Value>(),
        serde_json::json!({"text": "HI"})
    );
    let bad = client
        .post("/notes")
        .header("Content-Type", "application/json")
        .body("{not json")
        .send();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("invalid JSON"));
    let wrong_type = client
        .post("/notes")
        .header("Content-Type", "text/plain")
        .body("{}")
        .send();
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[test]
fn head_uses_the_get_handler_without_a_body() {
    let client = client(|app| {
        route!(app, GET "/page" => |req| format!("method seen: {}", req.method())).unwrap();
    });
    let head = client.request(Method::HEAD, "/page").send();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.header("content-length"), Some("17"));
    assert!(head.body().is_empty());
    let raw = client.send_raw(b"HEAD /page HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(raw.ends_with(b"\r\n\r\n"), "no body bytes after the head");
}

#[test]
fn redirects_and_custom_headers() {
    let client = client(|app| {
        route!(app, POST "/form" => |_req| Response::redirect("/thanks")).unwrap();
        route!(app, GET "/custom" => |_req| {
            Response::text("ok").with_status(StatusCode::ACCEPTED).with_header("X-Trace", "abc")
        })
        .unwrap();
        route!(app, GET "/inject" => |req| {
            // A value taken from the client must not be able to add a header.
            Response::text("ok").with_header("X-Echo", req.query("v").unwrap_or(""))
        })
        .unwrap();
    })
    .propagate_errors(false);
    let injected = client.get("/inject?v=a%0D%0ASet-Cookie:%20evil=1").send();
    assert_eq!(injected.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(injected.header("set-cookie"), None);
    let response = client.post("/form").send();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.header("location"), Some("/thanks"));
    let response = client.get("/custom").send();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.header("x-trace"), Some("abc"));
}

#[test]
fn templates_render_and_a_missing_one_is_a_500() {
    let dir = std::env::temp_dir().join(format!("carafe-app-templates-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("page.html"), "<p>{{ who }}</p>").unwrap();
    let client = client(|app| {
        app.templates(&dir).unwrap();
        route!(app, GET "/page" => |req| req.render("page.html", carafe::context! { who => "<you>" })).unwrap();
        route!(app, GET "/gone" => |req| req.render("missing.html", carafe::context! {})).unwrap();
    })
    .propagate_errors(false);
    assert_eq!(client.get("/page").send().text(), "<p>&lt;you&gt;</p>");
    assert_eq!(
        client.get("/gone").send().status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn registration_errors_name_both_routes() {
    let mut app = App::new();
    route!(app, GET "/a" => |_req| "first").unwrap();
    let error = route!(app, GET "/a" => |_req| "second").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("is already registered by handler `closure@"),
        "{error}"
    );
    assert!(app.static_dir("/static", "/definitely/not/here").is_err());
    assert!(app.templates("/definitely/not/here").is_err());
}

#[test]
fn forwarded_headers_count_only_from_trusted_proxies() {
    let whoami = |app: &mut App| {
        route!(app, GET "/whoami" => |req| format!(
            "{} {} {}",
            req.remote_addr(),
            req.scheme(),
            req.is_from_trusted_proxy()
        ))
        .unwrap();
    };
    let untrusting = client(whoami);
    let spoofed = untrusting
        .get("/whoami")
        .header("X-Forwarded-For", "6.6.6.6")
        .header("X-Forwarded-Proto", "https")
        .send();
    assert_eq!(
        spoofed.text(),
        "127.0.0.1 http false",
        "headers from an untrusted peer are ignored"
    );

    // TestClient requests come from 127.0.0.1, here the trusted proxy.
    let behind_proxy = client(|app| {
        app.config.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
        whoami(app);
    });
    let forwarded = behind_proxy
        .get("/whoami")
        .header("X-Forwarded-For", "6.6.6.6, 198.51.100.7")
        .header("X-Forwarded-Proto", "https")
        .send();
    assert_eq!(
        forwarded.text(),
        "198.51.100.7 https true",
        "the rightmost untrusted hop is the client"
    );
}

#[test]
fn options_star_is_answered_for_the_whole_app_before_any_hook() {
    // Issue 11, defect 6: `OPTIONS *` got the app's 404.
    let client = client(|app| {
        route!(app, GET "/" => |_req| "home").unwrap();
        route!(app, [POST, DELETE] "/items/{id}" => |_req| "item").unwrap();
        app.before(|_req: &Request| Some(abort(StatusCode::UNAUTHORIZED).into()));
    });
    let raw = client.send_raw(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 204 No Content\r\n"), "{text}");
    assert!(
        text.contains("\r\nAllow: GET, HEAD, POST, DELETE, OPTIONS\r\n"),
        "{text}"
    );
    // A path is still a resource of the app, hooks and all.
    assert_eq!(client.request(Method::OPTIONS, "/").send().status(), 401);
}

#[test]
fn an_informational_status_from_a_handler_is_a_logged_500() {
    // Issue 11, defect 8: a 103 went out as the final response; the client waited forever.
    let client = client(|app| {
        route!(app, GET "/early" => |_req| Response::new(StatusCode::EARLY_HINTS)).unwrap();
        route!(app, GET "/continue" => |_req| (StatusCode::CONTINUE, "go on")).unwrap();
        app.after(|_req: &Request, response: &mut Response| {
            if response.status() == StatusCode::OK {
                response.set_status(StatusCode::SWITCHING_PROTOCOLS);
            }
        });
        route!(app, GET "/switched" => |_req| "by a hook").unwrap();
    })
    .propagate_errors(false);
    for path in ["/early", "/continue", "/switched"] {
        let response = client.get(path).send();
        assert_eq!(response.status(), 500, "{path}");
    }
    let raw = client.send_raw(b"GET /early HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 500 "));
}

/// The message of the panic `f` raises.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("it panics");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[test]
fn the_test_client_fails_the_test_with_a_handler_panic_or_template_error() {
    let dir = std::env::temp_dir().join(format!("carafe-app-propagate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bad.html"), "<p>\n{{ url_for('nowhere') }}</p>").unwrap();
    let make = || {
        let mut app = App::new();
        app.templates(&dir).unwrap();
        route!(app, GET "/boom" => |_req| -> &'static str { panic!("handler exploded") }).unwrap();
        route!(app, GET "/bad" => |req| req.render("bad.html", carafe::context! {})).unwrap();
        route!(app, GET "/fine" => |_req| "fine").unwrap();
        app
    };
    let client = TestClient::new(make());
    assert_eq!(client.get("/fine").send().text(), "fine");
    let message = panic_message(|| {
        client.get("/boom").send();
    });
    assert!(message.contains("handler exploded"), "{message}");
    assert!(
        message.contains("framework/tests/app.rs:"),
        "where: {message}"
    );
    let message = panic_message(|| {
        client.get("/bad").send();
    });
    assert!(
        message.contains("cannot render template bad.html line 2 for GET /bad"),
        "{message}"
    );
    assert!(message.contains("nowhere"), "{message}");

    // Opted out, the test sees the 500; in a debug build its page says what went wrong.
    let client = TestClient::new(make()).propagate_errors(false);
    assert_eq!(client.get("/boom").send().status(), 500);
    let page = client.get("/bad").send();
    assert_eq!(page.status(), 500);
    if cfg!(debug_assertions) {
        assert!(
            page.text().contains("template error in bad.html line 2"),
            "{}",
            page.text()
        );
        assert!(page.text().contains("nowhere"), "{}", page.text());
    } else {
        assert!(!page.text().contains("nowhere"), "{}", page.text());
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_test_client_has_a_shortcut_for_each_method() {
    let client = client(|app| {
        route!(app, [GET, PUT, PATCH, DELETE, POST] "/thing" => |req| req.method().to_string())
            .unwrap();
    });
    assert_eq!(client.put("/thing").send().text(), "PUT");
    assert_eq!(client.patch("/thing").send().text(), "PATCH");
    assert_eq!(client.delete("/thing").send().text(), "DELETE");
    let head = client.head("/thing").send();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.text(), "", "HEAD has no body");
    assert_eq!(head.header("content-length"), Some("4"), "the GET's length");
    let options = client.options("/thing").send();
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        options.header("allow"),
        Some("GET, HEAD, PUT, PATCH, DELETE, POST, OPTIONS")
    );
}

#[test]
fn a_body_refused_for_its_size_gets_the_apps_error_page_and_after_hooks() {
    let client = client(|app| {
        app.config.max_body_size = 100;
        route!(app, POST "/upload" => |req| req.body().len().to_string()).unwrap();
        app.error_handler(StatusCode::PAYLOAD_TOO_LARGE, |req, error| {
            Response::html(format!(
                "<h1>Too large</h1><p>{} {}: {}</p>",
                req.method(),
                req.path(),
                error.message()
            ))
        });
        app.after(|_req, response| {
            response.set_header("X-Hook", "ran").unwrap();
        });
    });
    let response = client.post("/upload").body(vec![b'x'; 101]).send();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.header("x-hook"), Some("ran"));
    assert_eq!(
        response.header("connection"),
        Some("close"),
        "its body is unread"
    );
    assert!(
        response
            .text()
            .starts_with("<h1>Too large</h1><p>POST /upload: request body larger than 100"),
        "{}",
        response.text()
    );
    assert_eq!(
        client.post("/upload").body(vec![b'x'; 100]).send().text(),
        "100"
    );
}

#[test]
fn typed_forms_refuse_other_types_and_too_many_fields() {
    #[derive(serde::Deserialize)]
    struct Note {
        text: String,
    }
    let client = client(|app| {
        app.config.max_form_parts = 3;
        route!(app, POST "/note" => |req| -> Result<String, HttpError> {
            Ok(req.form_into::<Note>()?.text)
        })
        .unwrap();
    });
    assert_eq!(
        client.post("/note").form(&[("text", "hi")]).send().text(),
        "hi"
    );
    let json = client
        .post("/note")
        .header("Content-Type", "application/json")
        .body(r#"{"text":"hi"}"#)
        .send();
    assert_eq!(json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let flood = client
        .post("/note")
        .form(&[("text", "a"), ("b", "1"), ("c", "2"), ("d", "3")])
        .send();
    assert_eq!(flood.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let missing = client.post("/note").form(&[("txt", "typo")]).send();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert!(
        missing
            .text()
            .contains("invalid form: missing field `text`"),
        "{}",
        missing.text()
    );
}

#[cfg(feature = "json")]
#[test]
fn json_errors_name_the_field_line_and_column() {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Order {
        items: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        sku: String,
        qty: u32,
    }
    let client = client(|app| {
        route!(app, POST "/order" => |req| -> Result<&'static str, HttpError> {
            req.json::<Order>()?;
            Ok("ok")
        })
        .unwrap();
    });
    let bad = client
        .post("/order")
        .header("Content-Type", "application/json")
        .body("{\"items\": [{\"sku\": \"a\", \"qty\": 1}, {\"sku\": \"b\", \"qty\": -2}]}")
        .send();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(
        bad.text()
            .contains("invalid JSON: `items[1].qty`: invalid value: integer `-2`, expected u32 at line 1 column 57"),
        "{}",
        bad.text()
    );
}
