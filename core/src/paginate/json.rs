//! Reading what a page says from its body: one pass, borrowing, no tree built.
//!
//! [`extract`] walks the body once with `serde_json`, descending only into the members that a
//! wanted pointer names and skipping (but still validating) everything else. What it finds are
//! `&RawValue`s: slices of the body, so records reach the caller as byte ranges, never copied.
//! A value that is both wanted and descended into (the items array and a field inside its last
//! element) is re-read from its slice, so each byte is read at most once per level of nesting.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::fnv::Fnv;
use super::pointer::{Pointer, parse_index};

/// Why a response body is not a JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// The body ended in the middle of a value: a truncated response. Re-sending the request
    /// may help.
    Truncated,
    /// Not JSON (or JSON followed by something else), first wrong at this line and column.
    Invalid {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Truncated => f.write_str("body is truncated JSON"),
            BodyError::Invalid { line, column } => {
                write!(f, "body is not JSON (line {line}, column {column})")
            }
        }
    }
}

impl std::error::Error for BodyError {}

impl From<serde_json::Error> for BodyError {
    fn from(e: serde_json::Error) -> Self {
        if e.is_eof() {
            BodyError::Truncated
        } else {
            BodyError::Invalid {
                line: e.line(),
                column: e.column(),
            }
        }
    }
}

/// One wanted pointer: the tokens still to follow, and where to store what is found.
#[derive(Clone, Copy)]
struct Path<'p> {
    tokens: &'p [String],
    out: usize,
}

/// Finds every pointer in `body` in one pass. `Ok` means the body is one valid JSON value;
/// each slot is `None` when its pointer names nothing.
pub(crate) fn extract<'a>(
    body: &'a [u8],
    pointers: &[&Pointer],
) -> Result<Vec<Option<&'a RawValue>>, BodyError> {
    let mut out = vec![None; pointers.len()];
    let paths: Vec<Path<'_>> = pointers
        .iter()
        .enumerate()
        .map(|(out, p)| Path {
            tokens: p.tokens(),
            out,
        })
        .collect();
    let mut de = serde_json::Deserializer::from_slice(body);
    Level {
        paths: &paths,
        out: &mut out,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(out)
}

/// Finds one pointer inside an already validated value.
pub(crate) fn find<'a>(value: &'a RawValue, pointer: &Pointer) -> Option<&'a RawValue> {
    if pointer.is_root() {
        return Some(value);
    }
    let mut out = [None];
    let paths = [Path {
        tokens: pointer.tokens(),
        out: 0,
    }];
    let mut de = serde_json::Deserializer::from_str(value.get());
    Level {
        paths: &paths,
        out: &mut out,
    }
    .deserialize(&mut de)
    .ok()?;
    out[0]
}

/// The elements of a JSON array, or `None` when the value is not an array.
pub(crate) fn elements(value: &RawValue) -> Option<Vec<&RawValue>> {
    if !value.get().starts_with('[') {
        return None;
    }
    serde_json::from_str(value.get()).ok()
}

/// Where `value` lies in `body`. `value` must borrow from `body` (everything [`extract`]
/// returns does).
pub(crate) fn range_in(body: &[u8], value: &RawValue) -> Range<usize> {
    let start = value
        .get()
        .as_ptr()
        .addr()
        .wrapping_sub(body.as_ptr().addr());
    debug_assert!(start <= body.len(), "value not inside the body");
    start..start + value.get().len()
}

/// A JSON scalar as the walk uses it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    /// A number, as written.
    Number(&'a str),
    /// A string, unescaped (borrowed when it had no escapes).
    Str(Cow<'a, str>),
    /// An object or array.
    Composite(&'a str),
}

/// Reads a value as a [`Scalar`]. The value was validated when it was found.
pub(crate) fn scalar(value: &RawValue) -> Scalar<'_> {
    let text = value.get().trim();
    match text.as_bytes().first() {
        Some(b'"') => match serde_json::from_str::<Key<'_>>(text) {
            Ok(k) => Scalar::Str(k.0),
            Err(_) => Scalar::Composite(text),
        },
        Some(b'n') => Scalar::Null,
        Some(b't') => Scalar::Bool(true),
        Some(b'f') => Scalar::Bool(false),
        Some(b'{' | b'[') | None => Scalar::Composite(text),
        Some(_) => Scalar::Number(text),
    }
}

/// A record key's hash: the same key written the same way hashes the same (`"7"` and `7` are
/// different keys; so are `1` and `1.0`). `null` is no key.
pub(crate) fn key_hash(value: &RawValue) -> Option<u64> {
    let mut h = Fnv::new();
    match scalar(value) {
        Scalar::Null => return None,
        Scalar::Bool(b) => h.write(if b { b"b1" } else { b"b0" }),
        Scalar::Number(n) => h.write(b"n").write(n.as_bytes()),
        Scalar::Str(s) => h.write(b"s").write(s.as_bytes()),
        Scalar::Composite(c) => h.write(b"j").write(c.as_bytes()),
    };
    Some(h.finish())
}

