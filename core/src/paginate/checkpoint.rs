//! Checkpoints: [`Checkpoint`], [`Position`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::end::{Drift, EndReason};
use super::error::CheckpointError;
use super::hash::Hasher;
use super::spec::{PageSpec, StyleKind};
use super::walk::Probing;

/// Where the next request starts. Cursors, page tokens and Relay end cursors are all
/// [`Position::Cursor`]; keyset and `search_after` values are [`Position::After`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "at", content = "value", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Position {
    /// The first page.
    Start,
    /// An offset.
    Offset(u64),
    /// A page number.
    Page(u64),
    /// A cursor or token.
    Cursor(String),
    /// An absolute URL.
    Url(String),
    /// Keyset or `search_after` values, one per key parameter.
    After(Vec<Value>),
    /// A cursor that is a JSON object or array, sent back whole (DynamoDB's
    /// `LastEvaluatedKey` as `ExclusiveStartKey`).
    Value(Value),
    /// Nothing left.
    End,
}

impl Position {
    /// A hash identifying this position among those a walk has used (cursors, URLs and keys
    /// only: offsets and pages never repeat).
    pub(crate) fn repeat_hash(&self) -> Option<u128> {
        let mut h = Hasher::new();
        match self {
            Position::Cursor(c) => h.write(b"c").write(c.as_bytes()),
            Position::Url(u) => h.write(b"u").write(u.as_bytes()),
            Position::After(v) => h
                .write(b"a")
                .write(Value::from(v.clone()).to_string().as_bytes()),
            Position::Value(v) => h.write(b"v").write(v.to_string().as_bytes()),
            _ => return None,
        };
        Some(h.finish())
    }
}

/// The checkpoint format version this build writes. It also reads version 1 (written before
/// hashes became 128-bit SipHash): its position and counters resume as they are, its template
/// fingerprint is checked the old way, and one that carries record-key hashes (a de-duplicating
/// walk, or records held past a crash) is refused with [`CheckpointError::Outdated`], never
/// misread.
pub const CHECKPOINT_VERSION: u32 = 2;

/// A walk's progress, taken with [`super::Walk::checkpoint`] after a page's records were
/// delivered, and given to [`super::Walk::resume`]: a small versioned record that survives a
/// crash.
///
/// The order that makes a crash safe: **deliver the page's records, then persist the
/// checkpoint** (adapters write it atomically: temp file, fsync, rename). A crash before the
/// write re-delivers at most that one page on resume; a crash after it re-delivers nothing.
/// With [`super::PageSpec::dedupe`], a resumed walk also filters the records an offset shift
/// brings back, for the last [`super::Guards::resume_window`] keys.
///
/// What a checkpoint holds: the version, the style, the next position (offset, page, cursor or
/// token, URL, keyset or `search_after` values), pages, items and records done, the last
/// record's key, the first and last `total` seen, the guards' state (the last page's hash, the
/// run of empty pages), the request template's fingerprint
/// ([`super::RequestTemplate::fingerprint`]), the recent key hashes (de-duplicating walks only),
/// the hashes of records the consumer already holds that the walk has not reached yet
/// ([`super::Walk::already_delivered`], at most [`Checkpoint::MAX_HELD`]) and, for
/// auto-detected walks, the detected spec. Never a header value: no secrets.
///
/// ```
/// use paceline::paginate::Checkpoint;
///
/// let err = Checkpoint::from_bytes(br#"{"version": 99}"#).unwrap_err();
/// assert_eq!(err.to_string(), "unknown checkpoint version 99");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Checkpoint {
    pub(crate) version: u32,
    pub(crate) style: StyleKind,
    pub(crate) next: Position,
    pub(crate) pages: u64,
    pub(crate) records: u64,
    /// Items received, duplicates included.
    #[serde(default)]
    pub(crate) items: u64,
    /// Consecutive empty pages at the end so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) empty_streak: u32,
    /// Pages in a row identical to the one before (the repeated-page guard).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) repeats: u32,
    /// The hash of the last non-empty page's items (the repeated-page guard).
    #[serde(default, with = "hex_opt", skip_serializing_if = "Option::is_none")]
    pub(crate) last_page: Option<u128>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) first_total: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_total: Option<u64>,
    #[serde(with = "hex_u64")]
    pub(crate) fingerprint: u64,
    /// The fingerprint is version 1's (FNV-1a 64): a version 1 checkpoint read by this build.
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) legacy_fingerprint: bool,
    #[serde(default, with = "hex_keys", skip_serializing_if = "Vec::is_empty")]
    pub(crate) recent_keys: Vec<u128>,
    /// Keys the consumer held past an earlier checkpoint that the walk has not come to yet
    /// ([`super::Walk::already_delivered`]): still to be dropped when they come.
    #[serde(default, with = "hex_keys", skip_serializing_if = "Vec::is_empty")]
    pub(crate) held_keys: Vec<u128>,
    /// The page size the server uses (the first page's length), once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cap: Option<u64>,
    /// A guessed parameter being checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) probe: Option<Probing>,
    /// What an offset or page walk saw of its list changing.
    #[serde(default, skip_serializing_if = "Drift::is_empty")]
    pub(crate) drift: Drift,
    /// Why the walk ended, once it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) end: Option<EndReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) spec: Option<PageSpec>,
}

