//! Auto-detection: [`PageSpec::detect`] reads the whole first exchange (the request, the
//! response's headers and its body) and says how the list pages.

mod exchange;
mod hints;
mod names;
mod scan;
mod styles;
mod unsignalled;

pub use hints::Hints;

pub(crate) use exchange::{header_count, results_false};

use http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use self::exchange::{Heads, Request};
use self::names::{Role, norm};
use self::scan::{NoItems, Signal};
use super::checkpoint::Position;
use super::end::EndReason;
use super::error::PageError;
use super::json::BodyError;
use super::pointer::Pointer;
use super::request::RequestTemplate;
use super::spec::{KeyParam, PageSize, PageSpec, Param, Source, Style, StyleKind};

/// What detection made of a first exchange.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Detection {
    /// The spec to walk with.
    pub spec: PageSpec,
    /// What the spec was read from, for a person (`"body /next holds the next URL"`).
    pub found: String,
    /// Set when the first page is the whole list for a reason the spec's own rules do not
    /// read (a list with no paging at all: an empty page, or a short one).
    pub end: Option<EndReason>,
    /// Set when the next request is a probe: a guess that the second page must confirm by
    /// bringing records the first did not have.
    pub(crate) probe: Option<Probe>,
    /// Where the first page is, when not at the style's start (a later page's number).
    pub(crate) start: Option<Position>,
    /// The page size the server uses, when the exchange shows it: echoed in the body
    /// (`pagelen`), or asked for on a later page (the pages before it were full).
    pub(crate) cap: Option<u64>,
}

impl Detection {
    /// When the next request is a guess to be confirmed: why, and the parameter it tries.
    pub fn probe(&self) -> Option<&str> {
        self.probe.as_ref().map(|p| p.why.as_str())
    }
}

/// A guess being checked: the spec in force is tried first, then `rest`, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Probe {
    /// Why the walk cannot just go on.
    pub(crate) why: String,
    /// The other specs to try, each with the position it asks for next.
    pub(crate) rest: Vec<Candidate>,
    /// The pending request asks for the first page again by number, to learn whether pages
    /// count from 0 or from 1 (a page-number guess with nothing to tell).
    #[serde(default)]
    pub(crate) base: bool,
    /// What no working candidate means.
    pub(crate) fail: Fail,
}

/// One guess: a spec, and where it goes next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Candidate {
    pub(crate) spec: PageSpec,
    pub(crate) next: Position,
    #[serde(default)]
    pub(crate) base: bool,
}

/// What it means when no guess works.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Fail {
    /// The list was one page after all (nothing said there was more).
    End(EndReason),
    /// Something said there was more: stop, and say so.
    Stop,
}

