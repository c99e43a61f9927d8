//! Why the Pacer stopped a request: every reason is a variant carrying what the caller needs.

use std::fmt;
use std::time::{Duration, Instant};

use http::StatusCode;

use crate::retry::TransportError;

/// What the last attempt produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempted {
    /// A response with this status.
    Status(StatusCode),
    /// No response.
    Transport(TransportError),
}

impl fmt::Display for Attempted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attempted::Status(s) => write!(f, "status {}", s.as_u16()),
            Attempted::Transport(t) => {
                let when = if t.sent {
                    "after sending"
                } else {
                    "before sending"
                };
                write!(f, "{:?} {when}", t.kind)
            }
        }
    }
}

/// Why a request was refused before sending or given up after an attempt.
///
/// The server's doing and the caller's are told apart: every variant here is something the
/// server (or the network) did; a misuse of the API is a panic-free no-op documented on the call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The server asked for a wait longer than the configured maximum
    /// ([`crate::retry::RetryPolicy::max_wait`]): not a ten-year sleep, an error.
    ServerAskedTooLong {
        /// What the server asked for.
        asked: Duration,
        /// The configured maximum.
        max: Duration,
    },
    /// A long-window quota (daily, monthly) is used up.
    QuotaExhausted {
        /// Time until it resets, from the moment of the decision, when the server said.
        resets_in: Option<Duration>,
        /// The attempt that showed it, if any.
        last: Option<Attempted>,
    },
    /// Every attempt allowed was made and failed.
    AttemptsExhausted {
        /// How many were made.
        attempts: u32,
        /// What the last one produced.
        last: Attempted,
    },
    /// Retrying would go past the total time allowed for the request.
    DeadlineExceeded {
        /// The time the request would have taken, including the next wait.
        would_take: Duration,
        /// The configured maximum.
        max: Duration,
        /// What the last attempt produced.
        last: Attempted,
    },
    /// A non-idempotent request (POST, PATCH) without an idempotency key reached the server and
    /// failed: retrying might do it twice.
    NotIdempotent {
        /// What the attempt produced.
        last: Attempted,
    },
    /// The retry budget is spent: the service is failing for many requests, and retrying them
    /// all would multiply the load.
    RetryBudgetExhausted {
        /// What the last attempt produced.
        last: Attempted,
    },
    /// A transport failure that is never retried (TLS, protocol, invalid URL).
    Transport(TransportError),
    /// The circuit breaker of the request's host is open: the service has been failing, and
    /// the request was not sent. Come back at `until`, when a probe may go
    /// ([`crate::breaker`]).
    BreakerOpen {
        /// When the breaker may let a request through.
        until: Instant,
        /// The time from the decision to `until`.
        retry_in: Duration,
    },
    /// The circuit breaker of the request's host was isolated by hand
    /// ([`crate::Pacer::isolate_breaker`]): nothing is sent until it is reset.
    BreakerIsolated,
    /// The request costs more units than a bucket can ever hold: it would wait forever.
    CostTooHigh {
        /// The request's cost.
        cost: u64,
        /// The largest bucket capacity in its way.
        capacity: u64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ServerAskedTooLong { asked, max } => write!(
                f,
                "server asked to wait {:.0} s, more than the maximum of {:.0} s",
                asked.as_secs_f64(),
                max.as_secs_f64()
            ),
            Error::QuotaExhausted {
                resets_in: Some(d), ..
            } => {
                write!(f, "quota exhausted, resets in {:.0} s", d.as_secs_f64())
            }
            Error::QuotaExhausted {
                resets_in: None, ..
            } => f.write_str("quota exhausted"),
            Error::AttemptsExhausted { attempts, last } => {
                write!(f, "gave up after {attempts} attempts (last: {last})")
            }
            Error::DeadlineExceeded {
                would_take,
                max,
                last,
            } => write!(
                f,
                "retrying would take {:.1} s, over the {:.1} s allowed (last: {last})",
                would_take.as_secs_f64(),
                max.as_secs_f64()
            ),
            Error::NotIdempotent { last } => write!(
                f,
                "not retried: non-idempotent request without an idempotency key was sent (last: {last})"
            ),
            Error::RetryBudgetExhausted { last } => {
                write!(f, "retry budget exhausted (last: {last})")
            }
            Error::Transport(t) => write!(f, "transport error: {}", Attempted::Transport(*t)),
            Error::BreakerOpen { retry_in, .. } => write!(
                f,
                "circuit breaker open, probing in {:.1} s",
                retry_in.as_secs_f64()
            ),
            Error::BreakerIsolated => f.write_str("circuit breaker isolated until reset"),
            Error::CostTooHigh { cost, capacity } => {
                write!(
                    f,
                    "request costs {cost} units, more than a bucket's capacity of {capacity}"
                )
            }
        }
    }
}

impl std::error::Error for Error {}
