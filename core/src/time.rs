//! Time as an argument: the caller's monotonic instant and wall-clock time, together.

use std::time::{Duration, Instant, SystemTime};

/// The current time, as the caller observed it.
///
/// The core never reads a clock. Every call that needs the time takes a `Now`: a monotonic
/// [`Instant`] for scheduling (waits, windows, backoff) and the wall-clock [`SystemTime`] that the
/// same moment had, for the few things servers express in wall time (an HTTP-date `Retry-After`,
/// an epoch `X-RateLimit-Reset`). Adapters build it with [`Now::new`] from the system clocks;
/// simulations advance both together (see [`Now::advance`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time: what every wait and deadline is expressed in.
    pub mono: Instant,
    /// Wall-clock time at the same moment: used only to interpret wall-time values from servers.
    pub wall: SystemTime,
}

impl Now {
    /// Pairs a monotonic instant with the wall-clock time of the same moment.
    pub fn new(mono: Instant, wall: SystemTime) -> Self {
        Now { mono, wall }
    }

    /// Both clocks moved forward by `by` (saturating on the wall clock).
    pub fn advance(self, by: Duration) -> Self {
        Now {
            mono: self.mono + by,
            wall: self.wall.checked_add(by).unwrap_or(self.wall),
        }
    }

    /// The `Now` of a later monotonic instant, with the wall clock moved by the same amount.
    /// An earlier `mono` leaves the value unchanged (time never runs backwards here).
    pub fn at(self, mono: Instant) -> Self {
        match mono.checked_duration_since(self.mono) {
            Some(d) => self.advance(d),
            None => self,
        }
    }
}
