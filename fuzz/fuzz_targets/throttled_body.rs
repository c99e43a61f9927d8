//! `SignalParser::parse_body` (throttle errors in bodies: GraphQL `THROTTLED`/`RATE_LIMITED`,
//! Stack Exchange `quota_*`/`backoff`, JSON `retry_after`) on any body, after a status the first
//! byte picks, with or without a `Retry-After` already read from the headers. Never a panic;
//! counts and resets stay bounded; the wait and the class never panic.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;
use paceline::headers::{MAX_COUNT, MAX_RESET, SignalParser};
use paceline::retry::classify;

const STATUSES: [u16; 4] = [200, 429, 403, 400];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let status = StatusCode::from_u16(STATUSES[usize::from(pick & 3)]).expect("a valid status");
    let mut headers = HeaderMap::new();
    if pick & 4 != 0 {
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("7"));
    }
    let parser = SignalParser::new();
    let received = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut signal = parser.parse(status, &headers, received);
    parser.parse_body(&mut signal, body);
    let _ = (signal.must_wait(), classify(&signal).is_retryable());
    for c in [signal.limit, signal.remaining, signal.used]
        .into_iter()
        .flatten()
    {
        assert!(c <= MAX_COUNT, "{c}");
    }
    for r in [signal.reset_in, signal.window].into_iter().flatten() {
        assert!(r <= MAX_RESET, "{r:?}");
    }
});
