//! A retry budget: retries spend tokens, successes earn them back, so a client cannot multiply
//! an outage by its retry count. The scheme and numbers are AWS SDKs' "standard" retry mode
//! (capacity 500, 5 per retry, 10 per retry after a timeout, 1 back per success).

use serde::{Deserialize, Serialize};

/// Retry budget settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget {
            capacity: 500,
            retry_cost: 5,
            timeout_cost: 10,
            success_refund: 1,
        }
    }
}

/// The budget's running balance.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    pub(crate) available: u32,
}

impl Tokens {
    pub(crate) fn new(b: &RetryBudget) -> Self {
        Tokens {
            available: b.capacity,
        }
    }

    /// Takes `cost` tokens if there are that many. A disabled budget always allows.
    pub(crate) fn try_spend(&mut self, b: &RetryBudget, cost: u32) -> bool {
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

    /// Gives back `n` tokens, never above capacity.
    pub(crate) fn refund(&mut self, b: &RetryBudget, n: u32) {
        self.available = self.available.saturating_add(n).min(b.capacity);
    }
}
