//! A style compiled ([`Plan`]): which pointers and headers to read, how the next position is
//! made, and which positive signal ends the list. [`Plan::read`] applies it to one page and
//! changes nothing; the walk adds its guards and bookkeeping.

use std::borrow::Cow;

use http::HeaderMap;
use serde_json::Value;
use serde_json::value::RawValue;
use url::Url;

use super::checkpoint::Position;
use super::detect::{header_count, results_false};
use super::end::EndReason;
use super::error::{GuardError, PageError, SpecError};
use super::json::{self, Items, Scalar};
use super::pointer::Pointer;
use super::spec::{KeyParam, Param, Source, Style, StyleKind};
use crate::headers::link::{find_rel, links_in};

/// A style compiled.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) kind: StyleKind,
    pub(crate) mech: Mech,
    next: Option<Pointer>,
    has_more: Option<Pointer>,
    done: Option<Pointer>,
    total: Option<Source>,
    total_pages: Option<Source>,
    next_page: Option<Source>,
    base: Option<Pointer>,
}

#[derive(Debug, Clone)]
pub(crate) enum Mech {
    Offset { param: Param, start: u64 },
    Page { param: Param, first: u64 },
    Cursor { param: Param },
    After { keys: Vec<KeyParam> },
    Link { rel: String },
    NextUrl,
}

/// What comes after a page.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Next {
    /// This position.
    More(Position),
    /// The list's end, and why.
    End(EndReason),
}

/// Where the walk stands when a page arrives.
pub(crate) struct At<'a> {
    pub(crate) position: &'a Position,
    /// Items received before this page.
    pub(crate) items_before: u64,
    /// The page size the server uses, once known (asked for and honoured, or learned).
    pub(crate) cap: Option<u64>,
    /// The walk's next page number (for messages).
    pub(crate) page: u64,
}

/// What a plan reads from a page.
pub(crate) struct Read<'b> {
    pub(crate) items: Vec<&'b RawValue>,
    pub(crate) total: Option<u64>,
    /// What follows, or the reason the walk must stop (the server says there is more and
    /// gives no way to get it, a `Link` header that does not parse, a next URL that is not one).
    pub(crate) next: Result<Next, GuardError>,
}

impl Plan {
    pub(crate) fn compile(style: &Style) -> Result<Plan, SpecError> {
        let plan = |kind, mech| Plan {
            kind,
            mech,
            next: None,
            has_more: None,
            done: None,
            total: None,
            total_pages: None,
            next_page: None,
            base: None,
        };
        Ok(match style {
            Style::Offset {
                param,
                start,
                total,
                has_more,
                done,
            } => Plan {
                total: total.clone(),
                has_more: has_more.clone(),
                done: done.clone(),
                ..plan(
                    StyleKind::Offset,
                    Mech::Offset {
                        param: param.clone(),
                        start: *start,
                    },
                )
            },
            Style::Page {
                param,
                first,
                total,
                total_pages,
                next_page,
                has_more,
                done,
            } => Plan {
                total: total.clone(),
                total_pages: total_pages.clone(),
                next_page: next_page.clone(),
                has_more: has_more.clone(),
                done: done.clone(),
                ..plan(
                    StyleKind::Page,
                    Mech::Page {
                        param: param.clone(),
                        first: *first,
                    },
                )
            },
            Style::Cursor {
                next,
                param,
                has_more,
                done,
            }
            | Style::Token {
                next,
                param,
                has_more,
                done,
            } => Plan {
                next: Some(next.clone()),
                has_more: has_more.clone(),
                done: done.clone(),
                ..plan(
                    style.kind(),
                    Mech::Cursor {
                        param: param.clone(),
                    },
                )
            },
            Style::Keyset {
                keys,
                has_more,
                done,
            } => {
                if keys.is_empty() {
                    return Err(SpecError::NoKeys);
                }
                Plan {
                    has_more: has_more.clone(),
                    done: done.clone(),
                    ..plan(StyleKind::Keyset, Mech::After { keys: keys.clone() })
                }
            }
            Style::Link { rel } => plan(StyleKind::Link, Mech::Link { rel: rel.clone() }),
            Style::NextUrl {
                next,
                done,
                has_more,
                base,
            } => Plan {
                next: Some(next.clone()),
                done: done.clone(),
                has_more: has_more.clone(),
                base: base.clone(),
                ..plan(StyleKind::NextUrl, Mech::NextUrl)
            },
            Style::Relay {
                page_info,
                variable,
            } => Plan {
                next: Some(page_info.child("endCursor")),
                has_more: Some(page_info.child("hasNextPage")),
                ..plan(
                    StyleKind::Relay,
                    Mech::Cursor {
                        param: Param::Body(Pointer::root().child("variables").child(variable)),
                    },
                )
            },
            Style::SearchAfter { sort, param } => plan(
                StyleKind::SearchAfter,
                Mech::After {
                    keys: vec![KeyParam {
                        field: sort.clone(),
                        param: param.clone(),
                    }],
                },
            ),
        })
    }

