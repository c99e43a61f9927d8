//! Chaos: what goes wrong on real servers, each with its own probability, and an outage: a
//! span of time in which every request fails.

use serde::{Deserialize, Serialize};

/// Probabilities (0..1) of each misbehaviour, drawn per request from the model's seeded
/// generator. All zero by default; no outage by default.
///
/// Unknown fields are errors (as in the scenario's other tables): a misspelt `outage` would
/// otherwise leave a scenario silently healthy.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Chaos {
    /// A span of virtual time in which the server fails every request (see [`Outage`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outage: Option<Outage>,
    /// A 429 with `Retry-After` that no limit explains.
    pub p_429: f64,
    /// A 429 without `Retry-After`.
    pub p_429_without_retry_after: f64,
    /// A 500.
    pub p_500: f64,
    /// A 502.
    pub p_502: f64,
    /// A 503 (with `Retry-After: 1`).
    pub p_503: f64,
    /// The connection is reset before the request is processed.
    pub p_reset_before: f64,
    /// The request is processed, then the connection is reset: the client sees no response.
    pub p_reset_after: f64,
    /// A slow response (`slow_ms` more latency).
    pub p_slow: f64,
    /// Extra latency of a slow response, ms.
    pub slow_ms: u64,
    /// A request the server reads late: its limiters count it up to [`Chaos::late_read_ms`]
    /// after it arrived, and its answer is as much later. nginx's worker on a busy machine
    /// (a vCPU woken late) reads about one request in a hundred 1–7 ms late; a limiter with no
    /// burst then refuses the next request, read on time, as too close to it (see
    /// `cli/tests/real_limiters.rs`).
    pub p_late_read: f64,
    /// How late a late read is at most, ms (drawn uniformly from `[0, late_read_ms)`).
    pub late_read_ms: f64,
    /// A 200 whose JSON body is cut short.
    pub p_truncated: f64,
    /// A 200 whose body is not JSON.
    pub p_invalid_json: f64,
    /// An empty page before the end (pagination).
    pub p_empty_page: f64,
    /// A cursor that repeats the previous one (pagination).
    pub p_repeat_cursor: f64,
    /// A last page whose cursor points at itself (pagination).
    pub p_self_cursor: f64,
    /// The `Retry-After` of a chaos 429 or 503, seconds, drawn per response uniformly from
    /// `[lo, hi]` (`0` allowed: "retry now"). Unset: 1 s. Outages and limiters are unaffected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<[u64; 2]>,
}

/// The server is down from `from_s` for `for_s` seconds (of the model's time): every request
/// arriving in `[from_s, from_s + for_s)` is answered with `status` (503 by default) and
/// nothing else: no `Retry-After` (a server that is down does not know when it will be back,
/// and one that said so would let any client wait politely without a breaker), no rate-limit
/// headers, and the limiters never see it (the application behind them is down). Before and
/// after, the model answers as usual.
///
/// A status, not a connection reset: a 503 is what a load balancer in front of a dead pool
/// answers, and the client's breaker and retry policy count both the same way by default
/// (5xx and transport errors are failures).
///
/// ```toml
/// [server.chaos]
/// outage = { from_s = 30, for_s = 60 }            # 503s from 30 s to 90 s
/// # outage = { from_s = 30, for_s = 60, status = 500 }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    /// When it starts, seconds after the model's start.
    pub from_s: f64,
    /// How long it lasts, seconds.
    pub for_s: f64,
    /// The status every request gets meanwhile. Default 503.
    #[serde(default = "service_unavailable")]
    pub status: u16,
}

fn service_unavailable() -> u16 {
    503
}

impl Outage {
    /// An outage of `for_s` seconds from `from_s`, answering 503.
    pub fn new(from_s: f64, for_s: f64) -> Self {
        Outage {
            from_s,
            for_s,
            status: 503,
        }
    }

