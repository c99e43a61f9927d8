//! Reading a page request and writing the page, in each style.

use std::io::Write as _;

use http::{HeaderMap, HeaderValue};
use serde_json::Value;

use super::{DataStyle, Dataset};
use crate::model::{AppResponse, ModelRequest, PageChaos};

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// The list's beginning.
    Beginning,
    /// The `n`-th live record (from 0).
    Offset(u64),
    /// After this id (cursors, tokens, `after_id`).
    AfterId(u64),
    /// After this timestamp (`since` without a tie-breaker: strictly later).
    AfterTs(u64),
    /// After this `(ts, id)` (`since` + `since_id`, `search_after`).
    AfterKey(u64, u64),
}

/// A request, read.
struct Ask {
    start: Start,
    limit: usize,
    /// The server-given pointer that led here: the cursor or token sent, or (URL styles) the
    /// URL requested.
    sent: Option<String>,
    offset: u64,
    page: Option<u64>,
}

/// Scrambles ids in cursors (an odd multiplier, then a mask: a bijection on `u64`), so that
/// they are opaque, not `?after_id=` in disguise.
const MUL: u64 = 0x9e37_79b9_7f4a_7c15;
const MASK: u64 = 0x5bd1_e995_27d4_eb2f;

/// `MUL`'s inverse modulo 2^64 (Newton's iteration doubles the correct bits each step).
fn mul_inverse() -> u64 {
    let mut inv = MUL;
    for _ in 0..6 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(MUL.wrapping_mul(inv)));
    }
    inv
}

/// An opaque cursor: the id to start after, and a serial number.
fn encode(after_id: u64, serial: u64) -> String {
    format!(
        "{:016x}{:08x}",
        after_id.wrapping_mul(MUL) ^ MASK,
        serial & 0xffff_ffff
    )
}

fn decode(cursor: &str) -> Option<u64> {
    if cursor.len() != 24 || !cursor.is_ascii() {
        return None;
    }
    u64::from_str_radix(&cursor[..16], 16)
        .ok()
        .filter(|_| u32::from_str_radix(&cursor[16..], 16).is_ok())
        .map(|x| (x ^ MASK).wrapping_mul(mul_inverse()))
}

/// A request the dataset refuses: status and message.
struct Bad(u16, String);

fn error(status: u16, message: &str) -> Bad {
    Bad(status, message.to_owned())
}

impl Bad {
    fn response(self) -> AppResponse {
        AppResponse {
            status: self.0,
            headers: json_headers(),
            body: serde_json::json!({ "error": self.1 })
                .to_string()
                .into_bytes(),
        }
    }
}

fn json_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h
}

fn number(v: &str, name: &str) -> Result<u64, Bad> {
    v.parse()
        .map_err(|_| error(400, &format!("{name} is not a number")))
}

impl Dataset {
    /// Answers a page request at the current state (mutations already applied).
    pub(crate) fn serve(&mut self, req: &ModelRequest<'_>, chaos: PageChaos) -> AppResponse {
        let ask = match self.read(req) {
            Ok(a) => a,
            Err(e) => return e.response(),
        };
        let style = self.spec.style;
        let start = match self.previous {
            Some(p) if chaos.repeat_cursor && !style.server_pointer() => p,
            _ => ask.start,
        };
        self.previous = Some(ask.start);
        let from = self.slot_of(start);
        let mut page = std::mem::take(&mut self.scratch);
        let mut more = self.store.page_from(from, ask.limit, &mut page);
        let mut next = None;
        if style.server_pointer() {
            if chaos.empty_page && !page.is_empty() {
                page.clear();
                more = true;
                let at = self.id_before(from);
                next = Some(self.pointer(at, ask.limit));
            } else if more && let Some(&last) = page.last() {
                next = Some(self.pointer(self.store.rec(last).id, ask.limit));
            }
            if chaos.repeat_cursor && next.is_some() && ask.sent.is_some() {
                next.clone_from(&ask.sent);
            }
            if chaos.self_cursor && !more {
                next = Some(match &ask.sent {
                    Some(s) => s.clone(),
                    None => {
                        let at = self.id_before(from);
                        self.pointer(at, ask.limit)
                    }
                });
            }
        }
        let response = self.render(&ask, &page, next.as_deref());
        self.scratch = page;
        response
    }

