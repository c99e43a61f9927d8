//! Retrying: which outcomes to retry, when, and when to stop.
//!
//! [`classify`] says what an outcome means; [`RetryPolicy`] says how long to wait and when to
//! give up. The [`crate::Pacer`] applies both to every request; the pieces are public so a
//! caller can reason about a response without a Pacer.
//!
//! Rules the policy enforces, in order, when an outcome is retryable:
//! 1. **Idempotency**: GET, HEAD, PUT, DELETE, OPTIONS and TRACE retry freely; any other method
//!    (POST, PATCH) only when the request carries an idempotency key, or when it failed before
//!    it was sent (a refused connection).
//! 2. **Attempts**: at most [`RetryPolicy::max_attempts`] in all.
//! 3. **The server's wait**: `Retry-After`, or the reset of an exhausted window, is honoured as
//!    given; past [`RetryPolicy::max_wait`] it is [`crate::Error::ServerAskedTooLong`].
//! 4. **Backoff** otherwise: `min(cap, base × factor^(n-1))`, then [`Jitter`].
//! 5. **Total time**: the request's elapsed time plus the next wait stays within
//!    [`RetryPolicy::max_elapsed`].
//! 6. **Budget**: retries of failures (5xx, transport) spend from a [`RetryBudget`]; throttling
//!    retries do not, since the server already paces them with its own waits.

mod backoff;
mod budget;
mod classify;

use std::time::Duration;

use http::{HeaderName, Method};
use serde::{Deserialize, Serialize};

pub use backoff::Jitter;
pub use budget::{BudgetStrategy, RetryBudget};
pub use classify::{Class, TransportError, TransportKind, classify, classify_transport};

pub(crate) use backoff::{exponential, jittered};
pub(crate) use budget::Tokens;

/// How to retry. A `Default` struct with documented defaults, chainable setters and serde
/// (durations as seconds).
///
/// ```
/// use paceline::retry::{Jitter, RetryPolicy};
/// use std::time::Duration;
///
/// let policy = RetryPolicy::default()
///     .max_attempts(6)
///     .base(Duration::from_millis(200))
///     .jitter(Jitter::Decorrelated);
/// assert_eq!(policy.max_attempts, 6);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included. Default 4 (Polly v8: 3 retries). A 429 with no
    /// `Retry-After` on a route whose rate is being discovered (see [`crate::throttle`])
    /// counts as none, for up to twice this many such 429s: the search finds the rate by
    /// refusals, and one request may meet several in a row.
    pub max_attempts: u32,
    /// The first backoff delay. Default 1 s (AWS SDKs' standard mode base).
    #[serde(with = "crate::serde_secs")]
    pub base: Duration,
    /// Growth per retry. Default 2.
    pub factor: f64,
    /// The longest backoff delay. Default 20 s (AWS SDKs' `MAX_BACKOFF`).
    #[serde(with = "crate::serde_secs")]
    pub cap: Duration,
    /// How backoff delays are randomised. Default [`Jitter::Full`].
    pub jitter: Jitter,
    /// The longest total time for one request, waits included. Default 10 min.
    #[serde(with = "crate::serde_secs")]
    pub max_elapsed: Duration,
    /// The longest wait a server may ask for (`Retry-After`, an exhausted window's reset).
    /// Longer is [`crate::Error::ServerAskedTooLong`]. Default 5 min.
    #[serde(with = "crate::serde_secs")]
    pub max_wait: Duration,
    /// The retry budget. Default: AWS standard mode's.
    pub budget: RetryBudget,
    /// The header that makes a POST/PATCH safe to retry. Default `idempotency-key` (Stripe,
    /// draft-ietf-httpapi-idempotency-key-header).
    pub idempotency_header: String,
    /// Whether a non-idempotent request without that header gets one: a key generated once
    /// per logical request (128 random bits from the Pacer's generator, as 32 hex digits) and
    /// sent on every attempt of it, which makes it retryable. For APIs that honour the header
    /// (Stripe, Adyen, PayPal, the IETF draft): a server that ignores it may apply a retried
    /// write twice. Default false.
    #[serde(default)]
    pub attach_idempotency_keys: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base: Duration::from_secs(1),
            factor: 2.0,
            cap: Duration::from_secs(20),
            jitter: Jitter::Full,
            max_elapsed: Duration::from_secs(600),
            max_wait: Duration::from_secs(300),
            budget: RetryBudget::default(),
            idempotency_header: "idempotency-key".into(),
            attach_idempotency_keys: false,
        }
    }
}

impl RetryPolicy {
    /// Sets [`RetryPolicy::max_attempts`] (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }
    /// Sets [`RetryPolicy::base`].
    pub fn base(mut self, d: Duration) -> Self {
        self.base = d;
        self
    }
    /// Sets [`RetryPolicy::factor`] (values below 1 or not finite count as 1).
    pub fn factor(mut self, f: f64) -> Self {
        self.factor = f;
        self
    }
    /// Sets [`RetryPolicy::cap`].
    pub fn cap(mut self, d: Duration) -> Self {
        self.cap = d;
        self
    }
    /// Sets [`RetryPolicy::jitter`].
    pub fn jitter(mut self, j: Jitter) -> Self {
        self.jitter = j;
        self
    }
    /// Sets [`RetryPolicy::max_elapsed`].
    pub fn max_elapsed(mut self, d: Duration) -> Self {
        self.max_elapsed = d;
        self
    }
    /// Sets [`RetryPolicy::max_wait`].
    pub fn max_wait(mut self, d: Duration) -> Self {
        self.max_wait = d;
        self
    }
    /// Sets [`RetryPolicy::budget`].
    pub fn budget(mut self, b: RetryBudget) -> Self {
        self.budget = b;
        self
    }
    /// Sets [`RetryPolicy::attach_idempotency_keys`].
    pub fn attach_idempotency_keys(mut self, on: bool) -> Self {
        self.attach_idempotency_keys = on;
        self
    }
    /// Sets [`RetryPolicy::idempotency_header`].
    pub fn idempotency_header(mut self, name: &str) -> Self {
        self.idempotency_header = name.to_ascii_lowercase();
        self
    }

    /// The backoff before retry number `retry` (1 for the first retry), jittered, in
    /// `[0, min(cap, max_wait)]`. `previous` is the last delay waited (decorrelated jitter).
    pub(crate) fn backoff(
        &self,
        retry: u32,
        previous: Duration,
        rng: &mut fastrand::Rng,
    ) -> Duration {
        let cap = self.cap.min(self.max_wait);
        let d = exponential(self.base, self.factor, cap, retry);
        jittered(self.jitter, d, self.base, cap, previous, rng)
    }

    /// Whether this method may be retried after it was sent, given whether the request carries
    /// an idempotency key.
    pub fn retries_after_send(method: &Method, has_key: bool) -> bool {
        has_key || is_idempotent(method)
    }

    pub(crate) fn key_header(&self) -> Option<HeaderName> {
        HeaderName::from_bytes(self.idempotency_header.as_bytes()).ok()
    }
}

/// GET, HEAD, PUT, DELETE, OPTIONS and TRACE are idempotent (RFC 9110 §9.2.2).
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}
