//! Media types and header parameters (RFC 9110 §8.3.1, §5.6.6), parsed in one place.
//!
//! `Request::form` and `Request::json` ask for a Content-Type's [`essence`]; the multipart
//! reader splits `multipart/form-data; boundary=...` and each part's
//! `Content-Disposition: form-data; name="..."` with [`split_parameters`] and [`Parameters`].

use std::borrow::Cow;

/// The `type/subtype` of a media type, without parameters or surrounding space:
/// `"Application/JSON ; charset=utf-8"` → `"Application/JSON"` (compare case-insensitively).
pub(crate) fn essence(value: &str) -> &str {
    value.split(';').next().unwrap_or("").trim()
}

/// Whether `value`'s essence is `expected` (ASCII case-insensitive, as media types are).
pub(crate) fn is(value: &str, expected: &str) -> bool {
    essence(value).eq_ignore_ascii_case(expected)
}

/// `application/json` or any structured-syntax `+json` type (RFC 6839), such as
/// `application/problem+json`.
#[cfg(feature = "json")]
pub(crate) fn is_json(value: &str) -> bool {
    let essence = essence(value);
    essence.eq_ignore_ascii_case("application/json")
        || essence.len().checked_sub(5).is_some_and(|at| {
            essence.is_char_boundary(at) && essence[at..].eq_ignore_ascii_case("+json")
        })
}

/// Which of `offered` (media types, most preferred first) an `Accept` value (RFC 9110
/// §12.5.1) prefers: the one it gives the highest weight. A type's weight comes from the most
/// specific range that matches it (`text/html` over `text/*` over `*/*`); between equal
/// weights, the type the client named beats one it only reached by a wildcard
/// (`application/json, */*` is a JSON client), and then the earlier offer wins. No `Accept`
/// means anything goes: the first. `None` when every offer has weight 0.
pub(crate) fn preferred<'o>(accept: Option<&str>, offered: &[&'o str]) -> Option<&'o str> {
    let Some(accept) = accept else {
        return offered.first().copied();
    };
    let weight = |offer: &str| {
        let (kind, _) = offer.split_once('/').unwrap_or((offer, ""));
        let mut best: Option<(u8, u16)> = None; // (specificity, q in thousandths)
        for range in accept.split(',') {
            let (range, parameters) = split_parameters(range.as_bytes());
            let Ok(range) = std::str::from_utf8(range) else {
                continue;
            };
            let specificity = if range.eq_ignore_ascii_case(offer) {
                3
            } else if range
                .strip_suffix("/*")
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case(kind))
            {
                2
            } else if range == "*/*" {
                1
            } else {
                continue;
            };
            if best.is_some_and(|(known, _)| known >= specificity) {
                continue;
            }
            best = Some((specificity, quality(parameters)));
        }
        best.map_or((0, 0), |(specificity, q)| (q, specificity))
    };
    let mut choice: Option<(&str, (u16, u8))> = None;
    for &offer in offered {
        let weight = weight(offer);
        if weight.0 > 0 && choice.is_none_or(|(_, best)| weight > best) {
            choice = Some((offer, weight));
        }
    }
    choice.map(|(offer, _)| offer)
}

/// Which of `offered` (content codings such as `br` and `gzip`, the server's favourite first)
/// an `Accept-Encoding` value (RFC 9110 §12.5.3) prefers; `None` means no coding (identity).
///
/// A coding's weight is its own `q` if the client lists it (`x-gzip` counts as `gzip`), else
/// that of `*`, else 0: a coding the client did not name is not acceptable. The heaviest
/// coding with a weight above 0 wins, the server's order breaking ties. `identity` is always
/// acceptable unless refused, and wins only when the client names it (itself or through
/// `*`) with a higher weight than every coding: `gzip;q=0.5` alone still gets gzip, as most
/// servers read it. An empty value asks for identity. At most four offers are weighed.
#[cfg(feature = "compression")]
pub(crate) fn preferred_coding<'o>(accept_encoding: &str, offered: &[&'o str]) -> Option<&'o str> {
    const MAX_OFFERS: usize = 4;
    let offered = &offered[..offered.len().min(MAX_OFFERS)];
    let mut named: [Option<u16>; MAX_OFFERS] = [None; MAX_OFFERS];
    let (mut identity, mut any) = (None, None);
    for item in accept_encoding.split(',') {
        let (coding, parameters) = split_parameters(item.as_bytes());
        if coding.is_empty() {
            continue;
        }
        let q = quality(parameters);
        let coding = if coding.eq_ignore_ascii_case(b"x-gzip") {
            &b"gzip"[..]
        } else {
            coding
        };
        if coding == b"*" {
            any = Some(q);
        } else if coding.eq_ignore_ascii_case(b"identity") {
            identity = Some(q);
        } else if let Some(index) = offered
            .iter()
            .position(|offer| offer.as_bytes().eq_ignore_ascii_case(coding))
        {
            named[index] = Some(q);
        }
    }
    let mut best: Option<(&'o str, u16)> = None;
    for (index, &offer) in offered.iter().enumerate() {
        let weight = named[index].or(any).unwrap_or(0);
        if weight > 0 && best.is_none_or(|(_, known)| weight > known) {
            best = Some((offer, weight));
        }
    }
    let (offer, weight) = best?;
    match identity.or(any) {
        Some(identity) if identity > weight => None,
        _ => Some(offer),
    }
}

