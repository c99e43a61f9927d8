//! Server-side limiters, as the servers people call implement them.
//!
//! Each is a sans-IO machine over nanoseconds since the model started: `check` says whether a
//! request would be admitted now and what the limiter would report, `admit` counts it.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Which algorithm, with its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LimiterKind {
    /// `limit` per aligned window of `window_s` (GitHub's hourly window, most APIs).
    FixedWindow {
        /// Requests per window.
        limit: u64,
        /// Window length, seconds.
        window_s: f64,
    },
    /// `limit` in any window of `window_s` ending now (exact log of admissions).
    SlidingLog {
        /// Requests per window.
        limit: u64,
        /// Window length, seconds.
        window_s: f64,
    },
    /// A bucket of `capacity` tokens refilled at `refill_per_s`.
    TokenBucket {
        /// Tokens when full.
        capacity: u64,
        /// Tokens per second.
        refill_per_s: f64,
    },
    /// Shopify's leaky bucket: each request adds one, `leak_per_s` drain, at most `capacity`.
    LeakyBucket {
        /// Requests the bucket holds.
        capacity: u64,
        /// Requests drained per second.
        leak_per_s: f64,
    },
    /// At most `max` requests being processed at once (Salesforce-style).
    Concurrency {
        /// Requests in flight.
        max: u64,
    },
    /// A long-window quota: `limit` per `period_s` (a day: 86400), aligned to the period.
    Quota {
        /// Requests per period.
        limit: u64,
        /// Period, seconds.
        period_s: f64,
    },
}

/// A limiter as configured: algorithm, scope and visibility.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimiterSpec {
    /// The algorithm.
    #[serde(flatten)]
    pub kind: LimiterKind,
    /// A name reported in headers (policy, resource, bucket). Default: the kind.
    #[serde(default)]
    pub name: Option<String>,
    /// Only requests whose path matches this pattern (`/search/*`) count; default all.
    #[serde(default)]
    pub route: Option<String>,
    /// A secondary limit that sends no headers about itself (but still answers 429).
    #[serde(default)]
    pub hidden: bool,
}

impl LimiterSpec {
    /// A visible limiter of this kind on every route.
    pub fn new(kind: LimiterKind) -> Self {
        LimiterSpec {
            kind,
            name: None,
            route: None,
            hidden: false,
        }
    }

    /// Requests it allows over `d_ns` from a fresh start: the yardstick for utilisation.
    pub fn allowed_over(&self, d_ns: u64) -> f64 {
        let d = d_ns as f64 / 1e9;
        match self.kind {
            LimiterKind::FixedWindow { limit, window_s }
            | LimiterKind::SlidingLog { limit, window_s } => {
                limit as f64 * (d / window_s.max(1e-9))
            }
            LimiterKind::Quota { limit, period_s } => {
                limit as f64 * (d / period_s.max(1e-9)).ceil()
            }
            LimiterKind::TokenBucket {
                capacity,
                refill_per_s,
            } => capacity as f64 + refill_per_s * d,
            LimiterKind::LeakyBucket {
                capacity,
                leak_per_s,
            } => capacity as f64 + leak_per_s * d,
            LimiterKind::Concurrency { .. } => f64::INFINITY,
        }
    }
}

/// What a limiter would report about itself now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Report {
    /// Whether one more request is admitted.
    pub allowed: bool,
    /// The limit (requests per window, capacity).
    pub limit: u64,
    /// Left after this request if admitted (or now, if not).
    pub remaining: u64,
    /// Until the window resets / the bucket is full, ns.
    pub reset_in_ns: u64,
    /// The window's length, ns (for token buckets: the time to refill from empty).
    pub window_ns: u64,
    /// When rejected: until one more request would be admitted, ns.
    pub retry_in_ns: u64,
}

const NS: f64 = 1e9;

fn secs_ns(s: f64) -> u64 {
    if s.is_finite() && s > 0.0 {
        (s * NS).min(u64::MAX as f64) as u64
    } else {
        1
    }
}

/// A limiter's running state.
#[derive(Debug, Clone)]
pub struct Limiter {
    /// Its configuration.
    pub spec: LimiterSpec,
    state: State,
}

#[derive(Debug, Clone)]
enum State {
    Window {
        start: u64,
        count: u64,
    },
    Log(VecDeque<u64>),
    /// Level of a token (or leaky) bucket in nano-units, and when it was last updated.
    Bucket {
        level: f64,
        at: u64,
    },
    /// End times of requests in flight.
    InFlight(Vec<u64>),
}

