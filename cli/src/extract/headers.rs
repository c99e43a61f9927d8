//! `-H 'Name: value'`: request headers, with `$VAR` and `${VAR}` taken from the environment.
//!
//! The expansion is ours, not a shell's: `-H 'Authorization: Bearer $TOKEN'` in single quotes
//! keeps the secret out of the shell history and the process list, and the value read from the
//! environment is marked sensitive and never printed, logged, or written to a checkpoint (a
//! checkpoint's fingerprint covers the method, URL and body only).

use http::{HeaderName, HeaderValue};

/// One `-H` argument, parsed.
#[derive(Debug)]
pub struct Header {
    pub name: HeaderName,
    pub value: HeaderValue,
    /// Whether part of the value came from the environment (then it is a credential: never sent
    /// to another origin).
    pub from_env: bool,
}

/// Parses `Name: value`, expanding `$VAR` / `${VAR}` in the value from `env`.
///
/// Errors name the header and the variable, never the value.
pub fn parse(arg: &str, env: impl Fn(&str) -> Option<String>) -> Result<Header, String> {
    let (name, value) = arg
        .split_once(':')
        .ok_or_else(|| format!("-H {arg:?}: expected 'Name: value'"))?;
    let name = name.trim();
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("-H: {name:?} is not a header name"))?;
    let (expanded, from_env) = expand(value.trim(), &env)
        .map_err(|var| format!("-H {name}: ${var} is not set in the environment"))?;
    let mut value = HeaderValue::from_str(&expanded)
        .map_err(|_| format!("-H {name}: the value is not a valid header value"))?;
    if from_env {
        value.set_sensitive(true);
    }
    Ok(Header {
        name,
        value,
        from_env,
    })
}

/// Expands `$VAR` and `${VAR}` (names of ASCII letters, digits and `_`); a `$` followed by
/// anything else stays as it is. Returns the text and whether anything was expanded, or the
/// name of a variable that is not set.
fn expand(text: &str, env: &impl Fn(&str) -> Option<String>) -> Result<(String, bool), String> {
    let mut out = String::with_capacity(text.len());
    let mut expanded = false;
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, tail) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) if is_name(&inner[..end]) => (&inner[..end], &inner[end + 1..]),
                _ => ("", after),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            out.push('$');
            rest = after;
            continue;
        }
        out.push_str(&env(name).ok_or_else(|| name.to_owned())?);
        expanded = true;
        rest = tail;
    }
    out.push_str(rest);
    Ok((out, expanded))
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cret".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_both_forms() {
        let h = parse("Authorization: Bearer $TOKEN", env).unwrap();
        assert_eq!(h.name, "authorization");
        assert_eq!(h.value, "Bearer s3cret");
        assert!(h.from_env && h.value.is_sensitive());
        let h = parse("X-Key: a${TOKEN}b$EMPTY", env).unwrap();
        assert_eq!(h.value, "as3cretb");
    }

    #[test]
    fn leaves_other_dollars_alone() {
        let h = parse("X-Price: $5 and $ and ${} and ${A-B}", env).unwrap();
        assert_eq!(h.value, "$5 and $ and ${} and ${A-B}");
        assert!(!h.from_env && !h.value.is_sensitive());
    }

    #[test]
    fn errors_name_the_variable_not_the_value() {
        let e = parse("Authorization: Bearer $NOPE", env).unwrap_err();
        assert_eq!(e, "-H authorization: $NOPE is not set in the environment");
        assert!(parse("no colon", env).is_err());
        assert!(parse("bad name: x", env).is_err());
        let e = parse("X-Key: $TOKEN\n", |_| Some("a\nb".into())).unwrap_err();
        assert!(!e.contains("a\nb"));
    }
}
