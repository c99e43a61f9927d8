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
mod fields;
mod ietf;
pub(crate) mod number;
mod prefixed;
mod reset;
mod retry_after;
mod vendor;
mod xratelimit;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::RETRY_AFTER;
use http::{HeaderMap, StatusCode};

pub use reset::ResetRule;
pub use retry_after::{RetryAfter, RetryAfterError, parse_retry_after};

/// Everything a response said about limits, in one value.
///
/// Top-level fields describe the *binding* limit: the one that runs out first. When a server
/// reports several policies at once (IETF `RateLimit` with several names), each is also listed
/// in [`Signal::policies`].
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Signal {
    /// The response status, when the signal came from a response.
    pub status: Option<StatusCode>,
    /// The wait `Retry-After` asked for, from the time of the response (the first valid
    /// instance wins when the header is repeated).
    pub retry_after: Option<Duration>,
    /// Requests (or units) allowed in the window.
    pub limit: Option<u64>,
    /// Requests (or units) left in the window.
    pub remaining: Option<u64>,
    /// Requests (or units) used in the window.
    pub used: Option<u64>,
    /// Time until the window resets, from the time of the response.
    pub reset_in: Option<Duration>,
    /// The window's length, when the server says it.
    pub window: Option<Duration>,
    /// The policy's name (`X-RateLimit-Policy`, an IETF policy name).
    pub policy: Option<String>,
    /// A bucket the server names (Discord's `X-RateLimit-Bucket`, GitHub's resource).
    pub bucket: Option<String>,
    /// Discord: the limit hit is the global one, which pauses every bucket.
    pub global: bool,
    /// Discord's `X-RateLimit-Scope` (`user`, `global`, `shared`).
    pub scope: Option<String>,
    /// Every policy reported, when there are several.
    pub policies: Vec<PolicyState>,
    /// A long-window quota (longer than [`SignalParser::quota_horizon`]) is used up: waiting for
    /// it is a matter of hours or days, not a retry.
    pub quota_exhausted: bool,
    /// A vendor's explicit verdict on retrying (Stripe's `Stripe-Should-Retry`).
    pub should_retry: Option<bool>,
    /// The response says the request was refused for its rate although its status is a
    /// success: a GraphQL throttle error in a 200 (Shopify's `THROTTLED`, GitHub's
    /// `RATE_LIMITED`). [`crate::retry::classify`] reads it as a 429.
    pub throttled: bool,
    /// A pause the server asks for on a response that was served (Zotero's `Backoff` header,
    /// Stack Exchange's `backoff` field): unlike `Retry-After` on a 2xx it is meant for
    /// successes, and it is also folded into [`Signal::retry_after`].
    pub backoff: Option<Duration>,
    /// The server's `Date`, when valid and needed: the reference for every wall-clock value
    /// (read only when the response has one: `Retry-After`, a reset, or a dialect of the
    /// caller's).
    pub server_date: Option<SystemTime>,
    /// Values that were present but not understood; each was ignored.
    pub warnings: Vec<Warning>,
}

/// One rate-limit policy as a server reported it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PolicyState {
    /// Its name (`"default"`, `"burst"`, `api-usage`), when it has one.
    pub name: Option<String>,
    /// Units allowed per window (`q`).
    pub limit: Option<u64>,
    /// Units left (`r`).
    pub remaining: Option<u64>,
    /// The window's length (`w`).
    pub window: Option<Duration>,
    /// Time until units are restored (`t`).
    pub reset_in: Option<Duration>,
}

impl PolicyState {
    /// A policy with this name and nothing else known yet.
    pub fn named(name: Option<String>) -> Self {
        PolicyState {
            name,
            ..PolicyState::default()
        }
    }
}

impl Signal {
    /// How long a correct client waits before its next request to this bucket: the longest of
    /// `Retry-After` and the reset of any exhausted window (zero when it may go now). A window
    /// reported exhausted with no reset time says nothing about how long; it counts as zero here
    /// and the retry machine's backoff takes over.
    pub fn must_wait(&self) -> Duration {
        let mut wait = self
            .retry_after
            .unwrap_or(Duration::ZERO)
            .max(self.backoff.unwrap_or(Duration::ZERO));
        if self.remaining == Some(0) {
            wait = wait.max(self.reset_in.unwrap_or(Duration::ZERO));
        }
        for p in &self.policies {
            if p.remaining == Some(0) {
                wait = wait.max(p.reset_in.unwrap_or(Duration::ZERO));
            }
        }
        wait
    }

    /// Whether the response carried any rate-limit information at all.
    pub fn is_empty(&self) -> bool {
        self.retry_after.is_none()
            && self.limit.is_none()
            && self.remaining.is_none()
            && self.used.is_none()
            && self.reset_in.is_none()
            && self.policies.is_empty()
    }

