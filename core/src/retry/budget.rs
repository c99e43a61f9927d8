//! A retry budget: retries spend tokens, successes earn them back, so a client cannot multiply
//! an outage by its retry count. The scheme and numbers are AWS SDKs' "standard" retry mode
//! (capacity 500, 5 per retry, 10 per retry after a timeout, 1 back per success).

use serde::{Deserialize, Serialize};

/// How retries are budgeted. Each keeps a client from multiplying an outage by its retry
/// count; they differ in what they let through after a quiet spell and how fast they recover.
///
/// - [`Tokens`](BudgetStrategy::Tokens) (the default, AWS SDKs' standard mode): a bucket of
///   `capacity` tokens; a retry costs `retry_cost` (`timeout_cost` after a timeout), a success
///   gives back what its retries cost, or `success_refund`. Absolute: 100 retries in a row
///   at most from a full bucket, whatever the traffic; slow to refill after an outage.
/// - [`Ratio`](BudgetStrategy::Ratio) (Finagle, tower's `TpsBudget`): retries may be at most
///   `ratio` of the requests of the last `window_s` seconds, plus `min_per_s` a second.
///   Relative to traffic: a busy client may retry more, a quiet one still retries a little;
///   Finagle's defaults are 20 %, 10 s and 10 a second.
/// - [`Grpc`](BudgetStrategy::Grpc) (gRPC's retry throttling): a token count starts at
///   `max_tokens`; every retryable failure takes 1, every success adds `token_ratio`; retries
///   stop while the count is at or under half of `max_tokens`. Stops retrying after a burst
///   of failures and resumes as successes come back; gRPC's example values are 10 and 0.1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum BudgetStrategy {
    /// AWS standard mode's token bucket, as [`RetryBudget`]'s numbers say.
    #[default]
    Tokens,
    /// Retries at most `ratio` of recent requests, plus a floor.
    Ratio {
        /// The share of requests that may be retried (Finagle: 0.2).
        ratio: f64,
        /// Over how many seconds requests and retries are counted (Finagle: 10).
        window_s: f64,
        /// Retries a second allowed whatever the traffic (Finagle: 10).
        min_per_s: f64,
    },
    /// gRPC's retry throttling.
    Grpc {
        /// The count's ceiling and start (gRPC: 1 to 1000; its example 10).
        max_tokens: f64,
        /// What a success adds (gRPC's example: 0.1).
        token_ratio: f64,
    },
}

/// Retry budget settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetryBudget {
    /// Tokens when full (AWS standard mode: 500). Zero disables the budget.
    pub capacity: u32,
    /// Tokens a retry costs (AWS: 5).
    pub retry_cost: u32,
    /// Tokens a retry after a timeout costs (AWS: 10).
    pub timeout_cost: u32,
    /// Tokens a success gives back (AWS: 1).
    pub success_refund: u32,
    /// Which scheme; the numbers above are the default [`BudgetStrategy::Tokens`]'s.
    pub strategy: BudgetStrategy,
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget {
            capacity: 500,
            retry_cost: 5,
            timeout_cost: 10,
            success_refund: 1,
            strategy: BudgetStrategy::Tokens,
        }
    }
}

impl RetryBudget {
    /// Finagle's retry budget: 20 % of the requests of the last 10 s, plus 10 a second.
    pub fn finagle() -> Self {
        RetryBudget {
            strategy: BudgetStrategy::Ratio {
                ratio: 0.2,
                window_s: 10.0,
                min_per_s: 10.0,
            },
            ..RetryBudget::default()
        }
    }

    /// gRPC's retry throttling with its example values: 10 tokens, 0.1 back per success.
    pub fn grpc() -> Self {
        RetryBudget {
            strategy: BudgetStrategy::Grpc {
                max_tokens: 10.0,
                token_ratio: 0.1,
            },
            ..RetryBudget::default()
        }
    }
}

/// Slots of a [`BudgetStrategy::Ratio`] window.
const SLOTS: usize = 10;

/// One slot of a ratio window: requests and retries counted in it.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// Which slot of time it counts (`now / width`); stale when another.
    index: u64,
    requests: u32,
    retries: u32,
}

