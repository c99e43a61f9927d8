//! Long-window budgets (per day, per month): counted, thresholds raised, exhaustion handled.

use serde::{Deserialize, Serialize};

use super::limit::{OnExhausted, Period, QuotaConfig};
use crate::civil::{civil_from_days, days_from_civil};

const DAY_S: u64 = 86_400;

/// The next period boundary strictly after `wall_s` (seconds since the Unix epoch, UTC).
pub(crate) fn next_boundary(period: Period, wall_s: u64, start_s: u64) -> u64 {
    match period {
        Period::Day => (wall_s / DAY_S + 1) * DAY_S,
        Period::Month => {
            let days = i64::try_from(wall_s / DAY_S).unwrap_or(i64::MAX / 2);
            let (y, m, _) = civil_from_days(days);
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            u64::try_from(days_from_civil(ny, nm, 1)).unwrap_or(0) * DAY_S
        }
        Period::Seconds(n) => {
            let n = n.max(1);
            let elapsed = wall_s.saturating_sub(start_s);
            start_s.saturating_add((elapsed / n + 1).saturating_mul(n))
        }
    }
}

/// A configured quota's running state. Times are ns since the Pacer's epoch; `wall0_s` maps
/// that epoch to wall-clock seconds, for calendar boundaries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Quota {
    pub(crate) cfg: QuotaConfig,
    pub(crate) used: u64,
    /// End of the current period, ns since the epoch.
    pub(crate) reset_at: u64,
    start_s: u64,
    wall0_ns: u128,
    /// How many thresholds have been announced this period.
    pub(crate) fired: usize,
    /// Units used at which the next one is crossed.
    next_threshold: u64,
    /// While `used + 1` is below this, one more unit is admitted at once and announces nothing
    /// (0 when the quota is spread: every unit is then scheduled).
    quiet_below: u64,
    last_send: Option<u64>,
}

/// How much of a quota's period is used: saved by one run, counted by the next, so that a
/// resumed or repeated extraction respects what the day already spent. Serialisable; it
/// names the quota by its count and period, and a run ignores a record of another quota or of
/// a period that has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaUse {
    /// The quota's units per period.
    pub count: u64,
    /// Its period.
    pub period: Period,
    /// Units used in the period.
    pub used: u64,
    /// When the period ends, seconds since the Unix epoch.
    pub period_end_unix_s: u64,
}

/// What admission says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    At(u64),
    Exhausted { reset_at: u64 },
}

impl Quota {
    pub(crate) fn new(cfg: QuotaConfig, now_ns: u64, wall_now_ns: u128) -> Self {
        let wall0_ns = wall_now_ns.saturating_sub(u128::from(now_ns));
        let start_s = u64::try_from(wall_now_ns / 1_000_000_000).unwrap_or(u64::MAX);
        let mut q = Quota {
            cfg,
            used: 0,
            reset_at: 0,
            start_s,
            wall0_ns,
            fired: 0,
            next_threshold: 0,
            quiet_below: 0,
            last_send: None,
        };
        q.reset_at = q.boundary_after(now_ns);
        q.set_next_threshold();
        q
    }

    fn set_next_threshold(&mut self) {
        self.next_threshold = self.threshold_units();
        self.quiet_below = if self.cfg.spread {
            0
        } else {
            self.next_threshold.min(self.cfg.count.saturating_add(1))
        };
    }

    /// Whether one more unit at `now` goes at once and crosses nothing: the same period, room
    /// left, no spreading, no threshold reached. Then [`Quota::take_one`] is all it needs.
    #[inline]
    pub(crate) fn quiet(&self, now: u64) -> bool {
        now < self.reset_at && self.used.saturating_add(1) < self.quiet_below
    }

    /// Counts one unit that [`Quota::quiet`] allowed.
    #[inline]
    pub(crate) fn take_one(&mut self, now: u64) {
        self.used += 1;
        self.last_send = Some(now);
    }

    fn boundary_after(&self, now_ns: u64) -> u64 {
        let wall_s =
            u64::try_from((self.wall0_ns + u128::from(now_ns)) / 1_000_000_000).unwrap_or(u64::MAX);
        let b = next_boundary(self.cfg.period, wall_s, self.start_s);
        let b_ns = u128::from(b) * 1_000_000_000;
        u64::try_from(b_ns.saturating_sub(self.wall0_ns)).unwrap_or(u64::MAX)
    }

    fn roll(&mut self, now: u64) {
        if now >= self.reset_at {
            self.used = 0;
            self.fired = 0;
            self.set_next_threshold();
            self.last_send = None;
            self.reset_at = self.boundary_after(now);
        }
    }

    pub(crate) fn remaining(&self) -> u64 {
        self.cfg.count.saturating_sub(self.used)
    }

    pub(crate) fn admit(&mut self, now: u64, cost: u64) -> Admit {
        self.roll(now);
        if self.remaining() < cost {
            return match self.cfg.on_exhausted {
                OnExhausted::Fail => Admit::Exhausted {
                    reset_at: self.reset_at,
                },
                OnExhausted::Wait => Admit::At(self.reset_at),
            };
        }
        if self.cfg.spread {
            // The remaining units evenly over the time left, from the last send.
            let from = self.last_send.unwrap_or(now);
            let slots = self.remaining() / cost.max(1) + 1;
            let spacing = self.reset_at.saturating_sub(from) / slots;
            if self.last_send.is_some() {
                return Admit::At(from.saturating_add(spacing).max(now));
            }
        }
        Admit::At(now)
    }

