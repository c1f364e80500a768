//! The opening handshake (RFC 6455 §4.2.1): a GET over HTTP/1.1 with `Connection: upgrade`,
//! `Upgrade: websocket`, `Sec-WebSocket-Version: 13` and a key of 16 base64-encoded bytes. A
//! request that is not one is refused with the status and reason the RFC gives.

use http::{Method, StatusCode, Version};

/// Why a request is not a WebSocket handshake: the status to answer and what to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: StatusCode,
    pub reason: &'static str,
}

/// The parts of a request the handshake looks at.
pub(crate) struct Offer<'r> {
    pub method: &'r Method,
    pub version: Version,
    pub connection: Option<&'r str>,
    pub upgrade: Option<&'r str>,
    pub ws_version: Option<&'r str>,
    pub key: Option<&'r str>,
}

/// The `Sec-WebSocket-Accept` for a valid handshake, or why it is not one.
pub(crate) fn accept(offer: &Offer<'_>) -> Result<String, Refusal> {
    let refuse = |status, reason| Err(Refusal { status, reason });
    if *offer.method != Method::GET {
        return refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "a WebSocket opens with a GET",
        );
    }
    if offer.version != Version::HTTP_11 {
        return refuse(StatusCode::BAD_REQUEST, "a WebSocket opens over HTTP/1.1");
    }
    let has_token = |value: Option<&str>, token: &str| {
        value.is_some_and(|value| {
            value
                .split(',')
                .any(|item| item.trim().eq_ignore_ascii_case(token))
        })
    };
    if !has_token(offer.upgrade, "websocket") {
        return refuse(
            StatusCode::UPGRADE_REQUIRED,
            "this is a WebSocket endpoint: send Upgrade: websocket",
        );
    }
    if !has_token(offer.connection, "upgrade") {
        return refuse(StatusCode::BAD_REQUEST, "Connection: upgrade is missing");
    }
    if offer.ws_version.map(str::trim) != Some("13") {
        // RFC 6455 §4.4: 426 with the version the server speaks (the caller adds it).
        return refuse(
            StatusCode::UPGRADE_REQUIRED,
            "only Sec-WebSocket-Version: 13 is spoken",
        );
    }
    let Some(key) = offer.key.map(str::trim) else {
        return refuse(StatusCode::BAD_REQUEST, "Sec-WebSocket-Key is missing");
    };
    if !is_nonce(key) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Key is not 16 bytes in base64",
        );
    }
    Ok(tungstenite::handshake::derive_accept_key(key.as_bytes()))
}

/// 16 bytes in base64: 22 characters of the alphabet and `==`.
fn is_nonce(key: &str) -> bool {
    key.len() == 24
        && key.ends_with("==")
        && key[..22]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer() -> Offer<'static> {
        Offer {
            method: &Method::GET,
            version: Version::HTTP_11,
            connection: Some("keep-alive, Upgrade"),
            upgrade: Some("websocket"),
            ws_version: Some("13"),
            key: Some("dGhlIHNhbXBsZSBub25jZQ=="),
        }
    }

    #[test]
    fn the_rfcs_example_key_gets_the_rfcs_accept() {
        assert_eq!(accept(&offer()).unwrap(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn each_missing_or_wrong_part_is_refused_with_its_reason() {
        static POST: Method = Method::POST;
        let cases: Vec<(Offer<'static>, u16)> = vec![
            (
                Offer {
                    method: &POST,
                    ..offer()
                },
                405,
            ),
            (
                Offer {
                    version: Version::HTTP_10,
                    ..offer()
                },
                400,
            ),
            (
                Offer {
                    upgrade: None,
                    ..offer()
                },
                426,
            ),
            (
                Offer {
                    upgrade: Some("h2c"),
                    ..offer()
                },
                426,
            ),
            (
                Offer {
                    connection: Some("keep-alive"),
                    ..offer()
                },
                400,
            ),
            (
                Offer {
                    ws_version: Some("8"),
                    ..offer()
                },
                426,
            ),
            (
                Offer {
                    key: None,
                    ..offer()
                },
                400,
            ),
            (
                Offer {
                    key: Some("short"),
                    ..offer()
                },
                400,
            ),
        ];
        for (offer, status) in cases {
            assert_eq!(accept(&offer).unwrap_err().status.as_u16(), status);
        }
    }
}
