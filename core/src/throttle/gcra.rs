//! GCRA (the generic cell rate algorithm) in exact integer arithmetic.
//!
//! Time is nanoseconds since the Pacer's epoch. To stay exact when `per / count` is not a whole
//! number of nanoseconds (3 per second), time is scaled by `count`: one nanosecond is `count`
//! ticks and one unit costs `per` (in ns) ticks. All arithmetic is `u128`, so nothing drifts or
//! overflows over any realistic run (a century of nanoseconds × a billion per period fits).

use super::limit::Limit;

/// One GCRA bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gcra {
    count: u128,
    per_ns: u128,
    burst: u128,
    /// The theoretical arrival time, in ticks.
    tat: u128,
}

impl Gcra {
    pub(crate) fn new(limit: &Limit) -> Self {
        Gcra {
            count: u128::from(limit.count.max(1)),
            per_ns: limit.per.as_nanos().max(1),
            burst: u128::from(limit.burst.max(1)),
            tat: 0,
        }
    }

    /// The burst, in units.
    pub(crate) fn capacity(&self) -> u64 {
        u64::try_from(self.burst).unwrap_or(u64::MAX)
    }

    /// The earliest time (ns) at which `cost` units conform; `None` if `cost` exceeds the burst
    /// (it never will). Minimal: one nanosecond earlier does not conform.
    #[cfg(test)]
    pub(crate) fn earliest(&self, now_ns: u64, cost: u64) -> Option<u64> {
        self.earliest_with_slack(now_ns, cost, 0)
    }

    /// As [`Gcra::earliest`], but only once the bucket has been idle for `slack_ns` (for
    /// background work, which must leave room for foreground).
    pub(crate) fn earliest_with_slack(&self, now_ns: u64, cost: u64, slack_ns: u64) -> Option<u64> {
        let cost = u128::from(cost);
        if cost > self.burst {
            return None;
        }
        let now = u128::from(now_ns) * self.count;
        let slack = u128::from(slack_ns) * self.count;
        // Background work acts as if the bucket were `slack` fuller than it is: it goes only
        // once the bucket has been idle that long, so foreground always finds room.
        let new_tat = (self.tat + slack).max(idle_from(now, self.count)) + cost * self.per_ns;
        let tolerance = self.burst * self.per_ns;
        let allow_at = new_tat.saturating_sub(tolerance);
        if allow_at <= now {
            return Some(now_ns);
        }
        Some(to_ns(allow_at.div_ceil(self.count)))
    }

    /// Records `cost` units sent at `now_ns` (call only once [`Gcra::earliest`] allows it).
    pub(crate) fn consume(&mut self, now_ns: u64, cost: u64) {
        let now = u128::from(now_ns) * self.count;
        self.tat = self.tat.max(idle_from(now, self.count)) + u128::from(cost) * self.per_ns;
    }

    /// Gives back `cost` units (a request that was cancelled before it was sent).
    pub(crate) fn refund(&mut self, now_ns: u64, cost: u64) {
        let now = u128::from(now_ns) * self.count;
        self.tat = self
            .tat
            .saturating_sub(u128::from(cost) * self.per_ns)
            .max(now.min(self.tat));
    }

    /// The rate in units per second.
    pub(crate) fn rate(&self) -> f64 {
        self.count as f64 * 1e9 / self.per_ns as f64
    }

    /// Units available right now (for reporting).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn available(&self, now_ns: u64) -> u64 {
        let now = u128::from(now_ns) * self.count;
        let used = self.tat.saturating_sub(now).div_ceil(self.per_ns);
        u64::try_from(self.burst.saturating_sub(used)).unwrap_or(0)
    }
}

/// A time given in whole nanoseconds stands for the `count` ticks up to it: an arrival rounded up
/// to the nanosecond must not count as idle time, or rounding would accumulate into drift.
fn idle_from(now: u128, count: u128) -> u128 {
    now.saturating_sub(count - 1)
}

fn to_ns(x: u128) -> u64 {
    u64::try_from(x).unwrap_or(u64::MAX)
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