    /// Adds a warning about `header`.
    pub fn warn(&mut self, header: &str, kind: WarningKind, value: &[u8]) {
        self.warnings.push(Warning::new(header, kind, value));
    }
}

/// A header value that was present but ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Warning {
    /// The header's name, lower case.
    pub header: String,
    /// What was wrong.
    pub kind: WarningKind,
    /// The start of the offending value (at most 64 bytes, lossily decoded).
    pub value: String,
}

impl Warning {
    const MAX_VALUE: usize = 64;

    /// A warning about `header` whose `value` was not understood.
    pub fn new(header: &str, kind: WarningKind, value: &[u8]) -> Self {
        let cut = &value[..value.len().min(Self::MAX_VALUE)];
        Warning {
            header: header.to_ascii_lowercase(),
            kind,
            value: String::from_utf8_lossy(cut).into_owned(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            // The value was used, under an assumption the warning names.
            WarningKind::Assumed(_) => {
                write!(f, "{}: {} ({:?})", self.header, self.kind, self.value)
            }
            _ => write!(
                f,
                "{}: {} ({:?}), ignored",
                self.header, self.kind, self.value
            ),
        }
    }
}

/// What the parser assumed to read a value it does not know for sure. The value was used; the
/// warning says how, so a user can check it against the vendor's documentation (and add a
/// [`Dialect`] when the guess is wrong).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Assumption {
    /// A `*-Retry-After` header of a name paceline does not know, read as `Retry-After`
    /// (seconds, or an HTTP-date).
    RetryAfter,
    /// A `*-RateLimit-*` (or `*-Rate-Limit-*`) field under a prefix paceline does not know,
    /// read as its `X-RateLimit-*` namesake (`limit`, `remaining`, `reset`...).
    RateLimitField,
    /// IETF `RateLimit`/`RateLimit-Policy` fields under a prefix paceline does not know.
    StructuredField,
    /// A negative `remaining`: nothing is left, read as 0 (wait for the reset).
    NegativeRemaining,
    /// The field came on several lines (or comma-joined); the most restrictive value was taken.
    MostRestrictive,
}

impl fmt::Display for Assumption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Assumption::RetryAfter => "unknown retry-after header, read as Retry-After",
            Assumption::RateLimitField => {
                "unknown rate-limit prefix, read as its X-RateLimit-* namesake"
            }
            Assumption::StructuredField => {
                "unknown rate-limit prefix, read as IETF RateLimit/RateLimit-Policy"
            }
            Assumption::NegativeRemaining => "negative remaining, read as 0",
            Assumption::MostRestrictive => "several values, the most restrictive taken",
        })
    }
}

/// What was wrong with an ignored header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WarningKind {
    /// `Retry-After` was not delay-seconds nor an HTTP-date.
    RetryAfter(RetryAfterError),
    /// A negative number where only non-negative ones make sense.
    Negative,
    /// Not a number (or not one in the expected form).
    NotANumber,
    /// A structured field (RFC 9651) that did not parse, or an item in it that made no sense.
    Malformed,
    /// `Date` was not an HTTP-date; the receive time was used instead.
    BadDate,
    /// Numbers that contradict each other (more remaining than the limit); the limit was kept.
    Inconsistent,
    /// A value no server means: a count beyond 2^53 ([`MAX_COUNT`]) or a reset further ahead
    /// than the longest window a dialect defines ([`MAX_RESET`]). Refused rather than
    /// saturated: a 20-digit counter or a reset 100 years ahead is a broken or hostile server.
    Implausible,
    /// The value was read under an assumption (an unknown vendor prefix, a clamped negative):
    /// not ignored, but worth checking.
    Assumed(Assumption),
}

/// The largest count (limit, remaining, used) believed: 2^53, the largest integer a JSON
/// number (an IEEE double) holds exactly. Rate-limit counters are far below it.
pub const MAX_COUNT: u64 = 1 << 53;

/// The furthest reset believed: 400 days, past the longest window any dialect read here
/// defines (a yearly quota; monthly plan quotas are the longest documented). A reset further
/// ahead is refused with [`WarningKind::Implausible`].
pub const MAX_RESET: Duration = Duration::from_secs(400 * 86_400);

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WarningKind::RetryAfter(e) => e.fmt(f),
            WarningKind::Negative => f.write_str("negative value"),
            WarningKind::NotANumber => f.write_str("not a number"),
            WarningKind::Malformed => f.write_str("malformed structured field"),
            WarningKind::BadDate => f.write_str("not an HTTP-date"),
            WarningKind::Inconsistent => f.write_str("remaining above limit"),
            WarningKind::Implausible => f.write_str("implausible value"),
            WarningKind::Assumed(a) => a.fmt(f),
        }
    }
}

