//! The body of an error answer that no error handler replaced, in the form the client asked
//! for with `Accept`: JSON (`{"error": {"status": 404, "message": "Not Found"}}`, with the
//! details of [`HttpError::with_json`]) for a client that prefers it, plain text for one that
//! asks for text only, and a small HTML page for everyone else (browsers, and `*/*`).

use crate::error::HttpError;
use crate::html::escape_html;
use crate::media_type;
use crate::response::Response;

/// What error bodies can be, most preferred first: HTML for a tie.
#[cfg(feature = "json")]
const OFFERED: [&str; 3] = ["text/html", "application/json", "text/plain"];
#[cfg(not(feature = "json"))]
const OFFERED: [&str; 2] = ["text/html", "text/plain"];

/// `error`'s body for a client that sent `accept`, with the error's status (and the error
/// kept on the response, so that later steps still see it).
pub(crate) fn negotiated(error: &HttpError, accept: Option<&str>) -> Response {
    let status = error.status();
    let mut response = match media_type::preferred(accept, &OFFERED) {
        #[cfg(feature = "json")]
        Some("application/json") => Response::json(&json_body(error)),
        Some("text/plain") => Response::text(format!("{} {}\n", status.as_u16(), error.message())),
        _ => Response::html(html_body(error)),
    };
    response.set_status(status);
    response.set_error(error.clone());
    response
}

/// `{"error": {"status": .., "message": .., "details": ..}}`, in that order.
#[cfg(feature = "json")]
#[derive(serde::Serialize)]
struct JsonError<'a> {
    error: JsonFields<'a>,
}

#[cfg(feature = "json")]
#[derive(serde::Serialize)]
struct JsonFields<'a> {
    status: u16,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a serde_json::Value>,
}

#[cfg(feature = "json")]
fn json_body(error: &HttpError) -> JsonError<'_> {
    JsonError {
        error: JsonFields {
            status: error.status().as_u16(),
            message: error.message(),
            details: error.details(),
        },
    }
}

fn html_body(error: &HttpError) -> String {
    let status = error.status();
    let reason = status.canonical_reason().unwrap_or("Error");
    let title = format!("{} {reason}", status.as_u16());
    let message = if error.message() == reason {
        String::new()
    } else {
        format!("\n<p>{}</p>", escape_html(error.message()))
    };
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body>\n<h1>{title}</h1>{message}\n</body>\n</html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn html_for_browsers_and_wildcards_json_for_json_clients_text_for_text_ones() {
        let error = HttpError::new(StatusCode::NOT_FOUND, "no <page> here");
        let html = negotiated(&error, Some("*/*"));
        assert_eq!(html.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            html.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        let page = String::from_utf8(html.body().as_bytes().to_vec()).unwrap();
        assert!(
            page.contains("<h1>404 Not Found</h1>\n<p>no &lt;page&gt; here</p>"),
            "{page}"
        );
        assert!(html.error().is_some(), "still an error for the after hooks");

        let text = negotiated(&error, Some("text/plain"));
        assert_eq!(text.body().as_bytes(), b"404 no <page> here\n");

        #[cfg(feature = "json")]
        {
            let json = negotiated(
                &error
                    .clone()
                    .with_json(serde_json::json!({"tried": ["a", "b"]})),
                Some("application/json"),
            );
            assert_eq!(json.header("content-type"), Some("application/json"));
            assert_eq!(
                json.body().as_bytes(),
                br#"{"error":{"status":404,"message":"no <page> here","details":{"tried":["a","b"]}}}"#
            );
        }
    }
}
