//! Reverse routing, Flask's `url_for`: a route's name and parameter values back to a path.
//!
//! Each named route's pattern is parsed once, at registration, into literal text and
//! parameters ([`UrlPattern`]); building a URL then only appends and percent-encodes. The
//! parser follows matchit's own rules (`{{`/`}}` unescaped first, then `{name}` and
//! `{*name}`), so it reads every pattern the router accepts the same way the router does.
//!
//! Every value is percent-encoded for its position so that the URL routes back to the same
//! route with the same decoded values: a `{param}` encodes `/` (it is one segment), a
//! `{*rest}` keeps `/` between segments. Literal text of the pattern is written as is: the
//! router matches it byte for byte.

use std::borrow::Cow;
use std::sync::Arc;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::error::UrlForError;
use crate::html::{escape_html, escape_html_owned};

/// Bytes a path segment cannot carry as themselves (besides non-ASCII, which is always
/// encoded): controls, space, the delimiters `/ ? #`, `%` itself, and the characters RFC 3986
/// leaves out of a path (`" < > [ \ ] ^ `` ` `` { | }`). What stays is `pchar`: letters,
/// digits, `- . _ ~`, the sub-delimiters `! $ & ' ( ) * + , ; =`, and `:` and `@`.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A catch-all spans segments, so its `/` stays a separator.
const CATCH_ALL: &AsciiSet = &SEGMENT.remove(b'/');

/// One piece of a parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Text matched as is (escaped braces already unescaped).
    Literal(String),
    /// `{name}`: one segment, or part of one when `alone` is false (`/img-{id}.png`).
    Param { name: String, alone: bool },
    /// `{*name}`: the rest of the path.
    CatchAll { name: String },
}

/// A route pattern parsed for building URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlPattern {
    parts: Vec<Part>,
    /// The length of the literal text, a first guess at the URL's length.
    literal_len: usize,
}

