//! Circuit breaking: stop sending to a service that is failing, probe it now and then, and
//! resume when it answers again.
//!
//! ```text
//!                 failures ≥ ratio over ≥ minimum calls in the window
//!    ┌────────┐ ──────────────────────────────────────────────────────► ┌──────┐
//!    │ Closed │                                                         │ Open │ ◄─┐ a probe fails:
//!    └────────┘ ◄──────────┐                        break is over ┌──── └──────┘   │ open again,
//!        ▲                 │ every probe succeeded    (next allow)│                │ break × growth
//!        │ reset           │                                      ▼                │ (capped)
//!        │           ┌─────┴─────┐ ◄────────────────────────────────               │
//!   ┌────┴─────┐     │ Half-open │ ─────────────────────────────────────────────────┘
//!   │ Isolated │     └───────────┘   at most `half_open_probes` calls let through;
//!   └──────────┘                     the others are rejected with a time to come back
//!   isolate(): open until reset()
//! ```
//!
//! The machine is sans-IO: every input takes `now`, nothing reads a clock. Ask
//! [`Breaker::allow`] before a call; a [`Decision::Permit`] is then reported exactly once, with
//! [`Breaker::on_outcome`] (a status or a transport failure, judged by the
//! [`FailurePolicy`]) or [`Breaker::cancel`] (the call was never made or its outcome is
//! unknown). A permit of an earlier phase (given before the breaker opened, say) is stale: its
//! outcome is ignored, so a late answer never closes or opens a breaker it does not describe.
//! [`Decision::Rejected`] says when to come back (`until`; `None` while isolated).
//!
//! Drain rule: after every call, drain [`Breaker::poll_event`] until `None`. Events never
//! change decisions; dropping them is safe.
//!
//! [`Breakers`] holds one breaker per key (a host, a route), bounded in number; the
//! [`crate::Pacer`] uses it when [`crate::PacerConfig::breaker`] is set. The state of either
//! saves to a serialisable [`BreakerState`] and restores from it, so a process restarting
//! during an outage starts open.
//!
//! A whole cycle in virtual time:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use http::StatusCode;
//! use paceline::Attempted;
//! use paceline::breaker::{Breaker, BreakerConfig, BreakerEvent, Decision, State};
//!
//! let config = BreakerConfig::default().minimum_calls(4).break_duration(Duration::from_secs(5));
//! let mut breaker = Breaker::new(config);
//! let mut now = Instant::now();
//! let unavailable = Attempted::Status(StatusCode::SERVICE_UNAVAILABLE);
//!
//! // Closed: four calls fail, the fourth reaches the minimum throughput and trips it.
//! for _ in 0..4 {
//!     let Decision::Permit(permit) = breaker.allow(now) else { panic!("closed") };
//!     now += Duration::from_millis(100);
//!     breaker.on_outcome(now, permit, &unavailable);
//! }
//! assert_eq!(breaker.state(), State::Open);
//! assert!(matches!(breaker.poll_event(), Some(BreakerEvent::Opened { calls: 4, .. })));
//!
//! // Open: rejected at once, with the time a probe may go.
//! let Decision::Rejected { until: Some(until) } = breaker.allow(now) else { panic!("open") };
//! assert_eq!(until, now + Duration::from_secs(5));
//!
//! // Half-open after the break: one probe goes, the next caller is rejected.
//! now = until;
//! let Decision::Permit(probe) = breaker.allow(now) else { panic!("a probe") };
//! assert_eq!(breaker.state(), State::HalfOpen);
//! assert!(matches!(breaker.allow(now), Decision::Rejected { .. }));
//!
//! // The probe succeeds: closed again.
//! breaker.on_outcome(now, probe, &Attempted::Status(StatusCode::OK));
//! assert_eq!(breaker.state(), State::Closed);
//! let events: Vec<_> = std::iter::from_fn(|| breaker.poll_event()).collect();
//! assert_eq!(events, [BreakerEvent::HalfOpened { rejected: 1 }, BreakerEvent::Closed]);
//! ```

mod config;
mod failure;
mod keyed;
mod machine;
mod state;
mod window;

pub use config::{
    BreakerConfig, ConfigError, MAX_PROBES, MAX_WINDOW_SLOTS, SlowCalls, WindowConfig,
};
pub use failure::{FailurePolicy, Verdict};
pub use keyed::{Breakers, DEFAULT_MAX_KEYS};
pub use state::{BreakerState, SavedBucket};

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::Attempted;
use crate::time::Now;
use machine::Machine;

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Calls go through and are counted.
    Closed,
    /// Calls are rejected until the break is over.
    Open,
    /// A bounded number of probes go through; their outcome closes or opens the breaker.
    HalfOpen,
    /// Opened by hand: calls are rejected until [`Breaker::reset`].
    Isolated,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half-open",
            State::Isolated => "isolated",
        })
    }
}

/// Leave to make one call. Report it once: [`Breaker::on_outcome`] or [`Breaker::cancel`]
/// (or the same methods of [`Breakers`]). Reporting a permit again, or a permit of an earlier
/// phase, changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a permit is reported with on_outcome or cancel"]
pub struct Permit {
    pub(crate) breaker: u64,
    pub(crate) slot: u32,
    pub(crate) generation: u64,
    pub(crate) issued: Instant,
    /// The half-open probe slot, if this is a probe.
    pub(crate) probe: Option<u8>,
}

