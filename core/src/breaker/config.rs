//! The breaker's configuration: window, thresholds, break lengths, probes, and what counts as
//! failure. Every default is documented with where it comes from.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::failure::FailurePolicy;

/// The most buckets a time window may have, and the most calls a count window may hold: the
/// window is allocated once, at construction.
pub const MAX_WINDOW_SLOTS: u32 = 10_000;

/// The most half-open probes (they are tracked in a 64-bit mask).
pub const MAX_PROBES: u32 = 64;

/// Over what the failure ratio is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowConfig {
    /// The calls of the last `length`, in `buckets` buckets of `length / buckets` each: a call
    /// leaves the window when its whole bucket does (Resilience4j's `TIME_BASED` window,
    /// Polly v8's `SamplingDuration`). The default: 30 s in 10 buckets of 3 s.
    Time {
        /// How far back the window reaches.
        #[serde(with = "crate::serde_secs")]
        length: Duration,
        /// How many buckets it is cut into (1 to [`MAX_WINDOW_SLOTS`]).
        buckets: u32,
    },
    /// The last `calls` calls, however old (Resilience4j's `COUNT_BASED` window). The minimum
    /// throughput is then at most `calls`.
    Count {
        /// How many calls (1 to [`MAX_WINDOW_SLOTS`]).
        calls: u32,
    },
}

impl Default for WindowConfig {
    /// 30 s in 10 buckets of 3 s. Polly v8's `SamplingDuration` default is 30 s; ten buckets
    /// make a call leave the window at most 3 s late, in 10 counters.
    fn default() -> Self {
        WindowConfig::Time {
            length: Duration::from_secs(30),
            buckets: 10,
        }
    }
}

/// Slow calls as a trip condition: a call taking `threshold` or longer is slow, and a window
/// where at least `ratio` of the calls are slow trips the breaker like failures do.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SlowCalls {
    /// From how long a call is slow (measured from the permit to the outcome).
    #[serde(with = "crate::serde_secs")]
    pub threshold: Duration,
    /// The share of slow calls that trips, in `(0, 1]`.
    pub ratio: f64,
}

/// Breaker settings: a `Default` struct with documented defaults, chainable setters and serde
/// (durations as seconds).
///
/// Values out of range never panic: [`BreakerConfig::validate`] names the first one, and a
/// breaker built from an invalid config uses [`BreakerConfig::sanitized`] (each value clamped
/// into its range, a NaN ratio replaced by its default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct BreakerConfig {
    /// The share of failed calls in the window that trips the breaker (at or above), in
    /// `(0, 1]`. Default 0.5 (Polly v8's `FailureRatio` default, Resilience4j's 50 %).
    pub failure_ratio: f64,
    /// Calls the window must hold before it may trip. Default 20 (Resilience4j's
    /// `minimumNumberOfCalls` is 100 over 100 calls; Polly's `MinimumThroughput` is 100 over
    /// 30 s; 20 suits an API client, which sends far fewer calls than a service mesh does,
    /// while still not tripping on two unlucky calls). At least 1.
    pub minimum_calls: u32,
    /// Over what the ratios are measured. Default 30 s in 10 buckets.
    pub window: WindowConfig,
    /// Slow calls as a trip condition. Default `None` (off): slowness is endpoint-specific (an
    /// export can take a minute where a lookup takes 50 ms), no default threshold suits every
    /// route, and a call that is too slow already ends in a timeout, which is a failure.
    /// Resilience4j's default (ratio 1.0 over 60 s) is nearly off as well.
    pub slow_calls: Option<SlowCalls>,
    /// The first break: how long the breaker stays open after it trips. Default 5 s (Polly
    /// v8's `BreakDuration` default).
    #[serde(with = "crate::serde_secs")]
    pub break_duration: Duration,
    /// Each time a probe fails and the breaker opens again, the break is this many times the
    /// last one. Default 2 (the doubling of exponential backoff). At least 1.
    pub break_growth: f64,
    /// The longest break. Default 5 min: a service down longer is probed every 5 minutes,
    /// which costs it nothing, and recovery is noticed within 5 minutes.
    #[serde(with = "crate::serde_secs")]
    pub max_break_duration: Duration,
    /// Calls let through while half-open; all must succeed to close, one failure opens
    /// again. Default 1 (Polly v8 lets a single trial call through): the service is probed by
    /// one request, not by a burst of them, and one success is enough to close, because the
    /// window then judges the traffic that follows. Resilience4j's 10 tolerates a failed probe
    /// among successes but sends ten requests to a service that may still be down. 1 to
    /// [`MAX_PROBES`].
    pub half_open_probes: u32,
    /// What counts as failure.
    pub failures: FailurePolicy,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_ratio: 0.5,
            minimum_calls: 20,
            window: WindowConfig::default(),
            slow_calls: None,
            break_duration: Duration::from_secs(5),
            break_growth: 2.0,
            max_break_duration: Duration::from_secs(300),
            half_open_probes: 1,
            failures: FailurePolicy::default(),
        }
    }
}

