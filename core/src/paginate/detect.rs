//! Auto-detection: [`PageSpec::detect`].

use http::HeaderMap;
use serde_json::{Map, Value};

use super::error::PageError;
use super::json::BodyError;
use super::link::{find_rel, links_in};
use super::pointer::Pointer;
use super::spec::{PageSpec, Param, Style};

const WELL_KNOWN_ITEMS: [&str; 8] = [
    "data", "items", "results", "records", "value", "entries", "nodes", "edges",
];

impl PageSpec {
    /// The spec a first response implies, when the caller gave none. The walk reports the one it
    /// chose with [`super::PageEvent::Detected`]. The rules, first match wins:
    ///
    /// | the first response has | style chosen | sent back as |
    /// |---|---|---|
    /// | `Link: <…>; rel="next"` | [`Style::Link`] | the URL |
    /// | `@odata.nextLink` | OData [`Style::NextUrl`] | the URL |
    /// | `nextRecordsUrl` or `done` + `records` | Salesforce [`Style::NextUrl`] | the URL |
    /// | `links.next` | JSON:API [`Style::NextUrl`] | the URL |
    /// | `paging.next` | [`Style::NextUrl`] (Facebook Graph) | the URL |
    /// | `response_metadata.next_cursor` | Slack [`Style::Cursor`] | `cursor` |
    /// | `nextPageToken` | [`Style::Token`] (AIP-158) | `pageToken` |
    /// | `data.…pageInfo` (one or two levels down) | [`Style::Relay`] | variable `after` |
    /// | `hits.hits` | [`Style::SearchAfter`] | body `search_after` |
    /// | `has_more` + `next_cursor` | Notion [`Style::Cursor`] + `has_more` | `start_cursor` |
    /// | `has_more` + records with `id` | Stripe [`Style::Keyset`] | `starting_after` |
    /// | `next_cursor` | [`Style::Cursor`] | `cursor` |
    /// | `next` holding a string | [`Style::NextUrl`] (Django REST framework and others) | the URL |
    /// | a list and nothing else | [`Style::Link`]: one page unless a `Link` header appears | |
    ///
    /// The items are the body itself when it is an array, else a well-known member (`data`,
    /// `items`, `results`, `records`, `value`, `entries`, `nodes`, `edges`), else the only
    /// top-level member holding an array (Slack's `members`, Google's `files`). No list at all is
    /// [`PageError::NotAList`]. The page size is left to the server.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use paceline::paginate::{PageSpec, StyleKind};
    ///
    /// let body = br#"{"value":[{"id":1}],"@odata.nextLink":"https://x.test/People?$skiptoken=8"}"#;
    /// let spec = PageSpec::detect(&HeaderMap::new(), body).unwrap();
    /// assert_eq!(spec, PageSpec::odata());
    /// ```
    pub fn detect(headers: &HeaderMap, body: &[u8]) -> Result<PageSpec, PageError> {
        let doc: Value =
            serde_json::from_slice(body).map_err(|e| PageError::Body(BodyError::from(e)))?;
        let link_next = links_in(headers)
            .ok()
            .is_some_and(|links| find_rel(&links, "next").is_some());
        let obj = match &doc {
            Value::Array(_) => return Ok(PageSpec::link("")),
            Value::Object(m) => m,
            _ => return Err(PageError::NotAList),
        };
        let items = items_of(obj);
        if link_next {
            return items.map(|i| PageSpec::link(&i)).ok_or(PageError::NotAList);
        }
        let has = |p: &str| doc.pointer(p).is_some_and(|v| !v.is_null());
        if has("/@odata.nextLink") {
            return Ok(with_items(PageSpec::odata(), items));
        }
        if has("/nextRecordsUrl")
            || (obj.get("done").is_some_and(Value::is_boolean) && has("/records"))
        {
            return Ok(PageSpec::salesforce());
        }
        if obj.get("links").and_then(|l| l.get("next")).is_some() {
            return Ok(with_items(PageSpec::json_api(), items));
        }
        if obj.get("paging").and_then(|l| l.get("next")).is_some() {
            return items
                .map(|i| PageSpec::next_url(&i, "/paging/next"))
                .ok_or(PageError::NotAList);
        }
        if obj
            .get("response_metadata")
            .and_then(|m| m.get("next_cursor"))
            .is_some()
        {
            return items
                .map(|i| PageSpec::cursor(&i, "/response_metadata/next_cursor", "cursor"))
                .ok_or(PageError::NotAList);
        }
        if obj.contains_key("nextPageToken") {
            return items
                .map(|i| PageSpec::token(&i, "/nextPageToken", "pageToken"))
                .ok_or(PageError::NotAList);
        }
        if let Some(spec) = relay(obj) {
            return Ok(spec);
        }
        if obj
            .get("hits")
            .and_then(|h| h.get("hits"))
            .is_some_and(Value::is_array)
        {
            let mut spec = PageSpec::new(
                Style::SearchAfter {
                    sort: Pointer::from_static("/sort"),
                    param: Param::body("/search_after"),
                },
                "/hits/hits",
            );
            spec.key = Some(Pointer::from_static("/_id"));
            return Ok(spec);
        }
        let items = items.ok_or(PageError::NotAList)?;
        if obj.contains_key("has_more") && obj.contains_key("next_cursor") {
            return Ok(PageSpec::new(
                Style::Cursor {
                    next: Pointer::from_static("/next_cursor"),
                    param: Param::query("start_cursor"),
                    has_more: Some(Pointer::from_static("/has_more")),
                },
                &items,
            ));
        }
        if obj.contains_key("has_more") {
            let list = Pointer::parse(&items)
                .ok()
                .and_then(|p| p.find(&doc).cloned());
            let ids = list
                .as_ref()
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().all(|r| r.get("id").is_some()));
            if ids {
                return Ok(PageSpec::starting_after(&items));
            }
        }
        if obj.contains_key("next_cursor") {
            return Ok(PageSpec::cursor(&items, "/next_cursor", "cursor"));
        }
        if obj
            .get("next")
            .is_some_and(|n| n.is_string() || n.is_null())
        {
            return Ok(PageSpec::next_url(&items, "/next"));
        }
        Ok(PageSpec::link(&items))
    }
}

