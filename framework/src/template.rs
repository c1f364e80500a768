//! HTML templates with minijinja: a folder of templates, auto-escaped by file extension, and
//! the global function `url_for`.

use std::path::Path;
use std::sync::Arc;

use minijinja::value::Kwargs;
use minijinja::{Environment, State};

use crate::error::Error;
use crate::url_for::{UrlMap, template_url_for};

/// The app's template environment. Templates load from the folder on first use; in debug
/// builds they are reloaded when the file changes (a `stat` per render), in release builds
/// they are cached.
pub(crate) struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Templates from `dir`, which must be a readable directory.
    pub(crate) fn new(dir: &Path) -> Result<Self, Error> {
        check_directory(dir)?;
        let mut env = Environment::new();
        env.set_loader(minijinja::path_loader(dir));
        env.set_auto_reload(cfg!(debug_assertions));
        // minijinja's default auto-escape callback escapes `.html`, `.htm` and `.xml`
        // templates for HTML, and leaves other extensions unescaped.
        Ok(Self { env })
    }

    /// Gives templates `url_for(name, **params)` over `urls`. Called once the route table is
    /// final (the app is about to serve), since templates may be configured before routes.
    pub(crate) fn set_url_map(&mut self, urls: Arc<UrlMap>) {
        self.env.add_function(
            "url_for",
            move |state: &State<'_, '_>, name: &str, params: Kwargs| {
                template_url_for(&urls, state, name, &params)
            },
        );
    }

    /// Renders template `name` with a serializable context.
    pub(crate) fn render<C: serde::Serialize>(
        &self,
        name: &str,
        context: C,
    ) -> Result<String, minijinja::Error> {
        self.env
            .get_template(name)?
            .render(minijinja::value::Serde(context))
    }
}

/// Fails with [`Error::Directory`] unless `dir` is a directory we can list.
pub(crate) fn check_directory(dir: &Path) -> Result<(), Error> {
    let error = |source| Error::Directory {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::read_dir(dir).map(drop).map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "carafe-templates-{}-{}",
            std::process::id(),
            files.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let dir = folder(&[
            ("page.html", "<p>{{ name }}</p>"),
            ("note.txt", "{{ name }}"),
        ]);
        let templates = Templates::new(&dir).unwrap();
        let context = minijinja::context! { name => "<script>" };
        assert_eq!(
            templates.render("page.html", &context).unwrap(),
            "<p>&lt;script&gt;</p>"
        );
        assert_eq!(templates.render("note.txt", &context).unwrap(), "<script>");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_template_is_an_error_not_a_panic() {
        let dir = folder(&[]);
        let templates = Templates::new(&dir).unwrap();
        let error = templates.render("absent.html", ()).unwrap_err();
        assert_eq!(error.kind(), minijinja::ErrorKind::TemplateNotFound);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_folder_is_refused_at_configuration() {
        let result = Templates::new(Path::new("/nonexistent/carafe/templates"));
        assert!(matches!(result, Err(Error::Directory { .. })));
    }
}
