//! Rate-limit fields outside the fixed names: vendor prefixes, per-resource families, vendor
//! spellings of `Retry-After`.
//!
//! Many APIs send the `X-RateLimit-*` or IETF fields under a prefix of their own, split them by
//! resource or window, or name their retry hint differently. The names are read by shape:
//!
//! - `PREFIX-RateLimit-WORDS` / `PREFIX-Rate-Limit-WORDS`: among the words, `limit`, `max` or
//!   `quota` is the limit, `remaining` or `left` what is left, `reset` the reset, `used` or
//!   `observed` the count used, `interval` or `window` the window's length, `next` the instant
//!   of the next allowed request; `ms`/`milliseconds` and `seconds` give the unit; the other
//!   words name a policy (`requests`, `tokens`, `day`), and a window word (`second`, `minute`,
//!   `hour`, `day`, `daily`, `month`) gives that policy its window. A policy word alone
//!   (`X-HubSpot-RateLimit-Daily`) is that policy's limit.
//! - `PREFIX-RateLimit` and `PREFIX-RateLimit-Policy`: the IETF structured fields.
//! - `*-Retry-After` (seconds, decimals allowed, or an HTTP-date), `*-Retry-After-Ms`.
//! - `*-Api-Call-Limit: used/limit`, Shopify's shape.
//!
//! Prefixes and names documented by a vendor are read silently; any other is read the same way
//! with a [`WarningKind::Assumed`] naming what was assumed. Known, with their documentation:
//!
//! | name | vendor |
//! |---|---|
//! | `anthropic-ratelimit-{requests,tokens,...}-{limit,remaining,reset}` | Anthropic <https://docs.anthropic.com/en/api/rate-limits> |
//! | `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` | OpenAI <https://platform.openai.com/docs/guides/rate-limits> |
//! | `x-ratelimit-requests-{limit,remaining,reset}` | Linear, RapidAPI |
//! | `x-ratelimit-{limit,remaining}-{second,minute,day}` | Kong's rate-limiting plugin (TzKT) |
//! | `x-ratelimit-next` | Akamai <https://techdocs.akamai.com/cloudlets/reference/rate-limiting> |
//! | `x-ratelimit-interval-seconds` | Atlassian Data Center |
//! | `x-rate-limit-{requests-left,requests-quota,time-reset-ms,time-window-ms}` | BigCommerce <https://developer.bigcommerce.com/docs/start/best-practices> |
//! | `x-rate-limit`, `x-ratelimit` | the limit (Zendesk, per minute with `zendesk-ratelimit-*` <https://developer.zendesk.com/documentation/ticketing/using-the-zendesk-api/best-practices-for-avoiding-rate-limiting/>; Zalando; Composio) |
//! | `x-ratelimit-period`, `x-ratelimit-window`, `x-ratelimit-window-size` | the window (Datadog <https://docs.datadoghq.com/api/latest/rate-limits/>, Follow Up Boss, Composio) |
//! | `x-daylimit-remaining`, `x-minlimit-remaining`, `x-appminlimit-remaining` | Xero <https://developer.xero.com/faq/limits> |
//! | `x-contentful-ratelimit-*` (the reset is the wait on a 429) | Contentful <https://www.contentful.com/developers/docs/references/content-management-api/> |
//! | `x-sib-ratelimit-*` | Brevo <https://developers.brevo.com/docs/limit-headers> |
//! | `fastly-ratelimit-*` | Fastly (a limit per hour) <https://docs.fastly.com/api/> |
//! | `x-hon-ratelimit-*` | HappyOrNot |
//! | `x-sentry-rate-limit-*` | Sentry <https://docs.sentry.io/api/ratelimits/> |
//! | `x-hubspot-ratelimit-*` | HubSpot <https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines> |
//! | `ratelimit-observed`, `ratelimit-name` | GitLab (a limit per minute) <https://docs.gitlab.com/administration/settings/user_and_ip_rate_limits/#response-headers> |
//! | `beta-ratelimit`, `beta-ratelimit-policy`, `beta-retry-after` | Atlassian Jira Cloud <https://developer.atlassian.com/cloud/jira/platform/rate-limiting/> |
//! | `retry-after-ms`, `x-ms-retry-after-ms` | Azure (win over `Retry-After`) <https://github.com/Azure/azure-sdk-for-js/blob/main/sdk/core/core-rest-pipeline/src/retryStrategies/throttlingRetryStrategy.ts> |
//! | `x-retry-after` | BigCommerce |
//! | `x-ratelimit-retry-after` | MailerLite <https://developers-classic.mailerlite.com/docs/api-rate-limits> |
//! | `x-ms-ratelimit-remaining-*: [NAME;]COUNT` | Azure Resource Manager and resource providers |
//! | `x-gorgias-account-api-call-limit` | Gorgias <https://developers.gorgias.com/reference/limitations-1> |
//! | `x-ratelimit-usage`, `x-readratelimit-{limit,usage}` (15 minutes, then a day) | Strava <https://developers.strava.com/docs/rate-limits> |
//! | `x-ai-ratelimit-{limit,remaining,reset}-INSTANCE` | Apache APISIX `ai-rate-limiting` <https://apisix.apache.org/docs/apisix/plugins/ai-rate-limiting> |
//! | `backoff` | Zotero <https://www.zotero.org/support/dev/web_api/v3/basics> |
//! | `x-sentry-rate-limits: SECONDS:CATEGORIES:SCOPE, ...` | Sentry ingestion (the official Go SDK) |

