//! Limits reported in a response body: GraphQL APIs that count query cost, and JSON errors
//! that say how long to wait.
//!
//! Sources:
//! - Shopify: <https://shopify.dev/docs/api/usage/rate-limits#graphql-admin-api-rate-limits>
//!   (`extensions.cost.throttleStatus { maximumAvailable, currentlyAvailable, restoreRate }`, a
//!   leaky bucket restoring `restoreRate` points per second).
//! - GitHub: <https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api>
//!   (`data.rateLimit { limit, remaining, used, cost }`, when the query asks for it; a
//!   `RATE_LIMITED` error in a 200 when the primary limit is spent).
//! - Shopify's throttled query: an error `THROTTLED` in a 200; the query's
//!   `requestedQueryCost` comes back at `restoreRate`.
//! - Stack Exchange: <https://api.stackexchange.com/docs/wrapper> (`quota_max`,
//!   `quota_remaining` of a daily quota; `backoff` seconds).
//! - monday.com: <https://developer.monday.com/api-reference/docs/errors>
//!   (`ComplexityException`, "reset in N seconds" in the message).
//! - Dropbox (`error.retry_after`), Salesforce Marketing Cloud (`retryAfter`).

use std::time::Duration;

use serde_json::Value;

use super::number::secs_f64;
use super::{MAX_COUNT, MAX_RESET, Signal, WarningKind};

/// Texts that mark a body worth parsing; most bodies mention none and are not parsed.
const NEEDLES: [&[u8]; 8] = [
    b"\"throttleStatus\"",
    b"\"rateLimit\"",
    b"RATE_LIMITED",
    b"\"quota_remaining\"",
    b"\"backoff\"",
    b"ComplexityException",
    b"\"retry_after\"",
    b"\"retryAfter\"",
];

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A non-negative count; one beyond [`MAX_COUNT`] is refused with a warning.
fn count(v: Option<&Value>, field: &str, s: &mut Signal) -> Option<u64> {
    let x = v?.as_f64()?;
    if !(x.is_finite() && x >= 0.0) {
        return None;
    }
    if x > MAX_COUNT as f64 {
        s.warn(field, WarningKind::Implausible, x.to_string().as_bytes());
        return None;
    }
    Some(x as u64)
}

/// Seconds (a fraction allowed) as a wait; one beyond [`MAX_RESET`] is refused with a warning.
fn seconds(v: Option<&Value>, field: &str, s: &mut Signal) -> Option<Duration> {
    let x = v?.as_f64()?;
    if !(x.is_finite() && x >= 0.0) {
        return None;
    }
    let d = secs_f64(x);
    if d > MAX_RESET {
        s.warn(field, WarningKind::Implausible, x.to_string().as_bytes());
        return None;
    }
    Some(d)
}

fn longer(a: Option<Duration>, b: Duration) -> Option<Duration> {
    Some(a.map_or(b, |a| a.max(b)))
}

/// Whether a GraphQL `errors` array holds a throttle error: Shopify's `THROTTLED` (code in
/// `extensions.code`, message `Throttled`), GitHub's `RATE_LIMITED` (in `type`).
fn throttle_error(v: &Value) -> bool {
    v.get("errors")
        .and_then(Value::as_array)
        .is_some_and(|errors| {
            errors.iter().any(|e| {
                e.pointer("/extensions/code").and_then(Value::as_str) == Some("THROTTLED")
                    || e.get("type").and_then(Value::as_str) == Some("RATE_LIMITED")
                    || e.get("message").and_then(Value::as_str) == Some("Throttled")
            })
        })
}

/// `reset in N seconds` in monday.com's `ComplexityException` message.
fn monday_reset(v: &Value) -> Option<f64> {
    let msg = v.get("error_message")?.as_str()?;
    let at = msg.find("reset in ")? + "reset in ".len();
    let rest = &msg[at..];
    let end = rest.find(" second")?;
    rest[..end].trim().parse::<f64>().ok()
}

/// Reads body-reported limits into `signal` (fields already set by headers are kept). Bodies
/// that are not JSON, or do not mention a known field, are left alone; nothing here warns
/// about a body that is not about limits, since most are not.
pub(crate) fn parse(signal: &mut Signal, body: &[u8]) {
    if !NEEDLES.iter().any(|n| contains(body, n)) {
        return;
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let throttled = throttle_error(&v);
    signal.throttled |= throttled;
    if let Some(t) = v.pointer("/extensions/cost/throttleStatus") {
        let max = count(t.get("maximumAvailable"), "throttleStatus", signal);
        let available = count(t.get("currentlyAvailable"), "throttleStatus", signal);
        let rate = t
            .get("restoreRate")
            .and_then(Value::as_f64)
            .filter(|r| r.is_finite() && *r > 0.0);
        if signal.remaining.is_none() {
            signal.limit = max;
            signal.remaining = available;
            if let (Some(max), Some(avail), Some(rate)) = (max, available, rate) {
                // Full again after (max − available) / rate seconds; a full bucket lasts max / rate.
                // A restore rate so slow the bucket refills past any window is not believed.
                let refill = secs_f64(max.saturating_sub(avail) as f64 / rate);
                let window = secs_f64(max as f64 / rate).max(Duration::from_millis(1));
                if window > MAX_RESET {
                    signal.warn(
                        "throttleStatus",
                        WarningKind::Implausible,
                        rate.to_string().as_bytes(),
                    );
                } else {
                    signal.reset_in = Some(refill);
                    signal.window = Some(window);
                }
            }
        }
        // Throttled: the query's cost comes back after (cost − available) / rate seconds.
        let cost = count(
            v.pointer("/extensions/cost/requestedQueryCost"),
            "requestedQueryCost",
            signal,
        );
        if throttled && let (Some(cost), Some(avail), Some(rate)) = (cost, available, rate) {
            let wait = secs_f64(cost.saturating_sub(avail) as f64 / rate);
            if wait <= MAX_RESET {
                signal.retry_after = longer(signal.retry_after, wait);
            }
        }
    }
    if let Some(r) = v.pointer("/data/rateLimit")
        && signal.remaining.is_none()
    {
        signal.limit = count(r.get("limit"), "rateLimit", signal);
        signal.remaining = count(r.get("remaining"), "rateLimit", signal);
        signal.used = count(r.get("used"), "rateLimit", signal);
    }
    // Stack Exchange: a daily quota in every response, `backoff` seconds to wait before the
    // next request to the same method.
    if v.get("quota_max").is_some() && signal.remaining.is_none() {
        signal.limit = count(v.get("quota_max"), "quota_max", signal);
        signal.remaining = count(v.get("quota_remaining"), "quota_remaining", signal);
        signal.window = signal.window.or(Some(Duration::from_secs(86_400)));
    }
    if let Some(b) = seconds(v.get("backoff"), "backoff", signal) {
        signal.backoff = longer(signal.backoff, b);
    }
    if v.get("error_code").and_then(Value::as_str) == Some("ComplexityException")
        && let Some(d) = monday_reset(&v).filter(|x| x.is_finite() && *x >= 0.0)
    {
        signal.retry_after = signal.retry_after.or(Some(secs_f64(d).min(MAX_RESET)));
    }
    // A JSON error naming its retry delay (Dropbox's `error.retry_after`, Salesforce Marketing
    // Cloud's `retryAfter`), when no header did.
    if signal.retry_after.is_none() {
        for p in ["/error/retry_after", "/retry_after", "/retryAfter"] {
            if let Some(d) = seconds(v.pointer(p), "retry_after", signal) {
                signal.retry_after = Some(d);
                break;
            }
        }
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
