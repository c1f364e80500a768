//! Request body framing: Content-Length or chunked transfer-coding (RFC 9112 §6–7).
//!
//! The other half of the sans-IO codec (with `head.rs`). A Content-Length body needs no
//! decoding: the connection waits until that many bytes follow the head. A chunked body is
//! decoded *in place* by [`ChunkedDecoder`]: chunk data is moved down over the chunk framing, so
//! the decoded body ends up contiguous right after the head, in the same buffer, with no copy
//! into a second allocation. Decoded data never overtakes the raw data it came from, so the
//! move is always safe.

use crate::h1::error::ParseError;
use crate::h1::head::{FieldError, FieldLines};

/// The limits a chunked body is decoded under (from `Config`, by way of `Limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkedLimits {
    /// Decoded body bytes (`max_body_size`).
    pub max_body: u64,
    /// Chunk-extension bytes, summed over the body (`max_chunk_extensions`): everything after
    /// each chunk size on its line. carafe uses no extension; without a bound a client could
    /// send gigabytes of them around a small body (hyper bounds them the same way).
    pub max_extensions: usize,
    /// Bytes of the trailer section, fields and final CRLF included (`max_head_size`, as for
    /// the header section).
    pub max_trailer_size: usize,
    /// Trailer fields (`max_headers`).
    pub max_trailers: usize,
}

impl ChunkedLimits {
    /// No limit at all: for reading back what carafe itself sent (the test client).
    pub(crate) fn unlimited() -> Self {
        Self {
            max_body: u64::MAX,
            max_extensions: usize::MAX,
            max_trailer_size: usize::MAX,
            max_trailers: usize::MAX,
        }
    }

    /// The most undecoded bytes the decoder may need in the buffer at once before it can go on
    /// or reject them: a whole chunk-size line (16 digits, the extensions, CRLF) or a whole
    /// trailer section, and one byte more. The connection's read buffer must hold this much
    /// beyond the head and the decoded body.
    pub(crate) fn max_undecoded(&self) -> usize {
        let size_line = self.max_extensions.saturating_add(MAX_SIZE_DIGITS + 2);
        size_line.max(self.max_trailer_size).saturating_add(1)
    }
}

/// A chunk size has at most 16 hex digits, so that it fits a u64.
const MAX_SIZE_DIGITS: usize = 16;

/// Where the decoder is inside the chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunked {
    /// Expecting a chunk-size line: `1*HEXDIG [ chunk-ext ] CRLF`, whose first `checked`
    /// bytes hold no line end and are valid, so each byte of it is looked at once.
    Size { checked: usize },
    /// Inside chunk data with this many bytes still to come.
    Data(u64),
    /// Expecting the CRLF that ends chunk data.
    DataEnd,
    /// After the last chunk: the trailer section, ended by an empty line, followed line by
    /// line (offsets from the section's start) so each byte is looked at once.
    Trailers(FieldLines),
    /// The body is complete.
    Done,
}

/// An incremental, strict decoder for a chunked body that decodes in place.
#[derive(Debug, Clone)]
pub(crate) struct ChunkedDecoder {
    state: Chunked,
    /// Raw input consumed so far, as an offset into the caller's buffer.
    read: usize,
    /// End of the decoded body so far, as an offset into the caller's buffer (`<= read`).
    written: usize,
    /// Decoded body bytes so far, checked against the limit before any chunk is accepted.
    decoded: u64,
    /// Chunk-extension bytes so far.
    extensions: usize,
    limits: ChunkedLimits,
}

impl ChunkedDecoder {
    /// A decoder for a body whose raw bytes start at `start` in the caller's buffer; the decoded
    /// body will also start there.
    pub(crate) fn new(start: usize, limits: ChunkedLimits) -> Self {
        Self {
            state: Chunked::Size { checked: 0 },
            read: start,
            written: start,
            decoded: 0,
            extensions: 0,
            limits,
        }
    }

    /// End of the decoded body in the buffer. Meaningful once [`decode`](Self::decode) returns
    /// `Ok(true)`; the body is `buf[start..body_end()]`.
    pub(crate) fn body_end(&self) -> usize {
        self.written
    }

    /// Raw bytes consumed: the request, head to last trailer, is `buf[..consumed()]`.
    pub(crate) fn consumed(&self) -> usize {
        self.read
    }

