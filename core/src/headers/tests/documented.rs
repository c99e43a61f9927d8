//! GitHub, Discord, Shopify, Salesforce, Reddit, Twitter/X, the X-RateLimit family, the IETF
//! drafts and Stripe, from each vendor's documented examples.

use super::*;

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
