//! The `Link` header field (RFC 8288): [`parse_link`], [`resolve_link`].

use std::borrow::Cow;
use std::fmt;

use http::HeaderMap;
use http::header::LINK;
use url::Url;

/// One link-value: a target and its parameters, borrowed from the field value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link<'a> {
    target: &'a str,
    params: Vec<(&'a str, Cow<'a, str>)>,
}

impl<'a> Link<'a> {
    /// The target URI reference, as written between `<` and `>` (not yet resolved).
    pub fn target(&self) -> &'a str {
        self.target
    }

    /// Every parameter in order: name as written, value unquoted and unescaped (empty for a
    /// parameter with no value).
    pub fn params(&self) -> &[(&'a str, Cow<'a, str>)] {
        &self.params
    }

    /// The first parameter with this name (compared case-insensitively, RFC 8288 §3).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// The relation types of the first `rel` parameter (later ones are ignored, §3.3).
    pub fn rels(&self) -> impl Iterator<Item = &str> {
        self.param("rel").unwrap_or("").split_ascii_whitespace()
    }

    /// Whether `rel` is one of this link's relation types (case-insensitively, §2.1.1).
    pub fn has_rel(&self, rel: &str) -> bool {
        self.rels().any(|r| r.eq_ignore_ascii_case(rel))
    }

    /// The `anchor` parameter: when present, the link is about that resource, not this one.
    pub fn anchor(&self) -> Option<&str> {
        self.param("anchor")
    }
}

/// Why a `Link` field value could not be parsed. `at` is a byte offset in the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkError {
    /// Expected `<` to start a link-value.
    ExpectedTarget {
        /// Offset.
        at: usize,
    },
    /// A `<` with no closing `>`.
    UnterminatedTarget {
        /// Offset of the `<`.
        at: usize,
    },
    /// The target holds control characters or is not UTF-8.
    BadTarget {
        /// Offset of the `<`.
        at: usize,
    },
    /// Expected `;` or `,` after a link-value or parameter.
    ExpectedSeparator {
        /// Offset.
        at: usize,
    },
    /// A parameter name that is not a token, or a value missing after `=`.
    BadParam {
        /// Offset.
        at: usize,
    },
    /// A quoted string with no closing quote.
    UnterminatedQuote {
        /// Offset of the opening quote.
        at: usize,
    },
    /// The target could not be resolved against the request's URL.
    Unresolvable,
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::ExpectedTarget { at } => write!(f, "Link: expected '<' at byte {at}"),
            LinkError::UnterminatedTarget { at } => write!(f, "Link: '<' at byte {at} not closed"),
            LinkError::BadTarget { at } => write!(f, "Link: bad target at byte {at}"),
            LinkError::ExpectedSeparator { at } => {
                write!(f, "Link: expected ';' or ',' at byte {at}")
            }
            LinkError::BadParam { at } => write!(f, "Link: bad parameter at byte {at}"),
            LinkError::UnterminatedQuote { at } => {
                write!(f, "Link: quoted string at byte {at} not closed")
            }
            LinkError::Unresolvable => f.write_str("Link: target cannot be resolved"),
        }
    }
}