    /// The buffer is about to drop the dead bytes between decoded and raw data (`written..read`)
    /// to make room: `buf[read..]` moves down to `written`.
    pub(crate) fn compact(&mut self, buf: &mut [u8], filled: usize) -> usize {
        buf.copy_within(self.read..filled, self.written);
        let freed = self.read - self.written;
        self.read = self.written;
        filled - freed
    }

    /// Bytes reclaimable by [`compact`](Self::compact).
    pub(crate) fn reclaimable(&self) -> usize {
        self.read - self.written
    }

    /// Decodes as much of `buf[..filled]` as is available. Returns `Ok(true)` once the whole
    /// body, trailers included, has been decoded; `Ok(false)` when more input is needed.
    pub(crate) fn decode(&mut self, buf: &mut [u8], filled: usize) -> Result<bool, ParseError> {
        loop {
            let available = &buf[self.read..filled];
            match self.state {
                Chunked::Size { ref mut checked } => {
                    let budget = self.limits.max_extensions - self.extensions;
                    let Some(line) = parse_size_line(available, checked, budget)? else {
                        return Ok(false);
                    };
                    let (consumed, size) = (line.len, line.size);
                    self.extensions += line.extensions;
                    self.read += consumed;
                    self.state = if size == 0 {
                        Chunked::Trailers(FieldLines::new(0))
                    } else {
                        Chunked::Data(size)
                    };
                    let decoded = self.decoded.checked_add(size);
                    match decoded {
                        Some(total) if total <= self.limits.max_body => self.decoded = total,
                        _ => return Err(ParseError::BodyTooLarge(self.limits.max_body)),
                    }
                }
                Chunked::Data(remaining) => {
                    if available.is_empty() {
                        return Ok(false);
                    }
                    // Never more than `available.len()`, which is a usize.
                    let take = remaining.min(available.len() as u64) as usize;
                    buf.copy_within(self.read..self.read + take, self.written);
                    self.read += take;
                    self.written += take;
                    let left = remaining - take as u64;
                    self.state = if left == 0 {
                        Chunked::DataEnd
                    } else {
                        Chunked::Data(left)
                    };
                }
                Chunked::DataEnd => match available {
                    [b'\r', b'\n', ..] => {
                        self.read += 2;
                        self.state = Chunked::Size { checked: 0 };
                    }
                    [] | [b'\r'] => return Ok(false),
                    _ => return Err(ParseError::Malformed("chunk data not followed by CRLF")),
                },
                Chunked::Trailers(ref mut lines) => {
                    // The cap holds whether the section arrives whole or in pieces.
                    let max_size = self.limits.max_trailer_size;
                    let section = &available[..available.len().min(max_size.saturating_add(1))];
                    match lines.advance(section, self.limits.max_trailers) {
                        Ok(Some(len)) if len > max_size => {
                            return Err(ParseError::HeadTooLarge(max_size));
                        }
                        Ok(Some(len)) => {
                            self.read += len;
                            self.state = Chunked::Done;
                        }
                        Ok(None) if section.len() > max_size => {
                            return Err(ParseError::HeadTooLarge(max_size));
                        }
                        Ok(None) => return Ok(false),
                        Err(FieldError::TooMany) => {
                            return Err(ParseError::TooManyHeaders(self.limits.max_trailers));
                        }
                        Err(FieldError::Invalid(_)) => {
                            return Err(ParseError::Malformed("invalid chunked trailer"));
                        }
                    }
                }
                Chunked::Done => return Ok(true),
            }
        }
    }
}

/// A complete chunk-size line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SizeLine {
    /// Bytes it took, CRLF included.
    len: usize,
    /// The chunk size.
    size: u64,
    /// Bytes after the size: whitespace and extensions.
    extensions: usize,
}

