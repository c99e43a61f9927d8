//! Reading one field's value: retry hints, windows and milliseconds, Shopify-style call limits,
//! Azure's remaining counts, Sentry's limits and Strava's pairs.

use std::time::Duration;

use http::HeaderMap;

use super::Gathered;
use crate::headers::number::{NumberError, parse_decimal, secs_f64, trim_ows};
use crate::headers::xratelimit::name_value;
use crate::headers::{Context, PolicyState, Signal, WarningKind};

/// Seconds (decimals allowed) or an HTTP-date, as a wait from the reference; milliseconds when
/// `millis`. `None` with a warning when it is neither.
pub(super) fn retry_value(
    header: &str,
    v: &[u8],
    millis: bool,
    cx: &Context,
    s: &mut Signal,
) -> Option<Duration> {
    match parse_decimal(v) {
        Ok(x) => {
            let d = secs_f64(if millis { x / 1000.0 } else { x });
            if d > crate::headers::MAX_RESET {
                s.warn(header, WarningKind::Implausible, v);
                return None;
            }
            Some(d)
        }
        Err(NumberError::Negative) => {
            s.warn(header, WarningKind::Negative, v);
            None
        }
        Err(_) if !millis => match crate::headers::parse_retry_after(v) {
            Ok(ra) => Some(ra.delay_from(cx.reference)),
            Err(e) => {
                s.warn(header, WarningKind::RetryAfter(e), v);
                None
            }
        },
        Err(_) => {
            s.warn(header, WarningKind::NotANumber, v);
            None
        }
    }
}

/// Strava: `X-RateLimit-Limit: 200,2000` and `X-RateLimit-Usage: 34,300` (and the same for
/// `X-ReadRateLimit-*`) are a 15-minute window then a daily one; the 15-minute window resets
/// at the quarter hours, the daily one at midnight UTC
/// (<https://developers.strava.com/docs/rate-limits>). Each pair becomes two policies, and the
/// binding one replaces the top-level fields (the plain reading took the first number only).
pub(super) fn strava(headers: &HeaderMap, cx: &Context, s: &mut Signal) {
    let pair = |name: &str| {
        let v = trim_ows(headers.get(name)?.as_bytes());
        let comma = v.iter().position(|b| *b == b',')?;
        let a = crate::headers::number::parse_digits(&v[..comma]).ok()?;
        let b = crate::headers::number::parse_digits(&v[comma + 1..]).ok()?;
        (a <= crate::headers::MAX_COUNT && b <= crate::headers::MAX_COUNT).then_some([a, b])
    };
    let now = cx
        .reference
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut policies = Vec::new();
    for (limit, usage, tag) in [
        ("x-ratelimit-limit", "x-ratelimit-usage", ""),
        ("x-readratelimit-limit", "x-readratelimit-usage", "read-"),
    ] {
        let (Some(limits), Some(used)) = (pair(limit), pair(usage)) else {
            continue;
        };
        for (i, (name, window)) in [("15min", 900.0), ("day", 86_400.0)]
            .into_iter()
            .enumerate()
        {
            policies.push(PolicyState {
                name: Some(format!("{tag}{name}")),
                limit: Some(limits[i]),
                remaining: Some(limits[i].saturating_sub(used[i])),
                window: Some(secs_f64(window)),
                reset_in: Some(secs_f64(window - f64::rem_euclid(now, window))),
            });
        }
    }
    let Some(b) = policies
        .iter()
        .min_by_key(|p| (p.remaining, std::cmp::Reverse(p.reset_in)))
        .cloned()
    else {
        return;
    };
    s.limit = b.limit;
    s.remaining = b.remaining;
    s.reset_in = b.reset_in;
    s.window = b.window;
    s.policy = b.name;
    s.used = None;
    s.policies = policies;
}

/// A window's length: seconds (a fraction allowed) or a duration (`600s`, `1m`).
pub(super) fn window_value(header: &str, v: &[u8], s: &mut Signal) -> Option<Duration> {
    let t = trim_ows(v);
    let secs = parse_decimal(t)
        .ok()
        .or_else(|| crate::headers::reset::parse_duration(t));
    match secs {
        Some(x) if secs_f64(x) > crate::headers::MAX_RESET => {
            s.warn(header, WarningKind::Implausible, v);
            None
        }
        Some(x) => Some(secs_f64(x)),
        None => {
            s.warn(header, WarningKind::NotANumber, v);
            None
        }
    }
}

pub(super) fn millis(header: &str, v: &[u8], s: &mut Signal) -> Option<Duration> {
    match parse_decimal(v) {
        Ok(x) if x / 1000.0 > crate::headers::MAX_RESET.as_secs_f64() => {
            s.warn(header, WarningKind::Implausible, v);
            None
        }
        Ok(x) => Some(secs_f64(x / 1000.0)),
        Err(NumberError::Negative) => {
            s.warn(header, WarningKind::Negative, v);
            None
        }
        Err(_) => {
            s.warn(header, WarningKind::NotANumber, v);
            None
        }
    }
}

/// `used/limit`, as Shopify's REST call limit.
pub(super) fn call_limit(n: &str, v: &[u8], cx: &Context, s: &mut Signal) {
    let Some(slash) = v.iter().position(|b| *b == b'/') else {
        s.warn(n, WarningKind::NotANumber, v);
        return;
    };
    let (Some(used), Some(limit)) = (cx.count(n, &v[..slash], s), cx.count(n, &v[slash + 1..], s))
    else {
        return;
    };
    if s.limit.is_none() && s.remaining.is_none() {
        s.used = Some(used);
        s.limit = Some(limit);
        s.remaining = Some(limit.saturating_sub(used));
    }
}

/// Azure's `x-ms-ratelimit-remaining-{subscription-reads,resource,...}`: `COUNT`, or
/// `Provider/Policy;COUNT` sent once per policy.
pub(super) fn azure_remaining(
    rest: &str,
    v: &[u8],
    cx: &Context,
    s: &mut Signal,
    g: &mut Gathered,
) {
    let t = trim_ows(v);
    let (name, count) = match t.iter().rposition(|b| *b == b';') {
        Some(i) => (name_value(&t[..i]), &t[i + 1..]),
        None => (Some(rest.to_owned()), t),
    };
    let header = "x-ms-ratelimit-remaining";
    let Some(remaining) = cx.remaining(header, count, s) else {
        return;
    };
    if let Some((_, _, p, _)) = g.entry("x-ms-", name) {
        p.remaining = Some(p.remaining.map_or(remaining, |r| r.min(remaining)));
    }
}

/// Sentry's `X-Sentry-Rate-Limits: RETRY_AFTER:CATEGORIES:SCOPE[:REASON], ...`: the longest
/// wait asked for (a negative one is none).
pub(super) fn sentry_limits(v: &[u8], s: &mut Signal, retry: &mut Option<Duration>) {
    for limit in v.split(|b| *b == b',') {
        let secs = &limit[..limit.iter().position(|b| *b == b':').unwrap_or(limit.len())];
        let d = match parse_decimal(secs) {
            Ok(x) => secs_f64(x),
            Err(NumberError::Negative) => Duration::ZERO,
            Err(_) => {
                s.warn("x-sentry-rate-limits", WarningKind::NotANumber, limit);
                continue;
            }
        };
        if d > crate::headers::MAX_RESET {
            s.warn("x-sentry-rate-limits", WarningKind::Implausible, limit);
            continue;
        }
        *retry = Some(retry.map_or(d, |r| r.max(d)));
    }
}
