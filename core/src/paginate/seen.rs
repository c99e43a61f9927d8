//! A set of 128-bit hashes that costs 16 bytes an entry: a sorted vector, plus a small table of
//! recent entries merged into it now and then.
//!
//! A `HashSet<u128>` spends 17 to 34 bytes an entry on slack and control bytes; a walk over a
//! million records that de-duplicates keeps a million of them. Here the bulk is a sorted
//! `Vec<u128>` sized exactly (binary search to look up), and new entries go to a table of at
//! most [`FRESH`] before being merged in (amortised `O(1)` per insert: a merge moves the whole
//! vector once every [`FRESH`] inserts).

use std::collections::HashSet;

/// Entries held in the table before a merge.
const FRESH: usize = 4096;

/// A set of `u128` hashes at 16 bytes an entry (plus a constant).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    sorted: Vec<u128>,
    fresh: HashSet<u128>,
}

impl Seen {
    /// Whether `h` is in the set.
    pub(crate) fn contains(&self, h: &u128) -> bool {
        self.fresh.contains(h) || self.sorted.binary_search(h).is_ok()
    }

    /// Adds `h`; `false` if it was there already (as `HashSet::insert`).
    pub(crate) fn insert(&mut self, h: u128) -> bool {
        if self.contains(&h) {
            return false;
        }
        self.fresh.insert(h);
        if self.fresh.len() >= FRESH {
            self.merge();
        }
        true
    }

    fn merge(&mut self) {
        let mut fresh: Vec<u128> = self.fresh.drain().collect();
        fresh.sort_unstable();
        let mut merged = Vec::with_capacity(self.sorted.len() + fresh.len());
        let (mut a, mut b) = (self.sorted.iter().peekable(), fresh.iter().peekable());
        while let (Some(&&x), Some(&&y)) = (a.peek(), b.peek()) {
            if x < y {
                merged.push(x);
                a.next();
            } else {
                merged.push(y);
                b.next();
            }
        }
        merged.extend(a);
        merged.extend(b);
        self.sorted = merged;
    }

    /// Entries held.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        self.sorted.len() + self.fresh.len()
    }

    /// Whether it is empty.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Extend<u128> for Seen {
    fn extend<I: IntoIterator<Item = u128>>(&mut self, iter: I) {
        for h in iter {
            self.insert(h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against `HashSet` as the reference, across merges.
    #[test]
    fn prop_behaves_like_a_hash_set() {
        fn prop(values: Vec<u16>, spread: u8) -> bool {
            let mut seen = Seen::default();
            let mut reference = HashSet::new();
            // Many values, so that several merges happen; `spread` varies how many repeat.
            let k = u64::from(spread % 7) + 1;
            for (i, v) in values.iter().cycle().take(values.len() * 40).enumerate() {
                let h = u128::from(*v) * u128::from(k) + (i as u128 % 3);
                if seen.insert(h) != reference.insert(h) || seen.len() != reference.len() {
                    return false;
                }
            }
            reference.iter().all(|h| seen.contains(h)) && !seen.contains(&u128::MAX)
        }
        quickcheck::QuickCheck::new()
            .tests(100)
            .quickcheck(prop as fn(Vec<u16>, u8) -> bool);
    }

    #[test]
    fn sixteen_bytes_an_entry() {
        let mut seen = Seen::default();
        for h in 0..100_000u128 {
            seen.insert(h.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834));
        }
        assert_eq!(seen.len(), 100_000);
        assert!(
            seen.sorted.capacity() <= seen.sorted.len() + FRESH,
            "{}",
            seen.sorted.capacity()
        );
    }
}
