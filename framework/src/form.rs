//! Decoded `application/x-www-form-urlencoded` pairs: query strings and form bodies.

use std::borrow::Cow;
use std::str::FromStr;

use crate::error::HttpError;

/// Decoded key/value pairs from a query string or an urlencoded form body, in order, with
/// repeated keys kept (Flask's `MultiDict`). Percent- and plus-decoding is done; values borrow
/// the request where no decoding was needed.
///
/// ```
/// # use carafe::testing::TestClient;
/// # let mut app = carafe::App::new();
/// carafe::route!(app, GET "/search" => |req| {
///     let args = req.args();
///     format!("{:?} {:?} {:?}", args.get("q"), args.get_all("tag"), args.get("missing"))
/// }).unwrap();
/// # let client = TestClient::new(app);
/// # let body = client.get("/search?q=hello+world&tag=a&tag=b%20c").send().text();
/// # assert_eq!(body, r#"Some("hello world") ["a", "b c"] None"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Form<'a> {
    /// Decodes urlencoded bytes. Invalid UTF-8 is replaced with U+FFFD rather than rejected,
    /// as browsers and Werkzeug do. Every pair is kept, however many: for input from a
    /// client, [`Request::form`](crate::Request::form) caps them.
    pub fn parse(input: &'a [u8]) -> Self {
        Self {
            pairs: form_urlencoded::parse(input).collect(),
        }
    }

    /// Decodes urlencoded bytes into at most `max_pairs` pairs; `None` as soon as there are
    /// more, so that a body of a million pairs costs no more than the cap.
    pub(crate) fn parse_bounded(input: &'a [u8], max_pairs: usize) -> Option<Self> {
        let mut pairs = Vec::new();
        for pair in form_urlencoded::parse(input) {
            if pairs.len() == max_pairs {
                return None;
            }
            pairs.push(pair);
        }
        Some(Self { pairs })
    }

    /// Appends a pair, for parsers of other encodings (multipart text fields).
    pub(crate) fn push(&mut self, key: Cow<'a, str>, value: Cow<'a, str>) {
        self.pairs.push((key, value));
    }

    /// The first value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// Every value for `key`, in order (Flask's `getlist`).
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
            .collect()
    }

    /// The first value for `key` parsed as `T`: `Ok(None)` when absent, a 400 [`HttpError`]
    /// naming the key when present but not a valid `T`.
    pub fn get_as<T: FromStr>(&self, key: &str) -> Result<Option<T>, HttpError> {
        self.get(key)
            .map(|value| {
                value
                    .parse()
                    .map_err(|_| HttpError::bad_request(format!("invalid value for {key:?}")))
            })
            .transpose()
    }

    /// Whether `key` is present (even with an empty value).
    pub fn contains_key(&self, key: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == key)
    }

    /// All pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    /// Number of pairs, repeated keys counted each time.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_and_plus_and_keeps_repeats() {
        let form = Form::parse(b"name=Ada+Lovelace&lang=en&lang=fr&sym=%26%3D%2B&empty=&flag");
        assert_eq!(form.get("name"), Some("Ada Lovelace"));
        assert_eq!(form.get_all("lang"), ["en", "fr"]);
        assert_eq!(form.get("sym"), Some("&=+"));
        assert_eq!(form.get("empty"), Some(""));
        assert!(form.contains_key("flag"));
        assert!(!form.contains_key("missing"));
        assert_eq!(form.get("missing"), None);
        assert_eq!(form.len(), 6);
        assert!(!form.is_empty());
        assert!(Form::parse(b"").is_empty());
    }

    #[test]
    fn typed_values_are_400_when_invalid() {
        let form = Form::parse(b"page=2&size=big");
        assert_eq!(form.get_as::<u32>("page"), Ok(Some(2)));
        assert_eq!(form.get_as::<u32>("absent"), Ok(None));
        let error = form.get_as::<u32>("size").unwrap_err();
        assert_eq!(error.status(), http::StatusCode::BAD_REQUEST);
        assert!(error.message().contains("size"));
    }

    #[test]
    fn bounded_parsing_stops_past_the_cap() {
        let at_cap = Form::parse_bounded(b"a=1&b=2&&c=3", 3).expect("three pairs fit");
        assert_eq!(at_cap.len(), 3);
        assert!(Form::parse_bounded(b"a=1&b=2&c=3&d", 3).is_none());
        assert_eq!(Form::parse_bounded(b"", 0).map(|form| form.len()), Some(0));
        assert!(Form::parse_bounded(b"a", 0).is_none());
    }

    #[test]
    fn pairs_are_counted_as_the_parser_finds_them() {
        for input in [&b"a=1&b=2&&c=3&"[..], b"", b"&&&", b"x", b"a&b&c&d&e"] {
            let parsed = Form::parse(input).len();
            let count = crate::h1::head::count_pairs;
            assert_eq!(count(input, 100), parsed, "{input:?}");
            assert_eq!(count(input, 1), parsed.min(2), "{input:?}");
        }
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let form = Form::parse(b"q=%FF");
        assert_eq!(form.get("q"), Some("\u{FFFD}"));
    }
}
