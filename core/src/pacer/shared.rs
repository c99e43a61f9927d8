//! The Pacer's side of a shared budget (see [`crate::shared`]): when to ask the store, what
//! its answer means for the call, the fail-open bucket, and the signals to publish.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Begin, Call, Event, Pacer};
use crate::error::Error;
use crate::shared::{BucketParams, OnUnreachable, Reply, Reservation, SharedBudget, SharedSignal};
use crate::throttle::{Gcra, Limit};
use crate::time::Now;

/// A Pacer's shared budget: its configuration and what it knows of the store.
#[derive(Debug, Clone)]
pub(super) struct SharedState {
    cfg: SharedBudget,
    key: Arc<str>,
    bucket: BucketParams,
    /// The fail-open bucket ([`OnUnreachable::Local`]), ns since the Pacer's epoch.
    local: Option<Gcra>,
    /// While the store is unreachable: since when, and when to ask it again.
    down: Option<(Instant, Instant)>,
    /// The latest turn the store granted this Pacer: the fail-open bucket starts after it,
    /// so that the turns reserved before an outage and the local fraction do not add up.
    last_turn: Option<Instant>,
    /// When the fail-open bucket may start (see `last_turn`).
    local_from: Option<Instant>,
    /// Whether the bucket's pause was announced (once per pause).
    paused: bool,
    outbox: VecDeque<SharedSignal>,
}

impl SharedState {
    pub(super) fn new(cfg: SharedBudget) -> Self {
        let bucket = cfg.bucket();
        let local = match cfg.on_unreachable {
            OnUnreachable::Local { fraction } => {
                let f = if fraction.is_finite() {
                    fraction.clamp(1e-6, 1.0)
                } else {
                    1.0
                };
                let per = Duration::try_from_secs_f64(cfg.limit.per.as_secs_f64() / f)
                    .unwrap_or(Duration::MAX);
                // Burst 1: every process switches to its local bucket at about the same
                // moment, and their bursts would add up.
                Some(Gcra::new(&Limit::new(cfg.limit.count, per)))
            }
            OnUnreachable::Wait => None,
        };
        SharedState {
            key: cfg.key.as_str().into(),
            bucket,
            local,
            down: None,
            last_turn: None,
            local_from: None,
            paused: false,
            outbox: VecDeque::new(),
            cfg,
        }
    }
}

impl Pacer {
    /// The shared budget's say before the local checks: `None` to go on (no shared budget,
    /// the call holds its grant, or the fail-open bucket granted it now), else what to answer.
    #[inline]
    pub(super) fn shared_begin(&mut self, call: &mut Call, now: Now, now_ns: u64) -> Option<Begin> {
        if call.shared_granted {
            return None;
        }
        let epoch = self.epoch;
        let shared = self.shared.as_mut()?;
        let cost = call.ticket.cost;
        if cost > shared.bucket.burst {
            return Some(Begin::Reject(Error::CostTooHigh {
                cost,
                capacity: shared.bucket.burst,
            }));
        }
        if let Some((_, probe_at)) = shared.down
            && now.mono < probe_at
        {
            let Some(local) = &mut shared.local else {
                return Some(Begin::Wait(probe_at));
            };
            if let Some(from) = shared.local_from
                && now.mono < from
            {
                return Some(Begin::Wait(from.min(probe_at)));
            }
            return match local.earliest_with_slack(now_ns, cost, 0) {
                Some(at) if at <= now_ns => {
                    local.consume(now_ns, cost);
                    call.shared_granted = true;
                    None
                }
                Some(at) => {
                    let at = epoch.and_then(|e| e.mono.checked_add(Duration::from_nanos(at)));
                    Some(Begin::Wait(at.map_or(probe_at, |t| t.min(probe_at))))
                }
                // A cost of more than one unit: only the store can grant it.
                None => Some(Begin::Wait(probe_at)),
            };
        }
        Some(Begin::Reserve(Reservation::new(
            Arc::clone(&shared.key),
            cost,
            shared.bucket,
            shared.cfg.max_ahead,
        )))
    }

    /// After [`Begin::Reserve`]: the store's answer, as it arrived at `now`. A grant lets the
    /// call go at its turn (the local checks still apply: a wait they add keeps the grant);
    /// `NotYet` makes it ask again later; `Unreachable` starts the configured failure mode
    /// ([`OnUnreachable`]), announced once per outage ([`Event::SharedUnreachable`]), as the
    /// store's return is ([`Event::SharedRecovered`]). Without a shared budget, nothing.
    pub fn on_reserved(&mut self, call: &mut Call, now: Now, reply: Reply) {
        let _ = self.ns(&now);
        let Some(shared) = self.shared.as_mut() else {
            return;
        };
        let (wait, paused, granted) = match reply {
            Reply::Granted { wait, paused } => (wait, paused, true),
            Reply::NotYet { wait, paused } => (wait, paused, false),
            Reply::Unreachable => {
                let probe_at = now.mono + shared.cfg.probe_every;
                let since = match shared.down {
                    Some((since, _)) => since,
                    None => {
                        shared.local_from = shared.last_turn.filter(|&t| t > now.mono);
                        self.events.push_back(Event::SharedUnreachable {
                            key: shared.cfg.key.clone(),
                            fallback: shared.cfg.on_unreachable,
                        });
                        now.mono
                    }
                };
                shared.down = Some((since, probe_at));
                if shared.local.is_none() {
                    call.not_before = Some(probe_at);
                }
                return;
            }
        };
        if let Some((since, _)) = shared.down.take() {
            self.events.push_back(Event::SharedRecovered {
                key: shared.cfg.key.clone(),
                down_for: now.mono.saturating_duration_since(since),
            });
        }
        if paused && !shared.paused {
            self.events.push_back(Event::SharedPaused {
                key: shared.cfg.key.clone(),
            });
        }
        shared.paused = paused;
        call.shared_granted = granted;
        if granted && let Some(turn) = now.mono.checked_add(wait) {
            shared.last_turn = Some(shared.last_turn.map_or(turn, |t| t.max(turn)));
        }
        if !wait.is_zero()
            && let Some(at) = now.mono.checked_add(wait)
        {
            call.not_before = Some(call.not_before.map_or(at, |t| t.max(at)));
        }
    }

    /// Queues a pause this Pacer took from a response for the other sharers (held to the
    /// retry policy's `max_wait`: a hostile value must not stall every process for years).
    pub(super) fn share_pause(&mut self, wait: Duration) {
        if let Some(shared) = &mut self.shared
            && !wait.is_zero()
        {
            // Bounded: a driver that never publishes (no store) must not grow it.
            if shared.outbox.len() >= 16 {
                shared.outbox.pop_front();
            }
            shared.outbox.push_back(SharedSignal::Pause {
                key: Arc::clone(&shared.key),
                wait: wait.min(self.retry.max_wait),
            });
        }
    }

    /// The next signal to publish to the shared budget's store (a pause), if any. Drain it
    /// after every report, as events; a signal that cannot be published may be dropped (the
    /// other sharers then learn the limit from their own responses).
    pub fn poll_shared(&mut self) -> Option<SharedSignal> {
        self.shared.as_mut().and_then(|s| s.outbox.pop_front())
    }

    /// The shared budget configured, if any.
    pub fn shared_budget(&self) -> Option<&SharedBudget> {
        self.shared.as_ref().map(|s| &s.cfg)
    }
}
