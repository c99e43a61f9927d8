//! Every transition and each knob, in virtual time.

use std::time::{Duration, Instant};

use http::StatusCode;

use paceline::Attempted;
use paceline::breaker::*;

const OK: Attempted = Attempted::Status(StatusCode::OK);
pub(super) const DOWN: Attempted = Attempted::Status(StatusCode::SERVICE_UNAVAILABLE);

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(super) fn permit(b: &mut Breaker, now: Instant) -> Permit {
    match b.allow(now) {
        Decision::Permit(p) => p,
        other => panic!("expected a permit, got {other:?}"),
    }
}

/// One call at `now`, answered at once.
pub(super) fn call(b: &mut Breaker, now: Instant, outcome: &Attempted) {
    let p = permit(b, now);
    b.on_outcome(now, p, outcome);
}

pub(super) fn events(b: &mut Breaker) -> Vec<BreakerEvent> {
    std::iter::from_fn(|| b.poll_event()).collect()
}

pub(super) fn opened(b: &mut Breaker, now: Instant) -> Instant {
    let Decision::Rejected { until: Some(until) } = b.allow(now) else {
        panic!("expected open, state {}", b.state())
    };
    until
}

#[test]
fn never_trips_before_the_minimum_then_trips_at_the_ratio() {
    let mut b = Breaker::new(BreakerConfig::default());
    let t = Instant::now();
    for i in 0..19 {
        call(&mut b, t + ms(i * 100), &DOWN);
    }
    assert_eq!(b.state(), State::Closed);
    call(&mut b, t + ms(1900), &DOWN);
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        opened(&mut b, t + ms(1900)),
        t + ms(1900) + Duration::from_secs(5)
    );
    let ev = events(&mut b);
    assert_eq!(
        ev,
        [BreakerEvent::Opened {
            failure_ratio: 1.0,
            slow_ratio: 0.0,
            calls: 20,
            break_for: Duration::from_secs(5)
        }]
    );
}

#[test]
fn below_the_ratio_stays_closed_at_it_trips() {
    let mut b = Breaker::new(BreakerConfig::default().minimum_calls(4));
    let t = Instant::now();
    for o in [&OK, &DOWN, &OK, &OK, &DOWN] {
        call(&mut b, t, o); // 1 of 4 then 2 of 5 failed: < 0.5
    }
    assert_eq!(b.state(), State::Closed);
    call(&mut b, t, &DOWN); // 3 of 6: 0.5
    assert_eq!(b.state(), State::Open);
}

