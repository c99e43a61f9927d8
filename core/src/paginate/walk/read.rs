//! Reading a page: what it says (assessed), the guards, and the walk's commitment to it.

use http::{HeaderMap, StatusCode};
use url::Url;

use crate::paginate::checkpoint::Position;
use crate::paginate::detect::Fail;
use crate::paginate::end::EndReason;
use crate::paginate::error::{GuardError, PageError};
use crate::paginate::hash::Hasher;
use crate::paginate::json::{self, Scalar};
use crate::paginate::page::{After, Page, PageEvent, WalkState};
use crate::paginate::plan::{At, Mech, Next, Plan, truncate};
use crate::paginate::spec::{PageSpec, Style, StyleKind};

use super::{Assessment, Probing, Walk};

impl Walk {
    /// Feeds the final response to the pending request.
    ///
    /// **Contract.** Hand the walk only a request's final response, after the Pacer is done
    /// with it: retrying 429s and 5xx is the Pacer's business. A non-2xx status here is
    /// [`PageError::Status`] and changes nothing — except while a guessed parameter is being
    /// checked ([`PageEvent::Probing`]): a 4xx then means the server refuses the guess, and
    /// the walk moves on to the next one (or ends, or stops).
    ///
    /// - `Err(PageError)`: the response is unusable (not JSON, truncated, no items). The walk
    ///   has not moved; the same request is pending. Resend it a bounded number of times when
    ///   [`PageError::is_transient`], else give up.
    /// - `Ok(page)`: deliver `page.records(body)`, then persist [`Walk::checkpoint`], then
    ///   look at [`Page::after`]: more, complete (and why), or stopped by a guard.
    ///
    /// Calling it when no request is pending is a no-op returning an empty page.
    pub fn on_page(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Page, PageError> {
        let Some(pending) = &self.pending else {
            return Ok(Page {
                number: self.pages,
                records: Vec::new(),
                duplicates: 0,
                after: match &self.state {
                    WalkState::Stopped(e) => After::Stopped(e.clone()),
                    WalkState::Complete(r) => After::Complete(r.clone()),
                    WalkState::Running => After::Complete(EndReason::AlreadyComplete),
                },
            });
        };
        if !status.is_success() {
            if self.probe.is_some()
                && status.is_client_error()
                && status != StatusCode::TOO_MANY_REQUESTS
            {
                let why = format!("the server answered {}", status.as_u16());
                return Ok(self.reject_guess(why, Some(status.as_u16())));
            }
            return Err(PageError::Status(status));
        }
        let base = pending.url.clone();
        let mut detected = None;
        if self.spec.is_none() {
            let d = PageSpec::detect_with(&self.template, headers, body, &self.hints)?;
            let mut spec = d.spec.clone();
            spec.guards = self.guards.clone();
            self.install(spec.clone())
                .map_err(|e| PageError::Undetected {
                    what: e.to_string(),
                })?;
            self.events.push_back(PageEvent::Detected(Box::new(spec)));
            if let Some(p) = &d.start {
                self.position = p.clone();
            }
            if d.cap.is_some() {
                self.cap = d.cap;
            }
            // The first request went before the style was known, so `restart` could not note
            // its URL: a next URL leading back to it is a repeat too (else the first page's
            // records would be delivered again).
            if let Some(Mech::Link { .. } | Mech::NextUrl) = self.plan.as_ref().map(|p| &p.mech)
                && let Some(h) = Position::Url(base.to_string()).repeat_hash()
            {
                self.seen.insert(h);
            }
            detected = Some(d);
        }
        let new_probe = detected.as_ref().and_then(|d| d.probe.clone());
        let hash = new_probe.is_some() || self.probe.is_some();
        let (Some(plan), Some(spec)) = (&self.plan, &self.spec) else {
            return Err(PageError::NotAList);
        };
        let mut a = self.assess(plan, spec, &base, headers, body, hash)?;
        if self.pages == 0
            && let Some(prefer) = &self.prefer
            && let Ok(b) = self.assess(prefer, spec, &base, headers, body, hash)
            && offers(prefer, &b)
        {
            a = Assessment {
                switched: true,
                ..b
            };
        }
        if let Some(reason) = detected.and_then(|d| d.end) {
            a.next = Some(Next::End(reason));
            a.stop = None;
        }
        if let Some(probe) = new_probe {
            if matches!(a.next, Some(Next::More(_))) && a.stop.is_none() {
                if probe.base
                    && let Some(Mech::Page { first, .. }) = self.plan.as_ref().map(|p| &p.mech)
                {
                    // Pages may count from 0: ask for the first page again by number.
                    a.next = Some(Next::More(Position::Page(*first)));
                }
                let mut first: Vec<u128> = a.hashes.clone();
                first.sort_unstable();
                self.probe = Some(Probing { probe, first });
            }
        } else if let Some(probing) = &self.probe {
            let same = a.count > 0
                && a.hashes
                    .iter()
                    .all(|h| probing.first.binary_search(h).is_ok());
            if same && probing.probe.base {
                return Ok(self.counts_from_one());
            }
            if same {
                return Ok(self.reject_guess("the server sent the first page again".into(), None));
            }
            if probing.probe.base && a.count > 0 {
                // `page=1` brought the second page: pages count from 0.
                self.set_first_page(0);
                let (Some(plan), Some(spec)) = (&self.plan, &self.spec) else {
                    return Err(PageError::NotAList);
                };
                a = self.assess(plan, spec, &base, headers, body, false)?;
            }
            self.probe = None;
            if a.count > 0 {
                self.events.push_back(PageEvent::Confirmed {
                    page: self.pages + 1,
                    style: self.plan.as_ref().map_or(StyleKind::Link, |p| p.kind),
                });
            }
        }
        Ok(self.commit(a))
    }

    /// Reads the page against a plan, without changing the walk.
    fn assess(
        &self,
        plan: &Plan,
        spec: &PageSpec,
        base: &Url,
        headers: &HeaderMap,
        body: &[u8],
        hash_records: bool,
    ) -> Result<Assessment, PageError> {
        let at = At {
            position: &self.position,
            items_before: self.raw_seen,
            // Unknown on the first page unless the exchange shows it: its length is then the
            // server's page size (a short one is checked by asking for the next page).
            cap: self.cap,
            page: self.pages + 1,
        };
        let read = plan.read(&spec.items, &at, base, headers, body)?;
        let items = &read.items;
        let key = spec.key.as_ref();
        let count = items.len() as u64;
        // Keys are kept where they earn their memory: to de-duplicate, or to see offset and page
        // walks drift. Cursor-like walks do not drift.
        let track = spec.dedupe || !self.redelivered.is_empty() || plan.drifts();
        let mut records = Vec::with_capacity(items.len());
        let mut keys = Vec::new();
        let mut hashes = Vec::new();
        for item in items {
            records.push(json::range_in(body, item));
            if let Some(k) = key.filter(|_| track) {
                keys.push(json::find(item, k).and_then(json::key_hash));
            }
            if hash_records {
                hashes.push(Hasher::new().write(item.get().as_bytes()).finish());
            }
        }
        let last_key = key
            .and_then(|k| items.last().and_then(|i| json::find(i, k)))
            .map(|v| match json::scalar(v) {
                Scalar::Str(s) => truncate(&s, 256),
                _ => truncate(v, 256),
            });
        let items_hash = (count > 0).then(|| {
            let mut h = Hasher::new();
            for item in items {
                h.piece(item.get().as_bytes());
            }
            h.finish()
        });
        let (next, mut stop) = match read.next {
            Ok(n) => (Some(n), None),
            Err(e) => (None, Some(e)),
        };
        let mut cross_origin = false;
        if stop.is_none()
            && let Some(Next::More(pos)) = &next
        {
            stop = self.guard(pos, count, &mut cross_origin);
        }
        // An offset or page walk whose list grew by exactly one page between two requests
        // reads the same records twice; so does one whose server ignores the parameter or
        // serves a stale page, where going on would silently skip records. Only a `total` that
        // grew by at least the page's records tells them apart: then the repeat is drift (its
        // records are not delivered again and the walk goes on), once in a row at most.
        let shifted = plan.drifts()
            && self.repeats == 0
            && read
                .total
                .zip(self.last_total)
                .is_some_and(|(now, before)| now >= before.saturating_add(count.max(1)));
        let repeat = items_hash.is_some() && items_hash == self.last_items;
        if repeat && !shifted {
            stop = Some(GuardError::PageRepeated {
                page: self.pages + 1,
            });
        }
        Ok(Assessment {
            switched: false,
            records,
            keys,
            hashes,
            count,
            items_hash,
            total: read.total,
            last_key,
            next,
            stop,
            cross_origin,
            repeat,
        })
    }

    /// The guards on a next position.
    fn guard(&self, pos: &Position, count: u64, cross_origin: &mut bool) -> Option<GuardError> {
        let page = self.pages + 1;
        if let Some(h) = pos.repeat_hash()
            && self.seen.contains(&h)
        {
            return Some(match pos {
                Position::Url(u) => GuardError::UrlRepeated {
                    page,
                    url: truncate(u, 256),
                },
                Position::After(_) => GuardError::KeysRepeated { page },
                _ => GuardError::CursorRepeated { page },
            });
        }
        if let Position::Url(u) = pos {
            match Url::parse(u).map_err(|_| GuardError::BadNextUrl {
                value: truncate(u, 256),
            }) {
                Ok(url) => match self.credentials_for(&url) {
                    Ok(same) => *cross_origin = !same,
                    Err(e) => return Some(e),
                },
                Err(e) => return Some(e),
            }
        }
        if count == 0 && self.empty_streak + 1 > self.guards.max_empty_pages {
            return Some(GuardError::TooManyEmptyPages {
                count: self.empty_streak + 1,
            });
        }
        if page >= self.guards.max_pages {
            return Some(GuardError::MaxPages {
                max: self.guards.max_pages,
            });
        }
        None
    }

    /// The page `page=1` brought is the first page again: pages count from 1 (or the server
    /// ignores the parameter, which the next page will show). Nothing is delivered.
    fn counts_from_one(&mut self) -> Page {
        let number = self.pages + 1;
        self.pages = number;
        if let Some(p) = &mut self.probe {
            p.probe.base = false;
        }
        if let Position::Page(n) = self.position {
            self.position = Position::Page(n.saturating_add(1));
        }
        self.restart();
        self.note_probe(number + 1);
        Page {
            number,
            records: Vec::new(),
            duplicates: 0,
            after: After::More,
        }
    }

    /// The guessed parameter did not bring the next page: try the next guess, or end, or stop.
    fn reject_guess(&mut self, why: String, status: Option<u16>) -> Page {
        let number = self.pages + 1;
        self.pages = number;
        let guess = self
            .pending
            .as_ref()
            .map(|r| self.guess_text(r))
            .unwrap_or_default();
        self.events.push_back(PageEvent::GuessRejected {
            page: number,
            guess,
            why,
        });
        let Some(mut probing) = self.probe.take() else {
            return self.stopped(number, GuardError::NextMissing { page: number });
        };
        while !probing.probe.rest.is_empty() {
            let c = probing.probe.rest.remove(0);
            let mut spec = c.spec;
            spec.guards = self.guards.clone();
            if self.install(spec.clone()).is_ok() {
                probing.probe.base = c.base;
                self.position = c.next;
                self.probe = Some(probing);
                self.events.push_back(PageEvent::Detected(Box::new(spec)));
                self.restart();
                self.note_probe(number + 1);
                return Page {
                    number,
                    records: Vec::new(),
                    duplicates: 0,
                    after: After::More,
                };
            }
        }
        match probing.probe.fail.clone() {
            Fail::End(reason) => {
                let reason = match status {
                    Some(status) => EndReason::ProbeRefused { status },
                    None => reason,
                };
                self.finish(number, reason.clone());
                Page {
                    number,
                    records: Vec::new(),
                    duplicates: 0,
                    after: After::Complete(reason),
                }
            }
            Fail::Stop => {
                let why = probing.probe.why.clone();
                // Kept, so that a resumed walk asks the same and stops the same.
                self.probe = Some(probing);
                self.stopped(number, GuardError::Undetermined { page: number, why })
            }
        }
    }

    fn stopped(&mut self, number: u64, e: GuardError) -> Page {
        self.pending = None;
        self.state = WalkState::Stopped(e.clone());
        Page {
            number,
            records: Vec::new(),
            duplicates: 0,
            after: After::Stopped(e),
        }
    }

    fn finish(&mut self, page: u64, reason: EndReason) {
        self.position = Position::End;
        self.pending = None;
        self.end = Some(reason.clone());
        self.state = WalkState::Complete(reason.clone());
        self.events.push_back(PageEvent::Complete { page, reason });
    }

    /// Reports the guess the pending request makes.
    fn note_probe(&mut self, page: u64) {
        let (Some(req), Some(p)) = (&self.pending, &self.probe) else {
            return;
        };
        let guess = self.guess_text(req);
        let why = p.probe.why.clone();
        self.events
            .push_back(PageEvent::Probing { page, guess, why });
    }

    /// Pages count from `first` (a page-number guess learned it).
    fn set_first_page(&mut self, first_page: u64) {
        let Some(mut spec) = self.spec.clone() else {
            return;
        };
        if let Style::Page { first, .. } = &mut spec.style {
            *first = first_page;
        }
        let _ = self.install(spec);
    }

    /// Applies an assessment: counters, keys, events, the next request.
    fn commit(&mut self, a: Assessment) -> Page {
        let number = self.pages + 1;
        if a.switched
            && let Some(p) = self.prefer.take()
        {
            let from = self.plan.as_ref().map_or(p.kind, |o| o.kind);
            self.events
                .push_back(PageEvent::Switched { from, to: p.kind });
            self.plan = Some(p);
        }
        let drifts = self.plan.as_ref().is_some_and(Plan::drifts);
        let sized = self.plan.as_ref().is_some_and(Plan::sized);
        let repeated = a.repeat;
        let dedupe = self.spec.as_ref().is_some_and(|s| s.dedupe);
        let mut records = Vec::new();
        let (mut dups, mut missing, mut again) = (0u32, 0u32, 0u32);
        let tracking = !a.keys.is_empty();
        if !repeated {
            records.reserve(a.records.len());
            let mut keys = a.keys.into_iter();
            for r in a.records {
                let key = keys.next().flatten();
                // Held by the consumer already: kept track of as delivered, not handed out.
                let held = key.is_some_and(|h| self.redelivered.remove(&h));
                match key {
                    Some(h) if !self.keys.insert(h) => {
                        dups += 1;
                        if dedupe {
                            continue;
                        }
                    }
                    Some(h) if dedupe && self.guards.resume_window > 0 => {
                        if self.recent.len() >= self.guards.resume_window {
                            self.recent.pop_front();
                        }
                        self.recent.push_back(h);
                    }
                    Some(_) => {}
                    None if tracking => missing += 1,
                    None => {}
                }
                if held {
                    again += 1;
                    continue;
                }
                records.push(r);
            }
        } else if a.stop.is_none() {
            // A list that shifted by exactly one page: the same records again, dropped.
            dups = u32::try_from(a.count).unwrap_or(u32::MAX);
        }
        if dups > 0 {
            self.events.push_back(PageEvent::DuplicateKeys {
                page: number,
                count: dups,
                dropped: dedupe || repeated,
            });
            if drifts {
                self.drift.repeated += u64::from(dups);
            }
        }
        if again > 0 {
            self.events.push_back(PageEvent::Redelivered {
                page: number,
                count: again,
            });
        }
        if missing > 0 {
            self.events.push_back(PageEvent::MissingKeys {
                page: number,
                count: missing,
            });
        }
        if let Some(t) = a.total {
            if let Some(prev) = self.last_total
                && prev != t
            {
                self.events.push_back(PageEvent::TotalChanged {
                    page: number,
                    from: prev,
                    to: t,
                });
                if drifts {
                    self.drift.total_changes += 1;
                    if t < prev {
                        self.drift.total_fell += prev - t;
                    } else {
                        self.drift.total_rose += t - prev;
                    }
                }
            }
            self.first_total.get_or_insert(t);
            self.last_total = Some(t);
        }
        if sized && self.pages == 0 && self.cap.is_none() && a.count > 0 {
            self.cap = Some(a.count);
        }
        self.pages = number;
        self.records += records.len() as u64 + u64::from(again);
        self.raw_seen = self.raw_seen.saturating_add(a.count);
        self.empty_streak = if a.count == 0 {
            self.empty_streak + 1
        } else {
            0
        };
        if a.items_hash.is_some() {
            self.repeats = if a.items_hash == self.last_items {
                self.repeats + 1
            } else {
                0
            };
            self.last_items = a.items_hash;
        }
        if a.last_key.is_some() {
            self.last_key = a.last_key;
        }
        if a.cross_origin
            && a.stop.is_none()
            && let Some(Next::More(Position::Url(u))) = &a.next
        {
            self.events
                .push_back(PageEvent::CrossOrigin { url: u.clone() });
        }
        let after = match (a.stop, a.next) {
            (stop, next) if stop.is_some() || next.is_none() => {
                let e = e_or_missing(number, stop);
                // The checkpoint points at the refused page: a walk resumed with other guards
                // goes on from there.
                self.position = match next {
                    Some(Next::More(pos)) => {
                        if let Some(h) = pos.repeat_hash() {
                            self.seen.insert(h);
                        }
                        pos
                    }
                    _ => Position::End,
                };
                self.pending = None;
                self.state = WalkState::Stopped(e.clone());
                After::Stopped(e)
            }
            (_, Some(Next::More(pos))) => {
                if let Some(h) = pos.repeat_hash() {
                    self.seen.insert(h);
                }
                self.position = pos;
                self.restart();
                if self.probe.is_some() && self.pages == 1 {
                    self.note_probe(number + 1);
                }
                After::More
            }
            (_, None) => unreachable!("handled by the first arm"),
            (_, Some(Next::End(reason))) => {
                // Fewer distinct records than the list held throughout (the smaller of its first
                // and last totals) is a record lost to drift, or a total that lies.
                if drifts && let (Some(first), Some(last)) = (self.first_total, self.last_total) {
                    let distinct = if dedupe {
                        self.records
                    } else {
                        self.records.saturating_sub(self.drift.repeated)
                    };
                    self.drift.shortfall = first.min(last).saturating_sub(distinct);
                }
                self.finish(number, reason.clone());
                After::Complete(reason)
            }
        };
        Page {
            number,
            records,
            duplicates: if dedupe { dups } else { 0 },
            after,
        }
    }
}

fn e_or_missing(page: u64, e: Option<GuardError>) -> GuardError {
    e.unwrap_or(GuardError::NextMissing { page })
}

/// Whether a preferred plan's reading of the first page offers its style.
fn offers(plan: &Plan, a: &Assessment) -> bool {
    match &plan.mech {
        Mech::Cursor { .. } | Mech::After { .. } | Mech::Link { .. } | Mech::NextUrl => {
            matches!(a.next, Some(Next::More(_))) && a.stop.is_none()
        }
        Mech::Offset { .. } | Mech::Page { .. } => false,
    }
}
