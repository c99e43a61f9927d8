//! Auto-detection: [`PageSpec::detect`] reads the whole first exchange (the request, the
//! response's headers and its body) and says how the list pages.

mod exchange;
mod names;
mod scan;

pub(crate) use exchange::{header_count, results_false};

use http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use self::exchange::{Heads, Request};
use self::names::{ParamRole, Role, norm};
use self::scan::{NoItems, Signal};
use super::checkpoint::Position;
use super::end::EndReason;
use super::error::PageError;
use super::json::BodyError;
use super::pointer::Pointer;
use super::request::RequestTemplate;
use super::spec::{KeyParam, PageSize, PageSpec, Param, Source, Style, StyleKind};

/// What the caller knows about how a list pages before its first response: every field given
/// wins, the rest is detected from the first exchange ([`PageSpec::detect_with`]). This is how
/// `paceline extract --paginate offset` finds the items, the total and the parameters it was
/// not told.
///
/// ```
/// use paceline::paginate::{Hints, Pointer, StyleKind};
///
/// let hints = Hints::default()
///     .style(StyleKind::Offset)
///     .items(Pointer::parse("/results").unwrap());
/// # let _ = hints;
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Hints {
    /// The style.
    pub style: Option<StyleKind>,
    /// Where the records are.
    pub items: Option<Pointer>,
    /// Where the next cursor, token or URL is.
    pub next: Option<Pointer>,
    /// The parameter that carries the cursor, token, offset or page number back.
    pub param: Option<Param>,
    /// Where the list's total is.
    pub total: Option<Source>,
    /// The page size to ask for, and its parameter (else the request's own, if it has one).
    pub page_size: Option<PageSize>,
    /// Keyset keys (field of the last record → parameter).
    pub keys: Vec<KeyParam>,
    /// Where a record's identity is.
    pub key: Option<Pointer>,
    /// Drop records whose key was already delivered.
    pub dedupe: bool,
    /// The first response is the whole list: no paging at all (`paceline extract
    /// --paginate none`).
    pub single_page: bool,
}

impl Hints {
    /// Sets [`Hints::style`].
    pub fn style(mut self, kind: StyleKind) -> Self {
        self.style = Some(kind);
        self
    }
    /// Sets [`Hints::items`].
    pub fn items(mut self, p: Pointer) -> Self {
        self.items = Some(p);
        self
    }
    /// Sets [`Hints::next`].
    pub fn next(mut self, p: Pointer) -> Self {
        self.next = Some(p);
        self
    }
    /// Sets [`Hints::param`].
    pub fn param(mut self, p: Param) -> Self {
        self.param = Some(p);
        self
    }
    /// Sets [`Hints::total`].
    pub fn total(mut self, s: Source) -> Self {
        self.total = Some(s);
        self
    }
    /// Sets [`Hints::page_size`].
    pub fn page_size(mut self, param: Param, size: u64) -> Self {
        self.page_size = Some(PageSize { param, size });
        self
    }
    /// Adds a keyset key.
    pub fn key_param(mut self, field: Pointer, param: Param) -> Self {
        self.keys.push(KeyParam { field, param });
        self
    }
    /// Sets [`Hints::key`] and [`Hints::dedupe`].
    pub fn dedupe_by(mut self, key: Pointer) -> Self {
        self.key = Some(key);
        self.dedupe = true;
        self
    }

