//! Signals: what a server's status and headers say about its limits, as one typed value.
//!
//! [`SignalParser::parse`] reads a response's status and headers into a [`Signal`]. It knows:
//!
//! | family | headers |
//! |---|---|
//! | RFC 9110 | `Retry-After` (delay-seconds; IMF-fixdate, RFC 850, asctime), `Date` |
//! | IETF structured (draft-ietf-httpapi-ratelimit-headers ≥ 08) | `RateLimit: "name";r=..;t=..`, `RateLimit-Policy: "name";q=..;w=..` (several policies) |
//! | IETF draft 07 | `RateLimit: limit=..,remaining=..,reset=..`, `RateLimit-Policy: 10;w=1` |
//! | IETF drafts ≤ 06 | `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (delta seconds) |
//! | X-RateLimit | `X-RateLimit-*`, `X-Rate-Limit-*`, `X-RateLimit-Policy` |
//! | GitHub | `x-ratelimit-used`, `x-ratelimit-resource`, 403 as throttling |
//! | Discord | `X-RateLimit-Reset-After`, `-Bucket`, `-Global`, `-Scope` |
//! | Reddit | decimal counts (`x-ratelimit-used: 4.0`) |
//! | Shopify | `X-Shopify-Shop-Api-Call-Limit: 32/40` |
//! | Salesforce | `Sforce-Limit-Info: api-usage=25/5000` (a 24-hour quota) |
//! | Stripe | `Stripe-Should-Retry: true\|false` |
//! | vendor prefixes | `X-Sib-RateLimit-*`, `Fastly-RateLimit-*`, `anthropic-ratelimit-requests-*`, `X-HubSpot-RateLimit-*`, `X-Contentful-RateLimit-*`, `Beta-RateLimit` (IETF fields under a prefix)... |
//! | per resource or window | `x-ratelimit-limit-requests`/`-tokens` (OpenAI), `X-RateLimit-Limit-Minute`, `-Daily`, `X-RateLimit-Period`, `-Window`, BigCommerce's `-Ms`, Xero's `X-DayLimit-Remaining`, Strava's `200,2000`, parallel lists (`1, 15000`) |
//! | retry hints | `retry-after-ms`, `x-ms-retry-after-ms` (win over `Retry-After`), `X-RateLimit-Retry-After`, `X-Retry-After`, `Backoff`, `X-Sentry-Rate-Limits`, decimal `Retry-After` |
//! | bodies ([`SignalParser::parse_body`]) | GraphQL throttle errors in a 200 (Shopify `THROTTLED` with the cost to wait for, GitHub `RATE_LIMITED`), Stack Exchange `quota_*`/`backoff`, JSON `retry_after` |
//!
//! Names of an unknown vendor in a known shape (`X-Acme-RateLimit-Remaining`,
//! `Acme-Retry-After`) are read too, with a [`WarningKind::Assumed`] warning naming what was
//! assumed. A `remaining` below zero is 0 (with a warning); a field on several lines gives its
//! most restrictive value (with a warning).
//!
//! Precedence when several families are present: IETF structured, then the IETF drafts, then
//! `X-RateLimit-*`, then `X-Rate-Limit-*`, then vendor fields; a field already known is not
//! overwritten by a later family. Dialects the caller adds ([`SignalParser::with_dialect`]) run
//! last and may overwrite anything.
//!
//! **Time.** Waits are computed against the response's own `Date` header when it has a valid one
//! (a client whose clock is off still waits the right amount), else against the wall-clock time
//! the response was received. Reset values are told apart by [`ResetRule`].
//!
//! **Hostile values** never panic and never overflow: negative numbers, `NaN`, exponents and
//! garbage are ignored with a [`Warning`] kept in the signal. Implausible ones are refused with
//! [`WarningKind::Implausible`], not saturated: a count beyond 2^53 ([`MAX_COUNT`]), a reset or
//! window further than 400 days ([`MAX_RESET`]). `Retry-After` alone saturates (a 10 KB run of
//! digits is a very long wait): whether a long wait is acceptable is decided later, against the
//! caller's maximum (see [`crate::retry::RetryPolicy::max_wait`]), where it is a typed error.
//!
//! ```
//! use http::{HeaderMap, StatusCode};
//! use paceline::headers::SignalParser;
//! use std::time::{Duration, SystemTime};
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("x-ratelimit-limit", "5000".parse().unwrap());
//! headers.insert("x-ratelimit-remaining", "0".parse().unwrap());
//! headers.insert("x-ratelimit-reset", "30".parse().unwrap());
//! let signal = SignalParser::new().parse(StatusCode::TOO_MANY_REQUESTS, &headers, SystemTime::now());
//! assert_eq!(signal.remaining, Some(0));
//! assert_eq!(signal.must_wait(), Duration::from_secs(30));
//! ```