impl Limiter {
    /// A fresh limiter.
    pub fn new(spec: LimiterSpec) -> Self {
        let state = match spec.kind {
            LimiterKind::FixedWindow { .. } | LimiterKind::Quota { .. } => {
                State::Window { start: 0, count: 0 }
            }
            LimiterKind::SlidingLog { .. } => State::Log(VecDeque::new()),
            LimiterKind::TokenBucket { capacity, .. } => State::Bucket {
                level: capacity as f64,
                at: 0,
            },
            LimiterKind::LeakyBucket { .. } => State::Bucket { level: 0.0, at: 0 },
            LimiterKind::Concurrency { .. } => State::InFlight(Vec::new()),
        };
        Limiter { spec, state }
    }

    /// Whether this limiter counts a request to `path`.
    pub fn applies(&self, path: &str) -> bool {
        self.spec
            .route
            .as_deref()
            .is_none_or(|r| path_matches(r, path))
    }

    /// Whether it is a quota (long window) rather than a rate limit.
    pub fn is_quota(&self) -> bool {
        matches!(self.spec.kind, LimiterKind::Quota { .. })
    }

    /// The name reported in headers.
    pub fn name(&self) -> &str {
        self.spec.name.as_deref().unwrap_or(match self.spec.kind {
            LimiterKind::FixedWindow { .. } => "window",
            LimiterKind::SlidingLog { .. } => "sliding",
            LimiterKind::TokenBucket { .. } => "bucket",
            LimiterKind::LeakyBucket { .. } => "leaky",
            LimiterKind::Concurrency { .. } => "concurrency",
            LimiterKind::Quota { .. } => "quota",
        })
    }

    fn advance(&mut self, now: u64) {
        match (&mut self.state, &self.spec.kind) {
            (State::Window { start, count }, LimiterKind::FixedWindow { window_s, .. })
            | (
                State::Window { start, count },
                LimiterKind::Quota {
                    period_s: window_s, ..
                },
            ) => {
                let w = secs_ns(*window_s);
                let aligned = now / w * w;
                if aligned != *start {
                    *start = aligned;
                    *count = 0;
                }
            }
            (State::Log(log), LimiterKind::SlidingLog { window_s, .. }) => {
                let w = secs_ns(*window_s);
                while log.front().is_some_and(|&t| t + w <= now) {
                    log.pop_front();
                }
            }
            (
                State::Bucket { level, at },
                LimiterKind::TokenBucket {
                    capacity,
                    refill_per_s,
                },
            ) => {
                let dt = now.saturating_sub(*at) as f64 / NS;
                *level = (*level + dt * refill_per_s).min(*capacity as f64);
                *at = now.max(*at);
            }
            (State::Bucket { level, at }, LimiterKind::LeakyBucket { leak_per_s, .. }) => {
                let dt = now.saturating_sub(*at) as f64 / NS;
                *level = (*level - dt * leak_per_s).max(0.0);
                *at = now.max(*at);
            }
            (State::InFlight(ends), _) => ends.retain(|&e| e > now),
            _ => {}
        }
    }