    /// Its start, ns of model time (0 for a negative or NaN start).
    pub fn from_ns(&self) -> u64 {
        secs_to_ns(self.from_s)
    }

    /// Its end (exclusive), ns of model time.
    pub fn until_ns(&self) -> u64 {
        self.from_ns().saturating_add(secs_to_ns(self.for_s))
    }

    /// Whether a request arriving at `now_ns` falls in it.
    pub fn covers(&self, now_ns: u64) -> bool {
        (self.from_ns()..self.until_ns()).contains(&now_ns)
    }
}

/// Seconds as ns: negative and NaN are 0, too large saturates.
fn secs_to_ns(s: f64) -> u64 {
    if s.is_nan() || s <= 0.0 {
        0
    } else {
        // `as` saturates at u64::MAX.
        (s * 1e9) as u64
    }
}

/// What chaos decided for one request, before the limiters see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Before {
    /// Nothing.
    Nothing,
    /// Reset before processing.
    Reset,
}

/// What chaos decided for a request the limiters admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Answer normally.
    Normal,
    /// Answer with this status instead (and `Retry-After` if the flag says so).
    Status(u16, bool),
    /// Process it, then reset the connection.
    Reset,
}

/// Chaos given as shares of *all* requests, for [`Chaos::from_shares`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Shares {
    /// Connections reset before the request is processed.
    pub reset_before: f64,
    /// 429s with `Retry-After`.
    pub with_retry_after: f64,
    /// 429s without `Retry-After`.
    pub without_retry_after: f64,
    /// 500s.
    pub status_500: f64,
    /// 200s whose body is cut short.
    pub truncated: f64,
}

impl Chaos {
    /// The faults a client recovers from by retrying, each at `p`: a 500, a reset after the
    /// server answered (the client sees no response), and a 200 whose body is cut short.
    ///
    /// ```
    /// use paceline_testkit::model::Chaos;
    ///
    /// let c = Chaos::recoverable(0.02);
    /// assert_eq!((c.p_500, c.p_reset_after, c.p_truncated, c.p_429), (0.02, 0.02, 0.02, 0.0));
    /// ```
    pub fn recoverable(p: f64) -> Chaos {
        Chaos {
            p_500: p,
            p_reset_after: p,
            p_truncated: p,
            ..Chaos::default()
        }
    }

    /// The chaos that gives these shares of all requests. The model draws in order (a reset
    /// before anything, then a 429 with `Retry-After`, one without, a 500, then on a 200 a
    /// truncated body), each probability applying to what the earlier draws left, so each
    /// share is divided by what is left.
    ///
    /// ```
    /// use paceline_testkit::model::{Chaos, Shares};
    ///
    /// let c = Chaos::from_shares(Shares { reset_before: 0.5, status_500: 0.25, ..Shares::default() });
    /// assert_eq!((c.p_reset_before, c.p_500), (0.5, 0.5));
    /// ```
    pub fn from_shares(s: Shares) -> Chaos {
        let mut left = 1.0 - s.reset_before;
        let mut draw = |share: f64| {
            let p = if left > 0.0 { share / left } else { 0.0 };
            left *= 1.0 - p;
            p
        };
        let p_429 = draw(s.with_retry_after);
        let p_429_without_retry_after = draw(s.without_retry_after);
        let p_500 = draw(s.status_500);
        let p_truncated = draw(s.truncated);
        Chaos {
            p_reset_before: s.reset_before,
            p_429,
            p_429_without_retry_after,
            p_500,
            p_truncated,
            ..Chaos::default()
        }
    }

    /// Draws the pre-processing fate.
    pub fn before(&self, rng: &mut fastrand::Rng) -> Before {
        if self.p_reset_before > 0.0 && rng.f64() < self.p_reset_before {
            Before::Reset
        } else {
            Before::Nothing
        }
    }