mod body;
mod dialect;
mod fields;
mod ietf;
pub(crate) mod link;
pub(crate) mod number;
mod prefixed;
mod reset;
mod retry_after;
mod signal;
mod vendor;
mod xratelimit;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::RETRY_AFTER;
use http::{HeaderMap, StatusCode};

pub use dialect::{Context, Dialect};
pub use reset::ResetRule;
pub use retry_after::{RetryAfter, RetryAfterError, parse_retry_after};
pub use signal::{Assumption, MAX_COUNT, MAX_RESET, PolicyState, Signal, Warning, WarningKind};

/// Limits whose window (or time to reset) is longer than this are quotas: an hour, plus a
/// minute so an hourly window whose reset is rounded up (an epoch second measured from a `Date`
/// rounded down) is still an hourly window.
pub const DEFAULT_QUOTA_HORIZON: Duration = Duration::from_secs(3600 + 60);

/// Parses responses into [`Signal`]s. Cheap to clone; configure once, use for every response.
#[derive(Debug, Clone)]
pub struct SignalParser {
    reset_rule: ResetRule,
    quota_horizon: Duration,
    dialects: Vec<Arc<dyn Dialect>>,
}

impl Default for SignalParser {
    fn default() -> Self {
        SignalParser::new()
    }
}

impl SignalParser {
    /// The default: [`ResetRule::Auto`], a quota horizon of an hour and a minute, the built-in
    /// dialects.
    pub fn new() -> Self {
        SignalParser {
            reset_rule: ResetRule::Auto,
            quota_horizon: DEFAULT_QUOTA_HORIZON,
            dialects: Vec::new(),
        }
    }

    /// How ambiguous `X-RateLimit-Reset` values are read (default [`ResetRule::Auto`]).
    pub fn reset_rule(mut self, rule: ResetRule) -> Self {
        self.reset_rule = rule;
        self
    }

    /// A limit whose window (or, window unknown, time to reset) is longer than this is a quota:
    /// exhausting it sets [`Signal::quota_exhausted`]. Default [`DEFAULT_QUOTA_HORIZON`] (an hour
    /// and a minute), so GitHub's hourly
    /// primary limit is a rate limit, and a daily or monthly budget is a quota.
    pub fn quota_horizon(mut self, horizon: Duration) -> Self {
        self.quota_horizon = horizon;
        self
    }

    /// The current quota horizon.
    pub fn horizon(&self) -> Duration {
        self.quota_horizon
    }

    /// Adds a dialect of the caller's; it runs after the built-in ones.
    pub fn with_dialect(mut self, dialect: impl Dialect + 'static) -> Self {
        self.dialects.push(Arc::new(dialect));
        self
    }

    /// Reads `status` and `headers` into a [`Signal`]. `received` is the wall-clock time the
    /// response arrived; the response's `Date` header, when valid, takes its place as the
    /// reference for wall-clock values. Total: never panics, whatever the headers hold.
    pub fn parse(&self, status: StatusCode, headers: &HeaderMap, received: SystemTime) -> Signal {
        let mut signal = Signal {
            status: Some(status),
            ..Signal::default()
        };
        let f = fields::Fields::scan(headers);
        let mut reference = received;
        // `Date` matters only to read a wall-clock value; parsing it costs more than the rest
        // of a typical response's headers, so it is skipped when nothing needs it.
        if let Some(v) = f
            .get(fields::Field::Date)
            .filter(|_| f.needs_reference() || !self.dialects.is_empty())
        {
            match std::str::from_utf8(v)
                .ok()
                .and_then(|s| httpdate::parse_http_date(s.trim()).ok())
            {
                Some(date) => {
                    signal.server_date = Some(date);
                    reference = reference_time(date, received);
                }
                None => signal.warn("date", WarningKind::BadDate, v),
            }
        }
        let cx = Context {
            status,
            reference,
            reset_rule: self.reset_rule,
        };

        if f.get(fields::Field::RetryAfter).is_some() {
            // On several lines, the longest wait: the most restrictive.
            let mut valid = 0;
            for v in headers.get_all(RETRY_AFTER) {
                match parse_retry_after(v.as_bytes()) {
                    Ok(ra) => {
                        let d = ra.delay_from(reference);
                        valid += 1;
                        signal.retry_after = Some(signal.retry_after.map_or(d, |r| r.max(d)));
                    }
                    Err(e) => signal.warn("retry-after", WarningKind::RetryAfter(e), v.as_bytes()),
                }
            }
            if valid > 1
                && let Some(d) = signal.retry_after
            {
                signal.warn(
                    "retry-after",
                    WarningKind::Assumed(Assumption::MostRestrictive),
                    format!("{}", d.as_secs_f64()).as_bytes(),
                );
            }
        }

        if f.get(fields::Field::RateLimit).is_some()
            || f.get(fields::Field::RateLimitPolicy).is_some()
        {
            ietf::parse_structured(headers, &mut signal);
        }
        ietf::parse_draft(&f, &cx, &mut signal);
        xratelimit::parse(
            headers,
            &f,
            &cx,
            &mut signal,
            xratelimit::Prefix::XRateLimit,
        );
        xratelimit::parse(
            headers,
            &f,
            &cx,
            &mut signal,
            xratelimit::Prefix::XRateLimitDashed,
        );
        vendor::parse(&f, &cx, &mut signal);
        if f.others() {
            prefixed::parse(headers, &cx, &mut signal);
        }
        for d in &self.dialects {
            d.parse(headers, &cx, &mut signal);
        }
        self.finish(&mut signal);
        signal
    }

