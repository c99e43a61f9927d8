//! The typed result of reading a response: [`Signal`] (with one [`PolicyState`] per reported
//! policy), the [`Warning`]s about values that were ignored or assumed, and the bounds on what
//! is believed ([`MAX_COUNT`], [`MAX_RESET`]).

use std::fmt;
use std::time::{Duration, SystemTime};

use http::StatusCode;

use super::RetryAfterError;

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
    /// A long-window quota (longer than
    /// [`SignalParser::quota_horizon`](super::SignalParser::quota_horizon)) is used up: waiting
    /// for it is a matter of hours or days, not a retry.
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
/// [`Dialect`](super::Dialect) when the guess is wrong).
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
