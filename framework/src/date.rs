//! The `Date` header value, formatted once a second per worker rather than once per response.

use std::time::{SystemTime, UNIX_EPOCH};

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7) for the current second.
#[derive(Debug, Clone)]
pub(crate) struct DateCache {
    second: u64,
    text: String,
}

impl DateCache {
    pub(crate) fn new() -> Self {
        let now = SystemTime::now();
        Self {
            second: unix_second(now),
            text: httpdate::fmt_http_date(now),
        }
    }

    /// Re-formats the date if the second has changed since the last call.
    pub(crate) fn update(&mut self, now: SystemTime) {
        let second = unix_second(now);
        if second != self.second {
            self.second = second;
            self.text = httpdate::fmt_http_date(now);
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }
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