impl PageSpec {
    /// The spec a first exchange implies, when the caller gave none: the request (its method,
    /// query and JSON body: `limit`/`offset`, `page`/`per_page`/`size`, `skip`/`top`,
    /// `startAt`/`maxResults`, cursors it already carries), the response's headers (`Link`
    /// with its RFC 8288 parameters, `X-Total-Count`, `X-Total`, `X-WP-Total`,
    /// `X-Total-Pages`, `X-Next-Page`, `Content-Range`) and its body. The walk reports what it
    /// chose with [`super::PageEvent::Detected`]. The rules, first match wins:
    ///
    /// | the first exchange has | style chosen |
    /// |---|---|
    /// | a `Link` header with `rel="next"` (or `prev`/`first`/`last` only: the last page), and no body member saying otherwise | [`Style::Link`] |
    /// | a GraphQL connection's `pageInfo` (under `data`) | [`Style::Relay`], cursor in the query's `after:` variable |
    /// | `hits.hits` whose hits carry `sort` | [`Style::SearchAfter`] |
    /// | a next URL: `next`, `next_url`, `nextLink`, `@odata.nextLink`, `nextRecordsUrl`, `next_page` holding a URL, or an object with `href`/`url`/`uri`/`link` (HAL's `_links.next`), at the top or in an envelope (`links`, `paging`, `meta`, `pagination`…) | [`Style::NextUrl`] |
    /// | a cursor or token: `next_cursor`, `cursor`, `nextPageToken`, `next_token`, `continuation`, `continue`, `after`, `marker`, `starting_after`, `next_start`, a string `offset` (Airtable) | [`Style::Cursor`] ([`Style::Token`] for `nextPageToken`) |
    /// | `has_more` and records with an `id`, no cursor | [`Style::Keyset`] by `starting_after` (Stripe) |
    /// | an offset or page parameter in the request; or in the body a page number with a page count or total, or an offset with a total; or an `X-Next-Page` header | [`Style::Offset`] or [`Style::Page`] |
    ///
    /// Flags beside them (`has_more`, `hasMore`, `more_items_in_collection`, `isLast`, `done`,
    /// `last`), totals (`total`, `total_count`, `totalSize`, `count` when larger than the page,
    /// `X-Total-Count`…) and page counts (`total_pages`, `last_page`, `pageCount`,
    /// `X-Total-Pages`…) are attached to the style, so the walk ends on the first positive
    /// signal. A cursor goes back where the request carried it, else in the JSON body of a
    /// POST, else in the query; when its parameter is a convention (`next_cursor` →
    /// `cursor`), the second page must confirm it.
    ///
    /// **When nothing says how the list pages**, the first page alone decides only what it
    /// can prove: no records is the end; `total` records or fewer is the end; fewer records
    /// than the page size asked for (with no total) is the end. Anything else — a total above
    /// the records here, a full page, or records with no page size asked — is probed: the
    /// next page is requested with the usual offset and page parameters that go with the
    /// request's page-size parameter (`limit` → `offset`, then `page`; `_limit` → `_start`;
    /// `$top` → `$skip`; `maxResults` → `startAt`; none → `offset`, then `page`), and a guess
    /// counts only when it brings records the first page did not have. When none does, a
    /// list whose total or full page said more stops with
    /// [`super::GuardError::Undetermined`]; one that said nothing ends as
    /// [`EndReason::Unpaginated`].
    ///
    /// The items are the body itself when it is an array; else the one array of objects
    /// beside arrays of strings, links or errors (`errors`, `_links`, `included`, `facets` are
    /// never records), one to three levels down (`data.children`, `_embedded.orders`); else the
    /// shallowest array by a well-known name (`data`, `items`, `results`, `records`, `value`,
    /// `entries`, `nodes`, `edges`, `hits`, `elements`, `rows`, `content`…). Several arrays of
    /// records and no well-known name is [`PageError::AmbiguousItems`]; no array is
    /// [`PageError::NotAList`].
    ///
    /// ```
    /// use http::HeaderMap;
    /// use paceline::paginate::{PageSpec, RequestTemplate, StyleKind};
    ///
    /// // The seeds' API: `GET /v1/companies?limit=10` → `{"items": [...], "total": 2000}`.
    /// let t = RequestTemplate::get("https://app.pact.place/v1/companies?limit=10").unwrap();
    /// let items: Vec<_> = (1..=10).map(|i| serde_json::json!({"id": i})).collect();
    /// let body = serde_json::json!({"items": items, "total": 2000}).to_string();
    /// let d = PageSpec::detect(&t, &HeaderMap::new(), body.as_bytes()).unwrap();
    /// assert_eq!(d.spec.style.kind(), StyleKind::Offset);
    /// assert!(d.probe().is_some(), "offset= is a guess the second page must confirm");
    /// ```
    pub fn detect(
        template: &RequestTemplate,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Detection, PageError> {
        PageSpec::detect_with(template, headers, body, &Hints::default())
    }

    /// [`PageSpec::detect`], with what the caller already knows ([`Hints`]): a style given
    /// is the one used, and every field given wins over what would be detected.
    pub fn detect_with(
        template: &RequestTemplate,
        headers: &HeaderMap,
        body: &[u8],
        hints: &Hints,
    ) -> Result<Detection, PageError> {
        let doc: Value =
            serde_json::from_slice(body).map_err(|e| PageError::Body(BodyError::from(e)))?;
        let items = match &hints.items {
            Some(p) => match p.find(&doc) {
                Some(Value::Array(_)) => p.clone(),
                Some(_) => return Err(PageError::ItemsNotArray { pointer: p.clone() }),
                None => return Err(PageError::ItemsMissing { pointer: p.clone() }),
            },
            None => match scan::items(&doc) {
                // A GraphQL connection's records are its nodes, however deep.
                _ if let Some((conn, m)) = doc
                    .get("data")
                    .and_then(|d| find_connection(d, &Pointer::root().child("data"), 0)) =>
                {
                    conn.child(if m.get("nodes").is_some_and(Value::is_array) {
                        "nodes"
                    } else {
                        "edges"
                    })
                }
                Ok(p) => p,
                Err(NoItems::None) => return Err(PageError::NotAList),
                Err(NoItems::Ambiguous(candidates)) => {
                    return Err(PageError::AmbiguousItems { candidates });
                }
            },
        };
        let records: &[Value] = items
            .find(&doc)
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        let signals = scan::signals(&doc);
        let r = Reading {
            doc: &doc,
            records,
            count: records.len() as u64,
            signals: &signals,
            req: Request::read(template),
            heads: Heads::read(headers),
            hints,
        };
        let mut d = match hints.style {
            _ if hints.single_page => Detection {
                end: Some(EndReason::Unpaginated),
                ..detected(PageSpec::link(""), "given: the list is not paged")
            },
            None => r.auto(),
            Some(kind) => r.as_style(kind)?,
        };
        d.spec.items = items.clone();
        r.identity(&mut d.spec);
        r.keyset_beside(&mut d.spec);
        if let Some(p) = &mut d.probe {
            for c in &mut p.rest {
                c.spec.items = items.clone();
                r.identity(&mut c.spec);
                r.keyset_beside(&mut c.spec);
            }
        }
        Ok(d)
    }
}

/// A first exchange, read.
struct Reading<'a> {
    doc: &'a Value,
    records: &'a [Value],
    count: u64,
    signals: &'a [Signal<'a>],
    req: Request,
    heads: Heads,
    hints: &'a Hints,
}