    pub(crate) fn body_params(&self) -> Vec<&Pointer> {
        fn one(p: &Param) -> Option<&Pointer> {
            match p {
                Param::Body(ptr) => Some(ptr),
                Param::Query(_) => None,
            }
        }
        match &self.mech {
            Mech::Offset { param, .. } | Mech::Page { param, .. } | Mech::Cursor { param } => {
                one(param).into_iter().collect()
            }
            Mech::After { keys } => keys.iter().filter_map(|k| one(&k.param)).collect(),
            Mech::Link { .. } | Mech::NextUrl => Vec::new(),
        }
    }

    /// Whether a position can be this plan's.
    pub(crate) fn fits(&self, pos: &Position) -> bool {
        match (&self.mech, pos) {
            (_, Position::Start | Position::End) => true,
            (Mech::Offset { .. }, Position::Offset(_)) | (Mech::Page { .. }, Position::Page(_)) => {
                true
            }
            (Mech::Cursor { .. }, Position::Cursor(_) | Position::Value(_)) => true,
            (Mech::After { keys }, Position::After(v)) => v.len() == keys.len(),
            (Mech::Link { .. } | Mech::NextUrl, Position::Url(_)) => true,
            _ => false,
        }
    }

    /// Whether the plan pages by offset or number (and so drifts when the list changes).
    pub(crate) fn drifts(&self) -> bool {
        matches!(self.mech, Mech::Offset { .. } | Mech::Page { .. })
    }

    /// Whether short pages end this plan's walks (a page shorter than the server's page size).
    pub(crate) fn sized(&self) -> bool {
        matches!(
            self.mech,
            Mech::Offset { .. } | Mech::Page { .. } | Mech::After { .. }
        )
    }

