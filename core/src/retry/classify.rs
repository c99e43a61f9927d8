//! What an outcome means for retrying.

use http::StatusCode;

use crate::headers::Signal;

/// How a transport-level failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportKind {
    /// The connection could not be made (refused, unreachable, DNS). Usually nothing left,
    /// but an unreachable network can be reported after sending: [`TransportError::sent`]
    /// says which.
    Connect,
    /// No answer in time (connect, send or receive timeout).
    Timeout,
    /// The connection was reset or closed before a complete response arrived.
    Reset,
    /// Anything else (TLS, protocol, invalid URL): not retried.
    Other,
}

/// A request that produced no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransportError {
    /// What went wrong.
    pub kind: TransportKind,
    /// Whether any of the request may have reached the server. `false` only when the driver knows
    /// it did not (a refused connection, a connect timeout); when in doubt, `true`.
    pub sent: bool,
}

impl TransportError {
    /// A failure before anything was sent.
    pub fn before_send(kind: TransportKind) -> Self {
        TransportError { kind, sent: false }
    }

    /// A failure after (part of) the request may have been sent.
    pub fn after_send(kind: TransportKind) -> Self {
        TransportError { kind, sent: true }
    }

    /// What an I/O error of this kind means, the rule every driver applies (when in doubt, the
    /// request counts as sent, so a POST is not done twice):
    ///
    /// | `io::ErrorKind` | meaning |
    /// | --- | --- |
    /// | `ConnectionRefused` | `Connect`, before sending |
    /// | `NetworkUnreachable`, `HostUnreachable`, `NetworkDown` | `Connect`, after sending: Linux reports an ICMP error on an established connection this way too |
    /// | `TimedOut`, `WouldBlock` | `Timeout`, after sending |
    /// | `ConnectionReset`, `ConnectionAborted`, `UnexpectedEof`, `BrokenPipe` | `Reset`, after sending |
    /// | anything else | `Other`, after sending: never retried |
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use paceline::retry::{TransportError, TransportKind};
    ///
    /// assert_eq!(
    ///     TransportError::from_io(ErrorKind::ConnectionRefused),
    ///     TransportError::before_send(TransportKind::Connect)
    /// );
    /// assert!(TransportError::from_io(ErrorKind::UnexpectedEof).sent);
    /// ```
    pub fn from_io(kind: std::io::ErrorKind) -> Self {
        use std::io::ErrorKind as K;
        match kind {
            K::ConnectionRefused => TransportError::before_send(TransportKind::Connect),
            K::NetworkUnreachable | K::HostUnreachable | K::NetworkDown => {
                TransportError::after_send(TransportKind::Connect)
            }
            K::TimedOut | K::WouldBlock => TransportError::after_send(TransportKind::Timeout),
            K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof | K::BrokenPipe => {
                TransportError::after_send(TransportKind::Reset)
            }
            _ => TransportError::after_send(TransportKind::Other),
        }
    }
}

/// The retry-relevant meaning of an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Class {
    /// A response to hand back as it is: 1xx-3xx, or a final error the caller must fix
    /// (4xx other than 429, 501). Not retried.
    Final,
    /// 429, or a 403 that the headers show is throttling (GitHub's primary and secondary limits).
    Throttled,
    /// Throttled, and a long-window quota is used up: not retried now.
    QuotaExhausted,
    /// 503 Service Unavailable.
    Unavailable,
    /// Another 5xx (not 501 Not Implemented), or a vendor's explicit "retry" verdict.
    ServerError,
    /// No response: connect refused, timeout, reset.
    Transport(TransportKind),
}

impl Class {
    /// Whether this class is retried at all (idempotency and budgets permitting).
    pub fn is_retryable(self) -> bool {
        match self {
            Class::Final | Class::QuotaExhausted => false,
            Class::Transport(kind) => kind != TransportKind::Other,
            Class::Throttled | Class::Unavailable | Class::ServerError => true,
        }
    }
}

/// Classifies a response from its status and signal.
///
/// Rules, in order:
/// 1. A vendor's explicit verdict (`Stripe-Should-Retry: true|false`) overrides the status on
///    any 4xx/5xx.
/// 2. A long-window quota used up (see [`Signal::quota_exhausted`]) on a 403/429 is
///    [`Class::QuotaExhausted`]: a wait of hours is not a retry.
/// 3. 429 is [`Class::Throttled`]; so is 403 when it says it is throttling: GitHub's primary
///    limit (`x-ratelimit-remaining: 0` with a reset) or secondary limit (`retry-after`); so is
///    a 2xx whose body says it was throttled ([`Signal::throttled`]: a GraphQL throttle error).
/// 4. 503 is [`Class::Unavailable`]; other 5xx but 501 are [`Class::ServerError`].
/// 5. Everything else, every other 4xx included, is [`Class::Final`].
///
/// ```
/// use http::StatusCode;
/// use paceline::headers::Signal;
/// use paceline::retry::{classify, Class};
///
/// let mut s = Signal::default();
/// s.status = Some(StatusCode::BAD_GATEWAY);
/// assert_eq!(classify(&s), Class::ServerError);
/// s.status = Some(StatusCode::NOT_FOUND);
/// assert_eq!(classify(&s), Class::Final);
/// ```
pub fn classify(signal: &Signal) -> Class {
    let Some(status) = signal.status else {
        return Class::Final;
    };
    let error = status.is_client_error() || status.is_server_error();
    match signal.should_retry {
        Some(true) if error => return Class::ServerError,
        Some(false) if error => return Class::Final,
        _ => {}
    }
    let throttled_2xx = status.is_success() && signal.throttled;
    let throttling_403 = status == StatusCode::FORBIDDEN
        && (signal.retry_after.is_some()
            || (signal.remaining == Some(0) && signal.reset_in.is_some()));
    if status == StatusCode::TOO_MANY_REQUESTS || throttling_403 || throttled_2xx {
        return if signal.quota_exhausted {
            Class::QuotaExhausted
        } else {
            Class::Throttled
        };
    }
    match status {
        StatusCode::SERVICE_UNAVAILABLE => Class::Unavailable,
        StatusCode::NOT_IMPLEMENTED => Class::Final,
        s if s.is_server_error() => Class::ServerError,
        _ => Class::Final,
    }
}

/// Classifies a transport failure.
pub fn classify_transport(err: TransportError) -> Class {
    Class::Transport(err.kind)
}
