//! The IETF rate-limit fields (draft-ietf-httpapi-ratelimit-headers).
//!
//! Three generations are in use, all read here:
//! - draft 08 and later, structured fields (RFC 9651) naming policies:
//!   `RateLimit-Policy: "burst";q=100;w=60,"daily";q=1000;w=86400` and
//!   `RateLimit: "burst";r=50;t=30`. Several policies per field; a malformed member is ignored
//!   (with a warning) and the others are kept.
//! - draft 07: `RateLimit: limit=100, remaining=50, reset=5` (a dictionary) and
//!   `RateLimit-Policy: 100;w=60` (anonymous policies).
//! - drafts up to 06: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`, the reset
//!   in seconds from now — or, as GitLab (<https://docs.gitlab.com/administration/settings/user_and_ip_rate_limits/#response-headers>)
//!   and Twitch (<https://dev.twitch.tv/docs/api/guide/#twitch-rate-limits>) send it, an epoch
//!   second, told apart by magnitude ([`ResetRule::Auto`]).

use std::time::Duration;

use http::{HeaderMap, HeaderName};
use sfv::{BareItem, Dictionary, ListEntry, Parameters, Parser};

use super::fields::{Field, Fields};
use super::reset::ResetRule;
use super::xratelimit::{MAX_NAME, limit_with_window};
use super::{Context, MAX_RESET, PolicyState, Signal, WarningKind};

const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// Structured `RateLimit` and `RateLimit-Policy` (drafts 07 and later).
pub(crate) fn parse_structured(headers: &HeaderMap, s: &mut Signal) {
    structured(headers, &RATELIMIT, &RATELIMIT_POLICY, s);
}

/// The same fields under a vendor's prefix: `BASE` and `BASE-Policy` (Atlassian's
/// `Beta-RateLimit`). `base` is a lower-case header name.
pub(crate) fn parse_structured_named(headers: &HeaderMap, base: &str, s: &mut Signal) {
    let (Ok(field), Ok(policy)) = (
        HeaderName::from_bytes(base.as_bytes()),
        HeaderName::from_bytes(format!("{base}-policy").as_bytes()),
    ) else {
        return;
    };
    structured(headers, &field, &policy, s);
}

fn structured(headers: &HeaderMap, field: &HeaderName, policy: &HeaderName, s: &mut Signal) {
    let mut policies: Vec<PolicyState> = Vec::new();
    let mut implausible: Vec<i64> = Vec::new();
    let policy_name = policy.as_str();
    let field_name = field.as_str();
    for v in headers.get_all(policy) {
        for_each_member(v.as_bytes(), policy_name, s, |name, bare, params| {
            let p = entry(&mut policies, name);
            if let Some(q) =
                int(params, "q").or_else(|| bare.and_then(BareItem::as_integer).map(i64::from))
            {
                p.limit = nonneg(q);
            }
            if let Some(w) = int(params, "w") {
                p.window = nonneg(w)
                    .map(Duration::from_secs)
                    .filter(|w| *w <= MAX_RESET);
            }
        });
    }
    for v in headers.get_all(field) {
        let bytes = v.as_bytes();
        // Draft 07 sent a dictionary (`limit=.., remaining=.., reset=..`).
        if let Ok(dict) = Parser::new(bytes).parse::<Dictionary>()
            && dict.contains_key("remaining")
        {
            let p = entry(&mut policies, None);
            let get = |k: &str| match dict.get(k) {
                Some(ListEntry::Item(i)) => {
                    i.bare_item.as_integer().map(i64::from).and_then(nonneg)
                }
                _ => None,
            };
            p.limit = p.limit.or(get("limit"));
            p.remaining = get("remaining");
            p.reset_in = get("reset")
                .map(Duration::from_secs)
                .filter(|d| *d <= MAX_RESET);
            continue;
        }
        for_each_member(bytes, field_name, s, |name, _bare, params| {
            let p = entry(&mut policies, name);
            if let Some(r) = int(params, "r") {
                p.remaining = nonneg(r);
            }
            if let Some(t) = int(params, "t") {
                p.reset_in = nonneg(t).map(Duration::from_secs);
                if p.reset_in.is_some_and(|t| t > MAX_RESET) {
                    p.reset_in = None;
                    implausible.push(t);
                }
            }
        });
    }
    for t in implausible {
        s.warn(
            field_name,
            WarningKind::Implausible,
            t.to_string().as_bytes(),
        );
    }
    if policies.is_empty() {
        return;
    }
    // The binding policy: exhausted with the longest reset, else the fewest remaining.
    let binding = policies
        .iter()
        .filter(|p| p.remaining.is_some())
        .min_by_key(|p| (p.remaining, std::cmp::Reverse(p.reset_in)))
        .or_else(|| policies.first())
        .cloned();
    if let Some(b) = binding {
        s.limit = s.limit.or(b.limit);
        s.remaining = s.remaining.or(b.remaining);
        s.reset_in = s.reset_in.or(b.reset_in);
        s.window = s.window.or(b.window);
        s.policy = s.policy.clone().or(b.name.clone());
    }
    s.policies = policies;
}