/// Parses one chunk-size line at the start of `input`. `checked` bytes of it were looked at by
/// earlier calls (and hold no line end); `budget` is what is left of the extension limit.
///
/// Written by hand rather than with `httparse::parse_chunk_size` because that function is
/// lenient in ways that enable request smuggling when a proxy parses differently: it accepts an
/// empty size, and a bare LF inside an extension. Here the size is `1*HEXDIG` (at most 16
/// digits, so it fits a u64), extensions may hold no control characters, and the line must
/// end in CRLF (RFC 9112 §7.1).
fn parse_size_line(
    input: &[u8],
    checked: &mut usize,
    budget: usize,
) -> Result<Option<SizeLine>, ParseError> {
    let too_long = |digits: usize, len: usize| {
        if digits > MAX_SIZE_DIGITS {
            Err(ParseError::Malformed("invalid chunk size"))
        } else if len - digits > budget {
            Err(ParseError::Malformed("chunk extensions over the limit"))
        } else {
            Ok(())
        }
    };
    let Some(found) = memchr::memchr(b'\n', &input[*checked..]) else {
        // Fail early on a line that can never become valid, rather than waiting for its end:
        // only a final CR (the start of the CRLF) may be outside the line's alphabet. Bytes
        // checked once are not checked again.
        let line = input.strip_suffix(b"\r").unwrap_or(input);
        if line.len() > *checked && line[*checked..].iter().any(|&b| !is_size_line_byte(b)) {
            return Err(ParseError::Malformed("invalid chunk-size line"));
        }
        *checked = line.len();
        let digits = line.iter().take(MAX_SIZE_DIGITS + 1);
        too_long(
            digits.take_while(|b| b.is_ascii_hexdigit()).count(),
            line.len(),
        )?;
        return Ok(None);
    };
    let lf = *checked + found;
    let Some(line) = input[..lf].strip_suffix(b"\r") else {
        return Err(ParseError::Malformed("chunk-size line not ended by CRLF"));
    };
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(ParseError::Malformed("invalid chunk size"));
    }
    too_long(digits, line.len())?;
    let size = line[..digits].iter().fold(0u64, |acc, &b| {
        // At most 16 hex digits, so this cannot overflow.
        (acc << 4) | u64::from(hex_value(b))
    });
    let extension = &line[digits..];
    let trimmed = extension.iter().position(|&b| b != b' ' && b != b'\t');
    let valid_extension = match trimmed {
        None => true,
        Some(i) => extension[i] == b';' && extension.iter().all(|&b| is_size_line_byte(b)),
    };
    if !valid_extension {
        return Err(ParseError::Malformed("invalid chunk extension"));
    }
    Ok(Some(SizeLine {
        len: lf + 1,
        size,
        extensions: extension.len(),
    }))
}

