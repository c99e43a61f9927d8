//! Finding one pointer inside a value already validated, by skimming its text: quotes and
//! brackets matched, nothing parsed that the pointer does not go through.

use serde_json::value::RawValue;

use super::{Pointer, parse_index};

/// Finds one pointer inside an already validated value, reading only as far as needed (a
/// record's `/id`, usually its first member, costs a few bytes, not the whole record). Returns
/// the value's text. A skimmer, not a parser: it matches quotes and brackets and trusts the
/// value to be valid JSON, which everything [`extract_page`](super::extract_page) returns is;
/// on any surprise it returns `None`, never panics. Inside records the *first* of duplicate
/// keys wins.
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
