//! What drivers report of an attempt ([`Outcome`]), keep of it ([`AttemptRecord`]), and hand
//! their callers when there is no response ([`SendError`]).

use std::fmt;

use http::{Response, StatusCode, response};

use crate::retry::TransportError;

/// How one attempt ended, as a driver saw it: what [`Exchange::report`](super::Exchange::report)
/// takes.
#[derive(Debug)]
pub enum Outcome {
    /// A response, its body read in full.
    Response(Response<Vec<u8>>),
    /// No response (a refused connection, a reset, a timeout), as the transport described it.
    NoResponse {
        /// What kind of failure, and whether the request may have been sent.
        error: TransportError,
        /// The transport's description.
        detail: String,
    },
    /// A response head whose body could not be read (its headers still count).
    BodyFailed {
        /// The head.
        head: Box<response::Parts>,
        /// How the body failed.
        error: TransportError,
        /// The transport's description.
        detail: String,
    },
    /// A response whose body is over the driver's limit: never retried (the same body would
    /// come back); the exchange is over.
    TooLarge {
        /// The head.
        head: Box<response::Parts>,
        /// The driver's limit, in bytes.
        limit: u64,
    },
}

impl Outcome {
    /// When the response head arrived, if the transport stamped it as a [`crate::Now`]
    /// extension of the head: the moment its rate-limit headers speak of, which a driver
    /// reports rather than the body's end.
    pub fn arrival(&self) -> Option<crate::Now> {
        match self {
            Outcome::Response(r) => r.extensions().get().copied(),
            Outcome::BodyFailed { head, .. } | Outcome::TooLarge { head, .. } => {
                head.extensions.get().copied()
            }
            Outcome::NoResponse { .. } => None,
        }
    }

    /// For a failed attempt: its error, the head's status (0 without one) and description.
    #[cfg(feature = "tracing")]
    pub(crate) fn failure(&self) -> Option<(TransportError, u16, String)> {
        match self {
            Outcome::Response(_) => None,
            Outcome::NoResponse { error, detail } => Some((*error, 0, detail.clone())),
            Outcome::BodyFailed {
                head,
                error,
                detail,
            } => Some((*error, head.status.as_u16(), detail.clone())),
            Outcome::TooLarge { head, limit } => Some((
                TransportError::after_send(crate::retry::TransportKind::Other),
                head.status.as_u16(),
                format!("a body over the limit of {limit} bytes"),
            )),
        }
    }
}

/// Why a driver's `send` returned no response: the Pacer gave up, the request could not be
/// built (`I`: the driver's own error for that), or a body was over its limit. Every attempt
/// made is listed, in order.
///
/// A response is always `Ok`, whatever its status, once the Pacer is done with it (a final 404
/// included).
#[derive(Debug)]
#[non_exhaustive]
pub enum SendError<I> {
    /// The Pacer refused the request or gave up on it: `error` says why, `attempts` lists every
    /// attempt made, in order (empty when it was refused before the first).
    GaveUp {
        /// The Pacer's reason.
        error: crate::Error,
        /// Every attempt's outcome, in order.
        attempts: Vec<AttemptRecord>,
    },
    /// The request cannot be sent at all (no scheme or host in the URI, an invalid header, an
    /// unsupported scheme): the caller's to fix, never retried, never counted by the Pacer.
    InvalidRequest(I),
    /// A response body was longer than the driver's body limit: not retried (the same body
    /// would come back), the Pacer told of a transport error of kind `Other`. Raise the
    /// limit to read it.
    BodyTooLarge {
        /// The limit, in bytes.
        limit: u64,
        /// The status of the response whose body it was.
        status: StatusCode,
        /// Every attempt's outcome, in order; the last is this one.
        attempts: Vec<AttemptRecord>,
    },
}

impl<I> SendError<I> {
    /// Every attempt made, in order (empty for [`SendError::InvalidRequest`]).
    pub fn attempts(&self) -> &[AttemptRecord] {
        match self {
            SendError::GaveUp { attempts, .. } | SendError::BodyTooLarge { attempts, .. } => {
                attempts
            }
            SendError::InvalidRequest(_) => &[],
        }
    }

    /// The Pacer's reason for giving up, if it gave up ([`SendError::BodyTooLarge`] is the
    /// driver's own limit: `None`).
    pub fn pacer_error(&self) -> Option<&crate::Error> {
        match self {
            SendError::GaveUp { error, .. } => Some(error),
            SendError::InvalidRequest(_) | SendError::BodyTooLarge { .. } => None,
        }
    }
}

impl<I: fmt::Display> fmt::Display for SendError<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::GaveUp { error, .. } => write!(f, "{error}")?,
            SendError::InvalidRequest(e) => return write!(f, "invalid request: {e}"),
            SendError::BodyTooLarge { limit, status, .. } => write!(
                f,
                "the body of a {} response is over the limit of {limit} bytes",
                status.as_u16()
            )?,
        }
        f.write_str(&AttemptRecord::list(self.attempts()))
    }
}

impl<I: fmt::Display + fmt::Debug> std::error::Error for SendError<I> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.pacer_error().map(|e| e as _)
    }
}

/// One attempt of a request, as it happened: what drivers list in their errors.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttemptRecord {
    /// What it produced: a status, or a transport error.
    pub outcome: crate::Attempted,
    /// For a transport error, the transport's description of it.
    pub detail: Option<String>,
}

impl AttemptRecord {
    /// An attempt answered with `status`.
    pub fn status(status: StatusCode) -> Self {
        AttemptRecord {
            outcome: crate::Attempted::Status(status),
            detail: None,
        }
    }

    /// An attempt that ended in a transport error, as the transport described it.
    pub fn transport(error: TransportError, detail: String) -> Self {
        AttemptRecord {
            outcome: crate::Attempted::Transport(error),
            detail: Some(detail),
        }
    }

    /// `"; attempts: status 503, reset after sending (connection reset)"`, or nothing for no
    /// attempts: the tail of a driver's error message.
    pub fn list(attempts: &[AttemptRecord]) -> String {
        if attempts.is_empty() {
            return String::new();
        }
        let all: Vec<String> = attempts.iter().map(ToString::to_string).collect();
        format!("; attempts: {}", all.join(", "))
    }
}

impl fmt::Display for AttemptRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(d) => write!(f, "{} ({d})", self.outcome),
            None => self.outcome.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Attempted;
    use crate::retry::TransportKind;

    #[test]
    fn display_lists_attempts() {
        let e: SendError<String> = SendError::GaveUp {
            error: crate::Error::AttemptsExhausted {
                attempts: 2,
                last: Attempted::Transport(TransportError::before_send(TransportKind::Connect)),
            },
            attempts: vec![
                AttemptRecord::status(StatusCode::SERVICE_UNAVAILABLE),
                AttemptRecord::transport(
                    TransportError::before_send(TransportKind::Connect),
                    "io: Connection refused".into(),
                ),
            ],
        };
        assert_eq!(
            e.to_string(),
            "gave up after 2 attempts (last: Connect before sending); attempts: status 503, \
             Connect before sending (io: Connection refused)"
        );
        assert_eq!(e.attempts().len(), 2);
        assert!(e.pacer_error().is_some());
        let invalid: SendError<String> = SendError::InvalidRequest("no host".into());
        assert_eq!(invalid.to_string(), "invalid request: no host");
        assert!(invalid.attempts().is_empty() && invalid.pacer_error().is_none());
    }
}
