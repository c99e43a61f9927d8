//! Budgets shared by many processes and machines through a store (Redis, say): the sans-IO
//! half.
//!
//! When several workers, services or machines call one API with one key, each local bucket
//! believes it owns the whole budget. A [`SharedBudget`] configured on the Pacer
//! ([`crate::PacerConfig::shared`]) moves the bucket into a store every process asks: before
//! each attempt the Pacer's answer is [`crate::Begin::Reserve`] — "ask the store for `tokens`
//! of bucket `key`" — the driver asks, and feeds the store's [`Reply`] back with
//! [`crate::Pacer::on_reserved`]. The core never touches the store.
//!
//! ```text
//!  poll_send ──► Begin::Reserve(r) ──► driver: store.reserve(r) ──► on_reserved(reply) ─┐
//!      ▲                                                                                │
//!      └──── Granted { wait } : Wait(now + wait), then the local checks, then Send ◄────┤
//!      └──── NotYet { wait }  : Wait(now + wait), then ask the store again        ◄─────┤
//!      └──── Unreachable      : OnUnreachable::Wait  → wait `probe_every`, ask again ◄──┤
//!                               OnUnreachable::Local → a local bucket with a fraction ◄─┘
//!                                 of the rate until the next probe
//! ```
//!
//! Signals travel too: a pause this process takes from a response (`Retry-After`, a window
//! reported exhausted until its reset) is queued as a [`SharedSignal`] for the driver to
//! publish ([`crate::Pacer::poll_shared`]), and every other process's next reservation is
//! answered after it.
//!
//! # The store's arithmetic
//!
//! The bucket is the core's GCRA (`throttle::gcra`), counted in whole microseconds of the
//! **store's** clock (Redis's `TIME`), so that processes whose clocks disagree share one
//! timeline. Every instant is a [`Ticks`]: whole microseconds plus a remainder in `1/count`
//! µs, so a rate such as 3/s (an interval of 333 333⅓ µs) is exact and nothing drifts.
//! [`BucketState`] is the reference: the Redis store's Lua script does exactly what
//! [`BucketState::reserve`] and [`BucketState::pause`] do, step for step (tests hold the two
//! to the same answers, and this one to the core's own GCRA). A reservation is taken ahead
//! of time when its turn is at most [`SharedBudget::max_ahead`] away: each attempt then costs
//! one round trip, and waiting workers do not stampede the store.
//!
//! ```
//! use std::time::Duration;
//! use paceline::shared::{BucketState, Reply, SharedBudget};
//! use paceline::throttle::Limit;
//!
//! // 2 per second, burst 2: two go at once, the third half a second later.
//! let budget = SharedBudget::new("api-key-1", Limit::per_second(2).burst(2));
//! let mut bucket = BucketState::default();
//! let now_us = 1_700_000_000_000_000;
//! let r = budget.reservation(1);
//! for expected in [0, 0, 500_000] {
//!     let reply = bucket.reserve(now_us, &r);
//!     assert_eq!(reply, Reply::Granted { wait: Duration::from_micros(expected), paused: false });
//! }
//! // Another process's 429 with `Retry-After: 10`: everyone waits.
//! bucket.pause(now_us, 10_000_000);
//! let Reply::NotYet { paused: true, .. } = bucket.reserve(now_us, &r) else { panic!() };
//! ```

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::throttle::Limit;

/// The largest integer a Lua number (an IEEE double) holds exactly: every value the store's
/// script computes stays below it.
pub const MAX_EXACT: u64 = (1 << 53) - 1;

/// A budget shared with other processes through a store: one bucket, named `key`, that every
/// request of the Pacer draws from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SharedBudget {
    /// The bucket's name in the store. Processes sharing a budget use the same key and the
    /// same limit.
    pub key: String,
    /// The rate and burst shared by every process (counted in whole microseconds).
    pub limit: Limit,
    /// What to do while the store cannot be reached. Default: wait for it
    /// ([`OnUnreachable::Wait`]).
    pub on_unreachable: OnUnreachable,
    /// How far ahead a reservation may be taken: a turn further away than this is not taken,
    /// and the request asks again when it is this close. Default 1 s (a few round trips
    /// would do; the longer, the fewer asks when many workers queue, and the more budget a
    /// crashed worker's reservations waste: at most this much of the rate).
    #[serde(with = "crate::serde_secs")]
    pub max_ahead: Duration,
    /// While the store is unreachable, how often it is asked again. Default 1 s.
    #[serde(with = "crate::serde_secs")]
    pub probe_every: Duration,
}