/// A configuration value out of its range (see [`BreakerConfig::validate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A ratio that is NaN, zero or less, or above 1.
    Ratio {
        /// Which field.
        field: &'static str,
    },
    /// A count of zero, or above its maximum.
    Count {
        /// Which field.
        field: &'static str,
        /// The largest value allowed.
        max: u32,
    },
    /// A duration of zero where one is needed, or a maximum below its base.
    Duration {
        /// Which field.
        field: &'static str,
    },
    /// A growth factor that is NaN or below 1.
    Growth,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Ratio { field } => write!(f, "{field} must be in (0, 1]"),
            ConfigError::Count { field, max } => write!(f, "{field} must be in 1..={max}"),
            ConfigError::Duration { field } => write!(f, "{field} is zero or too small"),
            ConfigError::Growth => f.write_str("break_growth must be a number of at least 1"),
        }
    }
}

impl std::error::Error for ConfigError {}

fn ratio_ok(r: f64) -> bool {
    r > 0.0 && r <= 1.0
}

fn clamp_ratio(r: f64, default: f64) -> f64 {
    if r.is_nan() {
        default
    } else {
        r.clamp(f64::MIN_POSITIVE, 1.0)
    }
}

impl BreakerConfig {
    /// Sets [`BreakerConfig::failure_ratio`].
    pub fn failure_ratio(mut self, ratio: f64) -> Self {
        self.failure_ratio = ratio;
        self
    }
    /// Sets [`BreakerConfig::minimum_calls`].
    pub fn minimum_calls(mut self, n: u32) -> Self {
        self.minimum_calls = n;
        self
    }
    /// A time window of `length` in `buckets` buckets.
    pub fn time_window(mut self, length: Duration, buckets: u32) -> Self {
        self.window = WindowConfig::Time { length, buckets };
        self
    }
    /// A count window of the last `calls` calls.
    pub fn count_window(mut self, calls: u32) -> Self {
        self.window = WindowConfig::Count { calls };
        self
    }
    /// Trips also when `ratio` of the calls take `threshold` or longer.
    pub fn slow_calls(mut self, threshold: Duration, ratio: f64) -> Self {
        self.slow_calls = Some(SlowCalls { threshold, ratio });
        self
    }
    /// Sets [`BreakerConfig::break_duration`].
    pub fn break_duration(mut self, d: Duration) -> Self {
        self.break_duration = d;
        self
    }
    /// Sets [`BreakerConfig::break_growth`].
    pub fn break_growth(mut self, factor: f64) -> Self {
        self.break_growth = factor;
        self
    }
    /// Sets [`BreakerConfig::max_break_duration`].
    pub fn max_break_duration(mut self, d: Duration) -> Self {
        self.max_break_duration = d;
        self
    }
    /// Sets [`BreakerConfig::half_open_probes`].
    pub fn half_open_probes(mut self, n: u32) -> Self {
        self.half_open_probes = n;
        self
    }
    /// Sets [`BreakerConfig::failures`].
    pub fn failures(mut self, policy: FailurePolicy) -> Self {
        self.failures = policy;
        self
    }

