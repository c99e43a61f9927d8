//! Reading a first page's body for detection: where the records are, and what the members
//! around them say about paging. Detection runs once per walk, so this works on a parsed
//! `serde_json::Value`, not on the borrowed one-pass reader the walk uses for every page.

use serde_json::Value;

use super::names::{self, ITEMS, Role, norm};
use crate::paginate::pointer::Pointer;

/// How deep (members of members) paging signals are looked for: `meta.pagination.total`,
/// `additional_data.pagination.next_start`, `_links.next.href` are three levels down.
const SIGNAL_DEPTH: usize = 4;

/// How deep records are looked for: `data.children` (Reddit), `response.docs` (Solr),
/// `_embedded.orders` (HAL), `data.items`.
const ITEMS_DEPTH: usize = 3;

/// Why no list was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NoItems {
    /// No array at all.
    None,
    /// Several arrays of records, none of them by a well-known name.
    Ambiguous(Vec<Pointer>),
}

/// Where the records of `doc` are.
pub(crate) fn items(doc: &Value) -> Result<Pointer, NoItems> {
    if doc.is_array() {
        return Ok(Pointer::root());
    }
    let mut found: Vec<Candidate> = Vec::new();
    arrays(doc, &Pointer::root(), 0, false, &mut found);
    let records: Vec<&Candidate> = found
        .iter()
        .filter(|c| !names::not_records(&c.key) && c.kind != Kind::Scalars)
        .collect();
    // One array of records (or one empty array) beside arrays of strings, links or errors.
    if let [only] = records.as_slice() {
        return Ok(only.pointer.clone());
    }
    // HAL: the records are what `_embedded` holds.
    let embedded: Vec<&&Candidate> = records.iter().filter(|c| c.embedded).collect();
    if let [only] = embedded.as_slice() {
        return Ok(only.pointer.clone());
    }
    // A well-known name, shallowest first, then in order of preference.
    let known = records
        .iter()
        .filter_map(|c| {
            ITEMS
                .iter()
                .position(|k| *k == c.key)
                .map(|rank| (c.depth, rank, *c))
        })
        .min_by_key(|(depth, rank, _)| (*depth, *rank));
    if let Some((_, _, c)) = known {
        return Ok(c.pointer.clone());
    }
    if records.len() > 1 {
        return Err(NoItems::Ambiguous(
            records.iter().map(|c| c.pointer.clone()).collect(),
        ));
    }
    // A list of ids (`{"ids": [1, 2, 3], "next_cursor": …}`): the one array there is.
    let scalars: Vec<&Candidate> = found
        .iter()
        .filter(|c| !names::not_records(&c.key))
        .collect();
    match scalars.as_slice() {
        [only] => Ok(only.pointer.clone()),
        [] => Err(NoItems::None),
        more => Err(NoItems::Ambiguous(
            more.iter().map(|c| c.pointer.clone()).collect(),
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Objects, or nothing yet.
    Records,
    /// Strings, numbers, arrays: ids, tags, links.
    Scalars,
}

#[derive(Debug)]
struct Candidate {
    pointer: Pointer,
    key: String,
    depth: usize,
    kind: Kind,
    embedded: bool,
}

fn arrays(v: &Value, at: &Pointer, depth: usize, embedded: bool, out: &mut Vec<Candidate>) {
    let Value::Object(m) = v else { return };
    if depth >= ITEMS_DEPTH {
        return;
    }
    for (k, v) in m {
        let p = at.child(k);
        let key = norm(k);
        match v {
            Value::Array(a) => out.push(Candidate {
                kind: if a.iter().all(Value::is_object) {
                    Kind::Records
                } else {
                    Kind::Scalars
                },
                pointer: p,
                key,
                depth,
                embedded,
            }),
            Value::Object(_) => arrays(v, &p, depth + 1, embedded || key == "embedded", out),
            _ => {}
        }
    }
}

/// A member that says something about paging.
#[derive(Debug, Clone)]
pub(crate) struct Signal<'v> {
    pub(crate) role: Role,
    pub(crate) pointer: Pointer,
    /// The member's name as written.
    pub(crate) key: String,
    pub(crate) value: &'v Value,
    pub(crate) depth: usize,
}

/// Every paging member of `doc` outside the records, shallowest first (then in document
/// order).
pub(crate) fn signals(doc: &Value) -> Vec<Signal<'_>> {
    let mut out = Vec::new();
    collect(doc, &Pointer::root(), 0, &mut out);
    out.sort_by_key(|s| s.depth);
    out
}

fn collect<'v>(v: &'v Value, at: &Pointer, depth: usize, out: &mut Vec<Signal<'v>>) {
    let Value::Object(m) = v else { return };
    if depth >= SIGNAL_DEPTH {
        return;
    }
    // Facebook's `paging.cursors.{before,after}` say where this page is, not where the next
    // one starts (that is `paging.next`, absent on the last page).
    if at.tokens().last().is_some_and(|t| norm(t) == "cursors") {
        return;
    }
    for (k, v) in m {
        let p = at.child(k);
        if let Some(role) = names::body_role(&norm(k)) {
            out.push(Signal {
                role,
                pointer: p.clone(),
                key: k.clone(),
                value: v,
                depth,
            });
        }
        collect(v, &p, depth + 1, out);
    }
}

