//! The walk: one machine per pass through a list endpoint.

use std::collections::{HashSet, VecDeque};
use std::ops::Range;

use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use url::{Origin, Url};

use super::checkpoint::{CHECKPOINT_VERSION, Checkpoint, Position};
use super::detect::{Fail, Hints, Probe, param_name};
use super::end::{Drift, EndReason};
use super::error::{GuardError, PageError, ResumeError, SpecError};
use super::hash::Hasher;
use super::json::{self, Scalar};
use super::page::{After, Page, PageEvent, WalkState};
use super::plan::{At, Mech, Next, Plan, truncate};
use super::pointer::Pointer;
use super::request::{PageRequest, RequestTemplate, set_body, set_param, without_credentials};
use super::seen::Seen;
use super::spec::{Guards, PageSize, PageSpec, Param, Style, StyleKind};

/// A guess being checked ([`PageEvent::Probing`]), as a checkpoint keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Probing {
    pub(crate) probe: Probe,
    /// The first page's records' hashes, sorted: a page made only of them is the first page
    /// again.
    #[serde(with = "super::checkpoint::hex_keys")]
    pub(crate) first: Vec<u128>,
}

/// What a page says, before the walk commits to it.
struct Assessment {
    switched: bool,
    records: Vec<Range<usize>>,
    keys: Vec<Option<u128>>,
    /// The records' own hashes, while a guess is checked.
    hashes: Vec<u128>,
    count: u64,
    items_hash: Option<u128>,
    total: Option<u64>,
    last_key: Option<String>,
    /// What follows, when the page says (even if a guard then refuses it).
    next: Option<Next>,
    stop: Option<GuardError>,
    cross_origin: bool,
    /// The records are exactly the previous page's: none is delivered again.
    repeat: bool,
}

/// One walk through a list endpoint. See the [module docs](super) for the loop that drives it.
#[derive(Debug, Clone)]
pub struct Walk {
    spec: Option<PageSpec>,
    auto: bool,
    hints: Hints,
    guards: Guards,
    plan: Option<Plan>,
    prefer: Option<Plan>,
    template: RequestTemplate,
    body_json: Option<Value>,
    fingerprint: u64,
    allowed: Vec<Origin>,
    position: Position,
    pending: Option<PageRequest>,
    state: WalkState,
    end: Option<EndReason>,
    pages: u64,
    records: u64,
    raw_seen: u64,
    empty_streak: u32,
    last_items: Option<u128>,
    /// Pages in a row identical to the one before.
    repeats: u32,
    seen: Seen,
    keys: Seen,
    recent: VecDeque<u128>,
    /// Keys of records the consumer holds beyond the checkpoint ([`Walk::already_delivered`]).
    redelivered: HashSet<u128>,
    first_total: Option<u64>,
    last_total: Option<u64>,
    last_key: Option<String>,
    /// The page size the server uses: the first page's record count (a page shorter than it
    /// is the last; before it is known, a short first page is checked by asking for the next).
    cap: Option<u64>,
    probe: Option<Probing>,
    drift: Drift,
    events: VecDeque<PageEvent>,
}

impl Walk {
    /// A walk of the list `template` asks for, paged as `spec` says.
    pub fn new(spec: PageSpec, template: RequestTemplate) -> Result<Walk, SpecError> {
        let mut walk = Walk::bare(spec.guards.clone(), template)?;
        walk.install(spec)?;
        walk.restart();
        Ok(walk)
    }

    /// A walk that detects its spec from the first exchange ([`PageSpec::detect`]), reported
    /// as [`PageEvent::Detected`] and by [`Walk::spec`]. The first request is the template as
    /// it is.
    pub fn auto(template: RequestTemplate, guards: Guards) -> Result<Walk, SpecError> {
        Walk::auto_with(template, Hints::default(), guards)
    }

    /// [`Walk::auto`], told part of the spec ([`Hints`]: a style, where the items or the next
    /// cursor are); the rest is detected ([`PageSpec::detect_with`]).
    pub fn auto_with(
        template: RequestTemplate,
        hints: Hints,
        guards: Guards,
    ) -> Result<Walk, SpecError> {
        let mut walk = Walk::bare(guards, template)?;
        walk.auto = true;
        walk.hints = hints;
        walk.restart();
        Ok(walk)
    }

