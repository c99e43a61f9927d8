//! A breaker's state as data: saved by one process, restored by the next.
//!
//! Instants mean nothing to another process, so times are saved relative to the moment of the
//! save (ages and time left, in nanoseconds), and that moment as wall-clock time (nanoseconds
//! since the Unix epoch, from the caller's [`Now`]). A restore moves every time by the
//! wall-clock time that passed since (none if the clock went back).

use std::time::{Duration, Instant, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::config::BreakerConfig;
use super::machine::{Machine, Phase};
use super::window::{Bucket, Totals, Window};
use super::{BreakerEvent, State};
use crate::time::Now;

/// One bucket of a time window, saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedBucket {
    /// How long before the save the bucket started, in nanoseconds.
    pub age_ns: u64,
    /// Calls counted in it.
    pub calls: u32,
    /// Of which failed.
    pub failures: u32,
    /// Of which slow.
    pub slow: u32,
}

/// A breaker's state, serialisable (serde). Made by [`super::Breaker::save`] or
/// [`super::Breakers::save`]; taken up by their `restore`.
///
/// What carries over: the state; while open, the time left of the break (less the wall-clock
/// time since the save; never more than the restoring config's longest break); the number of
/// consecutive opens, so the next break keeps growing; the window's calls (buckets whose age
/// passes the window's length are dropped; a window of the other kind is ignored). Half-open
/// probes in flight do not: the restored breaker is half-open with none out. Hostile values
/// never panic: counts are clamped, impossible times dropped.
///
/// ```
/// use std::time::{Duration, Instant, SystemTime};
/// use http::StatusCode;
/// use paceline::{Attempted, Now};
/// use paceline::breaker::{Breaker, BreakerConfig, BreakerState, Decision, State};
///
/// let config = BreakerConfig::default().minimum_calls(1);
/// let now = Now::new(Instant::now(), SystemTime::now());
/// let mut breaker = Breaker::new(config.clone());
/// let Decision::Permit(p) = breaker.allow(now.mono) else { unreachable!() };
/// breaker.on_outcome(now.mono, p, &Attempted::Status(StatusCode::BAD_GATEWAY));
/// let json = serde_json::to_string(&breaker.save(now)).unwrap();
///
/// // The next process, two seconds later, starts open for the three seconds left.
/// let later = Now::new(Instant::now(), now.wall + Duration::from_secs(2));
/// let mut restarted = Breaker::new(config);
/// restarted.restore(later, &serde_json::from_str::<BreakerState>(&json).unwrap());
/// assert_eq!(restarted.state(), State::Open);
/// assert_eq!(restarted.open_until(), Some(later.mono + Duration::from_secs(3)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BreakerState {
    /// The breaker's key in a [`super::Breakers`] (empty for a single breaker).
    #[serde(default)]
    pub key: String,
    /// When it was saved: wall-clock nanoseconds since the Unix epoch.
    pub saved_at_unix_ns: u64,
    /// The state then.
    pub state: State,
    /// While open: the time left of the break, in nanoseconds.
    #[serde(default)]
    pub open_for_ns: u64,
    /// The current (or last) break's length, in nanoseconds.
    #[serde(default)]
    pub break_ns: u64,
    /// Opens since the breaker last closed.
    #[serde(default)]
    pub opens: u32,
    /// Probes that succeeded, while half-open.
    #[serde(default)]
    pub probes_succeeded: u32,
    /// Calls rejected since the breaker last opened.
    #[serde(default)]
    pub rejected: u64,
    /// A time window's live buckets, oldest first.
    #[serde(default)]
    pub buckets: Vec<SavedBucket>,
    /// A count window's calls, oldest first: bit 0 failed, bit 1 slow.
    #[serde(default)]
    pub calls: Vec<u8>,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn wall_ns(now: &Now) -> u64 {
    now.wall.duration_since(UNIX_EPOCH).map_or(0, nanos)
}

pub(crate) fn save(m: &Machine, key: &str, now: Now) -> BreakerState {
    let (open_for_ns, probes_succeeded) = match m.phase {
        Phase::Open { until } => (nanos(until.saturating_duration_since(now.mono)), 0),
        Phase::HalfOpen { succeeded, .. } => (0, succeeded),
        Phase::Closed | Phase::Isolated => (0, 0),
    };
    let buckets = m
        .window
        .live_buckets(now.mono)
        .iter()
        .map(|b| SavedBucket {
            age_ns: nanos(now.mono.saturating_duration_since(b.start)),
            calls: b.totals.calls,
            failures: b.totals.failures,
            slow: b.totals.slow,
        })
        .collect();
    BreakerState {
        key: key.to_owned(),
        saved_at_unix_ns: wall_ns(&now),
        state: m.state(),
        open_for_ns,
        break_ns: nanos(m.break_for),
        opens: m.opens,
        probes_succeeded,
        rejected: m.rejected,
        buckets,
        calls: m.window.call_flags(),
    }
}

pub(crate) fn restore(
    m: &mut Machine,
    config: &BreakerConfig,
    now: Now,
    saved: &BreakerState,
    out: &mut impl FnMut(BreakerEvent),
) {
    let elapsed = Duration::from_nanos(wall_ns(&now).saturating_sub(saved.saved_at_unix_ns));
    m.generation += 1;
    m.window.clear();
    m.opens = saved.opens;
    m.rejected = saved.rejected;
    m.break_for = Duration::from_nanos(saved.break_ns)
        .clamp(config.break_duration, config.max_break_duration);
    m.phase = match saved.state {
        State::Closed => Phase::Closed,
        State::Isolated => Phase::Isolated,
        State::HalfOpen => Phase::HalfOpen {
            in_flight: 0,
            succeeded: saved
                .probes_succeeded
                .min(config.half_open_probes.saturating_sub(1)),
        },
        State::Open => {
            let left = Duration::from_nanos(saved.open_for_ns)
                .saturating_sub(elapsed)
                .min(config.max_break_duration);
            Phase::Open {
                until: now.mono.checked_add(left).unwrap_or(now.mono),
            }
        }
    };
    if m.phase == Phase::Closed {
        restore_window(&mut m.window, now.mono, elapsed, saved);
    }
    out(BreakerEvent::Restored { state: m.state() });
}

fn restore_window(w: &mut Window, now: Instant, elapsed: Duration, saved: &BreakerState) {
    match w {
        Window::Time { length, .. } => {
            let length = *length;
            let mut buckets: Vec<Bucket> = saved
                .buckets
                .iter()
                .filter_map(|b| {
                    let age = Duration::from_nanos(b.age_ns).checked_add(elapsed)?;
                    if age >= length {
                        return None;
                    }
                    let calls = b.calls;
                    Some(Bucket {
                        start: now.checked_sub(age)?,
                        totals: Totals {
                            calls,
                            failures: b.failures.min(calls),
                            slow: b.slow.min(calls),
                        },
                    })
                })
                .collect();
            buckets.sort_by_key(|b| b.start);
            w.restore_buckets(&buckets);
        }
        Window::Count { .. } => w.restore_calls(&saved.calls),
    }
}
