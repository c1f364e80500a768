//! The debug page, Flask's debugger read-only: with [`App::debug`](crate::App::debug) on, a
//! handler's panic or a template error answers with a 500 page that shows what went wrong
//! (the message, where, the backtrace or the template's lines) and the request (method,
//! target, header fields, with cookies and credentials masked). Off, which is the default,
//! the 500 says nothing internal. It is for a developer's own machine: carafe refuses it on
//! an address other than loopback.

use std::fmt::Write as _;

use crate::handler::Panic;
use crate::html::escape_html;
use crate::request::Request;
use crate::response::Response;

/// Header fields whose values the page never shows: they carry credentials.
const MASKED: [&str; 4] = [
    "cookie",
    "authorization",
    "proxy-authorization",
    "x-csrf-token",
];

/// What failed.
pub(crate) enum Failure<'a> {
    /// A panic in `what` (e.g. "handler `index`").
    Panic { what: &'a str, panic: &'a Panic },
    /// A template that did not render: where, and minijinja's account.
    Template {
        place: &'a str,
        error: &'a minijinja::Error,
    },
}

/// The 500 debug page for `failure` while answering `request`.
pub(crate) fn page(request: &Request<'_>, failure: &Failure<'_>) -> Response {
    let mut html = String::from(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
         <title>500 · debug</title>\n<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem;\
         max-width:70rem}pre{background:#f4f1ec;padding:1rem;overflow:auto}th{text-align:left;\
         padding-right:1rem;vertical-align:top}.note{color:#8a3b12}</style></head>\n<body>\n",
    );
    // Writing to a String cannot fail.
    match failure {
        Failure::Panic { what, panic } => {
            let _ = writeln!(html, "<h1>{} panicked</h1>", escape_html(what));
            let _ = writeln!(
                html,
                "<p><strong>{}</strong></p>",
                escape_html(&panic.message)
            );
            if let Some(location) = &panic.location {
                let _ = writeln!(html, "<p>at <code>{}</code></p>", escape_html(location));
            }
            if let Some(backtrace) = &panic.backtrace {
                let _ = writeln!(
                    html,
                    "<h2>Backtrace</h2>\n<pre>{}</pre>",
                    escape_html(backtrace)
                );
            }
        }
        Failure::Template { place, error } => {
            let _ = writeln!(html, "<h1>Template error in {}</h1>", escape_html(place));
            let _ = writeln!(
                html,
                "<p><strong>{}</strong></p>",
                escape_html(&error.to_string())
            );
            // minijinja's alternate form shows the template's lines around the error.
            let _ = writeln!(html, "<pre>{}</pre>", escape_html(&format!("{error:#}")));
        }
    }
    html.push_str("<h2>Request</h2>\n<table>\n");
    let _ = writeln!(
        html,
        "<tr><th>{}</th><td><code>{}</code></td></tr>",
        escape_html(request.method().as_str()),
        escape_html(request.target())
    );
    for (name, value) in request.headers() {
        let shown = if MASKED
            .iter()
            .any(|masked| name.eq_ignore_ascii_case(masked))
        {
            "(hidden)".to_owned()
        } else {
            String::from_utf8_lossy(value).into_owned()
        };
        let _ = writeln!(
            html,
            "<tr><th>{}</th><td><code>{}</code></td></tr>",
            escape_html(name),
            escape_html(&shown)
        );
    }
    html.push_str(
        "</table>\n<p class=\"note\">This page shows because the app runs with App::debug \
         (or CARAFE_DEBUG=1). Never turn it on where others can reach the server.</p>\n\
         </body>\n</html>\n",
    );
    let mut response = Response::html(html);
    response.set_status(http::StatusCode::INTERNAL_SERVER_ERROR);
    response
}
