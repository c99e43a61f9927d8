//! The transitions, shared by the single [`super::Breaker`] and the keyed
//! [`super::Breakers`]: both own the configuration and the event queue, and lend them here.

use std::time::{Duration, Instant};

use super::config::BreakerConfig;
use super::failure::Verdict;
use super::window::Window;
use super::{BreakerEvent, Decision, Permit, State};
use crate::error::Attempted;

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Closed,
    Open {
        until: Instant,
    },
    HalfOpen {
        /// Probe slots given out and not yet answered, one bit each.
        in_flight: u64,
        /// Probes answered with a success.
        succeeded: u32,
    },
    Isolated,
}

/// One breaker's state; the config it runs under is passed in.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    /// Tells this breaker's permits from another's.
    pub(crate) id: u64,
    pub(crate) phase: Phase,
    pub(crate) window: Window,
    /// Bumped on every transition: a permit of an earlier phase is stale.
    pub(crate) generation: u64,
    /// Opens since the breaker last closed (the current break is the `opens`-th).
    pub(crate) opens: u32,
    /// The current (or last) break's length.
    pub(crate) break_for: Duration,
    /// Requests rejected since the breaker last opened.
    pub(crate) rejected: u64,
}

impl Machine {
    pub(crate) fn new(id: u64, config: &BreakerConfig) -> Self {
        Machine {
            id,
            phase: Phase::Closed,
            window: Window::new(config.window),
            generation: 0,
            opens: 0,
            break_for: config.break_duration,
            rejected: 0,
        }
    }

    pub(crate) fn state(&self) -> State {
        match self.phase {
            Phase::Closed => State::Closed,
            Phase::Open { .. } => State::Open,
            Phase::HalfOpen { .. } => State::HalfOpen,
            Phase::Isolated => State::Isolated,
        }
    }

    fn permit(&self, now: Instant, slot: u32, probe: Option<u8>) -> Permit {
        Permit {
            breaker: self.id,
            slot,
            generation: self.generation,
            issued: now,
            probe,
        }
    }

    fn reject(&mut self, until: Option<Instant>) -> Decision {
        self.rejected = self.rejected.saturating_add(1);
        Decision::Rejected { until }
    }

    /// Before a call.
    pub(crate) fn allow(
        &mut self,
        config: &BreakerConfig,
        now: Instant,
        slot: u32,
        out: &mut impl FnMut(BreakerEvent),
    ) -> Decision {
        match self.phase {
            Phase::Closed => return Decision::Permit(self.permit(now, slot, None)),
            Phase::Isolated => return self.reject(None),
            Phase::Open { until } if now < until => return self.reject(Some(until)),
            Phase::Open { .. } => {
                self.generation += 1;
                self.phase = Phase::HalfOpen {
                    in_flight: 0,
                    succeeded: 0,
                };
                out(BreakerEvent::HalfOpened {
                    rejected: std::mem::take(&mut self.rejected),
                });
            }
            Phase::HalfOpen { .. } => {}
        }
        let Phase::HalfOpen {
            in_flight,
            succeeded,
        } = &mut self.phase
        else {
            unreachable!("the breaker was made half-open above")
        };
        if in_flight.count_ones() + *succeeded >= config.half_open_probes {
            // A probe is out; its outcome decides. Asking again after one base break is
            // never too early to matter and never hammers.
            return self.reject(now.checked_add(config.break_duration).or(Some(now)));
        }
        let bit = in_flight.trailing_ones();
        *in_flight |= 1 << bit;
        let probe = u8::try_from(bit).unwrap_or(u8::MAX);
        Decision::Permit(self.permit(now, slot, Some(probe)))
    }