impl Checkpoint {
    /// The longest checkpoint [`Checkpoint::from_bytes`] accepts: 1 MiB.
    pub const MAX_LEN: usize = 1 << 20;

    /// The most keys of records already held ([`super::Walk::already_delivered`]) a
    /// checkpoint carries (32 hex digits each in its JSON); past it a record could be delivered
    /// twice after a second crash, never lost.
    pub const MAX_HELD: usize = 16_384;

    /// Decodes a checkpoint. A parser: any bytes give a checkpoint or a typed error, never a
    /// panic. The version is read first, so a checkpoint from a newer build is reported as
    /// [`CheckpointError::UnknownVersion`], not as garbage.
    pub fn from_bytes(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
        if bytes.len() > Self::MAX_LEN {
            return Err(CheckpointError::TooLarge {
                len: bytes.len(),
                max: Self::MAX_LEN,
            });
        }
        #[derive(Deserialize)]
        struct Peek {
            version: u32,
        }
        let peek: Peek =
            serde_json::from_slice(bytes).map_err(|_| CheckpointError::NotACheckpoint)?;
        match peek.version {
            CHECKPOINT_VERSION => {
                serde_json::from_slice(bytes).map_err(|e| CheckpointError::Invalid(e.to_string()))
            }
            1 => Self::from_version_1(bytes),
            v => Err(CheckpointError::UnknownVersion(v)),
        }
    }

    /// Reads a version 1 checkpoint: the same fields, with 64-bit FNV hashes. The page hash
    /// is dropped (the repeated-page guard starts afresh), the fingerprint is kept and marked
    /// as the old kind; record-key hashes cannot be carried over.
    fn from_version_1(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let mut v: serde_json::Map<String, Value> =
            serde_json::from_slice(bytes).map_err(|e| CheckpointError::Invalid(e.to_string()))?;
        for field in ["recent_keys", "held_keys"] {
            if v.get(field)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
            {
                return Err(CheckpointError::Outdated {
                    version: 1,
                    why: "it holds hashes of record keys, which this version computes \
                          differently (128-bit SipHash, not FNV); start over without \
                          resuming, or finish the run with the paceline that wrote it",
                });
            }
        }
        v.remove("last_page");
        v.insert("version".into(), CHECKPOINT_VERSION.into());
        v.insert("legacy_fingerprint".into(), true.into());
        serde_json::from_value(Value::Object(v))
            .map_err(|e| CheckpointError::Invalid(e.to_string()))
    }

    /// Encodes the checkpoint as compact JSON (deterministic: same checkpoint, same bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        // Only strings, numbers and derived structs: serializing cannot fail.
        serde_json::to_vec(self).expect("a checkpoint always serializes")
    }

    /// The format version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The style in use when it was taken.
    pub fn style(&self) -> StyleKind {
        self.style
    }

    /// Where the next request starts.
    pub fn next(&self) -> &Position {
        &self.next
    }

    /// Whether the walk had reached the end of the list.
    pub fn is_complete(&self) -> bool {
        self.next == Position::End
    }

    /// Pages received.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Records delivered.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The key of the last record delivered, when the spec names one (at most 256 bytes).
    pub fn last_key(&self) -> Option<&str> {
        self.last_key.as_deref()
    }

    /// The `total` the first page reported.
    pub fn first_total(&self) -> Option<u64> {
        self.first_total
    }

    /// The request template's fingerprint.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The spec an auto-detected walk chose.
    pub fn detected_spec(&self) -> Option<&PageSpec> {
        self.spec.as_ref()
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// An optional `u128` as 32 lower-case hex digits.
mod hex_opt {
    use super::*;

    pub(super) fn serialize<S: Serializer>(v: &Option<u128>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&format!("{v:032x}")),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u128>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::hex_keys::parse(&s)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("expected 32 hex digits"))
    }
}

/// A `u64` as 16 lower-case hex digits.
mod hex_u64 {
    use super::*;

    pub(super) fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:016x}"))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse(&s).ok_or_else(|| serde::de::Error::custom("expected 16 hex digits"))
    }

    pub(super) fn parse(s: &str) -> Option<u64> {
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(s, 16).ok()
    }
}