impl Default for SharedBudget {
    fn default() -> Self {
        SharedBudget::new("paceline", Limit::per_second(1))
    }
}

/// What a Pacer does while its shared budget's store cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
#[non_exhaustive]
pub enum OnUnreachable {
    /// Fail closed (the default): requests wait, and the store is asked again every
    /// [`SharedBudget::probe_every`]. No process can overspend the budget.
    #[default]
    Wait,
    /// Fail open: requests draw from a local bucket with this fraction of the shared rate
    /// (burst 1: the processes switch at about the same moment, and their bursts would add
    /// up; a request costing more waits for the store), asking the store again every
    /// [`SharedBudget::probe_every`]. With `n` processes, `1/n` keeps the whole within the
    /// budget. The local bucket starts after the last turn the store granted this Pacer:
    /// the turns reserved before the outage are spent first.
    Local {
        /// The fraction of the shared rate, in (0, 1].
        fraction: f64,
    },
}

/// Why a [`SharedBudget`] cannot be used as given.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SharedConfigError {
    /// The key is empty.
    EmptyKey,
    /// `burst × period` (in µs) is past what the store's arithmetic holds exactly
    /// ([`MAX_EXACT`]).
    TooLarge,
    /// [`OnUnreachable::Local`]'s fraction is not in (0, 1].
    BadFraction,
}

impl std::fmt::Display for SharedConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SharedConfigError::EmptyKey => "a shared budget needs a key",
            SharedConfigError::TooLarge => {
                "a shared budget's burst times its period must be under 2^53 microseconds"
            }
            SharedConfigError::BadFraction => "a shared budget's local fraction must be in (0, 1]",
        })
    }
}

impl std::error::Error for SharedConfigError {}

impl SharedBudget {
    /// A budget of `limit` under `key`, with the documented defaults.
    pub fn new(key: &str, limit: Limit) -> Self {
        SharedBudget {
            key: key.into(),
            limit,
            on_unreachable: OnUnreachable::Wait,
            max_ahead: Duration::from_secs(1),
            probe_every: Duration::from_secs(1),
        }
    }

    /// Sets [`SharedBudget::on_unreachable`].
    pub fn on_unreachable(mut self, o: OnUnreachable) -> Self {
        self.on_unreachable = o;
        self
    }

    /// Sets [`SharedBudget::max_ahead`].
    pub fn max_ahead(mut self, d: Duration) -> Self {
        self.max_ahead = d;
        self
    }

    /// Sets [`SharedBudget::probe_every`].
    pub fn probe_every(mut self, d: Duration) -> Self {
        self.probe_every = d;
        self
    }

    /// Checks that the budget can be used as given (a Pacer clamps what does not fit).
    ///
    /// # Errors
    /// See [`SharedConfigError`].
    pub fn validate(&self) -> Result<(), SharedConfigError> {
        if self.key.is_empty() {
            return Err(SharedConfigError::EmptyKey);
        }
        let per_us = u128::from(per_us(&self.limit));
        if per_us * u128::from(self.limit.burst.max(1)) > u128::from(MAX_EXACT)
            || self.limit.count > MAX_EXACT
        {
            return Err(SharedConfigError::TooLarge);
        }
        if let OnUnreachable::Local { fraction } = self.on_unreachable
            && !(fraction > 0.0 && fraction <= 1.0)
        {
            return Err(SharedConfigError::BadFraction);
        }
        Ok(())
    }

    /// The bucket's parameters in the store's units.
    pub fn bucket(&self) -> BucketParams {
        let count = self.limit.count.clamp(1, MAX_EXACT);
        let per = per_us(&self.limit);
        // Held to what the arithmetic holds exactly (see `validate`).
        let burst = self.limit.burst.clamp(1, (MAX_EXACT / per).max(1));
        let split = |units: u64| {
            let total = u128::from(units) * u128::from(per);
            Ticks {
                us: u64::try_from(total / u128::from(count)).unwrap_or(MAX_EXACT),
                frac: (total % u128::from(count)) as u64,
            }
        };
        BucketParams {
            count,
            burst,
            interval: split(1),
            tolerance: split(burst),
            lead: split(burst - 1),
        }
    }

