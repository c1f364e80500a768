//! HTML templates with minijinja: a folder of templates, auto-escaped by file extension, and
//! the global function `url_for`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use minijinja::value::{Enumerator, Kwargs, Object, Value, ValueKind};
use minijinja::{Environment, State};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::url_for::{TemplateUrlFor, UrlMap};

/// The app's template environment. Templates load from the folder on first use; in debug
/// builds they are reloaded when the file changes (a `stat` per render), in release builds
/// they are cached.
pub(crate) struct Templates {
    env: Environment<'static>,
    /// Searched in order: the app's folder, then blueprints' folders.
    dirs: Vec<PathBuf>,
    /// The longest page each template has rendered, the room its next render starts with.
    /// minijinja's own first guess is twice the template's text, which for a page that
    /// extends a base is a fraction of the page: the buffer then grew (and was copied) five
    /// times for the example app's `/blog`. Only ever raised, so that it rarely takes the
    /// write lock; capped so that one huge page does not make every render allocate its size.
    page_sizes: RwLock<FxHashMap<String, usize>>,
}

/// The most room a render starts with (a longer page grows from there).
const MAX_PAGE_HINT: usize = 64 * 1024;

/// A `url_for('name', ...)` call with a literal name, found in a template's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlForCall {
    /// The template's path under the folder.
    pub file: String,
    /// 1-based.
    pub line: usize,
    pub name: String,
}

impl Templates {
    /// Templates from `dir`, a readable directory.
    pub(crate) fn new(dir: &Path) -> Self {
        let mut env = Environment::new();
        env.set_auto_reload(cfg!(debug_assertions));
        // minijinja's default auto-escape callback escapes `.html`, `.htm` and `.xml`
        // templates for HTML, and leaves other extensions unescaped.
        let mut templates = Self {
            env,
            dirs: Vec::new(),
            page_sizes: RwLock::default(),
        };
        templates.add_folder(dir);
        templates
    }

    /// Adds a folder searched after the ones before it (a blueprint's, after the app's).
    pub(crate) fn add_folder(&mut self, dir: &Path) {
        self.dirs.push(dir.to_path_buf());
        let loaders: Vec<_> = self.dirs.iter().map(minijinja::path_loader).collect();
        self.env.set_loader(move |name| {
            for loader in &loaders {
                if let Some(source) = loader(name)? {
                    return Ok(Some(source));
                }
            }
            Ok(None)
        });
    }

    /// Every `url_for` call with a literal route name in the folder's templates, so that a
    /// name no route has (a typo, or a closure route, which has no name) is reported when the
    /// app starts rather than as a 500 when a page first renders. Calls with a computed name
    /// cannot be seen this way and are left to the render.
    pub(crate) fn url_for_calls(&self) -> Vec<UrlForCall> {
        let mut calls = Vec::new();
        for root in &self.dirs {
            calls.extend(url_for_calls_in(root));
        }
        calls.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        calls
    }

    /// Gives templates `url_for(name, **params)` over `urls`: once, when the app is frozen
    /// and its route table final (templates may be configured before the routes).
    pub(crate) fn add_url_for(&mut self, urls: Arc<UrlMap>) {
        let url_for = TemplateUrlFor::new(urls);
        self.env.add_function(
            "url_for",
            move |state: &State<'_, '_>, name: &str, params: Kwargs| {
                url_for.call(state, name, &params)
            },
        );
    }

    /// Renders template `name` with a serializable context.
    pub(crate) fn render<C: serde::Serialize>(
        &self,
        name: &str,
        context: C,
    ) -> Result<Vec<u8>, minijinja::Error> {
        let template = self.env.get_template(name)?;
        let hint = self
            .page_sizes
            .read()
            .ok()
            .and_then(|sizes| sizes.get(name).copied());
        let mut page = Vec::with_capacity(hint.unwrap_or(0));
        // Into bytes: minijinja writes UTF-8, and the response body is bytes.
        template.render_captured_to(minijinja::value::Serde(context), &mut page)?;
        let size = page.len().min(MAX_PAGE_HINT);
        if hint.is_none_or(|hint| size > hint)
            && let Ok(mut sizes) = self.page_sizes.write()
        {
            let known = sizes.entry(name.to_owned()).or_default();
            *known = size.max(*known);
        }
        Ok(page)
    }
}

