//! JSON utilities, crate-private: [`Pointer`]s (RFC 6901) and setting a value at one
//! ([`set_body`]), the one-pass reader that finds pointers in a body without building a tree
//! ([`extract_page`]), the skimmer that finds one inside a value already read ([`find`]), and
//! reading scalars and record keys ([`scalar`], [`key_hash`]).

mod extract;
pub(crate) mod pointer;
mod skim;

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserializer, Visitor};
use serde_json::value::RawValue;

pub(crate) use extract::{Items, extract, extract_page};
pub use pointer::{Pointer, PointerError};
pub(crate) use pointer::{parse_index, set_body};
pub(crate) use skim::find;

use crate::paginate::hash::Hasher;

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

/// The elements of a JSON array, or `None` when the value is not an array.
pub(crate) fn elements(value: &RawValue) -> Option<Vec<&RawValue>> {
    if !value.get().starts_with('[') {
        return None;
    }
    serde_json::from_str(value.get()).ok()
}

/// Where `value` lies in `body`. `value` must borrow from `body` (everything
/// [`extract`](fn@extract) returns does).
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

/// Reads a value's text as a [`Scalar`]. The value was validated when it was found.
pub(crate) fn scalar(text: &str) -> Scalar<'_> {
    let text = text.trim();
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
pub(crate) fn key_hash(value: &str) -> Option<u128> {
    let mut h = Hasher::new();
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
        assert_eq!(scalar(found[4].unwrap().get()), Scalar::Str("x\"y".into()));
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
        assert_eq!(key_hash(r#""ab""#), key_hash(r#""a\u0062""#));
        assert_ne!(key_hash("7"), key_hash(r#""7""#));
        assert_eq!(key_hash("null"), None);
    }

    #[test]
    fn the_skimmer_finds_what_the_parser_finds() {
        let doc = r#" { "a" : [ 1 , { "b\"]" : "x}\\" , "id" : -1.5e3 } ] , "a2" : {"c": [[], {}, "d"]},
            "n\u0061me": true, "id": "first", "id": "second" } "#;
        let raw: Box<RawValue> = serde_json::from_str(doc).unwrap();
        let f = |ptr: &str| find(&raw, &p(ptr));
        assert_eq!(f("/a/1/id"), Some("-1.5e3"));
        assert_eq!(f("/a/1/b\"]"), Some(r#""x}\\""#));
        assert_eq!(f("/a2/c/2"), Some(r#""d""#));
        assert_eq!(f("/a2/c/1"), Some("{}"));
        assert_eq!(f("/name"), Some("true"), "escaped keys are unescaped");
        assert_eq!(
            f("/id"),
            Some(r#""first""#),
            "first duplicate wins inside records"
        );
        assert_eq!(f("/a/2"), None);
        assert_eq!(f("/a/01"), None);
        assert_eq!(f("/a2/c/0/x"), None);
        assert_eq!(f("/missing"), None);
        assert_eq!(f("").map(str::trim), Some(doc.trim()));
        // Agrees with serde_json on every member of a real record.
        let rec: Box<RawValue> = serde_json::from_str(
            r#"{"id":"cus_1","metadata":{"k":[1,{"z":"}"}]},"email":null,"n":0}"#,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(rec.get()).unwrap();
        for ptr in ["/id", "/metadata", "/metadata/k/1/z", "/email", "/n"] {
            let ours: serde_json::Value =
                serde_json::from_str(find(&rec, &p(ptr)).unwrap()).unwrap();
            assert_eq!(Some(&ours), v.pointer(ptr), "{ptr}");
        }
    }
}
