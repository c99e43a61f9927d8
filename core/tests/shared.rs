//! A budget shared by several Pacers through a store, in virtual time: the store is the core's
//! reference bucket ([`BucketState`]), the same arithmetic the Redis store's script runs.

use std::time::{Duration, Instant, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use paceline::shared::{BucketState, OnUnreachable, Reply, SharedBudget, SharedSignal};
use paceline::throttle::Limit;
use paceline::{Begin, Call, Error, Event, Finish, Now, Pacer, PacerConfig};

fn start() -> Now {
    Now::new(
        Instant::now(),
        UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    )
}

/// The store's clock: µs, from an arbitrary origin tied to the test's `start`.
fn store_us(t0: Now, now: Now) -> u64 {
    1_000_000 + now.mono.duration_since(t0.mono).as_micros() as u64
}

fn pacer(budget: SharedBudget, seed: u64) -> Pacer {
    Pacer::new(PacerConfig::default().shared(budget), seed)
}

/// Sends `call` as soon as the Pacer and the store allow (waiting in virtual time), with the
/// store reachable or not; returns when it went and how many times the store was asked.
fn send(
    p: &mut Pacer,
    call: &mut Call,
    store: &mut BucketState,
    reachable: bool,
    t0: Now,
    mut now: Now,
) -> (Now, u32) {
    let mut asked = 0;
    for _ in 0..1000 {
        match p.poll_send(call, now) {
            Begin::Send => return (now, asked),
            Begin::Wait(t) => now = now.at(t),
            Begin::Reserve(r) => {
                asked += 1;
                let reply = if reachable {
                    store.reserve(store_us(t0, now), &r)
                } else {
                    Reply::Unreachable
                };
                p.on_reserved(call, now, reply);
            }
            other => panic!("{other:?}"),
        }
    }
    panic!("never sent");
}

fn events(p: &mut Pacer) -> Vec<Event> {
    std::iter::from_fn(|| p.poll_event()).collect()
}

#[test]
fn two_pacers_share_one_rate() {
    // 10/s between two processes: together they go 100 ms apart, not 10/s each.
    let budget = SharedBudget::new("k", Limit::per_second(10));
    let (mut a, mut b) = (pacer(budget.clone(), 1), pacer(budget, 2));
    let mut store = BucketState::default();
    let t0 = start();
    let (mut ta, mut tb) = (t0, t0);
    let mut sent = Vec::new();
    for i in 0..20 {
        let (p, t) = if i % 2 == 0 {
            (&mut a, &mut ta)
        } else {
            (&mut b, &mut tb)
        };
        let mut call = p.call(&Method::GET, &HeaderMap::new());
        let (at, asked) = send(p, &mut call, &mut store, true, t0, *t);
        assert_eq!(asked, 1, "one round trip per request");
        assert_eq!(
            p.on_response(&mut call, at, StatusCode::OK, &HeaderMap::new()),
            Finish::Done
        );
        sent.push(at.mono.duration_since(t0.mono));
        *t = at;
    }
    sent.sort();
    let expected: Vec<_> = (0..20).map(|i| Duration::from_millis(100 * i)).collect();
    assert_eq!(sent, expected);
}

#[test]
fn a_turn_too_far_ahead_is_asked_again() {
    let budget = SharedBudget::new("k", Limit::per_second(1)).max_ahead(Duration::from_millis(200));
    let mut p = pacer(budget, 1);
    let mut store = BucketState::default();
    let t0 = start();
    let mut first = p.call(&Method::GET, &HeaderMap::new());
    let (at, _) = send(&mut p, &mut first, &mut store, true, t0, t0);
    assert_eq!(at, t0);
    let _ = p.on_response(&mut first, at, StatusCode::OK, &HeaderMap::new());
    let mut second = p.call(&Method::GET, &HeaderMap::new());
    // The second's turn is 1 s away: not taken now; asked again 800 ms later, then granted.
    let Begin::Reserve(r) = p.poll_send(&mut second, t0) else {
        panic!()
    };
    let reply = store.reserve(store_us(t0, t0), &r);
    assert_eq!(
        reply,
        Reply::NotYet {
            wait: Duration::from_millis(800),
            paused: false
        }
    );
    p.on_reserved(&mut second, t0, reply);
    assert_eq!(
        p.poll_send(&mut second, t0),
        Begin::Wait(t0.mono + Duration::from_millis(800))
    );
    let (at, asked) = send(&mut p, &mut second, &mut store, true, t0, t0);
    assert_eq!(asked, 1);
    assert_eq!(at.mono, t0.mono + Duration::from_secs(1));
}

#[test]
fn one_pacers_retry_after_pauses_the_others() {
    let budget = SharedBudget::new("k", Limit::per_second(100));
    let (mut a, mut b) = (pacer(budget.clone(), 1), pacer(budget, 2));
    let mut store = BucketState::default();
    let t0 = start();
    let mut call = a.call(&Method::GET, &HeaderMap::new());
    let (at, _) = send(&mut a, &mut call, &mut store, true, t0, t0);
    let mut h = HeaderMap::new();
    h.insert("retry-after", HeaderValue::from_static("5"));
    let finish = a.on_response(&mut call, at, StatusCode::TOO_MANY_REQUESTS, &h);
    assert!(matches!(finish, Finish::RetryAt(_)), "{finish:?}");
    let signal = a.poll_shared().expect("the pause is queued for the others");
    let SharedSignal::Pause { key, wait } = &signal else {
        panic!("{signal:?}")
    };
    assert_eq!((&**key, *wait), ("k", Duration::from_secs(5)));
    assert_eq!(a.poll_shared(), None);
    store.pause(store_us(t0, at), wait.as_micros() as u64);

    // B never saw the 429, and still waits for it.
    let mut other = b.call(&Method::GET, &HeaderMap::new());
    let (went, _) = send(&mut b, &mut other, &mut store, true, t0, at);
    assert!(went.mono >= at.mono + Duration::from_secs(5), "{went:?}");
    let seen = events(&mut b);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::SharedPaused { key } if key == "k")),
        "{seen:?}"
    );
}