    /// After a call's outcome.
    pub(crate) fn on_outcome(
        &mut self,
        config: &BreakerConfig,
        now: Instant,
        permit: &Permit,
        outcome: &Attempted,
        out: &mut impl FnMut(BreakerEvent),
    ) {
        if permit.breaker != self.id || permit.generation != self.generation {
            return;
        }
        let verdict = config.failures.verdict(outcome);
        let took = now.saturating_duration_since(permit.issued);
        let slow = config.slow_calls.is_some_and(|s| took >= s.threshold);
        match (&mut self.phase, permit.probe) {
            (Phase::Closed, None) => {
                if verdict == Verdict::Ignored {
                    return;
                }
                let failed = verdict == Verdict::Failure;
                self.window.record(now, failed, slow);
                // It trips on a failing or slow call, never on a success (a success only
                // lowers the ratios): the common outcome costs no look at the window.
                if failed || slow {
                    self.check_trip(config, now, out);
                }
            }
            (
                Phase::HalfOpen {
                    in_flight,
                    succeeded,
                },
                Some(bit),
            ) => {
                let mask = 1u64.checked_shl(u32::from(bit)).unwrap_or(0);
                if *in_flight & mask == 0 {
                    return;
                }
                *in_flight &= !mask;
                match verdict {
                    Verdict::Ignored => {}
                    Verdict::Failure => self.open(config, now, None, out),
                    Verdict::Success if slow => self.open(config, now, None, out),
                    Verdict::Success => {
                        *succeeded += 1;
                        if *succeeded >= config.half_open_probes {
                            self.close(out);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// A permit that will never be reported: a probe's slot goes back.
    pub(crate) fn cancel(&mut self, permit: &Permit) {
        if permit.breaker != self.id || permit.generation != self.generation {
            return;
        }
        if let (Phase::HalfOpen { in_flight, .. }, Some(bit)) = (&mut self.phase, permit.probe) {
            *in_flight &= !1u64.checked_shl(u32::from(bit)).unwrap_or(0);
        }
    }

    fn check_trip(
        &mut self,
        config: &BreakerConfig,
        now: Instant,
        out: &mut impl FnMut(BreakerEvent),
    ) {
        let t = self.window.totals(now);
        if t.calls == 0 || t.calls < config.effective_minimum() {
            return;
        }
        let calls = f64::from(t.calls);
        let failure_ratio = f64::from(t.failures) / calls;
        let slow_ratio = f64::from(t.slow) / calls;
        let slow_trip = config.slow_calls.is_some_and(|s| slow_ratio >= s.ratio);
        if failure_ratio >= config.failure_ratio || slow_trip {
            let why = Trip {
                failure_ratio,
                slow_ratio,
                calls: t.calls,
            };
            self.open(config, now, Some(why), out);
        }
    }

    /// Opens (from closed when `why` is given, else again after a failed probe).
    fn open(
        &mut self,
        config: &BreakerConfig,
        now: Instant,
        why: Option<Trip>,
        out: &mut impl FnMut(BreakerEvent),
    ) {
        self.opens = self.opens.saturating_add(1);
        self.break_for = config.break_for(self.opens);
        self.generation += 1;
        self.rejected = 0;
        self.window.clear();
        let until = now.checked_add(self.break_for).unwrap_or(now);
        self.phase = Phase::Open { until };
        out(match why {
            Some(t) => BreakerEvent::Opened {
                failure_ratio: t.failure_ratio,
                slow_ratio: t.slow_ratio,
                calls: t.calls,
                break_for: self.break_for,
            },
            None => BreakerEvent::Reopened {
                break_for: self.break_for,
            },
        });
    }

    fn close(&mut self, out: &mut impl FnMut(BreakerEvent)) {
        self.phase = Phase::Closed;
        self.generation += 1;
        self.opens = 0;
        self.window.clear();
        out(BreakerEvent::Closed);
    }

    /// Opens until [`Machine::reset`], whatever the calls say.
    pub(crate) fn isolate(&mut self, out: &mut impl FnMut(BreakerEvent)) {
        self.phase = Phase::Isolated;
        self.generation += 1;
        self.rejected = 0;
        self.window.clear();
        out(BreakerEvent::Isolated);
    }

    /// Closed, with an empty window and the first break length next time.
    pub(crate) fn reset(&mut self, config: &BreakerConfig, out: &mut impl FnMut(BreakerEvent)) {
        self.phase = Phase::Closed;
        self.generation += 1;
        self.opens = 0;
        self.rejected = 0;
        self.break_for = config.break_duration;
        self.window.clear();
        out(BreakerEvent::Reset);
    }

    /// When an open breaker lets a probe through.
    pub(crate) fn open_until(&self) -> Option<Instant> {
        match self.phase {
            Phase::Open { until } => Some(until),
            _ => None,
        }
    }
}

/// Why a closed breaker tripped.
#[derive(Debug, Clone, Copy)]
struct Trip {
    failure_ratio: f64,
    slow_ratio: f64,
    calls: u32,
}