/// Key hashes as one string of 32 hex digits each: compact, and one value to validate.
pub(crate) mod hex_keys {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &[u128], s: S) -> Result<S::Ok, S::Error> {
        let mut out = String::with_capacity(v.len() * 32);
        for k in v {
            out.push_str(&format!("{k:032x}"));
        }
        s.serialize_str(&out)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u128>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if s.len() % 32 != 0 || !s.is_ascii() {
            return Err(serde::de::Error::custom("expected groups of 32 hex digits"));
        }
        (0..s.len() / 32)
            .map(|i| {
                parse(&s[i * 32..i * 32 + 32])
                    .ok_or_else(|| serde::de::Error::custom("expected hex digits"))
            })
            .collect()
    }

    pub(super) fn parse(s: &str) -> Option<u128> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u128::from_str_radix(s, 16).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            version: 2,
            style: StyleKind::Offset,
            next: Position::Offset(200),
            pages: 2,
            records: 198,
            items: 200,
            empty_streak: 0,
            last_page: Some(0xfeed),
            last_key: Some("rec-199".into()),
            first_total: Some(1000),
            last_total: Some(1003),
            fingerprint: 0x0123_4567_89ab_cdef,
            legacy_fingerprint: false,
            recent_keys: vec![1, u128::MAX],
            repeats: 0,
            held_keys: Vec::new(),
            cap: None,
            probe: None,
            drift: Drift::default(),
            end: None,
            spec: None,
        }
    }

    #[test]
    fn round_trip_and_format() {
        let cp = sample();
        let bytes = cp.to_bytes();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"version":2,"style":"offset","next":{"at":"offset","value":200},"pages":2,"records":198,"items":200,"last_page":"0000000000000000000000000000feed","last_key":"rec-199","first_total":1000,"last_total":1003,"fingerprint":"0123456789abcdef","recent_keys":"00000000000000000000000000000001ffffffffffffffffffffffffffffffff"}"#
        );
        assert_eq!(Checkpoint::from_bytes(&bytes).unwrap(), cp);
    }

    #[test]
    fn version_1_checkpoints_resume_or_are_refused() {
        let v1 = br#"{"version":1,"style":"offset","next":{"at":"offset","value":200},"pages":2,"records":198,"items":200,"last_page":"000000000000feed","fingerprint":"0123456789abcdef"}"#;
        let cp = Checkpoint::from_bytes(v1).unwrap();
        assert!(cp.legacy_fingerprint);
        assert_eq!(
            (cp.version, &cp.next, cp.last_page, cp.records),
            (2, &Position::Offset(200), None, 198)
        );
        // Written again, it says which fingerprint it holds.
        assert_eq!(Checkpoint::from_bytes(&cp.to_bytes()).unwrap(), cp);
        let with_keys = String::from_utf8(v1.to_vec()).unwrap().replace(
            r#""fingerprint""#,
            r#""recent_keys":"0000000000000001","fingerprint""#,
        );
        let err = Checkpoint::from_bytes(with_keys.as_bytes()).unwrap_err();
        assert!(matches!(err, CheckpointError::Outdated { version: 1, .. }));
        assert!(err.to_string().contains("start over"), "{err}");
    }

    #[test]
    fn hostile_bytes_are_typed_errors() {
        assert_eq!(
            Checkpoint::from_bytes(b"\xff\x00"),
            Err(CheckpointError::NotACheckpoint)
        );
        assert_eq!(
            Checkpoint::from_bytes(b"{}"),
            Err(CheckpointError::NotACheckpoint)
        );
        assert_eq!(
            Checkpoint::from_bytes(br#"{"version":3}"#),
            Err(CheckpointError::UnknownVersion(3))
        );
        assert!(matches!(
            Checkpoint::from_bytes(br#"{"version":2}"#),
            Err(CheckpointError::Invalid(_))
        ));
        assert!(matches!(
            Checkpoint::from_bytes(br#"{"version":1}"#),
            Err(CheckpointError::Invalid(_))
        ));
        let bad_hex = String::from_utf8(sample().to_bytes())
            .unwrap()
            .replace("0123456789abcdef", "0123456789abcdeg");
        assert!(matches!(
            Checkpoint::from_bytes(bad_hex.as_bytes()),
            Err(CheckpointError::Invalid(_))
        ));
        let odd_keys = String::from_utf8(sample().to_bytes())
            .unwrap()
            .replace("ffffffffffffffff\"", "fffffffffffffff\"");
        assert!(matches!(
            Checkpoint::from_bytes(odd_keys.as_bytes()),
            Err(CheckpointError::Invalid(_))
        ));
        let big = vec![b' '; Checkpoint::MAX_LEN + 1];
        assert!(matches!(
            Checkpoint::from_bytes(&big),
            Err(CheckpointError::TooLarge { .. })
        ));
    }
}
