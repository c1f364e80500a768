//! Why a request could not be read: [`ParseError`], and the one place that maps it to the
//! status that answers it ([`ParseError::status`]), as hyper's `role.rs` and tiny_http do.

use http::StatusCode;

/// Why a request could not be read. Each variant is answered with the status
/// [`ParseError::status`] gives, then the connection is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParseError {
    /// The request violates HTTP/1.1 syntax or framing rules (RFC 9112).
    #[error("{0}")]
    Malformed(&'static str),
    /// The request head (request line and header section) is larger than the limit.
    #[error("request header section larger than {0} bytes")]
    HeadTooLarge(usize),
    /// More header fields than the limit.
    #[error("more than {0} header fields")]
    TooManyHeaders(usize),
    /// The request-target is longer than the limit.
    #[error("request-target longer than {0} bytes")]
    UriTooLong(usize),
    /// The query string has more parameters than the limit.
    #[error("more than {0} query parameters")]
    TooManyQueryParams(usize),
    /// The `Cookie` header fields hold more cookies than the limit.
    #[error("more than {0} cookies")]
    TooManyCookies(usize),
    /// The declared or received body is larger than the limit.
    #[error("request body larger than {0} bytes")]
    BodyTooLarge(u64),
    /// A transfer coding other than chunked, which carafe does not decode (RFC 9112 §6.1).
    #[error("unsupported transfer coding")]
    UnsupportedTransferCoding,
    /// An `Expect` value other than `100-continue` (RFC 9110 §10.1.1).
    #[error("unsupported expectation")]
    UnsupportedExpectation,
    /// An HTTP version other than 1.0 or 1.1.
    #[error("unsupported HTTP version")]
    UnsupportedVersion,
    /// The request head or body did not arrive within the configured time.
    #[error("request not received in time")]
    Timeout,
}

impl ParseError {
    /// The status that answers this error: the one place that maps failures to codes, as
    /// hyper's `role.rs` and tiny_http do.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ParseError::Malformed(_) => StatusCode::BAD_REQUEST,
            ParseError::HeadTooLarge(_)
            | ParseError::TooManyHeaders(_)
            | ParseError::TooManyCookies(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ParseError::UriTooLong(_) | ParseError::TooManyQueryParams(_) => {
                StatusCode::URI_TOO_LONG
            }
            ParseError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ParseError::UnsupportedTransferCoding => StatusCode::NOT_IMPLEMENTED,
            ParseError::UnsupportedExpectation => StatusCode::EXPECTATION_FAILED,
            ParseError::UnsupportedVersion => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            ParseError::Timeout => StatusCode::REQUEST_TIMEOUT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_map_to_their_statuses() {
        let cases = [
            (ParseError::Malformed("x"), 400),
            (ParseError::HeadTooLarge(1), 431),
            (ParseError::TooManyHeaders(1), 431),
            (ParseError::UriTooLong(1), 414),
            (ParseError::TooManyQueryParams(1), 414),
            (ParseError::TooManyCookies(1), 431),
            (ParseError::BodyTooLarge(1), 413),
            (ParseError::UnsupportedTransferCoding, 501),
            (ParseError::UnsupportedExpectation, 417),
            (ParseError::UnsupportedVersion, 505),
            (ParseError::Timeout, 408),
        ];
        for (error, status) in cases {
            assert_eq!(error.status().as_u16(), status, "{error:?}");
        }
    }
}
