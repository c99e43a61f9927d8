//! The Pacer's events, forwarded to `tracing` (feature `tracing`): one forwarder for every
//! driver.

use crate::Event;
use crate::breaker::{BreakerEvent, State};

/// Logs one event: `warn` for what an operator should see (a retry, a pause, a request given
/// up, a header ignored, a quota threshold crossed, a circuit breaker opening), `info` for
/// adaptive pacing finding a limit and a breaker probing or closing. The target is this
/// module's, `paceline::trace`.
pub fn forward(event: &Event) {
    match event {
        Event::Retrying {
            attempt,
            cause,
            wait,
            server_asked,
        } => tracing::warn!(
            attempt,
            cause = %cause,
            wait_ms = millis(*wait),
            server_asked,
            "paceline: retrying"
        ),
        Event::Paused { wait, cause } => tracing::warn!(
            wait_ms = millis(*wait),
            cause = ?cause,
            "paceline: holding every request"
        ),
        Event::GaveUp { attempts, error } => {
            tracing::warn!(attempts, error = %error, "paceline: gave up")
        }
        Event::HeaderWarning(w) => tracing::warn!(
            header = %w.header,
            kind = %w.kind,
            value = %w.value,
            "paceline: header value ignored"
        ),
        Event::QuotaThreshold { quota, fraction } => {
            tracing::warn!(quota, fraction, "paceline: quota threshold crossed")
        }
        Event::Adapted { rate } => tracing::info!(
            rate_per_second = rate,
            "paceline: adaptive pacing changed the rate"
        ),
        Event::WindowDropped { max, name } => tracing::warn!(
            max,
            dropped = name.as_deref().unwrap_or("(unnamed)"),
            "paceline: the server named more rate-limit windows than are tracked; the least recently reported ones are dropped"
        ),
        Event::RouteDropped { max } => tracing::warn!(
            max,
            "paceline: requests went to more paths than routes are learned; the least recently used are forgotten"
        ),
        Event::Breaker { host, event } => match event {
            BreakerEvent::Opened { .. }
            | BreakerEvent::Reopened { .. }
            | BreakerEvent::Isolated => {
                tracing::warn!(host = %host, "paceline: {event}")
            }
            BreakerEvent::Restored {
                state: State::Open | State::Isolated,
            } => tracing::warn!(host = %host, "paceline: {event}"),
            _ => tracing::info!(host = %host, "paceline: {event}"),
        },
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