    /// Reads limits a response reports in its JSON body (GraphQL cost: Shopify's
    /// `extensions.cost.throttleStatus`, GitHub's `data.rateLimit`) into `signal`, then
    /// re-derives the quota flag. Headers win where both speak.
    pub fn parse_body(&self, signal: &mut Signal, body: &[u8]) {
        body::parse(signal, body);
        self.finish(signal);
    }

    /// Derives what follows from the fields: remaining from used, consistency, quota.
    fn finish(&self, s: &mut Signal) {
        // RFC 9110 §10.2.3 gives `Retry-After` a meaning on 503 and 3xx, RFC 6585 on 429 (and
        // throttling 403s carry it). Some limiters send it on every success (`Retry-After: 1`
        // on a 200 that still had budget), where obeying it would cut the rate to one a
        // second: on a 2xx it counts only as a hint of when a window the same response says
        // is used up comes back.
        // A zero says "go on" and is kept (Atlassian Data Center sends `retry-after: 0` while
        // tokens remain). A throttled 2xx (GraphQL) is a refusal, where it counts in full.
        if s.status.is_some_and(|st| st.is_success())
            && !s.throttled
            && s.retry_after.is_some_and(|d| !d.is_zero())
            && s.remaining != Some(0)
            && !s.policies.iter().any(|p| p.remaining == Some(0))
        {
            s.retry_after = None;
        }
        // A pause asked for on a success is one the throttle takes too.
        if let Some(b) = s.backoff.filter(|b| !b.is_zero()) {
            s.retry_after = Some(s.retry_after.map_or(b, |r| r.max(b)));
        }
        if s.remaining.is_none()
            && let (Some(limit), Some(used)) = (s.limit, s.used)
        {
            s.remaining = Some(limit.saturating_sub(used));
        }
        if let (Some(limit), Some(remaining)) = (s.limit, s.remaining)
            && remaining > limit
        {
            s.warn(
                "x-ratelimit-remaining",
                WarningKind::Inconsistent,
                remaining.to_string().as_bytes(),
            );
            s.remaining = Some(limit);
        }
        let long = |window: Option<Duration>, reset: Option<Duration>| match window {
            Some(w) => w > self.quota_horizon,
            None => reset.is_some_and(|r| r > self.quota_horizon),
        };
        s.quota_exhausted = s.quota_exhausted
            || (s.remaining == Some(0) && long(s.window, s.reset_in))
            || s.policies
                .iter()
                .any(|p| p.remaining == Some(0) && long(p.window, p.reset_in));
    }
}

/// The instant wall-clock values in a response are read against: the time it was received,
/// unless the server's `Date` says the client's clock is off by more than 2 s — then `Date`
/// (the server's values and its `Date` come from one clock). Against `Date` alone, an epoch
/// reset the server rounds up and a `Date` that truncates would stack two roundings: up to two
/// seconds late on a one-second window.
fn reference_time(date: SystemTime, received: SystemTime) -> SystemTime {
    const SKEW: Duration = Duration::from_secs(2);
    let apart = match received.duration_since(date) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    if apart <= SKEW { received } else { date }
}

#[cfg(test)]
mod tests;