/// The context a page renders with: the names carafe adds (`get_flashed_messages`, ...) over
/// the page's own values, as `context! { name => value, ..page }` merges them (carafe's
/// names win; an undefined value falls through), but looked up directly. Every name a
/// template reads outside a loop comes here first, `url_for` and the page's values
/// included, and the merge walked a two-map object for each.
#[derive(Debug)]
pub(crate) struct RenderContext {
    carafe: SmallVec<[(&'static str, Value); 3]>,
    page: Value,
}

impl RenderContext {
    /// The context as a template value.
    pub(crate) fn value(carafe: SmallVec<[(&'static str, Value); 3]>, page: Value) -> Value {
        Value::from_object(Self { carafe, page })
    }

    fn carafe_value(&self, key: &str) -> Option<Value> {
        self.carafe
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| value.clone())
            .filter(|value| !value.is_undefined())
    }
}

impl Object for RenderContext {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        key.as_str()
            .and_then(|key| self.carafe_value(key))
            .or_else(|| self.page.get_item(key).ok())
            .filter(|value| !value.is_undefined())
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        self.carafe_value(key)
            .or_else(|| self.page.get_attr(key).ok())
            .filter(|value| !value.is_undefined())
    }

    /// The merge's: every name, sorted, once.
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: BTreeSet<Value> = self
            .carafe
            .iter()
            .map(|(name, _)| Value::from(*name))
            .collect();
        if self.page.kind() == ValueKind::Map
            && let Ok(page_keys) = self.page.try_iter()
        {
            keys.extend(page_keys);
        }
        Enumerator::Iter(Box::new(keys.into_iter()))
    }
}

/// The literal `url_for` calls of the templates under `root`, named by their path in it.
fn url_for_calls_in(root: &Path) -> Vec<UrlForCall> {
    let mut calls = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                let file = path.strip_prefix(root).unwrap_or(&path);
                let file = file.to_string_lossy().replace('\\', "/");
                calls.extend(literal_url_for_calls(&text).map(|(line, name)| UrlForCall {
                    file: file.clone(),
                    line,
                    name: name.to_owned(),
                }));
            }
        }
    }
    calls
}

/// `(line, name)` of each `url_for('name'` or `url_for("name"` in `text`.
fn literal_url_for_calls(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.match_indices("url_for(")
        .filter_map(move |(at, call)| {
            let rest = text[at + call.len()..].trim_start();
            let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
            let name = &rest[1..];
            let name = &name[..name.find(quote)?];
            let line = text[..at].matches('\n').count() + 1;
            Some((line, name))
        })
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
            b"<p>&lt;script&gt;</p>"
        );
        assert_eq!(templates.render("note.txt", &context).unwrap(), b"<script>");
        // A second render starts with the room the first one needed, and says the same.
        assert_eq!(
            templates.render("page.html", &context).unwrap(),
            b"<p>&lt;script&gt;</p>"
        );
        assert_eq!(templates.page_sizes.read().unwrap()["page.html"], 21);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn literal_url_for_names_are_found_with_their_lines() {
        let text = "<a href=\"{{ url_for('index') }}\">\n\n{{ url_for( \"post\", slug=s) }}\n\
                    {{ url_for(name) }} {{ url_for('unclosed }}";
        let calls: Vec<_> = literal_url_for_calls(text).collect();
        assert_eq!(calls, [(1, "index"), (3, "post")]);
    }

    /// The render context answers as the `context!` merge it replaced.
    #[test]
    fn render_context_answers_as_the_merge_did() {
        let page = minijinja::context! {
            title => "Home",
            csrf_token => "page's",
            posts => vec![1, 2],
        };
        let ours = || {
            let mut carafe: SmallVec<[(&'static str, Value); 3]> = SmallVec::new();
            carafe.push(("_blueprint", Value::from(None::<&str>)));
            carafe.push(("csrf_token", Value::from("carafe's")));
            carafe.push(("hidden", Value::UNDEFINED));
            carafe
        };
        let pages = [
            page.clone(),
            Value::from(()),
            Value::from(vec![7]),
            Value::UNDEFINED,
        ];
        for page in pages {
            let merged = minijinja::context! {
                _blueprint => None::<&str>,
                csrf_token => "carafe's",
                hidden => Value::UNDEFINED,
                ..page.clone()
            };
            let context = RenderContext::value(ours(), page.clone());
            for key in [
                "title",
                "csrf_token",
                "_blueprint",
                "posts",
                "hidden",
                "nope",
            ] {
                assert_eq!(
                    context.get_attr(key).ok(),
                    merged.get_attr(key).ok(),
                    "{page:?} {key}"
                );
                let key = Value::from(key);
                assert_eq!(context.get_item(&key).ok(), merged.get_item(&key).ok());
            }
            assert_eq!(
                context.get_item(&Value::from(0)).ok(),
                merged.get_item(&Value::from(0)).ok()
            );
            let keys = |value: &Value| value.try_iter().map(Iterator::collect::<Vec<_>>).ok();
            assert_eq!(keys(&context), keys(&merged), "{page:?}");
        }
        let env = Environment::new();
        let template = "{{ title }} {{ csrf_token }} {{ posts|join(',') }} {{ nope is undefined }}";
        let context = RenderContext::value(ours(), page);
        assert_eq!(
            env.render_str(template, context).unwrap(),
            "Home carafe's 1,2 True"
        );
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