    /// A reservation of `tokens` (held to the burst) from this budget.
    pub fn reservation(&self, tokens: u64) -> Reservation {
        let bucket = self.bucket();
        Reservation::new(self.key.as_str().into(), tokens, bucket, self.max_ahead)
    }
}

/// The limit's period in whole microseconds (at least 1).
fn per_us(limit: &Limit) -> u64 {
    u64::try_from(limit.per.as_micros())
        .unwrap_or(MAX_EXACT)
        .clamp(1, MAX_EXACT)
}

/// An instant or a span on the store's clock: `us + frac / count` microseconds
/// (`frac < count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Ticks {
    /// Whole microseconds.
    pub us: u64,
    /// The remainder, in `1/count` µs.
    pub frac: u64,
}

/// A shared bucket's GCRA parameters, in the store's units (see [`Ticks`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BucketParams {
    /// Units per period: the denominator of every [`Ticks::frac`].
    pub count: u64,
    /// Units that may go at once.
    pub burst: u64,
    /// The emission interval `T = period / count`.
    pub interval: Ticks,
    /// `burst × T`.
    pub tolerance: Ticks,
    /// `(burst − 1) × T`.
    pub lead: Ticks,
}

impl BucketParams {
    fn add(&self, a: Ticks, b: Ticks) -> Ticks {
        let (mut us, mut frac) = (a.us.saturating_add(b.us), a.frac + b.frac);
        if frac >= self.count {
            frac -= self.count;
            us = us.saturating_add(1);
        }
        Ticks { us, frac }
    }

    /// `a − b`, or zero if `b ≥ a`.
    fn sub(&self, a: Ticks, b: Ticks) -> Ticks {
        if b >= a {
            return Ticks::default();
        }
        if a.frac < b.frac {
            Ticks {
                us: a.us - b.us - 1,
                frac: a.frac + self.count - b.frac,
            }
        } else {
            Ticks {
                us: a.us - b.us,
                frac: a.frac - b.frac,
            }
        }
    }

    /// `units × T`.
    pub fn times(&self, units: u64) -> Ticks {
        // T = us + frac/count: units × T = units·us + (units·frac)/count.
        let frac = u128::from(units) * u128::from(self.interval.frac);
        let count = u128::from(self.count);
        Ticks {
            us: units
                .saturating_mul(self.interval.us)
                .saturating_add(u64::try_from(frac / count).unwrap_or(u64::MAX)),
            frac: (frac % count) as u64,
        }
    }

    /// An arrival at whole microsecond `now`, as the core's GCRA takes it: `now` itself when
    /// `T` is whole, else the last fraction of the microsecond before it.
    fn arrival(&self, now: u64) -> Ticks {
        if self.interval.frac == 0 || now == 0 {
            Ticks { us: now, frac: 0 }
        } else {
            Ticks {
                us: now - 1,
                frac: 1,
            }
        }
    }
}

/// Whole microseconds of `t`, rounded up.
fn ceil(t: Ticks) -> u64 {
    t.us.saturating_add(u64::from(t.frac > 0))
}

/// "Ask the store for `tokens` of bucket `key`": the action [`crate::Begin::Reserve`]
/// carries. The store answers with a [`Reply`], on its own clock.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reservation {
    /// The bucket's name in the store.
    pub key: Arc<str>,
    /// Units asked for (at most the burst).
    pub tokens: u64,
    /// The bucket.
    pub bucket: BucketParams,
    /// `tokens × T`.
    pub cost: Ticks,
    /// A turn further away than this many µs is not taken ([`SharedBudget::max_ahead`]).
    pub max_ahead_us: u64,
}

impl Reservation {
    /// A reservation of `tokens` (held to `1..=burst`) of `bucket` under `key`.
    pub fn new(key: Arc<str>, tokens: u64, bucket: BucketParams, max_ahead: Duration) -> Self {
        let tokens = tokens.clamp(1, bucket.burst);
        Reservation {
            key,
            tokens,
            cost: bucket.times(tokens),
            bucket,
            max_ahead_us: u64::try_from(max_ahead.as_micros())
                .unwrap_or(MAX_EXACT)
                .min(MAX_EXACT),
        }
    }
}