fn with_items(mut spec: PageSpec, items: Option<String>) -> PageSpec {
    if let Some(p) = items.and_then(|i| Pointer::parse(&i).ok()) {
        spec.items = p;
    }
    spec
}

/// The items pointer of an object body.
fn items_of(obj: &Map<String, Value>) -> Option<String> {
    for k in WELL_KNOWN_ITEMS {
        if obj.get(k).is_some_and(Value::is_array) {
            return Some(format!("/{k}"));
        }
    }
    let mut arrays = obj.iter().filter(|(_, v)| v.is_array());
    match (arrays.next(), arrays.next()) {
        (Some((k, _)), None) => Some(Pointer::root().child(k).as_str().to_owned()),
        _ => None,
    }
}

/// A Relay connection under `data`, one or two levels down.
fn relay(obj: &Map<String, Value>) -> Option<PageSpec> {
    let data = obj.get("data")?.as_object()?;
    let base = Pointer::root().child("data");
    let mut candidates: Vec<(Pointer, &Map<String, Value>)> = Vec::new();
    for (k, v) in data {
        let Some(m) = v.as_object() else { continue };
        candidates.push((base.child(k), m));
        for (k2, v2) in m {
            if let Some(m2) = v2.as_object() {
                candidates.push((base.child(k).child(k2), m2));
            }
        }
    }
    let (conn, m) = candidates
        .into_iter()
        .find(|(_, m)| m.get("pageInfo").is_some_and(Value::is_object))?;
    let items = if m.get("nodes").is_some_and(Value::is_array) {
        conn.child("nodes")
    } else {
        conn.child("edges")
    };
    let mut spec = PageSpec::new(
        Style::Relay {
            page_info: conn.child("pageInfo"),
            variable: "after".into(),
        },
        "",
    );
    spec.items = items;
    Some(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paginate::spec::StyleKind;

    fn detect(body: &str) -> PageSpec {
        PageSpec::detect(&HeaderMap::new(), body.as_bytes()).unwrap()
    }

    #[test]
    fn well_known_bodies() {
        assert_eq!(detect("[1,2]"), PageSpec::link(""));
        assert_eq!(
            detect(r#"{"ok":true,"members":[],"response_metadata":{"next_cursor":""}}"#),
            PageSpec::cursor("/members", "/response_metadata/next_cursor", "cursor")
        );
        assert_eq!(
            detect(
                r#"{"object":"list","data":[{"id":"cus_1"}],"has_more":true,"url":"/v1/customers"}"#
            ),
            {
                let mut s = PageSpec::stripe();
                s.page_size = None;
                s
            }
        );
        let notion =
            detect(r#"{"object":"list","results":[],"next_cursor":null,"has_more":false}"#);
        assert_eq!(notion.style.kind(), StyleKind::Cursor);
        assert_eq!(notion.items.as_str(), "/results");
        assert_eq!(
            detect(r#"{"files":[],"nextPageToken":"t"}"#),
            PageSpec::token("/files", "/nextPageToken", "pageToken")
        );
        assert_eq!(
            detect(
                r#"{"totalSize":3,"done":false,"nextRecordsUrl":"/services/data/v60.0/query/01g-2000","records":[]}"#
            ),
            PageSpec::salesforce()
        );
        assert_eq!(
            detect(r#"{"data":[],"links":{"self":"x","next":"y"}}"#),
            PageSpec::json_api()
        );
        assert_eq!(
            detect(r#"{"count":2,"next":null,"previous":null,"results":[]}"#),
            PageSpec::next_url("/results", "/next")
        );
        let relay = detect(
            r#"{"data":{"repository":{"issues":{"nodes":[],"pageInfo":{"hasNextPage":false,"endCursor":null}}}}}"#,
        );
        assert_eq!(relay.style.kind(), StyleKind::Relay);
        assert_eq!(relay.items.as_str(), "/data/repository/issues/nodes");
        assert_eq!(
            detect(r#"{"hits":{"total":{"value":0},"hits":[]}}"#)
                .style
                .kind(),
            StyleKind::SearchAfter
        );
        assert_eq!(detect(r#"{"items":[]}"#), PageSpec::link("/items"));
    }

    #[test]
    fn link_header_wins_and_non_lists_fail() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::LINK,
            "<https://x.test/?page=2>; rel=\"next\"".parse().unwrap(),
        );
        assert_eq!(
            PageSpec::detect(&h, br#"{"next_cursor":"x","data":[]}"#).unwrap(),
            PageSpec::link("/data")
        );
        assert_eq!(
            PageSpec::detect(&HeaderMap::new(), br#"{"a":1}"#),
            Err(PageError::NotAList)
        );
        assert_eq!(
            PageSpec::detect(&HeaderMap::new(), b"7"),
            Err(PageError::NotAList)
        );
        assert!(matches!(
            PageSpec::detect(&HeaderMap::new(), b"{"),
            Err(PageError::Body(BodyError::Truncated))
        ));
    }
}
