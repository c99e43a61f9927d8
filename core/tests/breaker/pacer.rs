//! The breaker composed into the Pacer: checked before the throttle, fed by every outcome, one
//! per host, its transitions as Pacer events.

use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, Method, StatusCode};
use paceline::breaker::{BreakerConfig, BreakerEvent, State};
use paceline::retry::{RetryPolicy, TransportError, TransportKind};
use paceline::{Begin, Error, Event, Finish, Now, Pacer, PacerConfig};

fn config() -> PacerConfig {
    PacerConfig::default()
        .retry(RetryPolicy::default().max_attempts(1))
        .breaker(
            BreakerConfig::default()
                .minimum_calls(4)
                .break_duration(Duration::from_secs(2)),
        )
}

fn now() -> Now {
    Now::new(Instant::now(), SystemTime::now())
}

/// One single-attempt request to `host` answered with `status`; `None` when it was not sent.
fn request(p: &mut Pacer, host: &str, now: Now, status: StatusCode) -> Result<Finish, Error> {
    let h = HeaderMap::new();
    let mut call = p.call_to_host(&Method::GET, host, "/items", &h);
    match p.poll_send(&mut call, now) {
        Begin::Send => Ok(p.on_response(&mut call, now, status, &h)),
        Begin::Reject(e) => Err(e),
        other => panic!("{other:?}"),
    }
}

fn breaker_events(p: &mut Pacer) -> Vec<BreakerEvent> {
    std::iter::from_fn(|| p.poll_event())
        .filter_map(|e| match e {
            Event::Breaker { event, .. } => Some(event),
            _ => None,
        })
        .collect()
}

#[test]
fn no_breaker_by_default() {
    let mut p = Pacer::new(
        PacerConfig::default().retry(RetryPolicy::default().max_attempts(1)),
        1,
    );
    let t = now();
    for _ in 0..100 {
        assert!(request(&mut p, "api.test", t, StatusCode::SERVICE_UNAVAILABLE).is_ok());
    }
    assert_eq!(p.breaker_state("api.test"), None);
    assert!(p.breaker_states(t).is_empty());
    assert_eq!(PacerConfig::default().breaker, None);
}

#[test]
fn opens_rejects_fast_probes_and_closes() {
    let mut p = Pacer::new(config(), 1);
    let t = now();
    for _ in 0..4 {
        let finish = request(&mut p, "api.test", t, StatusCode::BAD_GATEWAY).unwrap();
        assert!(matches!(finish, Finish::Fail(_)), "{finish:?}");
    }
    let Err(Error::BreakerOpen { until, retry_in }) =
        request(&mut p, "api.test", t, StatusCode::OK)
    else {
        panic!("expected the breaker open");
    };
    assert_eq!(
        (until, retry_in),
        (t.mono + Duration::from_secs(2), Duration::from_secs(2))
    );
    assert_eq!(
        Error::BreakerOpen { until, retry_in }.to_string(),
        "circuit breaker open, probing in 2.0 s"
    );
    assert!(matches!(
        breaker_events(&mut p)[..],
        [BreakerEvent::Opened { calls: 4, .. }]
    ));
    // Another host is not affected.
    assert!(request(&mut p, "other.test", t, StatusCode::OK).is_ok());
    // After the break, one probe; its success closes the breaker.
    let later = t.at(until);
    assert_eq!(
        request(&mut p, "api.test", later, StatusCode::OK),
        Ok(Finish::Done)
    );
    assert_eq!(p.breaker_state("api.test"), Some(State::Closed));
    assert_eq!(
        breaker_events(&mut p),
        [
            BreakerEvent::HalfOpened { rejected: 1 },
            BreakerEvent::Closed
        ]
    );
}

