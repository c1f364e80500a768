//! Cookies: reading the `Cookie` request header and writing `Set-Cookie` response headers,
//! with the [`cookie`](https://docs.rs/cookie) crate.
//!
//! Names and values are percent-encoded when written and decoded when read, so any string
//! survives the round trip and no value can end the header or inject an attribute. Cookies
//! set by another program with literal `%XX` in them therefore read back decoded; that is the
//! price of symmetric encoding, and the same choice Rocket makes.

use std::borrow::Cow;
use std::fmt::Write as _;

use cookie::Cookie;
use http::HeaderValue;

use crate::error::InvalidHeader;

/// Decoded `(name, value)` pairs of a request's `Cookie` headers. A pair with nothing to
/// decode borrows the request buffer.
pub(crate) type CookiePairs<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// Parses the values of every `Cookie` header, in order. Pairs that do not parse (no `=`, an
/// empty name, an escape that decodes to invalid UTF-8) are skipped: a client's bad cookie
/// costs it that cookie, never the request.
pub(crate) fn parse_cookie_headers<'a>(values: impl Iterator<Item = &'a str>) -> CookiePairs<'a> {
    values
        .flat_map(Cookie::split_parse_encoded)
        .filter_map(|parsed| {
            let cookie = parsed.ok()?;
            // `*_raw` is the undecoded slice of the header; `None` when decoding changed it.
            let name = cookie
                .name_raw()
                .map_or_else(|| Cow::Owned(cookie.name().to_owned()), Cow::Borrowed);
            let value = cookie
                .value_raw()
                .map_or_else(|| Cow::Owned(cookie.value().to_owned()), Cow::Borrowed);
            Some((name, value))
        })
        .collect()
}

/// The `Set-Cookie` value for `cookie`: name and value percent-encoded, `Path` defaulting to
/// `/`. Refused when an attribute could break the header or smuggle in another attribute
/// (a control character, or `;` in `Path` or `Domain`).
pub(crate) fn set_cookie_value(mut cookie: Cookie<'_>) -> Result<HeaderValue, InvalidHeader> {
    if cookie.path().is_none() {
        cookie.set_path("/");
    }
    let smuggles = |attribute: Option<&str>| attribute.is_some_and(|text| text.contains(';'));
    let mut text = String::new();
    // Formatting fails only for an `Expires` outside what the date format can print.
    if smuggles(cookie.path())
        || smuggles(cookie.domain())
        || write!(text, "{}", cookie.encoded()).is_err()
    {
        return Err(InvalidHeader::value(cookie.stripped().to_string()));
    }
    HeaderValue::try_from(text).map_err(|error| InvalidHeader::value(error.to_string()))
}