use std::time::Duration;

use http::HeaderMap;

use super::{Assumption, Context, PolicyState, Signal, WarningKind, ietf};

mod shape;
mod values;

use shape::{Word, fixed, shape, split_name};
use values::{
    azure_remaining, call_limit, millis, retry_value, sentry_limits, strava, window_value,
};

/// Prefixes (before `ratelimit`/`rate-limit`) whose vendors document the shape read here.
const KNOWN_PREFIXES: [&str; 11] = [
    "",
    "x-ai-",
    "x-contentful-",
    "x-",
    "anthropic-",
    "x-sib-",
    "fastly-",
    "x-hon-",
    "x-sentry-",
    "x-hubspot-",
    "beta-",
];

/// Retry hints whose vendors document them, with their unit (true: milliseconds).
const KNOWN_RETRY: [(&str, bool); 6] = [
    ("retry-after-ms", true),
    ("x-ms-retry-after-ms", true),
    ("x-retry-after", false),
    ("x-ratelimit-retry-after", false),
    ("x-rate-limit-retry-after", false),
    ("beta-retry-after", false),
];

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// The most policies read from prefixed families in one response: a hostile server naming a
/// new one on every line does not grow the signal without bound.
const MAX_POLICIES: usize = 16;

/// Whether a header name (lower case) is one this module reads. Checked for every header the
/// fixed names do not match, so kept to a few substring tests.
pub(crate) fn interesting(name: &str) -> bool {
    name.contains("ratelimit")
        || name.contains("rate-limit")
        || name.ends_with("retry-after")
        || name.ends_with("retry-after-ms")
        || name.ends_with("api-call-limit")
        || name.ends_with("limit-remaining")
        || name == "backoff"
}

/// Prefixed policies gathered from one response.
#[derive(Debug, Default)]
struct Gathered {
    /// (prefix, policy name, state); at most [`MAX_POLICIES`].
    policies: Vec<(String, Option<String>, PolicyState, Option<u64>)>,
}

impl Gathered {
    fn entry(
        &mut self,
        prefix: &str,
        name: Option<String>,
    ) -> Option<&mut (String, Option<String>, PolicyState, Option<u64>)> {
        let i = match self
            .policies
            .iter()
            .position(|(p, n, ..)| p == prefix && *n == name)
        {
            Some(i) => i,
            None if self.policies.len() < MAX_POLICIES => {
                self.policies.push((
                    prefix.to_owned(),
                    name.clone(),
                    PolicyState::named(name),
                    None,
                ));
                self.policies.len() - 1
            }
            None => return None,
        };
        Some(&mut self.policies[i])
    }
}