/// `RateLimit-Limit/Remaining/Reset` (drafts up to 06; reset is always delta seconds).
pub(crate) fn parse_draft(f: &Fields<'_>, cx: &Context, s: &mut Signal) {
    if s.limit.is_none()
        && let Some(v) = f.get(Field::RateLimitLimit)
    {
        let (limit, window) = limit_with_window("ratelimit-limit", v, cx, s);
        s.limit = limit;
        s.window = s.window.or(window);
    }
    if s.remaining.is_none()
        && let Some(v) = f.get(Field::RateLimitRemaining)
    {
        s.remaining = cx.remaining("ratelimit-remaining", v, s);
    }
    if s.reset_in.is_none()
        && let Some(v) = f.get(Field::RateLimitReset)
    {
        // Seconds from now by the drafts; GitLab and Twitch send an epoch second, which no
        // delta can be (10^9 s is 31 years): `Auto` reads both.
        s.reset_in = cx.reset_in_with(ResetRule::Auto, "ratelimit-reset", v, s);
    }
    // A lone `RateLimit-Policy` (`600;w=300`) beside the older `RateLimit-Remaining` and
    // `-Reset` (jambonz): they describe the same window; the policy carries them too, as the
    // throttle reads the policies when there are any.
    let (remaining, reset_in) = (s.remaining, s.reset_in);
    if let [p] = &mut s.policies[..] {
        p.remaining = p.remaining.or(remaining);
        p.reset_in = p.reset_in.or(reset_in);
    }
}

/// Calls `f(name, bare item, params)` for each list member, parsing members one at a time so a
/// malformed one does not hide the others.
fn for_each_member(
    value: &[u8],
    header: &str,
    s: &mut Signal,
    mut f: impl FnMut(Option<String>, Option<&BareItem>, &Parameters),
) {
    if let Ok(list) = Parser::new(value).parse::<sfv::List>() {
        for member in &list {
            visit(member, &mut f);
        }
        return;
    }
    for piece in split_members(value) {
        match Parser::new(piece).parse::<sfv::List>() {
            Ok(list) => list.iter().for_each(|m| visit(m, &mut f)),
            Err(_) => s.warn(header, WarningKind::Malformed, piece),
        }
    }
}

fn visit(member: &ListEntry, f: &mut impl FnMut(Option<String>, Option<&BareItem>, &Parameters)) {
    match member {
        ListEntry::Item(item) => {
            let name = match &item.bare_item {
                BareItem::String(s) => Some(s.as_str()),
                BareItem::Token(t) => Some(t.as_str()),
                _ => None,
            }
            .map(|n| n.chars().take(MAX_NAME).collect());
            f(name, Some(&item.bare_item), &item.params)
        }
        ListEntry::InnerList(inner) => f(None, None, &inner.params),
    }
}

/// Splits a field value at commas outside quoted strings.
fn split_members(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut in_quotes = false;
    let mut escaped = false;
    let mut start = 0;
    let mut cuts = Vec::new();
    for (i, &b) in v.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if in_quotes => escaped = true,
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => {
                cuts.push(&v[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    cuts.push(&v[start..]);
    cuts.into_iter()
}

fn entry(policies: &mut Vec<PolicyState>, name: Option<String>) -> &mut PolicyState {
    let i = match policies.iter().position(|p| p.name == name) {
        Some(i) => i,
        None => {
            policies.push(PolicyState::named(name));
            policies.len() - 1
        }
    };
    &mut policies[i]
}

fn int(params: &Parameters, key: &str) -> Option<i64> {
    params
        .get(key)
        .and_then(BareItem::as_integer)
        .map(i64::from)
}

fn nonneg(x: i64) -> Option<u64> {
    u64::try_from(x).ok()
}