/// The store's answer to a [`Reservation`], told to the Pacer with
/// [`crate::Pacer::on_reserved`]. Waits are counted from when the store answered (the
/// driver passes the time the answer arrived), so no two clocks are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// The tokens are taken: the request may go after `wait` (zero: now).
    Granted {
        /// How long until its turn.
        wait: Duration,
        /// Whether the bucket was paused by a signal (another process's `Retry-After`).
        paused: bool,
    },
    /// Nothing taken: its turn is more than [`SharedBudget::max_ahead`] away; ask again after
    /// `wait`.
    NotYet {
        /// How long until asking again.
        wait: Duration,
        /// Whether the bucket is paused by a signal.
        paused: bool,
    },
    /// The store could not be reached (or answered nonsense): see [`OnUnreachable`].
    Unreachable,
}

/// Something this process learned that the other sharers must know: published to the
/// store by the driver (drained with [`crate::Pacer::poll_shared`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SharedSignal {
    /// Hold every request of bucket `key` for `wait` from when the store hears of it (a
    /// `Retry-After`, a window exhausted until its reset).
    Pause {
        /// The bucket.
        key: Arc<str>,
        /// How long.
        wait: Duration,
    },
}

/// One bucket's state in the store: the reference the store's script mirrors exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct BucketState {
    /// The theoretical arrival time, µs on the store's clock.
    pub tat: Ticks,
    /// Until when the bucket is paused (0: never), µs.
    pub paused_until: u64,
}

impl BucketState {
    /// Answers `r` at `now_us` (the store's clock), taking the tokens when granted.
    ///
    /// The turn is the core's GCRA earliest conforming time for `r.tokens`, as of the later of
    /// now and the pause's end; it is taken when at most `r.max_ahead_us` away.
    pub fn reserve(&mut self, now_us: u64, r: &Reservation) -> Reply {
        let b = &r.bucket;
        let from = now_us.max(self.paused_until);
        let paused = self.paused_until > now_us;
        let at = if r.tokens == 1 {
            // As the core's GCRA: an arrival later than `tat − lead` conforms.
            ceil(b.sub(self.tat, b.lead)).max(from)
        } else {
            let next = b.add(self.tat.max(b.arrival(from)), r.cost);
            let allow = b.sub(next, b.tolerance);
            if allow <= (Ticks { us: from, frac: 0 }) {
                from
            } else {
                ceil(allow)
            }
        };
        let ahead = at - now_us;
        if ahead > r.max_ahead_us {
            return Reply::NotYet {
                wait: Duration::from_micros(ahead - r.max_ahead_us),
                paused,
            };
        }
        self.tat = b.add(self.tat.max(b.arrival(at)), r.cost);
        Reply::Granted {
            wait: Duration::from_micros(ahead),
            paused,
        }
    }

    /// Pauses the bucket for `wait_us` from `now_us` (a longer pause already there stays).
    pub fn pause(&mut self, now_us: u64, wait_us: u64) {
        self.paused_until = self
            .paused_until
            .max(now_us.saturating_add(wait_us.min(MAX_EXACT / 2)));
    }