impl UrlPattern {
    /// Parses a matchit pattern, or says why it is malformed.
    pub(crate) fn parse(pattern: &str) -> Result<Self, &'static str> {
        // matchit first turns `{{` and `}}` into one escaped brace, scanning left to right,
        // then reads parameters from the unescaped braces that remain.
        let mut chars: Vec<(char, bool)> = Vec::with_capacity(pattern.len());
        let mut rest = pattern.chars().peekable();
        while let Some(c) = rest.next() {
            let escaped = matches!(c, '{' | '}') && rest.next_if_eq(&c).is_some();
            chars.push((c, escaped));
        }

        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut index = 0;
        while let Some(&(c, escaped)) = chars.get(index) {
            index += 1;
            match c {
                '{' if !escaped => {
                    let mut name = String::new();
                    loop {
                        match chars.get(index) {
                            None => return Err("a `{` without its `}`"),
                            Some(('}', false)) => break,
                            Some(('/', _)) => return Err("a `/` in a parameter name"),
                            Some((c, _)) => name.push(*c),
                        }
                        index += 1;
                    }
                    index += 1;
                    let part = if let Some(name) = name.strip_prefix('*') {
                        if name.is_empty() || name.contains('*') {
                            return Err("a catch-all needs a name without `*`");
                        }
                        if index < chars.len() {
                            return Err("a catch-all must end the pattern");
                        }
                        Part::CatchAll {
                            name: name.to_owned(),
                        }
                    } else {
                        if name.is_empty() || name.contains('*') {
                            return Err("a parameter needs a name without `*`");
                        }
                        Part::Param {
                            alone: literal.ends_with('/')
                                && chars.get(index).is_none_or(|&(c, _)| c == '/'),
                            name,
                        }
                    };
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(part);
                }
                '}' if !escaped => return Err("a `}` without its `{`"),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        let literal_len = parts
            .iter()
            .map(|part| match part {
                Part::Literal(text) => text.len(),
                _ => 0,
            })
            .sum();
        Ok(Self { parts, literal_len })
    }

    /// Whether the pattern has no parameter: its URL is always the same.
    fn is_fixed(&self) -> bool {
        self.parts
            .iter()
            .all(|part| matches!(part, Part::Literal(_)))
    }

    /// Whether the pattern has a parameter called `name`.
    fn has_param(&self, name: &str) -> bool {
        self.parts.iter().any(|part| match part {
            Part::Param { name: param, .. } | Part::CatchAll { name: param } => param == name,
            Part::Literal(_) => false,
        })
    }

    /// The URL for `params`: each parameter of the pattern takes the first value given for
    /// it; every other pair is appended as a query string, in the order given.
    pub(crate) fn build(
        &self,
        route: &str,
        params: &[(&str, &str)],
    ) -> Result<String, UrlForError> {
        let value_of = |param: &str| {
            params
                .iter()
                .find(|(name, _)| *name == param)
                .map(|(_, value)| *value)
                .ok_or_else(|| UrlForError::MissingParam {
                    route: route.to_owned(),
                    param: param.to_owned(),
                })
        };
        let invalid = |param: &str, reason| UrlForError::InvalidParam {
            route: route.to_owned(),
            param: param.to_owned(),
            reason,
        };
        let extra_len: usize = params.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        let mut url = String::with_capacity(self.literal_len + extra_len);
        for part in &self.parts {
            match part {
                Part::Literal(text) => url.push_str(text),
                Part::Param { name, alone } => {
                    let value = value_of(name)?;
                    // The router never matches an empty parameter, and clients resolve a
                    // `.` or `..` segment away (`%2E` too), so neither would route back.
                    if value.is_empty() {
                        return Err(invalid(name, "is empty"));
                    }
                    if *alone && matches!(value, "." | "..") {
                        return Err(invalid(name, "is a dot segment (`.` or `..`)"));
                    }
                    url.extend(utf8_percent_encode(value, SEGMENT));
                }
                Part::CatchAll { name } => {
                    let value = value_of(name)?;
                    if value.is_empty() {
                        return Err(invalid(name, "is empty"));
                    }
                    // An empty first segment would make `//host/...`, a protocol-relative URL
                    // (another site) when the pattern starts with the catch-all, and a path
                    // that does not route back otherwise.
                    if value.starts_with('/') {
                        return Err(invalid(name, "starts with `/` (an empty first segment)"));
                    }
                    if value
                        .split('/')
                        .any(|segment| matches!(segment, "." | ".."))
                    {
                        return Err(invalid(name, "has a dot segment (`.` or `..`)"));
                    }
                    url.extend(utf8_percent_encode(value, CATCH_ALL));
                }
            }
        }
        let mut extras = params
            .iter()
            .filter(|(name, _)| !self.has_param(name))
            .peekable();
        if extras.peek().is_some() {
            url.push('?');
            let start = url.len();
            let mut query = form_urlencoded::Serializer::for_suffix(url, start);
            query.extend_pairs(extras);
            url = query.finish();
        }
        Ok(url)
    }
}

/// Route names to their parsed patterns: what `url_for` looks up.
#[derive(Debug, Clone, Default)]
pub(crate) struct UrlMap {
    /// FxHash rather than SipHash: the names are the app's own, never a
    /// client's, and a page looks up one per `url_for` call.
    by_name: FxHashMap<String, UrlPattern>,
}

impl UrlMap {
    /// Records `name`'s pattern unless the name already has one: a handler registered on
    /// several paths builds the first.
    pub(crate) fn insert(&mut self, name: &str, pattern: &UrlPattern) {
        if !self.by_name.contains_key(name) {
            self.by_name.insert(name.to_owned(), pattern.clone());
        }
    }

