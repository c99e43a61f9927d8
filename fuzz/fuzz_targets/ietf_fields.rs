//! The IETF `RateLimit` and `RateLimit-Policy` structured fields (RFC 9651), alone or under a
//! vendor's prefix (`Beta-RateLimit`), with any values: the first byte picks the prefix and the
//! status, the rest is `policy \n field [\n policy \n field ...]` (each line one header line).
//! Never a panic; every count at most 2^53, every reset and window at most 400 days; every
//! policy read has a name of at most 128 characters or none.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;
use paceline::headers::{MAX_COUNT, MAX_RESET, SignalParser};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (field, policy) = if pick & 1 == 0 {
        ("ratelimit", "ratelimit-policy")
    } else {
        ("beta-ratelimit", "beta-ratelimit-policy")
    };
    let status = if pick & 2 == 0 { 200 } else { 429 };
    let mut headers = HeaderMap::new();
    for (i, line) in rest.split(|&b| b == b'\n').enumerate() {
        let name = if i % 2 == 0 { policy } else { field };
        if let Ok(v) = HeaderValue::from_bytes(line) {
            headers.append(HeaderName::from_static(name), v);
        }
    }
    let received = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let status = StatusCode::from_u16(status).expect("a valid status");
    let signal = SignalParser::new().parse(status, &headers, received);
    let _ = signal.must_wait();
    let counts = [signal.limit, signal.remaining]
        .into_iter()
        .chain(signal.policies.iter().flat_map(|p| [p.limit, p.remaining]));
    for c in counts.flatten() {
        assert!(c <= MAX_COUNT, "{c}");
    }
    let times = [signal.reset_in, signal.window]
        .into_iter()
        .chain(signal.policies.iter().flat_map(|p| [p.reset_in, p.window]));
    for t in times.flatten() {
        assert!(t <= MAX_RESET, "{t:?}");
    }
    for p in &signal.policies {
        assert!(p.name.as_ref().is_none_or(|n| n.chars().count() <= 128));
    }
});