/// The budget's running balance.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    pub(crate) available: u32,
    /// [`BudgetStrategy::Grpc`]'s count.
    grpc: f64,
    /// [`BudgetStrategy::Ratio`]'s window.
    slots: [Slot; SLOTS],
}

impl Tokens {
    pub(crate) fn new(b: &RetryBudget) -> Self {
        let grpc = match b.strategy {
            BudgetStrategy::Grpc { max_tokens, .. } => finite(max_tokens),
            _ => 0.0,
        };
        Tokens {
            available: b.capacity,
            grpc,
            slots: [Slot::default(); SLOTS],
        }
    }

    /// A request's first attempt, at `now_ns` (the ratio strategy counts them).
    pub(crate) fn on_request(&mut self, b: &RetryBudget, now_ns: u64) {
        if let BudgetStrategy::Ratio { window_s, .. } = b.strategy {
            self.slot(window_s, now_ns).requests =
                self.slot(window_s, now_ns).requests.saturating_add(1);
        }
    }

    /// Takes what a retry costs (`cost` tokens under the default strategy) if the budget
    /// allows it. A disabled budget (`capacity` 0 under [`BudgetStrategy::Tokens`]) always
    /// allows.
    pub(crate) fn try_spend(&mut self, b: &RetryBudget, cost: u32, now_ns: u64) -> bool {
        match b.strategy {
            BudgetStrategy::Tokens => {
                if b.capacity == 0 {
                    return true;
                }
                match self.available.checked_sub(cost) {
                    Some(left) => {
                        self.available = left;
                        true
                    }
                    None => false,
                }
            }
            BudgetStrategy::Ratio {
                ratio,
                window_s,
                min_per_s,
            } => {
                let window_s = finite(window_s).max(0.001);
                let width = width_ns(window_s);
                let current = now_ns / width;
                let (requests, retries) = self
                    .slots
                    .iter()
                    .filter(|s| current.saturating_sub(s.index) < SLOTS as u64)
                    .fold((0u64, 0u64), |(q, r), s| {
                        (q + u64::from(s.requests), r + u64::from(s.retries))
                    });
                let allowed = finite(ratio) * requests as f64 + finite(min_per_s) * window_s;
                if (retries as f64) < allowed {
                    let slot = self.slot(window_s, now_ns);
                    slot.retries = slot.retries.saturating_add(1);
                    true
                } else {
                    false
                }
            }
            BudgetStrategy::Grpc { max_tokens, .. } => {
                self.grpc = (self.grpc - 1.0).max(0.0);
                self.grpc > finite(max_tokens) / 2.0
            }
        }
    }

    /// A success: gives back `n` tokens (the default strategy, never above capacity), or
    /// `token_ratio` ([`BudgetStrategy::Grpc`]).
    pub(crate) fn refund(&mut self, b: &RetryBudget, n: u32) {
        match b.strategy {
            BudgetStrategy::Tokens => {
                self.available = self.available.saturating_add(n).min(b.capacity);
            }
            BudgetStrategy::Grpc {
                max_tokens,
                token_ratio,
            } => {
                self.grpc = (self.grpc + finite(token_ratio)).min(finite(max_tokens));
            }
            BudgetStrategy::Ratio { .. } => {}
        }
    }

    /// The ratio window's slot for `now_ns`, emptied when it held an older time.
    fn slot(&mut self, window_s: f64, now_ns: u64) -> &mut Slot {
        let current = now_ns / width_ns(window_s);
        let slot = &mut self.slots[(current % SLOTS as u64) as usize];
        if slot.index != current {
            *slot = Slot {
                index: current,
                ..Slot::default()
            };
        }
        slot
    }
}

/// A slot's width: a tenth of the window, at least 1 ms.
fn width_ns(window_s: f64) -> u64 {
    ((finite(window_s) * 1e9 / SLOTS as f64) as u64).max(1_000_000)
}

