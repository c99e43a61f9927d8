//! The cost of one admission decision with everything composed, next to governor's `check()`:
//! `cargo bench -p paceline --bench throttle`.
//!
//! The composed Pacer has three windows (per second, minute, day), a route bucket, a
//! concurrency limit and a daily quota. Virtual time moves 1 µs per request so every decision
//! admits (the steady state of a client under its limits).

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::{Duration, Instant, SystemTime};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{HeaderMap, Method, StatusCode};
use paceline::throttle::{Limit, Period, QuotaConfig, RouteRule, ThrottleConfig};
use paceline::{Begin, Now, Pacer, PacerConfig};

fn composed() -> Pacer {
    let throttle = ThrottleConfig::default()
        .limit(Limit::per_second(1_000_000))
        .limit(Limit::per_minute(60_000_000))
        .limit(Limit::per_day(86_400_000_000))
        .route(RouteRule::new("search", "/search/*").limit(Limit::per_second(1_000_000)))
        .concurrency(u32::MAX)
        .quota(QuotaConfig::new(u64::MAX / 2, Period::Day));
    Pacer::new(PacerConfig::default().throttle(throttle), 1)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("decision");

    let mut pacer = composed();
    let empty = HeaderMap::new();
    let mut now = Now::new(Instant::now(), SystemTime::now());
    let mut call = pacer.call_to(&Method::GET, "/search/code", &empty);
    g.bench_function(
        "paceline/poll_send (3 windows + route + concurrency + quota)",
        |b| {
            // The times are made outside the measurement, as a caller reads its clock once per
            // request anyway (governor reads its own inside `check`, and that is measured).
            b.iter_batched(
                || {
                    now = now.advance(Duration::from_micros(1));
                    now
                },
                // The same call keeps its permit: each iteration is one admission decision
                // (every bucket checked, then charged) and nothing else.
                |now| {
                    let d = pacer.poll_send(black_box(&mut call), now);
                    debug_assert_eq!(d, Begin::Send);
                    d
                },
                BatchSize::SmallInput,
            )
        },
    );

    let mut pacer = composed();
    let mut now = Now::new(Instant::now(), SystemTime::now());
    g.bench_function(
        "paceline/call + poll_send + on_response (no headers)",
        |b| {
            b.iter(|| {
                now = now.advance(Duration::from_micros(1));
                let mut call = pacer.call_to(&Method::GET, "/search/code", &empty);
                let d = pacer.poll_send(&mut call, now);
                let f = pacer.on_response(&mut call, now, StatusCode::OK, &empty);
                black_box((d, f))
            })
        },
    );

    let limiter = governor::RateLimiter::direct(governor::Quota::per_second(
        NonZeroU32::new(1_000_000).unwrap(),
    ));
    g.bench_function("governor/check (one GCRA)", |b| {
        b.iter(|| black_box(limiter.check()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