    /// Draws the post-admission fate.
    pub fn after(&self, rng: &mut fastrand::Rng) -> After {
        let table = [
            (self.p_429, After::Status(429, true)),
            (self.p_429_without_retry_after, After::Status(429, false)),
            (self.p_500, After::Status(500, false)),
            (self.p_502, After::Status(502, false)),
            (self.p_503, After::Status(503, true)),
            (self.p_reset_after, After::Reset),
        ];
        for (p, fate) in table {
            if p > 0.0 && rng.f64() < p {
                return fate;
            }
        }
        After::Normal
    }

    /// The `Retry-After` of a chaos 429 or 503, seconds ([`Chaos::retry_after_s`]).
    pub fn retry_after(&self, rng: &mut fastrand::Rng) -> u64 {
        match self.retry_after_s {
            None => 1,
            Some([lo, hi]) if hi > lo => rng.u64(lo..=hi),
            Some([lo, _]) => lo,
        }
    }

    /// How late the server reads a request, ns ([`Chaos::p_late_read`]); 0 for most.
    pub fn late_read(&self, rng: &mut fastrand::Rng) -> u64 {
        if self.p_late_read > 0.0 && rng.f64() < self.p_late_read {
            (self.late_read_ms.max(0.0) * rng.f64() * 1e6) as u64
        } else {
            0
        }
    }

    /// Extra latency, ns.
    pub fn slow(&self, rng: &mut fastrand::Rng) -> u64 {
        if self.p_slow > 0.0 && rng.f64() < self.p_slow {
            self.slow_ms * 1_000_000
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_covers_its_span_and_nothing_else() {
        let o = Outage::new(30.0, 60.0);
        assert_eq!(
            (o.from_ns(), o.until_ns()),
            (30_000_000_000, 90_000_000_000)
        );
        assert!(!o.covers(29_999_999_999));
        assert!(o.covers(30_000_000_000));
        assert!(o.covers(89_999_999_999));
        assert!(!o.covers(90_000_000_000));
        // Hostile numbers never panic: a negative or NaN start is 0, a huge length saturates.
        let o = Outage::new(f64::NAN, f64::INFINITY);
        assert!(o.covers(0) && o.covers(u64::MAX - 1));
        assert!(!Outage::new(-5.0, 0.0).covers(0));
    }

    #[test]
    fn a_chaos_retry_after_is_drawn_from_its_range() {
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(Chaos::default().retry_after(&mut rng), 1);
        let c: Chaos = toml::from_str("retry_after_s = [0, 1]").unwrap();
        let drawn: Vec<u64> = (0..100).map(|_| c.retry_after(&mut rng)).collect();
        assert!(drawn.contains(&0) && drawn.contains(&1) && drawn.iter().all(|s| *s <= 1));
        let c: Chaos = toml::from_str("retry_after_s = [3, 3]").unwrap();
        assert_eq!(c.retry_after(&mut rng), 3);
        // Unset, it is not written (scenario snapshots stay as they were).
        assert!(
            !toml::to_string(&Chaos::default())
                .unwrap()
                .contains("retry_after_s")
        );
    }

    #[test]
    fn an_outage_reads_from_toml_with_503_by_default() {
        let c: Chaos = toml::from_str("outage = { from_s = 30, for_s = 60 }").unwrap();
        assert_eq!(c.outage, Some(Outage::new(30.0, 60.0)));
        let c: Chaos =
            toml::from_str("outage = { from_s = 1, for_s = 2, status = 500 }\np_500 = 0.1")
                .unwrap();
        assert_eq!(c.outage.map(|o| o.status), Some(500));
        assert!(toml::from_str::<Chaos>("outage = { from_s = 1, for_s = 2, bogus = 1 }").is_err());
        assert!(toml::from_str::<Chaos>("outage = { from_s = 1 }").is_err());
        assert!(toml::from_str::<Chaos>("outtage = { from_s = 1, for_s = 2 }").is_err());
    }
}