    /// Reads a page: its items, its total, and what follows. Changes nothing.
    pub(crate) fn read<'b>(
        &self,
        items_ptr: &Pointer,
        at: &At<'_>,
        base: &Url,
        headers: &HeaderMap,
        body: &'b [u8],
    ) -> Result<Read<'b>, PageError> {
        let body_src = |s: &Option<Source>| match s {
            Some(Source::Body(p)) => Some(p.clone()),
            _ => None,
        };
        let wanted: [Option<Pointer>; 7] = [
            self.next.clone(),
            self.has_more.clone(),
            self.done.clone(),
            body_src(&self.total),
            body_src(&self.total_pages),
            body_src(&self.next_page),
            self.base.clone(),
        ];
        let ptrs: Vec<&Pointer> = wanted.iter().flatten().collect();
        let found = json::extract_page(body, Some(items_ptr), &ptrs)?;
        let mut slot = 0;
        let mut values = wanted.iter().map(|w| {
            w.as_ref().and_then(|_| {
                slot += 1;
                found.values[slot - 1]
            })
        });
        let mut take = || values.next().flatten();
        let (v_next, v_more, v_done, v_total, v_pages, v_next_page, v_base) =
            (take(), take(), take(), take(), take(), take(), take());
        let items = match found.items {
            Items::Array(e) => e,
            Items::Missing => {
                return Err(PageError::ItemsMissing {
                    pointer: items_ptr.clone(),
                });
            }
            Items::NotArray => {
                return Err(PageError::ItemsNotArray {
                    pointer: items_ptr.clone(),
                });
            }
        };
        let has_more = read_bool(v_more, self.has_more.as_ref())?;
        let done = read_bool(v_done, self.done.as_ref())?;
        let total = read_source(&self.total, v_total, headers)?;
        let total_pages = read_source(&self.total_pages, v_pages, headers)?;
        let count = items.len() as u64;
        let page = at.page;

        // The flags come first: a page that says it is the last is; one that says there is
        // more is never an end.
        let flag_end = match (has_more, done) {
            (Some(false), _) => self
                .has_more
                .clone()
                .map(|at| EndReason::HasMoreFalse { at }),
            (_, Some(true)) => self.done.clone().map(|at| EndReason::Done { at }),
            _ => None,
        };
        let more = has_more == Some(true) || done == Some(false);
        let missing = || GuardError::NextMissing { page };
        // A page short of the server's page size, once that is known; an empty page.
        let short = |c: u64| -> Option<EndReason> {
            if c == 0 {
                return Some(EndReason::EmptyPage);
            }
            at.cap
                .filter(|&cap| c < cap)
                .map(|size| EndReason::ShortPage { records: c, size })
        };

        let next: Result<Next, GuardError> = if let Some(end) = flag_end {
            Ok(Next::End(end))
        } else {
            match &self.mech {
                Mech::Offset { start, .. } => {
                    let from = match at.position {
                        Position::Offset(n) => *n,
                        _ => *start,
                    };
                    let next_at = from.saturating_add(count);
                    let end = if more {
                        None
                    } else if count == 0 {
                        Some(EndReason::EmptyPage)
                    } else if let Some(t) = total {
                        (next_at >= t).then_some(EndReason::TotalReached {
                            at: next_at,
                            total: t,
                        })
                    } else {
                        short(count)
                    };
                    Ok(end.map_or(Next::More(Position::Offset(next_at)), Next::End))
                }
                Mech::Page { first, .. } => {
                    let p = match at.position {
                        Position::Page(n) => *n,
                        _ => *first,
                    };
                    let pages_seen = p.saturating_sub(*first).saturating_add(1);
                    let covered = match at.cap {
                        Some(s) => pages_seen.saturating_mul(s),
                        None => at.items_before.saturating_add(count),
                    };
                    let mut next_p = p.saturating_add(1);
                    let mut end = None;
                    if let Some(src) = &self.next_page {
                        match read_next_page(src, v_next_page, headers)? {
                            Some(n) if n > p => next_p = n,
                            // A next page that goes back is a server bug: read the rest.
                            Some(_) => {}
                            None if !more => end = Some(EndReason::NoNextPage { at: src.clone() }),
                            None => {}
                        }
                    }
                    if end.is_none() && !more {
                        end = if count == 0 {
                            Some(EndReason::EmptyPage)
                        } else if let Some(tp) = total_pages.filter(|&tp| pages_seen >= tp) {
                            Some(EndReason::PageCountReached {
                                page: pages_seen,
                                pages: tp,
                            })
                        } else if let Some(t) = total.filter(|&t| covered >= t) {
                            Some(EndReason::TotalReached {
                                at: covered,
                                total: t,
                            })
                        } else if total_pages.is_none() && total.is_none() {
                            short(count)
                        } else {
                            None
                        };
                    }
                    Ok(end.map_or(Next::More(Position::Page(next_p)), Next::End))
                }
                Mech::Cursor { .. } => match read_cursor(v_next, self.next.as_ref())? {
                    Some(c) => Ok(Next::More(c)),
                    _ if more => Err(missing()),
                    _ => Ok(Next::End(EndReason::NoNext {
                        at: self.next.clone().unwrap_or_else(Pointer::root),
                    })),
                },
                Mech::After { keys } => {
                    let end = if more { None } else { short(count) };
                    match (end, items.last()) {
                        (Some(e), _) => Ok(Next::End(e)),
                        (None, Some(last)) => keys
                            .iter()
                            .map(|k| {
                                json::find(last, &k.field)
                                    .filter(|v| json::scalar(v) != Scalar::Null)
                                    .and_then(|v| serde_json::from_str::<Value>(v).ok())
                            })
                            .collect::<Option<Vec<Value>>>()
                            .map(|v| Next::More(Position::After(v)))
                            .ok_or_else(missing),
                        (None, None) => Err(missing()),
                    }
                }
                Mech::Link { rel } => match links_in(headers) {
                    Err(e) => Err(GuardError::BadLinkHeader(e)),
                    Ok(links) => match find_rel(&links, rel) {
                        None => Ok(Next::End(EndReason::NoNextLink)),
                        Some(l) if results_false(l) => Ok(Next::End(EndReason::LinkResultsFalse)),
                        Some(l) => resolve(base, l.target()).map(Next::More),
                    },
                },
                Mech::NextUrl => match read_url(v_next, self.next.as_ref())? {
                    Some(u) if !u.is_empty() => {
                        let named = read_text(v_base, self.base.as_ref())
                            .ok()
                            .flatten()
                            .and_then(|b| Url::parse(&b).ok());
                        match named {
                            Some(b) if u.starts_with('/') && !u.starts_with("//") => {
                                resolve(&b, &under_base(&b, &u)).map(Next::More)
                            }
                            _ => resolve(base, &u).map(Next::More),
                        }
                    }
                    _ if more => Err(missing()),
                    _ => Ok(Next::End(EndReason::NoNext {
                        at: self.next.clone().unwrap_or_else(Pointer::root),
                    })),
                },
            }
        };
        Ok(Read { items, total, next })
    }
}

