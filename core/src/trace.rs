//! The Pacer's events, forwarded to `tracing` (feature `tracing`): one forwarder for every
//! driver.

use crate::Event;
use crate::breaker::{BreakerEvent, State};

/// Logs one event: `warn` for what an operator should see (a retry, a pause, a request given
/// up, a header ignored, a quota threshold crossed, a circuit breaker opening), `info` for
/// adaptive pacing finding a limit and a breaker probing or closing. The target is this
/// module's, `paceline::trace`; every record has a `code` field, [`Event::code`].
pub fn forward(event: &Event) {
    let code = event.code();
    match event {
        Event::Retrying {
            attempt,
            cause,
            wait,
            server_asked,
        } => tracing::warn!(code,
            attempt,
            cause = %cause,
            wait_ms = millis(*wait),
            server_asked,
            "paceline: retrying"
        ),
        Event::Paused { wait, cause } => tracing::warn!(code,
            wait_ms = millis(*wait),
            cause = ?cause,
            "paceline: holding every request"
        ),
        Event::GaveUp { attempts, error } => {
            tracing::warn!(code, attempts, error = %error, "paceline: gave up")
        }
        Event::HeaderWarning(w) => tracing::warn!(code,
            header = %w.header,
            kind = %w.kind,
            value = %w.value,
            "paceline: header value ignored"
        ),
        Event::QuotaThreshold { quota, fraction } => {
            tracing::warn!(code, quota, fraction, "paceline: quota threshold crossed")
        }
        Event::Adapted { rate } => tracing::info!(
            code,
            rate_per_second = rate,
            "paceline: adaptive pacing changed the rate"
        ),
        Event::WindowDropped { max, name } => tracing::warn!(
            code,
            max,
            dropped = name.as_deref().unwrap_or("(unnamed)"),
            "paceline: the server named more rate-limit windows than are tracked; the least recently reported ones are dropped"
        ),
        Event::RouteDropped { max } => tracing::warn!(
            code,
            max,
            "paceline: requests went to more paths than routes are learned; the least recently used are forgotten"
        ),
        Event::Breaker { host, event } => match event {
            BreakerEvent::Opened { .. }
            | BreakerEvent::Reopened { .. }
            | BreakerEvent::Isolated => {
                tracing::warn!(code, host = %host, "paceline: {event}")
            }
            BreakerEvent::Restored {
                state: State::Open | State::Isolated,
            } => tracing::warn!(code, host = %host, "paceline: {event}"),
            _ => tracing::info!(code, host = %host, "paceline: {event}"),
        },
        Event::SharedUnreachable { key, fallback } => tracing::warn!(
            code,
            key = %key,
            fallback = ?fallback,
            "paceline: the shared budget's store is unreachable"
        ),
        Event::SharedRecovered { key, down_for } => tracing::info!(
            code,
            key = %key,
            down_ms = millis(*down_for),
            "paceline: the shared budget's store is reachable again"
        ),
        Event::SharedPaused { key } => tracing::warn!(
            code,
            key = %key,
            "paceline: the shared budget is paused by a server's signal"
        ),
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