/// The `Set-Cookie` value that deletes `cookie` in the browser: an empty value, `Max-Age=0`
/// and an `Expires` in the past, with the same `Path` (default `/`) and `Domain`, which must
/// match the ones it was set with for the browser to drop it.
pub(crate) fn removal_cookie_value(mut cookie: Cookie<'_>) -> Result<HeaderValue, InvalidHeader> {
    cookie.make_removal();
    set_cookie_value(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cookie::SameSite;

    fn pairs(headers: &[&'static str]) -> Vec<(String, String)> {
        parse_cookie_headers(headers.iter().copied())
            .into_iter()
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect()
    }

    fn owned(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn parses_pairs_across_headers_and_skips_malformed_ones() {
        type Case = (
            &'static [&'static str],
            &'static [(&'static str, &'static str)],
        );
        let cases: &[Case] = &[
            (&["a=1"], &[("a", "1")]),
            (&["a=1; b=2"], &[("a", "1"), ("b", "2")]),
            (&["a=1;b=2"], &[("a", "1"), ("b", "2")]),
            (&["a=1", "b=2"], &[("a", "1"), ("b", "2")]),
            (&["  a = 1 ;; ; b=2  "], &[("a", "1"), ("b", "2")]),
            (&["a="], &[("a", "")]),
            (&["novalue; a=1"], &[("a", "1")]),
            (&["=1; a=1"], &[("a", "1")]),
            (&[";;;"], &[]),
            (&[""], &[]),
            (&["a=x=y"], &[("a", "x=y")]),
            (&["a=\"quoted\""], &[("a", "\"quoted\"")]),
            (&["a=1; a=2"], &[("a", "1"), ("a", "2")]),
            (&["a=%20b%3B"], &[("a", " b;")]),
            (&["n%C3%A4me=v%C3%A4lue"], &[("näme", "välue")]),
            // Not an escape: kept as sent.
            (&["a=100%"], &[("a", "100%")]),
            // An escape that decodes to invalid UTF-8: that pair only is skipped.
            (&["a=%FF; b=2"], &[("b", "2")]),
            (&["a=é"], &[("a", "é")]),
        ];
        for (headers, expected) in cases {
            assert_eq!(pairs(headers), owned(expected), "{headers:?}");
        }
    }

    #[test]
    fn undecoded_pairs_borrow_the_header() {
        let header = String::from("a=1; b=%41");
        let parsed = parse_cookie_headers(std::iter::once(header.as_str()));
        assert!(matches!(
            parsed[0],
            (Cow::Borrowed("a"), Cow::Borrowed("1"))
        ));
        assert!(matches!(&parsed[1].1, Cow::Owned(value) if value == "A"));
    }

    #[test]
    fn set_cookie_encodes_and_defaults_the_path() {
        let value = set_cookie_value(Cookie::new("theme", "dark")).unwrap();
        assert_eq!(value, "theme=dark; Path=/");
        let value = set_cookie_value(Cookie::new("note", "a b;c\r\nSet-Cookie: x=1")).unwrap();
        assert_eq!(
            value, "note=a%20b%3Bc%0D%0ASet-Cookie%3A%20x%3D1; Path=/",
            "the value cannot end the header or add an attribute"
        );
        let decoded = pairs(&["note=a%20b%3Bc%0D%0ASet-Cookie%3A%20x%3D1"]);
        assert_eq!(decoded, owned(&[("note", "a b;c\r\nSet-Cookie: x=1")]));
    }

    #[test]
    fn set_cookie_writes_every_attribute() {
        let cookie = Cookie::build(("id", "7"))
            .path("/app")
            .domain("example.com")
            .max_age(cookie::time::Duration::hours(1))
            .http_only(true)
            .secure(true)
            .same_site(SameSite::Strict)
            .build();
        let value = set_cookie_value(cookie).unwrap();
        assert_eq!(
            value,
            "id=7; HttpOnly; SameSite=Strict; Secure; Path=/app; Domain=example.com; Max-Age=3600"
        );
    }

    #[test]
    fn attributes_that_would_break_the_header_are_refused() {
        for cookie in [
            Cookie::build(("a", "1")).path("/\r\nX-Evil: 1").build(),
            Cookie::build(("a", "1"))
                .path("/; Domain=evil.example")
                .build(),
            Cookie::build(("a", "1"))
                .domain("example.com; Secure")
                .build(),
        ] {
            assert!(set_cookie_value(cookie.clone()).is_err(), "{cookie}");
            assert!(removal_cookie_value(cookie.clone()).is_err(), "{cookie}");
        }
    }

    #[test]
    fn removal_expires_the_cookie_on_its_path() {
        let value = removal_cookie_value(Cookie::from("theme")).unwrap();
        let text = value.to_str().unwrap();
        assert!(
            text.starts_with("theme=; Path=/; Max-Age=0; Expires="),
            "{text}"
        );
        let value = removal_cookie_value(Cookie::build("id").path("/app").build()).unwrap();
        assert!(value.to_str().unwrap().contains("; Path=/app; Max-Age=0"));
    }
}
