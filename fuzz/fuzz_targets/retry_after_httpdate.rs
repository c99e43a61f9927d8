//! Differential: paceline's `Retry-After` dates against the `httpdate` crate.
//! 1. Formatting round trip: any instant from 1970 to 9999, formatted by `httpdate` as an
//!    IMF-fixdate, parses back to the same instant (whole seconds).
//! 2. Whatever `httpdate` accepts as a date, paceline reads as that same date.
//! 3. Whatever date paceline reads, `httpdate`'s IMF-fixdate of it reads back the same.
//!
//! Input: the first 8 bytes are the instant (little-endian seconds), the rest a field value.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use paceline::headers::{RetryAfter, parse_retry_after};

/// 9999-12-31T23:59:59Z, the last second an HTTP-date can name.
const LAST: u64 = 253_402_300_799;

fuzz_target!(|data: &[u8]| {
    let (secs, value) = match data.split_first_chunk::<8>() {
        Some((secs, rest)) => (u64::from_le_bytes(*secs) % (LAST + 1), rest),
        None => (0, data),
    };
    let at = UNIX_EPOCH + Duration::from_secs(secs);
    let text = httpdate::fmt_http_date(at);
    assert_eq!(
        parse_retry_after(text.as_bytes()),
        Ok(RetryAfter::Date(at)),
        "{text}"
    );

    if let Ok(s) = std::str::from_utf8(value)
        && let Ok(date) = httpdate::parse_http_date(s)
    {
        assert_eq!(
            parse_retry_after(value),
            Ok(RetryAfter::Date(date)),
            "{s:?}"
        );
    }
    if let Ok(RetryAfter::Date(date)) = parse_retry_after(value) {
        let again = httpdate::fmt_http_date(date);
        assert_eq!(
            parse_retry_after(again.as_bytes()),
            Ok(RetryAfter::Date(date))
        );
    }
});
