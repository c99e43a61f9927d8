//! Dialect tests from each vendor's documented examples, and hostile input.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use quickcheck::{QuickCheck, TestResult};

use super::*;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn parse(status: u16, pairs: &[(&str, &str)], now: SystemTime) -> Signal {
    SignalParser::new().parse(StatusCode::from_u16(status).unwrap(), &headers(pairs), now)
}

// https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
// ("Checking the status of your rate limit": the example response headers).
#[test]
fn github_documented_example() {
    let s = parse(
        200,
        &[
            ("x-ratelimit-limit", "60"),
            ("x-ratelimit-remaining", "56"),
            ("x-ratelimit-used", "4"),
            ("x-ratelimit-reset", "1372700873"),
            ("x-ratelimit-resource", "core"),
        ],
        at(1_372_700_000),
    );
    assert_eq!(
        (s.limit, s.remaining, s.used),
        (Some(60), Some(56), Some(4))
    );
    assert_eq!(s.reset_in, Some(Duration::from_secs(873)));
    assert_eq!(s.bucket.as_deref(), Some("core"));
    assert_eq!(s.must_wait(), Duration::ZERO);
    assert!(!s.quota_exhausted);
    assert!(s.warnings.is_empty());
}

// GitHub: primary limit exhausted answers 403 with remaining 0; the hourly window is a rate
// limit, not a quota.
#[test]
fn github_primary_limit_403() {
    let s = parse(
        403,
        &[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1372700873"),
        ],
        at(1_372_700_000),
    );
    assert_eq!(s.must_wait(), Duration::from_secs(873));
    assert!(!s.quota_exhausted);
    assert_eq!(crate::retry::classify(&s), crate::retry::Class::Throttled);
}

