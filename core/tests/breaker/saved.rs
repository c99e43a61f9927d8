//! Saving and restoring, and breakers by key.

use std::time::{Duration, Instant, SystemTime};

use super::transitions::{DOWN, call, events, opened, permit, tripped};
use paceline::Now;
use paceline::breaker::*;

fn now_pair() -> Now {
    Now::new(
        Instant::now(),
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    )
}

#[test]
fn an_open_breaker_restores_open_for_the_time_left() {
    let now = now_pair();
    let b = tripped(BreakerConfig::default(), now.mono);
    let saved = b.save(now.advance(Duration::from_secs(1)));
    assert_eq!(saved.state, State::Open);
    assert_eq!(saved.open_for_ns, 4_000_000_000);
    let json = serde_json::to_string(&saved).unwrap();
    let back: BreakerState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, saved);

    let later = Now::new(Instant::now(), now.wall + Duration::from_secs(3));
    let mut r = Breaker::new(BreakerConfig::default());
    r.restore(later, &back);
    assert_eq!(r.open_until(), Some(later.mono + Duration::from_secs(2)));
    assert_eq!(
        events(&mut r),
        [BreakerEvent::Restored { state: State::Open }]
    );
    // The next break still grows from where it was.
    let t = opened(&mut r, later.mono);
    call(&mut r, t, &DOWN);
    assert_eq!(opened(&mut r, t) - t, Duration::from_secs(10));

    // Restored long after: half-open at the first request.
    let mut r = Breaker::new(BreakerConfig::default());
    let much_later = later.advance(Duration::from_secs(3600));
    r.restore(much_later, &back);
    assert!(permit(&mut r, much_later.mono).is_probe());
}

#[test]
fn a_closed_window_restores_its_live_buckets() {
    let now = now_pair();
    let config = BreakerConfig::default().minimum_calls(4);
    let mut b = Breaker::new(config.clone());
    call(&mut b, now.mono, &DOWN);
    call(&mut b, now.mono + Duration::from_secs(20), &DOWN);
    call(&mut b, now.mono + Duration::from_secs(20), &DOWN);
    let at = now.advance(Duration::from_secs(21));
    let saved = b.save(at);
    assert_eq!(saved.buckets.len(), 2);
    // Nine seconds later the first bucket has left: two failures, not three.
    let later = Now::new(Instant::now(), at.wall + Duration::from_secs(9));
    let mut r = Breaker::new(config);
    r.restore(later, &saved);
    call(&mut r, later.mono, &DOWN);
    assert_eq!(r.state(), State::Closed);
    call(&mut r, later.mono, &DOWN);
    assert_eq!(r.state(), State::Open);
}

#[test]
fn hostile_states_never_panic() {
    let now = now_pair();
    let max = u64::MAX;
    let calls = vec![255u8; 20_000];
    let json = format!(
        r#"{{"saved_at_unix_ns":{max},"state":"open","open_for_ns":{max},"break_ns":{max},
        "opens":{},"probes_succeeded":{},"rejected":{max},
        "buckets":[{{"age_ns":{max},"calls":1,"failures":{},"slow":{}}}],"calls":{calls:?}}}"#,
        u32::MAX,
        u32::MAX,
        u32::MAX,
        u32::MAX
    );
    let hostile: BreakerState = serde_json::from_str(&json).expect("a hostile but valid state");
    for state in [State::Open, State::HalfOpen, State::Closed, State::Isolated] {
        for config in [
            BreakerConfig::default(),
            BreakerConfig::default().count_window(10),
        ] {
            let mut s = hostile.clone();
            s.state = state;
            s.buckets[0].age_ns = 0;
            let mut b = Breaker::new(config);
            b.restore(now, &s);
            let until = b.open_until();
            assert!(until.is_none_or(|u| u <= now.mono + Duration::from_secs(300)));
            for i in 0..5 {
                if let Decision::Permit(p) = b.allow(now.mono + Duration::from_secs(i * 400)) {
                    b.on_outcome(now.mono, p, &DOWN);
                }
            }
        }
    }
}

#[test]
fn keyed_breakers_drop_the_least_recently_used_closed_one() {
    let t = Instant::now();
    let mut bs = Breakers::new(BreakerConfig::default().minimum_calls(1)).with_max_keys(3);
    let fail = |bs: &mut Breakers, key: &str| {
        let Decision::Permit(p) = bs.allow(key, t) else {
            panic!("{key} open")
        };
        bs.on_outcome(t, p, &DOWN);
    };
    fail(&mut bs, "down");
    bs.isolate("maintenance");
    let _ = bs.allow("a", t);
    let _ = bs.allow("b", t); // drops "a", the only closed one
    let keys: Vec<_> = bs.states().map(|(k, _)| k.to_owned()).collect();
    assert_eq!(keys.len(), 3);
    assert!(!keys.contains(&"a".to_owned()));
    let _ = bs.allow("c", t); // drops "b" (closed)
    let _ = bs.allow("down", t);
    assert_eq!(bs.state("down"), Some(State::Open));
    let _ = bs.allow("d", t); // drops "c", closed
    let _ = bs.allow("e", t); // drops "d"
    assert_eq!(bs.state("maintenance"), Some(State::Isolated));
    bs.reset("maintenance");
    assert_eq!(bs.state("maintenance"), Some(State::Closed));

    // Only isolated ones: a new key is permitted, untracked.
    let mut bs = Breakers::new(BreakerConfig::default().minimum_calls(1)).with_max_keys(1);
    bs.isolate("x");
    let Decision::Permit(p) = bs.allow("y", t) else {
        panic!()
    };
    bs.on_outcome(t, p, &DOWN);
    assert_eq!(bs.state("y"), None);
    assert_eq!(bs.state("x"), Some(State::Isolated));
}

#[test]
fn keyed_breakers_save_and_restore_by_key() {
    let now = now_pair();
    let mut bs = Breakers::new(BreakerConfig::default().minimum_calls(1));
    let Decision::Permit(p) = bs.allow("api.test", now.mono) else {
        unreachable!()
    };
    bs.on_outcome(now.mono, p, &DOWN);
    let _ = bs.allow("ok.test", now.mono);
    let saved = bs.save(now);
    assert_eq!(saved.len(), 2);
    let mut r = Breakers::new(BreakerConfig::default());
    r.restore(now, &saved);
    assert_eq!(r.state("api.test"), Some(State::Open));
    assert_eq!(r.state("ok.test"), Some(State::Closed));
    assert_eq!(
        r.poll_event(),
        Some((
            "api.test".to_owned(),
            BreakerEvent::Restored { state: State::Open }
        ))
    );
}
