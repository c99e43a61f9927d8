//! What counts as failure.

use serde::{Deserialize, Serialize};

use crate::error::Attempted;
use crate::retry::TransportKind;

/// What an outcome means to a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The service answered as a healthy one would.
    Success,
    /// The service is failing.
    Failure,
    /// Says nothing about the service's health (throttling): not counted at all. A half-open
    /// probe with this outcome frees its slot for another probe.
    Ignored,
}

/// Which outcomes are failures. The default: every 5xx but 501, and transport failures
/// (connect, timeout, reset) are failures; 429 is ignored (it is throttling, handled by the
/// throttle, and says nothing about health); every other status is a success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct FailurePolicy {
    /// 5xx statuses are failures. Default true.
    pub server_errors: bool,
    /// Transport failures of kind connect, timeout or reset are failures. Default true.
    /// [`TransportKind::Other`] (TLS, protocol, an invalid URL) never is: it is usually the
    /// caller's configuration, not an outage.
    pub transport: bool,
    /// Statuses that are failures whatever the rules above say (e.g. 408). Default none.
    pub failure_statuses: Vec<u16>,
    /// Statuses that are successes whatever the rules above say. Default `[501]`: Not
    /// Implemented is the caller's mistake, not an outage.
    pub success_statuses: Vec<u16>,
    /// Statuses not counted at all. Default `[429]`: throttling.
    pub ignored_statuses: Vec<u16>,
}

impl Default for FailurePolicy {
    fn default() -> Self {
        FailurePolicy {
            server_errors: true,
            transport: true,
            failure_statuses: Vec::new(),
            success_statuses: vec![501],
            ignored_statuses: vec![429],
        }
    }
}

impl FailurePolicy {
    /// What `outcome` means, by the rules in the order they are documented: the explicit lists
    /// first (ignored, failure, success), then 5xx, then every other status is a success.
    pub fn verdict(&self, outcome: &Attempted) -> Verdict {
        match outcome {
            Attempted::Status(status) => {
                let code = status.as_u16();
                if self.ignored_statuses.contains(&code) {
                    Verdict::Ignored
                } else if self.failure_statuses.contains(&code) {
                    Verdict::Failure
                } else if self.success_statuses.contains(&code) {
                    Verdict::Success
                } else if self.server_errors && status.is_server_error() {
                    Verdict::Failure
                } else {
                    Verdict::Success
                }
            }
            Attempted::Transport(t) => match t.kind {
                TransportKind::Connect | TransportKind::Timeout | TransportKind::Reset
                    if self.transport =>
                {
                    Verdict::Failure
                }
                _ => Verdict::Ignored,
            },
        }
    }
}