    /// How long the state still matters after `now_us`, in µs: past it, a fresh bucket
    /// answers the same (the store lets the key expire then; a second of margin is added).
    pub fn ttl_us(&self, now_us: u64) -> u64 {
        ceil(self.tat)
            .max(self.paused_until)
            .saturating_sub(now_us)
            .saturating_add(1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::throttle::Gcra;
    use quickcheck::{QuickCheck, TestResult};

    fn budget(count: u64, per_us: u64, burst: u64) -> SharedBudget {
        SharedBudget::new(
            "k",
            Limit::new(count, Duration::from_micros(per_us)).burst(burst),
        )
        .max_ahead(Duration::ZERO)
    }

    #[test]
    fn validate_refuses_what_the_store_cannot_hold() {
        assert_eq!(budget(1, 1, 1).validate(), Ok(()));
        let mut b = budget(10, 86_400_000_000, 1 << 20);
        assert_eq!(b.validate(), Err(SharedConfigError::TooLarge));
        b = budget(1, 1, 1).on_unreachable(OnUnreachable::Local { fraction: 0.0 });
        assert_eq!(b.validate(), Err(SharedConfigError::BadFraction));
        b.key.clear();
        assert_eq!(b.validate(), Err(SharedConfigError::EmptyKey));
    }

    #[test]
    fn three_per_second_is_exact() {
        let b = budget(3, 1_000_000, 1).max_ahead(Duration::from_secs(3600));
        let r = b.reservation(1);
        let mut s = BucketState::default();
        let mut waits = Vec::new();
        for _ in 0..4 {
            let Reply::Granted { wait, .. } = s.reserve(10, &r) else {
                panic!()
            };
            waits.push(wait.as_micros());
        }
        assert_eq!(waits, [0, 333_333, 666_666, 1_000_000]);
    }

    #[test]
    fn pause_holds_and_expires() {
        let r = budget(10, 1_000_000, 1).reservation(1);
        let mut s = BucketState::default();
        s.pause(1_000, 2_000_000);
        assert_eq!(
            s.reserve(1_000, &r),
            Reply::NotYet {
                wait: Duration::from_secs(2),
                paused: true
            }
        );
        assert_eq!(s.ttl_us(1_000), 2_000_000 + 1_000_000);
        assert!(matches!(
            s.reserve(2_001_000, &r),
            Reply::Granted { paused: false, .. }
        ));
    }

    /// The reference takes exactly the turns the core's own GCRA gives (time counted in µs
    /// instead of ns: the GCRA is unit-free), for any rates, bursts, costs and arrival gaps.
    #[test]
    fn prop_reference_is_the_core_gcra() {
        fn prop(count: u16, per: u32, burst: u8, steps: Vec<(u32, u8)>) -> TestResult {
            let count = u64::from(count % 1000) + 1;
            let per_us = u64::from(per % 5_000_000) + 1;
            let burst = u64::from(burst % 6) + 1;
            let shared = budget(count, per_us, burst).max_ahead(Duration::from_secs(1 << 30));
            let mut gcra = Gcra::new(&Limit::new(count, Duration::from_nanos(per_us)).burst(burst));
            let mut state = BucketState::default();
            let mut now = 1u64;
            for (gap, cost) in steps.into_iter().take(200) {
                now += u64::from(gap % 3_000_000);
                let tokens = u64::from(cost % 3) + 1;
                let expected = match gcra.earliest_with_slack(now, tokens, 0) {
                    Some(at) => at,
                    None => continue,
                };
                let r = shared.reservation(tokens);
                let Reply::Granted { wait, .. } = state.reserve(now, &r) else {
                    return TestResult::failed();
                };
                if now + wait.as_micros() as u64 != expected {
                    return TestResult::failed();
                }
                gcra.consume(expected, tokens);
                if ceil(b_sub(&r.bucket, state.tat, r.bucket.lead)) != gcra.next_free() {
                    return TestResult::failed();
                }
            }
            TestResult::passed()
        }
        fn b_sub(b: &BucketParams, a: Ticks, c: Ticks) -> Ticks {
            b.sub(a, c)
        }
        QuickCheck::new()
            .tests(500)
            .quickcheck(prop as fn(u16, u32, u8, Vec<(u32, u8)>) -> TestResult);
    }

    /// Never above the limit: in any window of one period, the granted turns number at most
    /// `count + burst − 1`, whatever the arrivals and however far ahead turns are taken.
    #[test]
    fn prop_turns_never_exceed_the_limit() {
        fn prop(count: u8, burst: u8, ahead_ms: u16, gaps: Vec<u16>) -> bool {
            let count = u64::from(count % 20) + 1;
            let burst = u64::from(burst % 5) + 1;
            let b = budget(count, 1_000_000, burst)
                .max_ahead(Duration::from_millis(u64::from(ahead_ms % 3000)));
            let r = b.reservation(1);
            let mut s = BucketState::default();
            let mut now = 5u64;
            let mut turns = Vec::new();
            for gap in gaps.iter().take(300) {
                now += u64::from(*gap) * 10;
                if let Reply::Granted { wait, .. } = s.reserve(now, &r) {
                    turns.push(now + wait.as_micros() as u64);
                }
            }
            turns.sort_unstable();
            turns.iter().enumerate().all(|(i, &t)| {
                let n = turns[i..]
                    .iter()
                    .take_while(|&&x| x < t + 1_000_000)
                    .count() as u64;
                n < count + burst
            })
        }
        QuickCheck::new()
            .tests(300)
            .quickcheck(prop as fn(u8, u8, u16, Vec<u16>) -> bool);
    }
}
