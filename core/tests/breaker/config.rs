//! Configuration: the failure policy, bad values, huge values; and how events read.

use std::time::{Duration, Instant};

use http::StatusCode;

use super::transitions::{DOWN, ms, tripped};
use paceline::Attempted;
use paceline::breaker::*;
use paceline::retry::{TransportError, TransportKind};

#[test]
fn default_failure_policy() {
    let f = FailurePolicy::default();
    let v = |code: u16| f.verdict(&Attempted::Status(StatusCode::from_u16(code).unwrap()));
    assert_eq!(v(500), Verdict::Failure);
    assert_eq!(v(502), Verdict::Failure);
    assert_eq!(v(503), Verdict::Failure);
    assert_eq!(v(501), Verdict::Success);
    assert_eq!(v(429), Verdict::Ignored);
    assert_eq!(v(404), Verdict::Success);
    assert_eq!(v(400), Verdict::Success);
    assert_eq!(v(200), Verdict::Success);
    let t = |kind| f.verdict(&Attempted::Transport(TransportError::after_send(kind)));
    assert_eq!(t(TransportKind::Connect), Verdict::Failure);
    assert_eq!(t(TransportKind::Timeout), Verdict::Failure);
    assert_eq!(t(TransportKind::Reset), Verdict::Failure);
    assert_eq!(t(TransportKind::Other), Verdict::Ignored);
}

#[test]
fn failure_policy_is_configurable() {
    let mut f = FailurePolicy::default();
    f.failure_statuses.push(408);
    f.success_statuses.push(503);
    f.server_errors = false;
    f.transport = false;
    let v = |code: u16| f.verdict(&Attempted::Status(StatusCode::from_u16(code).unwrap()));
    assert_eq!(v(408), Verdict::Failure);
    assert_eq!(v(503), Verdict::Success);
    assert_eq!(v(500), Verdict::Success);
    let timeout = TransportError::after_send(TransportKind::Timeout);
    assert_eq!(f.verdict(&Attempted::Transport(timeout)), Verdict::Ignored);
}

#[test]
fn events_display() {
    let shown = [
        BreakerEvent::Opened {
            failure_ratio: 0.75,
            slow_ratio: 0.0,
            calls: 20,
            break_for: Duration::from_secs(5),
        },
        BreakerEvent::Reopened {
            break_for: Duration::from_secs(10),
        },
        BreakerEvent::HalfOpened { rejected: 3 },
        BreakerEvent::Closed,
        BreakerEvent::Isolated,
        BreakerEvent::Reset,
        BreakerEvent::Restored { state: State::Open },
    ]
    .map(|e| e.to_string());
    assert_eq!(
        shown[0],
        "breaker opened: 75 % of 20 calls failed, 0 % slow; probing in 5.0 s"
    );
    assert_eq!(
        shown[2],
        "breaker half-open, probing (3 calls rejected while open)"
    );
    assert_eq!(shown[6], "breaker restored, open");
}

#[test]
fn bad_config_is_named_and_clamped() {
    let d = BreakerConfig::default();
    let cases = [
        (d.clone().failure_ratio(f64::NAN), "failure_ratio"),
        (d.clone().failure_ratio(-1.0), "failure_ratio"),
        (d.clone().failure_ratio(1.5), "failure_ratio"),
        (d.clone().minimum_calls(0), "minimum_calls"),
        (d.clone().half_open_probes(65), "half_open_probes"),
        (d.clone().count_window(0), "window.calls"),
        (d.clone().time_window(Duration::ZERO, 10), "window.length"),
        (
            d.clone().time_window(Duration::from_secs(1), 0),
            "window.buckets",
        ),
        (d.clone().break_duration(Duration::ZERO), "break_duration"),
        (
            d.clone().max_break_duration(Duration::from_secs(1)),
            "max_break_duration",
        ),
        (
            d.clone().slow_calls(Duration::from_secs(1), f64::NAN),
            "slow_calls.ratio",
        ),
        (d.clone().break_growth(f64::NAN), "break_growth"),
        (d.clone().break_growth(0.5), "break_growth"),
    ];
    for (config, field) in cases {
        let err = config.validate().expect_err(field);
        assert!(
            err.to_string().contains(field),
            "{field}: {err} ({config:?})"
        );
        let fixed = config.sanitized();
        assert_eq!(fixed.validate(), Ok(()), "{field}: {fixed:?}");
        // A breaker runs on it without panicking.
        let mut b = Breaker::new(config);
        let t = Instant::now();
        for i in 0..30 {
            if let Decision::Permit(p) = b.allow(t + Duration::from_secs(i * 1000)) {
                b.on_outcome(t + ms(i), p, &DOWN);
            }
        }
    }
    assert_eq!(d.sanitized(), d);
}

#[test]
fn huge_durations_saturate() {
    let config = BreakerConfig::default()
        .break_duration(Duration::MAX)
        .max_break_duration(Duration::MAX)
        .break_growth(f64::MAX)
        .time_window(Duration::MAX, 7);
    assert_eq!(config.validate(), Ok(()));
    let t = Instant::now();
    let mut b = tripped(config.clone(), t);
    // The break is past what an Instant holds: it is probed at once rather than never.
    assert!(matches!(b.allow(t), Decision::Permit(_)));
    assert_eq!(config.break_for(u32::MAX), Duration::MAX);
    let c = BreakerConfig::default().break_growth(1e300);
    assert_eq!(c.break_for(3), c.max_break_duration);
}
