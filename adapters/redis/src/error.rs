//! What can go wrong with the store.

use std::fmt;

/// Why the store did not answer a reservation or a signal.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// Redis could not be reached, or the connection broke or timed out: the budget's
    /// [`OnUnreachable`](paceline::shared::OnUnreachable) mode applies.
    Unreachable(redis::RedisError),
    /// Redis answered with an error (a key of the same name holding another type, a script
    /// refused, an authentication failure): the store cannot be used until that is fixed.
    Server(redis::RedisError),
    /// The script answered something it never answers (another program wrote the key?).
    Unexpected(String),
}

impl StoreError {
    /// Sorts a `redis` error: the connection's failures from the server's refusals.
    pub(crate) fn from_redis(e: redis::RedisError) -> Self {
        if e.is_io_error()
            || e.is_connection_refusal()
            || e.is_connection_dropped()
            || e.is_timeout()
            || e.is_unrecoverable_error()
        {
            StoreError::Unreachable(e)
        } else {
            StoreError::Server(e)
        }
    }

    /// Whether the connection this came from should be dropped (any error but a clean
    /// server refusal leaves it in doubt).
    pub(crate) fn drops_connection(&self) -> bool {
        !matches!(self, StoreError::Server(_))
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unreachable(e) => write!(f, "redis unreachable: {e}"),
            StoreError::Server(e) => write!(f, "redis refused: {e}"),
            StoreError::Unexpected(what) => write!(f, "unexpected answer from redis: {what}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Unreachable(e) | StoreError::Server(e) => Some(e),
            StoreError::Unexpected(_) => None,
        }
    }
}

/// Why a budget URL (`redis://host:port/KEY`) was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// Not a URL.
    Invalid(String),
    /// Not `redis://` (`rediss://` needs TLS, which this build does not have).
    Scheme(String),
    /// No key after the host (`redis://127.0.0.1:6379/KEY`).
    NoKey,
    /// The `db` parameter is not a number.
    Db(String),
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Invalid(e) => write!(f, "not a URL: {e}"),
            UrlError::Scheme(s) => write!(f, "a shared budget URL is redis://…, not {s}://"),
            UrlError::NoKey => f.write_str(
                "a shared budget URL names its bucket after the host: redis://HOST:PORT/KEY",
            ),
            UrlError::Db(d) => write!(f, "db={d}: not a database number"),
        }
    }
}

impl std::error::Error for UrlError {}