impl std::error::Error for LinkError {}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Parses one `Link` field value. Pure and total: any bytes give `Ok` or `Err`, never a panic.
///
/// ```text
/// Link       = #link-value
/// link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param )
/// link-param = token BWS [ "=" BWS ( token / quoted-string ) ]
/// ```
///
/// What the parser gets right that a `split(',')` does not: commas and semicolons inside
/// `<…>` and inside quoted strings, backslash escapes in quoted strings, several relation types
/// in one `rel` (`rel="next last"`), case-insensitive parameter names and relation types
/// (`REL=Next`), empty list elements (`, ,`), several `Link` fields (their values are one list),
/// a second `rel` in the same link (ignored, RFC 8288 §3.3), and links with an `anchor` (about
/// another resource, so never this page's `next`). Targets are URI references, resolved against
/// the request's URL (RFC 3986 §5) by [`resolve_link`].
///
/// Leniency, on purpose: an unquoted parameter value may contain any visible character but
/// `;`, `,` and `"` (servers send `type=application/json`, which is not a `token`). Anything
/// else malformed is a [`LinkError`] with the byte offset, never a guess: a walk that cannot
/// read its `next` link stops with an error rather than ending early and losing records.
///
/// ```
/// use paceline::paginate::{parse_link, resolve_link};
/// use url::Url;
///
/// let value = br#"<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=5>; rel="last""#;
/// let links = parse_link(value).unwrap();
/// assert_eq!(links.len(), 2);
/// assert!(links[1].has_rel("last"));
///
/// let base = Url::parse("https://api.example.com/v1/items?page=1").unwrap();
/// let next = resolve_link(b"</v1/items?page=2>; rel=next", &base, "next").unwrap();
/// assert_eq!(next.unwrap().as_str(), "https://api.example.com/v1/items?page=2");
/// ```
///
pub fn parse_link(value: &[u8]) -> Result<Vec<Link<'_>>, LinkError> {
    let mut links = Vec::new();
    parse_into(value, &mut links)?;
    Ok(links)
}

fn parse_into<'a>(v: &'a [u8], links: &mut Vec<Link<'a>>) -> Result<(), LinkError> {
    let mut i = 0;
    loop {
        // Empty list elements and whitespace between them (RFC 9110 §5.6.1).
        while i < v.len() && (is_ows(v[i]) || v[i] == b',') {
            i += 1;
        }
        if i == v.len() {
            return Ok(());
        }
        if v[i] != b'<' {
            return Err(LinkError::ExpectedTarget { at: i });
        }
        let open = i;
        let Some(len) = v[i + 1..].iter().position(|&b| b == b'>') else {
            return Err(LinkError::UnterminatedTarget { at: open });
        };
        let raw = &v[i + 1..i + 1 + len];
        if raw.iter().any(|b| b.is_ascii_control()) {
            return Err(LinkError::BadTarget { at: open });
        }
        let target = std::str::from_utf8(raw)
            .map_err(|_| LinkError::BadTarget { at: open })?
            .trim_matches(|c| c == ' ' || c == '\t');
        i += len + 2;
        let mut params = Vec::new();
        loop {
            while i < v.len() && is_ows(v[i]) {
                i += 1;
            }
            if i == v.len() || v[i] == b',' {
                break;
            }
            if v[i] != b';' {
                return Err(LinkError::ExpectedSeparator { at: i });
            }
            i += 1;
            while i < v.len() && is_ows(v[i]) {
                i += 1;
            }
            if i == v.len() || v[i] == b',' || v[i] == b';' {
                continue; // an empty parameter (`;;`, a trailing `;`)
            }
            let start = i;
            while i < v.len() && is_tchar(v[i]) {
                i += 1;
            }
            if i == start {
                return Err(LinkError::BadParam { at: i });
            }
            // tchar is ASCII, so this is UTF-8.
            let name = std::str::from_utf8(&v[start..i]).unwrap_or_default();
            while i < v.len() && is_ows(v[i]) {
                i += 1;
            }
            let value = if i < v.len() && v[i] == b'=' {
                i += 1;
                while i < v.len() && is_ows(v[i]) {
                    i += 1;
                }
                if i < v.len() && v[i] == b'"' {
                    let (value, end) =
                        quoted(v, i).ok_or(LinkError::UnterminatedQuote { at: i })?;
                    i = end;
                    value
                } else {
                    let vs = i;
                    while i < v.len()
                        && !is_ows(v[i])
                        && !matches!(v[i], b';' | b',' | b'"')
                        && !v[i].is_ascii_control()
                    {
                        i += 1;
                    }
                    if i == vs {
                        return Err(LinkError::BadParam { at: i });
                    }
                    String::from_utf8_lossy(&v[vs..i])
                }
            } else {
                Cow::Borrowed("")
            };
            params.push((name, value));
        }
        links.push(Link { target, params });
    }
}

