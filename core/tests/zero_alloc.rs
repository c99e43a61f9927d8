//! The hot path allocates nothing in steady state: a Pacer with three windows, a route bucket,
//! a concurrency limit and a quota, deciding and learning from numeric rate-limit headers.

use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use paceline::throttle::{Limit, Period, QuotaConfig, RouteRule, ThrottleConfig};
use paceline::{Begin, Finish, Now, Pacer, PacerConfig};

fn pacer() -> Pacer {
    let throttle = ThrottleConfig::default()
        .limit(Limit::per_second(1000))
        .limit(Limit::per_minute(60_000))
        .limit(Limit::per_day(86_400_000))
        .route(RouteRule::new("search", "/search/*").limit(Limit::per_second(500)))
        .concurrency(8)
        .quota(QuotaConfig::new(100_000_000, Period::Day));
    Pacer::new(PacerConfig::default().throttle(throttle), 1)
}

fn headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("x-ratelimit-limit", HeaderValue::from_static("5000"));
    h.insert("x-ratelimit-remaining", HeaderValue::from_static("4000"));
    h.insert("x-ratelimit-reset", HeaderValue::from_static("3000"));
    h
}

/// One request: decide, then learn from the response. Returns the time after it.
fn cycle(pacer: &mut Pacer, now: Now, h: &HeaderMap, empty: &HeaderMap) -> Now {
    let mut now = now;
    let mut call = pacer.call_to(&Method::GET, "/search/issues", empty);
    loop {
        match pacer.poll_send(&mut call, now) {
            Begin::Send => break,
            Begin::Wait(t) => now = now.at(t),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        pacer.on_response(&mut call, now, StatusCode::OK, h),
        Finish::Done
    );
    while pacer.poll_event().is_some() {}
    now
}

#[test]
fn steady_state_decisions_allocate_nothing() {
    let mut pacer = pacer();
    let (h, empty) = (headers(), HeaderMap::new());
    let mut now = Now::new(Instant::now(), SystemTime::now());
    for _ in 0..200 {
        now = cycle(&mut pacer, now, &h, &empty).advance(Duration::from_millis(3));
    }
    let counts = allocation_counter::measure(|| {
        for _ in 0..1000 {
            now = cycle(&mut pacer, now, &h, &empty).advance(Duration::from_millis(3));
        }
    });
    assert_eq!(counts.count_total, 0, "{counts:?}");
}

/// The counter does count allocations (so the test above can fail).
#[test]
fn the_counter_sees_allocations() {
    let counts = allocation_counter::measure(|| {
        std::hint::black_box(vec![1u8; 16]);
    });
    assert!(counts.count_total >= 1, "{counts:?}");
}
