//! A whole query string, form or JSON body into a serde type in one call
//! ([`Request::query_into`](crate::Request::query_into),
//! [`Request::form_into`](crate::Request::form_into), [`Request::json`](crate::Request::json)),
//! with a 400 that names the field and says what is wrong with it, as axum's `Query`, `Form`
//! and `Json` rejections do. serde_html_form reads urlencoded pairs (a repeated key fills a
//! `Vec`); serde_path_to_error finds the field an error is about.

use serde::de::DeserializeOwned;

use crate::error::HttpError;

/// `input` (urlencoded pairs) as a `T`; `what` names it in the error ("query string", "form").
pub(crate) fn from_urlencoded<T: DeserializeOwned>(
    input: &[u8],
    what: &str,
) -> Result<T, HttpError> {
    let deserializer = serde_html_form::Deserializer::new(form_urlencoded::parse(input));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        HttpError::bad_request(format!(
            "invalid {what}: {}{}",
            field(error.path()),
            error.inner()
        ))
    })
}

/// `body` (JSON) as a `T`; the error names the field, and the line and column.
#[cfg(feature = "json")]
pub(crate) fn from_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, HttpError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        HttpError::bad_request(format!(
            "invalid JSON: {}{}",
            field(error.path()),
            error.inner()
        ))
    })?;
    // Characters after the value are an error too, as serde_json::from_slice says.
    deserializer
        .end()
        .map_err(|error| HttpError::bad_request(format!("invalid JSON: {error}")))?;
    Ok(value)
}

/// "`user.age`: " for an error about a field, nothing for one about the whole value.
fn field(path: &serde_path_to_error::Path) -> String {
    match path.to_string().as_str() {
        "." | "" => String::new(),
        path => format!("`{path}`: "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Search {
        q: String,
        page: Option<u32>,
        #[serde(default)]
        tag: Vec<String>,
    }

    #[test]
    fn pairs_fill_fields_options_and_vecs() {
        let search: Search = from_urlencoded(b"q=rust+web&tag=a&tag=b%20c", "query").unwrap();
        assert_eq!(
            search,
            Search {
                q: "rust web".into(),
                page: None,
                tag: vec!["a".into(), "b c".into()]
            }
        );
        let paged: Search = from_urlencoded(b"q=x&page=2", "query").unwrap();
        assert_eq!(paged.page, Some(2));
    }

    #[test]
    fn errors_name_the_field_and_the_problem() {
        let message = |input: &[u8]| {
            from_urlencoded::<Search>(input, "query string")
                .unwrap_err()
                .message()
                .to_owned()
        };
        assert_eq!(
            message(b"page=2"),
            "invalid query string: missing field `q`"
        );
        assert_eq!(
            message(b"q=x&page=two"),
            "invalid query string: `page`: invalid digit found in string"
        );
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_errors_name_the_field_line_and_column() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct User {
            name: String,
            age: u32,
        }
        let error = from_json::<User>(b"{\"name\": \"Ada\",\n \"age\": \"x\"}").unwrap_err();
        assert_eq!(error.status(), http::StatusCode::BAD_REQUEST);
        assert_eq!(
            error.message(),
            "invalid JSON: `age`: invalid type: string \"x\", expected u32 at line 2 column 11"
        );
        let trailing = from_json::<User>(b"{\"name\": \"Ada\", \"age\": 3} x").unwrap_err();
        assert_eq!(
            trailing.message(),
            "invalid JSON: trailing characters at line 1 column 27"
        );
    }
}
