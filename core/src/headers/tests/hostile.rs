//! Hostile and implausible input: garbage, negatives, repeats and out-of-range values warn
//! and never panic, overflow or grow the signal without bound (with fuzz regressions).

use super::*;

#[test]
fn repeated_retry_after_most_restrictive_wins() {
    let s = parse(
        429,
        &[
            ("retry-after", "soon"),
            ("retry-after", "7"),
            ("retry-after", "9"),
        ],
        at(0),
    );
    assert_eq!(s.retry_after, Some(Duration::from_secs(9)));
    assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
    assert_eq!(
        s.warnings[1].kind,
        WarningKind::Assumed(Assumption::MostRestrictive)
    );
}

#[test]
fn hostile_values_warn_and_never_explode() {
    let digits = "9".repeat(10_240);
    let s = parse(
        429,
        &[
            ("retry-after", "-5"),
            ("x-ratelimit-limit", "NaN"),
            ("x-ratelimit-remaining", "-1"),
            ("x-ratelimit-reset", "1e300"),
            ("x-ratelimit-used", &digits),
            ("date", "yesterday"),
        ],
        at(1_700_000_000),
    );
    assert_eq!(s.retry_after, None);
    // A negative remaining is nothing left (with a warning); the rest is refused.
    assert_eq!((s.limit, s.remaining, s.reset_in), (None, Some(0), None));
    assert_eq!(s.used, None, "20+ digits are refused, not saturated");
    assert_eq!(s.warnings.len(), 6, "{:?}", s.warnings);
    let kinds: Vec<_> = s
        .warnings
        .iter()
        .map(|w| (w.header.as_str(), w.kind))
        .collect();
    assert!(kinds.contains(&(
        "x-ratelimit-remaining",
        WarningKind::Assumed(Assumption::NegativeRemaining)
    )));
    assert!(kinds.contains(&("x-ratelimit-used", WarningKind::Implausible)));
    assert!(s.warnings.iter().all(|w| w.value.len() <= 64));
}

#[test]
fn implausible_resets_and_counts_are_refused() {
    // A reset 100 years ahead (epoch seconds), u64::MAX (epoch milliseconds), a delta of
    // 500 days: none is a window any dialect defines.
    for reset in ["4855000000", &u64::MAX.to_string(), "43200000"] {
        let s = parse(
            429,
            &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", reset)],
            at(1_700_000_000),
        );
        assert_eq!(s.reset_in, None, "{reset}");
        assert_eq!(s.remaining, Some(0));
        assert_eq!(s.must_wait(), Duration::ZERO, "{reset}");
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert_eq!(s.warnings[0].kind, WarningKind::Implausible);
    }
    // 399 days is still believed (a yearly quota).
    let s = parse(
        200,
        &[
            ("ratelimit-remaining", "0"),
            ("ratelimit-reset", "34473600"),
        ],
        at(1_700_000_000),
    );
    assert_eq!(s.reset_in, Some(Duration::from_secs(399 * 86_400)));
    // 2^53 is a count; one more is not.
    let s = parse(
        200,
        &[
            ("x-ratelimit-limit", "9007199254740993"),
            ("x-ratelimit-remaining", "9007199254740992"),
        ],
        at(0),
    );
    assert_eq!((s.limit, s.remaining), (None, Some(1 << 53)));
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    // A structured reset past the horizon too.
    let s = parse(429, &[("ratelimit", "\"d\";r=0;t=999999999999")], at(0));
    assert_eq!(s.reset_in, None);
    assert_eq!(s.warnings[0].kind, WarningKind::Implausible);
    // Retry-After is not refused here: a wait past the caller's maximum is the retry
    // policy's typed error (`RetryPolicy::max_wait`).
    let s = parse(429, &[("retry-after", &u64::MAX.to_string())], at(0));
    assert_eq!(s.retry_after, Some(Duration::from_secs(u64::MAX)));
}