#[test]
fn fail_closed_waits_for_the_store_and_says_so() {
    let budget = SharedBudget::new("k", Limit::per_second(100)).probe_every(Duration::from_secs(2));
    let mut p = pacer(budget, 1);
    let mut store = BucketState::default();
    let t0 = start();
    let mut call = p.call(&Method::GET, &HeaderMap::new());
    let Begin::Reserve(_) = p.poll_send(&mut call, t0) else {
        panic!()
    };
    p.on_reserved(&mut call, t0, Reply::Unreachable);
    let probe = t0.mono + Duration::from_secs(2);
    assert_eq!(p.poll_send(&mut call, t0), Begin::Wait(probe));
    // Another request waits for the same probe, without asking the store meanwhile.
    let mut other = p.call(&Method::GET, &HeaderMap::new());
    assert_eq!(p.poll_send(&mut other, t0), Begin::Wait(probe));
    assert_eq!(
        events(&mut p),
        [Event::SharedUnreachable {
            key: "k".into(),
            fallback: OnUnreachable::Wait
        }]
    );
    // Still down at the probe: one more wait, no second announcement.
    let at = t0.at(probe);
    let Begin::Reserve(_) = p.poll_send(&mut call, at) else {
        panic!()
    };
    p.on_reserved(&mut call, at, Reply::Unreachable);
    assert!(events(&mut p).is_empty());
    // Back: the request goes, and the outage's length is told.
    let (went, _) = send(&mut p, &mut call, &mut store, true, t0, at);
    assert_eq!(went.mono, probe + Duration::from_secs(2));
    assert_eq!(
        events(&mut p),
        [Event::SharedRecovered {
            key: "k".into(),
            down_for: Duration::from_secs(4)
        }]
    );
}

