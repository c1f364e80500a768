//! HTML escaping for the text carafe writes into pages itself (`url_for` in templates, the
//! default error page, the debug page). Templates escape with minijinja's own rules.

/// `&`, `<`, `>`, `"` and `'` as HTML character references; nothing else changes.
pub(crate) fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_and_only_those() {
        assert_eq!(
            escape_html(r#"<a href="x">Tom & 'Jerry'</a> /path"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#x27;Jerry&#x27;&lt;/a&gt; /path"
        );
    }
}
