//! GCRA (the generic cell rate algorithm) in exact integer arithmetic.
//!
//! Time is nanoseconds since the Pacer's epoch. The emission interval `T = per / count` is
//! rarely a whole number of nanoseconds (3 per second), so every instant the bucket keeps is a
//! [`Tick`]: whole nanoseconds plus a remainder in `1/count` ns. Adding `T` is two additions
//! and a carry; nothing is rounded, so nothing drifts over any run, and the hot path has no
//! multiplication or division (only a cost above 1 multiplies).

use super::limit::Limit;

/// An instant: `ns + frac / count` nanoseconds (`frac < count`), packed into one `u128` as
/// `ns × 2⁶⁴ + frac` so that ordering, adding and subtracting are single wide operations (a
/// carry or borrow between the parts is then one correction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
struct Tick(u128);

const FRAC_BITS: u32 = 64;

impl Tick {
    fn new(ns: u64, frac: u64) -> Self {
        Tick((u128::from(ns) << FRAC_BITS) | u128::from(frac))
    }
    fn ns(self) -> u64 {
        (self.0 >> FRAC_BITS) as u64
    }
    fn frac(self) -> u64 {
        self.0 as u64
    }
    /// Whole nanoseconds, rounded up.
    fn ceil_ns(self) -> u64 {
        self.ns().saturating_add(u64::from(self.frac() > 0))
    }
}

/// The time now as every bucket sees an arrival (see [`Gcra::arrival`]), computed once for a
/// decision over many buckets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    /// For a bucket counting whole nanoseconds (`count` 1): `now` itself.
    whole: Tick,
    /// For the others: the last fraction of the nanosecond before `now`.
    split: Tick,
}

impl Arrival {
    #[inline]
    pub(crate) fn new(now: u64) -> Self {
        let whole = Tick::new(now, 0);
        let split = if now == 0 {
            whole
        } else {
            Tick::new(now - 1, 1)
        };
        Arrival { whole, split }
    }
}

/// One GCRA bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gcra {
    count: u64,
    /// `2⁶⁴ − count`: what a carry out of (or borrow into) the fraction corrects by.
    wrap: u128,
    /// The emission interval `T`.
    t: Tick,
    /// The tolerance: `burst × T` (a unit conforms when `tat + T − tolerance ≤ now`).
    tolerance: Tick,
    /// `(burst − 1) × T`: one unit conforms exactly when `tat ≤ now + lead`.
    lead: Tick,
    burst: u64,
    per_ns: u64,
    /// `T` is a whole number of nanoseconds (`count` divides the period: 10/s, 500/min,
    /// 10 000/day). Arrivals are then taken at whole nanoseconds too, so every instant the
    /// bucket keeps is whole and one unit is a `u64` addition ([`Gcra::take_one`]). The
    /// answers are the same as with split arrivals: those only shift `tat` by less than a
    /// nanosecond below a whole value, which every rounding up absorbs.
    whole: bool,
    /// The theoretical arrival time.
    tat: Tick,
}

