//! Discovering limits nobody documented: CUBIC, as in AWS SDKs' adaptive retry mode.
//!
//! Why CUBIC rather than AIMD: after a 429 at rate `W`, AIMD climbs back linearly and spends
//! most of each cycle well below `W`; CUBIC returns quickly towards the rate that last worked,
//! flattens near it (probing gently where 429s would start), and only then accelerates. Against
//! a fixed hidden limit that gives ~92 % of the limit on average with one 429 per cycle, which
//! is what the simulations measure. The constants are AWS's — `β = 0.7`, the rate capped at
//! twice the measured send rate (so an idle client does not "discover" capacity it never used)
//! and floored at 0.5 requests per second — except CUBIC's `C`, which is scaled to the rate
//! (see [`AdaptiveConfig::cycle_requests`]). One decrease per round trip: 429s for requests
//! sent before the last decrease do not decrease the rate again.
//!
//! Arithmetic is in `f64`: the rate is an estimate, and `f64` is deterministic for the same
//! inputs on the same platform.

use serde::{Deserialize, Serialize};

const NS: f64 = 1e9;

/// Adaptive discovery settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AdaptiveConfig {
    /// Whether a 429 that no known limit explains starts adaptive pacing. Default true.
    pub enabled: bool,
    /// Multiplicative decrease on a 429 (AWS: 0.7).
    pub beta: f64,
    /// Requests one CUBIC cycle spans: the time back to the last rate that worked is
    /// `K = cycle_requests / rate`, and CUBIC's scale constant follows as
    /// `C = rate × (1 − β) / K³`. Default 66, which gives AWS's `C = 0.4` at 25 requests per
    /// second; AWS keeps `C` fixed, which at 2 requests per second probes every other request
    /// and at 1,000 takes minutes to recover. Scaling it keeps 429s near `1 / cycle_requests`
    /// of requests at any rate.
    pub cycle_requests: f64,
    /// The lowest rate, requests per second (AWS: 0.5).
    pub min_rate: f64,
    /// How often the send rate is measured, seconds (AWS: 0.5).
    pub measure_every: f64,
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        AdaptiveConfig {
            enabled: true,
            beta: 0.7,
            cycle_requests: 66.0,
            min_rate: 0.5,
            measure_every: 0.5,
        }
    }
}

/// The adaptive bucket: inactive until the first unexplained 429.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Adaptive {
    cfg: AdaptiveConfig,
    active: bool,
    /// Current allowed rate, per second.
    rate: f64,
    last_max_rate: f64,
    last_throttle_ns: u64,
    /// CUBIC's K: seconds from the throttle until the rate is back at `last_max_rate`.
    k: f64,
    /// CUBIC's scale for the current cycle.
    c: f64,
    /// Measured send rate (smoothed), per second.
    measured: f64,
    measure_start_ns: u64,
    measure_count: u64,
    /// Next time a unit may go, ns.
    next_ns: u64,
    /// `measure_every` in ns.
    measure_every_ns: u64,
}

impl Adaptive {
    pub(crate) fn new(cfg: AdaptiveConfig) -> Self {
        Adaptive {
            cfg,
            active: false,
            rate: 0.0,
            last_max_rate: 0.0,
            last_throttle_ns: 0,
            k: 0.0,
            c: 0.0,
            measured: 0.0,
            measure_start_ns: 0,
            measure_count: 0,
            next_ns: 0,
            measure_every_ns: (cfg.measure_every.clamp(0.001, 3600.0) * NS) as u64,
        }
    }

    pub(crate) fn is_active(&self) -> bool {
        self.active
    }

    /// The rate in force (requests per second), or `None` while inactive.
    pub(crate) fn rate(&self) -> Option<f64> {
        self.active.then_some(self.rate)
    }

    pub(crate) fn earliest(&self, now: u64) -> u64 {
        if self.active {
            self.next_ns.max(now)
        } else {
            now
        }
    }

    #[inline]
    pub(crate) fn consume(&mut self, now: u64, cost: u64) {
        self.measure(now, cost);
        if self.active {
            let spacing = (cost as f64 * NS / self.rate.max(self.cfg.min_rate)) as u64;
            self.next_ns = self.next_ns.max(now).saturating_add(spacing);
        }
    }

