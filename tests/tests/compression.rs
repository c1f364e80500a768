//! Response compression over a real socket, driven by curl: `--compressed` (curl decodes,
//! with its own zlib and brotli), and raw `Accept-Encoding` requests whose bodies are decoded
//! here with flate2 and brotli; either way the bytes must be the original ones.

use std::io::Read;

use carafe::{App, Compression, Response, route};
use carafe_e2e::{Scratch, Served, assert_status, curl, write_file};

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a valid gzip stream");
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .expect("a valid brotli stream");
    out
}

/// Text that compresses as logs and JSON do: repeated structure, changing numbers.
fn lines(count: usize) -> String {
    (0..count)
        .map(|n| format!("{{\"id\": {n}, \"name\": \"item {n}\", \"tags\": [\"a\", \"b\"]}}\n"))
        .collect()
}

#[test]
fn curl_compressed_reads_the_example_apps_pages_back_exactly() {
    let served = Served::example_app();
    for path in ["/blog", "/", "/static/style.css"] {
        let plain = curl(&[&served.url(path)]);
        assert_status(&plain, 200);
        assert_eq!(plain.header("content-encoding"), None, "{path}");
        let compressed = curl(&["--compressed", &served.url(path)]);
        assert_status(&compressed, 200);
        // curl 7.88 sends `Accept-Encoding: deflate, gzip, br, zstd`: brotli is preferred.
        assert_eq!(
            compressed.header("content-encoding"),
            Some("br"),
            "{path}\n{compressed}"
        );
        assert_eq!(compressed.header("vary"), Some("Accept-Encoding"), "{path}");
        assert_eq!(
            compressed.body, plain.body,
            "{path}: decoded, the same bytes"
        );
        assert!(
            compressed.metric("size_download") * 2 < plain.metric("size_download"),
            "{path}: {} bytes compressed, {} plain",
            compressed.metric("size_download"),
            plain.metric("size_download")
        );
    }
    served.shutdown();
}

#[test]
fn each_coding_decodes_to_the_original_with_its_own_decoder() {
    let served = Served::example_app();
    let plain = curl(&[&served.url("/blog")]).body;
    for (accept, coding) in [
        ("gzip", "gzip"),
        ("br", "br"),
        ("gzip;q=1, br;q=0.5", "gzip"),
    ] {
        let header = format!("Accept-Encoding: {accept}");
        let response = curl(&["-H", &header, &served.url("/blog")]);
        assert_status(&response, 200);
        assert_eq!(
            response.header("content-encoding"),
            Some(coding),
            "{accept}"
        );
        assert_eq!(
            response.header("content-length"),
            Some(response.body.len().to_string().as_str())
        );
        let decoded = match coding {
            "gzip" => gunzip(&response.body),
            _ => unbrotli(&response.body),
        };
        assert_eq!(decoded, plain, "{accept}");
    }
    // HEAD: the identity representation's headers, no coding claimed.
    let head = curl(&["-I", "--compressed", &served.url("/blog")]);
    assert_status(&head, 200);
    assert_eq!(head.header("content-encoding"), None);
    assert_eq!(
        head.header("content-length"),
        Some(plain.len().to_string().as_str())
    );
    assert_eq!(head.header("vary"), Some("Accept-Encoding"));
    // The contact page carries a CSRF token next to what the visitor typed: opted out.
    let contact = curl(&["--compressed", &served.url("/contact")]);
    assert_status(&contact, 200);
    assert_eq!(contact.header("content-encoding"), None);
    served.shutdown();
}

