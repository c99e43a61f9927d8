//! A page that names no way on: where the list ends, and what the probe may try.

use serde_json::Value;

use super::names::{ParamRole, Role};
use crate::paginate::checkpoint::Position;
use crate::paginate::end::EndReason;
use crate::paginate::pointer::Pointer;
use crate::paginate::spec::{PageSpec, Style, StyleKind};

use super::*;

impl Reading<'_> {
    /// The end a flag of the first page shows: `has_more` false, `done` true.
    pub(super) fn flag_end(&self) -> Option<EndReason> {
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
    pub(super) fn ends_here(&self) -> bool {
        self.flag_end().is_some()
            || self
                .total()
                .and_then(|t| t.1)
                .is_some_and(|t| t <= self.count)
    }

    /// No paging signal at all.
    pub(super) fn unsignalled(&self) -> Detection {
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
    pub(super) fn keyset_beside(&self, spec: &mut PageSpec) {
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
    pub(super) fn identity(&self, spec: &mut PageSpec) {
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