/// A map key or string, borrowed from the input when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// One level of the document, with the paths that go through it.
struct Level<'p, 'o, 'a> {
    paths: &'p [Path<'p>],
    out: &'o mut [Option<&'a RawValue>],
}

impl<'de> DeserializeSeed<'de> for Level<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.paths.is_empty() {
            <IgnoredAny as de::Deserialize>::deserialize(d)?;
            return Ok(());
        }
        if self.paths.iter().any(|p| p.tokens.is_empty()) {
            let raw = <&'de RawValue as de::Deserialize<'de>>::deserialize(d)?;
            let deeper: Vec<Path<'_>> = self
                .paths
                .iter()
                .filter(|p| !p.tokens.is_empty())
                .copied()
                .collect();
            for p in self.paths.iter().filter(|p| p.tokens.is_empty()) {
                self.out[p.out] = Some(raw);
            }
            if !deeper.is_empty() {
                let mut sub = serde_json::Deserializer::from_str(raw.get());
                Level {
                    paths: &deeper,
                    out: self.out,
                }
                .deserialize(&mut sub)
                .map_err(de::Error::custom)?;
            }
            return Ok(());
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Level<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut sub = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            sub.clear();
            sub.extend(
                self.paths
                    .iter()
                    .filter(|p| p.tokens[0] == *key.0)
                    .map(|p| Path {
                        tokens: &p.tokens[1..],
                        out: p.out,
                    }),
            );
            if sub.is_empty() {
                map.next_value::<IgnoredAny>()?;
            } else {
                map.next_value_seed(Level {
                    paths: &sub,
                    out: &mut *self.out,
                })?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut sub = Vec::new();
        let mut index = 0usize;
        loop {
            sub.clear();
            sub.extend(
                self.paths
                    .iter()
                    .filter(|p| parse_index(&p.tokens[0]) == Some(index))
                    .map(|p| Path {
                        tokens: &p.tokens[1..],
                        out: p.out,
                    }),
            );
            let more = if sub.is_empty() {
                seq.next_element::<IgnoredAny>()?.is_some()
            } else {
                seq.next_element_seed(Level {
                    paths: &sub,
                    out: &mut *self.out,
                })?
                .is_some()
            };
            if !more {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pointer {
        Pointer::parse(s).unwrap()
    }

    #[test]
    fn finds_several_pointers_in_one_pass() {
        let body = br#"{"data":[{"id":1},{"id":"x\"y"}],"meta":{"next":"c2","n":[5,6]},"skip":{"deep":[1,2,{"a":null}]}}"#;
        let ptrs = [
            p("/data"),
            p("/meta/next"),
            p("/meta/n/1"),
            p("/none"),
            p("/data/1/id"),
        ];
        let refs: Vec<&Pointer> = ptrs.iter().collect();
        let found = extract(body, &refs).unwrap();
        assert_eq!(found[0].unwrap().get(), r#"[{"id":1},{"id":"x\"y"}]"#);
        assert_eq!(found[1].unwrap().get(), r#""c2""#);
        assert_eq!(found[2].unwrap().get(), "6");
        assert!(found[3].is_none());
        assert_eq!(scalar(found[4].unwrap()), Scalar::Str("x\"y".into()));
        let items = elements(found[0].unwrap()).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(&body[range_in(body, items[1])], br#"{"id":"x\"y"}"#);
    }

    #[test]
    fn root_pointer_and_whitespace() {
        let body = b" [ 1 , {\"a\" : 2} ] \n";
        let root = Pointer::root();
        let found = extract(body, &[&root]).unwrap();
        let items = elements(found[0].unwrap()).unwrap();
        assert_eq!(&body[range_in(body, items[1])], b"{\"a\" : 2}");
    }

    #[test]
    fn bad_bodies_are_typed() {
        let root = Pointer::root();
        assert_eq!(
            extract(b"{\"a\":[1,2", &[&root]).err(),
            Some(BodyError::Truncated)
        );
        assert_eq!(extract(b"", &[&root]).err(), Some(BodyError::Truncated));
        assert!(matches!(
            extract(b"{} x", &[&root]),
            Err(BodyError::Invalid { .. })
        ));
        assert!(matches!(
            extract(b"<html>", &[]),
            Err(BodyError::Invalid { .. })
        ));
        // Skipped parts are validated too.
        assert!(matches!(
            extract(b"{\"skip\":[1,,2],\"a\":1}", &[&p("/a")]),
            Err(BodyError::Invalid { .. })
        ));
    }

    #[test]
    fn escaped_keys_and_duplicate_keys() {
        let body = br#"{"n\u0065xt":"a","next":"b"}"#;
        let found = extract(body, &[&p("/next")]).unwrap();
        // Last one wins, as in serde_json::Value.
        assert_eq!(found[0].unwrap().get(), r#""b""#);
    }

    #[test]
    fn key_hashes() {
        let v = |s: &str| serde_json::from_str::<Box<RawValue>>(s).unwrap();
        assert_eq!(key_hash(&v(r#""ab""#)), key_hash(&v(r#""a\u0062""#)));
        assert_ne!(key_hash(&v("7")), key_hash(&v(r#""7""#)));
        assert_eq!(key_hash(&v("null")), None);
    }
}
