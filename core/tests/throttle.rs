//! The throttle through the Pacer's two calls, in virtual time: routes, shares, costs,
//! priorities, pauses, quotas, and what responses teach it.

use std::time::{Duration, Instant, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use paceline::throttle::{
    Limit, OnExhausted, Period, Priority, QuotaConfig, RouteRule, ThrottleConfig,
};
use paceline::{Begin, Call, Error, Event, Finish, Now, Pacer, PacerConfig};

mod support;
use support::send_when_allowed;

fn start() -> Now {
    Now::new(
        Instant::now(),
        UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    )
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_static(k),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

/// Counts requests admitted in `secs` of virtual time for each of `calls` (made by `make`),
/// interleaving them: each asks as soon as its previous one went.
fn admitted_over(p: &mut Pacer, secs: u64, make: &[&dyn Fn(&Pacer) -> Call]) -> Vec<u64> {
    let begin = start();
    let end = begin.advance(Duration::from_secs(secs));
    let mut next: Vec<Now> = vec![begin; make.len()];
    let mut counts = vec![0; make.len()];
    loop {
        let (i, &at) = next.iter().enumerate().min_by_key(|(_, n)| n.mono).unwrap();
        if at.mono >= end.mono {
            return counts;
        }
        let mut call = make[i](p);
        match p.poll_send(&mut call, at) {
            Begin::Send => {
                counts[i] += 1;
                assert_eq!(
                    p.on_response(&mut call, at, StatusCode::OK, &HeaderMap::new()),
                    Finish::Done
                );
                next[i] = at.advance(Duration::from_nanos(1));
            }
            Begin::Wait(t) => next[i] = at.at(t),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_route_rule_adds_its_own_bucket() {
    let throttle = ThrottleConfig::default()
        .limit(Limit::per_second(100))
        .route(
            RouteRule::new("search", "/search/*")
                .method("GET")
                .limit(Limit::per_second(2)),
        );
    let mut p = Pacer::new(PacerConfig::default().throttle(throttle), 1);
    let empty = HeaderMap::new();
    let counts = admitted_over(
        &mut p,
        10,
        &[
            &|p: &Pacer| p.call_to(&Method::GET, "/search/issues?q=x", &HeaderMap::new()),
            &|p: &Pacer| p.call_to(&Method::GET, "/repos/a/b", &empty),
        ],
    );
    assert_eq!(counts[0], 20, "search: 2/s for 10 s");
    assert_eq!(counts[0] + counts[1], 1000, "both within the global 100/s");
}

#[test]
fn shares_split_one_budget_by_weight() {
    let throttle = ThrottleConfig::default()
        .limit(Limit::per_second(40))
        .share("a", 1)
        .share("b", 3);
    let mut p = Pacer::new(PacerConfig::default().throttle(throttle), 1);
    let make = |name: &'static str| {
        move |p: &Pacer| {
            let mut c = p.call(&Method::GET, &HeaderMap::new());
            p.set_consumer(&mut c, name);
            c
        }
    };
    let (a, b) = (make("a"), make("b"));
    let counts = admitted_over(&mut p, 10, &[&a, &b]);
    // 10/s and 30/s of 40/s: the whole budget used, each share exact to within the few units
    // a share may run ahead.
    assert_eq!(counts[0] + counts[1], 400, "{counts:?}");
    assert!(
        counts[0].abs_diff(100) <= 4 && counts[1].abs_diff(300) <= 4,
        "{counts:?}"
    );
}

#[test]
fn costs_take_several_units_and_a_cost_above_the_burst_is_refused() {
    let throttle = ThrottleConfig::default().limit(Limit::per_second(10).burst(10));
    let mut p = Pacer::new(PacerConfig::default().throttle(throttle), 1);
    let now = start();
    let mut first = p.call(&Method::POST, &HeaderMap::new()).with_cost(6);
    assert_eq!(p.poll_send(&mut first, now), Begin::Send);
    // Until the route is heard from, one request at a time.
    let mut second = p.call(&Method::POST, &HeaderMap::new()).with_cost(6);
    assert_eq!(p.poll_send(&mut second, now), Begin::WaitForPermit);
    let ok = p.on_response(&mut first, now, StatusCode::OK, &HeaderMap::new());
    assert_eq!(ok, Finish::Done);
    // 4 units left; 2 more come back in 200 ms.
    assert_eq!(
        p.poll_send(&mut second, now),
        Begin::Wait(now.mono + Duration::from_millis(200))
    );
    let mut huge = p.call(&Method::POST, &HeaderMap::new()).with_cost(11);
    assert_eq!(
        p.poll_send(&mut huge, now),
        Begin::Reject(Error::CostTooHigh {
            cost: 11,
            capacity: 10
        })
    );
}

#[test]
fn a_graphql_body_reports_its_cost() {
    let mut p = Pacer::new(PacerConfig::default(), 1);
    let now = start();
    let mut call = p.call(&Method::POST, &HeaderMap::new());
    assert_eq!(p.poll_send(&mut call, now), Begin::Send);
    let body = br#"{"data":{},"extensions":{"cost":{"requestedQueryCost":101,"actualQueryCost":46,
        "throttleStatus":{"maximumAvailable":1000.0,"currentlyAvailable":0,"restoreRate":50.0}}}}"#;
    let f = p.on_response_body(&mut call, now, StatusCode::OK, &HeaderMap::new(), body);
    assert_eq!(f, Finish::Done);
    // Nothing available: the next query waits until points are restored (1000 / 50 = 20 s),
    // and the 10 ms every reset is given.
    let mut next = p.call(&Method::POST, &HeaderMap::new());
    assert_eq!(
        p.poll_send(&mut next, now),
        Begin::Wait(now.mono + Duration::from_millis(20_010))
    );
}

#[test]
fn background_work_leaves_room_for_foreground() {
    let throttle = ThrottleConfig::default()
        .limit(Limit::per_second(10))
        .background_share(0.2);
    let mut p = Pacer::new(PacerConfig::default().throttle(throttle), 1);
    let fg = |p: &Pacer| p.call(&Method::GET, &HeaderMap::new());
    let bg = |p: &Pacer| {
        p.call(&Method::GET, &HeaderMap::new())
            .with_priority(Priority::Background)
    };
    // Background alone gets 80 % of the budget.
    assert_eq!(admitted_over(&mut p, 10, &[&bg])[0], 80);
    // With foreground always asking, background gets nothing and foreground everything.
    let mut p = Pacer::new(
        PacerConfig::default().throttle(ThrottleConfig::default().limit(Limit::per_second(10))),
        1,
    );
    let counts = admitted_over(&mut p, 10, &[&fg, &bg]);
    assert_eq!(counts, [100, 0]);
}

#[test]
fn retry_after_pauses_its_route_and_discord_global_pauses_all() {
    let throttle = ThrottleConfig::default()
        .route(RouteRule::new("messages", "/channels/**"))
        .route(RouteRule::new("guilds", "/guilds/**"));
    let mut p = Pacer::new(PacerConfig::default().throttle(throttle), 1);
    let now = start();
    let empty = HeaderMap::new();
    let mut msg = p.call_to(&Method::GET, "/channels/1/messages", &empty);
    assert_eq!(p.poll_send(&mut msg, now), Begin::Send);
    let h = headers(&[("retry-after", "5"), ("x-ratelimit-scope", "user")]);
    assert!(matches!(
        p.on_response(&mut msg, now, StatusCode::TOO_MANY_REQUESTS, &h),
        Finish::RetryAt(_)
    ));
    let mut guild = p.call_to(&Method::GET, "/guilds/2", &empty);
    assert_eq!(
        p.poll_send(&mut guild, now),
        Begin::Send,
        "another route is not paused"
    );
    let h = headers(&[("retry-after", "7"), ("x-ratelimit-global", "true")]);
    assert!(matches!(
        p.on_response(&mut guild, now, StatusCode::TOO_MANY_REQUESTS, &h),
        Finish::RetryAt(_)
    ));
    let mut other = p.call_to(&Method::GET, "/users/@me", &empty);
    assert_eq!(
        p.poll_send(&mut other, now),
        Begin::Wait(now.mono + Duration::from_secs(7)),
        "global"
    );
}

#[test]
fn a_response_without_headers_does_not_erase_what_is_known() {
    let mut p = Pacer::new(PacerConfig::default(), 1);
    let now = start();
    let mut a = p.call(&Method::GET, &HeaderMap::new());
    assert_eq!(p.poll_send(&mut a, now), Begin::Send);
    let h = headers(&[
        ("x-ratelimit-limit", "10"),
        ("x-ratelimit-remaining", "1"),
        ("x-ratelimit-reset", "10"),
    ]);
    assert_eq!(p.on_response(&mut a, now, StatusCode::OK, &h), Finish::Done);
    let mut b = p.call(&Method::GET, &HeaderMap::new());
    let at = send_when_allowed(&mut p, &mut b, now);
    assert_eq!(
        p.on_response(&mut b, at, StatusCode::OK, &HeaderMap::new()),
        Finish::Done
    );
    // The window is used up: the next request waits for its reset (and 10 ms) despite the
    // bare response.
    let mut c = p.call(&Method::GET, &HeaderMap::new());
    assert_eq!(
        p.poll_send(&mut c, at),
        Begin::Wait(now.mono + Duration::from_millis(10_010))
    );
}

#[test]
fn quota_thresholds_and_exhaustion() {
    let quota = QuotaConfig::new(10, Period::Seconds(3600));
    let mut p = Pacer::new(
        PacerConfig::default().throttle(ThrottleConfig::default().quota(quota)),
        1,
    );
    let now = start();
    let mut events = Vec::new();
    for _ in 0..10 {
        let mut c = p.call(&Method::GET, &HeaderMap::new());
        assert_eq!(p.poll_send(&mut c, now), Begin::Send);
        assert_eq!(
            p.on_response(&mut c, now, StatusCode::OK, &HeaderMap::new()),
            Finish::Done
        );
        while let Some(e) = p.poll_event() {
            events.push(e);
        }
    }
    assert_eq!(
        events,
        [
            Event::QuotaThreshold {
                quota: 0,
                fraction: 0.8
            },
            Event::QuotaThreshold {
                quota: 0,
                fraction: 0.95
            }
        ]
    );
    let mut c = p.call(&Method::GET, &HeaderMap::new());
    match p.poll_send(&mut c, now) {
        Begin::Reject(Error::QuotaExhausted {
            resets_in: Some(d), ..
        }) => assert_eq!(d, Duration::from_secs(3600)),
        other => panic!("{other:?}"),
    }
    // Configured to wait instead: the request waits until the reset.
    let quota = QuotaConfig::new(1, Period::Seconds(60)).on_exhausted(OnExhausted::Wait);
    let mut p = Pacer::new(
        PacerConfig::default().throttle(ThrottleConfig::default().quota(quota)),
        1,
    );
    let mut c = p.call(&Method::GET, &HeaderMap::new());
    assert_eq!(p.poll_send(&mut c, now), Begin::Send);
    let ok = p.on_response(&mut c, now, StatusCode::OK, &HeaderMap::new());
    assert_eq!(ok, Finish::Done);
    let mut d = p.call(&Method::GET, &HeaderMap::new());
    assert_eq!(
        p.poll_send(&mut d, now),
        Begin::Wait(now.mono + Duration::from_secs(60))
    );
}

#[test]
fn a_daily_quota_429_by_body_code_is_not_retried() {
    let mut p = Pacer::new(PacerConfig::default().quota_code("DAILY_LIMIT_EXCEEDED"), 1);
    let now = start();
    let mut c = p.call(&Method::GET, &HeaderMap::new());
    assert_eq!(p.poll_send(&mut c, now), Begin::Send);
    let body = br#"{"errors":[{"code":"DAILY_LIMIT_EXCEEDED"}]}"#;
    let f = p.on_response_body(
        &mut c,
        now,
        StatusCode::TOO_MANY_REQUESTS,
        &HeaderMap::new(),
        body,
    );
    assert!(
        matches!(f, Finish::Fail(Error::QuotaExhausted { .. })),
        "{f:?}"
    );
}

/// A hostile server names a new policy on every response (IETF `RateLimit-Policy` with a fresh
/// name each time). The window table stays at its cap and the run keeps its pace: the dropped
/// windows are announced once.
#[test]
fn a_new_policy_name_on_every_response_does_not_grow_the_state() {
    let mut p = Pacer::new(PacerConfig::default(), 1);
    let mut now = start();
    let mut dropped = 0;
    for i in 0..2_000u32 {
        let mut call = p.call(&Method::GET, &HeaderMap::new());
        now = send_when_allowed(&mut p, &mut call, now);
        let policy = format!("\"p{i}\";q=100;w=60");
        let remaining = format!("\"p{i}\";r=99;t=60");
        let h = headers(&[
            ("ratelimit-policy", policy.as_str()),
            ("ratelimit", remaining.as_str()),
        ]);
        let _ = p.on_response(&mut call, now, StatusCode::OK, &h);
        while let Some(e) = p.poll_event() {
            if let Event::WindowDropped { max, name } = e {
                assert_eq!(max, paceline::throttle::MAX_WINDOWS);
                assert_eq!(
                    name.as_deref(),
                    Some("p0"),
                    "the least recently reported goes"
                );
                dropped += 1;
            }
        }
        assert!(p.status(now).windows_tracked <= paceline::throttle::MAX_WINDOWS);
        now = now.advance(Duration::from_millis(10));
    }
    assert_eq!(
        p.status(now).windows_tracked,
        paceline::throttle::MAX_WINDOWS
    );
    assert_eq!(dropped, 1, "announced once");
}

/// Sends `n` requests under `p` at `now` (each answered 200 with no headers); returns how many
/// went before the Pacer refused one.
fn spend(p: &mut Pacer, now: Now, n: u32) -> u32 {
    for i in 0..n {
        let mut call = p.call(&Method::GET, &HeaderMap::new());
        match p.poll_send(&mut call, now) {
            Begin::Send => {
                let _ = p.on_response(&mut call, now, StatusCode::OK, &HeaderMap::new());
            }
            Begin::Reject(Error::QuotaExhausted { .. }) => return i,
            other => panic!("{other:?}"),
        }
    }
    n
}

fn thresholds(p: &mut Pacer) -> Vec<f64> {
    std::iter::from_fn(|| p.poll_event())
        .filter_map(|e| match e {
            Event::QuotaThreshold { fraction, .. } => Some(fraction),
            _ => None,
        })
        .collect()
}

/// Three runs in one day under `20/day`: the second and third start from what the day spent
/// (measured: 20 + 20 + 11 before usage was saved), and the run that starts past 80 % says so.
#[test]
fn a_quota_remembers_what_earlier_runs_spent_that_day() {
    let config = PacerConfig::default()
        .throttle(ThrottleConfig::default().quota(QuotaConfig::new(20, Period::Day)));
    let morning = start();
    let mut first = Pacer::new(config.clone(), 1);
    assert_eq!(spend(&mut first, morning, 17), 17);
    assert_eq!(thresholds(&mut first), [0.8]);
    let saved = serde_json::to_string(&first.quota_usage(morning)).unwrap();

    let noon = morning.advance(Duration::from_secs(3 * 3600));
    let mut second = Pacer::new(config.clone(), 2);
    second.restore_quota_usage(noon, &serde_json::from_str::<Vec<_>>(&saved).unwrap());
    assert_eq!(
        thresholds(&mut second),
        [0.8],
        "restored past 80 %: announced"
    );
    assert_eq!(
        spend(&mut second, noon, 20),
        3,
        "3 of the day's 20 were left"
    );
    let saved = second.quota_usage(noon);
    assert_eq!(saved[0].used, 20);

    // The next day, what was spent yesterday counts for nothing.
    let tomorrow = morning.advance(Duration::from_secs(86_400));
    let mut third = Pacer::new(config.clone(), 3);
    third.restore_quota_usage(tomorrow, &saved);
    assert_eq!(spend(&mut third, tomorrow, 20), 20);

    // A record of another quota is not this one's.
    let mut other = Pacer::new(
        PacerConfig::default()
            .throttle(ThrottleConfig::default().quota(QuotaConfig::new(50, Period::Day))),
        4,
    );
    other.restore_quota_usage(noon, &saved);
    assert_eq!(spend(&mut other, noon, 50), 50);
}

/// A quota of seconds (`100/3600s`) starts with the run that first counted it: the next run
/// keeps that period's end, not one of its own.
#[test]
fn a_restored_quota_of_seconds_keeps_the_first_runs_period() {
    let config = PacerConfig::default()
        .throttle(ThrottleConfig::default().quota(QuotaConfig::new(10, Period::Seconds(3600))));
    let t0 = start();
    let mut first = Pacer::new(config.clone(), 1);
    assert_eq!(spend(&mut first, t0, 10), 10);
    let saved = first.quota_usage(t0);
    let later = t0.advance(Duration::from_secs(1800));
    let mut second = Pacer::new(config.clone(), 2);
    second.restore_quota_usage(later, &saved);
    assert_eq!(spend(&mut second, later, 1), 0, "used up until t0 + 1 h");
    let after = t0.advance(Duration::from_secs(3601));
    assert_eq!(
        spend(&mut second, after, 10),
        10,
        "a fresh period at t0 + 1 h"
    );
}

/// Asks for `path` at `now`; answers with `h` when it goes. Returns when it went.
fn go(p: &mut Pacer, path: &str, now: Now, h: &[(&'static str, &str)]) -> Now {
    let mut call = p.call_to(&Method::GET, path, &HeaderMap::new());
    let at = send_when_allowed(p, &mut call, now);
    let _ = p.on_response(&mut call, at, StatusCode::OK, &headers(h));
    at
}

/// Discord names each route's bucket: with no route configured, a used-up bucket on one path
/// holds back only that path.
#[test]
fn buckets_the_server_names_are_learned_per_path() {
    for learn in [true, false] {
        let mut p = Pacer::new(
            PacerConfig::default().throttle(ThrottleConfig::default().learn_routes(learn)),
            1,
        );
        let t0 = start();
        let slow = [
            ("x-ratelimit-bucket", "slow"),
            ("x-ratelimit-limit", "5"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset-after", "10"),
        ];
        let fast = [
            ("x-ratelimit-bucket", "fast"),
            ("x-ratelimit-limit", "50"),
            ("x-ratelimit-remaining", "49"),
            ("x-ratelimit-reset-after", "1"),
        ];
        go(&mut p, "/channels/1/messages", t0, &slow);
        let first = go(&mut p, "/guilds/2/members", t0, &fast);
        let second = go(&mut p, "/guilds/2/members", first, &fast);
        let waited = second.mono - t0.mono;
        if learn {
            assert!(
                waited < Duration::from_millis(100),
                "held {waited:?} by another bucket"
            );
        } else {
            // One route for everything: the used-up bucket holds every path.
            assert!(waited >= Duration::from_secs(10), "{waited:?}");
        }
    }
}

/// Two paths answering with unnamed `X-RateLimit-*` windows of their own (different limits):
/// the slow one's exhaustion does not hold back the fast one (measured before: p50 10 s
/// instead of 0.07 s).
#[test]
fn unnamed_windows_are_attributed_to_the_path_that_reported_them() {
    let mut p = Pacer::new(PacerConfig::default(), 1);
    let t0 = start();
    let slow = [
        ("x-ratelimit-limit", "5"),
        ("x-ratelimit-remaining", "0"),
        ("x-ratelimit-reset", "1800000010"),
    ];
    go(&mut p, "/slow", t0, &slow);
    // The fast path's first request draws from the unnamed windows (they may be shared): it
    // waits for the slow one's reset, once.
    let fast = [
        ("x-ratelimit-limit", "100"),
        ("x-ratelimit-remaining", "99"),
        ("x-ratelimit-reset", "1800000070"),
    ];
    let first = go(&mut p, "/fast", t0, &fast);
    assert!(first.mono - t0.mono >= Duration::from_secs(9));
    // Its counter was full: its own window. The slow path is used up again; the fast one goes.
    let again = go(&mut p, "/slow", first, &slow);
    let fast2 = [
        ("x-ratelimit-limit", "100"),
        ("x-ratelimit-remaining", "98"),
        ("x-ratelimit-reset", "1800000070"),
    ];
    let next = go(&mut p, "/fast", again, &fast2);
    assert!(
        next.mono - again.mono < Duration::from_millis(100),
        "{:?}",
        next.mono - again.mono
    );
}

/// Two paths on one unnamed counter (one budget per API key): the second path's first report
/// shows the counter already used, with the same limit and reset: they share it, and when it
/// is used up both wait.
#[test]
fn unnamed_counters_that_move_together_are_shared() {
    let mut p = Pacer::new(PacerConfig::default(), 1);
    let t0 = start();
    let h = |left: &'static str| {
        [
            ("x-ratelimit-limit", "60"),
            ("x-ratelimit-remaining", left),
            ("x-ratelimit-reset", "1800000030"),
        ]
    };
    go(&mut p, "/a", t0, &h("2"));
    go(&mut p, "/b", t0, &h("1"));
    go(&mut p, "/a", t0, &h("0"));
    // Used up: /b waits for the reset, though its own last report said 1 left.
    let b = go(&mut p, "/b", t0, &h("59"));
    assert!(
        b.mono - t0.mono >= Duration::from_secs(29),
        "{:?}",
        b.mono - t0.mono
    );
}

/// Requests to ever new paths: at most `MAX_LEARNED_ROUTES` are kept, the least recently
/// used forgotten first, told once.
#[test]
fn learned_routes_are_bounded() {
    let mut p = Pacer::new(PacerConfig::default(), 1);
    let mut now = start();
    let mut dropped = 0;
    for i in 0..500 {
        now = go(&mut p, &format!("/users/{i}"), now, &[]);
        dropped += std::iter::from_fn(|| p.poll_event())
            .filter(|e| {
                matches!(e, Event::RouteDropped { max } if *max == paceline::throttle::MAX_LEARNED_ROUTES)
            })
            .count();
    }
    assert_eq!(dropped, 1);
}

/// A GraphQL throttle in a 200 that says how long to wait for its cost (Shopify's `THROTTLED`,
/// 118 points left) is waited out as asked: it is no hidden limit, and adaptive pacing does
/// not start.
#[test]
fn a_throttled_graphql_body_with_its_wait_does_not_start_discovery() {
    let mut p = Pacer::new(PacerConfig::default(), 1);
    let now = start();
    let mut call = p.call_to(&Method::POST, "/admin/api/graphql.json", &HeaderMap::new());
    call.mark_retry_safe();
    assert_eq!(p.poll_send(&mut call, now), Begin::Send);
    let body = br#"{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}],
        "extensions":{"cost":{"requestedQueryCost":202,"actualQueryCost":null,
        "throttleStatus":{"maximumAvailable":1000.0,"currentlyAvailable":118,"restoreRate":50.0}}}}"#;
    let f = p.on_response_body(&mut call, now, StatusCode::OK, &HeaderMap::new(), body);
    assert!(matches!(f, Finish::RetryAt(_)), "{f:?}");
    let adapted = std::iter::from_fn(|| p.poll_event()).any(|e| matches!(e, Event::Adapted { .. }));
    assert!(
        !adapted,
        "a wait the server gave is not a limit to discover"
    );
}
