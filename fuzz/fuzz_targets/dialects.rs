//! Every header dialect with any values: the first byte picks a dialect (its header names), the
//! second a status and whether a `Date` comes along, the rest is split on `\n` into the values of
//! that dialect's headers, in order. `SignalParser::parse` never panics, and what comes out is
//! bounded as in `signal` (no count beyond 2^53, no reset beyond 400 days).
//!
//! The `signal` target reaches the same code through free-form `name:value` lines; this one
//! spends no time finding the names, only the values.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;
use paceline::headers::{MAX_COUNT, MAX_RESET, Signal, SignalParser};
use paceline::retry::classify;

/// The header names of each dialect `headers/` reads (see the table in `paceline::headers`).
const DIALECTS: &[&[&str]] = &[
    // GitHub
    &[
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-used",
        "x-ratelimit-reset",
        "x-ratelimit-resource",
    ],
    // X-Rate-Limit-* (Twitter/X and others)
    &[
        "x-rate-limit-limit",
        "x-rate-limit-remaining",
        "x-rate-limit-reset",
        "x-rate-limit-used",
        "x-rate-limit-policy",
    ],
    // Discord
    &[
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-reset-after",
        "x-ratelimit-bucket",
        "x-ratelimit-global",
        "x-ratelimit-scope",
    ],
    // Shopify
    &["x-shopify-shop-api-call-limit", "retry-after"],
    // Salesforce
    &["sforce-limit-info"],
    // IETF drafts up to 06
    &["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"],
    // IETF structured fields (draft 07 and 08+)
    &["ratelimit-policy", "ratelimit"],
    // X-RateLimit-Policy beside the counts
    &[
        "x-ratelimit-policy",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
    ],
    // per resource (OpenAI)
    &[
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-tokens",
    ],
    // per window
    &[
        "x-ratelimit-limit-second",
        "x-ratelimit-remaining-second",
        "x-ratelimit-limit-minute",
        "x-ratelimit-remaining-minute",
        "x-ratelimit-limit-day",
        "x-ratelimit-remaining-day",
        "x-ratelimit-period",
        "x-ratelimit-window",
    ],
    // vendor prefixes
    &[
        "x-sib-ratelimit-limit",
        "x-sib-ratelimit-remaining",
        "x-sib-ratelimit-reset",
        "anthropic-ratelimit-requests-limit",
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",
        "x-hubspot-ratelimit-daily",
        "x-hubspot-ratelimit-daily-remaining",
        "x-hubspot-ratelimit-interval-milliseconds",
        "x-contentful-ratelimit-reset",
    ],
    // IETF fields under a prefix (Atlassian)
    &[
        "beta-ratelimit-policy",
        "beta-ratelimit",
        "beta-retry-after",
    ],
    // retry hints
    &[
        "retry-after-ms",
        "x-ms-retry-after-ms",
        "x-ratelimit-retry-after",
        "x-retry-after",
        "backoff",
        "x-sentry-rate-limits",
        "retry-after",
    ],
    // Stripe, Azure, Gorgias, misc counts
    &[
        "stripe-should-retry",
        "x-ms-ratelimit-remaining-resource",
        "x-gorgias-account-api-call-limit",
        "x-rate-limit-requests-left",
        "x-rate-limit-time-reset-ms",
        "x-ratelimit-next",
        "x-daylimit-remaining",
        "x-ratelimit-usage",
    ],
    // an unknown vendor in a known shape
    &[
        "x-acme-ratelimit-limit",
        "x-acme-ratelimit-remaining",
        "x-acme-ratelimit-reset",
        "acme-retry-after",
        "acme-ratelimit",
        "acme-ratelimit-policy",
        "acme-rate-limit-remaining-day",
    ],
    // the same field on several lines
    &[
        "x-ratelimit-remaining",
        "x-ratelimit-remaining",
        "ratelimit",
        "ratelimit",
        "retry-after",
        "retry-after",
    ],
];

const STATUSES: [u16; 8] = [200, 429, 403, 503, 500, 400, 204, 302];

fuzz_target!(|data: &[u8]| {
    let Some(([dialect, how], rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let names = DIALECTS[usize::from(*dialect) % DIALECTS.len()];
    let status = StatusCode::from_u16(STATUSES[usize::from(how & 7)]).expect("a valid status");
    let mut headers = HeaderMap::new();
    let mut values = rest.split(|&b| b == b'\n');
    if how & 8 != 0 {
        // The first line is the response's Date (the reference for epoch resets).
        if let Some(Ok(v)) = values.next().map(HeaderValue::from_bytes) {
            headers.append(http::header::DATE, v);
        }
    }
    for (name, value) in names.iter().zip(values) {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.append(HeaderName::from_static(name), v);
        }
    }
    let received = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let signal = SignalParser::new().parse(status, &headers, received);
    let _ = (signal.must_wait(), classify(&signal).is_retryable());
    bounded(&signal);
});

fn bounded(signal: &Signal) {
    let counts = [signal.limit, signal.remaining, signal.used]
        .into_iter()
        .chain(signal.policies.iter().flat_map(|p| [p.limit, p.remaining]));
    for c in counts.flatten() {
        assert!(c <= MAX_COUNT, "{c}");
    }
    let resets = [signal.reset_in, signal.window]
        .into_iter()
        .chain(signal.policies.iter().flat_map(|p| [p.reset_in, p.window]));
    for r in resets.flatten() {
        assert!(r <= MAX_RESET, "{r:?}");
    }
}
