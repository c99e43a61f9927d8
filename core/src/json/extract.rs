//! Reading what a page says from its body: one pass, borrowing, no tree built.
//!
//! [`extract`] walks the body once with `serde_json`, descending only into the members that a
//! wanted pointer names and skipping (but still validating) everything else. What it finds are
//! `&RawValue`s: slices of the body, so records reach the caller as byte ranges, never copied.
//! A value that is both wanted and descended into (the items array and a field inside its last
//! element) is re-read from its slice, so each byte is read at most once per level of nesting.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{BodyError, Key, Pointer, elements, parse_index};

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