#[test]
fn fail_open_draws_from_a_local_fraction() {
    // 100/s shared; unreachable, a quarter of it locally: 25/s, 40 ms apart.
    let budget = SharedBudget::new("k", Limit::per_second(100))
        .on_unreachable(OnUnreachable::Local { fraction: 0.25 })
        .probe_every(Duration::from_secs(1));
    let mut p = pacer(budget, 1);
    let mut store = BucketState::default();
    let t0 = start();
    let mut now = t0;
    let mut sent = Vec::new();
    let mut asked = 0;
    while sent.len() < 25 {
        let mut call = p.call(&Method::GET, &HeaderMap::new());
        let (at, n) = send(&mut p, &mut call, &mut store, false, t0, now);
        asked += n;
        let _ = p.on_response(&mut call, at, StatusCode::OK, &HeaderMap::new());
        sent.push(at.mono.duration_since(t0.mono).as_millis());
        now = at;
    }
    // The first request found the store down; the others went from the local bucket until
    // the probe a second later.
    assert_eq!(asked, 1);
    assert_eq!(sent, (0..25).map(|i| i * 40).collect::<Vec<_>>());
    assert_eq!(
        events(&mut p),
        [Event::SharedUnreachable {
            key: "k".into(),
            fallback: OnUnreachable::Local { fraction: 0.25 }
        }]
    );
}

#[test]
fn a_cost_over_the_shared_burst_is_refused() {
    let budget = SharedBudget::new("k", Limit::per_second(10).burst(3));
    let mut p = pacer(budget, 1);
    let mut call = p.call(&Method::GET, &HeaderMap::new()).with_cost(4);
    assert_eq!(
        p.poll_send(&mut call, start()),
        Begin::Reject(Error::CostTooHigh {
            cost: 4,
            capacity: 3
        })
    );
}

#[test]
fn without_a_shared_budget_the_store_is_never_asked() {
    let mut p = Pacer::new(PacerConfig::default(), 1);
    let mut call = p.call(&Method::GET, &HeaderMap::new());
    assert_eq!(p.poll_send(&mut call, start()), Begin::Send);
    let mut h = HeaderMap::new();
    h.insert("retry-after", HeaderValue::from_static("5"));
    let _ = p.on_response(&mut call, start(), StatusCode::TOO_MANY_REQUESTS, &h);
    assert_eq!(p.poll_shared(), None);
}

#[test]
fn fail_open_starts_after_the_turns_already_reserved() {
    // Four turns reserved ahead (at 0, 100, 200, 300 ms); the store then goes away: the local
    // quarter-rate bucket (400 ms apart) starts after the last reserved turn, not beside it.
    let budget = SharedBudget::new("k", Limit::per_second(10))
        .on_unreachable(OnUnreachable::Local { fraction: 0.25 })
        .probe_every(Duration::from_secs(10));
    let mut p = pacer(budget, 1);
    let mut store = BucketState::default();
    let t0 = start();
    let mut calls: Vec<Call> = Vec::new();
    for _ in 0..4 {
        let mut call = p.call(&Method::GET, &HeaderMap::new());
        let Begin::Reserve(r) = p.poll_send(&mut call, t0) else {
            panic!()
        };
        let reply = store.reserve(store_us(t0, t0), &r);
        p.on_reserved(&mut call, t0, reply);
        calls.push(call);
    }
    let mut late = p.call(&Method::GET, &HeaderMap::new());
    let Begin::Reserve(_) = p.poll_send(&mut late, t0) else {
        panic!()
    };
    p.on_reserved(&mut late, t0, Reply::Unreachable);
    assert_eq!(
        p.poll_send(&mut late, t0),
        Begin::Wait(t0.mono + Duration::from_millis(300))
    );
}
