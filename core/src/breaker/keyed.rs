//! One breaker per key (a host, a route), bounded in number.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use super::config::BreakerConfig;
use super::machine::Machine;
use super::state::{self, BreakerState};
use super::{BreakerEvent, Decision, Permit, State};
use crate::error::Attempted;
use crate::time::Now;

/// How many keys a [`Breakers`] tracks by default: more hosts than an API client talks to,
/// few enough that a linear scan of them costs less than a hash.
pub const DEFAULT_MAX_KEYS: usize = 64;

#[derive(Debug, Clone)]
struct Entry {
    key: Arc<str>,
    machine: Machine,
    last_used: u64,
}

/// Breakers by key, all under one configuration, created on first use.
///
/// At most `max_keys` are kept. A new key past that drops the least recently used closed
/// breaker (it knows the least: a closed breaker's window is all it holds); when none is
/// closed, the least recently used open or half-open one; isolated breakers are never dropped
/// (an operator's decision), and a new key finding only isolated ones is not tracked: its
/// calls are permitted and not counted.
///
/// ```
/// use std::time::{Duration, Instant};
/// use http::StatusCode;
/// use paceline::Attempted;
/// use paceline::breaker::{BreakerConfig, Breakers, Decision, State};
///
/// let mut breakers = Breakers::new(BreakerConfig::default().minimum_calls(1));
/// let now = Instant::now();
/// let Decision::Permit(p) = breakers.allow("api.down.test", now) else { unreachable!() };
/// breakers.on_outcome(now, p, &Attempted::Status(StatusCode::BAD_GATEWAY));
/// assert_eq!(breakers.state("api.down.test"), Some(State::Open));
/// assert!(matches!(breakers.allow("api.down.test", now), Decision::Rejected { .. }));
/// assert!(matches!(breakers.allow("api.up.test", now), Decision::Permit(_)));
/// assert_eq!(breakers.poll_event().unwrap().0, "api.down.test");
/// ```
#[derive(Debug, Clone)]
pub struct Breakers {
    config: BreakerConfig,
    max_keys: usize,
    entries: Vec<Entry>,
    tick: u64,
    next_id: u64,
    events: VecDeque<(String, BreakerEvent)>,
}

/// The id of permits no breaker tracks.
const UNTRACKED: u64 = u64::MAX;

impl Breakers {
    /// Breakers under `config` ([sanitized](BreakerConfig::sanitized)), at most
    /// [`DEFAULT_MAX_KEYS`] of them.
    pub fn new(config: BreakerConfig) -> Self {
        Breakers {
            config: config.sanitized(),
            max_keys: DEFAULT_MAX_KEYS,
            entries: Vec::new(),
            tick: 0,
            next_id: 1,
            events: VecDeque::new(),
        }
    }

    /// At most `n` keys (at least 1).
    pub fn with_max_keys(mut self, n: usize) -> Self {
        self.max_keys = n.max(1);
        self
    }