/// Whether a string is a URL or a URL reference, not an opaque cursor: absolute, a path, a
/// query, or a relative reference with a query (OData's `People?$skiptoken=8`). Base64
/// cursors have no `?`.
pub(crate) fn url_like(s: &str) -> bool {
    s.starts_with("http://")
        || s.starts_with("https://")
        || s.starts_with('/')
        || s.starts_with('?')
        || s.contains("://")
        || (s.contains('?') && s.contains('='))
}

/// The URL in a next-link value: a URL-like string, or the `href`, `url`, `uri` or `link`
/// member of an object (HAL, HubSpot, Asana).
pub(crate) fn url_in(v: &Value) -> Option<(&str, Option<&'static str>)> {
    match v {
        Value::String(s) if url_like(s) => Some((s, None)),
        Value::Object(m) => ["href", "url", "uri", "link"].into_iter().find_map(|k| {
            m.get(k)
                .and_then(Value::as_str)
                .filter(|s| url_like(s))
                .map(|s| (s, Some(k)))
        }),
        _ => None,
    }
}

/// A count: a non-negative integer, or a string of one.
pub(crate) fn count(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A boolean, or the strings `"true"` and `"false"`.
pub(crate) fn flag(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// A cursor or token: a non-empty string or a number. `None` for null, `""` and anything
/// else.
pub(crate) fn token(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items_of(v: Value) -> Result<String, NoItems> {
        items(&v).map(|p| p.as_str().to_owned())
    }

    #[test]
    fn records_beside_other_arrays() {
        assert_eq!(items_of(json!([1])), Ok(String::new()));
        assert_eq!(
            items_of(json!({"errors": [], "users": [{"id": 1}], "_links": {"self": "x"}})),
            Ok("/users".into())
        );
        assert_eq!(
            items_of(json!({"tags": ["a"], "people": [{"id": 1}]})),
            Ok("/people".into())
        );
        assert_eq!(
            items_of(
                json!({"_embedded": {"orders": [{"id": 1}]}, "_links": {"next": {"href": "/o?page=2"}}})
            ),
            Ok("/_embedded/orders".into())
        );
        assert_eq!(
            items_of(json!({"data": {"children": [{"kind": "t3"}], "after": "t3_x"}})),
            Ok("/data/children".into())
        );
        assert_eq!(
            items_of(json!({"data": [], "included": [{"id": 1}]})),
            Ok("/data".into())
        );
        assert_eq!(
            items_of(json!({"ids": [1, 2], "next_cursor": 5})),
            Ok("/ids".into())
        );
        let Err(NoItems::Ambiguous(mut both)) =
            items(&json!({"users": [{"a": 1}], "groups": [{"b": 2}]}))
        else {
            panic!("two lists of records, neither well known, are ambiguous");
        };
        both.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        assert_eq!(
            both,
            [
                Pointer::from_static("/groups"),
                Pointer::from_static("/users")
            ]
        );
        assert_eq!(items_of(json!({"a": 1})), Err(NoItems::None));
    }

    #[test]
    fn signals_are_found_in_envelopes() {
        let doc = json!({
            "data": [{"id": 1}],
            "meta": {"pagination": {"total": 40, "next_cursor": "c2"}},
            "has_more": true
        });
        let s = signals(&doc);
        let mut roles: Vec<(&str, Role)> = s.iter().map(|s| (s.pointer.as_str(), s.role)).collect();
        assert_eq!(roles[0], ("/has_more", Role::HasMore), "shallowest first");
        roles.sort_by_key(|r| r.0);
        assert_eq!(
            roles,
            [
                ("/has_more", Role::HasMore),
                ("/meta/pagination/next_cursor", Role::Cursor("cursor")),
                ("/meta/pagination/total", Role::Total),
            ]
        );
    }

    #[test]
    fn urls_and_tokens() {
        assert!(url_like("https://x.test/a?b=1"));
        assert!(url_like("/v1/things?page=2"));
        assert!(!url_like("dXNlcjpVMEc5V0ZYTlo="));
        assert_eq!(
            url_in(&json!({"href": "/o?page=2"})),
            Some(("/o?page=2", Some("href")))
        );
        assert_eq!(url_in(&json!("abc")), None);
        assert_eq!(token(&json!("")), None);
        assert_eq!(token(&json!(15)), Some("15".into()));
    }
}
