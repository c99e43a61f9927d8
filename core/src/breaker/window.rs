//! The sliding windows a breaker measures over: buckets of time, or the last N calls.
//! Both are allocated once; recording a call allocates nothing.

use std::time::{Duration, Instant};

use super::config::WindowConfig;

/// Calls, failures and slow calls counted together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Totals {
    pub(crate) calls: u32,
    pub(crate) failures: u32,
    pub(crate) slow: u32,
}

impl Totals {
    fn add(&mut self, other: Totals) {
        self.calls = self.calls.saturating_add(other.calls);
        self.failures = self.failures.saturating_add(other.failures);
        self.slow = self.slow.saturating_add(other.slow);
    }
}

/// One bucket of a time window: the calls recorded from `start` for one bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bucket {
    pub(crate) start: Instant,
    pub(crate) totals: Totals,
}

/// One call of a count window: bit 0 failed, bit 1 slow.
const FAILED: u8 = 1;
const SLOW: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Window {
    Time {
        length: Duration,
        width: Duration,
        /// A ring; `None` slots were never used (or were cleared).
        buckets: Vec<Option<Bucket>>,
        /// The slot of the newest bucket.
        current: usize,
    },
    Count {
        /// A ring of the last calls' flags, `len` of them valid, the oldest at `head`.
        calls: Vec<u8>,
        head: usize,
        len: usize,
        totals: Totals,
    },
}

impl Window {
    /// A window for a sanitized config.
    pub(crate) fn new(config: WindowConfig) -> Self {
        match config {
            WindowConfig::Time { length, buckets } => {
                let n = buckets.max(1);
                Window::Time {
                    length,
                    width: (length / n).max(Duration::from_nanos(1)),
                    buckets: vec![None; n as usize],
                    current: 0,
                }
            }
            WindowConfig::Count { calls } => Window::Count {
                calls: vec![0; calls.max(1) as usize],
                head: 0,
                len: 0,
                totals: Totals::default(),
            },
        }
    }

    /// Forgets every call.
    pub(crate) fn clear(&mut self) {
        match self {
            Window::Time { buckets, .. } => buckets.iter_mut().for_each(|b| *b = None),
            Window::Count {
                head, len, totals, ..
            } => {
                *head = 0;
                *len = 0;
                *totals = Totals::default();
            }
        }
    }

    /// Records one call that ended at `now`.
    pub(crate) fn record(&mut self, now: Instant, failed: bool, slow: bool) {
        let one = Totals {
            calls: 1,
            failures: u32::from(failed),
            slow: u32::from(slow),
        };
        match self {
            Window::Time {
                length,
                width,
                buckets,
                current,
            } => {
                let n = buckets.len();
                let start = match buckets[*current] {
                    Some(b) if now < b.start + *width => {
                        if let Some(b) = &mut buckets[*current] {
                            b.totals.add(one);
                        }
                        return;
                    }
                    // Aligned on the newest bucket's grid: a call leaves the window at a
                    // bucket boundary, the same one after a save and restore. A window that
                    // has emptied starts a new grid (as a restored one does).
                    Some(b) if now.saturating_duration_since(b.start) < *length => {
                        aligned(b.start, now, *width)
                    }
                    _ => now,
                };
                *current = (*current + 1) % n;
                buckets[*current] = Some(Bucket { start, totals: one });
            }
            Window::Count { .. } => {
                let flags = if failed { FAILED } else { 0 } | if slow { SLOW } else { 0 };
                self.push_flags(flags);
            }
        }
    }

    /// What the window holds at `now`.
    pub(crate) fn totals(&self, now: Instant) -> Totals {
        match self {
            Window::Time {
                length, buckets, ..
            } => {
                let mut t = Totals::default();
                for b in buckets.iter().flatten() {
                    if now.saturating_duration_since(b.start) < *length {
                        t.add(b.totals);
                    }
                }
                t
            }
            Window::Count { totals, .. } => *totals,
        }
    }

    /// The buckets still in the window at `now`, oldest first (time windows only).
    pub(crate) fn live_buckets(&self, now: Instant) -> Vec<Bucket> {
        match self {
            Window::Time {
                length, buckets, ..
            } => {
                let mut live: Vec<Bucket> = buckets
                    .iter()
                    .flatten()
                    .filter(|b| now.saturating_duration_since(b.start) < *length)
                    .copied()
                    .collect();
                live.sort_by_key(|b| b.start);
                live
            }
            Window::Count { .. } => Vec::new(),
        }
    }

    /// The calls' flags, oldest first (count windows only): bit 0 failed, bit 1 slow.
    pub(crate) fn call_flags(&self) -> Vec<u8> {
        match self {
            Window::Count {
                calls, head, len, ..
            } => (0..*len)
                .map(|i| calls[(*head + i) % calls.len()])
                .collect(),
            Window::Time { .. } => Vec::new(),
        }
    }

    /// Puts back buckets (oldest first) into a cleared time window; extra ones, the oldest,
    /// are dropped. Nothing for a count window.
    pub(crate) fn restore_buckets(&mut self, restored: &[Bucket]) {
        if let Window::Time {
            buckets, current, ..
        } = self
        {
            let n = buckets.len();
            let skip = restored.len().saturating_sub(n);
            for (i, b) in restored[skip..].iter().enumerate() {
                buckets[i] = Some(*b);
                *current = i;
            }
        }
    }

    /// Puts back calls (oldest first) into a cleared count window; extra ones, the oldest,
    /// are dropped. Nothing for a time window.
    pub(crate) fn restore_calls(&mut self, flags: &[u8]) {
        if matches!(self, Window::Count { .. }) {
            for f in flags {
                self.push_flags(*f & (FAILED | SLOW));
            }
        }
    }

    /// Appends one call's flags to a count window (nothing for a time window).
    fn push_flags(&mut self, flags: u8) {
        if let Window::Count {
            calls,
            head,
            len,
            totals,
        } = self
        {
            let n = calls.len();
            if *len == n {
                let old = calls[*head];
                totals.calls -= 1;
                totals.failures -= u32::from(old & FAILED != 0);
                totals.slow -= u32::from(old & SLOW != 0);
                calls[*head] = flags;
                *head = (*head + 1) % n;
            } else {
                calls[(*head + *len) % n] = flags;
                *len += 1;
            }
            totals.add(Totals {
                calls: 1,
                failures: u32::from(flags & FAILED != 0),
                slow: u32::from(flags & SLOW != 0),
            });
        }
    }
}

/// The start of the bucket holding `now`, on the grid of buckets `width` wide from `start`
/// (saturating: a far-off `now` starts a bucket at `now`).
fn aligned(start: Instant, now: Instant, width: Duration) -> Instant {
    let elapsed = now.saturating_duration_since(start).as_nanos();
    let w = width.as_nanos().max(1);
    let k = elapsed / w;
    u64::try_from(k * w)
        .ok()
        .and_then(|ns| start.checked_add(Duration::from_nanos(ns)))
        .unwrap_or(now)
}