    /// The configuration in force (sanitized).
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    fn find(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|e| &*e.key == key)
    }

    /// The key as shared storage: the stored one if the key is known, else a new one. Lets a
    /// caller hold a key across calls without allocating each time.
    pub(crate) fn shared_key(&self, key: &str) -> Arc<str> {
        match self.find(key) {
            Some(i) => Arc::clone(&self.entries[i].key),
            None => Arc::from(key),
        }
    }

    /// The index of `key`'s breaker, created if needed (`None`: untracked).
    fn entry(&mut self, key: &str) -> Option<usize> {
        self.tick += 1;
        if let Some(i) = self.find(key) {
            self.entries[i].last_used = self.tick;
            return Some(i);
        }
        if self.entries.len() >= self.max_keys {
            let by_age = |state_ok: fn(State) -> bool| {
                self.entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| state_ok(e.machine.state()))
                    .min_by_key(|(_, e)| e.last_used)
                    .map(|(i, _)| i)
            };
            let victim =
                by_age(|s| s == State::Closed).or_else(|| by_age(|s| s != State::Isolated));
            self.entries.swap_remove(victim?);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.entries.push(Entry {
            key: Arc::from(key),
            machine: Machine::new(id, &self.config),
            last_used: self.tick,
        });
        Some(self.entries.len() - 1)
    }

    /// The index of the breaker a permit came from.
    fn index_of(&self, permit: &Permit) -> Option<usize> {
        let hinted = usize::try_from(permit.slot).ok();
        hinted
            .filter(|&i| {
                self.entries
                    .get(i)
                    .is_some_and(|e| e.machine.id == permit.breaker)
            })
            .or_else(|| {
                self.entries
                    .iter()
                    .position(|e| e.machine.id == permit.breaker)
            })
    }

    /// Before a call to `key`: a permit, or a rejection saying when to come back.
    pub fn allow(&mut self, key: &str, now: Instant) -> Decision {
        let Some(i) = self.entry(key) else {
            return Decision::Permit(Permit {
                breaker: UNTRACKED,
                slot: u32::MAX,
                generation: 0,
                issued: now,
                probe: None,
            });
        };
        let e = &mut self.entries[i];
        let events = &mut self.events;
        let slot = u32::try_from(i).unwrap_or(u32::MAX);
        let key = &e.key;
        e.machine.allow(&self.config, now, slot, &mut |ev| {
            events.push_back((key.to_string(), ev))
        })
    }

    /// After a permitted call: what it produced.
    pub fn on_outcome(&mut self, now: Instant, permit: Permit, outcome: &Attempted) {
        let Some(i) = self.index_of(&permit) else {
            return;
        };
        let e = &mut self.entries[i];
        let (events, key) = (&mut self.events, &e.key);
        e.machine
            .on_outcome(&self.config, now, &permit, outcome, &mut |ev| {
                events.push_back((key.to_string(), ev))
            });
    }

    /// A permitted call that will not be reported: a probe's slot goes back.
    pub fn cancel(&mut self, permit: Permit) {
        if let Some(i) = self.index_of(&permit) {
            self.entries[i].machine.cancel(&permit);
        }
    }

    /// Opens `key`'s breaker until [`Breakers::reset`] (creating it if needed).
    pub fn isolate(&mut self, key: &str) {
        if let Some(i) = self.entry(key) {
            let e = &mut self.entries[i];
            let (events, key) = (&mut self.events, &e.key);
            e.machine
                .isolate(&mut |ev| events.push_back((key.to_string(), ev)));
        }
    }

    /// Closes `key`'s breaker, if there is one.
    pub fn reset(&mut self, key: &str) {
        if let Some(i) = self.find(key) {
            let e = &mut self.entries[i];
            let (events, key) = (&mut self.events, &e.key);
            e.machine.reset(&self.config, &mut |ev| {
                events.push_back((key.to_string(), ev))
            });
        }
    }

    /// The state of `key`'s breaker, if there is one.
    pub fn state(&self, key: &str) -> Option<State> {
        self.find(key).map(|i| self.entries[i].machine.state())
    }

    /// While `key`'s breaker is open: when a probe may go.
    pub fn open_until(&self, key: &str) -> Option<Instant> {
        self.find(key)
            .and_then(|i| self.entries[i].machine.open_until())
    }

    /// The keys tracked, with their states.
    pub fn states(&self) -> impl Iterator<Item = (&str, State)> {
        self.entries.iter().map(|e| (&*e.key, e.machine.state()))
    }

    /// The next transition and its key, if any. Drain after every call.
    pub fn poll_event(&mut self) -> Option<(String, BreakerEvent)> {
        self.events.pop_front()
    }

    /// Every breaker's state, to save.
    pub fn save(&self, now: Now) -> Vec<BreakerState> {
        self.entries
            .iter()
            .map(|e| state::save(&e.machine, &e.key, now))
            .collect()
    }

    /// Takes up saved states, each under its key (within the key limit).
    pub fn restore(&mut self, now: Now, saved: &[BreakerState]) {
        for s in saved {
            if let Some(i) = self.entry(&s.key) {
                let e = &mut self.entries[i];
                let (events, key) = (&mut self.events, &e.key);
                state::restore(&mut e.machine, &self.config, now, s, &mut |ev| {
                    events.push_back((key.to_string(), ev))
                });
            }
        }
    }
}