/// `x`, or 0 when it is negative or not a number (a hostile config never panics).
fn finite(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 { x } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use quickcheck::QuickCheck;

    use super::*;

    const S: u64 = 1_000_000_000;

    fn ratio(ratio: f64, window_s: f64, min_per_s: f64) -> RetryBudget {
        RetryBudget {
            strategy: BudgetStrategy::Ratio {
                ratio,
                window_s,
                min_per_s,
            },
            ..RetryBudget::default()
        }
    }

    fn allowed(t: &mut Tokens, b: &RetryBudget, at: u64, n: u32) -> u32 {
        (0..n).filter(|_| t.try_spend(b, 5, at)).count() as u32
    }

    #[test]
    fn a_ratio_budget_allows_a_share_of_recent_requests() {
        let b = ratio(0.2, 10.0, 0.0);
        let mut t = Tokens::new(&b);
        for _ in 0..100 {
            t.on_request(&b, S);
        }
        assert_eq!(allowed(&mut t, &b, 2 * S, 50), 20);
        // Eleven seconds later the requests have left the window: no retry.
        assert_eq!(allowed(&mut t, &b, 13 * S, 5), 0);
    }

    #[test]
    fn a_ratio_budget_has_a_floor() {
        let b = RetryBudget::finagle();
        let mut t = Tokens::new(&b);
        assert_eq!(allowed(&mut t, &b, S, 500), 100, "10 a second over 10 s");
    }

    #[test]
    fn grpc_throttles_at_half_and_recovers_with_successes() {
        let b = RetryBudget::grpc();
        let mut t = Tokens::new(&b);
        // 10 → 9, 8, 7, 6 allowed; at 5 (half) retries stop. Every failure counts, retried
        // or not: ten of them leave 0.
        assert_eq!(allowed(&mut t, &b, 0, 10), 4);
        // 70 successes bring it to 7: one retry (to 6), then none (5 is half).
        for _ in 0..70 {
            t.refund(&b, 1);
        }
        assert_eq!(allowed(&mut t, &b, 0, 10), 1);
    }

    #[test]
    fn hostile_numbers_never_panic_and_never_allow_more() {
        for b in [
            ratio(f64::NAN, f64::INFINITY, -1.0),
            ratio(-3.0, 0.0, f64::NAN),
            RetryBudget {
                strategy: BudgetStrategy::Grpc {
                    max_tokens: f64::NAN,
                    token_ratio: f64::INFINITY,
                },
                ..RetryBudget::default()
            },
        ] {
            let mut t = Tokens::new(&b);
            t.on_request(&b, u64::MAX);
            t.refund(&b, u32::MAX);
            assert_eq!(allowed(&mut t, &b, u64::MAX, 10), 0, "{b:?}");
        }
    }

    /// A ratio budget never allows more retries, in any window, than its formula.
    #[test]
    fn prop_a_ratio_budget_keeps_its_formula() {
        fn prop(events: Vec<(bool, u16)>, ratio_pct: u8, floor: u8) -> bool {
            let (r, window_s, min) = (
                f64::from(ratio_pct % 101) / 100.0,
                10.0,
                f64::from(floor % 5),
            );
            let b = ratio(r, window_s, min);
            let mut t = Tokens::new(&b);
            let mut now = 0u64;
            let mut log: Vec<(u64, bool)> = Vec::new(); // (time, is a retry allowed)
            for (retry, gap_ms) in events {
                now += u64::from(gap_ms) * 1_000_000;
                if retry {
                    if t.try_spend(&b, 1, now) {
                        log.push((now, true));
                    }
                } else {
                    t.on_request(&b, now);
                    log.push((now, false));
                }
            }
            // Each retry allowed: within its window (the ten 1 s slots up to its own), the
            // retries, itself included, are under the formula plus the one it let through.
            log.iter().filter(|(_, retry)| *retry).all(|&(at, _)| {
                let from = (at / S).saturating_sub(9) * S;
                let (q, rt) = log.iter().filter(|(t, _)| *t >= from && *t <= at).fold(
                    (0.0, 0.0),
                    |(q, rt), (_, retry)| {
                        if *retry { (q, rt + 1.0) } else { (q + 1.0, rt) }
                    },
                );
                rt < r * q + min * window_s + 1.0
            })
        }
        QuickCheck::new()
            .tests(300)
            .quickcheck(prop as fn(Vec<(bool, u16)>, u8, u8) -> bool);
    }
}