#[test]
fn a_streamed_body_is_compressed_as_it_streams() {
    let text = lines(40_000); // about 2.4 MB, pulled 64 KiB at a time
    let mut app = App::new();
    app.config.workers = 1;
    app.compress(Compression::default());
    let body = text.clone();
    route!(app, GET "/export" => move |_req| {
        let bytes = body.clone().into_bytes();
        let len = bytes.len() as u64;
        Response::stream(std::io::Cursor::new(bytes), Some(len))
            .with_header("content-type", "application/x-ndjson; charset=utf-8")
    })
    .unwrap();
    route!(app, GET "/json-export" => move |_req| {
        let bytes = lines(40_000).into_bytes();
        Response::stream(std::io::Cursor::new(bytes), None).with_header("content-type", "application/json")
    })
    .unwrap();
    let served = Served::app(app);

    // application/x-ndjson is not in the default list: sent as it is, with its length.
    let ndjson = curl(&["--compressed", &served.url("/export")]);
    assert_status(&ndjson, 200);
    assert_eq!(ndjson.header("content-encoding"), None);
    assert_eq!(ndjson.body, text.as_bytes());

    for (accept, coding) in [("gzip", "gzip"), ("br", "br")] {
        let header = format!("Accept-Encoding: {accept}");
        let response = curl(&["-H", &header, &served.url("/json-export")]);
        assert_status(&response, 200);
        assert_eq!(response.header("content-encoding"), Some(coding));
        assert_eq!(response.header("transfer-encoding"), Some("chunked"));
        assert!(
            response.body.len() * 10 < text.len(),
            "{}",
            response.body.len()
        );
        let decoded = match coding {
            "gzip" => gunzip(&response.body),
            _ => unbrotli(&response.body),
        };
        assert_eq!(decoded, text.as_bytes(), "{coding}");
    }
    // To an HTTP/1.0 client the compressed stream ends when the connection does.
    let old = curl(&["--http1.0", "--compressed", &served.url("/json-export")]);
    assert_status(&old, 200);
    assert_eq!(old.header("transfer-encoding"), None);
    assert_eq!(old.body, text.as_bytes());
    served.shutdown();
}

#[test]
fn precompressed_static_files_are_sent_with_their_own_tags() {
    let scratch = Scratch::new();
    let css: String = (0..300)
        .map(|n| format!(".c{n} {{ padding: {n}px; color: #{n:06x}; }}\n"))
        .collect();
    write_file(&scratch, "site.css", css.as_bytes());
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut encoder, css.as_bytes()).unwrap();
    let gz = encoder.finish().unwrap();
    write_file(&scratch, "site.css.gz", &gz);
    let folder = scratch.path("");
    let served = Served::example_app_with(move |app| {
        app.static_dir("/files", &folder).unwrap();
    });
    let url = served.url("/files/site.css");

    let gzip = curl(&["-H", "Accept-Encoding: gzip", &url]);
    assert_status(&gzip, 200);
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert_eq!(gzip.body, gz, "the file made ahead of time, byte for byte");
    assert_eq!(gzip.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(gzip.header("vary"), Some("Accept-Encoding"));
    let plain = curl(&[&url]);
    assert_eq!(plain.body, css.as_bytes());
    let (gzip_tag, plain_tag) = (gzip.header("etag").unwrap(), plain.header("etag").unwrap());
    assert_ne!(gzip_tag, plain_tag);

    // Revalidation: each representation's tag gets its 304.
    let if_none_match = format!("If-None-Match: {gzip_tag}");
    let again = curl(&["-H", "Accept-Encoding: gzip", "-H", &if_none_match, &url]);
    assert_status(&again, 304);
    assert_eq!(again.header("etag"), Some(gzip_tag));

    // brotli has no file beside it: compressed on the fly, with the identity tag suffixed.
    let br = curl(&["-H", "Accept-Encoding: br", &url]);
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(unbrotli(&br.body), css.as_bytes());
    let br_tag = format!("{}-br\"", plain_tag.trim_end_matches('"'));
    assert_eq!(br.header("etag"), Some(br_tag.as_str()));
    let if_none_match = format!("If-None-Match: {br_tag}");
    let again = curl(&["-H", "Accept-Encoding: br", "-H", &if_none_match, &url]);
    assert_status(&again, 304);

    // A resumed download (Range) is of the file itself, never compressed.
    let part = curl(&["--compressed", "-r", "0-99", &url]);
    assert_status(&part, 206);
    assert_eq!(part.header("content-encoding"), None);
    assert_eq!(part.body, &css.as_bytes()[..100]);
    served.shutdown();
}