    /// A walk that goes on from a checkpoint: the pages and records it counted, its position,
    /// and (de-duplicating walks) its recent keys. `spec` `None` takes the spec recorded by an
    /// auto-detected walk.
    ///
    /// Errors: an unknown version, a template whose fingerprint differs from the checkpoint's
    /// (another method, URL or body), a style that is neither the spec's nor its preferred
    /// one, a next URL on an origin the guards do not allow.
    pub fn resume(
        spec: Option<PageSpec>,
        template: RequestTemplate,
        checkpoint: &Checkpoint,
    ) -> Result<Walk, ResumeError> {
        let auto = spec.is_none();
        let spec = spec
            .or_else(|| checkpoint.spec.clone())
            .ok_or(ResumeError::NoSpec)?;
        Walk::resume_spec(spec, auto, template, checkpoint)
    }

    /// Resumes an auto-detected walk with the spec its checkpoint recorded, under `guards`
    /// (this run's: a next URL's origin allowed now, a new page budget), not the guards it
    /// was detected with.
    pub fn resume_auto(
        template: RequestTemplate,
        guards: Guards,
        checkpoint: &Checkpoint,
    ) -> Result<Walk, ResumeError> {
        let spec = checkpoint.spec.clone().ok_or(ResumeError::NoSpec)?;
        Walk::resume_spec(spec.guards(guards), true, template, checkpoint)
    }

    fn resume_spec(
        spec: PageSpec,
        auto: bool,
        template: RequestTemplate,
        checkpoint: &Checkpoint,
    ) -> Result<Walk, ResumeError> {
        if checkpoint.version != CHECKPOINT_VERSION {
            return Err(ResumeError::UnknownVersion(checkpoint.version));
        }
        let expected = if checkpoint.legacy_fingerprint {
            template.legacy_fingerprint()
        } else {
            template.fingerprint()
        };
        if expected != checkpoint.fingerprint {
            return Err(ResumeError::FingerprintMismatch {
                expected,
                found: checkpoint.fingerprint,
            });
        }
        let mut walk = Walk::bare(spec.guards.clone(), template)?;
        let spec_kind = spec.style.kind();
        walk.install(spec)?;
        walk.auto = auto;
        let mismatch = ResumeError::StyleMismatch {
            spec: spec_kind,
            checkpoint: checkpoint.style,
        };
        if checkpoint.style != spec_kind {
            match walk.prefer.take() {
                Some(p) if p.kind == checkpoint.style => walk.plan = Some(p),
                _ => return Err(mismatch),
            }
        }
        if !walk.plan.as_ref().is_some_and(|p| p.fits(&checkpoint.next)) {
            return Err(mismatch);
        }
        if let Position::Url(u) = &checkpoint.next {
            let url = Url::parse(u).map_err(|_| {
                ResumeError::Refused(GuardError::BadNextUrl {
                    value: truncate(u, 256),
                })
            })?;
            walk.credentials_for(&url).map_err(ResumeError::Refused)?;
        }
        walk.pages = checkpoint.pages;
        walk.records = checkpoint.records;
        walk.raw_seen = checkpoint.items;
        walk.empty_streak = checkpoint.empty_streak;
        walk.last_items = checkpoint.last_page;
        walk.repeats = checkpoint.repeats;
        walk.first_total = checkpoint.first_total;
        walk.last_total = checkpoint.last_total;
        walk.last_key = checkpoint.last_key.clone();
        walk.cap = checkpoint.cap;
        walk.probe = checkpoint.probe.clone();
        walk.drift = checkpoint.drift.clone();
        walk.end = checkpoint.end.clone();
        walk.keys.extend(checkpoint.recent_keys.iter().copied());
        walk.recent.extend(checkpoint.recent_keys.iter().copied());
        walk.redelivered
            .extend(checkpoint.held_keys.iter().copied());
        walk.position = checkpoint.next.clone();
        if let Some(h) = walk.position.repeat_hash() {
            walk.seen.insert(h);
        }
        walk.restart();
        if walk.pending.is_some() && walk.pages >= walk.guards.max_pages {
            walk.pending = None;
            walk.state = WalkState::Stopped(GuardError::MaxPages {
                max: walk.guards.max_pages,
            });
        }
        Ok(walk)
    }

