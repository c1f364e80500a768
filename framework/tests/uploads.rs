//! `multipart/form-data` uploads through the in-process test client: `Request::multipart`
//! behind the real codec and connection, its errors as responses, and its limits next to the
//! body limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use carafe::testing::{MultipartBody, TestClient};
use carafe::{App, HttpError, Request, Response, StatusCode, route};

/// Describes every field and file of the upload, one per line.
fn describe(req: &Request) -> Result<String, HttpError> {
    let upload = req.multipart()?;
    let mut lines: Vec<String> = upload
        .form()
        .iter()
        .map(|(name, value)| format!("field {name}={value:?}"))
        .collect();
    for file in upload.files() {
        lines.push(format!(
            "file {}: {:?} {:?} {} bytes, safe {:?}",
            file.name(),
            file.filename(),
            file.content_type(),
            file.len(),
            file.safe_filename()
        ));
    }
    Ok(lines.join("\n"))
}

fn client(configure: impl FnOnce(&mut App)) -> TestClient {
    let mut app = App::new();
    route!(app, POST "/upload" => describe).unwrap();
    configure(&mut app);
    TestClient::new(app)
}

#[test]
fn fields_and_files_reach_the_handler() {
    let client = client(|_| {});
    let body = MultipartBody::new()
        .text("note", "hi there")
        .file(
            "file",
            "../notes/a.txt",
            "text/plain",
            b"hello\r\n".to_vec(),
        )
        .text("note", "second")
        .file("file", "", "application/octet-stream", Vec::new());
    let response = client.post("/upload").multipart(body).send();
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text());
    assert_eq!(
        response.text(),
        "field note=\"hi there\"\n\
         field note=\"second\"\n\
         file file: \"../notes/a.txt\" Some(\"text/plain\") 7 bytes, safe Some(\"a.txt\")\n\
         file file: \"\" Some(\"application/octet-stream\") 0 bytes, safe None"
    );
}

#[test]
fn a_chunked_upload_is_parsed_after_dechunking() {
    let client = client(|_| {});
    let body = b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\nabc\r\n--b--\r\n";
    // Chunks cut through the boundary, the headers and the data.
    let mut raw =
        b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n\
        Transfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for piece in body.chunks(7) {
        raw.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        raw.extend_from_slice(piece);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let answer = String::from_utf8(client.send_raw(&raw)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(
        answer.ends_with("file f: \"x\" None 3 bytes, safe Some(\"x\")"),
        "{answer}"
    );
}

#[test]
fn refused_bodies_are_answered_and_the_connection_carries_on() {
    let client = client(|app| app.config.max_file_size = 10);
    let cases: &[(&str, &[u8], u16, &str)] = &[
        (
            "application/x-www-form-urlencoded",
            b"note=hi",
            415,
            "expected Content-Type: multipart/form-data",
        ),
        (
            "multipart/form-data",
            b"",
            400,
            "the Content-Type has no boundary parameter",
        ),
        (
            "multipart/form-data; boundary=b",
            b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nno closing boundary",
            400,
            "without a closing boundary",
        ),
        (
            "multipart/form-data; boundary=b",
            b"--b\r\nContent-Disposition: form-data; filename=a\r\n\r\n1\r\n--b--",
            400,
            "a part has no name",
        ),
        (
            "multipart/form-data; boundary=b",
            b"--b\r\nContent-Disposition: form-data; name=up; filename=a\r\n\r\n12345678901\r\n--b--",
            413,
            "file in field \"up\" is larger than 10 bytes",
        ),
    ];
    for (content_type, body, status, message) in cases {
        // The error's message as text (a browser would get it in an HTML page).
        let response = client
            .post("/upload")
            .header("Content-Type", content_type)
            .header("Accept", "text/plain")
            .body(*body)
            .send();
        assert_eq!(response.status().as_u16(), *status, "{content_type}");
        assert!(
            response.text().contains(message),
            "{content_type}: {}",
            response.text()
        );
    }

    // A refused upload is an answer like any other: the next request on the connection is served.
    let truncated = raw_upload(b"--b\r\nContent-Disposition: form-data; name=up\r\n\r\ncut short");
    let valid = raw_upload(b"--b--\r\n");
    let answer = String::from_utf8(client.send_raw(&[truncated, valid].concat())).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 2, "{answer}");
    assert!(answer.contains("HTTP/1.1 200 "), "{answer}");
}

/// A raw POST /upload with boundary `b` and a Content-Length.
fn raw_upload(body: &[u8]) -> Vec<u8> {
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    [head.as_bytes(), body].concat()
}

#[test]
fn the_body_limit_still_applies_first() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let client = client(move |app| {
        app.config.max_body_size = 100;
        app.config.max_file_size = 1000;
        route!(app, POST "/count" => move |req| {
            counted.fetch_add(1, Ordering::SeqCst);
            describe(req)
        })
        .unwrap();
    });
    let body = MultipartBody::new().file("f", "big.bin", "application/octet-stream", vec![0; 200]);
    let response = client.post("/count").multipart(body).send();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "refused before the handler"
    );
}

#[test]
fn a_handler_that_does_not_ask_never_parses() {
    let mut app = App::new();
    route!(app, POST "/ignore" => |req| format!("{} bytes", req.body().len())).unwrap();
    route!(app, POST "/twice" => |req| {
        let first = req.multipart()?;
        let second = req.multipart()?;
        Ok::<_, HttpError>(format!("same: {}", std::ptr::eq(first, second)))
    })
    .unwrap();
    let client = TestClient::new(app);
    let malformed = client
        .post("/ignore")
        .header("Content-Type", "multipart/form-data; boundary=b")
        .body("not multipart at all")
        .send();
    assert_eq!(malformed.status(), StatusCode::OK);
    assert_eq!(malformed.text(), "20 bytes");
    let body = MultipartBody::new().text("a", "1");
    assert_eq!(
        client.post("/twice").multipart(body).send().text(),
        "same: true"
    );
}

#[test]
fn error_handlers_can_render_upload_errors() {
    let client = client(|app| {
        app.config.max_file_size = 1;
        app.error_handler(
            StatusCode::PAYLOAD_TOO_LARGE,
            |_: &Request, error: &HttpError| {
                Response::html(format!("<p>Too big: {}</p>", error.message()))
            },
        );
    });
    let body = MultipartBody::new().file("avatar", "me.png", "image/png", vec![0; 2]);
    let response = client.post("/upload").multipart(body).send();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.text(),
        "<p>Too big: file in field \"avatar\" is larger than 1 bytes</p>"
    );
}
