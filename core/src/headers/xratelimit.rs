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

use super::fields::Fields;
use super::number::{parse_decimal, parse_digits, secs_f64, trim_ows};
use super::{Assumption, Context, MAX_RESET, PolicyState, Signal, WarningKind};
use http::HeaderMap;
use std::time::Duration;

/// Which spelling of the family.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Prefix {
    /// `X-RateLimit-*`
    XRateLimit,
    /// `X-Rate-Limit-*`
    XRateLimitDashed,
}

/// Suffix numbers in [`X_SUFFIXES`].
const LIMIT: usize = 0;
const REMAINING: usize = 1;
const RESET: usize = 2;
const RESET_AFTER: usize = 3;
const USED: usize = 4;
const RESOURCE: usize = 5;
const BUCKET: usize = 6;
const GLOBAL: usize = 7;
const SCOPE: usize = 8;
const POLICY: usize = 9;

/// Header names, for warnings.
const X_NAMES: [[&str; 10]; 2] = [
    [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-reset-after",
        "x-ratelimit-used",
        "x-ratelimit-resource",
        "x-ratelimit-bucket",
        "x-ratelimit-global",
        "x-ratelimit-scope",
        "x-ratelimit-policy",
    ],
    [
        "x-rate-limit-limit",
        "x-rate-limit-remaining",
        "x-rate-limit-reset",
        "x-rate-limit-reset-after",
        "x-rate-limit-used",
        "x-rate-limit-resource",
        "x-rate-limit-bucket",
        "x-rate-limit-global",
        "x-rate-limit-scope",
        "x-rate-limit-policy",
    ],
];

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
    if window.is_some_and(|w| w > MAX_RESET) {
        signal.warn(header, WarningKind::Implausible, v);
        return (limit, None);
    }
    (limit, window)
}

/// The most windows read from parallel lists.
const MAX_PARALLEL: usize = 8;

/// Splits a comma-separated list of at most [`MAX_PARALLEL`] items.
fn items(v: &[u8]) -> Option<Vec<&[u8]>> {
    // Checked first so a one-value field (the hot path) allocates nothing.
    if !v.contains(&b',') {
        return None;
    }
    let items: Vec<&[u8]> = v.split(|b| *b == b',').map(trim_ows).collect();
    (items.len() > 1 && items.len() <= MAX_PARALLEL).then_some(items)
}

/// Several windows reported as parallel lists, one item per window in the same order (Brave
/// Search: `X-RateLimit-Limit: 1, 15000`, `X-RateLimit-Remaining: 1, 1000`,
/// `X-RateLimit-Reset: 1, 1419704`, `X-RateLimit-Policy: 1;w=1, 15000;w=2592000`,
/// <https://api-dashboard.search.brave.com/documentation/guides/rate-limiting>): each window
/// becomes a policy (named by its window when the policy list gives it), and the binding one
/// (the fewest left) fills the top-level fields. Lists of different lengths are not parallel
/// and are left to the one-value reading (where several remaining values give the smallest).
fn parallel(
    limit: Option<&[u8]>,
    remaining: Option<&[u8]>,
    reset: Option<&[u8]>,
    policy: Option<&[u8]>,
    cx: &Context,
    s: &mut Signal,
) {
    let (Some(limits), Some(remainings)) = (limit.and_then(items), remaining.and_then(items))
    else {
        return;
    };
    let k = limits.len();
    if remainings.len() != k {
        return;
    }
    let resets = reset.and_then(items).filter(|r| r.len() == k);
    let windows = policy.and_then(items).filter(|p| p.len() == k);
    let mut policies = Vec::with_capacity(k);
    for i in 0..k {
        let window = windows.as_ref().and_then(|w| {
            let (_, w) = limit_with_window("x-ratelimit-policy", w[i], cx, s);
            w
        });
        policies.push(PolicyState {
            name: Some(window.map_or_else(|| i.to_string(), |w| format!("w={}", w.as_secs()))),
            limit: cx.count("x-ratelimit-limit", limits[i], s),
            remaining: cx.remaining("x-ratelimit-remaining", remainings[i], s),
            window,
            reset_in: resets
                .as_ref()
                .and_then(|r| cx.reset_in("x-ratelimit-reset", r[i], s)),
        });
    }
    let Some(b) = policies
        .iter()
        .filter(|p| p.remaining.is_some())
        .min_by_key(|p| (p.remaining, std::cmp::Reverse(p.reset_in)))
        .cloned()
    else {
        return;
    };
    s.limit = s.limit.or(b.limit);
    s.remaining = b.remaining;
    s.reset_in = s.reset_in.or(b.reset_in);
    s.window = s.window.or(b.window);
    s.policy = s.policy.clone().or(b.name);
    s.policies = policies;
}