/// A path-only next URL under a base that has a path of its own (Confluence's
/// `https://x.atlassian.net/wiki` and `/rest/api/search?…`): the base's path, then the next
/// URL, unless the next URL already starts with the base's path.
fn under_base(base: &Url, next: &str) -> String {
    let path = base.path().trim_end_matches('/');
    if path.is_empty() || next.starts_with(&format!("{path}/")) {
        next.to_owned()
    } else {
        format!("{path}{next}")
    }
}

pub(crate) fn resolve(base: &Url, target: &str) -> Result<Position, GuardError> {
    base.join(target)
        .map(|u| Position::Url(u.into()))
        .map_err(|_| GuardError::BadNextUrl {
            value: truncate(target, 256),
        })
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

fn read_bool(v: Option<&RawValue>, p: Option<&Pointer>) -> Result<Option<bool>, PageError> {
    let Some(v) = v else { return Ok(None) };
    match json::scalar(v.get()) {
        Scalar::Null => Ok(None),
        Scalar::Bool(b) => Ok(Some(b)),
        Scalar::Str(s) if s == "true" => Ok(Some(true)),
        Scalar::Str(s) if s == "false" => Ok(Some(false)),
        _ => Err(wrong(p, "boolean")),
    }
}

fn read_count(v: Option<&RawValue>, p: Option<&Pointer>) -> Result<Option<u64>, PageError> {
    let Some(v) = v else { return Ok(None) };
    match json::scalar(v.get()) {
        Scalar::Null => Ok(None),
        Scalar::Number(n) => n.parse().map(Some).map_err(|_| wrong(p, "count")),
        Scalar::Str(s) => s.parse().map(Some).map_err(|_| wrong(p, "count")),
        _ => Err(wrong(p, "count")),
    }
}

/// A count from the body or a header; a header that is not a count is none.
fn read_source(
    s: &Option<Source>,
    v: Option<&RawValue>,
    headers: &HeaderMap,
) -> Result<Option<u64>, PageError> {
    match s {
        None => Ok(None),
        Some(Source::Body(p)) => read_count(v, Some(p)),
        Some(Source::Header(h)) => Ok(headers.get(h).and_then(|v| header_count(v.as_bytes()))),
    }
}

/// The next page's number: `None` when it is missing, `null`, empty or not a number.
fn read_next_page(
    s: &Source,
    v: Option<&RawValue>,
    headers: &HeaderMap,
) -> Result<Option<u64>, PageError> {
    match s {
        Source::Body(p) => match v.map(|v| json::scalar(v.get())) {
            None | Some(Scalar::Null) => Ok(None),
            Some(Scalar::Number(n)) => Ok(n.parse().ok()),
            Some(Scalar::Str(s)) if s.trim().is_empty() => Ok(None),
            Some(Scalar::Str(s)) => Ok(s.trim().parse().ok()),
            Some(_) => Err(wrong(Some(p), "page number")),
        },
        Source::Header(h) => Ok(headers.get(h).and_then(|v| header_count(v.as_bytes()))),
    }
}

/// A cursor, token or URL: a string, or a number taken as written. `null` is none.
fn read_text(v: Option<&RawValue>, p: Option<&Pointer>) -> Result<Option<String>, PageError> {
    let Some(v) = v else { return Ok(None) };
    match json::scalar(v.get()) {
        Scalar::Null => Ok(None),
        Scalar::Str(s) => Ok(Some(s.into_owned())),
        Scalar::Number(n) => Ok(Some(n.to_owned())),
        _ => Err(wrong(p, "string")),
    }
}

/// A cursor: a non-empty string or a number (taken as written), or an object or array sent
/// back whole. `null` and `""` are none; `{}` and `[]` are not cursors.
fn read_cursor(v: Option<&RawValue>, p: Option<&Pointer>) -> Result<Option<Position>, PageError> {
    let Some(raw) = v else { return Ok(None) };
    match json::scalar(raw.get()) {
        Scalar::Composite(text) => {
            let value: Value = serde_json::from_str(text).map_err(|_| wrong(p, "cursor"))?;
            let empty = match &value {
                Value::Object(m) => m.is_empty(),
                Value::Array(a) => a.is_empty(),
                _ => false,
            };
            if empty {
                return Err(wrong(p, "cursor"));
            }
            Ok(Some(Position::Value(value)))
        }
        _ => Ok(read_text(v, p)?
            .filter(|c| !c.is_empty())
            .map(Position::Cursor)),
    }
}

/// A next URL: a string, or an object holding it as `href`, `url`, `uri` or `link` (HAL,
/// HubSpot, Asana). An object without one is none.
fn read_url(v: Option<&RawValue>, p: Option<&Pointer>) -> Result<Option<String>, PageError> {
    let Some(raw) = v else { return Ok(None) };
    if let Scalar::Composite(text) = json::scalar(raw.get())
        && text.starts_with('{')
    {
        for member in ["href", "url", "uri", "link"] {
            if let Some(found) = json::find(raw, &Pointer::root().child(member)) {
                return match json::scalar(found) {
                    Scalar::Str(s) => Ok(Some(Cow::into_owned(s))),
                    Scalar::Null => Ok(None),
                    _ => Err(wrong(p, "URL")),
                };
            }
        }
        return Ok(None);
    }
    read_text(v, p)
}

fn wrong(p: Option<&Pointer>, expected: &'static str) -> PageError {
    PageError::WrongType {
        pointer: p.cloned().unwrap_or_else(Pointer::root),
        expected,
    }
}