#[test]
fn remaining_above_limit_is_clamped() {
    let s = parse(
        200,
        &[("x-ratelimit-limit", "10"), ("x-ratelimit-remaining", "50")],
        at(0),
    );
    assert_eq!(s.remaining, Some(10));
    assert_eq!(s.warnings[0].kind, WarningKind::Inconsistent);
}

#[test]
fn no_headers_is_empty() {
    let s = parse(200, &[], at(0));
    assert!(s.is_empty());
    assert_eq!(s.must_wait(), Duration::ZERO);
}

/// Arbitrary header names and values (valid as HTTP tokens/values) never panic, and waits
/// saturate instead of overflowing.
#[test]
fn prop_any_headers_never_panic() {
    fn prop(pairs: Vec<(u8, Vec<u8>)>, status: u16, now: u32) -> TestResult {
        const NAMES: &[&str] = &[
            "retry-after",
            "date",
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
            "x-ratelimit-reset-after",
            "x-ratelimit-used",
            "x-rate-limit-reset",
            "ratelimit",
            "ratelimit-policy",
            "ratelimit-reset",
            "ratelimit-limit",
            "x-shopify-shop-api-call-limit",
            "sforce-limit-info",
            "stripe-should-retry",
            "x-ratelimit-global",
            "x-ratelimit-bucket",
        ];
        let Ok(status) = StatusCode::from_u16(100 + status % 500) else {
            return TestResult::discard();
        };
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            if let Ok(v) = HeaderValue::from_bytes(&v) {
                h.append(NAMES[n as usize % NAMES.len()], v);
            }
        }
        let s = SignalParser::new().parse(status, &h, at(u64::from(now)));
        let _ = s.must_wait();
        let _ = crate::retry::classify(&s);
        TestResult::passed()
    }
    QuickCheck::new()
        .tests(2000)
        .quickcheck(prop as fn(Vec<(u8, Vec<u8>)>, u16, u32) -> TestResult);
}

/// Values a server may send in a rate-limit field, good and bad.
fn value_of(kind: u8, n: i64, junk: &[u8]) -> Vec<u8> {
    match kind % 10 {
        0 => n.to_string().into_bytes(),
        1 => format!("{}.{}", n, n.unsigned_abs() % 1000).into_bytes(),
        2 => format!("{}ms", n.unsigned_abs()).into_bytes(),
        3 => format!("{}m{}s", n.unsigned_abs() % 1000, n.unsigned_abs() % 60).into_bytes(),
        4 => format!("2023-11-14T22:{:02}:{:02}Z", n.unsigned_abs() % 60, n % 61).into_bytes(),
        5 => "Tue, 14 Nov 2023 22:13:50 GMT".into(),
        6 => format!("Microsoft.Compute/Get3Min;{n}").into_bytes(),
        7 => format!("\"p\";r={n};t={n}, \"q\";q={n};w={n}").into_bytes(),
        8 => format!("{n}, {}, {n};w={}", n / 7, n % 100).into_bytes(),
        _ => junk.to_vec(),
    }
}

