//! The `Date` header value, formatted once a second per worker rather than once per response.

use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate: always 29 bytes (for years 1000 to 9999).
pub(crate) const HTTP_DATE_LEN: usize = 29;

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7) for the current second.
/// A fixed-size array, so that copying it into a response is a few inlined moves.
#[derive(Debug, Clone)]
pub(crate) struct DateCache {
    second: u64,
    text: [u8; HTTP_DATE_LEN],
}

impl DateCache {
    pub(crate) fn new() -> Self {
        let now = SystemTime::now();
        Self {
            second: unix_second(now),
            text: format(now),
        }
    }

    /// Re-formats the date if the second has changed since the last call.
    pub(crate) fn update(&mut self, now: SystemTime) {
        let second = unix_second(now);
        if second != self.second {
            self.second = second;
            self.text = format(now);
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8; HTTP_DATE_LEN] {
        &self.text
    }
}

fn format(time: SystemTime) -> [u8; HTTP_DATE_LEN] {
    // httpdate always writes 29 bytes for the years a clock can show; the epoch stands in
    // for a clock set outside them.
    httpdate::fmt_http_date(time)
        .as_bytes()
        .try_into()
        .unwrap_or(*b"Thu, 01 Jan 1970 00:00:00 GMT")
}

fn unix_second(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_imf_fixdate_and_changes_with_the_second() {
        let mut date = DateCache::new();
        let epoch_day = UNIX_EPOCH + Duration::from_secs(784_111_777);
        date.update(epoch_day);
        assert_eq!(date.as_bytes(), b"Sun, 06 Nov 1994 08:49:37 GMT");
        date.update(epoch_day + Duration::from_millis(900));
        assert_eq!(date.as_bytes(), b"Sun, 06 Nov 1994 08:49:37 GMT");
        date.update(epoch_day + Duration::from_secs(1));
        assert_eq!(date.as_bytes(), b"Sun, 06 Nov 1994 08:49:38 GMT");
    }
}
