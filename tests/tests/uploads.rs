//! Uploads to the example-app's `/upload` page with `curl -F`, the way a browser sends a file
//! form: the page must report exactly the size and SHA-256 this test computes, up to
//! `Config::max_file_size`, and answer a larger file with 413.

use carafe_e2e::{
    Scratch, Served, Visitor, arg, assert_status, curl, pseudo_random_bytes, write_file,
};
use sha2::{Digest, Sha256};

/// The text of the element with `id` in `html`, its entities decoded (the page's values are
/// in `id="..."` elements with no markup inside).
fn element_text(html: &str, id: &str) -> String {
    let opening = format!("id=\"{id}\">");
    let start = html
        .find(&opening)
        .unwrap_or_else(|| panic!("no element #{id} in:\n{html}"))
        + opening.len();
    let length = html[start..].find('<').expect("the element closes");
    // The entities minijinja writes; `&amp;` last so that it cannot make new ones.
    [
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&#x27;", "'"),
        ("&#x2f;", "/"),
        ("&amp;", "&"),
    ]
    .iter()
    .fold(
        html[start..start + length].to_owned(),
        |text, (entity, character)| text.replace(entity, character),
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// POSTs `bytes` as file `name` with a note, as `curl -F file=@path -F note=...` does.
fn upload(
    served: &Served,
    scratch: &Scratch,
    name: &str,
    bytes: &[u8],
    note: &str,
) -> carafe_e2e::CurlOutput {
    let path = write_file(scratch, name, bytes);
    Visitor::new(served).curl(&[
        "-F",
        &format!("file=@{}", arg(&path)),
        "--form-string",
        &format!("note={note}"),
        &served.url("/upload"),
    ])
}

#[test]
fn the_form_is_a_multipart_form_and_the_nav_links_it() {
    let served = Served::example_app();
    let page = curl(&[&served.url("/upload")]);
    assert_status(&page, 200);
    let html = page.text();
    for expected in [
        "<form method=\"post\" action=\"/upload\" enctype=\"multipart/form-data\"",
        "name=\"file\" type=\"file\"",
        "name=\"note\" type=\"text\"",
        "<a href=\"/upload\">Upload</a>",
    ] {
        assert!(html.contains(expected), "missing {expected:?} in:\n{html}");
    }
}

#[test]
fn an_upload_reports_its_size_type_and_sha256() {
    let served = Served::example_app();
    let scratch = Scratch::new();
    // Random bytes hold CRLFs and dashes: the file must come back bit for bit all the same.
    let bytes = pseudo_random_bytes(300 * 1024 + 17, 7);
    let page = upload(&served, &scratch, "random.bin", &bytes, "hi");
    assert_status(&page, 200);
    let html = page.text();
    assert_eq!(element_text(&html, "uploaded-filename"), "random.bin");
    assert_eq!(
        element_text(&html, "uploaded-size"),
        bytes.len().to_string()
    );
    assert_eq!(element_text(&html, "uploaded-sha256"), sha256_hex(&bytes));
    assert_eq!(
        element_text(&html, "uploaded-content-type"),
        "application/octet-stream"
    );
    assert_eq!(element_text(&html, "uploaded-note"), "hi");

    // The type and filename the client gives are reported as sent, escaped.
    let path = write_file(&scratch, "page.html", b"<h1>hello</h1>\n");
    let page = Visitor::new(&served).curl(&[
        "-F",
        &format!(
            "file=@{};type=text/html;filename=<b>bold</b>.html",
            arg(&path)
        ),
        // `--form-string`: with -F, a value starting with `<` names a file to read.
        "--form-string",
        "note=<script>alert(1)</script>",
        &served.url("/upload"),
    ]);
    assert_status(&page, 200);
    let html = page.text();
    assert_eq!(element_text(&html, "uploaded-content-type"), "text/html");
    assert_eq!(element_text(&html, "uploaded-size"), "15");
    assert_eq!(
        element_text(&html, "uploaded-sha256"),
        sha256_hex(b"<h1>hello</h1>\n")
    );
    assert!(html.contains("&lt;b&gt;bold&lt;&#x2f;b&gt;.html"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "{html}"
    );
    assert!(
        !html.contains("<script>") && !html.contains("<b>"),
        "{html}"
    );
}

#[test]
fn an_empty_file_and_a_missing_file() {
    let served = Served::example_app();
    let scratch = Scratch::new();
    let page = upload(&served, &scratch, "empty.txt", b"", "nothing");
    assert_status(&page, 200);
    let html = page.text();
    assert_eq!(element_text(&html, "uploaded-size"), "0");
    assert_eq!(element_text(&html, "uploaded-sha256"), sha256_hex(b""));

    let page = Visitor::new(&served).curl(&["-F", "note=no file", &served.url("/upload")]);
    assert_status(&page, 400);
    assert_eq!(
        element_text(&page.text(), "upload-error"),
        "Choose a file to upload."
    );
}

#[test]
fn a_file_at_the_cap_is_accepted_and_one_byte_more_is_413() {
    let served = Served::example_app();
    let scratch = Scratch::new();
    let cap = usize::try_from(carafe::Config::default().max_file_size).expect("the cap fits");

    let at_cap = pseudo_random_bytes(cap, 11);
    let page = upload(&served, &scratch, "at-cap.bin", &at_cap, "at the cap");
    assert_status(&page, 200);
    let html = page.text();
    assert_eq!(element_text(&html, "uploaded-size"), cap.to_string());
    assert_eq!(element_text(&html, "uploaded-sha256"), sha256_hex(&at_cap));

    let over = pseudo_random_bytes(cap + 1, 12);
    let page = upload(&served, &scratch, "over.bin", &over, "over the cap");
    assert_status(&page, 413);
    assert_eq!(
        element_text(&page.text(), "upload-error"),
        format!("file in field \"file\" is larger than {cap} bytes")
    );

    // A smaller cap set by the app applies the same way, and the server carries on.
    drop(served);
    let served = Served::example_app_with(|app| app.config.max_file_size = 1000);
    let page = upload(&served, &scratch, "small.bin", &[b'x'; 1001], "");
    assert_status(&page, 413);
    let page = upload(&served, &scratch, "small.bin", &[b'x'; 1000], "");
    assert_status(&page, 200);
}