    fn read(&self, req: &ModelRequest<'_>) -> Result<Ask, Bad> {
        let (path, query) = req.path.split_once('?').unwrap_or((req.path, ""));
        if path != self.spec.path {
            return Err(error(404, "not found"));
        }
        let (mut limit, mut offset, mut page, mut opaque) = (None, None, None, None);
        let (mut after_id, mut since, mut since_id, mut search_after) = (None, None, None, None);
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "limit" | "per_page" | "pageSize" | "page[size]" | "size" => {
                    limit = Some(number(&v, &k)?);
                }
                "offset" => offset = Some(number(&v, &k)?),
                "page" => page = Some(number(&v, &k)?),
                "cursor" | "pageToken" | "after" | "page[after]" => opaque = Some(v.into_owned()),
                "after_id" | "starting_after" => after_id = Some(number(&v, &k)?),
                "since" => since = Some(number(&v, &k)?),
                "since_id" => since_id = Some(number(&v, &k)?),
                _ => {}
            }
        }
        if !req.body.is_empty() {
            let body: Value =
                serde_json::from_slice(req.body).map_err(|_| error(400, "the body is not JSON"))?;
            let count = |p: &str| -> Result<Option<u64>, Bad> {
                match body.pointer(p) {
                    None | Some(Value::Null) => Ok(None),
                    Some(v) => v
                        .as_u64()
                        .map(Some)
                        .ok_or_else(|| error(400, &format!("{p} is not a count"))),
                }
            };
            if let Some(n) = count("/variables/first")?.or(count("/size")?) {
                limit = Some(n);
            }
            match body.pointer("/variables/after") {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => opaque = Some(s.clone()),
                Some(_) => return Err(error(400, "after is not a string")),
            }
            match body.pointer("/search_after") {
                None | Some(Value::Null) => {}
                Some(Value::Array(a)) if a.len() == 2 => match (a[0].as_u64(), a[1].as_u64()) {
                    (Some(ts), Some(id)) => search_after = Some((ts, id)),
                    _ => return Err(error(400, "search_after values are not [ts, id]")),
                },
                Some(_) => return Err(error(400, "search_after is not [ts, id]")),
            }
        }
        let limit = limit
            .unwrap_or(self.spec.page_size)
            .clamp(1, self.spec.max_page_size.max(1)) as usize;
        let start = if let Some((ts, id)) = search_after {
            Start::AfterKey(ts, id)
        } else if let (Some(ts), Some(id)) = (since, since_id) {
            Start::AfterKey(ts, id)
        } else if let Some(ts) = since {
            Start::AfterTs(ts)
        } else if let Some(id) = after_id {
            Start::AfterId(id)
        } else if let Some(c) = &opaque {
            Start::AfterId(decode(c).ok_or_else(|| error(400, "invalid cursor"))?)
        } else if let Some(o) = offset {
            Start::Offset(o)
        } else if let Some(p) = page {
            Start::Offset(p.max(1).saturating_sub(1).saturating_mul(limit as u64))
        } else {
            Start::Beginning
        };
        let sent = match self.spec.style {
            DataStyle::Link | DataStyle::NextUrl => Some(format!(
                "{}{}",
                self.spec.base_url.trim_end_matches('/'),
                req.path
            )),
            _ => opaque,
        };
        Ok(Ask {
            start,
            limit,
            sent,
            offset: offset.unwrap_or(0),
            page,
        })
    }

    fn slot_of(&self, start: Start) -> usize {
        let s = &self.store;
        match start {
            Start::Beginning => s.first(),
            Start::Offset(n) => s.nth(n).unwrap_or(s.end()),
            Start::AfterId(id) => s.after_id(id),
            Start::AfterTs(ts) => s.after_ts(ts),
            Start::AfterKey(ts, id) => s.after_key(ts, id),
        }
    }

    /// The id a cursor for a page starting at `slot` names (0: the beginning).
    fn id_before(&self, slot: usize) -> u64 {
        if slot <= self.store.first() {
            0
        } else {
            self.store.rec(slot - 1).id
        }
    }

    /// A new server-given pointer to the records after `after_id`: an opaque cursor, or for
    /// URL styles an absolute URL carrying one.
    fn pointer(&mut self, after_id: u64, limit: usize) -> String {
        self.serial += 1;
        let c = encode(after_id, self.serial);
        let base = self.spec.url();
        match self.spec.style {
            DataStyle::Link => format!("{base}?per_page={limit}&after={c}"),
            DataStyle::NextUrl => format!("{base}?page[size]={limit}&page[after]={c}"),
            _ => c,
        }
    }

    fn render(&self, ask: &Ask, page: &[usize], next: Option<&str>) -> AppResponse {
        let mut headers = json_headers();
        let mut b = Vec::with_capacity(40 * page.len() + 128);
        let total = self.store.alive();
        let limit = ask.limit as u64;
        let text = |s: &str| Value::from(s).to_string();
        let _ = match self.spec.style {
            DataStyle::Offset => {
                b.extend_from_slice(b"{\"data\":");
                self.records(&mut b, page);
                write!(
                    b,
                    ",\"total\":{total},\"offset\":{},\"limit\":{limit}}}",
                    ask.offset
                )
            }
            DataStyle::Page => {
                b.extend_from_slice(b"{\"data\":");
                self.records(&mut b, page);
                write!(
                    b,
                    ",\"total\":{total},\"page\":{},\"per_page\":{limit},\"total_pages\":{}}}",
                    ask.page.unwrap_or(1),
                    total.div_ceil(limit)
                )
            }
            DataStyle::Cursor => {
                b.extend_from_slice(b"{\"data\":");
                self.records(&mut b, page);
                write!(b, ",\"next_cursor\":{}}}", text(next.unwrap_or("")))
            }
            DataStyle::Keyset => {
                b.extend_from_slice(b"{\"data\":");
                self.records(&mut b, page);
                b.write_all(b"}")
            }
            DataStyle::Link => {
                if let Some(url) = next
                    && let Ok(v) = HeaderValue::from_str(&format!("<{url}>; rel=\"next\""))
                {
                    headers.insert(http::header::LINK, v);
                }
                self.records(&mut b, page);
                Ok(())
            }
            DataStyle::NextUrl => {
                b.extend_from_slice(b"{\"data\":");
                self.records(&mut b, page);
                let own = ask.sent.as_deref().unwrap_or("");
                let next = next.map_or_else(|| "null".to_owned(), text);
                write!(b, ",\"links\":{{\"self\":{},\"next\":{next}}}}}", text(own))
            }
            DataStyle::Token => {
                b.extend_from_slice(b"{\"items\":");
                self.records(&mut b, page);
                match next {
                    Some(t) => write!(b, ",\"nextPageToken\":{}}}", text(t)),
                    None => b.write_all(b"}"),
                }
            }
            DataStyle::Graphql => {
                b.extend_from_slice(b"{\"data\":{\"items\":{\"nodes\":");
                self.records(&mut b, page);
                let end = match (next, page.last()) {
                    (Some(c), _) => text(c),
                    (None, Some(&last)) => {
                        // GitHub gives the last node's cursor even on the last page.
                        text(&encode(self.store.rec(last).id, 0))
                    }
                    (None, None) => "null".to_owned(),
                };
                write!(
                    b,
                    ",\"pageInfo\":{{\"hasNextPage\":{},\"endCursor\":{end}}}}}}}}}",
                    next.is_some()
                )
            }
            DataStyle::SearchAfter => {
                write!(
                    b,
                    "{{\"hits\":{{\"total\":{{\"value\":{total},\"relation\":\"eq\"}},\"hits\":["
                )
                .ok();
                for (i, &slot) in page.iter().enumerate() {
                    let r = self.store.rec(slot);
                    if i > 0 {
                        b.push(b',');
                    }
                    let _ = write!(
                        b,
                        "{{\"_id\":\"{id}\",\"_source\":{{\"id\":{id},\"ts\":{ts}}},\"sort\":[{ts},{id}]}}",
                        id = r.id,
                        ts = r.ts
                    );
                }
                b.write_all(b"]}}")
            }
        };
        AppResponse {
            status: 200,
            headers,
            body: b,
        }
    }

    /// A JSON array of records.
    fn records(&self, b: &mut Vec<u8>, page: &[usize]) {
        b.push(b'[');
        for (i, &slot) in page.iter().enumerate() {
            let r = self.store.rec(slot);
            if i > 0 {
                b.push(b',');
            }
            let _ = write!(b, "{{\"id\":{},\"ts\":{}}}", r.id, r.ts);
        }
        b.push(b']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::DatasetSpec;
    use crate::model::App;

    fn get(d: &mut Dataset, path: &str) -> Value {
        let r = d.respond(
            0,
            &ModelRequest {
                method: "GET",
                path,
                body: b"",
            },
            PageChaos::default(),
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn cursors_are_opaque_and_round_trip() {
        let c = encode(1_000_042, 7);
        assert_eq!(c.len(), 24);
        assert!(!c.contains("1000042"));
        assert_eq!(decode(&c), Some(1_000_042));
        assert_eq!(decode("nope"), None);
        for id in [0, 1, 999_999, u64::MAX] {
            assert_eq!(decode(&encode(id, 3)), Some(id));
        }
        assert_ne!(encode(1_000_000, 1)[..8], encode(1_000_001, 1)[..8]);
        assert_ne!(encode(5, 1), encode(5, 2));
    }

    #[test]
    fn offset_pages_drift_and_cursor_pages_do_not() {
        let mut d = Dataset::new(DatasetSpec::new(DataStyle::Offset, 10), 1);
        let p = get(&mut d, "/items?offset=2&limit=3");
        assert_eq!(p["data"][0]["id"], 1_000_002);
        assert_eq!(p["total"], 10);
        d.store.delete_nth(0, 1);
        let p = get(&mut d, "/items?offset=2&limit=3");
        assert_eq!(p["data"][0]["id"], 1_000_003, "shifted by the delete");
        assert_eq!(p["total"], 9);
        let p = get(&mut d, "/items?after_id=1000002&limit=3");
        assert_eq!(p["data"][0]["id"], 1_000_003);
        let p = get(&mut d, "/items?page=2&per_page=4");
        assert_eq!(p["data"][0]["id"], 1_000_005);
        let mut d = Dataset::new(DatasetSpec::new(DataStyle::Page, 10), 1);
        let p = get(&mut d, "/items?page=3&per_page=4");
        assert_eq!(
            (p["page"].clone(), p["total_pages"].clone()),
            (3.into(), 3.into())
        );
        assert_eq!(p["data"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn keyset_needs_its_tie_breaker() {
        // Four records a second: since=ts alone skips the rest of that second.
        let mut d = Dataset::new(DatasetSpec::new(DataStyle::Keyset, 12), 1);
        let p = get(&mut d, "/items?since=1600000000&since_id=1000001&limit=2");
        assert_eq!(p["data"][0]["id"], 1_000_002);
        let p = get(&mut d, "/items?since=1600000000&limit=2");
        assert_eq!(p["data"][0]["id"], 1_000_004);
    }

    #[test]
    fn every_style_has_its_shape() {
        let shape = |style: DataStyle| {
            let mut d = Dataset::new(DatasetSpec::new(style, 5).page_size(2), 1);
            let body: &[u8] = match style {
                DataStyle::Graphql => br#"{"variables":{"first":2}}"#,
                DataStyle::SearchAfter => br#"{"size":2}"#,
                _ => b"",
            };
            let r = d.respond(
                0,
                &ModelRequest {
                    method: "GET",
                    path: "/items",
                    body,
                },
                PageChaos::default(),
            );
            let link = r
                .headers
                .get("link")
                .map(|v| v.to_str().unwrap().to_owned());
            (String::from_utf8(r.body).unwrap(), link)
        };
        let (b, _) = shape(DataStyle::Cursor);
        assert!(
            b.starts_with(r#"{"data":[{"id":1000000,"ts":1600000000},"#),
            "{b}"
        );
        assert!(b.contains(r#""next_cursor":""#), "{b}");
        let (b, link) = shape(DataStyle::Link);
        assert!(b.starts_with('['), "{b}");
        let link = link.unwrap();
        assert!(
            link.starts_with("<https://api.test/items?per_page=2&after="),
            "{link}"
        );
        assert!(link.ends_with(r#">; rel="next""#), "{link}");
        let (b, _) = shape(DataStyle::NextUrl);
        assert!(b.contains(r#""next":"https://api.test/items?page[size]=2&page[after]="#));
        let (b, _) = shape(DataStyle::Token);
        assert!(b.contains(r#""nextPageToken":"#), "{b}");
        let (b, _) = shape(DataStyle::Graphql);
        assert!(
            b.contains(r#""pageInfo":{"hasNextPage":true,"endCursor":"#),
            "{b}"
        );
        let (b, _) = shape(DataStyle::SearchAfter);
        assert!(
            b.contains(r#"{"_id":"1000000","_source":{"id":1000000,"ts":1600000000},"sort":[1600000000,1000000]}"#),
            "{b}"
        );
    }

    #[test]
    fn page_chaos() {
        let chaos = |empty_page, repeat_cursor, self_cursor| PageChaos {
            empty_page,
            repeat_cursor,
            self_cursor,
        };
        let mut d = Dataset::new(DatasetSpec::new(DataStyle::Cursor, 5).page_size(2), 1);
        let ask = |d: &mut Dataset, path: &str, c: PageChaos| {
            let r = d.respond(
                0,
                &ModelRequest {
                    method: "GET",
                    path,
                    body: b"",
                },
                c,
            );
            serde_json::from_slice::<Value>(&r.body).unwrap()
        };
        let p = ask(&mut d, "/items", chaos(true, false, false));
        assert_eq!(p["data"].as_array().unwrap().len(), 0);
        let c = p["next_cursor"].as_str().unwrap().to_owned();
        let p = ask(
            &mut d,
            &format!("/items?cursor={c}"),
            chaos(false, true, false),
        );
        assert_eq!(
            p["data"][0]["id"], 1_000_000,
            "the empty page's cursor starts over"
        );
        assert_eq!(p["next_cursor"], c.as_str(), "repeated");
        let p = ask(&mut d, "/items?after_id=1000002", chaos(false, false, true));
        assert_eq!(p["data"].as_array().unwrap().len(), 2);
        let own = p["next_cursor"].as_str().unwrap();
        assert_eq!(
            decode(own),
            Some(1_000_002),
            "the last page points at itself"
        );
    }
}
