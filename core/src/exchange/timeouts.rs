//! How long one attempt may take: [`Timeouts`].

use std::time::Duration;

#[cfg(doc)]
use super::Exchange;

/// Default [`Timeouts::connect`]: 10 s.
///
/// A TCP connect whose first SYN is lost is retried after the initial retransmission timeout
/// of 1 s, then 2 s, 4 s (RFC 6298, 2.1 and 5.5): 10 s outlasts three lost SYNs, which no
/// path that still works needs. The AWS SDK for Java 1.x uses the same connection timeout
/// (`ClientConfiguration`, 10 000 ms); curl's 300 s default was, in its author's words,
/// "arbitrarily picked [...] to be very conservative", and Go's `net/http` default transport
/// allows 10 s for the TLS handshake alone.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default [`Timeouts::idle`]: 30 s.
///
/// The AWS SDK for Java 2.x socket read (and write) timeout
/// (`SdkHttpConfigurationOption`'s defaults, 30 s), and curl's `--speed-time` default: a
/// transfer that makes no progress for 30 s is stalled, not slow.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Default [`Timeouts::attempt`]: 120 s.
///
/// Above the proxy limits an answer has to pass anyway — Cloudflare answers 524 when the
/// origin sends no response within 100 s, nginx's `proxy_read_timeout` and an AWS load
/// balancer's idle timeout are 60 s — so no response that could arrive is cut; and long
/// enough for a body at a 10 MiB body (the adapters' default body limit) to arrive
/// at 90 KB/s. The AWS SDKs set no attempt timeout by default but tell users to set one
/// ("Prevent hanging requests", AWS SDK for Java 2.x best practices).
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(120);

/// How long one attempt of a request may take: what a driver enforces on every attempt of an
/// [`Exchange`] (`paceline_ureq::Client::timeouts`, the async client's builder).
///
/// - `connect`: resolving the host, then connecting (TCP, and TLS for `https`): each of the
///   two phases gets this long;
/// - `idle`: the longest wait for the next byte, read or written: for the server to take the
///   request, for the response head, and within the body. It restarts with every read, so a
///   server trickling a byte a second is not idle, however slow;
/// - `attempt`: the whole attempt, from resolving the host to the body's last byte — what
///   stops the trickle.
///
/// An attempt that runs out of any of them fails as a transport error of kind `Timeout`:
/// before sending when the connect timeout ran out (so even a POST may be retried), after
/// sending otherwise — including an attempt deadline or an idle wait that runs out during a
/// TLS handshake, since ureq names only the timer, not the phase, and in doubt an attempt
/// counts as sent. The Pacer retries it by its usual rules. A body cut by a timeout is a cut
/// body: its head still counts ([`Exchange::on_body_error`]).
///
/// ```
/// use std::time::Duration;
/// use paceline::exchange::Timeouts;
///
/// let t = Timeouts::default().attempt(Duration::from_secs(30)).idle(None);
/// assert_eq!(t.attempt, Some(Duration::from_secs(30)));
/// assert_eq!(t.connect, Some(paceline::exchange::DEFAULT_CONNECT_TIMEOUT));
/// assert_eq!(t.idle, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Resolving the host, then connecting (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub connect: Option<Duration>,
    /// The longest wait for a byte in either direction (default [`DEFAULT_IDLE_TIMEOUT`]).
    pub idle: Option<Duration>,
    /// The whole attempt, body included (default [`DEFAULT_ATTEMPT_TIMEOUT`]).
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
    /// No limit of the client's own (a stalled server then holds an attempt as long as the
    /// transport's own settings allow: with ureq's defaults, forever).
    pub fn none() -> Self {
        Timeouts {
            connect: None,
            idle: None,
            attempt: None,
        }
    }

    /// Sets [`Timeouts::connect`] (`None`: no limit of the client's own).
    pub fn connect(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.connect = t.into();
        self
    }

    /// Sets [`Timeouts::idle`] (`None`: no limit of the client's own).
    pub fn idle(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.idle = t.into();
        self
    }

    /// Sets [`Timeouts::attempt`] (`None`: no limit of the client's own).
    pub fn attempt(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.attempt = t.into();
        self
    }
}