/// Reads every field of this module's shapes into `s`. Fields the fixed families already set
/// are kept, except that a milliseconds retry hint wins over `Retry-After` (Azure's SDK reads
/// `retry-after-ms`, then `x-ms-retry-after-ms`, then `Retry-After`).
pub(crate) fn parse(headers: &HeaderMap, cx: &Context, s: &mut Signal) {
    let mut gathered = Gathered::default();
    let mut retry_ms: Option<Duration> = None;
    let mut retry: Option<Duration> = None;
    let mut structured: Vec<(&str, bool)> = Vec::new();
    // The window a recognised vendor documents for its limit, when its headers do not say it.
    let mut vendor_window: Option<Duration> = None;
    for (name, value) in headers {
        let n = name.as_str();
        if !interesting(n) {
            continue;
        }
        let v = value.as_bytes();
        if n == "backoff" {
            if let Some(d) = retry_value(n, v, false, cx, s) {
                s.backoff = Some(s.backoff.map_or(d, |b| b.max(d)));
            }
            continue;
        }
        if n == "x-sentry-rate-limits" {
            sentry_limits(v, s, &mut retry);
            continue;
        }
        if let Some(rest) = n.strip_prefix("x-ms-ratelimit-remaining-") {
            azure_remaining(rest, v, cx, s, &mut gathered);
            continue;
        }
        if n.ends_with("retry-after") || n.ends_with("retry-after-ms") {
            if n == "retry-after" {
                continue;
            }
            let known = KNOWN_RETRY.iter().find(|(k, _)| *k == n);
            let millis = known.map_or(n.ends_with("-ms"), |(_, ms)| *ms);
            if known.is_none() {
                s.warn(n, WarningKind::Assumed(Assumption::RetryAfter), v);
            }
            if let Some(d) = retry_value(n, v, millis, cx, s) {
                let slot = if millis { &mut retry_ms } else { &mut retry };
                *slot = Some(slot.map_or(d, |r| r.max(d)));
            }
            continue;
        }
        if let Some(kind) = n
            .strip_prefix("x-")
            .and_then(|r| r.strip_suffix("limit-remaining"))
            .filter(|k| matches!(*k, "day" | "min" | "appmin"))
        {
            // Xero: `X-DayLimit-Remaining`, `X-MinLimit-Remaining`, `X-AppMinLimit-Remaining`.
            let remaining = cx.remaining(n, v, s);
            let window = Duration::from_secs(if kind == "day" { 86_400 } else { 60 });
            if let (Some(r), Some((_, _, p, _))) =
                (remaining, gathered.entry("x-", Some(kind.to_owned())))
            {
                p.remaining = Some(r);
                p.window = Some(window);
            }
            continue;
        }
        if n.ends_with("api-call-limit") {
            if n == "x-shopify-shop-api-call-limit" {
                continue;
            }
            if n != "x-gorgias-account-api-call-limit" {
                s.warn(n, WarningKind::Assumed(Assumption::RateLimitField), v);
            }
            call_limit(n, v, cx, s);
            continue;
        }
        if n.starts_with("x-readratelimit-") || n == "x-ratelimit-usage" {
            // Strava's pairs, read together below.
            continue;
        }
        let Some((prefix, rest)) = split_name(n) else {
            continue;
        };
        if fixed(n) {
            continue;
        }
        let known = KNOWN_PREFIXES.contains(&prefix);
        if rest.is_empty() || rest == "-policy" {
            if prefix == "x-" && rest.is_empty() {
                // `X-Rate-Limit: 700` (Zendesk, Zalando), `X-RateLimit: 100` (Composio): the limit.
                if s.limit.is_none() {
                    s.limit = cx.count(n, v, s);
                }
            } else {
                let base = &n[..n.len() - rest.len()];
                if !structured.iter().any(|(b, _)| *b == base) {
                    structured.push((base, known));
                }
            }
            continue;
        }
        if prefix == "zendesk-" {
            // Zendesk: `X-Rate-Limit` is "the account's limit per minute".
            vendor_window = Some(MINUTE);
        }
        if prefix == "fastly-" {
            // Fastly: "up to 1,000 non-read requests per hour".
            vendor_window = Some(HOUR);
        }
        if prefix.is_empty() && matches!(rest, "-observed" | "-name") {
            // GitLab: "RateLimit-Limit: the request quota for the client each minute".
            vendor_window = Some(MINUTE);
        }
        let sh = shape(rest);
        let Some(word) = sh.word else {
            continue;
        };
        if !known {
            s.warn(n, WarningKind::Assumed(Assumption::RateLimitField), v);
        }
        let policy = (!sh.policy.is_empty()).then(|| sh.policy.join("-"));
        let Some((_, _, p, used)) = gathered.entry(prefix, policy) else {
            continue;
        };
        match word {
            Word::Limit => {
                if p.limit.is_none() {
                    let (limit, window) = super::xratelimit::limit_with_window(n, v, cx, s);
                    p.limit = limit;
                    p.window = p.window.or(window);
                }
            }
            Word::Remaining => {
                let r = cx.remaining(n, v, s);
                p.remaining = match (p.remaining, r) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            Word::Used => *used = used.or(cx.count(n, v, s)),
            Word::Reset => {
                if p.reset_in.is_none() {
                    p.reset_in = if sh.millis {
                        millis(n, v, s)
                    } else {
                        cx.reset_in(n, v, s)
                    };
                }
                // Contentful: on a 429, `X-Contentful-RateLimit-Reset` is "the time before the
                // limit resets and another request will be accepted".
                if prefix == "x-contentful-"
                    && cx.status == http::StatusCode::TOO_MANY_REQUESTS
                    && let Some(d) = p.reset_in
                {
                    retry = Some(retry.map_or(d, |r| r.max(d)));
                }
            }
            Word::Window => {
                if p.window.is_none() {
                    p.window = if sh.millis {
                        millis(n, v, s)
                    } else {
                        window_value(n, v, s)
                    };
                }
            }
            Word::Next => {
                // Akamai's `X-RateLimit-Next`: when the next request is allowed.
                if let Some(d) = cx.reset_in(n, v, s) {
                    retry = Some(retry.map_or(d, |r| r.max(d)));
                }
            }
        }
        if p.window.is_none() {
            p.window = sh.window;
        }
    }
    if let Some(d) = retry_ms {
        s.retry_after = Some(d);
    } else if s.retry_after.is_none() {
        s.retry_after = retry;
    }
    if s.policies.is_empty() {
        for (base, known) in structured {
            if !known {
                s.warn(base, WarningKind::Assumed(Assumption::StructuredField), b"");
            }
            ietf::parse_structured_named(headers, base, s);
            if !s.policies.is_empty() {
                break;
            }
        }
    }
    merge(gathered, s);
    strava(headers, cx, s);
    if s.window.is_none() && (s.limit.is_some() || s.remaining.is_some()) {
        s.window = vendor_window;
    }
}

/// Puts what the prefixed families said into `s`. One policy with no name fills the top-level
/// fields the fixed families left empty; several become [`Signal::policies`] (with the
/// top-level window, when another family reported one, kept as a policy of its own so the
/// throttle still sees it), and the binding one fills what is left empty.
fn merge(mut g: Gathered, s: &mut Signal) {
    // Fields with no policy word under a prefix with exactly one policy are that policy's
    // (BigCommerce's `time-reset-ms` belongs with `requests-left`).
    let mut i = 0;
    while i < g.policies.len() {
        let prefix = g.policies[i].0.clone();
        let named: Vec<usize> = (0..g.policies.len())
            .filter(|&j| g.policies[j].0 == prefix && g.policies[j].1.is_some())
            .collect();
        if g.policies[i].1.is_none()
            && g.policies[i].2.limit.is_none()
            && g.policies[i].2.remaining.is_none()
            && let [only] = named[..]
        {
            let (_, _, lone, _) = g.policies.remove(i);
            let j = if only > i { only - 1 } else { only };
            let p = &mut g.policies[j].2;
            p.reset_in = p.reset_in.or(lone.reset_in);
            p.window = p.window.or(lone.window);
            continue;
        }
        i += 1;
    }
    let mut policies: Vec<PolicyState> = g
        .policies
        .into_iter()
        .filter_map(|(_, _, mut p, used)| {
            if p.remaining.is_none()
                && let (Some(l), Some(u)) = (p.limit, used)
            {
                p.remaining = Some(l.saturating_sub(u));
            }
            let any = p.limit.is_some()
                || p.remaining.is_some()
                || p.reset_in.is_some()
                || p.window.is_some();
            any.then_some(p)
        })
        .collect();
    // Fields with no policy word describe the same window as the fixed families' top level.
    if let Some(i) = policies.iter().position(|p| p.name.is_none()) {
        let p = policies.remove(i);
        s.limit = s.limit.or(p.limit);
        s.remaining = s.remaining.or(p.remaining);
        s.reset_in = s.reset_in.or(p.reset_in);
        s.window = s.window.or(p.window);
    }
    if policies.is_empty() {
        return;
    }
    if s.policies.is_empty() && (s.remaining.is_some() || s.limit.is_some()) {
        s.policies.push(PolicyState {
            name: s.policy.clone().or_else(|| s.bucket.clone()),
            limit: s.limit,
            remaining: s.remaining,
            window: s.window,
            reset_in: s.reset_in,
        });
    }
    for p in policies {
        if !s.policies.iter().any(|q| q.name == p.name) {
            s.policies.push(p);
        }
    }
    let binding = s
        .policies
        .iter()
        .filter(|p| p.remaining.is_some())
        .min_by_key(|p| (p.remaining, std::cmp::Reverse(p.reset_in)))
        .or_else(|| s.policies.first())
        .cloned();
    if let Some(b) = binding {
        s.limit = s.limit.or(b.limit);
        s.remaining = s.remaining.or(b.remaining);
        s.reset_in = s.reset_in.or(b.reset_in);
        s.window = s.window.or(b.window);
        s.policy = s.policy.clone().or(b.name);
    }
}
