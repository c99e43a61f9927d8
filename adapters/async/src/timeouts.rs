//! How long one attempt may take: [`Timeouts`].

use std::time::Duration;

/// Default [`Timeouts::connect`]: 10 s, as `paceline-ureq` (three lost SYNs, RFC 6298; the
/// AWS SDK for Java 1.x connection timeout).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default [`Timeouts::idle`]: 30 s, as `paceline-ureq` (the AWS SDK for Java 2.x socket
/// timeout; curl's `--speed-time`).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Default [`Timeouts::attempt`]: 120 s, as `paceline-ureq` (above the 100 s after which
/// Cloudflare gives up on an origin, so no answer that could arrive is cut).
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(120);

/// How long one attempt of [`HttpTransport`](crate::HttpTransport) may take. `None`: no limit.
///
/// - `connect`: resolving the host and connecting (TCP, then TLS for `https`); running out
///   is a `Timeout` *before sending*;
/// - `idle`: the longest wait for progress of one read or write (the response head, each
///   part of the body);
/// - `attempt`: the whole attempt, body included (what stops a server trickling a byte at a
///   time).
///
/// Running out of `idle` or `attempt` is a transport error of kind `Timeout`, *after
/// sending* (in doubt, an attempt counts as sent); the Pacer retries it by its rules.
///
/// ```
/// use std::time::Duration;
/// use paceline_async::Timeouts;
///
/// let t = Timeouts::default().attempt(Duration::from_secs(30)).idle(None);
/// assert_eq!((t.attempt, t.idle), (Some(Duration::from_secs(30)), None));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Resolving and connecting (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub connect: Option<Duration>,
    /// The longest wait for one read or write (default [`DEFAULT_IDLE_TIMEOUT`]).
    pub idle: Option<Duration>,
    /// The whole attempt (default [`DEFAULT_ATTEMPT_TIMEOUT`]).
    pub attempt: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Some(DEFAULT_CONNECT_TIMEOUT),
            idle: Some(DEFAULT_IDLE_TIMEOUT),
            attempt: Some(DEFAULT_ATTEMPT_TIMEOUT),
        }
    }
}

impl Timeouts {
    /// Sets [`Timeouts::connect`].
    pub fn connect(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.connect = t.into();
        self
    }

    /// Sets [`Timeouts::idle`].
    pub fn idle(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.idle = t.into();
        self
    }

    /// Sets [`Timeouts::attempt`].
    pub fn attempt(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.attempt = t.into();
        self
    }
}
