//! Limits reported in a response body, for GraphQL APIs that count query cost.
//!
//! Sources:
//! - Shopify: <https://shopify.dev/docs/api/usage/rate-limits#graphql-admin-api-rate-limits>
//!   (`extensions.cost.throttleStatus { maximumAvailable, currentlyAvailable, restoreRate }`, a
//!   leaky bucket restoring `restoreRate` points per second).
//! - GitHub: <https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api>
//!   (`data.rateLimit { limit, remaining, used, cost }`, when the query asks for it).

use std::time::Duration;

use serde_json::Value;

use super::Signal;
use super::number::secs_f64;

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn count(v: Option<&Value>) -> Option<u64> {
    let x = v?.as_f64()?;
    (x.is_finite() && x >= 0.0).then_some(x as u64)
}

/// Reads body-reported limits into `signal` (fields already set by headers are kept). Bodies
/// that are not JSON, or do not mention a known field, are left alone; nothing here warns, since
/// most bodies are not about limits.
pub(crate) fn parse(signal: &mut Signal, body: &[u8]) {
    let shopify = contains(body, b"\"throttleStatus\"");
    let github = contains(body, b"\"rateLimit\"");
    if !shopify && !github {
        return;
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    if let Some(t) = v.pointer("/extensions/cost/throttleStatus") {
        let max = count(t.get("maximumAvailable"));
        let available = count(t.get("currentlyAvailable"));
        let rate = t
            .get("restoreRate")
            .and_then(Value::as_f64)
            .filter(|r| r.is_finite() && *r > 0.0);
        if signal.remaining.is_none() {
            signal.limit = max;
            signal.remaining = available;
            if let (Some(max), Some(avail), Some(rate)) = (max, available, rate) {
                // Full again after (max − available) / rate seconds; a full bucket lasts max / rate.
                signal.reset_in = Some(secs_f64(max.saturating_sub(avail) as f64 / rate));
                signal.window = Some(secs_f64(max as f64 / rate).max(Duration::from_millis(1)));
            }
        }
    }
    if let Some(r) = v.pointer("/data/rateLimit")
        && signal.remaining.is_none()
    {
        signal.limit = count(r.get("limit"));
        signal.remaining = count(r.get("remaining"));
        signal.used = count(r.get("used"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shopify_throttle_status() {
        // The example from Shopify's GraphQL Admin API rate-limit docs.
        let body = br#"{"data":{},"extensions":{"cost":{"requestedQueryCost":101,"actualQueryCost":46,
            "throttleStatus":{"maximumAvailable":1000.0,"currentlyAvailable":954,"restoreRate":50.0}}}}"#;
        let mut s = Signal::default();
        parse(&mut s, body);
        assert_eq!((s.limit, s.remaining), (Some(1000), Some(954)));
        assert_eq!(s.reset_in, Some(Duration::from_millis(920)));
        assert_eq!(s.window, Some(Duration::from_secs(20)));
    }

    #[test]
    fn github_graphql_rate_limit() {
        let body = br#"{"data":{"rateLimit":{"limit":5000,"cost":1,"remaining":4999,"used":1,"resetAt":"2019-06-21T12:00:00Z"}}}"#;
        let mut s = Signal::default();
        parse(&mut s, body);
        assert_eq!(
            (s.limit, s.remaining, s.used),
            (Some(5000), Some(4999), Some(1))
        );
    }

    #[test]
    fn garbage_is_ignored() {
        let mut s = Signal::default();
        parse(&mut s, b"{\"rateLimit\": truncated");
        parse(&mut s, br#"{"extensions":{"cost":{"throttleStatus":{"maximumAvailable":-1,"currentlyAvailable":"x"}}}}"#);
        assert_eq!(s, Signal::default());
    }
}
