//! paceline's costs next to a well-known crate doing the same job (the "anchors" of
//! BENCHMARKS.md): `cargo bench -p paceline --bench anchors`.
//!
//! - decision: the Pacer's admission decision (one limit; and composed: three windows, a
//!   route, a concurrency limit and a quota) against `governor`'s `check()` (one GCRA);
//! - backoff: the delay before the next retry, as the Pacer gives it after a 503 (classifying
//!   the status, reading the empty headers, the retry budget, the exponential delay with full
//!   jitter: the backoff arithmetic itself is crate-private), against `backon`'s
//!   `ExponentialBuilder` iterator's `next()` with jitter (the arithmetic alone);
//! - Retry-After: `parse_retry_after` on an IMF-fixdate against `httpdate::parse_http_date`
//!   alone (paceline calls it after ruling out delay-seconds), and on delay-seconds against
//!   `str::parse::<u64>`;
//! - Link: `parse_link` (borrowing; every link, its params) on GitHub's four-link header
//!   against `parse_link_header::parse_with_rel` (allocating a map of rel to link, each URI
//!   parsed).
//!
//! Measurement times are short (see `config`): `scripts/bench` runs every anchor in a few
//! minutes.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::{Duration, Instant, SystemTime};

use backon::BackoffBuilder;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{HeaderMap, Method, StatusCode};
use paceline::headers::parse_retry_after;
use paceline::paginate::parse_link;
use paceline::retry::{Jitter, RetryBudget, RetryPolicy};
use paceline::throttle::{Limit, Period, QuotaConfig, RouteRule, ThrottleConfig};
use paceline::{Begin, Finish, Now, Pacer, PacerConfig};

fn decision(c: &mut Criterion) {
    let mut g = c.benchmark_group("decision");
    let one = ThrottleConfig::default().limit(Limit::per_second(1_000_000));
    let composed = ThrottleConfig::default()
        .limit(Limit::per_second(1_000_000))
        .limit(Limit::per_minute(60_000_000))
        .limit(Limit::per_day(86_400_000_000))
        .route(RouteRule::new("search", "/search/*").limit(Limit::per_second(1_000_000)))
        .concurrency(u32::MAX)
        .quota(QuotaConfig::new(u64::MAX / 2, Period::Day));
    for (name, throttle) in [
        ("paceline poll_send, one limit", one),
        ("paceline poll_send, composed", composed),
    ] {
        let mut pacer = Pacer::new(PacerConfig::default().throttle(throttle), 1);
        let mut now = Now::new(Instant::now(), SystemTime::now());
        let mut call = pacer.call_to(&Method::GET, "/search/code", &HeaderMap::new());
        g.bench_function(name, |b| {
            // Virtual time moves 1 µs a decision (made outside the measurement: a caller reads
            // its clock once per request anyway), so every decision admits; the same call
            // keeps its permit, so each iteration is one admission decision.
            b.iter_batched(
                || {
                    now = now.advance(Duration::from_micros(1));
                    now
                },
                |now| {
                    let d = pacer.poll_send(black_box(&mut call), now);
                    debug_assert_eq!(d, Begin::Send);
                    d
                },
                BatchSize::SmallInput,
            )
        });
    }
    let limiter = governor::RateLimiter::direct(governor::Quota::per_second(
        NonZeroU32::new(1_000_000).unwrap(),
    ));
    g.bench_function("governor check", |b| b.iter(|| black_box(limiter.check())));
    g.finish();
}

fn backoff(c: &mut Criterion) {
    let mut g = c.benchmark_group("backoff");
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
    let now = Now::new(Instant::now(), SystemTime::now());
    let empty = HeaderMap::new();
    let mut sent = pacer.call(&Method::GET, &empty);
    assert_eq!(pacer.poll_send(&mut sent, now), Begin::Send);
    g.bench_function("paceline on_response(503) to RetryAt", |b| {
        b.iter_batched(
            || sent.clone(),
            |mut call| {
                let f = pacer.on_response(&mut call, now, StatusCode::SERVICE_UNAVAILABLE, &empty);
                debug_assert!(matches!(f, Finish::RetryAt(_)));
                (f, call)
            },
            BatchSize::SmallInput,
        )
    });
    let mut delays = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(20))
        .with_jitter()
        .without_max_times()
        .build();
    g.bench_function("backon ExponentialBackoff next", |b| {
        b.iter(|| black_box(delays.next()))
    });
    g.finish();
}

const IMF: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

fn retry_after(c: &mut Criterion) {
    let mut g = c.benchmark_group("retry-after");
    g.bench_function("paceline parse_retry_after, IMF-fixdate", |b| {
        b.iter(|| parse_retry_after(black_box(IMF.as_bytes())))
    });
    g.bench_function("httpdate parse_http_date", |b| {
        b.iter(|| httpdate::parse_http_date(black_box(IMF)))
    });
    g.bench_function("paceline parse_retry_after, delay-seconds", |b| {
        b.iter(|| parse_retry_after(black_box(b"120")))
    });
    g.bench_function("str parse u64", |b| {
        b.iter(|| black_box("120").parse::<u64>())
    });
    g.finish();
}

/// GitHub's documented `Link` header (REST API, "Using pagination").
const GITHUB_LINK: &str = "<https://api.github.com/repositories/1300192/issues?page=2>; rel=\"prev\", \
<https://api.github.com/repositories/1300192/issues?page=4>; rel=\"next\", \
<https://api.github.com/repositories/1300192/issues?page=515>; rel=\"last\", \
<https://api.github.com/repositories/1300192/issues?page=1>; rel=\"first\"";

fn link(c: &mut Criterion) {
    let mut g = c.benchmark_group("link");
    assert_eq!(parse_link(GITHUB_LINK.as_bytes()).unwrap().len(), 4);
    assert_eq!(
        parse_link_header::parse_with_rel(GITHUB_LINK)
            .unwrap()
            .len(),
        4
    );
    g.bench_function("paceline parse_link, GitHub 4 links", |b| {
        b.iter(|| parse_link(black_box(GITHUB_LINK.as_bytes())))
    });
    g.bench_function("parse_link_header parse_with_rel", |b| {
        b.iter(|| parse_link_header::parse_with_rel(black_box(GITHUB_LINK)))
    });
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