/// What a dialect is given besides the headers.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Context {
    /// The response status.
    pub status: StatusCode,
    /// The reference for wall-clock values: the server's `Date` when valid, else the receive time.
    pub reference: SystemTime,
    /// How the parser reads ambiguous reset values.
    pub reset_rule: ResetRule,
}

impl Context {
    /// Interprets a reset value under this context's rule and reference (see [`ResetRule`]).
    /// `None` (with a warning pushed) when the value is not a reset.
    pub fn reset_in(&self, header: &str, value: &[u8], signal: &mut Signal) -> Option<Duration> {
        self.reset_in_with(self.reset_rule, header, value, signal)
    }

    /// As [`Context::reset_in`], with an explicit rule.
    pub fn reset_in_with(
        &self,
        rule: ResetRule,
        header: &str,
        value: &[u8],
        signal: &mut Signal,
    ) -> Option<Duration> {
        match reset::reset_in(value, rule, self.reference) {
            Ok(d) if d > MAX_RESET => {
                signal.warn(header, WarningKind::Implausible, value);
                None
            }
            Ok(d) => Some(d),
            Err(reset::ResetError::Negative) => {
                signal.warn(header, WarningKind::Negative, value);
                None
            }
            Err(reset::ResetError::Invalid) => {
                signal.warn(header, WarningKind::NotANumber, value);
                None
            }
        }
    }

    /// Parses a count (integer, or a decimal that is floored); `None` with a warning otherwise.
    /// Counts above [`MAX_COUNT`] are refused with [`WarningKind::Implausible`].
    pub fn count(&self, header: &str, value: &[u8], signal: &mut Signal) -> Option<u64> {
        match number::parse_count(value) {
            Ok(n) if n > MAX_COUNT => {
                signal.warn(header, WarningKind::Implausible, value);
                None
            }
            Ok(n) => Some(n),
            Err(number::NumberError::Negative) => {
                signal.warn(header, WarningKind::Negative, value);
                None
            }
            Err(_) => {
                signal.warn(header, WarningKind::NotANumber, value);
                None
            }
        }
    }

    /// Parses a `remaining` count as [`Context::count`] does, except that a negative one (some
    /// servers count past zero) is 0, with a warning: nothing is left, wait for the reset.
    /// Values several servers folded into one line (`5, 7`) give the smallest, with a warning.
    pub fn remaining(&self, header: &str, value: &[u8], signal: &mut Signal) -> Option<u64> {
        let v = number::trim_ows(value);
        let head = &v[..v.iter().position(|b| *b == b';').unwrap_or(v.len())];
        if head.contains(&b',') {
            let mut least: Option<u64> = None;
            for piece in head.split(|b| *b == b',') {
                let piece = &piece[..piece.iter().position(|b| *b == b';').unwrap_or(piece.len())];
                let n = self.remaining(header, piece, signal)?;
                least = Some(least.map_or(n, |l| l.min(n)));
            }
            signal.warn(
                header,
                WarningKind::Assumed(Assumption::MostRestrictive),
                value,
            );
            return least;
        }
        match number::parse_count(head) {
            Err(number::NumberError::Negative)
                if number::parse_count(&number::trim_ows(head)[1..]).is_ok() =>
            {
                signal.warn(
                    header,
                    WarningKind::Assumed(Assumption::NegativeRemaining),
                    value,
                );
                Some(0)
            }
            _ => self.count(header, head, signal),
        }
    }
}

/// A header dialect: reads some headers into the signal. Implement it for an API whose
/// headers paceline does not know, and register it with [`SignalParser::with_dialect`].
///
/// ```
/// use http::{HeaderMap, StatusCode};
/// use paceline::headers::{Context, Dialect, Signal, SignalParser};
/// use std::time::SystemTime;
///
/// /// An API that reports `X-Calls-Left: 17`.
/// #[derive(Debug)]
/// struct CallsLeft;
/// impl Dialect for CallsLeft {
///     fn parse(&self, headers: &HeaderMap, cx: &Context, signal: &mut Signal) {
///         if let Some(v) = headers.get("x-calls-left") {
///             signal.remaining = cx.count("x-calls-left", v.as_bytes(), signal);
///         }
///     }
/// }
///
/// let parser = SignalParser::new().with_dialect(CallsLeft);
/// let mut headers = HeaderMap::new();
/// headers.insert("x-calls-left", "17".parse().unwrap());
/// let signal = parser.parse(StatusCode::OK, &headers, SystemTime::now());
/// assert_eq!(signal.remaining, Some(17));
/// ```
pub trait Dialect: Send + Sync + fmt::Debug {
    /// Reads what this dialect knows from `headers` into `signal`.
    fn parse(&self, headers: &HeaderMap, cx: &Context, signal: &mut Signal);
}

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