fn detected(spec: PageSpec, found: impl Into<String>) -> Detection {
    Detection {
        spec,
        found: found.into(),
        end: None,
        probe: None,
        start: None,
        cap: None,
    }
}

impl Reading<'_> {
    fn auto(&self) -> Detection {
        let h = &self.heads;
        if (h.link_next || h.link_next_empty || h.link_paging || h.link_broken)
            && !self.body_says_more()
        {
            return detected(
                PageSpec::link(""),
                if self.heads.link_next {
                    "the Link header's rel=\"next\""
                } else {
                    "the Link header (no rel=\"next\": the last page)"
                },
            );
        }
        if let Some(d) = self.relay() {
            return d;
        }
        if let Some(d) = self.search_after() {
            return d;
        }
        if let Some(d) = self.next_url() {
            return d;
        }
        if let Some(d) = self.cursor(None) {
            return d;
        }
        if let Some(d) = self.stripe() {
            return d;
        }
        if let Some(d) = self.carried() {
            return d;
        }
        if let Some(d) = self.numeric() {
            return d;
        }
        self.unsignalled()
    }

    /// A later page of a cursor walk whose response gives no cursor back: the request carries
    /// one (`pageToken=…`, Airtable's `offset=itr…`, a POST body's `after`), the body has none
    /// and says nothing of more. The end.
    fn carried(&self) -> Option<Detection> {
        let c = self.req.carried_cursor()?;
        if self.body_says_more() {
            return None;
        }
        let name = param_name(&c.param).to_owned();
        let spec = self.with_flags(PageSpec::new(
            Style::Cursor {
                next: Pointer::root().child(&name),
                param: c.param.clone(),
                has_more: None,
                done: None,
            },
            "",
        ));
        Some(Detection {
            end: Some(self.flag_end().unwrap_or(EndReason::CursorNotReturned {
                param: name.clone(),
            })),
            ..detected(
                spec,
                format!("a later page of a cursor walk ({name} in the request)"),
            )
        })
    }

    /// The page size the body says the server uses (`pagelen`, `page_size`, `hitsPerPage`).
    fn echoed_size(&self) -> Option<u64> {
        self.signal(Role::Size, |v| scan::count(v).is_some_and(|n| n > 0))
            .and_then(|s| scan::count(s.value))
    }

    /// A style the caller named: its missing parts detected.
    fn as_style(&self, kind: StyleKind) -> Result<Detection, PageError> {
        let missing = |what: &str| PageError::Undetected {
            what: what.to_owned(),
        };
        Ok(match kind {
            // GitHub sends no `Link` header when the list fits in one page; json-server sends
            // none without `_page`. With no header at all the page is read as if no style had
            // been named, so that a total saying more is not taken for the end.
            StyleKind::Link => {
                let h = &self.heads;
                if h.link_next || h.link_next_empty || h.link_paging || h.link_broken {
                    detected(PageSpec::link(""), "given: the Link header")
                } else {
                    self.auto()
                }
            }
            StyleKind::NextUrl => match &self.hints.next {
                Some(p) => detected(
                    self.with_flags(PageSpec::new(
                        Style::NextUrl {
                            next: p.clone(),
                            done: None,
                            has_more: None,
                            base: self.base_beside(p),
                        },
                        "",
                    )),
                    format!("given: the next URL at {p}"),
                ),
                None => self
                    .next_url()
                    .ok_or_else(|| missing("a next URL in the body (give its pointer)"))?,
            },
            StyleKind::Cursor | StyleKind::Token => match &self.hints.next {
                Some(p) => {
                    let key = p.tokens().last().cloned().unwrap_or_default();
                    let conv = names::body_role(&norm(&key)).and_then(|r| match r {
                        Role::Cursor(c) => Some(c),
                        _ => None,
                    });
                    self.cursor_at(p, &key, conv.unwrap_or("cursor"), kind)
                }
                // A cursor that rides in a next URL (Django REST framework's CursorPagination)
                // is followed by that URL.
                None => self
                    .cursor(Some(kind))
                    .or_else(|| self.next_url())
                    .ok_or_else(|| missing("a cursor or token in the body (give its pointer)"))?,
            },
            StyleKind::Offset => self.offset(self.hints.param.clone()),
            StyleKind::Page => self.page(self.hints.param.clone()),
            StyleKind::Keyset => {
                let keys = if self.hints.keys.is_empty() {
                    vec![KeyParam {
                        field: Pointer::from_static("/id"),
                        param: self.req.place("after_id"),
                    }]
                } else {
                    self.hints.keys.clone()
                };
                let mut spec = self.with_flags(PageSpec::new(
                    Style::Keyset {
                        keys,
                        has_more: None,
                        done: None,
                    },
                    "",
                ));
                spec.page_size = self.size();
                detected(spec, "given: keyset")
            }
            StyleKind::Relay => self
                .relay()
                .ok_or_else(|| missing("a GraphQL connection with pageInfo under /data"))?,
            StyleKind::SearchAfter => self
                .search_after()
                .ok_or_else(|| missing("hits.hits with sort values"))?,
        })
    }

    /// Whether the body says there is more: a next URL, a cursor, a `has_more` that is true
    /// or a `done` that is false.
    fn body_says_more(&self) -> bool {
        self.signals.iter().any(|s| match s.role {
            Role::NextUrl => scan::url_in(s.value).is_some(),
            Role::Cursor(_) => scan::token(s.value).is_some(),
            Role::HasMore => scan::flag(s.value) == Some(true),
            Role::Done => scan::flag(s.value) == Some(false),
            _ => false,
        })
    }

    /// The first signal with this role whose value passes `keep`.
    fn signal(&self, role: Role, keep: impl Fn(&Value) -> bool) -> Option<&Signal<'_>> {
        self.signals
            .iter()
            .find(|s| s.role == role && keep(s.value))
    }

    fn flag(&self, role: Role) -> Option<Pointer> {
        self.signal(role, |v| scan::flag(v).is_some())
            .map(|s| s.pointer.clone())
    }

    /// The list's total: given, else in the body (a `count` only when larger than the page),
    /// else a header.
    fn total(&self) -> Option<(Source, Option<u64>)> {
        if let Some(t) = &self.hints.total {
            return Some((t.clone(), self.read(t)));
        }
        let body = self
            .signal(Role::Total, |v| scan::count(v).is_some())
            .map(|s| (Source::Body(s.pointer.clone()), scan::count(s.value)))
            .or_else(|| {
                // Elasticsearch's `hits.total: {"value": 40, "relation": "eq"}`.
                self.signal(Role::Total, |v| {
                    v.get("relation").and_then(Value::as_str) == Some("eq")
                        && v.get("value").and_then(scan::count).is_some()
                })
                .map(|s| {
                    (
                        Source::Body(s.pointer.child("value")),
                        s.value.get("value").and_then(scan::count),
                    )
                })
            })
            .or_else(|| {
                self.signal(Role::MaybeTotal, |v| {
                    scan::count(v).is_some_and(|n| n > self.count)
                })
                .map(|s| (Source::Body(s.pointer.clone()), scan::count(s.value)))
            });
        body.or_else(|| self.heads.total.clone().map(|(s, n)| (s, Some(n))))
    }

    fn pages(&self) -> Option<Source> {
        self.signal(Role::Pages, |v| scan::count(v).is_some())
            .map(|s| Source::Body(s.pointer.clone()))
            .or_else(|| self.heads.pages.clone().map(|(s, _)| s))
    }

    fn read(&self, s: &Source) -> Option<u64> {
        match s {
            Source::Body(p) => p.find(self.doc).and_then(scan::count),
            Source::Header(_) => None,
        }
    }

    fn size(&self) -> Option<PageSize> {
        self.hints
            .page_size
            .clone()
            .or_else(|| self.req.page_size())
    }

    /// A spec with the body's `has_more` and `done` flags.
    fn with_flags(&self, mut spec: PageSpec) -> PageSpec {
        let (more, done) = (self.flag(Role::HasMore), self.flag(Role::Done));
        if let Some((m, d)) = spec.style.flags_mut() {
            *m = m.take().or(more);
            *d = d.take().or(done);
        }
        spec
    }
}

