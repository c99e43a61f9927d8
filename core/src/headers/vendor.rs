//! Vendor headers outside the `X-RateLimit` family.
//!
//! Sources:
//! - Shopify: <https://shopify.dev/docs/api/usage/rate-limits>
//!   (`X-Shopify-Shop-Api-Call-Limit: 32/40`, a leaky bucket: 32 used of 40).
//! - Salesforce: <https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm>
//!   (`Sforce-Limit-Info: api-usage=25/5000`, a rolling 24-hour allocation).
//! - Stripe: <https://docs.stripe.com/error-low-level#server-errors>
//!   (`Stripe-Should-Retry: true|false` overrides the status heuristic).

use std::time::Duration;

use super::fields::{Field, Fields};
use super::number::trim_ows;
use super::{Context, PolicyState, Signal, WarningKind};

const DAY: Duration = Duration::from_secs(86_400);

/// `a/b` as (a, b).
fn fraction(header: &str, v: &[u8], cx: &Context, s: &mut Signal) -> Option<(u64, u64)> {
    let Some(slash) = v.iter().position(|b| *b == b'/') else {
        s.warn(header, WarningKind::NotANumber, v);
        return None;
    };
    let used = cx.count(header, &v[..slash], s)?;
    let limit = cx.count(header, &v[slash + 1..], s)?;
    Some((used, limit))
}

pub(crate) fn parse(f: &Fields<'_>, cx: &Context, s: &mut Signal) {
    if let Some(v) = f.get(Field::Shopify)
        && let Some((used, limit)) = fraction("x-shopify-shop-api-call-limit", v, cx, s)
        && s.limit.is_none()
    {
        s.used = Some(used);
        s.limit = Some(limit);
        s.remaining = Some(limit.saturating_sub(used));
    }
    if let Some(v) = f.get(Field::Salesforce) {
        let v = trim_ows(v);
        match v.strip_prefix(b"api-usage=") {
            Some(rest) => {
                if let Some((used, limit)) = fraction("sforce-limit-info", rest, cx, s) {
                    let remaining = limit.saturating_sub(used);
                    s.policies.push(PolicyState {
                        name: Some("api-usage".into()),
                        limit: Some(limit),
                        remaining: Some(remaining),
                        window: Some(DAY),
                        reset_in: None,
                    });
                    if s.limit.is_none() {
                        s.used = Some(used);
                        s.limit = Some(limit);
                        s.remaining = Some(remaining);
                        s.window = Some(DAY);
                        s.policy = Some("api-usage".into());
                    }
                }
            }
            None => s.warn("sforce-limit-info", WarningKind::NotANumber, v),
        }
    }
    if let Some(v) = f.get(Field::StripeShouldRetry) {
        let v = trim_ows(v);
        if v.eq_ignore_ascii_case(b"true") {
            s.should_retry = Some(true);
        } else if v.eq_ignore_ascii_case(b"false") {
            s.should_retry = Some(false);
        } else {
            s.warn("stripe-should-retry", WarningKind::NotANumber, v);
        }
    }
}