// Whatever the new shapes carry, what comes out is bounded: no count beyond 2^53, no reset
// beyond 400 days, a bounded number of policies, a finite wait.
#[test]
fn prop_prefixed_shapes_are_bounded() {
    fn prop(fields: Vec<(u8, u8, i64, Vec<u8>)>, status: u16) -> TestResult {
        const NAMES: &[&str] = &[
            "x-sib-ratelimit-remaining",
            "x-acme-ratelimit-limit",
            "x-acme-ratelimit-reset",
            "acme-rate-limit-remaining-day",
            "x-ratelimit-limit-requests",
            "x-ratelimit-remaining-tokens",
            "x-ratelimit-reset-tokens",
            "x-rate-limit-time-reset-ms",
            "x-rate-limit-requests-left",
            "x-hubspot-ratelimit-daily",
            "x-hubspot-ratelimit-interval-milliseconds",
            "anthropic-ratelimit-requests-reset",
            "x-ratelimit-next",
            "beta-ratelimit",
            "beta-ratelimit-policy",
            "acme-ratelimit",
            "retry-after-ms",
            "x-ms-retry-after-ms",
            "acme-retry-after",
            "backoff",
            "x-sentry-rate-limits",
            "x-ms-ratelimit-remaining-resource",
            "x-gorgias-account-api-call-limit",
            "x-rate-limit",
            "retry-after",
            "x-ratelimit-remaining",
            "x-ratelimit-limit",
            "x-ratelimit-reset",
            "x-ratelimit-policy",
            "x-ratelimit-usage",
            "x-readratelimit-limit",
            "x-readratelimit-usage",
            "ratelimit-policy",
            "x-daylimit-remaining",
            "x-contentful-ratelimit-reset",
            "x-ai-ratelimit-remaining-a",
        ];
        let Ok(status) = StatusCode::from_u16(100 + status % 500) else {
            return TestResult::discard();
        };
        let mut h = HeaderMap::new();
        for (name, kind, n, junk) in &fields {
            let name = NAMES[usize::from(*name) % NAMES.len()];
            if let Ok(v) = HeaderValue::from_bytes(&value_of(*kind, *n, junk)) {
                h.append(name, v);
            }
        }
        let s = SignalParser::new().parse(status, &h, at(1_700_000_000));
        let counts = [s.limit, s.remaining, s.used]
            .into_iter()
            .chain(s.policies.iter().flat_map(|p| [p.limit, p.remaining]));
        let resets = std::iter::once(s.reset_in).chain(s.policies.iter().map(|p| p.reset_in));
        let ok = counts.flatten().all(|c| c <= MAX_COUNT)
            && resets.flatten().all(|r| r <= MAX_RESET)
            && s.policies.len() <= 40
            && s.must_wait().as_secs_f64().is_finite();
        if !ok {
            return TestResult::error(format!("{s:?}"));
        }
        TestResult::passed()
    }
    QuickCheck::new()
        .tests(2000)
        .quickcheck(prop as fn(Vec<(u8, u8, i64, Vec<u8>)>, u16) -> TestResult);
}

// A negative remaining is nothing left (with a warning), a non-negative one is itself; two
// lines give the smaller.
#[test]
fn prop_remaining_clamped_and_most_restrictive() {
    fn prop(a: i32, b: Option<i32>) -> bool {
        let (a_s, b_s) = (a.to_string(), b.map(|b| b.to_string()));
        let mut pairs = vec![("x-ratelimit-remaining", a_s.as_str())];
        if let Some(b) = &b_s {
            pairs.push(("x-ratelimit-remaining", b.as_str()));
        }
        let s = parse(429, &pairs, at(0));
        let clamp = |x: i32| u64::try_from(x.max(0)).unwrap();
        let want = b.map_or(clamp(a), |b| clamp(a).min(clamp(b)));
        let negatives = usize::from(a < 0) + b.map_or(0, |b| usize::from(b < 0));
        let clamped = s
            .warnings
            .iter()
            .filter(|w| w.kind == WarningKind::Assumed(Assumption::NegativeRemaining))
            .count();
        s.remaining == Some(want) && clamped == negatives
    }
    QuickCheck::new()
        .tests(1000)
        .quickcheck(prop as fn(i32, Option<i32>) -> bool);
}

// Found by the `signal` fuzz target: a `Reset-After` beyond 400 days was taken as the reset.
// Windows (`w=`) that long are refused too.
#[test]
fn fuzz_regression_reset_after_and_windows_are_bounded() {
    let s = parse(
        429,
        &[
            ("x-ratelimit-reset-after", "900719925474"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-limit", "10;w=99999999999"),
        ],
        at(1_700_000_000),
    );
    assert_eq!((s.reset_in, s.window), (None, None), "{s:?}");
    assert_eq!(s.limit, Some(10));
    let kinds: Vec<_> = s.warnings.iter().map(|w| w.kind).collect();
    assert_eq!(kinds, [WarningKind::Implausible, WarningKind::Implausible]);
    let s = parse(
        429,
        &[("ratelimit-policy", "\"d\";q=5;w=99999999999")],
        at(0),
    );
    assert_eq!(s.policies[0].window, None);
}