#[test]
fn retries_stop_when_the_breaker_opens() {
    let retry = RetryPolicy::default()
        .max_attempts(10)
        .base(Duration::from_millis(100))
        .jitter(paceline::retry::Jitter::None);
    let mut p = Pacer::new(config().retry(retry), 1);
    let h = HeaderMap::new();
    let mut now = now();
    let mut call = p.call(&Method::GET, &h);
    let error = loop {
        match p.poll_send(&mut call, now) {
            Begin::Send => {}
            Begin::Wait(t) => {
                now = now.at(t);
                continue;
            }
            Begin::Reject(e) => break e,
            other => panic!("{other:?}"),
        }
        let cut = TransportError::after_send(TransportKind::Reset);
        match p.on_transport_error(&mut call, now, cut) {
            Finish::RetryAt(t) => now = now.at(t),
            other => panic!("{other:?}"),
        }
    };
    assert!(matches!(error, Error::BreakerOpen { .. }), "{error}");
    assert_eq!(call.attempts(), 4);
    assert_eq!(p.breaker_state(""), Some(State::Open));
}

#[test]
fn throttling_and_client_errors_do_not_trip() {
    let mut p = Pacer::new(config(), 1);
    let t = now();
    for status in [StatusCode::NOT_FOUND, StatusCode::BAD_REQUEST] {
        for _ in 0..10 {
            assert!(request(&mut p, "api.test", t, status).is_ok());
        }
    }
    let mut h = HeaderMap::new();
    h.insert("retry-after", "0".parse().unwrap());
    let mut t = t;
    for _ in 0..10 {
        let mut call = p.call_to_host(&Method::GET, "api.test", "/", &h);
        // Unexplained 429s make adaptive pacing space the requests: wait as told.
        while let Begin::Wait(at) = p.poll_send(&mut call, t) {
            t = t.at(at);
        }
        let _ = p.on_response(&mut call, t, StatusCode::TOO_MANY_REQUESTS, &h);
    }
    assert_eq!(p.breaker_state("api.test"), Some(State::Closed));
}

#[test]
fn a_cancelled_probe_lets_another_go() {
    let mut p = Pacer::new(config(), 1);
    let t = now();
    for _ in 0..4 {
        let _ = request(&mut p, "api.test", t, StatusCode::BAD_GATEWAY);
    }
    let later = t.advance(Duration::from_secs(2));
    let h = HeaderMap::new();
    let mut probe = p.call_to_host(&Method::GET, "api.test", "/", &h);
    assert_eq!(p.poll_send(&mut probe, later), Begin::Send);
    let mut second = p.call_to_host(&Method::GET, "api.test", "/", &h);
    assert!(matches!(
        p.poll_send(&mut second, later),
        Begin::Reject(Error::BreakerOpen { .. })
    ));
    p.cancel(&mut probe, later);
    let mut third = p.call_to_host(&Method::GET, "api.test", "/", &h);
    assert_eq!(p.poll_send(&mut third, later), Begin::Send);
}

#[test]
fn isolate_and_reset() {
    let mut p = Pacer::new(config(), 1);
    let t = now();
    p.isolate_breaker("api.test");
    assert_eq!(
        request(&mut p, "api.test", t, StatusCode::OK),
        Err(Error::BreakerIsolated)
    );
    p.reset_breaker("api.test");
    assert!(request(&mut p, "api.test", t, StatusCode::OK).is_ok());
    assert_eq!(
        breaker_events(&mut p),
        [BreakerEvent::Isolated, BreakerEvent::Reset]
    );
}

#[test]
fn a_closed_breaker_allocates_nothing_per_request() {
    let mut p = Pacer::new(config(), 1);
    let h = HeaderMap::new();
    let mut t = now();
    let cycle = |p: &mut Pacer, t: Now| {
        let mut call = p.call_to_host(&Method::GET, "api.test", "/items", &h);
        assert_eq!(p.poll_send(&mut call, t), Begin::Send);
        assert_eq!(
            p.on_response(&mut call, t, StatusCode::OK, &h),
            Finish::Done
        );
        while p.poll_event().is_some() {}
    };
    for _ in 0..10 {
        cycle(&mut p, t);
        t = t.advance(Duration::from_millis(5));
    }
    let counts = allocation_counter::measure(|| {
        for _ in 0..1000 {
            cycle(&mut p, t);
            t = t.advance(Duration::from_millis(5));
        }
    });
    assert_eq!(counts.count_total, 0, "{counts:?}");
}
