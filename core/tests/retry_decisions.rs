//! The retry machine's decision sequences in virtual time, snapshotted, and its properties.

use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use paceline::retry::{Jitter, RetryPolicy, TransportError, TransportKind};
use paceline::{Begin, Error, Finish, Now, Pacer, PacerConfig};
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};

/// What the fake server does on one attempt.
#[derive(Debug, Clone)]
enum Reply {
    Status(u16, Vec<(&'static str, String)>),
    Transport(TransportError),
}

fn status(code: u16) -> Reply {
    Reply::Status(code, Vec::new())
}

fn with(code: u16, headers: &[(&'static str, &str)]) -> Reply {
    Reply::Status(
        code,
        headers.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    )
}

fn header_map(pairs: &[(&'static str, String)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.append(HeaderName::from_static(k), v);
        }
    }
    h
}

/// Runs one logical request against `replies` in virtual time; returns the log.
fn run(
    policy: RetryPolicy,
    method: Method,
    req_headers: &[(&'static str, String)],
    replies: &[Reply],
) -> String {
    let start = Instant::now();
    let wall0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut now = Now::new(start, wall0);
    let mut pacer = Pacer::new(PacerConfig::default().retry(policy), 1);
    let mut call = pacer.call(&method, &header_map(req_headers));
    let mut log = String::new();
    let t = |i: Instant| i.duration_since(start).as_secs_f64();
    let mut replies = replies.iter();
    for _ in 0..50 {
        match pacer.poll_send(&mut call, now) {
            Begin::Send => {}
            Begin::Wait(until) => {
                writeln!(log, "{:>8.3}s wait until {:.3}s", t(now.mono), t(until)).unwrap();
                now = now.at(until);
                continue;
            }
            Begin::Reject(e) => {
                writeln!(log, "{:>8.3}s reject: {e}", t(now.mono)).unwrap();
                break;
            }
            Begin::WaitForPermit => unreachable!("no concurrency limit configured"),
            Begin::Reserve(_) => unreachable!("no shared budget configured"),
        }
        let reply = replies.next().expect("script long enough");
        let finish = match reply {
            Reply::Status(code, headers) => {
                let s = StatusCode::from_u16(*code).unwrap();
                let f = pacer.on_response(&mut call, now, s, &header_map(headers));
                write!(
                    log,
                    "{:>8.3}s attempt {} -> {code}: ",
                    t(now.mono),
                    call.attempts()
                )
                .unwrap();
                f
            }
            Reply::Transport(e) => {
                let f = pacer.on_transport_error(&mut call, now, *e);
                write!(
                    log,
                    "{:>8.3}s attempt {} -> {:?} (sent: {}): ",
                    t(now.mono),
                    call.attempts(),
                    e.kind,
                    e.sent
                )
                .unwrap();
                f
            }
        };
        let done = match finish {
            Finish::Done => {
                writeln!(log, "done").unwrap();
                true
            }
            Finish::RetryAt(at) => {
                writeln!(log, "retry at {:.3}s", t(at)).unwrap();
                now = now.at(at);
                false
            }
            Finish::Fail(e) => {
                writeln!(log, "fail: {e}").unwrap();
                true
            }
        };
        while let Some(ev) = pacer.poll_event() {
            writeln!(log, "          event {ev:?}").unwrap();
        }
        if done {
            break;
        }
    }
    log
}

fn policy() -> RetryPolicy {
    RetryPolicy::default()
        .base(Duration::from_millis(500))
        .jitter(Jitter::Full)
}

#[test]
fn snapshot_429_retry_after_seconds() {
    let log = run(
        policy(),
        Method::GET,
        &[],
        &[with(429, &[("retry-after", "3")]), status(200)],
    );
    insta::assert_snapshot!(log);
}

#[test]
fn snapshot_429_retry_after_http_date() {
    // Received at 1_700_000_000 (Tue, 14 Nov 2023 22:13:20 GMT); asked until 22:13:25.
    let log = run(
        policy(),
        Method::GET,
        &[],
        &[
            with(
                429,
                &[
                    ("date", "Tue, 14 Nov 2023 22:13:20 GMT"),
                    ("retry-after", "Tue, 14 Nov 2023 22:13:25 GMT"),
                ],
            ),
            status(200),
        ],
    );
    insta::assert_snapshot!(log);
}

#[test]
fn snapshot_429_without_retry_after_backs_off() {
    let log = run(
        policy(),
        Method::GET,
        &[],
        &[status(429), status(429), status(200)],
    );
    insta::assert_snapshot!(log);
}

/// 429s with no `Retry-After` while the rate is being discovered are the search's cost, not
/// the request's failures: six in a row then a 200 is done (4 attempts allowed); a server
/// that refuses everything still ends the request, after 4 + 2 × 4 attempts.
#[test]
fn discovery_429s_do_not_use_up_the_attempts_but_are_bounded() {
    let mut replies = vec![status(429); 6];
    replies.push(status(200));
    let log = run(policy(), Method::GET, &[], &replies);
    assert!(log.contains("attempt 7 -> 200: done"), "{log}");
    let log = run(policy(), Method::GET, &[], &vec![status(429); 20]);
    assert!(log.contains("attempt 12 -> 429: fail"), "{log}");
    assert!(!log.contains("attempt 13"), "{log}");
    // A 429 that names its wait is not the search's: it counts, as every other failure.
    let log = run(
        policy(),
        Method::GET,
        &[],
        &vec![with(429, &[("retry-after", "1")]); 10],
    );
    assert!(log.contains("attempt 4 -> 429: fail"), "{log}");
}

#[test]
fn snapshot_three_503_then_200() {
    let log = run(
        policy(),
        Method::GET,
        &[],
        &[status(503), status(503), status(503), status(200)],
    );
    insta::assert_snapshot!(log);
}

#[test]
fn snapshot_post_without_key_timed_out_after_sending() {
    let log = run(
        policy(),
        Method::POST,
        &[],
        &[
            Reply::Transport(TransportError::after_send(TransportKind::Timeout)),
            status(200),
        ],
    );
    insta::assert_snapshot!(log);
}

#[test]
fn post_with_key_or_before_send_is_retried() {
    let key = [("idempotency-key", "k-1".to_string())];
    let log = run(
        policy(),
        Method::POST,
        &key,
        &[
            Reply::Transport(TransportError::after_send(TransportKind::Timeout)),
            status(200),
        ],
    );
    assert!(log.contains("done"), "{log}");
    let log = run(
        policy(),
        Method::POST,
        &[],
        &[
            Reply::Transport(TransportError::before_send(TransportKind::Connect)),
            status(200),
        ],
    );
    assert!(log.contains("done"), "{log}");
}

#[test]
fn ten_year_retry_after_is_a_typed_error() {
    let mut pacer = Pacer::new(PacerConfig::default(), 1);
    let now = Now::new(Instant::now(), SystemTime::now());
    let mut call = pacer.call(&Method::GET, &HeaderMap::new());
    assert_eq!(pacer.poll_send(&mut call, now), Begin::Send);
    let h = header_map(&[("retry-after", (10 * 365 * 86_400).to_string())]);
    match pacer.on_response(&mut call, now, StatusCode::TOO_MANY_REQUESTS, &h) {
        Finish::Fail(Error::ServerAskedTooLong { asked, max }) => {
            assert_eq!(asked, Duration::from_secs(10 * 365 * 86_400));
            assert_eq!(max, Duration::from_secs(300));
        }
        other => panic!("{other:?}"),
    }
    // The next request is refused too, rather than sleeping ten years...
    let mut next = pacer.call(&Method::GET, &HeaderMap::new());
    assert!(matches!(
        pacer.poll_send(&mut next, now),
        Begin::Reject(Error::ServerAskedTooLong { .. })
    ));
    // ...but only for the longest wait allowed: then requests probe again, so one hostile
    // value cannot refuse every request for ten years.
    let later = now.advance(Duration::from_secs(301));
    assert_eq!(pacer.poll_send(&mut next, later), Begin::Send);
}

#[test]
fn daily_quota_429_is_not_retried() {
    let log = run(
        policy(),
        Method::GET,
        &[],
        &[
            with(
                429,
                &[
                    ("ratelimit-policy", "\"day\";q=1000;w=86400"),
                    ("ratelimit", "\"day\";r=0;t=36000"),
                ],
            ),
            status(200),
        ],
    );
    assert!(
        log.contains("fail: quota exhausted, resets in 36000 s"),
        "{log}"
    );
}

#[test]
fn exhausted_window_on_success_pauses_the_next_request() {
    let mut pacer = Pacer::new(PacerConfig::default(), 1);
    let now = Now::new(Instant::now(), SystemTime::now());
    let mut call = pacer.call(&Method::GET, &HeaderMap::new());
    assert_eq!(pacer.poll_send(&mut call, now), Begin::Send);
    let h = header_map(&[
        ("x-ratelimit-remaining", "0".into()),
        ("x-ratelimit-reset", "12".into()),
    ]);
    assert_eq!(
        pacer.on_response(&mut call, now, StatusCode::OK, &h),
        Finish::Done
    );
    let mut next = pacer.call(&Method::GET, &HeaderMap::new());
    // The reset, and 10 ms: arriving on the boundary a hair early would be a 429.
    let reset = Duration::from_secs(12) + Duration::from_millis(10);
    assert_eq!(
        pacer.poll_send(&mut next, now),
        Begin::Wait(now.mono + reset)
    );
    let later = now.advance(reset);
    assert_eq!(pacer.poll_send(&mut next, later), Begin::Send);
}

#[test]
fn retry_budget_stops_an_outage_from_multiplying() {
    let budget = paceline::retry::RetryBudget {
        capacity: 10,
        retry_cost: 5,
        timeout_cost: 10,
        success_refund: 1,
        ..Default::default()
    };
    let policy = policy().budget(budget);
    let mut pacer = Pacer::new(PacerConfig::default().retry(policy), 1);
    let mut now = Now::new(Instant::now(), SystemTime::now());
    let mut retried = 0;
    let mut refused = 0;
    for _ in 0..5 {
        let mut call = pacer.call(&Method::GET, &HeaderMap::new());
        assert_eq!(pacer.poll_send(&mut call, now), Begin::Send);
        match pacer.on_response(
            &mut call,
            now,
            StatusCode::INTERNAL_SERVER_ERROR,
            &HeaderMap::new(),
        ) {
            Finish::RetryAt(at) => {
                retried += 1;
                now = now.at(at);
            }
            Finish::Fail(Error::RetryBudgetExhausted { .. }) => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((retried, refused), (2, 3));
}

/// The same outage under the other two budgets: Finagle's ratio (here 20 % of requests and no
/// floor) lets one retry through per five requests; gRPC's throttling stops after four.
#[test]
fn ratio_and_grpc_budgets_through_the_pacer() {
    let outage = |budget: paceline::retry::RetryBudget, calls: usize| {
        let mut pacer = Pacer::new(PacerConfig::default().retry(policy().budget(budget)), 1);
        let now = Now::new(Instant::now(), SystemTime::now());
        let mut retried = 0;
        for _ in 0..calls {
            let mut call = pacer.call(&Method::GET, &HeaderMap::new());
            assert_eq!(pacer.poll_send(&mut call, now), Begin::Send);
            let status = StatusCode::INTERNAL_SERVER_ERROR;
            match pacer.on_response(&mut call, now, status, &HeaderMap::new()) {
                Finish::RetryAt(_) => retried += 1,
                Finish::Fail(Error::RetryBudgetExhausted { .. }) => {}
                other => panic!("{other:?}"),
            }
        }
        retried
    };
    let ratio = paceline::retry::RetryBudget {
        strategy: paceline::retry::BudgetStrategy::Ratio {
            ratio: 0.2,
            window_s: 10.0,
            min_per_s: 0.0,
        },
        ..Default::default()
    };
    assert_eq!(outage(ratio, 50), 10);
    assert_eq!(outage(paceline::retry::RetryBudget::grpc(), 50), 4);
}

/// One random outcome for the properties.
#[derive(Debug, Clone)]
struct Outcome(Reply);

impl Arbitrary for Outcome {
    fn arbitrary(g: &mut Gen) -> Self {
        let codes = [200, 201, 404, 403, 429, 429, 500, 502, 503, 501];
        let retry_after = [
            "0",
            "1",
            "30",
            "299",
            "301",
            "-5",
            "NaN",
            "1e300",
            "18446744073709551615",
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "99999999999999999999999",
        ];
        let kinds = [
            TransportKind::Connect,
            TransportKind::Timeout,
            TransportKind::Reset,
            TransportKind::Other,
        ];
        Outcome(if u8::arbitrary(g) % 4 == 0 {
            let kind = *g.choose(&kinds).unwrap();
            Reply::Transport(TransportError {
                kind,
                sent: bool::arbitrary(g),
            })
        } else {
            let mut headers = Vec::new();
            if bool::arbitrary(g) {
                headers.push(("retry-after", g.choose(&retry_after).unwrap().to_string()));
            }
            if bool::arbitrary(g) {
                headers.push(("x-ratelimit-remaining", (u8::arbitrary(g) % 3).to_string()));
                headers.push((
                    "x-ratelimit-reset",
                    g.choose(&retry_after).unwrap().to_string(),
                ));
            }
            Reply::Status(*g.choose(&codes).unwrap(), headers)
        })
    }
}

/// Drives a request through random outcomes; calls `check` on every decision with the time it
/// was made. Returns false if a check failed, or if the Pacer makes the request wait longer
/// than `max_wait` before an attempt. Adaptive discovery is off: after a few unexplained 429s
/// it paces sends slower than one a second on purpose (a client-side rate, which `max_wait`
/// does not bound: it bounds the waits a server asks for); its own tests are in `throttle.rs`.
fn drive(
    method: Method,
    outcomes: &[Outcome],
    max_wait: Duration,
    mut check: impl FnMut(Instant, &Reply, &Finish) -> bool,
) -> bool {
    let policy = RetryPolicy::default().max_wait(max_wait).max_attempts(20);
    let mut throttle = paceline::throttle::ThrottleConfig::default();
    throttle.adaptive.enabled = false;
    let mut pacer = Pacer::new(PacerConfig::default().retry(policy).throttle(throttle), 3);
    let mut now = Now::new(
        Instant::now(),
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    );
    let mut call = pacer.call(&method, &HeaderMap::new());
    let mut outcomes = outcomes.iter();
    for _ in 0..100 {
        match pacer.poll_send(&mut call, now) {
            Begin::Send => {}
            Begin::Wait(t) => {
                if t.duration_since(now.mono) > max_wait {
                    return false;
                }
                now = now.at(t);
                continue;
            }
            Begin::Reject(_) => return true,
            Begin::WaitForPermit | Begin::Reserve(_) => return false,
        }
        let Some(Outcome(reply)) = outcomes.next() else {
            return true;
        };
        let finish = match reply {
            Reply::Status(code, h) => pacer.on_response(
                &mut call,
                now,
                StatusCode::from_u16(*code).unwrap(),
                &header_map(h),
            ),
            Reply::Transport(e) => pacer.on_transport_error(&mut call, now, *e),
        };
        if !check(now.mono, reply, &finish) {
            return false;
        }
        match finish {
            Finish::RetryAt(t) => now = now.at(t),
            _ => return true,
        }
    }
    true
}

#[test]
fn prop_waits_never_exceed_the_configured_max() {
    fn prop(outcomes: Vec<Outcome>, max_s: u16) -> TestResult {
        let max_wait = Duration::from_secs(u64::from(max_s % 600) + 1);
        TestResult::from_bool(drive(
            Method::GET,
            &outcomes,
            max_wait,
            |now, _, f| match f {
                Finish::RetryAt(t) => t.duration_since(now) <= max_wait,
                _ => true,
            },
        ))
    }
    QuickCheck::new()
        .tests(1000)
        .quickcheck(prop as fn(Vec<Outcome>, u16) -> TestResult);
}

#[test]
fn prop_non_idempotent_without_key_never_retried_after_sent() {
    fn prop(outcomes: Vec<Outcome>) -> bool {
        drive(
            Method::POST,
            &outcomes,
            Duration::from_secs(300),
            |_, reply, f| {
                let sent = match reply {
                    Reply::Status(..) => true,
                    Reply::Transport(e) => e.sent,
                };
                !(sent && matches!(f, Finish::RetryAt(_)))
            },
        )
    }
    QuickCheck::new()
        .tests(1000)
        .quickcheck(prop as fn(Vec<Outcome>) -> bool);
}

#[test]
fn a_transport_failure_gives_the_concurrency_permit_back() {
    let throttle = paceline::throttle::ThrottleConfig::default().concurrency(1);
    let policy = RetryPolicy::default().max_attempts(1);
    let mut pacer = Pacer::new(PacerConfig::default().retry(policy).throttle(throttle), 1);
    let now = Now::new(Instant::now(), SystemTime::now());
    let mut first = pacer.call(&Method::GET, &HeaderMap::new());
    let mut second = pacer.call(&Method::GET, &HeaderMap::new());
    assert_eq!(pacer.poll_send(&mut first, now), Begin::Send);
    assert_eq!(pacer.poll_send(&mut second, now), Begin::WaitForPermit);
    let failed = TransportError::after_send(TransportKind::Reset);
    assert!(matches!(
        pacer.on_transport_error(&mut first, now, failed),
        Finish::Fail(_)
    ));
    assert_eq!(pacer.poll_send(&mut second, now), Begin::Send);
}

#[test]
fn a_fifty_year_reset_is_refused_not_waited_for() {
    let mut pacer = Pacer::new(PacerConfig::default(), 1);
    let now = Now::new(
        Instant::now(),
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    );
    let mut call = pacer.call(&Method::GET, &HeaderMap::new());
    assert_eq!(pacer.poll_send(&mut call, now), Begin::Send);
    let h = header_map(&[
        ("x-ratelimit-remaining", "0".into()),
        (
            "x-ratelimit-reset",
            (1_700_000_000u64 + 50 * 365 * 86_400).to_string(),
        ),
    ]);
    assert_eq!(
        pacer.on_response(&mut call, now, StatusCode::OK, &h),
        Finish::Done
    );
    // No window is 50 years long: the reset is refused with a warning (not taken at face
    // value), and the used-up window is treated as one whose reset is unknown.
    let mut warned = false;
    while let Some(e) = pacer.poll_event() {
        if let paceline::Event::HeaderWarning(w) = e {
            warned |= w.kind == paceline::headers::WarningKind::Implausible;
        }
    }
    assert!(warned, "an implausible-reset warning");
    assert!(pacer.last_signal().reset_in.is_none());
    let mut next = pacer.call(&Method::GET, &HeaderMap::new());
    match pacer.poll_send(&mut next, now) {
        Begin::Send => {}
        Begin::Wait(at) => assert!(at <= now.mono + Duration::from_secs(2), "{at:?}"),
        other => panic!("{other:?}"),
    }
}
