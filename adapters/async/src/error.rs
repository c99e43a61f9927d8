//! What [`crate::Client::send`] returns when it has no response to hand back.

use std::fmt;

pub use paceline::exchange::AttemptRecord;

use http::StatusCode;

/// Why [`crate::Client::send`] returned no response (a response of any status is `Ok`).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The Pacer refused the request or gave up on it: `error` says why, `attempts` lists
    /// every attempt made, in order.
    GaveUp {
        /// The Pacer's reason.
        error: paceline::Error,
        /// Every attempt's outcome, in order.
        attempts: Vec<AttemptRecord>,
    },
    /// The request cannot be sent at all (a relative URI, an unsupported scheme, an invalid
    /// header): the caller's to fix, never retried.
    InvalidRequest(String),
    /// A response body was over [`ClientBuilder::body_limit`](crate::ClientBuilder::body_limit):
    /// not retried (the same body would come back).
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

    /// The Pacer's reason for giving up, if it gave up.
    pub fn pacer_error(&self) -> Option<&paceline::Error> {
        match self {
            Error::GaveUp { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::GaveUp { error, .. } => write!(f, "{error}")?,
            Error::InvalidRequest(e) => return write!(f, "invalid request: {e}"),
            Error::BodyTooLarge { limit, status, .. } => write!(
                f,
                "the body of a {} response is over the limit of {limit} bytes",
                status.as_u16()
            )?,
        }
        for (i, a) in self.attempts().iter().enumerate() {
            f.write_str(if i == 0 { "; attempts: " } else { ", " })?;
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.pacer_error().map(|e| e as _)
    }
}
