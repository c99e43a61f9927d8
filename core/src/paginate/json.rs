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

use super::hash::Hasher;
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

/// One wanted pointer: the tokens still to follow, and where to store what is found
/// ([`ITEMS`]: split into the items).
#[derive(Clone, Copy)]
struct Path<'p> {
    tokens: &'p [String],
    out: usize,
}

/// The `out` of the items path.
const ITEMS: usize = usize::MAX;

/// What an items pointer names.
#[derive(Debug, Clone)]
pub(crate) enum Items<'a> {
    /// Nothing.
    Missing,
    /// Something that is not an array.
    NotArray,
    /// An array: its elements.
    Array(Vec<&'a RawValue>),
}

/// What [`extract_page`] found.
pub(crate) struct Found<'a> {
    /// The items.
    pub(crate) items: Items<'a>,
    /// One slot per pointer asked for.
    pub(crate) values: Vec<Option<&'a RawValue>>,
}

/// Where found values go.
struct Sink<'a> {
    found: Found<'a>,
}

/// Finds the items (split into elements as they are read), if asked, and every pointer in
/// `body`, in one pass. `Ok` means the body is one valid JSON value.
pub(crate) fn extract_page<'a>(
    body: &'a [u8],
    items: Option<&Pointer>,
    pointers: &[&Pointer],
) -> Result<Found<'a>, BodyError> {
    let mut paths: Vec<Path<'_>> = Vec::with_capacity(pointers.len() + 1);
    paths.extend(items.map(|p| Path {
        tokens: p.tokens(),
        out: ITEMS,
    }));
    paths.extend(pointers.iter().enumerate().map(|(out, p)| Path {
        tokens: p.tokens(),
        out,
    }));
    let mut sink = Sink {
        found: Found {
            items: Items::Missing,
            values: vec![None; pointers.len()],
        },
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    Level {
        paths: &paths,
        sink: &mut sink,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(sink.found)
}

/// Finds every pointer in `body` in one pass. `Ok` means the body is one valid JSON value;
/// each slot is `None` when its pointer names nothing.
pub(crate) fn extract<'a>(
    body: &'a [u8],
    pointers: &[&Pointer],
) -> Result<Vec<Option<&'a RawValue>>, BodyError> {
    extract_page(body, None, pointers).map(|f| f.values)
}

/// Finds one pointer inside an already validated value, reading only as far as needed (a
/// record's `/id`, usually its first member, costs a few bytes, not the whole record). Returns
/// the value's text. A skimmer, not a parser: it matches quotes and brackets and trusts the
/// value to be valid JSON, which everything [`extract_page`] returns is; on any surprise it
/// returns `None`, never panics. Inside records the *first* of duplicate keys wins.
pub(crate) fn find<'a>(value: &'a RawValue, pointer: &Pointer) -> Option<&'a str> {
    let text = value.get();
    let b = text.as_bytes();
    // The value is complete: its end is the text's, no need to scan for it.
    let mut start = ws(b, 0);
    let mut end = text.trim_end().len();
    for token in pointer.tokens() {
        (start, end) = child(text, start, token)?;
    }
    text.get(start..end)
}

fn ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The end of the string starting at `b[i] == '"'` (after its closing quote).
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// The end of the value starting at `b[i]`.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// The member `token` of the object, or element `token` of the array, starting at `start`.
fn child(text: &str, start: usize, token: &str) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let (close, index) = match b.get(start)? {
        b'{' => (b'}', None),
        b'[' => (b']', Some(parse_index(token)?)),
        _ => return None,
    };
    let mut i = ws(b, start + 1);
    if b.get(i) == Some(&close) {
        return None;
    }
    let mut n = 0usize;
    loop {
        let hit = match index {
            None => {
                if b.get(i) != Some(&b'"') {
                    return None;
                }
                let key_end = string_end(b, i)?;
                let key = text.get(i..key_end)?;
                i = ws(b, key_end);
                if b.get(i) != Some(&b':') {
                    return None;
                }
                i = ws(b, i + 1);
                key_eq(key, token)
            }
            Some(want) => n == want,
        };
        let end = value_end(b, i)?;
        if hit {
            return Some((i, end));
        }
        n += 1;
        i = ws(b, end);
        if b.get(i) != Some(&b',') {
            return None;
        }
        i = ws(b, i + 1);
    }
}

/// Whether a quoted key is `token` (unescaping only when it has escapes).
fn key_eq(quoted: &str, token: &str) -> bool {
    match quoted.get(1..quoted.len().saturating_sub(1)) {
        Some(inner) if !inner.contains('\\') => inner == token,
        _ => serde_json::from_str::<String>(quoted).is_ok_and(|k| k == token),
    }
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

/// One level of the document, with the paths that go through it.
struct Level<'p, 's, 'a> {
    paths: &'p [Path<'p>],
    sink: &'s mut Sink<'a>,
}

impl<'de> DeserializeSeed<'de> for Level<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.paths.is_empty() {
            <IgnoredAny as de::Deserialize>::deserialize(d)?;
            return Ok(());
        }
        if !self.paths.iter().any(|p| p.tokens.is_empty()) {
            return d.deserialize_any(self);
        }
        if let [only] = self.paths
            && only.out == ITEMS
        {
            // The common case: split the items as they are read, one pass.
            return d.deserialize_any(Elements { sink: self.sink });
        }
        let raw = <&'de RawValue as de::Deserialize<'de>>::deserialize(d)?;
        for p in self.paths.iter().filter(|p| p.tokens.is_empty()) {
            if p.out == ITEMS {
                self.sink.found.items = match elements(raw) {
                    Some(e) => Items::Array(e),
                    None => Items::NotArray,
                };
            } else {
                self.sink.found.values[p.out] = Some(raw);
            }
        }
        let deeper: Vec<Path<'_>> = self
            .paths
            .iter()
            .filter(|p| !p.tokens.is_empty())
            .copied()
            .collect();
        if !deeper.is_empty() {
            let mut sub = serde_json::Deserializer::from_str(raw.get());
            Level {
                paths: &deeper,
                sink: &mut *self.sink,
            }
            .deserialize(&mut sub)
            .map_err(de::Error::custom)?;
        }
        Ok(())
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
                    sink: &mut *self.sink,
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
                    sink: &mut *self.sink,
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

/// The items value: an array's elements, as slices, or "not an array".
struct Elements<'s, 'a> {
    sink: &'s mut Sink<'a>,
}

impl<'de> Visitor<'de> for Elements<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(e) = seq.next_element::<&'de RawValue>()? {
            v.push(e);
        }
        self.sink.found.items = Items::Array(v);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.sink.found.items = Items::NotArray;
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.sink.found.items = Items::NotArray;
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.sink.found.items = Items::NotArray;
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.sink.found.items = Items::NotArray;
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.sink.found.items = Items::NotArray;
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.sink.found.items = Items::NotArray;
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.sink.found.items = Items::NotArray;
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