/// The `q` parameter in thousandths (1000 when absent or malformed, as most servers read it).
fn quality(parameters: &[u8]) -> u16 {
    for parameter in Parameters(parameters) {
        let Ok((name, value)) = parameter else {
            break;
        };
        if name.eq_ignore_ascii_case(b"q") {
            let q: f32 = std::str::from_utf8(&value)
                .ok()
                .and_then(|text| text.parse().ok())
                .unwrap_or(1.0);
            // Clamped to 0..=1, so the product fits a u16.
            return (q.clamp(0.0, 1.0) * 1000.0).round() as u16;
        }
    }
    1000
}

/// A parameter list that breaks RFC 9110 §5.6.6; the text says how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParameterError(pub(crate) &'static str);

/// `form-data; name="x"` → (`form-data`, `; name="x"`), the first trimmed.
pub(crate) fn split_parameters(value: &[u8]) -> (&[u8], &[u8]) {
    let end = memchr::memchr(b';', value).unwrap_or(value.len());
    (value[..end].trim_ascii(), &value[end..])
}

/// A parameter's name as sent and its value, unquoted.
pub(crate) type Parameter<'a> = (&'a [u8], Cow<'a, [u8]>);

/// RFC 9110 §5.6.6 parameters: `; key=value` repeated, each value a token or a
/// quoted-string. Yields `(key, value)` until the input ends or after the first error.
pub(crate) struct Parameters<'a>(pub(crate) &'a [u8]);

impl<'a> Iterator for Parameters<'a> {
    type Item = Result<Parameter<'a>, ParameterError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.0.trim_ascii_start();
        let Some(rest) = rest.strip_prefix(b";") else {
            self.0 = b"";
            return (!rest.is_empty())
                .then_some(Err(ParameterError("parameters must be separated by ';'")));
        };
        let rest = rest.trim_ascii_start();
        if rest.is_empty() {
            self.0 = rest; // a trailing ';' is harmless
            return None;
        }
        let result = parse_parameter(rest).map(|(parameter, rest)| {
            self.0 = rest;
            parameter
        });
        if result.is_err() {
            self.0 = b"";
        }
        Some(result)
    }
}

/// One `key=value` at the start of `input`, and what follows it.
fn parse_parameter(input: &[u8]) -> Result<(Parameter<'_>, &[u8]), ParameterError> {
    let key_len = input
        .iter()
        .position(|&byte| !is_token_byte(byte))
        .unwrap_or(input.len());
    if key_len == 0 {
        return Err(ParameterError("a parameter has no name"));
    }
    let (key, rest) = input.split_at(key_len);
    let Some(rest) = rest.trim_ascii_start().strip_prefix(b"=") else {
        return Err(ParameterError("a parameter has no value"));
    };
    let rest = rest.trim_ascii_start();
    if let Some(quoted) = rest.strip_prefix(b"\"") {
        let (value, rest) = quoted_string(quoted)?;
        return Ok(((key, value), rest));
    }
    // A token; clients that forget the quotes get what they sent up to the next ';'.
    let end = memchr::memchr(b';', rest).unwrap_or(rest.len());
    let value = Cow::Borrowed(rest[..end].trim_ascii_end());
    Ok(((key, value), &rest[end..]))
}

/// The content of a quoted-string whose opening quote is already consumed, and what follows
/// the closing quote. `\"` and `\\` are unescaped; any other backslash is kept, so that a
/// Windows path sent unescaped (`C:\Users\ada\cv.pdf`, as old browsers did) survives.
fn quoted_string(input: &[u8]) -> Result<(Cow<'_, [u8]>, &[u8]), ParameterError> {
    let mut unescaped: Option<Vec<u8>> = None;
    let mut index = 0;
    while let Some(&byte) = input.get(index) {
        match (byte, input.get(index + 1)) {
            (b'"', _) => {
                let value = match unescaped {
                    Some(bytes) => Cow::Owned(bytes),
                    None => Cow::Borrowed(&input[..index]),
                };
                return Ok((value, &input[index + 1..]));
            }
            (b'\\', Some(&escaped @ (b'"' | b'\\'))) => {
                unescaped
                    .get_or_insert_with(|| input[..index].to_vec())
                    .push(escaped);
                index += 2;
            }
            _ => {
                if let Some(bytes) = &mut unescaped {
                    bytes.push(byte);
                }
                index += 1;
            }
        }
    }
    Err(ParameterError("a quoted parameter value is not closed"))
}

