//! `SignalParser::parse` is total over any headers, and so are the wait and the class of what it
//! returns. The input: a status from the first two bytes, then `name:value` lines.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;
use paceline::headers::SignalParser;
use paceline::retry::classify;

fuzz_target!(|data: &[u8]| {
    let Some((status, headers)) = response(data) else {
        return;
    };
    let signal = SignalParser::new().parse(status, &headers, received());
    let _ = (signal.must_wait(), classify(&signal).is_retryable());
});

/// The first two bytes pick a status in 100..=999 (the range `StatusCode` accepts); the rest is
/// split on `\n`, then on the first `:`. Pairs `http` refuses are skipped, as a client never
/// sees them.
fn response(data: &[u8]) -> Option<(StatusCode, HeaderMap)> {
    let ([a, b], rest) = data.split_first_chunk::<2>()?;
    let status = StatusCode::from_u16(100 + u16::from_le_bytes([*a, *b]) % 900).ok()?;
    let mut headers = HeaderMap::new();
    for line in rest.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(&line[colon + 1..]),
        ) {
            headers.append(name, value);
        }
    }
    Some((status, headers))
}

/// A fixed receive time (November 2023), so runs are reproducible.
fn received() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}
