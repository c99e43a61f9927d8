//! JSON Pointers (RFC 6901), parsed once into their reference tokens, and setting a value at
//! one ([`set_body`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A JSON Pointer (RFC 6901) such as `/response_metadata/next_cursor` or `/@odata.nextLink`.
///
/// The empty pointer `""` is the whole document (a body that is itself the list). Tokens are
/// unescaped once, at parse time (`~1` is `/`, `~0` is `~`); a token of digits also selects that
/// index in an array. Serialized as its string.
///
/// ```
/// use paceline::paginate::Pointer;
///
/// let p: Pointer = "/data/a~1b".parse().unwrap();
/// assert_eq!(p.tokens(), ["data", "a/b"]);
/// assert!("data".parse::<Pointer>().is_err()); // must start with '/'
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pointer {
    text: String,
    tokens: Vec<String>,
}

/// Why a string is not a JSON Pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PointerError {
    /// A non-empty pointer must start with `/`.
    NoLeadingSlash,
    /// `~` must be followed by `0` or `1`.
    BadEscape,
}

impl fmt::Display for PointerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PointerError::NoLeadingSlash => "a JSON Pointer must be empty or start with '/'",
            PointerError::BadEscape => "in a JSON Pointer, '~' must be followed by '0' or '1'",
        })
    }
}

impl std::error::Error for PointerError {}

impl Pointer {
    /// The pointer to the whole document (`""`).
    pub fn root() -> Self {
        Pointer {
            text: String::new(),
            tokens: Vec::new(),
        }
    }

    /// Parses a pointer.
    pub fn parse(text: &str) -> Result<Self, PointerError> {
        if text.is_empty() {
            return Ok(Pointer::root());
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(PointerError::NoLeadingSlash);
        };
        let mut tokens = Vec::new();
        for raw in rest.split('/') {
            let mut token = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => token.push('~'),
                        Some('1') => token.push('/'),
                        _ => return Err(PointerError::BadEscape),
                    }
                } else {
                    token.push(c);
                }
            }
            tokens.push(token);
        }
        Ok(Pointer {
            text: text.to_owned(),
            tokens,
        })
    }

    /// A pointer from a literal known to be valid.
    ///
    /// # Panics
    /// When `text` is not a JSON Pointer: that is a bug in the calling code, like a bad literal
    /// passed to `HeaderName::from_static`.
    #[track_caller]
    pub fn from_static(text: &'static str) -> Self {
        match Pointer::parse(text) {
            Ok(p) => p,
            Err(e) => panic!("{text:?} is not a JSON Pointer: {e}"),
        }
    }

    /// The pointer as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The unescaped reference tokens.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// Whether this is the root pointer `""`.
    pub fn is_root(&self) -> bool {
        self.tokens.is_empty()
    }

    /// This pointer followed by one more token (escaped as needed).
    pub fn child(&self, token: &str) -> Pointer {
        let mut text = self.text.clone();
        text.push('/');
        text.push_str(&token.replace('~', "~0").replace('/', "~1"));
        let mut tokens = self.tokens.clone();
        tokens.push(token.to_owned());
        Pointer { text, tokens }
    }

    /// This pointer followed by every token of `other`.
    pub fn join(&self, other: &Pointer) -> Pointer {
        Pointer {
            text: format!("{}{}", self.text, other.text),
            tokens: self.tokens.iter().chain(&other.tokens).cloned().collect(),
        }
    }

    /// Looks the pointer up in a parsed document (like `serde_json::Value::pointer`).
    pub fn find<'v>(&self, value: &'v serde_json::Value) -> Option<&'v serde_json::Value> {
        let mut v = value;
        for t in &self.tokens {
            v = match v {
                serde_json::Value::Object(m) => m.get(t)?,
                serde_json::Value::Array(a) => a.get(parse_index(t)?)?,
                _ => return None,
            };
        }
        Some(v)
    }
}

/// An array index token: digits only, no leading zero (RFC 6901 §4).
pub(crate) fn parse_index(token: &str) -> Option<usize> {
    if token.is_empty()
        || !token.bytes().all(|b| b.is_ascii_digit())
        || (token.len() > 1 && token.starts_with('0'))
    {
        return None;
    }
    token.parse().ok()
}

/// Sets `value` at `pointer` in `body`, creating objects on the way. Fails when the way goes
/// through a scalar or past the end of an array.
pub(crate) fn set_body(body: &mut Value, pointer: &Pointer, value: Value) -> Result<(), ()> {
    let mut at = body;
    for token in pointer.tokens() {
        if at.is_null() {
            *at = Value::Object(serde_json::Map::new());
        }
        at = match at {
            Value::Object(m) => m.entry(token.clone()).or_insert(Value::Null),
            Value::Array(a) => parse_index(token).and_then(|i| a.get_mut(i)).ok_or(())?,
            _ => return Err(()),
        };
    }
    *at = value;
    Ok(())
}

impl fmt::Debug for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Pointer {
    type Err = PointerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pointer::parse(s)
    }
}

impl Serialize for Pointer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Pointer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Pointer::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6901_examples() {
        // RFC 6901 §5.
        let doc = serde_json::json!({
            "foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3,
            "g|h": 4, "i\\j": 5, "k\"l": 6, " ": 7, "m~n": 8
        });
        let at = |p: &str| Pointer::parse(p).unwrap().find(&doc).cloned();
        assert_eq!(at(""), Some(doc.clone()));
        assert_eq!(at("/foo/0"), Some("bar".into()));
        assert_eq!(at("/"), Some(0.into()));
        assert_eq!(at("/a~1b"), Some(1.into()));
        assert_eq!(at("/m~0n"), Some(8.into()));
        assert_eq!(at("/ "), Some(7.into()));
        assert_eq!(at("/foo/01"), None);
    }

    #[test]
    fn rejects_bad_pointers() {
        assert_eq!(Pointer::parse("a"), Err(PointerError::NoLeadingSlash));
        assert_eq!(Pointer::parse("/a~2"), Err(PointerError::BadEscape));
        assert_eq!(Pointer::parse("/a~"), Err(PointerError::BadEscape));
    }

    #[test]
    fn child_and_join_escape() {
        let p = Pointer::from_static("/data").child("a/b~");
        assert_eq!(p.as_str(), "/data/a~1b~0");
        assert_eq!(Pointer::parse(p.as_str()).unwrap(), p);
        let j = p.join(&Pointer::from_static("/x"));
        assert_eq!(j.tokens(), ["data", "a/b~", "x"]);
    }

    #[test]
    fn set_body_creates_the_way() {
        let mut b = serde_json::json!({"query": "q"});
        set_body(
            &mut b,
            &Pointer::from_static("/variables/after"),
            "c1".into(),
        )
        .unwrap();
        assert_eq!(
            b,
            serde_json::json!({"query": "q", "variables": {"after": "c1"}})
        );
        let mut s = serde_json::json!({"a": 1});
        assert!(set_body(&mut s, &Pointer::from_static("/a/b"), Value::Null).is_err());
    }
}
