//! The walk's fingerprints: SipHash-1-3 with a 128-bit output, from the `siphasher` crate.
//!
//! What is hashed, and what a collision would cost:
//!
//! | hash | of | a collision would |
//! |---|---|---|
//! | record keys | the value at [`super::PageSpec::key`] | drop a record as a duplicate: data loss |
//! | page hashes | a page's records | stop a walk as "page repeats" |
//! | position hashes | a cursor, token, URL or keyset used | stop a walk as "cursor repeated" |
//! | template fingerprints (64 of the bits) | method, URL and body | resume another request's checkpoint |
//!
//! So every one of them gets 128 bits of a well-mixed keyed hash: among a billion keys the
//! chance of any collision is below 10⁻²⁰. SipHash-1-3 is what Rust's standard `HashMap` uses;
//! the `siphasher` crate implements it with a 128-bit finalisation and is stable across
//! versions and platforms. The keys are fixed (below) because hashes are stored in checkpoints
//! and compared across runs and builds; that makes them predictable, so a server that wants to
//! collide two of its own records can still try (2⁶⁴ work for a birthday collision).
//!
//! The earlier format (checkpoint version 1) used FNV-1a 64 fed eight bytes at a time, which
//! mixes a word's upper bytes so little that consecutive pages of plain records collided (six
//! pairs among 15,168). [`legacy_fingerprint`] keeps its template fingerprint so that version 1
//! checkpoints can still be matched to their request.

use std::hash::Hasher as _;

use siphasher::sip128::{Hasher128 as _, SipHasher13};

/// The fixed SipHash keys: "paceline" and "walk-v2!" as little-endian words. Changing them
/// breaks every stored checkpoint.
const KEY0: u64 = u64::from_le_bytes(*b"paceline");
const KEY1: u64 = u64::from_le_bytes(*b"walk-v2!");

/// A 128-bit SipHash-1-3 fed in pieces; the same bytes in any split give the same hash.
#[derive(Debug, Clone)]
pub(crate) struct Hasher(SipHasher13);

impl Hasher {
    pub(crate) fn new() -> Self {
        Hasher(SipHasher13::new_with_keys(KEY0, KEY1))
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.write(bytes);
        self
    }

    /// A piece with its length before it, so that `("ab", "c")` and `("a", "bc")` differ.
    pub(crate) fn piece(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.write(&(bytes.len() as u64).to_le_bytes());
        self.0.write(bytes);
        self
    }

    pub(crate) fn finish(&self) -> u128 {
        self.0.finish128().as_u128()
    }
}

/// The 128-bit hash of `bytes`.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn hash(bytes: &[u8]) -> u128 {
    Hasher::new().write(bytes).finish()
}

/// The template fingerprint of checkpoint version 1: FNV-1a 64 over the same bytes, byte by
/// byte. Kept only to match version 1 checkpoints to their request.
pub(crate) fn legacy_fingerprint(pieces: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for piece in pieces {
        for &b in *piece {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_values() {
        // Stored in checkpoints: a change here breaks resuming across versions.
        assert_eq!(hash(b""), 0xc600_a8cf_1732_276f_0321_c6bb_6422_bff6);
        assert_eq!(hash(b"0123456789"), hash(b"0123456789"));
        let mut split = Hasher::new();
        split.write(b"0123").write(b"456789");
        assert_eq!(split.finish(), hash(b"0123456789"));
        let (mut a, mut b) = (Hasher::new(), Hasher::new());
        a.piece(b"ab").piece(b"c");
        b.piece(b"a").piece(b"bc");
        assert_ne!(a.finish(), b.finish());
    }

    #[test]
    fn legacy_fingerprint_is_fnv1a_64() {
        // From the FNV reference test suite (Fowler, Noll, Vo; "FNV-1a 64-bit" column).
        assert_eq!(legacy_fingerprint(&[b""]), 0xcbf29ce484222325);
        assert_eq!(legacy_fingerprint(&[b"foo", b"bar"]), 0x85944171f73967e8);
    }

    /// The collision that broke Django REST framework's lists: pages of plain records that
    /// differ only in a few bytes. Among a million consecutive-page pairs of realistic records
    /// (sequential ids, similar names and dates) not one pair of hashes agrees in its low 64
    /// bits, let alone all 128.
    #[test]
    fn consecutive_pages_of_similar_records_do_not_collide() {
        let page = |n: u64| -> Vec<u8> {
            let mut out = Vec::with_capacity(2 * 1024);
            for id in n * 20..n * 20 + 20 {
                out.extend_from_slice(
                    format!(
                        r#"{{"id":{id},"name":"Record {id}","created":"2026-01-{:02}T00:00:{:02}Z"}},"#,
                        id % 28 + 1,
                        id % 60
                    )
                    .as_bytes(),
                );
            }
            out
        };
        let mut seen = std::collections::HashSet::new();
        let pages = if cfg!(debug_assertions) {
            200_000
        } else {
            1_000_000
        };
        for n in 0..pages {
            assert!(seen.insert(hash(&page(n)) as u64), "page {n} collides");
        }
    }
}