    /// The first value out of its range, if any.
    ///
    /// ```
    /// use paceline::breaker::{BreakerConfig, ConfigError};
    /// assert_eq!(BreakerConfig::default().validate(), Ok(()));
    /// let bad = BreakerConfig::default().failure_ratio(f64::NAN);
    /// assert_eq!(bad.validate(), Err(ConfigError::Ratio { field: "failure_ratio" }));
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !ratio_ok(self.failure_ratio) {
            return Err(ConfigError::Ratio {
                field: "failure_ratio",
            });
        }
        if let Some(s) = self.slow_calls {
            if !ratio_ok(s.ratio) {
                return Err(ConfigError::Ratio {
                    field: "slow_calls.ratio",
                });
            }
            if s.threshold.is_zero() {
                return Err(ConfigError::Duration {
                    field: "slow_calls.threshold",
                });
            }
        }
        let count = |field, n: u32, max| {
            if n == 0 || n > max {
                Err(ConfigError::Count { field, max })
            } else {
                Ok(())
            }
        };
        count("minimum_calls", self.minimum_calls, u32::MAX)?;
        count("half_open_probes", self.half_open_probes, MAX_PROBES)?;
        match self.window {
            WindowConfig::Time { length, buckets } => {
                count("window.buckets", buckets, MAX_WINDOW_SLOTS)?;
                if length.as_nanos() < u128::from(buckets) {
                    return Err(ConfigError::Duration {
                        field: "window.length",
                    });
                }
            }
            WindowConfig::Count { calls } => count("window.calls", calls, MAX_WINDOW_SLOTS)?,
        }
        if self.break_duration.is_zero() {
            return Err(ConfigError::Duration {
                field: "break_duration",
            });
        }
        if self.max_break_duration < self.break_duration {
            return Err(ConfigError::Duration {
                field: "max_break_duration",
            });
        }
        if self.break_growth.is_nan() || self.break_growth < 1.0 {
            return Err(ConfigError::Growth);
        }
        Ok(())
    }

    /// This config with every value clamped into its range: a NaN ratio or growth becomes its
    /// default, a zero count 1, a count past its maximum the maximum, a zero duration 1 ms, a
    /// maximum break below the first one the first one. A valid config is unchanged.
    pub fn sanitized(&self) -> BreakerConfig {
        let d = BreakerConfig::default();
        let mut c = self.clone();
        c.failure_ratio = clamp_ratio(c.failure_ratio, d.failure_ratio);
        c.minimum_calls = c.minimum_calls.max(1);
        c.half_open_probes = c.half_open_probes.clamp(1, MAX_PROBES);
        if let Some(s) = &mut c.slow_calls {
            s.ratio = clamp_ratio(s.ratio, 1.0);
            s.threshold = s.threshold.max(Duration::from_nanos(1));
        }
        c.window = match c.window {
            WindowConfig::Time { length, buckets } => {
                let buckets = buckets.clamp(1, MAX_WINDOW_SLOTS);
                WindowConfig::Time {
                    length: length.max(Duration::from_nanos(u64::from(buckets))),
                    buckets,
                }
            }
            WindowConfig::Count { calls } => WindowConfig::Count {
                calls: calls.clamp(1, MAX_WINDOW_SLOTS),
            },
        };
        if c.break_duration.is_zero() {
            c.break_duration = Duration::from_millis(1);
        }
        c.max_break_duration = c.max_break_duration.max(c.break_duration);
        if c.break_growth.is_nan() || c.break_growth < 1.0 {
            c.break_growth = if c.break_growth < 1.0 {
                1.0
            } else {
                d.break_growth
            };
        }
        c
    }

    /// The minimum throughput in force: for a count window, at most its size.
    pub(crate) fn effective_minimum(&self) -> u32 {
        match self.window {
            WindowConfig::Count { calls } => self.minimum_calls.min(calls),
            WindowConfig::Time { .. } => self.minimum_calls,
        }
    }

    /// The break after `opens` consecutive opens (1 for the first):
    /// `break_duration × break_growth^(opens-1)`, at most `max_break_duration`, saturating.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = paceline::breaker::BreakerConfig::default();
    /// let breaks: Vec<u64> = (1..=8).map(|n| c.break_for(n).as_secs()).collect();
    /// assert_eq!(breaks, [5, 10, 20, 40, 80, 160, 300, 300]);
    /// ```
    pub fn break_for(&self, opens: u32) -> Duration {
        let exp = i32::try_from(opens.saturating_sub(1)).unwrap_or(i32::MAX);
        let factor = self.break_growth.powi(exp);
        let secs = self.break_duration.as_secs_f64() * factor;
        let max = self.max_break_duration;
        if !secs.is_finite() || secs >= max.as_secs_f64() {
            max
        } else {
            Duration::try_from_secs_f64(secs).map_or(max, |d| d.min(max))
        }
    }
}
