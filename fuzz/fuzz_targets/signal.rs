//! `SignalParser::parse` is total over any headers, and so are the wait and the class of what it
//! returns; `parse_body` is total over any body. The input: a status from the first two bytes,
//! then `name:value` lines, then (after an empty line) a body. What comes out is bounded: no
//! count beyond 2^53, no reset beyond 400 days, whatever the server sent.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;
use paceline::headers::{MAX_COUNT, MAX_RESET, SignalParser};
use paceline::retry::classify;

fuzz_target!(|data: &[u8]| {
    let Some((status, headers, body)) = response(data) else {
        return;
    };
    let parser = SignalParser::new();
    let mut signal = parser.parse(status, &headers, received());
    if !body.is_empty() {
        parser.parse_body(&mut signal, body);
    }
    let _ = (signal.must_wait(), classify(&signal).is_retryable());
    let counts = [signal.limit, signal.remaining, signal.used]
        .into_iter()
        .chain(signal.policies.iter().flat_map(|p| [p.limit, p.remaining]));
    for c in counts.flatten() {
        assert!(c <= MAX_COUNT, "{c}");
    }
    let resets = std::iter::once(signal.reset_in).chain(signal.policies.iter().map(|p| p.reset_in));
    for r in resets.flatten() {
        assert!(r <= MAX_RESET, "{r:?}");
    }
});

/// The first two bytes pick a status in 100..=999 (the range `StatusCode` accepts); the rest up
/// to an empty line is split on `\n`, then on the first `:`; what follows the empty line is the
/// body. Pairs `http` refuses are skipped, as a client never sees them.
fn response(data: &[u8]) -> Option<(StatusCode, HeaderMap, &[u8])> {
    let ([a, b], rest) = data.split_first_chunk::<2>()?;
    let status = StatusCode::from_u16(100 + u16::from_le_bytes([*a, *b]) % 900).ok()?;
    let (head, body) = match rest.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (rest, &[][..]),
    };
    let mut headers = HeaderMap::new();
    for line in head.split(|&b| b == b'\n') {
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
    Some((status, headers, body))
}

/// A fixed receive time (November 2023), so runs are reproducible.
fn received() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}
