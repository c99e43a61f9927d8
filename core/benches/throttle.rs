//! The cost of one admission decision with everything composed, next to governor's `check()`:
//! `cargo bench -p paceline --bench throttle`.
//!
//! The composed Pacer has three windows (per second, minute, day), a route bucket, a
//! concurrency limit and a daily quota. Virtual time moves 1 µs per request so every decision
//! admits (the steady state of a client under its limits).
//!
//! The same Pacer with a circuit breaker configured (and closed, as it is while the service is
//! healthy) is measured beside it, pairwise: a fresh call's `poll_send` without and with the
//! breaker (the breaker is asked once per call, so a call that keeps its permit would not ask
//! it again), and the whole call, send and answer (which also records the outcome in the
//! breaker's window). The difference of each pair is what a breaker-closed request costs.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::{Duration, Instant, SystemTime};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{HeaderMap, Method, StatusCode};
use paceline::breaker::BreakerConfig;
use paceline::throttle::{Limit, Period, QuotaConfig, RouteRule, ThrottleConfig};
use paceline::{Begin, Now, Pacer, PacerConfig};

fn composed() -> Pacer {
    composed_with(None)
}

/// [`composed`], with a breaker (its defaults) when given one.
fn composed_with(breaker: Option<BreakerConfig>) -> Pacer {
    let throttle = ThrottleConfig::default()
        .limit(Limit::per_second(1_000_000))
        .limit(Limit::per_minute(60_000_000))
        .limit(Limit::per_day(86_400_000_000))
        .route(RouteRule::new("search", "/search/*").limit(Limit::per_second(1_000_000)))
        .concurrency(u32::MAX)
        .quota(QuotaConfig::new(u64::MAX / 2, Period::Day));
    let mut config = PacerConfig::default().throttle(throttle);
    if let Some(b) = breaker {
        config = config.breaker(b);
    }
    Pacer::new(config, 1)
}

/// The host the breaker cases' calls go to (one breaker per host).
const HOST: &str = "api.example.com";

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

    // Pairwise: a fresh call each time (made outside the measurement), without and with a
    // closed breaker. The calls' permits are never given back: the concurrency limit is
    // u32::MAX, and a closed breaker keeps nothing for a permit it gave.
    for (name, breaker) in [
        (
            "paceline/poll_send of a fresh call (3 windows + route + concurrency + quota)",
            None,
        ),
        (
            "paceline/poll_send of a fresh call (3 windows + route + concurrency + quota) + breaker closed",
            Some(BreakerConfig::default()),
        ),
    ] {
        let mut pacer = composed_with(breaker);
        let mut now = Now::new(Instant::now(), SystemTime::now());
        // A call not yet sent: each iteration sends a copy of it, as new.
        let fresh = pacer.call_to_host(&Method::GET, HOST, "/search/code", &empty);
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    now = now.advance(Duration::from_micros(1));
                    (fresh.clone(), now)
                },
                |(mut call, now)| {
                    let d = pacer.poll_send(black_box(&mut call), now);
                    debug_assert_eq!(d, Begin::Send);
                    (d, call)
                },
                BatchSize::SmallInput,
            )
        });
    }

    let mut pacer = composed_with(Some(BreakerConfig::default()));
    let mut now = Now::new(Instant::now(), SystemTime::now());
    g.bench_function(
        "paceline/call + poll_send + on_response (no headers) + breaker closed",
        |b| {
            b.iter(|| {
                now = now.advance(Duration::from_micros(1));
                let mut call = pacer.call_to_host(&Method::GET, HOST, "/search/code", &empty);
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

/// A server naming a new policy on every response: one response's cost (call, send, answer
/// with a fresh `RateLimit-Policy` name) after 100 and after 10,000 such responses. The
/// window table is capped, so the two should match (it grew without end before: quadratic).
fn hostile_names(c: &mut Criterion) {
    let mut g = c.benchmark_group("new policy name every response");
    for warm in [100u64, 10_000] {
        let mut pacer = Pacer::new(PacerConfig::default(), 1);
        let mut now = Now::new(Instant::now(), SystemTime::now());
        let mut i = 0u64;
        let respond = |pacer: &mut Pacer, now: &mut Now, i: &mut u64| {
            *i += 1;
            let mut h = HeaderMap::new();
            h.insert(
                "ratelimit-policy",
                format!("\"p{i}\";q=1000000;w=1").parse().unwrap(),
            );
            h.insert(
                "ratelimit",
                format!("\"p{i}\";r=999999;t=1").parse().unwrap(),
            );
            let mut call = pacer.call(&Method::GET, &HeaderMap::new());
            loop {
                match pacer.poll_send(&mut call, *now) {
                    Begin::Send => break,
                    Begin::Wait(t) => *now = now.at(t),
                    other => panic!("{other:?}"),
                }
            }
            let f = pacer.on_response(&mut call, *now, StatusCode::OK, &h);
            *now = now.advance(Duration::from_micros(10));
            let _ = black_box(f);
        };
        for _ in 0..warm {
            respond(&mut pacer, &mut now, &mut i);
        }
        g.bench_function(format!("after {warm} responses"), |b| {
            b.iter(|| respond(&mut pacer, &mut now, &mut i))
        });
    }
    g.finish();
}

criterion_group!(benches, bench, hostile_names);
criterion_main!(benches);