impl Permit {
    /// Whether this call is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe.is_some()
    }

    /// When it was given: a call's duration (for slow calls) is measured from here.
    pub fn issued(&self) -> Instant {
        self.issued
    }

    /// Moves the start of the call's duration to `now` (when the call waited for something
    /// else, a rate limit, between the permit and the send).
    pub fn restart(&mut self, now: Instant) {
        self.issued = now;
    }
}

/// What the breaker says before a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Decision {
    /// Make the call.
    Permit(Permit),
    /// Do not: the breaker is open (or half-open with its probes out). `until` is when it
    /// may let a call through; `None` while isolated (until a reset).
    Rejected {
        /// When to ask again.
        until: Option<Instant>,
    },
}

/// A transition, queued for [`Breaker::poll_event`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BreakerEvent {
    /// The window's failures (or slow calls) reached their ratio: open for `break_for`.
    Opened {
        /// Failed calls over calls in the window.
        failure_ratio: f64,
        /// Slow calls over calls in the window.
        slow_ratio: f64,
        /// Calls in the window.
        calls: u32,
        /// How long until a probe may go.
        break_for: Duration,
    },
    /// A probe failed: open again, for longer.
    Reopened {
        /// How long until the next probe may go.
        break_for: Duration,
    },
    /// The break is over: probes may go.
    HalfOpened {
        /// Calls rejected during the break.
        rejected: u64,
    },
    /// Every probe succeeded: calls go through again.
    Closed,
    /// Opened by hand, until a reset.
    Isolated,
    /// Closed by hand.
    Reset,
    /// A saved state was restored.
    Restored {
        /// The state it restored.
        state: State,
    },
}

impl fmt::Display for BreakerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakerEvent::Opened {
                failure_ratio,
                slow_ratio,
                calls,
                break_for,
            } => write!(
                f,
                "breaker opened: {:.0} % of {calls} calls failed, {:.0} % slow; probing in {:.1} s",
                failure_ratio * 100.0,
                slow_ratio * 100.0,
                break_for.as_secs_f64()
            ),
            BreakerEvent::Reopened { break_for } => write!(
                f,
                "breaker probe failed; open again, probing in {:.1} s",
                break_for.as_secs_f64()
            ),
            BreakerEvent::HalfOpened { rejected } => {
                write!(
                    f,
                    "breaker half-open, probing ({rejected} calls rejected while open)"
                )
            }
            BreakerEvent::Closed => f.write_str("breaker closed: the service answers again"),
            BreakerEvent::Isolated => f.write_str("breaker isolated: open until reset"),
            BreakerEvent::Reset => f.write_str("breaker reset: closed"),
            BreakerEvent::Restored { state } => write!(f, "breaker restored, {state}"),
        }
    }
}

/// One circuit breaker. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Breaker {
    config: BreakerConfig,
    machine: Machine,
    events: VecDeque<BreakerEvent>,
}

impl Breaker {
    /// A closed breaker. An invalid config is used [sanitized](BreakerConfig::sanitized)
    /// (check it first with [`BreakerConfig::validate`] to be told).
    pub fn new(config: BreakerConfig) -> Self {
        let config = config.sanitized();
        Breaker {
            machine: Machine::new(0, &config),
            config,
            events: VecDeque::new(),
        }
    }

    /// The configuration in force (sanitized).
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// Before a call: a permit, or a rejection saying when to come back. An open breaker
    /// whose break is over turns half-open here.
    pub fn allow(&mut self, now: Instant) -> Decision {
        let events = &mut self.events;
        self.machine
            .allow(&self.config, now, 0, &mut |e| events.push_back(e))
    }

    /// After a permitted call: what it produced. May open or close the breaker.
    pub fn on_outcome(&mut self, now: Instant, permit: Permit, outcome: &Attempted) {
        let events = &mut self.events;
        self.machine
            .on_outcome(&self.config, now, &permit, outcome, &mut |e| {
                events.push_back(e)
            });
    }

    /// A permitted call that will not be reported (never sent, or its outcome unknown): a
    /// probe's slot goes back; nothing is counted.
    pub fn cancel(&mut self, permit: Permit) {
        self.machine.cancel(&permit);
    }

    /// Opens the breaker until [`Breaker::reset`], whatever the calls say (maintenance, an
    /// operator's decision).
    pub fn isolate(&mut self) {
        let events = &mut self.events;
        self.machine.isolate(&mut |e| events.push_back(e));
    }

    /// Closes the breaker, with an empty window and the first break length next time.
    pub fn reset(&mut self) {
        let events = &mut self.events;
        self.machine
            .reset(&self.config, &mut |e| events.push_back(e));
    }

    /// The state now. An open breaker whose break is over stays `Open` until the next
    /// [`Breaker::allow`].
    pub fn state(&self) -> State {
        self.machine.state()
    }

    /// While open: when a probe may go.
    pub fn open_until(&self) -> Option<Instant> {
        self.machine.open_until()
    }

    /// The next transition, if any. Drain after every call.
    pub fn poll_event(&mut self) -> Option<BreakerEvent> {
        self.events.pop_front()
    }

    /// The state to save: times relative to `now`, anchored to its wall clock.
    pub fn save(&self, now: Now) -> BreakerState {
        state::save(&self.machine, "", now)
    }

    /// Takes up a saved state (see [`BreakerState`] for how times carry over). Probes that
    /// were out when it was saved are forgotten; their permits are stale.
    pub fn restore(&mut self, now: Now, saved: &BreakerState) {
        let events = &mut self.events;
        state::restore(&mut self.machine, &self.config, now, saved, &mut |e| {
            events.push_back(e)
        });
    }
}
