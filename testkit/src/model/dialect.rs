//! How a server model speaks about its limits: the header dialects real APIs use.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use super::limiter::Report;

/// A header dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// GitHub: `x-ratelimit-limit/remaining/used/reset` (epoch seconds) `/resource`; an
    /// exhausted primary limit answers 403.
    Github,
    /// IETF structured fields: `RateLimit-Policy: "name";q=..;w=..`, `RateLimit: "name";r=..;t=..`
    /// for every visible limiter.
    Ietf,
    /// `X-RateLimit-Limit/Remaining/Reset` with the reset in epoch seconds.
    XRateLimitEpoch,
    /// `X-RateLimit-Limit/Remaining/Reset` with the reset in seconds from now.
    XRateLimitDelta,
    /// Discord: epoch reset with a fraction, `Reset-After`, `Bucket`.
    Discord,
    /// Shopify: `X-Shopify-Shop-Api-Call-Limit: used/capacity`.
    Shopify,
    /// No rate-limit headers at all.
    #[default]
    None,
    /// `X-RateLimit-*` that promise more than the limiter allows (twice the remaining, half
    /// the reset).
    Lying,
}

/// One visible limiter's state, for rendering.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a> {
    /// Its name.
    pub name: &'a str,
    /// What it reports.
    pub report: Report,
}

fn put(h: &mut HeaderMap, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        h.append(HeaderName::from_static(name), v);
    }
}

/// A number, formatted straight into the header value (no intermediate string).
fn put_num(h: &mut HeaderMap, name: &'static str, value: u64) {
    h.append(HeaderName::from_static(name), HeaderValue::from(value));
}

fn epoch_secs_ceil(wall: SystemTime, plus_ns: u64) -> u64 {
    let at = wall + Duration::from_nanos(plus_ns);
    let d = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn secs_ceil(ns: u64) -> u64 {
    ns.div_ceil(1_000_000_000)
}

impl Dialect {
    /// Writes the headers for `shown` (binding limiter first) into `h`.
    pub fn render(self, h: &mut HeaderMap, wall: SystemTime, shown: &[Shown<'_>]) {
        let Some(first) = shown.first() else { return };
        let r = first.report;
        match self {
            Dialect::None => {}
            Dialect::Github => {
                put_num(h, "x-ratelimit-limit", r.limit);
                put_num(h, "x-ratelimit-remaining", r.remaining);
                put_num(h, "x-ratelimit-used", r.limit - r.remaining);
                put_num(h, "x-ratelimit-reset", epoch_secs_ceil(wall, r.reset_in_ns));
                put(h, "x-ratelimit-resource", first.name);
            }
            Dialect::Ietf => {
                let policy: Vec<String> = shown
                    .iter()
                    .map(|s| {
                        format!(
                            "\"{}\";q={};w={}",
                            s.name,
                            s.report.limit,
                            secs_ceil(s.report.window_ns).max(1)
                        )
                    })
                    .collect();
                let state: Vec<String> = shown
                    .iter()
                    .map(|s| {
                        format!(
                            "\"{}\";r={};t={}",
                            s.name,
                            s.report.remaining,
                            secs_ceil(s.report.reset_in_ns)
                        )
                    })
                    .collect();
                put(h, "ratelimit-policy", policy.join(", "));
                put(h, "ratelimit", state.join(", "));
            }
            Dialect::XRateLimitEpoch | Dialect::XRateLimitDelta => {
                put_num(h, "x-ratelimit-limit", r.limit);
                put_num(h, "x-ratelimit-remaining", r.remaining);
                let reset = if self == Dialect::XRateLimitEpoch {
                    epoch_secs_ceil(wall, r.reset_in_ns)
                } else {
                    secs_ceil(r.reset_in_ns)
                };
                put_num(h, "x-ratelimit-reset", reset);
            }
            Dialect::Discord => {
                let at = wall + Duration::from_nanos(r.reset_in_ns);
                let epoch = at
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64();
                put_num(h, "x-ratelimit-limit", r.limit);
                put_num(h, "x-ratelimit-remaining", r.remaining);
                put(h, "x-ratelimit-reset", format!("{epoch:.3}"));
                put(
                    h,
                    "x-ratelimit-reset-after",
                    format!("{:.3}", r.reset_in_ns as f64 / 1e9),
                );
                put(h, "x-ratelimit-bucket", first.name);
            }
            Dialect::Shopify => {
                put(
                    h,
                    "x-shopify-shop-api-call-limit",
                    format!("{}/{}", r.limit - r.remaining, r.limit),
                );
            }
            Dialect::Lying => {
                put_num(h, "x-ratelimit-limit", r.limit * 2);
                put(
                    h,
                    "x-ratelimit-remaining",
                    (r.remaining * 2 + 5).min(r.limit * 2),
                );
                put_num(h, "x-ratelimit-reset", secs_ceil(r.reset_in_ns / 2));
            }
        }
    }

    /// The status an exhausted visible limit answers with.
    pub fn throttle_status(self) -> u16 {
        match self {
            Dialect::Github => 403,
            _ => 429,
        }
    }
}
