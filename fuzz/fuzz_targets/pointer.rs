//! `Pointer::parse` (RFC 6901 JSON Pointers, as specs and flags give them) and `Source::parse`
//! (`header:NAME` or a pointer) on any text: `Ok` or `Err`, never a panic. An accepted pointer
//! prints back (`as_str`) to text that parses to an equal pointer, and its tokens rebuild it;
//! an accepted source prints back (`Display`) to an equal source.
//!
//! Differential: an accepted pointer finds in a document exactly what `serde_json`'s own
//! `Value::pointer` finds with the same text.
//!
//! Input: `pointer \0 JSON document` (without a document, a fixed one).
#![no_main]

use libfuzzer_sys::fuzz_target;
use paceline::paginate::{Pointer, Source};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |&b| b == 0);
    let Ok(text) = std::str::from_utf8(parts.next().unwrap_or_default()) else {
        return;
    };
    let doc = match parts.next() {
        Some(json) => match serde_json::from_slice::<Value>(json) {
            Ok(doc) => doc,
            Err(_) => return,
        },
        None => serde_json::json!({
            "a": [{"b": 1}, {"~": {"/": null}}],
            "": {"0": [0, 1, 2]},
            "data": {"items": [1, 2, 3], "next": "c2"}
        }),
    };
    if let Ok(p) = Pointer::parse(text) {
        assert_eq!(Pointer::parse(p.as_str()).as_ref(), Ok(&p));
        let rebuilt = p
            .tokens()
            .iter()
            .fold(Pointer::root(), |acc, t| acc.child(t));
        assert_eq!(rebuilt.tokens(), p.tokens());
        assert_eq!(p.find(&doc), doc.pointer(text), "{text:?}");
    }
    if let Ok(s) = Source::parse(text) {
        assert_eq!(Source::parse(&s.to_string()), Ok(s));
    }
});