/// Bytes allowed in a chunk-size line before its CRLF: visible ASCII, SP, HTAB and obs-text.
fn is_size_line_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The limits of most tests: no body limit, 4 KiB of extensions, 16 KiB and 32 fields of
    /// trailers.
    const LIMITS: ChunkedLimits = ChunkedLimits {
        max_body: u64::MAX,
        max_extensions: 4096,
        max_trailer_size: 16 * 1024,
        max_trailers: 32,
    };

    /// Decodes `raw` fed in pieces split at `splits`, as a connection would see it arrive:
    /// `Ok(None)` while still incomplete at the end of `raw`.
    fn decode_with(
        raw: &[u8],
        splits: &[usize],
        limits: ChunkedLimits,
    ) -> Result<Option<(Vec<u8>, usize)>, ParseError> {
        let mut buf = raw.to_vec();
        let mut decoder = ChunkedDecoder::new(0, limits);
        let mut ends: Vec<usize> = splits.to_vec();
        ends.push(raw.len());
        for end in ends {
            if decoder.decode(&mut buf, end)? {
                return Ok(Some((
                    buf[..decoder.body_end()].to_vec(),
                    decoder.consumed(),
                )));
            }
        }
        Ok(None)
    }

    fn decode_split(
        raw: &[u8],
        splits: &[usize],
        max_body: u64,
    ) -> Result<Option<(Vec<u8>, usize)>, ParseError> {
        decode_with(raw, splits, ChunkedLimits { max_body, ..LIMITS })
    }

    fn decode(raw: &[u8]) -> Result<Option<(Vec<u8>, usize)>, ParseError> {
        decode_with(raw, &[], LIMITS)
    }

    #[test]
    fn decodes_chunks_extensions_and_trailers() {
        let cases: [(&[u8], &[u8]); 5] = [
            (b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
            (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world"),
            (
                b"A;name=value\r\n0123456789\r\n0;last\r\n\r\n",
                b"0123456789",
            ),
            (
                b"3 ; ext=\"quoted\"\r\nabc\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n",
                b"abc",
            ),
            (b"0\r\n\r\n", b""),
        ];
        for (raw, body) in cases {
            let (decoded, consumed) = decode(raw).unwrap().expect("complete");
            assert_eq!(decoded, body, "{:?}", String::from_utf8_lossy(raw));
            assert_eq!(consumed, raw.len());
        }
    }

    #[test]
    fn every_single_split_gives_the_same_body() {
        let raw =
            b"4;x=y\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\nNEXT";
        let expected = b"Wikipedia in\r\n\r\nchunks.".to_vec();
        let request_end = raw.len() - 4;
        for split in 0..=raw.len() {
            let (decoded, consumed) = decode_split(raw, &[split], u64::MAX)
                .unwrap()
                .expect("complete");
            assert_eq!(decoded, expected, "split at {split}");
            assert_eq!(consumed, request_end, "split at {split}");
        }
    }

    #[test]
    fn byte_at_a_time_gives_the_same_body() {
        let raw = b"1\r\na\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
        let splits: Vec<usize> = (1..raw.len()).collect();
        let (decoded, _) = decode_split(raw, &splits, u64::MAX)
            .unwrap()
            .expect("complete");
        assert_eq!(decoded, b"a0123456789abcdef");
    }

    #[test]
    fn rejects_malformed_framing_with_the_exact_reason() {
        let malformed = |reason| Err(ParseError::Malformed(reason));
        let cases: [(&[u8], Result<_, _>); 15] = [
            (b"\r\nhello\r\n0\r\n\r\n", malformed("invalid chunk size")), // empty size
            (b"x\r\n", malformed("invalid chunk size")),                  // not hex
            (
                b"5\nhello\r\n0\r\n\r\n",
                malformed("chunk-size line not ended by CRLF"),
            ),
            (
                b"5;a\nb\r\nhello\r\n0\r\n\r\n",
                malformed("chunk-size line not ended by CRLF"),
            ),
            (
                b"5\r\nhelloXX0\r\n\r\n",
                malformed("chunk data not followed by CRLF"),
            ),
            (b"11111111111111111\r\n", malformed("invalid chunk size")), // 17 hex digits
            (b"11111111111111111", malformed("invalid chunk size")),     // ...before its CRLF
            (b"-5\r\n", malformed("invalid chunk size")),                // sign
            (b"5 5\r\nhello\r\n", malformed("invalid chunk extension")), // junk after size
            (b"5\x00\r\nhello\r\n", malformed("invalid chunk extension")), // NUL
            (b"5\x00", malformed("invalid chunk-size line")),            // ...before its CRLF
            (b"5;\x01\r\nhello\r\n", malformed("invalid chunk extension")),
            (
                b"0\r\nBad Trailer\r\n\r\n",
                malformed("invalid chunked trailer"),
            ),
            (
                b"0x5\r\nhello\r\n0\r\n\r\n",
                malformed("invalid chunk extension"),
            ), // C-style
            (b"5\r\nhello\r\n", Ok(None)), // merely incomplete
        ];
        for (raw, expected) in cases {
            assert_eq!(decode(raw), expected, "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn chunk_extensions_are_bounded_over_the_whole_body() {
        let limits = ChunkedLimits {
            max_extensions: 10,
            ..LIMITS
        };
        let over = Err(ParseError::Malformed("chunk extensions over the limit"));
        // Exactly the limit: ten bytes after the sizes, over two lines.
        let at_limit = b"1;abcd\r\na\r\n1;efgh\r\nb\r\n0\r\n\r\n";
        let decoded = decode_with(at_limit, &[], limits).unwrap();
        assert_eq!(decoded.map(|(body, _)| body), Some(b"ab".to_vec()));
        let one_over = b"1;abcd\r\na\r\n1;efgh\r\nb\r\n0;\r\n\r\n";
        assert_eq!(decode_with(one_over, &[], limits), over);
        // An endless line is cut off as soon as it passes what is left, before its end.
        assert_eq!(decode_with(b"1;abcd\r\na\r\n1;efgh", &[], limits), Ok(None));
        assert_eq!(decode_with(b"1;abcd\r\na\r\n1;efghi", &[], limits), over);
        let mut endless = b"5;".to_vec();
        endless.extend(std::iter::repeat_n(b'a', LIMITS.max_extensions));
        assert_eq!(decode(&endless), over);
        assert_eq!(decode(&endless[..endless.len() - 1]), Ok(None));
    }

    #[test]
    fn body_limit_is_checked_before_the_data_arrives() {
        let result = decode_split(b"10\r\n", &[], 15);
        assert_eq!(result, Err(ParseError::BodyTooLarge(15)));
        let result = decode_split(b"8\r\n12345678\r\n8\r\n", &[], 15);
        assert_eq!(result, Err(ParseError::BodyTooLarge(15)));
        // Exactly the limit.
        let result = decode_split(b"f\r\n0123456789abcde\r\n0\r\n\r\n", &[], 15);
        assert_eq!(result.unwrap().map(|(body, _)| body.len()), Some(15));
    }

    #[test]
    fn huge_size_fits_and_hits_the_limit() {
        let result = decode_split(b"ffffffffffffffff\r\n", &[], 1 << 20);
        assert_eq!(result, Err(ParseError::BodyTooLarge(1 << 20)));
    }

    #[test]
    fn an_unfinished_size_line_with_a_cr_inside_is_rejected_at_once() {
        // Only the first byte outside the alphabet was checked, and a CR passed when the
        // input also ended in CR: `010\r10\r` waited for more while `010\r1` was rejected.
        for raw in [&b"010\r10\r"[..], b"010\r1", b"5;a\rb\r"] {
            let mut buf = raw.to_vec();
            let mut decoder = ChunkedDecoder::new(0, LIMITS);
            assert_eq!(
                decoder.decode(&mut buf, raw.len()),
                Err(ParseError::Malformed("invalid chunk-size line")),
                "{:?}",
                raw.escape_ascii().to_string()
            );
        }
        let mut buf = b"5;a=b\r".to_vec();
        assert_eq!(
            ChunkedDecoder::new(0, LIMITS).decode(&mut buf, 6),
            Ok(false)
        );
    }

    #[test]
    fn a_trailer_section_over_its_cap_is_rejected_even_when_complete() {
        // One byte over the cap: rejected when it arrived in pieces, but accepted when it
        // arrived whole, so the answer depended on how TCP cut the request.
        let cap = LIMITS.max_trailer_size;
        let mut raw = b"0\r\nX: ".to_vec();
        raw.extend(std::iter::repeat_n(b'a', cap - 6));
        raw.extend_from_slice(b"\r\n\r\n");
        assert_eq!(raw.len() - 3, cap + 1);
        let too_large = Err(ParseError::HeadTooLarge(cap));
        assert_eq!(decode(&raw), too_large);
        assert_eq!(decode_split(&raw, &[raw.len() - 1], u64::MAX), too_large);
        // Growing past the cap without an end.
        let mut endless = b"0\r\nX: ".to_vec();
        endless.extend(std::iter::repeat_n(b'a', cap));
        assert_eq!(decode(&endless), too_large);
        let at_the_cap = [&raw[..6], &raw[7..]].concat();
        assert_eq!(
            decode(&at_the_cap).map(|done| done.map(|(body, _)| body)),
            Ok(Some(Vec::new()))
        );
        assert_eq!(decode(&at_the_cap[..at_the_cap.len() - 1]), Ok(None));
    }

    #[test]
    fn trailer_fields_are_counted() {
        let limits = ChunkedLimits {
            max_trailers: 2,
            ..LIMITS
        };
        let two = b"0\r\nA: 1\r\nB: 2\r\n\r\n";
        assert!(matches!(decode_with(two, &[], limits), Ok(Some(_))));
        let three = b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert_eq!(
            decode_with(three, &[], limits),
            Err(ParseError::TooManyHeaders(2))
        );
    }

    #[test]
    fn a_trailer_section_sent_a_byte_at_a_time_is_looked_at_a_bounded_number_of_times() {
        // Issue 11, defect 10: the partial section was handed to httparse whole at every read.
        let mut raw = b"0\r\n".to_vec();
        for n in 0..30 {
            raw.extend_from_slice(format!("T-{n}: {}\r\n", "v".repeat(400)).as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        let splits: Vec<usize> = (1..raw.len()).collect();
        crate::h1::head::LOOKED_AT.with(|count| count.set(0));
        assert_eq!(
            decode_split(&raw, &splits, u64::MAX),
            Ok(Some((Vec::new(), raw.len())))
        );
        let looked = crate::h1::head::LOOKED_AT.with(std::cell::Cell::get);
        assert!(
            looked <= 4 * raw.len(),
            "{looked} bytes looked at for {}",
            raw.len()
        );
    }

    #[test]
    fn compact_reclaims_framing_bytes() {
        let mut buf = b"3\r\nabc\r\n3\r\ndef".to_vec();
        let mut decoder = ChunkedDecoder::new(0, LIMITS);
        assert!(!decoder.decode(&mut buf, 14).unwrap());
        assert_eq!(decoder.reclaimable(), 8);
        let filled = decoder.compact(&mut buf, 14);
        assert_eq!(&buf[..filled], b"abcdef");
        buf.truncate(filled);
        buf.extend_from_slice(b"\r\n0\r\n\r\n");
        let filled = buf.len();
        assert!(decoder.decode(&mut buf, filled).unwrap());
        assert_eq!(&buf[..decoder.body_end()], b"abcdef");
    }
}
