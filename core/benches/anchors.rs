//! paceline's costs next to a well-known crate doing the same job (the "anchors" of
//! BENCHMARKS.md): `cargo bench -p paceline --bench anchors`.
//!
//! - decision: the Pacer's admission decision (one limit; and composed: three windows, a
//!   route, a concurrency limit and a quota) against `governor`'s `check()` (one GCRA);
//! - backoff: one retry cycle of a Pacer whose server keeps answering 503: `on_response` gives
//!   `RetryAt` (classifying the status, reading the empty headers, the retry budget, the
//!   exponential delay with full jitter: the backoff arithmetic itself is crate-private), then
//!   `poll_send` at that time gives `Send`; against `backon`'s `ExponentialBuilder` iterator's
//!   `next()` with jitter (the arithmetic alone);
//! - Retry-After: `parse_retry_after` on an IMF-fixdate against `httpdate::parse_http_date`
//!   alone (paceline calls it after ruling out delay-seconds), and on delay-seconds against
//!   `str::parse::<u64>`;
//! - Link: `parse_link` (borrowing; every link, its params) on GitHub's four-link header
//!   against `parse_link_header::parse_with_rel` (allocating a map of rel to link, each URI
//!   parsed).
//!
//! Each pair runs interleaved (see `support/paired.rs`), so load from other processes falls on
//! both sides alike. Measurement times are short (see `config`): `scripts/bench` runs every
//! anchor in a few minutes.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::{Duration, Instant, SystemTime};

use backon::BackoffBuilder;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, Method, StatusCode};
use paceline::headers::parse_retry_after;
use paceline::paginate::parse_link;
use paceline::retry::{Jitter, RetryBudget, RetryPolicy};
use paceline::throttle::{Limit, Period, QuotaConfig, RouteRule, ThrottleConfig};
use paceline::{Begin, Finish, Now, Pacer, PacerConfig};

#[path = "support/paired.rs"]
mod support;
use support::paired;

/// Calls per chunk of the interleaving: nanosecond calls, so reading the clock twice a chunk
/// costs a fraction of a percent.
const CHUNK: u64 = 512;

fn decision(c: &mut Criterion) {
    let group = "decision";
    let mut g = c.benchmark_group(group);
    let one = ThrottleConfig::default().limit(Limit::per_second(1_000_000));
    let composed = ThrottleConfig::default()
        .limit(Limit::per_second(1_000_000))
        .limit(Limit::per_minute(60_000_000))
        .limit(Limit::per_day(86_400_000_000))
        .route(RouteRule::new("search", "/search/*").limit(Limit::per_second(1_000_000)))
        .concurrency(u32::MAX)
        .quota(QuotaConfig::new(u64::MAX / 2, Period::Day));
    for (name, anchor, throttle) in [
        (
            "paceline poll_send, one limit",
            "governor check, beside one limit",
            one,
        ),
        (
            "paceline poll_send, composed",
            "governor check, beside composed",
            composed,
        ),
    ] {
        let mut pacer = Pacer::new(PacerConfig::default().throttle(throttle), 1);
        let mut now = Now::new(Instant::now(), SystemTime::now());
        // The same call keeps its permit, so each call is one admission decision; virtual
        // time moves 1 µs a decision (the move is measured too: a few ns), so every one
        // admits. governor reads its own clock.
        let mut call = pacer.call_to(&Method::GET, "/search/code", &HeaderMap::new());
        let limiter = governor::RateLimiter::direct(governor::Quota::per_second(
            NonZeroU32::new(1_000_000).unwrap(),
        ));
        paired(
            &mut g,
            group,
            CHUNK,
            name,
            || {
                now = now.advance(Duration::from_micros(1));
                let d = pacer.poll_send(black_box(&mut call), now);
                debug_assert_eq!(d, Begin::Send);
                d
            },
            anchor,
            || limiter.check(),
        );
    }
    g.finish();
}

fn backoff(c: &mut Criterion) {
    let group = "backoff";
    let mut g = c.benchmark_group(group);
    // No budget (capacity 0), attempts and elapsed time without end: every 503 is a retry.
    let policy = RetryPolicy::default()
        .max_attempts(u32::MAX)
        .max_elapsed(Duration::from_secs(u64::from(u32::MAX)))
        .base(Duration::from_millis(100))
        .cap(Duration::from_secs(20))
        .jitter(Jitter::Full)
        .budget(RetryBudget {
            capacity: 0,
            ..RetryBudget::default()
        });
    let mut pacer = Pacer::new(PacerConfig::default().retry(policy), 1);
    let mut now = Now::new(Instant::now(), SystemTime::now());
    let empty = HeaderMap::new();
    let mut call = pacer.call(&Method::GET, &empty);
    assert_eq!(pacer.poll_send(&mut call, now), Begin::Send);
    let mut delays = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(20))
        .with_jitter()
        .without_max_times()
        .build();
    paired(
        &mut g,
        group,
        CHUNK,
        "paceline retry cycle: on_response(503) to RetryAt, poll_send to Send",
        || {
            let Finish::RetryAt(t) =
                pacer.on_response(&mut call, now, StatusCode::SERVICE_UNAVAILABLE, &empty)
            else {
                unreachable!("every 503 is retried")
            };
            now = now.at(t);
            let d = pacer.poll_send(&mut call, now);
            debug_assert_eq!(d, Begin::Send);
            d
        },
        "backon ExponentialBackoff next",
        || delays.next(),
    );
    g.finish();
}

const IMF: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

fn retry_after(c: &mut Criterion) {
    let group = "retry-after";
    let mut g = c.benchmark_group(group);
    paired(
        &mut g,
        group,
        CHUNK,
        "paceline parse_retry_after, IMF-fixdate",
        || parse_retry_after(black_box(IMF.as_bytes())),
        "httpdate parse_http_date",
        || httpdate::parse_http_date(black_box(IMF)),
    );
    paired(
        &mut g,
        group,
        CHUNK,
        "paceline parse_retry_after, delay-seconds",
        || parse_retry_after(black_box(b"120")),
        "str parse u64",
        || black_box("120").parse::<u64>(),
    );
    g.finish();
}

/// GitHub's documented `Link` header (REST API, "Using pagination").
const GITHUB_LINK: &str = "<https://api.github.com/repositories/1300192/issues?page=2>; rel=\"prev\", \
<https://api.github.com/repositories/1300192/issues?page=4>; rel=\"next\", \
<https://api.github.com/repositories/1300192/issues?page=515>; rel=\"last\", \
<https://api.github.com/repositories/1300192/issues?page=1>; rel=\"first\"";

fn link(c: &mut Criterion) {
    let group = "link";
    let mut g = c.benchmark_group(group);
    assert_eq!(parse_link(GITHUB_LINK.as_bytes()).unwrap().len(), 4);
    assert_eq!(
        parse_link_header::parse_with_rel(GITHUB_LINK)
            .unwrap()
            .len(),
        4
    );
    paired(
        &mut g,
        group,
        64,
        "paceline parse_link, GitHub 4 links",
        || parse_link(black_box(GITHUB_LINK.as_bytes())),
        "parse_link_header parse_with_rel",
        || parse_link_header::parse_with_rel(black_box(GITHUB_LINK)),
    );
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = decision, backoff, retry_after, link
}
criterion_main!(benches);
