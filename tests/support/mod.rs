//! Helpers shared by the end-to-end tests (each test binary uses some of them).
#![allow(dead_code)]

use std::time::Duration;

use paceline::PacerConfig;
use paceline::retry::{Jitter, RetryPolicy};
use paceline_testkit::ReceivedRequest;
use paceline_ureq::Client;

/// How much earlier than asked a request may arrive: thread wake-ups and the server's own
/// scheduling. Only lower bounds are asserted; a slow machine never fails a test.
pub const TOLERANCE: Duration = Duration::from_millis(50);

/// A retry policy with exact (unjittered) backoff from `base`, doubling.
pub fn exact_backoff(base: Duration) -> RetryPolicy {
    RetryPolicy::default().base(base).jitter(Jitter::None)
}

/// A client with this retry policy.
pub fn client(policy: RetryPolicy) -> Client {
    Client::new(PacerConfig::default().retry(policy))
}

/// The time between consecutive arrivals.
pub fn gaps(received: &[ReceivedRequest]) -> Vec<Duration> {
    received
        .windows(2)
        .map(|w| w[1].at.duration_since(w[0].at))
        .collect()
}

/// Asserts that `gap` is at least `want`, less [`TOLERANCE`].
#[track_caller]
pub fn assert_at_least(gap: Duration, want: Duration) {
    assert!(
        gap + TOLERANCE >= want,
        "requests {gap:?} apart, expected at least {want:?} (less {TOLERANCE:?})"
    );
}