    /// What it would say about a request now, without counting it.
    pub fn check(&mut self, now: u64) -> Report {
        self.advance(now);
        const EPS: f64 = 1e-9;
        match (&self.state, &self.spec.kind) {
            (State::Window { start, count }, LimiterKind::FixedWindow { limit, window_s })
            | (
                State::Window { start, count },
                LimiterKind::Quota {
                    limit,
                    period_s: window_s,
                },
            ) => {
                let w = secs_ns(*window_s);
                let reset = start + w - now;
                let allowed = count < limit;
                Report {
                    allowed,
                    limit: *limit,
                    remaining: limit.saturating_sub(count + u64::from(allowed)),
                    reset_in_ns: reset,
                    window_ns: w,
                    retry_in_ns: reset,
                }
            }
            (State::Log(log), LimiterKind::SlidingLog { limit, window_s }) => {
                let w = secs_ns(*window_s);
                let n = log.len() as u64;
                let allowed = n < *limit;
                // The oldest entry that must expire before one more fits.
                let blocking = if allowed {
                    log.front()
                } else {
                    log.get((n - limit) as usize)
                };
                let free_in = blocking.map_or(0, |&t| (t + w).saturating_sub(now));
                Report {
                    allowed,
                    limit: *limit,
                    remaining: limit.saturating_sub(n + u64::from(allowed)),
                    reset_in_ns: log.back().map_or(0, |&t| (t + w).saturating_sub(now)),
                    window_ns: w,
                    retry_in_ns: free_in,
                }
            }
            (
                State::Bucket { level, .. },
                LimiterKind::TokenBucket {
                    capacity,
                    refill_per_s,
                },
            ) => {
                let allowed = *level >= 1.0 - EPS;
                let after = if allowed { level - 1.0 } else { *level };
                let rate = refill_per_s.max(EPS);
                Report {
                    allowed,
                    limit: *capacity,
                    remaining: after.max(0.0).floor() as u64,
                    reset_in_ns: secs_ns((*capacity as f64 - after) / rate),
                    window_ns: secs_ns(*capacity as f64 / rate),
                    retry_in_ns: secs_ns((1.0 - level).max(0.0) / rate),
                }
            }
            (
                State::Bucket { level, .. },
                LimiterKind::LeakyBucket {
                    capacity,
                    leak_per_s,
                },
            ) => {
                let allowed = *level + 1.0 <= *capacity as f64 + EPS;
                let after = if allowed { level + 1.0 } else { *level };
                let rate = leak_per_s.max(EPS);
                Report {
                    allowed,
                    limit: *capacity,
                    remaining: (*capacity as f64 - after).max(0.0).floor() as u64,
                    reset_in_ns: secs_ns(after / rate),
                    window_ns: secs_ns(*capacity as f64 / rate),
                    retry_in_ns: secs_ns((level + 1.0 - *capacity as f64).max(0.0) / rate),
                }
            }
            (State::InFlight(ends), LimiterKind::Concurrency { max }) => {
                let n = ends.len() as u64;
                let allowed = n < *max;
                Report {
                    allowed,
                    limit: *max,
                    remaining: max.saturating_sub(n + u64::from(allowed)),
                    reset_in_ns: 0,
                    window_ns: 0,
                    retry_in_ns: ends.iter().min().map_or(0, |&e| e.saturating_sub(now)),
                }
            }
            _ => unreachable!("state always matches kind"),
        }
    }

    /// Counts an admitted request that will be in flight until `done` (ns).
    pub fn admit(&mut self, now: u64, done: u64) {
        self.advance(now);
        match &mut self.state {
            State::Window { count, .. } => *count += 1,
            State::Log(log) => log.push_back(now),
            State::Bucket { level, .. } => match self.spec.kind {
                LimiterKind::TokenBucket { .. } => *level -= 1.0,
                _ => *level += 1.0,
            },
            State::InFlight(ends) => ends.push(done),
        }
    }
}

/// Segment-wise glob: `*` one segment, `**` (or a trailing `*`) the rest; query ignored.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    paceline::throttle::RouteRule::new("", pattern).matches("GET", path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn run(kind: LimiterKind, times: &[u64]) -> Vec<bool> {
        let mut l = Limiter::new(LimiterSpec::new(kind));
        times
            .iter()
            .map(|&t| {
                let ok = l.check(t).allowed;
                if ok {
                    l.admit(t, t + S / 10);
                }
                ok
            })
            .collect()
    }

    #[test]
    fn fixed_window_resets_on_boundaries() {
        let r = run(
            LimiterKind::FixedWindow {
                limit: 2,
                window_s: 1.0,
            },
            &[0, 1, 2, S, S + 1, S + 2],
        );
        assert_eq!(r, [true, true, false, true, true, false]);
    }

    #[test]
    fn sliding_log_is_exact() {
        let r = run(
            LimiterKind::SlidingLog {
                limit: 2,
                window_s: 1.0,
            },
            &[0, S / 2, S - 1, S, S + S / 2],
        );
        assert_eq!(r, [true, true, false, true, true]);
    }

    #[test]
    fn token_bucket_bursts_then_refills() {
        let r = run(
            LimiterKind::TokenBucket {
                capacity: 2,
                refill_per_s: 1.0,
            },
            &[0, 0, 0, S, S + 1],
        );
        assert_eq!(r, [true, true, false, true, false]);
    }

    #[test]
    fn leaky_bucket_reports_shopify_style() {
        let mut l = Limiter::new(LimiterSpec::new(LimiterKind::LeakyBucket {
            capacity: 40,
            leak_per_s: 2.0,
        }));
        for _ in 0..40 {
            assert!(l.check(0).allowed);
            l.admit(0, 0);
        }
        let r = l.check(0);
        assert!(!r.allowed);
        assert_eq!(r.retry_in_ns, S / 2);
    }

    #[test]
    fn concurrency_frees_on_completion() {
        let mut l = Limiter::new(LimiterSpec::new(LimiterKind::Concurrency { max: 1 }));
        assert!(l.check(0).allowed);
        l.admit(0, 10);
        assert!(!l.check(5).allowed);
        assert!(l.check(10).allowed);
    }
}
