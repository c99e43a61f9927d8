//! Requests over virtual time, in buckets: for plotting the send rate against the limit.

use serde::{Deserialize, Serialize};

/// One bucket of virtual time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// The bucket's start, seconds of virtual time.
    pub start_s: f64,
    /// Requests sent in it.
    pub sent: u64,
    /// Responses in it that said "too many" (429, or GitHub's 403).
    pub throttled: u64,
}

/// Counts per bucket of `width_ns`; grows as time goes on.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    width_ns: u64,
    buckets: Vec<Bucket>,
}

impl Series {
    /// Buckets so that a run of `duration_ns` has about 600 of them, each at least a second.
    pub(crate) fn for_duration(duration_ns: u64) -> Self {
        Series {
            width_ns: (duration_ns / 600).max(1_000_000_000),
            buckets: Vec::new(),
        }
    }

    fn at(&mut self, now_ns: u64) -> &mut Bucket {
        let i = usize::try_from(now_ns / self.width_ns)
            .unwrap_or(usize::MAX)
            .min(1 << 20);
        while self.buckets.len() <= i {
            let start_s = (self.buckets.len() as u64 * self.width_ns) as f64 / 1e9;
            self.buckets.push(Bucket {
                start_s,
                ..Bucket::default()
            });
        }
        &mut self.buckets[i]
    }

    pub(crate) fn sent(&mut self, now_ns: u64) {
        self.at(now_ns).sent += 1;
    }

    pub(crate) fn throttled(&mut self, now_ns: u64) {
        self.at(now_ns).throttled += 1;
    }

    /// The buckets, and their width in seconds.
    pub(crate) fn finish(self) -> (Vec<Bucket>, f64) {
        (self.buckets, self.width_ns as f64 / 1e9)
    }
}