impl Gcra {
    pub(crate) fn new(limit: &Limit) -> Self {
        let count = limit.count.max(1);
        let per_ns = u64::try_from(limit.per.as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        let burst = limit.burst.max(1);
        let split = |units: u128| {
            let total = units * u128::from(per_ns);
            Tick::new(
                u64::try_from(total / u128::from(count)).unwrap_or(u64::MAX),
                (total % u128::from(count)) as u64,
            )
        };
        let t = split(1);
        Gcra {
            count,
            wrap: (1u128 << FRAC_BITS) - u128::from(count),
            whole: t.frac() == 0,
            t,
            tolerance: split(u128::from(burst)),
            lead: split(u128::from(burst - 1)),
            burst,
            per_ns,
            tat: Tick::default(),
        }
    }

    /// The burst, in units.
    pub(crate) fn capacity(&self) -> u64 {
        self.burst
    }

    #[inline]
    fn add(&self, a: Tick, b: Tick) -> Tick {
        let Some(mut x) = a.0.checked_add(b.0) else {
            return Tick(u128::MAX);
        };
        if (x as u64) >= self.count {
            x = x.saturating_add(self.wrap);
        }
        Tick(x)
    }

    /// `a − b`, or zero if `b > a`.
    #[inline]
    fn sub(&self, a: Tick, b: Tick) -> Tick {
        if b >= a {
            return Tick::default();
        }
        let mut x = a.0 - b.0;
        if a.frac() < b.frac() {
            x -= self.wrap;
        }
        Tick(x)
    }

    /// `cost × T`.
    fn times(&self, cost: u64) -> Tick {
        if cost == 1 {
            return self.t;
        }
        let total = u128::from(cost) * u128::from(self.per_ns);
        Tick::new(
            u64::try_from(total / u128::from(self.count)).unwrap_or(u64::MAX),
            (total % u128::from(self.count)) as u64,
        )
    }

    /// An arrival at whole nanosecond `now` could have been anywhere in the nanosecond before
    /// it: counting the rounding as idle time would accumulate into drift.
    #[inline]
    fn arrival(&self, now: u64) -> Tick {
        let at = Arrival::new(now);
        if self.whole { at.whole } else { at.split }
    }

    /// The theoretical arrival time after `cost` more units at `now`, `slack_ns` of idle time
    /// being required first.
    #[inline]
    fn next_tat(&self, now: u64, cost: u64, slack_ns: u64) -> Tick {
        let tat = if slack_ns == 0 {
            self.tat
        } else {
            self.add(self.tat, Tick::new(slack_ns, 0))
        };
        self.add(tat.max(self.arrival(now)), self.times(cost))
    }

    /// The earliest time (ns) at which `cost` units conform; `None` if `cost` exceeds the burst
    /// (it never will). Minimal: one nanosecond earlier does not conform.
    #[cfg(test)]
    pub(crate) fn earliest(&self, now_ns: u64, cost: u64) -> Option<u64> {
        self.earliest_with_slack(now_ns, cost, 0)
    }

    /// As [`Gcra::earliest`], but only once the bucket has been idle for `slack_ns` (for
    /// background work, which must leave room for foreground).
    #[inline]
    pub(crate) fn earliest_with_slack(&self, now_ns: u64, cost: u64, slack_ns: u64) -> Option<u64> {
        if cost == 1 && slack_ns == 0 {
            // The hot path, the general one below simplified: an arrival later than `tat`
            // always conforms (the lead is never negative), so one comparison decides.
            return Some(self.next_free().max(now_ns));
        }
        if cost > self.burst {
            return None;
        }
        // Background work acts as if the bucket were `slack` fuller than it is: it goes only
        // once the bucket has been idle that long, so foreground always finds room.
        let allow_at = self.sub(self.next_tat(now_ns, cost, slack_ns), self.tolerance);
        if allow_at <= Tick::new(now_ns, 0) {
            return Some(now_ns);
        }
        Some(allow_at.ceil_ns())
    }

    /// The earliest time (ns) one unit conforms, whatever the time now: `earliest(now, 1)` is
    /// `max(now, next_free())`. Kept by the throttle as a gate, so a decision over many buckets
    /// is one comparison while none of them has changed.
    #[inline]
    pub(crate) fn next_free(&self) -> u64 {
        self.sub(self.tat, self.lead).ceil_ns()
    }

    /// Records `cost` units sent at `now` (call only once [`Gcra::earliest`] allows it).
    #[inline]
    pub(crate) fn consume(&mut self, now_ns: u64, cost: u64) {
        self.tat = self.next_tat(now_ns, cost, 0);
    }

    /// [`Gcra::consume`] of one unit at `at` (an [`Arrival`] of the time now), returning the new
    /// [`Gcra::next_free`]: the throttle's hot path, one load and store of `tat`, no branch
    /// on the cost.
    #[inline]
    pub(crate) fn take_one(&mut self, at: Arrival) -> u64 {
        if self.whole {
            // Every instant is whole: the fractions are zero and stay zero.
            let tat = self.tat.ns().max(at.whole.ns()).saturating_add(self.t.ns());
            self.tat = Tick::new(tat, 0);
            return tat.saturating_sub(self.lead.ns());
        }
        let arrival = at.split;
        let base = if self.tat > arrival {
            self.tat
        } else {
            arrival
        };
        let mut x = base.0.saturating_add(self.t.0);
        if (x as u64) >= self.count {
            x = x.saturating_add(self.wrap);
        }
        self.tat = Tick(x);
        self.sub(self.tat, self.lead).ceil_ns()
    }

    /// Counts the last unit as having arrived `shift_ns` after `sent_ns`, where the server
    /// probably read it (see [`super::late`]): the bucket then has it no sooner than one
    /// interval after that, and keeps a later record it already has (units charged since).
    pub(crate) fn count_last_at(&mut self, sent_ns: u64, shift_ns: u64) {
        let read = self.add(self.arrival(sent_ns.saturating_add(shift_ns)), self.t);
        self.tat = self.tat.max(read);
    }

    /// The emission interval `T`, whole nanoseconds (rounded down).
    pub(crate) fn interval_ns(&self) -> u64 {
        self.t.ns()
    }

    /// Gives back `cost` units (a request that was cancelled before it was sent).
    pub(crate) fn refund(&mut self, now_ns: u64, cost: u64) {
        let floor = self.arrival(now_ns).min(self.tat);
        self.tat = self.sub(self.tat, self.times(cost)).max(floor);
    }

    /// The rate in units per second.
    pub(crate) fn rate(&self) -> f64 {
        self.count as f64 * 1e9 / self.per_ns as f64
    }

    /// Units available right now (for reporting).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn available(&self, now_ns: u64) -> u64 {
        let ahead = self.sub(self.tat, Tick::new(now_ns, 0));
        let ahead_ticks =
            u128::from(ahead.ns()) * u128::from(self.count) + u128::from(ahead.frac());
        let used = ahead_ticks.div_ceil(u128::from(self.per_ns));
        u64::try_from(u128::from(self.burst).saturating_sub(used)).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use quickcheck::{QuickCheck, TestResult};

    use super::*;

    fn limit(count: u64, per_ms: u64, burst: u64) -> Limit {
        Limit::new(count, Duration::from_millis(per_ms)).burst(burst)
    }

    #[test]
    fn three_per_second_is_exact_over_a_day() {
        let mut g = Gcra::new(&limit(3, 1000, 1));
        let mut t = 0;
        let mut sent = 0u64;
        let day_ns = 86_400 * 1_000_000_000u64;
        while t < day_ns {
            t = g.earliest(t, 1).unwrap();
            if t >= day_ns {
                break;
            }
            g.consume(t, 1);
            sent += 1;
        }
        assert_eq!(sent, 3 * 86_400);
        // The 259_200th unit went at exactly 86_399.666_666_667 s (ceil of 2/3 s).
        assert_eq!(g.earliest(0, 1), Some(day_ns));
    }

    #[test]
    fn burst_then_spacing() {
        let mut g = Gcra::new(&limit(2, 1000, 5));
        for _ in 0..5 {
            assert_eq!(g.earliest(0, 1), Some(0));
            g.consume(0, 1);
        }
        assert_eq!(g.earliest(0, 1), Some(500_000_000));
        assert_eq!(g.earliest(0, 6), None);
    }

    /// A reference model: admitted times kept in full; for every admitted time, count the ones in
    /// the half-open window of any length d starting there.
    fn max_in_window(times: &[u64], d: u64) -> u64 {
        let mut max = 0;
        for (i, &t) in times.iter().enumerate() {
            let n = times[i..]
                .iter()
                .take_while(|&&x| x < t.saturating_add(d))
                .count() as u64;
            max = max.max(n);
        }
        max
    }

    /// For any request times, the admitted ones never exceed `burst − 1 + ⌈d/T⌉` in any window of
    /// length d (with d = per: `count + burst − 1`), and every wait is minimal.
    #[test]
    fn prop_never_above_limit_and_waits_minimal() {
        fn prop(count: u8, per_ms: u16, burst: u8, gaps: Vec<u32>) -> TestResult {
            let l = limit(
                u64::from(count % 20) + 1,
                u64::from(per_ms % 5000) + 1,
                u64::from(burst % 4) + 1,
            );
            let mut g = Gcra::new(&l);
            let mut t = 0u64;
            let mut admitted = Vec::new();
            for gap in gaps.iter().take(200) {
                t += u64::from(*gap % 2_000_000_000);
                let at = g.earliest(t, 1).unwrap();
                if at > t {
                    // Minimal: one ns earlier does not conform.
                    if g.earliest(at - 1, 1) != Some(at) {
                        return TestResult::failed();
                    }
                }
                g.consume(at, 1);
                admitted.push(at);
                t = at;
            }
            let per = l.per.as_nanos() as u64;
            let bound = l.count + l.burst - 1;
            TestResult::from_bool(max_in_window(&admitted, per) <= bound)
        }
        QuickCheck::new()
            .tests(500)
            .quickcheck(prop as fn(u8, u16, u8, Vec<u32>) -> TestResult);
    }

    /// Whole arrivals (the `u64` path) answer exactly as split ones would for a whole `T`:
    /// the same earliest times, the same next-free gates, the same availability, for any
    /// costs, background slack, refunds and times.
    #[test]
    fn prop_whole_arrivals_answer_as_split_ones() {
        fn prop(count: u8, per_units: u16, burst: u8, steps: Vec<(u32, u8, u8)>) -> bool {
            let count = u64::from(count % 50) + 1;
            // A period that `count` divides: T whole.
            let per_ns = count * (u64::from(per_units) + 1) * 1_000;
            let l = Limit::new(count, Duration::from_nanos(per_ns)).burst(u64::from(burst % 5) + 1);
            let mut whole = Gcra::new(&l);
            let mut split = Gcra {
                whole: false,
                ..whole
            };
            assert!(whole.whole);
            let mut now = 0u64;
            for (gap, cost, op) in steps.into_iter().take(300) {
                now += u64::from(gap % 3_000_000);
                let cost = u64::from(cost % 3) + 1;
                let slack = if op % 4 == 0 {
                    u64::from(gap % 5_000)
                } else {
                    0
                };
                let a = whole.earliest_with_slack(now, cost, slack);
                if a != split.earliest_with_slack(now, cost, slack)
                    || whole.next_free() != split.next_free()
                    || whole.available(now) != split.available(now)
                {
                    return false;
                }
                let Some(at) = a else { continue };
                match op % 3 {
                    0 if cost == 1 => {
                        let (w, s) = (
                            whole.take_one(Arrival::new(at)),
                            split.take_one(Arrival::new(at)),
                        );
                        if w != s {
                            return false;
                        }
                    }
                    1 => {
                        whole.consume(at, cost);
                        split.consume(at, cost);
                        whole.refund(at, 1);
                        split.refund(at, 1);
                    }
                    _ => {
                        whole.consume(at, cost);
                        split.consume(at, cost);
                    }
                }
                now = at;
            }
            true
        }
        QuickCheck::new()
            .tests(500)
            .quickcheck(prop as fn(u8, u16, u8, Vec<(u32, u8, u8)>) -> bool);
    }

    /// A day of virtual time matches a reference computed with exact rational arithmetic.
    #[test]
    fn prop_day_matches_exact_reference() {
        fn prop(count: u16, per_ms: u32) -> bool {
            let count = u64::from(count % 1000) + 1;
            let per_ns = (u64::from(per_ms % 3_600_000) + 1) * 1_000_000;
            let mut g = Gcra::new(&Limit::new(count, Duration::from_nanos(per_ns)));
            let mut t = 0;
            let day = 86_400_000_000_000u64;
            let mut k = 0u64;
            loop {
                t = g.earliest(t, 1).unwrap();
                if t >= day || k > 300_000 {
                    break;
                }
                // Reference: the k-th unit (0-based) conforms at exactly ⌈k × per / count⌉.
                let exact = (u128::from(k) * u128::from(per_ns)).div_ceil(u128::from(count));
                if u128::from(t) != exact {
                    return false;
                }
                g.consume(t, 1);
                k += 1;
            }
            true
        }
        QuickCheck::new()
            .tests(50)
            .quickcheck(prop as fn(u16, u32) -> bool);
    }
}
