//! The properties themselves (see `proptests.rs` for what each says).

use http::{StatusCode, Version};

use crate::h1::encode::EncodeOptions;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::TestCaseError;

use super::generators::*;
use super::model::*;
use super::{
    BYTE_AT_A_TIME_MAX, CODEC_CASES, CONN_CASES, DATE, ECHO_CASES, ENCODE_CASES, SINGLE_SPLITS_MAX,
    config,
};
use crate::h1::error::ParseError;
use crate::h1::head::{HostMemo, PartialHead, header_storage, parse_head};
use crate::response::Response;

proptest! {
    #![proptest_config(config(CONN_CASES))]

    /// Property 1, through a whole connection.
    #[test]
    fn random_bytes_never_panic_or_leave_a_connection_stuck(
        input in http_ish_bytes(),
        choices in split_choices(),
        limits in limits(),
    ) {
        let app = site(digest_app(&limits));
        let whole = feed(&app, &input, &[]);
        check_settled(&whole, &limits)?;
        let split = feed(&app, &input, &offsets(&choices, input.len()));
        check_settled(&split, &limits)?;
        // Every answer of the digest app has an empty body, and its error pages (404, 405)
        // carry a digest, so an error without one is a rejection. Which request was a HEAD
        // (whose rejection has no body) is not known here.
        let is_rejection = |response: &ParsedResponse| {
            response.status >= 400 && response.header("x-digest").is_none()
        };
        let whole_responses = parse_responses(&whole.output, |_, _| None);
        prop_assert!(whole_responses.is_ok(), "{:?}", whole_responses);
        let split_responses = parse_responses(&split.output, |_, _| None);
        prop_assert!(split_responses.is_ok(), "{:?}", split_responses);
        let whole_answers = answers(whole_responses.unwrap_or_default(), is_rejection)?;
        let split_answers = answers(split_responses.unwrap_or_default(), is_rejection)?;
        prop_assert_eq!(&whole_answers.answers, &split_answers.answers);
        if whole_answers.rejected == split_answers.rejected {
            prop_assert_eq!(whole.closing, split.closing);
        } else {
            // An unfinished head is parsed again only when a new line end arrives (so that a
            // client sending a byte at a time costs a parse per line): garbage in the last,
            // unfinished line is refused at once when it arrived with an earlier line end,
            // and at its own line end otherwise. Only then may one side still be waiting.
            let waiting = if whole_answers.rejected { &split } else { &whole };
            prop_assert!(
                !waiting.closing && waiting.phase == Phase::Head,
                "rejected on one side only, and the other is not waiting for a head: {:?}",
                waiting
            );
        }
    }
}

proptest! {
    #![proptest_config(config(CODEC_CASES))]

    /// Property 1, `parse_head` alone, on bytes and on valid pipelines (so that many heads
    /// are complete).
    #[test]
    fn parse_head_on_random_bytes_claims_no_more_than_it_was_given(
        input in prop_oneof![http_ish_bytes(), pipeline().prop_map(|p| Wire(p.wire()))],
        cut in any::<Index>(),
        limits in limits(),
    ) {
        let head_limits = limits.head_limits();
        let mut storage = header_storage();
        let mut hosts = HostMemo::default();
        if let Ok(Some(head)) = parse_head(&input, &mut storage, &head_limits, &mut hosts) {
            prop_assert!(head.len <= input.len());
            prop_assert!(head.len <= limits.max_head);
            // A head accepted whole must not be rejected when only part of it has arrived:
            // otherwise whether a request is answered depends on how TCP cut it. Every
            // prefix is followed as a connection follows it, a byte more each time, and
            // one prefix from scratch (a connection whose first read ended there).
            let mut scan = PartialHead::default();
            for end in 0..head.len {
                let prefix = &input[..end];
                prop_assert_eq!(
                    scan.advance(prefix, &head_limits),
                    Ok(false),
                    "prefix {:?}",
                    prefix.escape_ascii().to_string()
                );
            }
            prop_assert_eq!(scan.advance(&input[..head.len], &head_limits), Ok(true));
            let cut = cut.index(head.len);
            prop_assert_eq!(
                PartialHead::default().advance(&input[..cut], &head_limits),
                Ok(false)
            );
        }
    }

    /// Property 1, `ChunkedDecoder` alone.
    #[test]
    fn chunked_decoder_on_random_bytes_does_not_depend_on_the_split(
        input in chunk_ish_bytes(),
        choices in split_choices(),
        max_body in prop_oneof![0u64..512, Just(u64::MAX)],
    ) {
        let whole = decode_pieces(&input, &[], max_body);
        if let Ok(Some((body, consumed))) = &whole {
            prop_assert!(*consumed <= input.len());
            prop_assert!(body.len() <= *consumed);
            prop_assert!(body.len() as u64 <= max_body);
        }
        // Which check rejects a bad line first depends on how much of it has arrived
        // ("invalid chunk-size line" before its end, "not ended by CRLF" after); the answer,
        // the status, must not.
        let answer = |result: Result<Option<(Vec<u8>, usize)>, ParseError>| {
            result.map_err(|error| error.status())
        };
        let whole = answer(whole);
        let mut splits = vec![offsets(&choices, input.len())];
        if input.len() <= SINGLE_SPLITS_MAX {
            splits.extend((1..input.len()).map(|split| vec![split]));
        }
        for split in splits {
            let result = answer(decode_pieces(&input, &split, max_body));
            prop_assert_eq!(&result, &whole, "split at {:?}", split);
        }
    }
}