    /// Counts `cost` units; returns the fraction used if it crossed a threshold.
    pub(crate) fn consume(&mut self, now: u64, cost: u64) -> Option<f64> {
        self.roll(now);
        self.used = self.used.saturating_add(cost);
        self.last_send = Some(now);
        if self.used < self.next_threshold {
            return None;
        }
        let used = self.used as f64 / self.cfg.count.max(1) as f64;
        let mut crossed = None;
        while let Some(&t) = self.cfg.thresholds.get(self.fired) {
            if used + 1e-12 < t {
                break;
            }
            crossed = Some(t);
            self.fired += 1;
        }
        self.set_next_threshold();
        crossed
    }

    /// Units used at which the next threshold is crossed (`u64::MAX` when none is left).
    fn threshold_units(&self) -> u64 {
        self.cfg.thresholds.get(self.fired).map_or(u64::MAX, |t| {
            ((t * self.cfg.count as f64).ceil().max(0.0) as u64).min(self.cfg.count)
        })
    }

    /// What this period has used, for another process or a later run (see [`QuotaUse`]).
    pub(crate) fn usage(&mut self, now: u64) -> QuotaUse {
        self.roll(now);
        QuotaUse {
            count: self.cfg.count,
            period: self.cfg.period,
            used: self.used,
            period_end_unix_s: u64::try_from(
                (self.wall0_ns + u128::from(self.reset_at)) / 1_000_000_000,
            )
            .unwrap_or(u64::MAX),
        }
    }

    /// Counts what an earlier run used of this period, when `u` describes this quota and a
    /// period that has not ended. Returns the highest threshold that is now crossed and was
    /// not before.
    pub(crate) fn restore(&mut self, now: u64, u: &QuotaUse) -> Option<f64> {
        self.roll(now);
        let wall_now_s =
            u64::try_from((self.wall0_ns + u128::from(now)) / 1_000_000_000).unwrap_or(u64::MAX);
        if u.count != self.cfg.count
            || u.period != self.cfg.period
            || u.period_end_unix_s <= wall_now_s
        {
            return None;
        }
        if let Period::Seconds(n) = self.cfg.period {
            // A period of seconds starts with the run that first counted it: the earlier
            // run's period goes on until its own end (never longer than one period).
            let end_s = u.period_end_unix_s.min(wall_now_s.saturating_add(n.max(1)));
            self.start_s = end_s.saturating_sub(n.max(1));
            let end_ns = u128::from(end_s) * 1_000_000_000;
            self.reset_at = u64::try_from(end_ns.saturating_sub(self.wall0_ns)).unwrap_or(u64::MAX);
        } else if self.boundary_after(now)
            != u64::try_from(
                (u128::from(u.period_end_unix_s) * 1_000_000_000).saturating_sub(self.wall0_ns),
            )
            .unwrap_or(u64::MAX)
        {
            // Another day (or month) than this one.
            return None;
        }
        if u.used <= self.used {
            return None;
        }
        let extra = u.used - self.used;
        // Counted as one charge: the thresholds it crosses are announced as one.
        let last = self.last_send;
        let crossed = self.consume(now, extra);
        self.last_send = last;
        crossed
    }

    /// A unit that was counted but never went (cancelled).
    pub(crate) fn refund(&mut self, cost: u64) {
        self.used = self.used.saturating_sub(cost);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for days in [0, 59, 60, 365, 11_016, 11_017, 19_000, 20_000, 47_000] {
            let (y, m, _) = civil_from_days(days);
            assert!(days_from_civil(y, m, 1) <= days && days < days_from_civil(y, m, 1) + 31);
        }
    }

    #[test]
    fn boundaries() {
        // 2026-11-23 19:00:00 UTC = 1795460400.
        let t = 1_795_460_400;
        assert_eq!(next_boundary(Period::Day, t, 0), 1_795_478_400); // 2026-11-24 00:00
        assert_eq!(next_boundary(Period::Month, t, 0), 1_796_083_200); // 2026-12-01 00:00
        // December rolls into January.
        assert_eq!(
            next_boundary(Period::Month, 1_796_083_200, 0),
            1_798_761_600
        ); // 2027-01-01
        assert_eq!(next_boundary(Period::Seconds(60), 130, 100), 160);
    }

    #[test]
    fn exhaustion_and_thresholds() {
        let cfg = QuotaConfig::new(10, Period::Seconds(100));
        let mut q = Quota::new(cfg, 0, 1_000_000_000_000);
        let mut crossed = Vec::new();
        for i in 0..10 {
            assert_eq!(q.admit(i, 1), Admit::At(i));
            crossed.extend(q.consume(i, 1));
        }
        assert_eq!(crossed, [0.8, 0.95]);
        assert_eq!(
            q.admit(20, 1),
            Admit::Exhausted {
                reset_at: 100_000_000_000
            }
        );
        assert_eq!(q.admit(100_000_000_000, 1), Admit::At(100_000_000_000));
    }

    #[test]
    fn spread_lasts_the_period() {
        let cfg = QuotaConfig::new(100, Period::Seconds(100)).spread(true);
        let mut q = Quota::new(cfg, 0, 0);
        let mut t = 0;
        for _ in 0..100 {
            let Admit::At(at) = q.admit(t, 1) else {
                panic!()
            };
            t = at;
            q.consume(t, 1);
        }
        // The hundredth unit goes near the end of the period, not in the first seconds.
        assert!(t > 95_000_000_000 && t < 100_000_000_000, "{t}");
    }
}
