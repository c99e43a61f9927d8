//! FNV-1a, 64 bits: the walk's fingerprints and the hashes it keeps instead of strings.
//!
//! Chosen because it is tiny, dependency-free and stable across versions, platforms and builds
//! (a checkpoint written by one build is checked by another). It is **not cryptographic**: a
//! hostile server can craft collisions. The consequences are bounded: a collision among record
//! keys makes de-duplication drop a record the server itself chose to disguise, and a collision
//! among cursors stops a walk early with a typed error, never loops it.

const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// An FNV-1a 64 hasher fed in pieces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Self {
        Fnv(OFFSET_BASIS)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) -> &mut Self {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(PRIME);
        }
        self
    }

    /// Feeds `bytes` eight at a time (little-endian words, then the tail byte by byte): the
    /// same construction over 64-bit words, eight times fewer multiplications, for hashing whole
    /// pages. Stable across platforms.
    pub(crate) fn write_words(&mut self, bytes: &[u8]) -> &mut Self {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 ^= u64::from_le_bytes(w);
            self.0 = self.0.wrapping_mul(PRIME);
        }
        self.write(chunks.remainder())
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

/// FNV-1a 64 of `bytes`.
#[cfg(test)]
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    Fnv::new().write(bytes).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_vectors() {
        // From the FNV reference test suite (Fowler, Noll, Vo; "FNV-1a 64-bit" column).
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x85944171f73967e8);
        let mut pieces = Fnv::new();
        pieces.write(b"foo").write(b"bar");
        assert_eq!(pieces.finish(), fnv1a(b"foobar"));
    }

    #[test]
    fn word_hashing_is_pinned() {
        // Stored in checkpoints: a change here breaks resuming across versions.
        let h = |b: &[u8]| Fnv::new().write_words(b).finish();
        assert_eq!(h(b"abc"), fnv1a(b"abc"));
        assert_eq!(h(b"0123456789"), 0xc647_91d4_de5a_c544);
        assert_ne!(h(b"01234567"), h(b"01234568"));
    }
}