proptest! {
    #![proptest_config(config(ECHO_CASES))]

    /// Property 2.
    #[test]
    fn valid_requests_read_the_same_whatever_the_split(
        pipeline in pipeline(),
        choices in split_choices(),
        limits in limits(),
    ) {
        let app = site(echo_app(&pipeline, &limits));
        let input = pipeline.wire();
        let whole = feed(&app, &input, &[]);
        check_echoes(&pipeline, &limits, &whole)?;
        let all_fit = pipeline.requests.iter().all(|request| request.fits(&limits));
        let mut splits = vec![offsets(&choices, input.len())];
        if input.len() <= BYTE_AT_A_TIME_MAX {
            splits.push((1..input.len()).collect());
        }
        for split in splits {
            let outcome = feed(&app, &input, &split);
            check_echoes(&pipeline, &limits, &outcome)?;
            if all_fit {
                prop_assert_eq!(
                    outcome.output.escape_ascii().to_string(),
                    whole.output.escape_ascii().to_string(),
                    "split at {:?}",
                    split
                );
            } else {
                prop_assert_eq!(
                    pipeline_answers(&outcome.output, &pipeline)?,
                    pipeline_answers(&whole.output, &pipeline)?,
                    "split at {:?}",
                    split
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(config(ENCODE_CASES))]

    /// Property 3.
    #[test]
    fn encoded_responses_parse_back(generated in generated_response()) {
        let response = generated.build();
        prop_assert!(response.is_ok(), "{:?}", response.err());
        let mut response = response.unwrap_or_default();
        let options = EncodeOptions {
            version: if generated.http10 { Version::HTTP_10 } else { Version::HTTP_11 },
            keep_alive: generated.keep_alive,
            head_only: generated.head_only,
            date: DATE,
        };
        let mut encoded = Vec::new();
        response.outgoing_mut().encode(&options, &mut encoded);

        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut fields);
        let head_len = match parsed.parse(&encoded) {
            Ok(httparse::Status::Complete(len)) => len,
            other => {
                return Err(TestCaseError::fail(format!(
                    "{other:?} for {:?}",
                    encoded.escape_ascii().to_string()
                )));
            }
        };
        prop_assert_eq!(parsed.version, Some(1));
        prop_assert_eq!(parsed.code, Some(generated.status));
        let reason = StatusCode::from_u16(generated.status)
            .ok()
            .and_then(|status| status.canonical_reason())
            .unwrap_or("");
        prop_assert_eq!(parsed.reason, Some(reason));
        let mut seen = FieldModel::new();
        for field in parsed.headers.iter() {
            seen.entry(field.name.to_ascii_lowercase())
                .or_default()
                .push(field.value.to_vec());
        }
        prop_assert_eq!(seen, generated.expected_fields());
        let sent_body: &[u8] = if generated.bodiless() || generated.head_only {
            &[]
        } else {
            &generated.body[..]
        };
        prop_assert_eq!(&encoded[head_len..], sent_body);
    }

    /// Property 3: no value with CR, LF or NUL gets into a header.
    #[test]
    fn header_values_with_cr_lf_or_nul_are_refused(
        name in response_header_name(),
        before in response_header_value(),
        bad in select(&['\r', '\n', '\0'][..]),
        after in response_header_value(),
    ) {
        let value = format!("{before}{bad}{after}");
        let mut response = Response::text("x");
        prop_assert!(response.set_header(&name, &value).is_err());
        prop_assert!(response.append_header(&name, &value).is_err());
        prop_assert!(Response::text("x").with_header(&name, &value).is_err());
        prop_assert!(response.headers().is_empty());
        prop_assert_eq!(response.header("content-type"), Some("text/plain; charset=utf-8"));
    }
}