    /// Whether nothing is given.
    pub fn is_empty(&self) -> bool {
        *self == Hints::default()
    }
}

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

    fn relay(&self) -> Option<Detection> {
        let data = self.doc.get("data")?;
        let (conn, m) = find_connection(data, &Pointer::root().child("data"), 0)?;
        let items = if m.get("nodes").is_some_and(Value::is_array) {
            conn.child("nodes")
        } else {
            conn.child("edges")
        };
        let variable = self
            .req
            .relay_variable()
            .unwrap_or_else(|| "after".to_owned());
        let mut spec = PageSpec::new(
            Style::Relay {
                page_info: conn.child("pageInfo"),
                variable: variable.clone(),
            },
            "",
        );
        spec.items = items;
        Some(detected(
            spec,
            format!("a GraphQL connection's pageInfo at {conn}; the cursor goes in ${variable}"),
        ))
    }

    fn search_after(&self) -> Option<Detection> {
        let hits = self.doc.get("hits")?.get("hits")?.as_array()?;
        if !hits
            .iter()
            .all(|h| h.get("sort").is_some_and(Value::is_array))
            || hits.is_empty()
        {
            return None;
        }
        let mut spec = PageSpec::new(
            Style::SearchAfter {
                sort: Pointer::from_static("/sort"),
                param: Param::body("/search_after"),
            },
            "/hits/hits",
        );
        spec.key = Some(Pointer::from_static("/_id"));
        spec.page_size = self.size();
        Some(detected(
            spec,
            "search hits with sort values (search_after)",
        ))
    }

    fn next_url(&self) -> Option<Detection> {
        let is_url = |v: &Value| {
            scan::url_in(v).is_some() && !(v.is_object() && self.cursor_member(v).is_some())
        };
        let s = self
            .signal(Role::NextUrl, is_url)
            .or_else(|| self.signal(Role::NextUrl, Value::is_null))?;
        let spec = self.with_flags(PageSpec::new(
            Style::NextUrl {
                next: s.pointer.clone(),
                done: None,
                has_more: None,
                base: self.base_beside(&s.pointer),
            },
            "",
        ));
        let found = match scan::url_in(s.value) {
            Some((_, Some(member))) => format!("the next URL at {}/{member}", s.pointer),
            Some(_) => format!("the next URL at {}", s.pointer),
            None => format!("a next URL at {} (null: the last page)", s.pointer),
        };
        Some(detected(spec, found))
    }

    /// A `base` URL beside a next link (Confluence's `_links.base`).
    fn base_beside(&self, next: &Pointer) -> Option<Pointer> {
        let tokens = next.tokens();
        let parent = tokens[..tokens.len().saturating_sub(1)]
            .iter()
            .fold(Pointer::root(), |p, t| p.child(t));
        let base = parent.child("base");
        base.find(self.doc)
            .and_then(Value::as_str)
            .filter(|b| b.starts_with("http://") || b.starts_with("https://"))
            .map(|_| base)
    }

    /// A cursor-role member of an object (HubSpot's `paging.next.after`).
    fn cursor_member<'v>(&self, v: &'v Value) -> Option<(&'v str, &'v Value)> {
        v.as_object()?.iter().find_map(|(k, v)| {
            matches!(names::body_role(&norm(k)), Some(Role::Cursor(_))).then_some((k.as_str(), v))
        })
    }

    /// A cursor or token in the body (`kind`: the style asked for, if any).
    fn cursor(&self, kind: Option<StyleKind>) -> Option<Detection> {
        let is_cursor = |s: &&Signal<'_>| match s.role {
            Role::Cursor(_) => true,
            // Airtable's `offset` is a string token, not a number.
            Role::Offset => s.value.as_str().is_some_and(|t| t.parse::<u64>().is_err()),
            _ => false,
        };
        let cursors: Vec<&Signal<'_>> = self.signals.iter().filter(is_cursor).collect();
        let s = cursors
            .iter()
            .find(|s| {
                scan::token(s.value).is_some() || s.value.as_object().is_some_and(|m| !m.is_empty())
            })
            .or_else(|| {
                cursors
                    .iter()
                    .find(|s| s.value.is_null() || s.value.as_str() == Some(""))
            })?;
        let conv = match s.role {
            Role::Cursor(c) => c,
            _ => "offset",
        };
        let kind = kind.unwrap_or(if norm(&s.key) == "nextpagetoken" {
            StyleKind::Token
        } else {
            StyleKind::Cursor
        });
        Some(self.cursor_at(&s.pointer, &s.key, conv, kind))
    }

    /// A cursor at `at`, whose member is named `key`, sent back by convention as `conv`
    /// (`""`: as `key`).
    fn cursor_at(&self, at: &Pointer, key: &str, conv: &str, kind: StyleKind) -> Detection {
        let notion = norm(key) == "nextcursor"
            && self.doc.get("object").and_then(Value::as_str) == Some("list")
            && self.doc.get("has_more").is_some();
        let (param, guessed) = match (&self.hints.param, self.req.find(ParamRole::Cursor)) {
            (Some(p), _) => (p.clone(), false),
            (None, Some(c)) => (c.param, false),
            (None, None) => {
                let name = if notion {
                    "start_cursor"
                } else if conv.is_empty() {
                    key
                } else {
                    conv
                };
                (self.req.place(&same_case(key, name)), true)
            }
        };
        let style = if kind == StyleKind::Token {
            Style::Token {
                next: at.clone(),
                param: param.clone(),
                has_more: None,
                done: None,
            }
        } else {
            Style::Cursor {
                next: at.clone(),
                param: param.clone(),
                has_more: None,
                done: None,
            }
        };
        let mut spec = self.with_flags(PageSpec::new(style, ""));
        spec.page_size = self.size();
        let value = at
            .find(self.doc)
            .filter(|v| scan::token(v).is_some() || v.as_object().is_some_and(|m| !m.is_empty()));
        let mut d = detected(
            spec.clone(),
            format!("a cursor at {at}, sent back as {}", param_name(&param)),
        );
        if guessed && let Some(value) = value {
            // Sent back under its own name when the convention's does not work (Jira's
            // `nextPageToken`, Twitter's `next_token` on its search endpoints).
            let own = self.req.place(key);
            let rest = (own != param)
                .then(|| {
                    let mut other = spec;
                    if let Style::Cursor { param, .. } | Style::Token { param, .. } =
                        &mut other.style
                    {
                        *param = own;
                    }
                    Candidate {
                        spec: other,
                        next: match scan::token(value) {
                            Some(t) => Position::Cursor(t),
                            None => Position::Value(value.clone()),
                        },
                        base: false,
                    }
                })
                .into_iter()
                .collect();
            d.probe = Some(Probe {
                why: format!(
                    "the cursor at {at} is sent back as {} by convention",
                    param_name(&param)
                ),
                rest,
                base: false,
                fail: Fail::Stop,
            });
        }
        d
    }

    fn stripe(&self) -> Option<Detection> {
        self.doc
            .get("has_more")
            .and_then(scan::flag)
            .filter(|_| !self.records.is_empty())?;
        if !self.records.iter().all(|r| r.get("id").is_some()) {
            return None;
        }
        let mut spec = PageSpec::starting_after("");
        let param = self
            .req
            .find(ParamRole::Cursor)
            .map(|c| c.param)
            .unwrap_or_else(|| self.req.place("starting_after"));
        if let Style::Keyset { keys, .. } = &mut spec.style {
            keys[0].param = param.clone();
        }
        spec.page_size = self.size();
        let mut d = detected(
            spec,
            format!(
                "has_more, and records with an id: keyset by {}",
                param_name(&param)
            ),
        );
        d.probe = Some(Probe {
            why: "the last record's id is sent back as starting_after by convention (Stripe)"
                .into(),
            rest: Vec::new(),
            base: false,
            fail: Fail::Stop,
        });
        Some(d)
    }

    /// Offsets and page numbers the exchange shows.
    fn numeric(&self) -> Option<Detection> {
        if let Some(c) = self.req.find(ParamRole::Offset) {
            return Some(self.offset(Some(c.param)));
        }
        if let Some(c) = self.req.find(ParamRole::Page) {
            return Some(self.page(Some(c.param)));
        }
        let says_more = self.total().is_some() || self.pages().is_some();
        if let Some(s) = self.signal(Role::Page, |v| scan::count(v).is_some())
            && says_more
        {
            let name = match norm(&s.key).as_str() {
                "page" | "currentpage" | "number" | "pageindex" => "page".to_owned(),
                _ => s.key.clone(),
            };
            return Some(self.page(Some(self.req.place(&name))));
        }
        if let Some(s) = self.signal(Role::Offset, |v| scan::count(v).is_some())
            && says_more
        {
            return Some(self.offset(Some(self.req.place(&s.key))));
        }
        if self.heads.next_page.is_some() {
            return Some(self.page(None));
        }
        if self
            .signal(Role::NextUrl, |v| scan::count(v).is_some())
            .is_some()
        {
            // Harvest's `next_page: 2`.
            return Some(self.page(None));
        }
        None
    }

    /// The parameter of an offset or page walk: `param` (the caller's, or one the body named),
    /// else the request's own, else `default`; what the request carries by that role; and
    /// whether the parameter is a guess.
    fn param_for(
        &self,
        role: ParamRole,
        param: Option<Param>,
        default: &str,
    ) -> (Param, Option<exchange::Carried>, bool) {
        let carried = self.req.find(role);
        let (param, guessed) = match (param, &carried) {
            (Some(p), _) => {
                let guessed =
                    carried.as_ref().is_none_or(|c| c.param != p) && self.hints.param.is_none();
                (p, guessed)
            }
            (None, Some(c)) => (c.param.clone(), false),
            (None, None) => (self.req.place(default), true),
        };
        (param, carried, guessed)
    }

    /// An offset walk by `param` (else the request's offset parameter, else a guess).
    fn offset(&self, param: Option<Param>) -> Detection {
        let (param, carried, guessed) = self.param_for(ParamRole::Offset, param, "offset");
        let start = carried
            .as_ref()
            .filter(|c| c.param == param)
            .and_then(exchange::Carried::number)
            .unwrap_or(0);
        let spec = self.offset_spec(param.clone(), start);
        let size = spec.page_size.as_ref().map(|p| p.size);
        let mut d = detected(spec, format!("offsets, sent as {}", param_name(&param)));
        // A later page: the pages before it were full at the size asked.
        d.cap = self.echoed_size().or(size.filter(|&s| s > 0 && start >= s));
        if guessed && self.count > 0 && !self.ends_here() {
            d.probe = Some(Probe {
                why: format!("the offset is sent as {} by guess", param_name(&param)),
                rest: Vec::new(),
                base: false,
                fail: Fail::Stop,
            });
        }
        d
    }

    fn offset_spec(&self, param: Param, start: u64) -> PageSpec {
        let mut spec = self.with_flags(PageSpec::new(
            Style::Offset {
                param,
                start,
                total: self.total().map(|t| t.0),
                has_more: None,
                done: None,
            },
            "",
        ));
        spec.page_size = self.size();
        spec
    }

    /// A page-number walk by `param` (else the request's page parameter, else a guess).
    fn page(&self, param: Option<Param>) -> Detection {
        let (param, carried, guessed) = self.param_for(ParamRole::Page, param, "page");
        // This page's number: the request's, else the body's or a header's. Pages count
        // from 0 when it is 0, or when the body numbers them Spring Data's way (`number`,
        // always from 0); else from 1.
        let body_page = self.signal(Role::Page, |v| scan::count(v).is_some());
        let current = carried
            .as_ref()
            .filter(|c| c.param == param)
            .and_then(exchange::Carried::number)
            .or_else(|| body_page.and_then(|s| scan::count(s.value)))
            .or(self.heads.page);
        let zero_based = current == Some(0) || body_page.is_some_and(|s| norm(&s.key) == "number");
        let base = u64::from(!zero_based);
        let spec = self.page_spec(param.clone(), base);
        let size = spec.page_size.as_ref().map(|p| p.size);
        let mut d = detected(
            spec,
            format!("page numbers, sent as {}", param_name(&param)),
        );
        d.start = current.filter(|&c| c != base).map(Position::Page);
        d.cap = self
            .echoed_size()
            .or(size.filter(|_| current.is_some_and(|c| c > base)));
        if (guessed || current.is_none()) && self.count > 0 && !self.ends_here() {
            d.probe = Some(Probe {
                why: format!("the page number is sent as {} by guess", param_name(&param)),
                rest: Vec::new(),
                base: current.is_none(),
                fail: Fail::Stop,
            });
        }
        d
    }

    fn page_spec(&self, param: Param, first: u64) -> PageSpec {
        let next_page = self
            .heads
            .next_page
            .as_ref()
            .map(|(s, _)| s.clone())
            .or_else(|| {
                self.signal(Role::NextUrl, |v| scan::count(v).is_some() || v.is_null())
                    .filter(|s| norm(&s.key) == "nextpage")
                    .map(|s| Source::Body(s.pointer.clone()))
            })
            .or_else(|| {
                self.signal(Role::NextPage, |v| scan::count(v).is_some() || v.is_null())
                    .map(|s| Source::Body(s.pointer.clone()))
            });
        let mut spec = self.with_flags(PageSpec::new(
            Style::Page {
                param,
                first,
                total: self.total().map(|t| t.0),
                total_pages: self.pages(),
                next_page,
                has_more: None,
                done: None,
            },
            "",
        ));
        spec.page_size = self.size();
        spec
    }

    /// The end a flag of the first page shows: `has_more` false, `done` true.
    fn flag_end(&self) -> Option<EndReason> {
        let value = |role| {
            self.flag(role)
                .and_then(|p| Some((p.find(self.doc).and_then(scan::flag)?, p)))
        };
        match (value(Role::HasMore), value(Role::Done)) {
            (Some((false, at)), _) => Some(EndReason::HasMoreFalse { at }),
            (_, Some((true, at))) => Some(EndReason::Done { at }),
            _ => None,
        }
    }

    /// Whether the first page already shows the list's end by a flag or a total.
    fn ends_here(&self) -> bool {
        self.flag_end().is_some()
            || self
                .total()
                .and_then(|t| t.1)
                .is_some_and(|t| t <= self.count)
    }

    /// No paging signal at all.
    fn unsignalled(&self) -> Detection {
        let total = self.total();
        let size = self.size();
        let end = |reason: EndReason| Detection {
            end: Some(reason),
            ..detected(PageSpec::link(""), "no paging signal")
        };
        if let Some(reason) = self.flag_end() {
            return end(reason);
        }
        if self.count == 0 {
            return end(EndReason::EmptyPage);
        }
        if let Some((_, Some(t))) = total
            && t <= self.count
        {
            return end(EndReason::TotalReached {
                at: self.count,
                total: t,
            });
        }
        // Fewer records than the server's own page size is the end; fewer than asked is the
        // end too, once one more request shows the server does not cap the size below it.
        if let Some(cap) = self.echoed_size()
            && total.is_none()
            && self.count < cap
        {
            return end(EndReason::ShortPage {
                records: self.count,
                size: cap,
            });
        }
        let short = size
            .as_ref()
            .filter(|s| total.is_none() && self.count < s.size)
            .map(|s| EndReason::ShortPage {
                records: self.count,
                size: s.size,
            });
        let why = match (&total, &size) {
            _ if short.is_some() => format!(
                "{} records, fewer than asked for: the end, unless the server gives fewer than \
                 it is asked for",
                self.count
            ),
            (Some((_, Some(t))), _) => format!(
                "the total ({t}) says more than the {} records here, and nothing says how to ask for them",
                self.count
            ),
            (Some((s, None)), _) => {
                format!("{s} says there is a total, and nothing says how to ask for the rest")
            }
            (None, Some(s)) => format!(
                "a full page ({} records, as many as {} asked for) and nothing says whether more follow",
                self.count,
                param_name(&s.param)
            ),
            (None, None) => format!(
                "{} records, no page size asked for, and nothing says whether more follow",
                self.count
            ),
        };
        // With nothing said at all, a list the usual parameters do not page is one page only
        // when it is shorter than any page size servers use (10): a server paging 20, 34 or 50
        // at a time by a parameter of its own looks the same, so that is a stop, not an end
        // (`--paginate none` says the list is one page).
        let fail = match short {
            Some(reason) => Fail::End(reason),
            None if total.is_some() || size.is_some() || page_sized(self.count) => Fail::Stop,
            None => Fail::End(EndReason::Unpaginated),
        };
        let guesses: Vec<(ParamRole, String)> = match &size {
            Some(s) => names::companions(param_name(&s.param)),
            None => vec![
                (ParamRole::Offset, "offset".to_owned()),
                (ParamRole::Page, "page".to_owned()),
            ],
        };
        let mut candidates = guesses.into_iter().map(|(role, name)| {
            let param = self.req.place(&name);
            match role {
                ParamRole::Page => Candidate {
                    spec: self.page_spec(param, 1),
                    next: Position::Page(1),
                    base: true,
                },
                _ => Candidate {
                    spec: self.offset_spec(param, 0),
                    next: Position::Offset(self.count),
                    base: false,
                },
            }
        });
        let Some(first) = candidates.next() else {
            return end(EndReason::Unpaginated);
        };
        Detection {
            probe: Some(Probe {
                why,
                rest: candidates.collect(),
                base: first.base,
                fail,
            }),
            ..detected(
                first.spec.clone(),
                format!("no paging signal; trying {}", first.spec.style.kind()),
            )
        }
    }

    /// Keyset keys given for an offset or page list are the drift-free way it also offers: the
    /// walk switches to them as soon as a page ends on a record that has them
    /// ([`PageSpec::prefer`]), and reads the rest of the list by keyset.
    fn keyset_beside(&self, spec: &mut PageSpec) {
        if self.hints.keys.is_empty()
            || !matches!(spec.style.kind(), StyleKind::Offset | StyleKind::Page)
            || spec.prefer.is_some()
        {
            return;
        }
        spec.prefer = Some(Style::Keyset {
            keys: self.hints.keys.clone(),
            has_more: None,
            done: None,
        });
    }

    /// Offset and page walks get the records' `id` as their key when every record of the first
    /// page has a distinct one, and drop records seen twice (the same record, shifted by a
    /// change ahead of the offset). A key given wins.
    fn identity(&self, spec: &mut PageSpec) {
        if let Some(k) = &self.hints.key {
            spec.key = Some(k.clone());
            spec.dedupe = self.hints.dedupe;
            return;
        }
        if spec.key.is_some()
            || !matches!(spec.style.kind(), StyleKind::Offset | StyleKind::Page)
            || self.records.is_empty()
        {
            return;
        }
        let ids: Option<Vec<String>> = self
            .records
            .iter()
            .map(|r| r.get("id").filter(|v| !v.is_null()).map(Value::to_string))
            .collect();
        if let Some(mut ids) = ids {
            let n = ids.len();
            ids.sort_unstable();
            ids.dedup();
            if ids.len() == n {
                spec.key = Some(Pointer::from_static("/id"));
                spec.dedupe = true;
            }
        }
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