    /// Whether some route is named `name`.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The route names, sorted.
    pub(crate) fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The path of route `name` with `params`; see [`App::url_for`](crate::App::url_for).
    pub(crate) fn url_for(
        &self,
        name: &str,
        params: &[(&str, &str)],
    ) -> Result<String, UrlForError> {
        self.by_name
            .get(name)
            .ok_or_else(|| UrlForError::UnknownRoute {
                name: name.to_owned(),
            })?
            .build(name, params)
    }
}

/// The template function `url_for(name, **params)` over the final route table.
pub(crate) struct TemplateUrlFor {
    urls: Arc<UrlMap>,
    /// What `url_for(name)` without keyword arguments returns for each route without
    /// parameters: `(in an HTML template, in any other)`. Made once, as the app is frozen:
    /// such a URL depends on nothing but the route table, which is final by then (debug
    /// builds reload templates, never routes). A page names most of its links this way
    /// (`url_for('index')`), and each call then costs a clone instead of a build, an escape
    /// and two allocations.
    fixed: FxHashMap<String, (minijinja::Value, minijinja::Value)>,
}

impl TemplateUrlFor {
    pub(crate) fn new(urls: Arc<UrlMap>) -> Self {
        let fixed = urls
            .by_name
            .iter()
            .filter(|(_, pattern)| pattern.is_fixed())
            .filter_map(|(name, pattern)| {
                let url = pattern.build(name, &[]).ok()?;
                let html = minijinja::Value::from_safe_string(escape_html(&url));
                Some((name.clone(), (html, minijinja::Value::from(url))))
            })
            .collect();
        Self { urls, fixed }
    }

