//! The `X-RateLimit-*` family and its relatives.
//!
//! Sources for the vendor fields:
//! - GitHub: <https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api>
//!   (`x-ratelimit-limit/remaining/used/reset` epoch seconds, `x-ratelimit-resource`).
//! - Discord: <https://discord.com/developers/docs/topics/rate-limits> (`X-RateLimit-Reset`
//!   epoch seconds with a fraction, `X-RateLimit-Reset-After` seconds with a fraction,
//!   `X-RateLimit-Bucket`, `X-RateLimit-Global`, `X-RateLimit-Scope`).
//! - Reddit: <https://support.reddithelp.com/hc/en-us/articles/16160319875092> (decimal
//!   `x-ratelimit-used`/`remaining`, `x-ratelimit-reset` delta seconds).
//! - Twitter/X: `x-rate-limit-limit/remaining/reset` (epoch seconds).

use http::{HeaderMap, HeaderName};

use super::number::{parse_decimal, parse_digits, secs_f64, trim_ows};
use super::{Context, Signal, WarningKind, first};
use std::time::Duration;

/// Which spelling of the family.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Prefix {
    /// `X-RateLimit-*`
    XRateLimit,
    /// `X-Rate-Limit-*`
    XRateLimitDashed,
}

struct Names {
    limit: HeaderName,
    remaining: HeaderName,
    reset: HeaderName,
    reset_after: HeaderName,
    used: HeaderName,
    resource: HeaderName,
    bucket: HeaderName,
    global: HeaderName,
    scope: HeaderName,
    policy: HeaderName,
}

const X_RATELIMIT: Names = Names {
    limit: HeaderName::from_static("x-ratelimit-limit"),
    remaining: HeaderName::from_static("x-ratelimit-remaining"),
    reset: HeaderName::from_static("x-ratelimit-reset"),
    reset_after: HeaderName::from_static("x-ratelimit-reset-after"),
    used: HeaderName::from_static("x-ratelimit-used"),
    resource: HeaderName::from_static("x-ratelimit-resource"),
    bucket: HeaderName::from_static("x-ratelimit-bucket"),
    global: HeaderName::from_static("x-ratelimit-global"),
    scope: HeaderName::from_static("x-ratelimit-scope"),
    policy: HeaderName::from_static("x-ratelimit-policy"),
};

const X_RATE_LIMIT: Names = Names {
    limit: HeaderName::from_static("x-rate-limit-limit"),
    remaining: HeaderName::from_static("x-rate-limit-remaining"),
    reset: HeaderName::from_static("x-rate-limit-reset"),
    reset_after: HeaderName::from_static("x-rate-limit-reset-after"),
    used: HeaderName::from_static("x-rate-limit-used"),
    resource: HeaderName::from_static("x-rate-limit-resource"),
    bucket: HeaderName::from_static("x-rate-limit-bucket"),
    global: HeaderName::from_static("x-rate-limit-global"),
    scope: HeaderName::from_static("x-rate-limit-scope"),
    policy: HeaderName::from_static("x-rate-limit-policy"),
};

/// Longest name kept from a header value (bucket, scope, policy): longer ones are cut.
pub(crate) const MAX_NAME: usize = 128;

pub(crate) fn name_value(v: &[u8]) -> Option<String> {
    let v = trim_ows(v);
    if v.is_empty() {
        return None;
    }
    let cut = &v[..v.len().min(MAX_NAME)];
    Some(String::from_utf8_lossy(cut).into_owned())
}

/// Parses a limit that may carry an inline policy, as some servers send
/// (`100, 100;w=60` or `100;w=60`): the leading number is the limit, `w=` the window.
pub(crate) fn limit_with_window(
    header: &str,
    v: &[u8],
    cx: &Context,
    signal: &mut Signal,
) -> (Option<u64>, Option<Duration>) {
    let head_end = v
        .iter()
        .position(|b| *b == b',' || *b == b';')
        .unwrap_or(v.len());
    let limit = cx.count(header, &v[..head_end], signal);
    let window = v
        .windows(2)
        .position(|w| w == b"w=")
        .map(|i| &v[i + 2..])
        .map(|rest| {
            &rest[..rest
                .iter()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(rest.len())]
        })
        .and_then(|digits| parse_digits(digits).ok())
        .map(Duration::from_secs);
    (limit, window)
}

pub(crate) fn parse(headers: &HeaderMap, cx: &Context, s: &mut Signal, prefix: Prefix) {
    let n = match prefix {
        Prefix::XRateLimit => &X_RATELIMIT,
        Prefix::XRateLimitDashed => &X_RATE_LIMIT,
    };
    if s.limit.is_none()
        && let Some(v) = first(headers, &n.limit)
    {
        let (limit, window) = limit_with_window(n.limit.as_str(), v, cx, s);
        s.limit = limit;
        s.window = s.window.or(window);
    }
    if s.remaining.is_none()
        && let Some(v) = first(headers, &n.remaining)
    {
        s.remaining = cx.count(n.remaining.as_str(), v, s);
    }
    if s.used.is_none()
        && let Some(v) = first(headers, &n.used)
    {
        s.used = cx.count(n.used.as_str(), v, s);
    }
    if s.reset_in.is_none() {
        // Discord's Reset-After is relative, so immune to clock skew: prefer it.
        if let Some(v) = first(headers, &n.reset_after) {
            match parse_decimal(v) {
                Ok(x) => s.reset_in = Some(secs_f64(x)),
                Err(super::number::NumberError::Negative) => {
                    s.warn(n.reset_after.as_str(), WarningKind::Negative, v)
                }
                Err(_) => s.warn(n.reset_after.as_str(), WarningKind::NotANumber, v),
            }
        }
    }
    if s.reset_in.is_none()
        && let Some(v) = first(headers, &n.reset)
    {
        s.reset_in = cx.reset_in(n.reset.as_str(), v, s);
    }
    if s.bucket.is_none() {
        s.bucket = first(headers, &n.bucket)
            .or_else(|| first(headers, &n.resource))
            .and_then(name_value);
    }
    if let Some(v) = first(headers, &n.global) {
        s.global |= trim_ows(v).eq_ignore_ascii_case(b"true");
    }
    if s.scope.is_none() {
        s.scope = first(headers, &n.scope).and_then(name_value);
    }
    s.global |= s
        .scope
        .as_deref()
        .is_some_and(|sc| sc.eq_ignore_ascii_case("global"));
    if s.policy.is_none() {
        s.policy = first(headers, &n.policy).and_then(name_value);
    }
}
