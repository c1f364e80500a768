//! `Request::send_file` and `Request::send_from_directory` through the in-process test client:
//! the headers, conditional and range answers of static files, and no way out of the folder.

use std::path::{Path, PathBuf};

use carafe::testing::TestClient;
use carafe::{App, StatusCode, route};

/// A folder of files for one test, removed at the end.
struct Folder(PathBuf);

impl Folder {
    fn new(name: &str) -> Self {
        let base =
            std::env::temp_dir().join(format!("carafe-send-file-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("reports/2026")).unwrap();
        std::fs::write(base.join("reports/2026/q3.csv"), "quarter,total\nq3,42\n").unwrap();
        std::fs::write(base.join("reports/résumé.txt"), "accents").unwrap();
        std::fs::write(base.join("secret.txt"), "not for clients").unwrap();
        std::os::unix::fs::symlink(base.join("secret.txt"), base.join("reports/link.txt")).unwrap();
        Self(base)
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.0.join(relative)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn app(folder: &Path) -> App {
    let mut app = App::new();
    let file = folder.join("reports/2026/q3.csv");
    let missing = folder.join("missing.csv");
    let dir = folder.to_path_buf();
    let reports = folder.join("reports");
    let download = file.clone();
    route!(app, GET "/latest" => move |req| req.send_file(&file)).unwrap();
    route!(app, GET "/download" => move |req| req.send_file(&download).with_attachment("q3 2026.csv"))
        .unwrap();
    route!(app, GET "/missing" => move |req| req.send_file(&missing)).unwrap();
    route!(app, GET "/folder" => move |req| req.send_file(&dir)).unwrap();
    route!(app, GET "/reports/{*name}" => move |req| {
        req.send_from_directory(&reports, req.param("name").unwrap_or_default())
    })
    .unwrap();
    app
}

#[test]
fn send_file_answers_like_a_static_file() {
    let folder = Folder::new("headers");
    let client = TestClient::new(app(&folder.0));
    let response = client.get("/latest").send();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text(), "quarter,total\nq3,42\n");
    assert_eq!(
        response.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    assert_eq!(response.header("accept-ranges"), Some("bytes"));
    let etag = response.header("etag").expect("an ETag").to_owned();
    assert!(response.header("last-modified").is_some());

    let cached = client.get("/latest").header("if-none-match", &etag).send();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    assert!(cached.body().is_empty());

    let part = client.get("/latest").header("range", "bytes=14-").send();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.text(), "q3,42\n");
    assert_eq!(part.header("content-range"), Some("bytes 14-19/20"));
    let beyond = client.get("/latest").header("range", "bytes=100-").send();
    assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    let download = client.get("/download").send();
    assert_eq!(download.text(), "quarter,total\nq3,42\n");
    assert_eq!(
        download.header("content-disposition"),
        Some(r#"attachment; filename="q3 2026.csv""#)
    );
    assert_eq!(
        response.header("content-disposition"),
        None,
        "inline unless asked"
    );
}

#[test]
fn a_file_that_cannot_be_sent_is_a_404() {
    let folder = Folder::new("missing");
    let client = TestClient::new(app(&folder.0));
    assert_eq!(
        client.get("/missing").send().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(client.get("/folder").send().status(), StatusCode::NOT_FOUND);
}

#[test]
fn send_from_directory_serves_inside_the_folder_only() {
    let folder = Folder::new("inside");
    assert!(folder.path("secret.txt").is_file());
    let client = TestClient::new(app(&folder.0));
    let response = client.get("/reports/2026/q3.csv").send();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text(), "quarter,total\nq3,42\n");
    assert_eq!(
        client.get("/reports/r%C3%A9sum%C3%A9.txt").send().text(),
        "accents"
    );
    for escape in [
        "/reports/../secret.txt",
        "/reports/%2e%2e/secret.txt",
        "/reports/..%2fsecret.txt",
        "/reports/2026/..%2f..%2fsecret.txt",
        "/reports/%2fetc%2fpasswd",
        "/reports//etc/passwd",
        "/reports/link.txt",
        "/reports/2026",
        "/reports/nothing-here.csv",
    ] {
        let response = client.get(escape).send();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{escape}");
        assert!(!response.text().contains("not for clients"), "{escape}");
    }
}
