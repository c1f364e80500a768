//! HTML templates with minijinja: a folder of templates, auto-escaped by file extension, and
//! the global function `url_for`.

use std::path::Path;
use std::sync::Arc;

use minijinja::value::Kwargs;
use minijinja::{Environment, State};

use crate::url_for::{UrlMap, template_url_for};

/// The app's template environment. Templates load from the folder on first use; in debug
/// builds they are reloaded when the file changes (a `stat` per render), in release builds
/// they are cached.
pub(crate) struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Templates from `dir`, a readable directory.
    pub(crate) fn new(dir: &Path) -> Self {
        let mut env = Environment::new();
        env.set_loader(minijinja::path_loader(dir));
        env.set_auto_reload(cfg!(debug_assertions));
        // minijinja's default auto-escape callback escapes `.html`, `.htm` and `.xml`
        // templates for HTML, and leaves other extensions unescaped.
        Self { env }
    }

    /// Gives templates `url_for(name, **params)` over `urls`: once, when the app is frozen
    /// and its route table final (templates may be configured before the routes).
    pub(crate) fn add_url_for(&mut self, urls: Arc<UrlMap>) {
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
        let templates = Templates::new(&dir);
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
        let templates = Templates::new(&dir);
        let error = templates.render("absent.html", ()).unwrap_err();
        assert_eq!(error.kind(), minijinja::ErrorKind::TemplateNotFound);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