/// A quoted-string starting at `v[start] == '"'`: its unescaped content and the offset after
/// the closing quote, or `None` when it is not closed.
fn quoted(v: &[u8], start: usize) -> Option<(Cow<'_, str>, usize)> {
    let mut i = start + 1;
    let mut owned: Option<Vec<u8>> = None;
    let mut run = i;
    while i < v.len() {
        match v[i] {
            b'"' => {
                let value = match owned {
                    None => String::from_utf8_lossy(&v[run..i]),
                    Some(mut o) => {
                        o.extend_from_slice(&v[run..i]);
                        Cow::Owned(String::from_utf8_lossy(&o).into_owned())
                    }
                };
                return Some((value, i + 1));
            }
            b'\\' if i + 1 < v.len() => {
                let o = owned.get_or_insert_with(Vec::new);
                o.extend_from_slice(&v[run..i]);
                o.push(v[i + 1]);
                i += 2;
                run = i;
            }
            _ => i += 1,
        }
    }
    None
}

/// Every link in every `Link` field of `headers`, in order (several fields are one list,
/// RFC 9110 §5.3).
pub fn links_in(headers: &HeaderMap) -> Result<Vec<Link<'_>>, LinkError> {
    let mut links = Vec::new();
    for value in headers.get_all(LINK) {
        parse_into(value.as_bytes(), &mut links)?;
    }
    Ok(links)
}

/// The first link with relation type `rel` and no `anchor`, in a parsed list.
pub fn find_rel<'l, 'a>(links: &'l [Link<'a>], rel: &str) -> Option<&'l Link<'a>> {
    links
        .iter()
        .find(|l| l.anchor().is_none() && l.has_rel(rel))
}

