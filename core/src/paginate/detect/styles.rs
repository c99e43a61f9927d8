//! Reading a page as one style: the server's own pointers (relay, `search_after`, next URLs,
//! cursors, Stripe's `starting_after`) and the numeric ones (offset, page number).

use serde_json::Value;

use super::names::{ParamRole, Role, norm};
use super::scan::Signal;
use crate::paginate::checkpoint::Position;
use crate::paginate::pointer::Pointer;
use crate::paginate::spec::{PageSpec, Param, Source, Style, StyleKind};

use super::*;

impl Reading<'_> {
    pub(super) fn relay(&self) -> Option<Detection> {
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

    pub(super) fn search_after(&self) -> Option<Detection> {
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

    pub(super) fn next_url(&self) -> Option<Detection> {
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
    pub(super) fn base_beside(&self, next: &Pointer) -> Option<Pointer> {
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
    pub(super) fn cursor(&self, kind: Option<StyleKind>) -> Option<Detection> {
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
    pub(super) fn cursor_at(
        &self,
        at: &Pointer,
        key: &str,
        conv: &str,
        kind: StyleKind,
    ) -> Detection {
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

    pub(super) fn stripe(&self) -> Option<Detection> {
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
    pub(super) fn numeric(&self) -> Option<Detection> {
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
    pub(super) fn offset(&self, param: Option<Param>) -> Detection {
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

    pub(super) fn offset_spec(&self, param: Param, start: u64) -> PageSpec {
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
    pub(super) fn page(&self, param: Option<Param>) -> Detection {
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

    pub(super) fn page_spec(&self, param: Param, first: u64) -> PageSpec {
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
}
