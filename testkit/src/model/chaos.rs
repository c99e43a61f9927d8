//! Chaos: what goes wrong on real servers, each with its own probability.

use serde::{Deserialize, Serialize};

/// Probabilities (0..1) of each misbehaviour, drawn per request from the model's seeded
/// generator. All zero by default.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Chaos {
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

impl Chaos {
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

    /// Extra latency, ns.
    pub fn slow(&self, rng: &mut fastrand::Rng) -> u64 {
        if self.p_slow > 0.0 && rng.f64() < self.p_slow {
            self.slow_ms * 1_000_000
        } else {
            0
        }
    }
}