// https://discord.com/developers/docs/topics/rate-limits ("Exceeding A Rate Limit" example).
#[test]
fn discord_documented_429() {
    let s = parse(
        429,
        &[
            ("retry-after", "65"),
            ("x-ratelimit-limit", "10"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1470173023.123"),
            ("x-ratelimit-reset-after", "64.57"),
            ("x-ratelimit-bucket", "abcd1234"),
            ("x-ratelimit-scope", "user"),
        ],
        at(1_470_172_958),
    );
    assert_eq!(s.retry_after, Some(Duration::from_secs(65)));
    assert_eq!(s.reset_in, Some(Duration::from_secs_f64(64.57)));
    assert_eq!(s.bucket.as_deref(), Some("abcd1234"));
    assert_eq!(s.scope.as_deref(), Some("user"));
    assert!(!s.global);
    assert_eq!(s.must_wait(), Duration::from_secs(65));
}

#[test]
fn discord_global() {
    let s = parse(
        429,
        &[("retry-after", "1"), ("x-ratelimit-global", "true")],
        at(0),
    );
    assert!(s.global);
    let s = parse(429, &[("x-ratelimit-scope", "global")], at(0));
    assert!(s.global);
}

// https://shopify.dev/docs/api/usage/rate-limits ("X-Shopify-Shop-Api-Call-Limit: 32/40").
#[test]
fn shopify_call_limit() {
    let s = parse(200, &[("x-shopify-shop-api-call-limit", "32/40")], at(0));
    assert_eq!(
        (s.used, s.limit, s.remaining),
        (Some(32), Some(40), Some(8))
    );
}

// https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm
#[test]
fn salesforce_api_usage_is_a_daily_quota() {
    let s = parse(200, &[("sforce-limit-info", "api-usage=25/5000")], at(0));
    assert_eq!(
        (s.used, s.limit, s.remaining),
        (Some(25), Some(5000), Some(4975))
    );
    assert_eq!(s.window, Some(Duration::from_secs(86_400)));
    assert!(!s.quota_exhausted);
    let s = parse(403, &[("sforce-limit-info", "api-usage=5000/5000")], at(0));
    assert!(s.quota_exhausted);
}

// https://support.reddithelp.com/hc/en-us/articles/16160319875092 (decimal counts, delta reset).
#[test]
fn reddit_decimal_counts() {
    let s = parse(
        200,
        &[
            ("x-ratelimit-used", "4.0"),
            ("x-ratelimit-remaining", "596.0"),
            ("x-ratelimit-reset", "240"),
        ],
        at(1_700_000_000),
    );
    assert_eq!((s.used, s.remaining), (Some(4), Some(596)));
    assert_eq!(s.reset_in, Some(Duration::from_secs(240)));
}

// Twitter/X v2: x-rate-limit-* with an epoch reset.
#[test]
fn twitter_dashed_family() {
    let s = parse(
        200,
        &[
            ("x-rate-limit-limit", "900"),
            ("x-rate-limit-remaining", "847"),
            ("x-rate-limit-reset", "1705420800"),
        ],
        at(1_705_420_000),
    );
    assert_eq!((s.limit, s.remaining), (Some(900), Some(847)));
    assert_eq!(s.reset_in, Some(Duration::from_secs(800)));
}

// The seed API's documented headers (X-RateLimit-* with epoch reset and X-RateLimit-Policy).
#[test]
fn x_ratelimit_policy() {
    let s = parse(
        200,
        &[
            ("x-ratelimit-limit", "100"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000010"),
            ("x-ratelimit-policy", "/v1/email/send"),
        ],
        at(1_700_000_000),
    );
    assert_eq!(s.policy.as_deref(), Some("/v1/email/send"));
    assert_eq!(s.must_wait(), Duration::from_secs(10));
}

// draft-ietf-httpapi-ratelimit-headers-09, §5 examples.
#[test]
fn ietf_structured_single_policy() {
    let s = parse(
        200,
        &[
            ("ratelimit-policy", "\"default\";q=100;w=10"),
            ("ratelimit", "\"default\";r=50;t=5"),
        ],
        at(0),
    );
    assert_eq!((s.limit, s.remaining), (Some(100), Some(50)));
    assert_eq!(s.window, Some(Duration::from_secs(10)));
    assert_eq!(s.reset_in, Some(Duration::from_secs(5)));
    assert_eq!(s.policy.as_deref(), Some("default"));
}

#[test]
fn ietf_structured_several_policies_binding_one_wins() {
    let s = parse(
        429,
        &[
            (
                "ratelimit-policy",
                "\"burst\";q=100;w=60,\"daily\";q=1000;w=86400",
            ),
            ("ratelimit", "\"burst\";r=40;t=30, \"daily\";r=0;t=7200"),
        ],
        at(0),
    );
    assert_eq!(s.policies.len(), 2);
    assert_eq!(s.policy.as_deref(), Some("daily"));
    assert_eq!(s.remaining, Some(0));
    assert!(s.quota_exhausted);
    assert_eq!(s.must_wait(), Duration::from_secs(7200));
}

#[test]
fn ietf_malformed_member_is_ignored_others_kept() {
    let s = parse(
        200,
        &[(
            "ratelimit-policy",
            "\"burst\";q=100;w=60, @@@, \"day\";q=5;w=86400",
        )],
        at(0),
    );
    assert_eq!(s.policies.len(), 2, "{:?}", s.policies);
    assert_eq!(s.warnings.len(), 1);
    assert_eq!(s.warnings[0].kind, WarningKind::Malformed);
}

// draft-ietf-httpapi-ratelimit-headers-07: a dictionary.
#[test]
fn ietf_draft07_dictionary() {
    let s = parse(
        200,
        &[
            ("ratelimit", "limit=100, remaining=50, reset=5"),
            ("ratelimit-policy", "100;w=60"),
        ],
        at(0),
    );
    assert_eq!((s.limit, s.remaining), (Some(100), Some(50)));
    assert_eq!(s.reset_in, Some(Duration::from_secs(5)));
    assert_eq!(s.window, Some(Duration::from_secs(60)));
}

// Drafts up to 06: separate fields, reset always delta seconds (even when large).
#[test]
fn ietf_old_draft_fields() {
    let s = parse(
        200,
        &[
            ("ratelimit-limit", "100, 100;w=60"),
            ("ratelimit-remaining", "0"),
            ("ratelimit-reset", "50"),
        ],
        at(1_700_000_000),
    );
    assert_eq!(s.limit, Some(100));
    assert_eq!(s.window, Some(Duration::from_secs(60)));
    assert_eq!(s.must_wait(), Duration::from_secs(50));
}

#[test]
fn stripe_should_retry() {
    let s = parse(409, &[("stripe-should-retry", "true")], at(0));
    assert_eq!(s.should_retry, Some(true));
    assert_eq!(crate::retry::classify(&s), crate::retry::Class::ServerError);
    let s = parse(503, &[("stripe-should-retry", "false")], at(0));
    assert_eq!(crate::retry::classify(&s), crate::retry::Class::Final);
}

#[test]
fn server_date_cancels_client_clock_skew() {
    // The client's clock is an hour fast; the server's Date is the truth.
    let client = at(1_700_003_600);
    let s = parse(
        429,
        &[
            ("date", "Tue, 14 Nov 2023 22:13:20 GMT"), // 1_700_000_000
            ("retry-after", "Tue, 14 Nov 2023 22:13:50 GMT"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000020"),
        ],
        client,
    );
    assert_eq!(s.server_date, Some(at(1_700_000_000)));
    assert_eq!(s.retry_after, Some(Duration::from_secs(30)));
    assert_eq!(s.reset_in, Some(Duration::from_secs(20)));
}

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

#[test]
fn retry_after_on_a_success_is_not_a_pause() {
    // Some limiters send `Retry-After: 1` on every response; on a 200 that still has budget
    // it means nothing (RFC 9110 gives it a meaning on 503 and 3xx, RFC 6585 on 429).
    let h = [("retry-after", "1"), ("x-ratelimit-remaining", "12")];
    let ok = parse(200, &h, at(1_700_000_000));
    assert_eq!((ok.retry_after, ok.must_wait()), (None, Duration::ZERO));
    let throttled = parse(429, &h, at(1_700_000_000));
    assert_eq!(throttled.retry_after, Some(Duration::from_secs(1)));
    // On a 200 that says nothing is left, it is the hint of when that changes.
    let spent = parse(
        200,
        &[("retry-after", "3"), ("x-ratelimit-remaining", "0")],
        at(1_700_000_000),
    );
    assert_eq!(spent.retry_after, Some(Duration::from_secs(3)));
}

#[test]
fn a_whole_second_reset_is_read_from_arrival_not_from_a_truncated_date() {
    // The window resets at 1_700_000_001 (the server rounds up); the response arrives at
    // …000.9, and `Date` says …000 (it truncates). Read against `Date` the reset would be a
    // whole second away; it is 0.1 s.
    let received = at(1_700_000_000) + Duration::from_millis(900);
    let s = parse(
        200,
        &[
            ("date", "Tue, 14 Nov 2023 22:13:20 GMT"),
            ("x-ratelimit-limit", "20"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000001"),
        ],
        received,
    );
    let reset = s.reset_in.unwrap().as_secs_f64();
    assert!((reset - 0.1).abs() < 0.001, "{reset}");
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

// Under a prefix paceline does not know, a `-remaining` field is still read, and the warning
// names the assumption; under a known one, silently.
#[test]
fn prop_unknown_prefix_read_with_a_warning() {
    fn prop(prefix: Vec<u8>, n: u32, known: bool) -> TestResult {
        let prefix: String = prefix
            .into_iter()
            .map(|b| char::from(b'a' + b % 26))
            .take(12)
            .collect();
        if prefix.is_empty() || prefix.contains("ratelimit") || prefix == "x" {
            return TestResult::discard();
        }
        let name = if known {
            "x-sib-ratelimit-remaining".to_owned()
        } else {
            format!("x-{prefix}-ratelimit-remaining")
        };
        let s = parse(200, &[(&name, &n.to_string())], at(0));
        let assumed = s.warnings.iter().any(|w| {
            w.kind == WarningKind::Assumed(Assumption::RateLimitField) && w.header == name
        });
        TestResult::from_bool(s.remaining == Some(u64::from(n)) && assumed != known)
    }
    QuickCheck::new()
        .tests(500)
        .quickcheck(prop as fn(Vec<u8>, u32, bool) -> TestResult);
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

// A GraphQL throttle error makes a 200 a 429, whose wait is the query's cost coming back.
#[test]
fn prop_throttled_graphql_body() {
    fn prop(cost: u16, available: u16, rate: u8, throttled: bool) -> TestResult {
        if rate == 0 {
            return TestResult::discard();
        }
        // A bucket of 1,000 points, as Shopify's.
        let available = available % 1001;
        let errors = if throttled {
            r#""errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}],"#
        } else {
            ""
        };
        let body = format!(
            r#"{{{errors}"extensions":{{"cost":{{"requestedQueryCost":{cost},"throttleStatus":{{"maximumAvailable":1000.0,"currentlyAvailable":{available},"restoreRate":{rate}.0}}}}}}}}"#
        );
        let parser = SignalParser::new();
        let mut s = parser.parse(StatusCode::OK, &HeaderMap::new(), at(0));
        parser.parse_body(&mut s, body.as_bytes());
        let class = crate::retry::classify(&s);
        let want = f64::from(cost.saturating_sub(available)) / f64::from(rate);
        let wait = s.must_wait().as_secs_f64();
        TestResult::from_bool(if throttled {
            // Nothing available: the bucket's refill (its reset) may be longer still.
            class == crate::retry::Class::Throttled
                && ((wait - want).abs() < 1e-6 || (available == 0 && wait >= want))
        } else {
            class == crate::retry::Class::Final && s.retry_after.is_none()
        })
    }
    QuickCheck::new()
        .tests(500)
        .quickcheck(prop as fn(u16, u16, u8, bool) -> TestResult);
}

// Parallel lists (one item per window, as Brave Search sends them): one policy per window, and
// the top level is the window with the fewest left.
#[test]
fn prop_parallel_lists_are_windows() {
    fn prop(windows: Vec<(u16, u16, u16, u8)>) -> TestResult {
        if windows.len() < 2 || windows.len() > 8 {
            return TestResult::discard();
        }
        // A server's remaining is at most its limit (more is clamped, with a warning).
        let windows: Vec<_> = windows
            .into_iter()
            .map(|(l, r, t, w)| (l, (u32::from(r) % (u32::from(l) + 1)) as u16, t, w))
            .collect();
        type Window = (u16, u16, u16, u8);
        let join =
            |f: &dyn Fn(&Window) -> String| windows.iter().map(f).collect::<Vec<_>>().join(", ");
        let limit = join(&|w| w.0.to_string());
        let remaining = join(&|w| w.1.to_string());
        let reset = join(&|w| w.2.to_string());
        let policy = join(&|w| format!("{};w={}", w.0, u32::from(w.3) + 1));
        let s = parse(
            200,
            &[
                ("x-ratelimit-limit", &limit),
                ("x-ratelimit-remaining", &remaining),
                ("x-ratelimit-reset", &reset),
                ("x-ratelimit-policy", &policy),
            ],
            at(0),
        );
        let least = windows.iter().map(|w| u64::from(w.1)).min();
        let all_read = s.policies.len() == windows.len()
            && s.policies.iter().zip(&windows).all(|(p, w)| {
                p.limit == Some(u64::from(w.0))
                    && p.remaining == Some(u64::from(w.1))
                    && p.reset_in == Some(Duration::from_secs(u64::from(w.2)))
                    && p.window == Some(Duration::from_secs(u64::from(w.3) + 1))
            });
        TestResult::from_bool(all_read && s.remaining == least)
    }
    QuickCheck::new()
        .tests(500)
        .quickcheck(prop as fn(Vec<(u16, u16, u16, u8)>) -> TestResult);
}

// Strava: the first number of each pair is the 15-minute window (reset at the quarter hour),
// the second the day (reset at midnight UTC); the one with the fewest left is the top level.
#[test]
fn prop_strava_pairs() {
    fn prop(l15: u16, lday: u16, u15: u16, uday: u16, now: u32) -> bool {
        let s = parse(
            200,
            &[
                ("x-ratelimit-limit", &format!("{l15},{lday}")),
                ("x-ratelimit-usage", &format!("{u15},{uday}")),
            ],
            at(u64::from(now)),
        );
        let r15 = u64::from(l15.saturating_sub(u15));
        let rday = u64::from(lday.saturating_sub(uday));
        let to_quarter = 900 - u64::from(now) % 900;
        let to_midnight = 86_400 - u64::from(now) % 86_400;
        let names: Vec<_> = s.policies.iter().map(|p| p.name.as_deref()).collect();
        names == [Some("15min"), Some("day")]
            && s.policies[0].remaining == Some(r15)
            && s.policies[1].remaining == Some(rday)
            && s.policies[0].reset_in == Some(Duration::from_secs(to_quarter))
            && s.policies[1].reset_in == Some(Duration::from_secs(to_midnight))
            && s.remaining == Some(r15.min(rday))
    }
    QuickCheck::new()
        .tests(500)
        .quickcheck(prop as fn(u16, u16, u16, u16, u32) -> bool);
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