/// RFC 9110 `tchar`.
pub(crate) fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn essence_drops_parameters_and_space() {
        assert_eq!(essence(" text/html ; charset=utf-8"), "text/html");
        assert_eq!(essence("text/plain"), "text/plain");
        assert_eq!(essence(""), "");
        assert!(is(
            "Application/X-WWW-Form-URLencoded; charset=utf-8",
            "application/x-www-form-urlencoded"
        ));
        assert!(!is("text/plain", "text/html"));
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_and_structured_json_types() {
        assert!(is_json("application/json"));
        assert!(is_json("APPLICATION/JSON; charset=utf-8"));
        assert!(is_json("application/problem+JSON"));
        assert!(!is_json("application/jsonp"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("json"));
        // A multi-byte character right before the suffix must not split a char.
        assert!(!is_json("application/é+jso"));
    }

    #[test]
    fn accept_picks_the_heaviest_offer_most_specific_range_first() {
        let offers = ["text/html", "application/json"];
        let pick = |accept| preferred(accept, &offers);
        assert_eq!(pick(None), Some("text/html"), "no Accept: the first");
        assert_eq!(pick(Some("*/*")), Some("text/html"), "a tie: the first");
        assert_eq!(pick(Some("application/json")), Some("application/json"));
        assert_eq!(
            pick(Some(
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
            )),
            Some("text/html"),
            "a browser"
        );
        assert_eq!(
            pick(Some("application/json, text/plain, */*")),
            Some("application/json"),
            "a JS client: named beats reached by */*"
        );
        assert_eq!(
            pick(Some("text/*;q=0.5, application/json")),
            Some("application/json")
        );
        assert_eq!(
            pick(Some("*/*;q=0.1, text/html;q=0")),
            Some("application/json")
        );
        assert_eq!(pick(Some("image/png")), None);
        assert_eq!(
            pick(Some("APPLICATION/JSON; q=1")),
            Some("application/json")
        );
    }

    #[cfg(feature = "compression")]
    #[test]
    fn accept_encoding_weighs_codings_against_identity() {
        let offers = ["br", "gzip"];
        let pick = |value| preferred_coding(value, &offers);
        let cases = [
            ("gzip, deflate, br, zstd", Some("br")),
            ("gzip", Some("gzip")),
            ("x-gzip", Some("gzip")),
            ("GZIP;Q=1", Some("gzip")),
            ("br;q=0.5, gzip", Some("gzip")),
            ("gzip;q=0.5", Some("gzip")),
            ("*", Some("br")),
            ("*;q=0.5, br;q=0", Some("gzip")),
            ("gzip;q=0, br;q=0", None),
            ("identity", None),
            ("", None),
            ("deflate", None),
            ("identity;q=1, gzip;q=0.5", None),
            ("identity;q=0.1, gzip;q=0.5", Some("gzip")),
            ("*;q=0", None),
            ("gzip, identity;q=0", Some("gzip")),
            (" , ;, gzip ;q=0.9", Some("gzip")),
            ("br;q=nonsense", Some("br")),
        ];
        for (value, expected) in cases {
            assert_eq!(pick(value), expected, "{value:?}");
        }
        assert_eq!(
            preferred_coding("gzip, br", &["gzip", "br"]),
            Some("gzip"),
            "the server's order breaks ties"
        );
    }

    #[test]
    fn parameters_token_and_quoted() {
        let (kind, rest) = split_parameters(br#"form-data ; name="a\"b"; filename=c.txt"#);
        assert_eq!(kind, b"form-data");
        let parameters: Vec<_> = Parameters(rest).collect::<Result<_, _>>().unwrap();
        assert_eq!(parameters[0].0, b"name");
        assert_eq!(&*parameters[0].1, br#"a"b"#);
        assert_eq!(
            parameters[1],
            (&b"filename"[..], Cow::Borrowed(&b"c.txt"[..]))
        );
    }

    #[test]
    fn parameter_errors_say_what_is_wrong() {
        let first = |input: &'static [u8]| Parameters(input).find_map(Result::err);
        assert_eq!(
            first(b"; =x"),
            Some(ParameterError("a parameter has no name"))
        );
        assert_eq!(
            first(b"; name"),
            Some(ParameterError("a parameter has no value"))
        );
        assert_eq!(
            first(b"; name=\"open"),
            Some(ParameterError("a quoted parameter value is not closed"))
        );
        assert_eq!(
            first(b" junk"),
            Some(ParameterError("parameters must be separated by ';'"))
        );
        assert_eq!(first(b"; a=1;"), None);
    }
}
