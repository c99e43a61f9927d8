//! What [`crate::Client::send`] returns when it has no response to hand back.

use std::fmt;

pub use paceline::exchange::AttemptRecord;

use http::StatusCode;

/// Why [`crate::Client::send`] returned no response.
///
/// A response is always `Ok`, whatever its status, once the Pacer is done with it (a final 404
/// included); an `Err` means the Pacer gave up, or the request could not even be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The Pacer refused the request or gave up on it: `error` says why, `attempts` lists every
    /// attempt made, in order (empty when it was refused before the first).
    GaveUp {
        /// The Pacer's reason.
        error: paceline::Error,
        /// Every attempt's outcome, in order.
        attempts: Vec<AttemptRecord>,
    },
    /// The request cannot be sent at all (no scheme or host in the URI, an invalid header, a
    /// proxy URL that does not parse, `http` under `https_only`): the caller's to fix, never
    /// retried, never counted by the Pacer.
    InvalidRequest(ureq::Error),
    /// A response body was longer than [`Client::body_limit`](crate::Client::body_limit): not
    /// retried (the same body would come back), the Pacer told of a transport error of kind
    /// `Other`. Raise the limit to read it.
    BodyTooLarge {
        /// The limit, in bytes.
        limit: u64,
        /// The status of the response whose body it was.
        status: StatusCode,
        /// Every attempt's outcome, in order; the last is this one.
        attempts: Vec<AttemptRecord>,
    },
}

impl Error {
    /// Every attempt made, in order (empty for [`Error::InvalidRequest`]).
    pub fn attempts(&self) -> &[AttemptRecord] {
        match self {
            Error::GaveUp { attempts, .. } | Error::BodyTooLarge { attempts, .. } => attempts,
            Error::InvalidRequest(_) => &[],
        }
    }

    /// The Pacer's reason for giving up, if it gave up ([`Error::BodyTooLarge`] is the client's
    /// own limit: `None`).
    pub fn pacer_error(&self) -> Option<&paceline::Error> {
        match self {
            Error::GaveUp { error, .. } => Some(error),
            Error::InvalidRequest(_) | Error::BodyTooLarge { .. } => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::GaveUp { error, attempts } => {
                write!(f, "{error}")?;
                f.write_str(&AttemptRecord::list(attempts))
            }
            Error::InvalidRequest(e) => write!(f, "invalid request: {e}"),
            Error::BodyTooLarge {
                limit,
                status,
                attempts,
            } => {
                write!(
                    f,
                    "the body of a {} response is over the limit of {limit} bytes",
                    status.as_u16()
                )?;
                f.write_str(&AttemptRecord::list(attempts))
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::GaveUp { error, .. } => Some(error),
            Error::InvalidRequest(e) => Some(e),
            Error::BodyTooLarge { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paceline::Attempted;
    use paceline::retry::{TransportError, TransportKind};

    #[test]
    fn display_lists_attempts() {
        let e = Error::GaveUp {
            error: paceline::Error::AttemptsExhausted {
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
    }
}