/// The page size a request already asks for, and its parameter.
pub(crate) fn requested_page_size(t: &RequestTemplate) -> Option<PageSize> {
    Request::read(t).page_size()
}

/// Whether a page's length could be a server's page size: 10 or more (default page sizes
/// below 10 are not seen in the wild: GitHub 30, Stripe 10, DRF and Django 25 to 100, Rails'
/// Kaminari 25, Spring 20).
fn page_sized(n: u64) -> bool {
    n >= 10
}

/// `name` in the case convention of `key`: `Marker` for AWS's `NextMarker`.
fn same_case(key: &str, name: &str) -> String {
    let mut chars = name.chars();
    match (key.chars().next(), chars.next()) {
        (Some(k), Some(first)) if k.is_ascii_uppercase() => {
            first.to_ascii_uppercase().to_string() + chars.as_str()
        }
        _ => name.to_owned(),
    }
}

/// A parameter as a person writes it: `cursor`, or `body /start_cursor`.
pub(crate) fn param_name(p: &Param) -> &str {
    match p {
        Param::Query(n) => n,
        Param::Body(p) => p.tokens().last().map_or("", String::as_str),
    }
}

/// The first object under `v` (at most four levels down) that holds a `pageInfo` object: a
/// GraphQL connection.
fn find_connection<'v>(
    v: &'v Value,
    at: &Pointer,
    depth: usize,
) -> Option<(Pointer, &'v serde_json::Map<String, Value>)> {
    let m = v.as_object()?;
    if m.get("pageInfo").is_some_and(Value::is_object)
        && (m.get("nodes").is_some_and(Value::is_array)
            || m.get("edges").is_some_and(Value::is_array))
    {
        return Some((at.clone(), m));
    }
    if depth >= 4 {
        return None;
    }
    m.iter()
        .find_map(|(k, v)| find_connection(v, &at.child(k), depth + 1))
}

#[cfg(test)]
mod tests;