/// The target of the first `rel` link in one `Link` value, resolved against `base` (the URL of
/// the request whose response carried it); `Ok(None)` when there is no such link.
pub fn resolve_link(value: &[u8], base: &Url, rel: &str) -> Result<Option<Url>, LinkError> {
    let links = parse_link(value)?;
    find_rel(&links, rel)
        .map(|l| base.join(l.target()).map_err(|_| LinkError::Unresolvable))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(v: &str) -> Vec<String> {
        parse_link(v.as_bytes())
            .unwrap()
            .iter()
            .map(|l| l.target().to_owned())
            .collect()
    }

    #[test]
    fn github_example() {
        // GitHub REST docs, "Using pagination in the REST API": the `link` header.
        let v = r#"<https://api.github.com/repositories/1300192/issues?page=2>; rel="prev", <https://api.github.com/repositories/1300192/issues?page=4>; rel="next", <https://api.github.com/repositories/1300192/issues?page=515>; rel="last", <https://api.github.com/repositories/1300192/issues?page=1>; rel="first""#;
        let links = parse_link(v.as_bytes()).unwrap();
        let next = find_rel(&links, "next").unwrap();
        assert_eq!(
            next.target(),
            "https://api.github.com/repositories/1300192/issues?page=4"
        );
        assert_eq!(links.len(), 4);
    }

    #[test]
    fn rfc8288_examples() {
        // RFC 8288 §3.5.
        let v =
            r#"<http://example.com/TheBook/chapter2>; rel="previous"; title="previous chapter""#;
        let l = &parse_link(v.as_bytes()).unwrap()[0];
        assert_eq!(l.param("title"), Some("previous chapter"));
        assert!(l.has_rel("previous"));
        let v = r#"</>; rel="http://example.net/foo""#;
        assert!(parse_link(v.as_bytes()).unwrap()[0].has_rel("http://example.net/foo"));
        let v = r##"</terms>; rel="copyright"; anchor="#foo""##;
        let links = parse_link(v.as_bytes()).unwrap();
        assert_eq!(links[0].anchor(), Some("#foo"));
        assert!(find_rel(&links, "copyright").is_none());
        let v = r#"</TheBook/chapter2>; rel="previous"; title*=UTF-8'de'letztes%20Kapitel, </TheBook/chapter4>; rel="next"; title*=UTF-8'de'n%c3%a4chstes%20Kapitel"#;
        assert_eq!(targets(v), ["/TheBook/chapter2", "/TheBook/chapter4"]);
        let v = r#"<http://example.org/>; rel="start http://example.net/relation/other""#;
        let l = &parse_link(v.as_bytes()).unwrap()[0];
        assert!(l.has_rel("start") && l.has_rel("http://example.net/relation/other"));
    }

    #[test]
    fn commas_and_semicolons_inside_targets_and_quotes() {
        let v = r#"<https://x.test/a?q=1,2;3>; title="a, b; c", <https://x.test/b>; rel=next"#;
        assert_eq!(targets(v), ["https://x.test/a?q=1,2;3", "https://x.test/b"]);
        let links = parse_link(v.as_bytes()).unwrap();
        assert_eq!(links[0].param("title"), Some("a, b; c"));
        assert_eq!(
            find_rel(&links, "next").unwrap().target(),
            "https://x.test/b"
        );
    }

    #[test]
    fn escapes_case_and_several_rels() {
        let v = r#"<https://x.test/2>; REL="Prev  NEXT"; Title="say \"hi\"\\""#;
        let links = parse_link(v.as_bytes()).unwrap();
        assert!(links[0].has_rel("next") && links[0].has_rel("prev"));
        assert_eq!(links[0].param("title"), Some(r#"say "hi"\"#));
        // A second rel is ignored (RFC 8288 §3.3).
        let links = parse_link(b"<a>; rel=prev; rel=next").unwrap();
        assert!(!links[0].has_rel("next"));
    }

    #[test]
    fn whitespace_empty_elements_and_valueless_params() {
        let v = " , <a>;rel=next ; ;crossorigin , ,\t<b> ;  rel = \"last\" ;, ";
        let links = parse_link(v.as_bytes()).unwrap();
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].param("crossorigin"), Some(""));
        assert!(links[1].has_rel("last"));
        assert!(parse_link(b"").unwrap().is_empty());
    }

    #[test]
    fn lenient_unquoted_values() {
        let links = parse_link(b"<a>; rel=next; type=application/json").unwrap();
        assert_eq!(links[0].param("type"), Some("application/json"));
    }

    #[test]
    fn errors_are_typed() {
        assert_eq!(
            parse_link(b"https://x; rel=next"),
            Err(LinkError::ExpectedTarget { at: 0 })
        );
        assert_eq!(
            parse_link(b"<https://x; rel=next"),
            Err(LinkError::UnterminatedTarget { at: 0 })
        );
        assert_eq!(
            parse_link(b"<a>; title=\"open"),
            Err(LinkError::UnterminatedQuote { at: 11 })
        );
        assert_eq!(
            parse_link(b"<a> rel=next"),
            Err(LinkError::ExpectedSeparator { at: 4 })
        );
        assert_eq!(
            parse_link(b"<a>; =next"),
            Err(LinkError::BadParam { at: 5 })
        );
        assert_eq!(parse_link(b"<a>; rel="), Err(LinkError::BadParam { at: 9 }));
        assert_eq!(parse_link(b"<a\x01>"), Err(LinkError::BadTarget { at: 0 }));
        assert_eq!(parse_link(b"<\xff>"), Err(LinkError::BadTarget { at: 0 }));
    }

    #[test]
    fn relative_references_resolve_against_the_request() {
        let base = Url::parse("https://api.test/v1/items?page=1").unwrap();
        let r = |v: &str| {
            resolve_link(v.as_bytes(), &base, "next")
                .unwrap()
                .map(|u| u.to_string())
        };
        assert_eq!(
            r("<?page=2>; rel=next").unwrap(),
            "https://api.test/v1/items?page=2"
        );
        assert_eq!(
            r("<items?page=2>; rel=next").unwrap(),
            "https://api.test/v1/items?page=2"
        );
        assert_eq!(r("<../v2/x>; rel=next").unwrap(), "https://api.test/v2/x");
        assert_eq!(
            r("<//other.test/p>; rel=next").unwrap(),
            "https://other.test/p"
        );
        assert_eq!(r("<a>; rel=prev"), None);
    }

    #[test]
    fn several_fields_are_one_list() {
        let mut h = HeaderMap::new();
        h.append(LINK, "<a>; rel=prev".parse().unwrap());
        h.append(LINK, "<b>; rel=next".parse().unwrap());
        let links = links_in(&h).unwrap();
        assert_eq!(find_rel(&links, "next").unwrap().target(), "b");
    }
}