#[test]
fn failures_leave_the_time_window_with_their_bucket() {
    // 30 s in 10 buckets of 3 s; the minimum is 4.
    let mut b = Breaker::new(BreakerConfig::default().minimum_calls(4));
    let t = Instant::now();
    for _ in 0..3 {
        call(&mut b, t, &DOWN);
    }
    // At 29.9 s the first bucket is still in: a fourth failure trips.
    let mut c = b.clone();
    call(&mut c, t + ms(29_900), &DOWN);
    assert_eq!(c.state(), State::Open);
    // At 30 s it has left: one failure of one call.
    call(&mut b, t + ms(30_000), &DOWN);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn buckets_are_aligned_so_a_call_leaves_at_its_bucket_end() {
    let mut b = Breaker::new(BreakerConfig::default().minimum_calls(4));
    let t = Instant::now();
    call(&mut b, t, &OK); // bucket [0, 3 s)
    for _ in 0..2 {
        call(&mut b, t + ms(2_000), &DOWN); // same bucket
    }
    call(&mut b, t + ms(4_000), &DOWN); // bucket [3, 6 s): 3 of 4, trips
    assert_eq!(b.state(), State::Open);
}

#[test]
fn count_window_holds_the_last_calls() {
    let mut b = Breaker::new(BreakerConfig::default().count_window(4));
    let t = Instant::now();
    // The minimum (20) is capped at the window's 4 calls.
    for o in [&DOWN, &OK, &OK, &OK, &OK, &DOWN] {
        call(&mut b, t, o); // the first failure has left when the second comes
    }
    assert_eq!(b.state(), State::Closed);
    call(&mut b, t + Duration::from_secs(3600), &DOWN); // 2 of the last 4, however old
    assert_eq!(b.state(), State::Open);
}

#[test]
fn slow_calls_trip_when_configured() {
    let config = BreakerConfig::default()
        .minimum_calls(2)
        .slow_calls(Duration::from_secs(1), 0.5);
    let mut b = Breaker::new(config.clone());
    let t = Instant::now();
    let p = permit(&mut b, t);
    b.on_outcome(t + ms(999), p, &OK);
    let p = permit(&mut b, t);
    b.on_outcome(t + ms(1000), p, &OK);
    assert_eq!(b.state(), State::Open);
    assert!(matches!(
        events(&mut b)[..],
        [BreakerEvent::Opened { failure_ratio, slow_ratio, calls: 2, .. }]
            if failure_ratio == 0.0 && slow_ratio == 0.5
    ));
    // Off by default.
    let mut b = Breaker::new(BreakerConfig::default().minimum_calls(2));
    for _ in 0..2 {
        let p = permit(&mut b, t);
        b.on_outcome(t + Duration::from_secs(600), p, &OK);
    }
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn throttling_is_not_counted_at_all() {
    let mut b = Breaker::new(BreakerConfig::default().minimum_calls(2));
    let t = Instant::now();
    let throttled = Attempted::Status(StatusCode::TOO_MANY_REQUESTS);
    for _ in 0..50 {
        call(&mut b, t, &throttled);
    }
    call(&mut b, t, &DOWN);
    assert_eq!(b.state(), State::Closed, "429s neither fail nor dilute");
    call(&mut b, t, &DOWN);
    assert_eq!(b.state(), State::Open);
}

/// A breaker that opened once at `t` (minimum 1).
pub(super) fn tripped(config: BreakerConfig, t: Instant) -> Breaker {
    let mut b = Breaker::new(config.minimum_calls(1));
    call(&mut b, t, &DOWN);
    assert_eq!(b.state(), State::Open);
    events(&mut b);
    b
}

#[test]
fn breaks_grow_while_down_capped_and_start_again_after_a_close() {
    let config = BreakerConfig::default().max_break_duration(Duration::from_secs(30));
    let mut t = Instant::now();
    let mut b = tripped(config, t);
    let mut breaks = Vec::new();
    for _ in 0..5 {
        let until = opened(&mut b, t);
        breaks.push((until - t).as_secs());
        t = until;
        call(&mut b, t, &DOWN); // the probe fails
    }
    assert_eq!(breaks, [5, 10, 20, 30, 30]);
    let until = opened(&mut b, t);
    call(&mut b, until, &OK);
    assert_eq!(b.state(), State::Closed);
    call(&mut b, until, &DOWN);
    assert_eq!(opened(&mut b, until) - until, Duration::from_secs(5));
    let ev = events(&mut b);
    assert!(ev.contains(&BreakerEvent::Reopened {
        break_for: Duration::from_secs(30)
    }));
}

#[test]
fn half_open_admits_the_configured_probes_and_needs_them_all() {
    let t = Instant::now();
    let mut b = tripped(BreakerConfig::default().half_open_probes(3), t);
    let t = opened(&mut b, t);
    let probes: Vec<Permit> = (0..3).map(|_| permit(&mut b, t)).collect();
    assert!(probes.iter().all(Permit::is_probe));
    assert_eq!(
        b.allow(t),
        Decision::Rejected {
            until: Some(t + Duration::from_secs(5))
        }
    );
    b.on_outcome(t, probes[0], &OK);
    b.on_outcome(t, probes[1], &OK);
    assert_eq!(b.state(), State::HalfOpen);
    // A success frees no slot: three probes in all per half-open period.
    assert!(matches!(b.allow(t), Decision::Rejected { .. }));
    b.on_outcome(t, probes[2], &OK);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(
        events(&mut b),
        [
            BreakerEvent::HalfOpened { rejected: 1 },
            BreakerEvent::Closed
        ]
    );
}

#[test]
fn one_failed_probe_opens_again() {
    let t = Instant::now();
    let mut b = tripped(BreakerConfig::default().half_open_probes(2), t);
    let t = opened(&mut b, t);
    let (p1, p2) = (permit(&mut b, t), permit(&mut b, t));
    b.on_outcome(t, p1, &OK);
    b.on_outcome(t, p2, &DOWN);
    assert_eq!(opened(&mut b, t), t + Duration::from_secs(10));
}

#[test]
fn a_cancelled_or_ignored_probe_frees_its_slot() {
    let t = Instant::now();
    let mut b = tripped(BreakerConfig::default(), t);
    let t = opened(&mut b, t);
    let p = permit(&mut b, t);
    assert!(matches!(b.allow(t), Decision::Rejected { .. }));
    b.cancel(p);
    let p = permit(&mut b, t);
    b.on_outcome(t, p, &Attempted::Status(StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(b.state(), State::HalfOpen);
    let p = permit(&mut b, t);
    b.on_outcome(t, p, &OK);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn a_slow_probe_is_a_failed_one() {
    let config = BreakerConfig::default().slow_calls(Duration::from_secs(1), 1.0);
    let t = Instant::now();
    let mut b = tripped(config, t);
    let t = opened(&mut b, t);
    let p = permit(&mut b, t);
    b.on_outcome(t + Duration::from_secs(2), p, &OK);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn stale_and_repeated_permits_change_nothing() {
    let t = Instant::now();
    let mut b = Breaker::new(BreakerConfig::default().minimum_calls(1));
    let early = permit(&mut b, t);
    call(&mut b, t, &DOWN);
    let t = opened(&mut b, t);
    let probe = permit(&mut b, t);
    // The answer to a call permitted while closed says nothing about the half-open period.
    b.on_outcome(t, early, &OK);
    assert_eq!(b.state(), State::HalfOpen);
    b.on_outcome(t, probe, &OK);
    assert_eq!(b.state(), State::Closed);
    // Reporting the probe again, or cancelling it, after the close: nothing.
    b.on_outcome(t, probe, &DOWN);
    b.cancel(probe);
    assert_eq!(b.state(), State::Closed);
    // A permit of another breaker: nothing.
    let mut other = Breakers::new(BreakerConfig::default().minimum_calls(1));
    let Decision::Permit(foreign) = other.allow("x", t) else {
        unreachable!()
    };
    b.on_outcome(t, foreign, &DOWN);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn isolate_holds_until_reset() {
    let mut b = Breaker::new(BreakerConfig::default());
    let t = Instant::now();
    b.isolate();
    assert_eq!(b.allow(t), Decision::Rejected { until: None });
    assert_eq!(
        b.allow(t + Duration::from_secs(86_400)),
        Decision::Rejected { until: None }
    );
    b.reset();
    assert!(matches!(b.allow(t), Decision::Permit(_)));
    assert_eq!(
        events(&mut b),
        [BreakerEvent::Isolated, BreakerEvent::Reset]
    );
}

#[test]
fn reset_returns_to_the_first_break() {
    let t = Instant::now();
    let mut b = tripped(BreakerConfig::default(), t);
    let t = opened(&mut b, t);
    call(&mut b, t, &DOWN); // 10 s now
    b.reset();
    call(&mut b, t, &DOWN);
    assert_eq!(opened(&mut b, t) - t, Duration::from_secs(5));
}