    /// Keyword arguments are the parameters (numbers are written as text); an unknown route,
    /// a missing parameter or an undefined value is an error, which fails the render.
    pub(crate) fn call(
        &self,
        state: &minijinja::State<'_, '_>,
        name: &str,
        kwargs: &minijinja::value::Kwargs,
    ) -> Result<minijinja::Value, minijinja::Error> {
        // Only a relative name (`.time`) needs the blueprint. Looking it up goes through the
        // render's context and minijinja's scopes, and a page calls `url_for` many times.
        let blueprint = name
            .starts_with('.')
            .then(|| state.lookup("_blueprint"))
            .flatten();
        let name = &*qualified(name, blueprint.as_ref().and_then(|value| value.as_str()))
            .map_err(template_error)?;
        // With keyword arguments, a fixed route's URL gets a query string: built below.
        if kwargs.args().next().is_none()
            && let Some((html, other)) = self.fixed.get(name)
        {
            return Ok(match state.auto_escape() {
                minijinja::AutoEscape::Html => html.clone(),
                _ => other.clone(),
            });
        }
        template_url_for(&self.urls, state, name, kwargs)
    }
}

/// `url_for` in a template, for the qualified `name`, built from its pattern.
fn template_url_for(
    urls: &UrlMap,
    state: &minijinja::State<'_, '_>,
    name: &str,
    kwargs: &minijinja::value::Kwargs,
) -> Result<minijinja::Value, minijinja::Error> {
    // `peek`, not `get`: `get` also records the key as used (a `String` and a hash-set
    // insert per parameter) for `assert_all_used`, which this function never calls: pairs
    // the pattern does not name become the query string.
    let mut texts: SmallVec<[(&str, Cow<'_, str>); 4]> = SmallVec::new();
    for key in kwargs.args() {
        let value: &minijinja::Value = kwargs.peek(key)?;
        if value.is_undefined() || value.is_none() {
            return Err(template_error(UrlForError::InvalidParam {
                route: name.to_owned(),
                param: key.to_owned(),
                reason: "is undefined or none",
            }));
        }
        let text = value
            .as_str()
            .map_or_else(|| Cow::Owned(value.to_string()), Cow::Borrowed);
        texts.push((key, text));
    }
    let params: SmallVec<[(&str, &str); 4]> = texts.iter().map(|(k, v)| (*k, &**v)).collect();
    let url = urls.url_for(name, &params).map_err(template_error)?;
    // The URL is percent-encoded, so in HTML only `&` (between query pairs) and any
    // `'`/`"`/`<`/`>` in the pattern's own text need escaping. Escaping it here, rather than
    // by the auto-escaper, keeps `/` readable: `href="/blog"`, not `href="&#x2f;blog"`.
    Ok(match state.auto_escape() {
        minijinja::AutoEscape::Html => minijinja::Value::from_safe_string(escape_html_owned(url)),
        _ => minijinja::Value::from(url),
    })
}

/// `name` as the url map knows it: `.time` inside blueprint `api` is `api.time` (Flask's
/// relative endpoint); a relative name outside a blueprint is unknown.
pub(crate) fn qualified<'n>(
    name: &'n str,
    blueprint: Option<&str>,
) -> Result<Cow<'n, str>, UrlForError> {
    let Some(relative) = name.strip_prefix('.') else {
        return Ok(Cow::Borrowed(name));
    };
    match blueprint {
        Some(blueprint) => Ok(Cow::Owned(format!("{blueprint}.{relative}"))),
        None => Err(UrlForError::UnknownRoute {
            name: name.to_owned(),
        }),
    }
}

fn template_error(error: UrlForError) -> minijinja::Error {
    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(pattern: &str, params: &[(&str, &str)]) -> Result<String, UrlForError> {
        UrlPattern::parse(pattern).unwrap().build("r", params)
    }

    /// A pattern, the parameters given, and the URL expected.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

    #[test]
    fn encoding_table() {
        let cases: &[Case] = &[
            ("/", &[], "/"),
            ("/blog/{slug}", &[("slug", "epoll")], "/blog/epoll"),
            ("/blog/{slug}", &[("slug", "a b")], "/blog/a%20b"),
            ("/blog/{slug}", &[("slug", "a/b")], "/blog/a%2Fb"),
            ("/blog/{slug}", &[("slug", "100%")], "/blog/100%25"),
            ("/blog/{slug}", &[("slug", "%2F")], "/blog/%252F"),
            ("/blog/{slug}", &[("slug", "Wörld")], "/blog/W%C3%B6rld"),
            (
                "/blog/{slug}",
                &[("slug", "日本")],
                "/blog/%E6%97%A5%E6%9C%AC",
            ),
            ("/blog/{slug}", &[("slug", "why?")], "/blog/why%3F"),
            ("/blog/{slug}", &[("slug", "c#")], "/blog/c%23"),
            ("/blog/{slug}", &[("slug", "a+b")], "/blog/a+b"),
            ("/blog/{slug}", &[("slug", "<x>\"'")], "/blog/%3Cx%3E%22'"),
            (
                "/blog/{slug}",
                &[("slug", "{x}|^`\\")],
                "/blog/%7Bx%7D%7C%5E%60%5C",
            ),
            ("/blog/{slug}", &[("slug", "[v6]")], "/blog/%5Bv6%5D"),
            (
                "/blog/{slug}",
                &[("slug", "tab\there\r\n\0")],
                "/blog/tab%09here%0D%0A%00",
            ),
            (
                "/blog/{slug}",
                &[("slug", "a:b@c!$&()*,;=~-._")],
                "/blog/a:b@c!$&()*,;=~-._",
            ),
            ("/blog/{slug}", &[("slug", "...")], "/blog/..."),
            (
                "/files/{*rest}",
                &[("rest", "css/site.css")],
                "/files/css/site.css",
            ),
            (
                "/files/{*rest}",
                &[("rest", "a b/c?d#e/100%")],
                "/files/a%20b/c%3Fd%23e/100%25",
            ),
            (
                "/files/{*rest}",
                &[("rest", "dir/Wörld")],
                "/files/dir/W%C3%B6rld",
            ),
            ("/files/{*rest}", &[("rest", "a//b/")], "/files/a//b/"),
            ("/{*rest}", &[("rest", "x")], "/x"),
            ("/{{literal}}/{id}", &[("id", "7")], "/{literal}/7"),
            ("/a}}b{{/{id}", &[("id", "{}")], "/a}b{/%7B%7D"),
            ("/images/img-{id}.png", &[("id", "1")], "/images/img-1.png"),
            (
                "/images/img-{id}.png",
                &[("id", "..")],
                "/images/img-...png",
            ),
            ("/{a}/{b}", &[("b", "2"), ("a", "1")], "/1/2"),
            ("/{a}", &[("a", "1"), ("a", "2")], "/1"),
            // Pairs the pattern does not name become the query string, form-encoded.
            (
                "/search",
                &[("q", "rust & c"), ("page", "2")],
                "/search?q=rust+%26+c&page=2",
            ),
            (
                "/u/{id}",
                &[("id", "1"), ("tab", "a/b?#")],
                "/u/1?tab=a%2Fb%3F%23",
            ),
            ("/u/{id}", &[("id", "1"), ("x", "é")], "/u/1?x=%C3%A9"),
        ];
        for (pattern, params, expected) in cases {
            assert_eq!(
                build(pattern, params).as_deref(),
                Ok(*expected),
                "{pattern} {params:?}"
            );
        }
    }

    #[test]
    fn missing_empty_and_dot_values_are_errors() {
        let missing = build("/blog/{slug}", &[("id", "1")]).unwrap_err();
        assert_eq!(
            missing,
            UrlForError::MissingParam {
                route: "r".into(),
                param: "slug".into()
            }
        );
        assert_eq!(
            missing.to_string(),
            "cannot build a URL for route `r`: parameter `slug` is missing"
        );
        for (pattern, value) in [
            ("/blog/{slug}", ""),
            ("/blog/{slug}", "."),
            ("/blog/{slug}", ".."),
            ("/blog/{slug}/edit", ".."),
            ("/files/{*rest}", ""),
            ("/files/{*rest}", ".."),
            ("/files/{*rest}", "a/../b"),
            ("/files/{*rest}", "a/."),
            // Issue 11, defect 9: `//evil.example/x`, an open redirect through a redirect.
            ("/{*rest}", "/evil.example/x"),
            ("/files/{*rest}", "/etc"),
        ] {
            let param = if pattern.contains("rest") {
                "rest"
            } else {
                "slug"
            };
            let error = build(pattern, &[(param, value)]).unwrap_err();
            assert!(
                matches!(error, UrlForError::InvalidParam { .. }),
                "{pattern} {value:?}: {error:?}"
            );
        }
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for pattern in [
            "/{", "/}", "/{}", "/{*}", "/{*a}/b", "/{a/b}", "/{a*}", "/x}y",
        ] {
            assert!(UrlPattern::parse(pattern).is_err(), "{pattern}");
        }
    }

    /// Whatever the values, the built URL routes back to the pattern with the same values.
    #[test]
    fn built_urls_route_back_to_their_values() {
        let patterns = [
            "/blog/{slug}",
            "/files/{*rest}",
            "/{{x}}/{a}/{b}",
            "/img-{id}.png",
        ];
        let values = [
            "plain",
            "a b",
            "a/b",
            "100%",
            "%41",
            "Wörld 日本",
            "q?x=1#frag",
            "{braces}",
            "a+b&c=d",
            "...",
            "\u{7f}\u{1}",
        ];
        for pattern in patterns {
            let mut router = matchit::Router::new();
            router.insert(pattern, ()).unwrap();
            let parsed = UrlPattern::parse(pattern).unwrap();
            for value in values {
                let params: Vec<(&str, &str)> = ["slug", "rest", "a", "b", "id"]
                    .into_iter()
                    .map(|name| (name, value))
                    .filter(|(name, _)| parsed.has_param(name))
                    .collect();
                let url = parsed.build("r", &params).unwrap();
                let matched = router
                    .at(&url)
                    .unwrap_or_else(|_| panic!("{pattern} {value:?}: {url} does not route"));
                for (name, raw) in matched.params.iter() {
                    let decoded = percent_encoding::percent_decode_str(raw)
                        .decode_utf8()
                        .unwrap();
                    assert_eq!(decoded, value, "{pattern} {name} via {url}");
                }
            }
        }
    }

    #[test]
    fn unknown_names_are_errors_and_the_first_registration_wins() {
        let mut map = UrlMap::default();
        map.insert("post", &UrlPattern::parse("/blog/{slug}").unwrap());
        map.insert("post", &UrlPattern::parse("/p/{slug}").unwrap());
        assert_eq!(
            map.url_for("post", &[("slug", "x")]).as_deref(),
            Ok("/blog/x")
        );
        let error = map.url_for("nope", &[]).unwrap_err();
        assert_eq!(error.to_string(), "no route is named `nope`");
    }

    #[test]
    fn html_escaping_leaves_slashes() {
        assert_eq!(
            escape_html("/a?x=1&y='2'<>\""),
            "/a?x=1&amp;y=&#x27;2&#x27;&lt;&gt;&quot;"
        );
    }
}