/// Every value of a field that came on several lines, parsed by `read`; the most restrictive
/// (`pick`) is kept, with a warning saying so.
fn restrictive(
    headers: &HeaderMap,
    header: &'static str,
    s: &mut Signal,
    mut read: impl FnMut(&[u8], &mut Signal) -> Option<u64>,
    pick: fn(u64, u64) -> u64,
) -> Option<u64> {
    let mut out: Option<u64> = None;
    for v in headers.get_all(header) {
        if let Some(x) = read(v.as_bytes(), s) {
            out = Some(out.map_or(x, |o| pick(o, x)));
        }
    }
    if let Some(x) = out {
        s.warn(
            header,
            WarningKind::Assumed(Assumption::MostRestrictive),
            x.to_string().as_bytes(),
        );
    }
    out
}

pub(crate) fn parse(
    headers: &HeaderMap,
    f: &Fields<'_>,
    cx: &Context,
    s: &mut Signal,
    prefix: Prefix,
) {
    let dashed = matches!(prefix, Prefix::XRateLimitDashed);
    let name = |i: usize| X_NAMES[usize::from(dashed)][i];
    let get = |i: usize| f.x(dashed, i);
    if s.remaining.is_none() && s.policies.is_empty() {
        parallel(get(LIMIT), get(REMAINING), get(RESET), get(POLICY), cx, s);
    }
    if s.limit.is_none()
        && let Some(v) = get(LIMIT)
    {
        let (limit, window) = limit_with_window(name(LIMIT), v, cx, s);
        s.limit = limit;
        if f.x_repeated(dashed, LIMIT) {
            s.limit = restrictive(
                headers,
                name(LIMIT),
                s,
                |v, s| limit_with_window(name(LIMIT), v, cx, s).0,
                u64::min,
            );
        }
        s.window = s.window.or(window);
    }
    if s.remaining.is_none()
        && let Some(v) = get(REMAINING)
    {
        s.remaining = if f.x_repeated(dashed, REMAINING) {
            restrictive(
                headers,
                name(REMAINING),
                s,
                |v, s| cx.remaining(name(REMAINING), v, s),
                u64::min,
            )
        } else {
            cx.remaining(name(REMAINING), v, s)
        };
    }
    if s.used.is_none()
        && let Some(v) = get(USED)
    {
        s.used = cx.count(name(USED), v, s);
    }
    if s.reset_in.is_none() {
        // Discord's Reset-After is relative, so immune to clock skew: prefer it.
        if let Some(v) = get(RESET_AFTER) {
            match parse_decimal(v) {
                Ok(x) if secs_f64(x) > MAX_RESET => {
                    s.warn(name(RESET_AFTER), WarningKind::Implausible, v)
                }
                Ok(x) => s.reset_in = Some(secs_f64(x)),
                Err(super::number::NumberError::Negative) => {
                    s.warn(name(RESET_AFTER), WarningKind::Negative, v)
                }
                Err(_) => s.warn(name(RESET_AFTER), WarningKind::NotANumber, v),
            }
        }
    }
    if s.reset_in.is_none()
        && let Some(v) = get(RESET)
    {
        s.reset_in = if f.x_repeated(dashed, RESET) {
            // Whole milliseconds, so the latest reset can be picked as an integer.
            restrictive(
                headers,
                name(RESET),
                s,
                |v, s| {
                    cx.reset_in(name(RESET), v, s)
                        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                },
                u64::max,
            )
            .map(Duration::from_millis)
        } else {
            cx.reset_in(name(RESET), v, s)
        };
    }
    if s.bucket.is_none() {
        s.bucket = get(BUCKET).or_else(|| get(RESOURCE)).and_then(name_value);
    }
    if let Some(v) = get(GLOBAL) {
        s.global |= trim_ows(v).eq_ignore_ascii_case(b"true");
    }
    if s.scope.is_none() {
        s.scope = get(SCOPE).and_then(name_value);
    }
    s.global |= s
        .scope
        .as_deref()
        .is_some_and(|sc| sc.eq_ignore_ascii_case("global"));
    if s.policy.is_none() {
        s.policy = get(POLICY).and_then(name_value);
    }
}