    /// The send rate, measured over buckets of `measure_every` seconds and smoothed
    /// (`0.8 × old + 0.2 × new`, AWS's).
    #[inline]
    pub(crate) fn measure(&mut self, now: u64, cost: u64) {
        if now.saturating_sub(self.measure_start_ns) >= self.measure_every_ns {
            self.close_measurement(now);
        }
        self.measure_count = self.measure_count.saturating_add(cost);
    }

    /// Ends a measuring interval (once per `measure_every`, out of the per-request path).
    #[cold]
    fn close_measurement(&mut self, now: u64) {
        let span = now.saturating_sub(self.measure_start_ns) as f64 / NS;
        let r = self.measure_count as f64 / span;
        self.measured = if self.measured == 0.0 {
            r
        } else {
            0.8 * self.measured + 0.2 * r
        };
        self.measure_start_ns = now;
        self.measure_count = 0;
    }

    fn cap(&mut self, new_rate: f64) {
        let ceiling = if self.measured > 0.0 {
            2.0 * self.measured
        } else {
            new_rate
        };
        self.rate = new_rate.min(ceiling).max(self.cfg.min_rate);
    }

    /// A 429 that no known limit explains, for a request sent at `sent_at`. Requests sent
    /// before the last decrease cannot confirm the new rate is still too high: their 429s are
    /// the same congestion event and do not decrease it again (one decrease per round trip).
    pub(crate) fn on_throttle(&mut self, now: u64, sent_at: u64) {
        if !self.cfg.enabled || (self.active && sent_at < self.last_throttle_ns) {
            return;
        }
        // Before a full measurement bucket, what was sent so far stands in for the rate.
        let measured = if self.measured > 0.0 {
            self.measured
        } else {
            let span =
                (now.saturating_sub(self.measure_start_ns) as f64 / NS).max(self.cfg.measure_every);
            self.measure_count as f64 / span
        };
        let current = if self.active {
            self.rate.min(measured)
        } else {
            measured
        };
        let current = current.max(self.cfg.min_rate);
        self.last_max_rate = current;
        self.k = self.cfg.cycle_requests.max(1.0) / current;
        self.c = current * (1.0 - self.cfg.beta) / self.k.powi(3);
        self.last_throttle_ns = now;
        self.active = true;
        self.cap(current * self.cfg.beta);
    }

    /// A success.
    pub(crate) fn on_success(&mut self, now: u64) {
        if !self.active {
            return;
        }
        let t = now.saturating_sub(self.last_throttle_ns) as f64 / NS;
        let cubic = self.c * (t - self.k).powi(3) + self.last_max_rate;
        self.cap(cubic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_by_beta_then_returns_to_the_last_max() {
        let mut a = Adaptive::new(AdaptiveConfig::default());
        // Send at 20/s for two seconds to measure.
        let mut t = 0;
        for _ in 0..40 {
            a.consume(t, 1);
            t += 50_000_000;
        }
        a.on_throttle(t, t);
        let max = a.last_max_rate;
        assert!((max - 20.0).abs() < 1.0, "{max}");
        assert!((a.rate().unwrap() - 0.7 * max).abs() < 1e-9);
        // Sending on at 20/s, K seconds later the rate is back at the last max.
        let k_ns = (a.k * 1e9) as u64;
        assert_eq!(
            k_ns / 1_000_000,
            66_000 / 20,
            "K spans cycle_requests at the last rate"
        );
        let mut now = t;
        while now < t + k_ns {
            now += 50_000_000;
            a.consume(now, 1);
            a.on_success(now);
        }
        assert!(
            (a.rate().unwrap() - max).abs() < 0.5,
            "{:?} vs {max}",
            a.rate()
        );
    }

    #[test]
    fn inactive_until_throttled_and_floored() {
        let mut a = Adaptive::new(AdaptiveConfig::default());
        assert_eq!(a.earliest(5), 5);
        a.on_throttle(0, 0);
        for i in 0..20 {
            a.on_throttle(i, i);
        }
        assert!(a.rate().unwrap() >= 0.5);
    }
}