    fn bare(guards: Guards, template: RequestTemplate) -> Result<Walk, SpecError> {
        let allowed = guards
            .allowed_origins
            .iter()
            .map(|o| {
                Url::parse(o)
                    .map(|u| u.origin())
                    .map_err(|_| SpecError::BadOrigin(o.clone()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Walk {
            spec: None,
            auto: false,
            hints: Hints::default(),
            fingerprint: template.fingerprint(),
            guards,
            plan: None,
            prefer: None,
            template,
            body_json: None,
            allowed,
            position: Position::Start,
            pending: None,
            state: WalkState::Running,
            end: None,
            pages: 0,
            records: 0,
            raw_seen: 0,
            empty_streak: 0,
            last_items: None,
            repeats: 0,
            seen: Seen::default(),
            keys: Seen::default(),
            redelivered: HashSet::new(),
            recent: VecDeque::new(),
            first_total: None,
            last_total: None,
            last_key: None,
            cap: None,
            probe: None,
            drift: Drift::default(),
            events: VecDeque::new(),
        })
    }

    /// Compiles `spec` and prepares the template's body for its body parameters.
    fn install(&mut self, spec: PageSpec) -> Result<(), SpecError> {
        let plan = Plan::compile(&spec.style)?;
        let prefer = spec.prefer.as_ref().map(Plan::compile).transpose()?;
        let mut body_params: Vec<&Pointer> = plan.body_params();
        if let Some(p) = &prefer {
            body_params.extend(p.body_params());
        }
        if let Some(PageSize {
            param: Param::Body(p),
            ..
        }) = &spec.page_size
        {
            body_params.push(p);
        }
        if !body_params.is_empty() {
            let body = match &self.template.body {
                None => Value::Object(serde_json::Map::new()),
                Some(b) => match serde_json::from_slice::<Value>(b) {
                    Ok(v @ Value::Object(_)) => v,
                    _ => return Err(SpecError::BodyNotJson),
                },
            };
            for p in body_params {
                // Checked on a copy: a parameter not set yet stays absent from the first request
                // (`search_after: null` is an error to Elasticsearch).
                set_body(&mut body.clone(), p, Value::Null)
                    .map_err(|()| SpecError::BadBodyParam { pointer: p.clone() })?;
            }
            self.body_json = Some(body);
        } else {
            self.body_json = None;
        }
        self.guards = spec.guards.clone();
        self.plan = Some(plan);
        self.prefer = prefer;
        self.spec = Some(spec);
        Ok(())
    }

    /// Builds the pending request for the current position.
    fn restart(&mut self) {
        self.pending = match self.position {
            Position::End => None,
            _ => Some(self.request_for(&self.position)),
        };
        self.state = match self.pending {
            Some(_) => WalkState::Running,
            None => WalkState::Complete(self.end.clone().unwrap_or(EndReason::AlreadyComplete)),
        };
        // A next URL pointing back at a request already sent (the first page's own URL) is a
        // repeat too.
        if let (Some(req), Some(Mech::Link { .. } | Mech::NextUrl)) =
            (&self.pending, self.plan.as_ref().map(|p| &p.mech))
            && let Some(h) = Position::Url(req.url.to_string()).repeat_hash()
        {
            self.seen.insert(h);
        }
    }

    /// The request for a position (the template's own first request while auto-detecting).
    fn request_for(&self, pos: &Position) -> PageRequest {
        let t = &self.template;
        if let Position::Url(u) = pos {
            let url = Url::parse(u).unwrap_or_else(|_| t.url.clone());
            let credentials = self.credentials_for(&url).unwrap_or(false);
            return PageRequest {
                method: t.method.clone(),
                headers: if credentials {
                    t.headers.clone()
                } else {
                    without_credentials(&t.headers, &self.guards.credential_headers)
                },
                url,
                body: t.body.clone(),
                credentials,
            };
        }
        let mut url = t.url.clone();
        let mut body = self.body_json.clone();
        if let (Some(plan), Some(spec)) = (&self.plan, &self.spec) {
            // Set on a body validated by `install`: cannot fail.
            if let Some(ps) = &spec.page_size {
                let _ = set_param(&mut url, &mut body, &ps.param, ps.size.into());
            }
            let _ = match (&plan.mech, pos) {
                (Mech::Offset { param, start }, Position::Start) => {
                    set_param(&mut url, &mut body, param, (*start).into())
                }
                (Mech::Page { param, first }, Position::Start) => {
                    set_param(&mut url, &mut body, param, (*first).into())
                }
                (Mech::Offset { param, .. }, Position::Offset(n))
                | (Mech::Page { param, .. }, Position::Page(n)) => {
                    set_param(&mut url, &mut body, param, (*n).into())
                }
                (Mech::Cursor { param }, Position::Cursor(c)) => {
                    set_param(&mut url, &mut body, param, Value::String(c.clone()))
                }
                (Mech::Cursor { param }, Position::Value(v)) => {
                    set_param(&mut url, &mut body, param, v.clone())
                }
                (Mech::After { keys }, Position::After(values)) => keys
                    .iter()
                    .zip(values)
                    .try_for_each(|(k, v)| set_param(&mut url, &mut body, &k.param, v.clone())),
                _ => Ok(()),
            };
        }
        PageRequest {
            method: t.method.clone(),
            url,
            headers: t.headers.clone(),
            body: match body {
                Some(v) => Some(v.to_string().into_bytes()),
                None => t.body.clone(),
            },
            credentials: true,
        }
    }

    /// `Ok(true)`: same origin, credentials go; `Ok(false)`: an allowed origin, no credentials.
    fn credentials_for(&self, url: &Url) -> Result<bool, GuardError> {
        let origin = url.origin();
        if !matches!(url.scheme(), "http" | "https") {
            return Err(GuardError::OffOrigin {
                url: truncate(url.as_str(), 256),
            });
        }
        if origin == self.template.url.origin() {
            Ok(true)
        } else if self.allowed.contains(&origin) {
            Ok(false)
        } else {
            Err(GuardError::OffOrigin {
                url: truncate(url.as_str(), 256),
            })
        }
    }

    /// Up to `n` requests the walk will most likely ask for after the pending one, for a
    /// driver that fetches pages concurrently: the next offsets or page numbers, one page
    /// size apart, short of a known `total`. Empty for styles whose next position only a
    /// response tells (cursors, keysets, URLs), before the first page (the style may still be
    /// detected or switched), while a guessed parameter is being checked, and at the end.
    ///
    /// Speculation never changes the walk: it still asks for each page with
    /// [`Walk::poll_request`] and reads responses only through [`Walk::on_page`], in order. A
    /// driver hands it a prefetched response only when the request it asks for is exactly the
    /// one prefetched, and otherwise sends the request (a server whose pages are shorter than
    /// the size asked for makes the guesses miss: they cost requests, never records).
    ///
    /// ```
    /// use http::{HeaderMap, StatusCode};
    /// use paceline::paginate::{PageSpec, RequestTemplate, Walk};
    ///
    /// let t = RequestTemplate::get("https://api.example.com/items").unwrap();
    /// let mut walk = Walk::new(PageSpec::offset("/data", 2).total("/total"), t).unwrap();
    /// assert!(walk.lookahead(3).is_empty(), "nothing is known before the first page");
    /// let body = br#"{"data":[{"id":1},{"id":2}],"total":7}"#;
    /// walk.on_page(StatusCode::OK, &HeaderMap::new(), body).unwrap();
    /// let ahead: Vec<String> = walk.lookahead(5).iter().map(|r| r.url.to_string()).collect();
    /// // Offset 2 is pending; 4 and 6 follow; 8 would be past the total.
    /// assert_eq!(ahead, [
    ///     "https://api.example.com/items?limit=2&offset=4",
    ///     "https://api.example.com/items?limit=2&offset=6",
    /// ]);
    /// ```
    pub fn lookahead(&self, n: usize) -> Vec<PageRequest> {
        let (Some(plan), Some(spec)) = (&self.plan, &self.spec) else {
            return Vec::new();
        };
        if self.pending.is_none() || self.pages == 0 || n == 0 || self.probe.is_some() {
            return Vec::new();
        }
        let size = self
            .cap
            .or(spec.page_size.as_ref().map(|p| p.size))
            .filter(|&s| s > 0);
        let total = self.last_total;
        let positions: Vec<Position> = match (&plan.mech, &self.position, size) {
            (Mech::Offset { .. }, Position::Offset(at), Some(size)) => (1..=n as u64)
                .map_while(|i| {
                    let x = at.checked_add(size.checked_mul(i)?)?;
                    total.is_none_or(|t| x < t).then_some(Position::Offset(x))
                })
                .collect(),
            (Mech::Page { first, .. }, Position::Page(p), size) => (1..=n as u64)
                .map_while(|i| {
                    let x = p.checked_add(i)?;
                    let before = x.saturating_sub(*first);
                    let within = match (total, size) {
                        (Some(t), Some(s)) => before.saturating_mul(s) < t,
                        _ => true,
                    };
                    within.then_some(Position::Page(x))
                })
                .collect(),
            _ => Vec::new(),
        };
        positions.iter().map(|p| self.request_for(p)).collect()
    }

    /// The request to send now, or `None` when the walk is over ([`Walk::state`] says how).
    /// Asking again before [`Walk::on_page`] gives the same request.
    pub fn poll_request(&self) -> Option<&PageRequest> {
        self.pending.as_ref()
    }

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

    /// What a guessed request tries: `offset=10`, `page=1`, `cursor=c2`.
    fn guess_text(&self, req: &PageRequest) -> String {
        let param = match self.plan.as_ref().map(|p| &p.mech) {
            Some(
                Mech::Offset { param, .. } | Mech::Page { param, .. } | Mech::Cursor { param },
            ) => param.clone(),
            Some(Mech::After { keys }) if !keys.is_empty() => keys[0].param.clone(),
            _ => return req.url.to_string(),
        };
        let value = match &param {
            Param::Query(name) => req
                .url
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned()),
            Param::Body(p) => req
                .body
                .as_ref()
                .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                .and_then(|v| p.find(&v).cloned())
                .map(|v| match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                }),
        };
        format!(
            "{}={}",
            param_name(&param),
            truncate(&value.unwrap_or_default(), 64)
        )
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

    /// The next event, if any. Drain after every [`Walk::on_page`].
    pub fn poll_event(&mut self) -> Option<PageEvent> {
        self.events.pop_front()
    }

    /// Tells a resumed walk which records the consumer already holds beyond its checkpoint:
    /// those of the page a crash interrupted, delivered before that page's checkpoint could be
    /// written (a file's lines past the checkpointed length, rows already upserted). When the
    /// walk receives them again, they are dropped instead of delivered twice, counted as
    /// delivered, and reported as [`PageEvent::Redelivered`].
    ///
    /// Records are recognised by [`PageSpec::key`]; returns how many keys were taken (0
    /// without a key pointer, or for records that are not JSON or have no key).
    ///
    /// ```
    /// use http::{HeaderMap, StatusCode};
    /// use paceline::paginate::{PageSpec, RequestTemplate, Walk};
    ///
    /// let spec = PageSpec::cursor("/data", "/next", "cursor").key("/id");
    /// let template = RequestTemplate::get("https://api.example.com/users").unwrap();
    /// let mut walk = Walk::new(spec.clone(), template.clone()).unwrap();
    /// let body = br#"{"data":[{"id":1},{"id":2}],"next":"c2"}"#;
    /// walk.on_page(StatusCode::OK, &HeaderMap::new(), body).unwrap();
    /// let checkpoint = walk.checkpoint(); // saved once page 1 was delivered
    /// // Page 2 arrives, its first record is written out, and the process dies.
    /// let mut resumed = Walk::resume(Some(spec), template, &checkpoint).unwrap();
    /// assert_eq!(resumed.already_delivered([br#"{"id":3}"#.as_slice()]), 1);
    /// let body = br#"{"data":[{"id":3},{"id":4}],"next":null}"#;
    /// let page = resumed.on_page(StatusCode::OK, &HeaderMap::new(), body).unwrap();
    /// assert_eq!(page.records(body).collect::<Vec<_>>(), [br#"{"id":4}"#.as_slice()]);
    /// assert_eq!(resumed.checkpoint().records(), 4);
    /// ```
    pub fn already_delivered<'a>(&mut self, records: impl IntoIterator<Item = &'a [u8]>) -> usize {
        let Some(key) = self.spec.as_ref().and_then(|s| s.key.clone()) else {
            return 0;
        };
        let mut taken = 0;
        for r in records {
            let Ok(raw) = serde_json::from_slice::<&RawValue>(r) else {
                continue;
            };
            if let Some(h) = json::find(raw, &key).and_then(json::key_hash) {
                self.redelivered.insert(h);
                taken += 1;
            }
        }
        taken
    }

    /// Where the walk stands, to persist **after** the last page's records were delivered.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            version: CHECKPOINT_VERSION,
            style: self.plan.as_ref().map_or(StyleKind::Link, |p| p.kind),
            next: self.position.clone(),
            pages: self.pages,
            records: self.records,
            items: self.raw_seen,
            empty_streak: self.empty_streak,
            last_page: self.last_items,
            last_key: self.last_key.clone(),
            first_total: self.first_total,
            last_total: self.last_total,
            fingerprint: self.fingerprint,
            legacy_fingerprint: false,
            recent_keys: self.recent.iter().copied().collect(),
            repeats: self.repeats,
            held_keys: {
                let mut held: Vec<u128> = self.redelivered.iter().copied().collect();
                held.sort_unstable();
                held.truncate(Checkpoint::MAX_HELD);
                held
            },
            cap: self.cap,
            probe: self.probe.clone(),
            drift: self.drift.clone(),
            end: self.end.clone(),
            spec: if self.auto { self.spec.clone() } else { None },
        }
    }

    /// The walk's state.
    pub fn state(&self) -> &WalkState {
        &self.state
    }

    /// The spec in force: the one given, or the one detected (`None` before the first page of
    /// an auto-detected walk).
    pub fn spec(&self) -> Option<&PageSpec> {
        self.spec.as_ref()
    }

    /// The style in use (the preferred one after a switch).
    pub fn style(&self) -> Option<StyleKind> {
        self.plan.as_ref().map(|p| p.kind)
    }

    /// Pages received.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Records delivered.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Where the next request starts.
    pub fn position(&self) -> &Position {
        &self.position
    }

    /// Whether the pending request is a guess still to be confirmed ([`PageEvent::Probing`]).
    pub fn is_probing(&self) -> bool {
        self.probe.is_some()
    }

    /// What an offset or page walk saw of its list changing while it was read. A complete walk
    /// with a non-empty drift may have missed records ([`Drift::may_be_missing`]): it is not a
    /// clean success. Always empty for cursor, keyset, link and URL walks, which do not drift.
    pub fn drift(&self) -> &Drift {
        &self.drift
    }

    /// Why the walk ended, once complete.
    pub fn end_reason(&self) -> Option<&EndReason> {
        self.end.as_ref()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn page(walk: &mut Walk, body: &str) -> Page {
        walk.on_page(StatusCode::OK, &HeaderMap::new(), body.as_bytes())
            .unwrap()
    }

    #[test]
    fn keys_are_kept_only_where_they_earn_their_memory() {
        let t = RequestTemplate::get("https://x.test/l").unwrap();
        // Stripe names a key, but a keyset walk does not drift: no key set.
        let mut w = Walk::new(PageSpec::stripe(), t.clone()).unwrap();
        page(
            &mut w,
            r#"{"data":[{"id":"a"},{"id":"b"}],"has_more":true}"#,
        );
        assert!(w.keys.is_empty());
        assert_eq!(w.checkpoint().last_key(), Some("b"));
        // An offset walk keeps them to report drift; with dedupe the checkpoint carries them.
        let mut w = Walk::new(PageSpec::offset("/data", 2).key("/id"), t.clone()).unwrap();
        page(&mut w, r#"{"data":[{"id":1},{"id":2}]}"#);
        assert_eq!(w.keys.len(), 2);
        assert!(w.checkpoint().recent_keys.is_empty());
        let mut w = Walk::new(PageSpec::offset("/data", 2).dedupe_by("/id"), t).unwrap();
        page(&mut w, r#"{"data":[{"id":1},{"id":2}]}"#);
        assert_eq!(w.checkpoint().recent_keys.len(), 2);
    }

    #[test]
    fn resume_window_bounds_the_checkpoint() {
        let t = RequestTemplate::get("https://x.test/l").unwrap();
        let spec = PageSpec::offset("/data", 3)
            .dedupe_by("/id")
            .guards(Guards::default().resume_window(4));
        let mut w = Walk::new(spec, t).unwrap();
        page(&mut w, r#"{"data":[{"id":1},{"id":2},{"id":3}]}"#);
        page(&mut w, r#"{"data":[{"id":4},{"id":5},{"id":6}]}"#);
        let cp = w.checkpoint();
        assert_eq!(cp.recent_keys.len(), 4);
        assert_eq!(cp.recent_keys[3], json::key_hash("6").unwrap());
    }
}
