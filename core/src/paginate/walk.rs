//! The walk: one machine per pass through a list endpoint.

use std::collections::{HashSet, VecDeque};

use super::seen::Seen;
use std::ops::Range;

use http::{HeaderMap, StatusCode};
use serde_json::Value;
use serde_json::value::RawValue;
use url::{Origin, Url};

use super::checkpoint::{CHECKPOINT_VERSION, Checkpoint, Position};
use super::error::{GuardError, PageError, ResumeError, SpecError};
use super::hash::Hasher;
use super::json::{self, Items, Scalar};
use super::link::{find_rel, links_in};
use super::pointer::Pointer;
use super::request::{PageRequest, RequestTemplate, set_body, set_param, without_credentials};
use super::spec::{Guards, KeyParam, PageSize, PageSpec, Param, Style, StyleKind};

/// Something worth telling an operator about a walk. Polled with [`Walk::poll_event`]; events
/// never change what the walk does.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PageEvent {
    /// Auto-detection chose this spec from the first response.
    Detected(Box<PageSpec>),
    /// The first page offered the spec's preferred style; the walk uses it from now on.
    Switched {
        /// The style given.
        from: StyleKind,
        /// The style preferred.
        to: StyleKind,
    },
    /// The list's `total` changed between pages: records were inserted or deleted during an
    /// offset or page walk, which then skips or repeats records.
    TotalChanged {
        /// The page that showed it.
        page: u64,
        /// The previous total.
        from: u64,
        /// The new one.
        to: u64,
    },
    /// Records whose key was already seen in this walk (offset drift, a server bug).
    DuplicateKeys {
        /// The page.
        page: u64,
        /// How many.
        count: u32,
        /// Whether they were dropped ([`PageSpec::dedupe`]) or delivered again.
        dropped: bool,
    },
    /// Records with no value at the key pointer: they cannot be de-duplicated.
    MissingKeys {
        /// The page.
        page: u64,
        /// How many.
        count: u32,
    },
    /// Records a resumed walk received again that the consumer already held
    /// ([`Walk::already_delivered`]): dropped, and counted as delivered.
    Redelivered {
        /// The page.
        page: u64,
        /// How many.
        count: u32,
    },
    /// The next URL is on another, allowed origin: it is requested without credentials.
    CrossOrigin {
        /// The URL.
        url: String,
    },
}

/// Where a walk is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkState {
    /// A request is pending ([`Walk::poll_request`]).
    Running,
    /// The list's end was reached.
    Complete,
    /// Stopped before the end: a guard tripped.
    Stopped(GuardError),
}

/// What follows a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    /// Another page: [`Walk::poll_request`] has it.
    More,
    /// This was the last page.
    Complete,
    /// The walk stopped after this page (whose records, if any, are still to be delivered).
    Stopped(GuardError),
}

/// One page's records, as byte ranges into the body given to [`Walk::on_page`]: nothing is
/// copied, and the walk keeps nothing of the body. Duplicates are already filtered out when
/// [`PageSpec::dedupe`] is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    number: u64,
    records: Vec<Range<usize>>,
    duplicates: u32,
    after: After,
}

impl Page {
    /// The page's number in the walk, from 1 (resumed walks go on counting).
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The records' byte ranges in the body.
    pub fn ranges(&self) -> &[Range<usize>] {
        &self.records
    }

    /// The records: each one JSON value, sliced from `body` (the body given to
    /// [`Walk::on_page`]).
    pub fn records<'b>(&self, body: &'b [u8]) -> impl Iterator<Item = &'b [u8]> + use<'b, '_> {
        self.records.iter().map(move |r| &body[r.clone()])
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the page delivers no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Records dropped as duplicates.
    pub fn duplicates(&self) -> u32 {
        self.duplicates
    }

    /// What follows.
    pub fn after(&self) -> &After {
        &self.after
    }

    /// Whether the walk is over after this page (complete or stopped).
    pub fn is_last(&self) -> bool {
        self.after != After::More
    }
}

/// A style compiled: which pointers to read and how the next position is made.
#[derive(Debug, Clone)]
struct Plan {
    kind: StyleKind,
    mech: Mech,
    next: Option<Pointer>,
    has_more: Option<Pointer>,
    done: Option<Pointer>,
    total: Option<Pointer>,
    total_pages: Option<Pointer>,
}

#[derive(Debug, Clone)]
enum Mech {
    Offset { param: Param, start: u64 },
    Page { param: Param, first: u64 },
    Cursor { param: Param },
    After { keys: Vec<KeyParam> },
    Link { rel: String },
    NextUrl,
}

impl Plan {
    fn compile(style: &Style) -> Result<Plan, SpecError> {
        let plan = |kind, mech| Plan {
            kind,
            mech,
            next: None,
            has_more: None,
            done: None,
            total: None,
            total_pages: None,
        };
        Ok(match style {
            Style::Offset {
                param,
                start,
                total,
                has_more,
            } => Plan {
                total: total.clone(),
                has_more: has_more.clone(),
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
                has_more,
            } => Plan {
                total: total.clone(),
                total_pages: total_pages.clone(),
                has_more: has_more.clone(),
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
            } => Plan {
                next: Some(next.clone()),
                has_more: has_more.clone(),
                ..plan(
                    StyleKind::Cursor,
                    Mech::Cursor {
                        param: param.clone(),
                    },
                )
            },
            Style::Keyset { keys, has_more } => {
                if keys.is_empty() {
                    return Err(SpecError::NoKeys);
                }
                Plan {
                    has_more: has_more.clone(),
                    ..plan(StyleKind::Keyset, Mech::After { keys: keys.clone() })
                }
            }
            Style::Link { rel } => plan(StyleKind::Link, Mech::Link { rel: rel.clone() }),
            Style::NextUrl { next, done } => Plan {
                next: Some(next.clone()),
                done: done.clone(),
                ..plan(StyleKind::NextUrl, Mech::NextUrl)
            },
            Style::Token { next, param } => Plan {
                next: Some(next.clone()),
                ..plan(
                    StyleKind::Token,
                    Mech::Cursor {
                        param: param.clone(),
                    },
                )
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

    fn body_params(&self) -> Vec<&Pointer> {
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
    fn fits(&self, pos: &Position) -> bool {
        match (&self.mech, pos) {
            (_, Position::Start | Position::End) => true,
            (Mech::Offset { .. }, Position::Offset(_)) | (Mech::Page { .. }, Position::Page(_)) => {
                true
            }
            (Mech::Cursor { .. }, Position::Cursor(_)) => true,
            (Mech::After { keys }, Position::After(v)) => v.len() == keys.len(),
            (Mech::Link { .. } | Mech::NextUrl, Position::Url(_)) => true,
            _ => false,
        }
    }
}

/// What a page says, before the walk commits to it.
struct Assessment {
    switched: bool,
    records: Vec<Range<usize>>,
    keys: Vec<Option<u128>>,
    count: u64,
    items_hash: Option<u128>,
    total: Option<u64>,
    last_key: Option<String>,
    /// The next position, when one was found (even if a guard then refuses it).
    next: Option<Position>,
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

    /// A walk that detects its spec from the first response ([`PageSpec::detect`]), reported
    /// as [`PageEvent::Detected`] and by [`Walk::spec`]. The first request is the template as
    /// it is.
    pub fn auto(template: RequestTemplate, guards: Guards) -> Result<Walk, SpecError> {
        let mut walk = Walk::bare(guards, template)?;
        walk.auto = true;
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
        if checkpoint.version != CHECKPOINT_VERSION {
            return Err(ResumeError::UnknownVersion(checkpoint.version));
        }
        let auto = spec.is_none();
        let spec = spec
            .or_else(|| checkpoint.spec.clone())
            .ok_or(ResumeError::NoSpec)?;
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
            None => WalkState::Complete,
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
                (Mech::Offset { param, .. }, Position::Offset(n))
                | (Mech::Page { param, .. }, Position::Page(n)) => {
                    set_param(&mut url, &mut body, param, (*n).into())
                }
                (Mech::Page { param, first }, Position::Start) => {
                    set_param(&mut url, &mut body, param, (*first).into())
                }
                (Mech::Cursor { param }, Position::Cursor(c)) => {
                    set_param(&mut url, &mut body, param, Value::String(c.clone()))
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
    /// detected or switched), and at the end.
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
        if self.pending.is_none() || self.pages == 0 || n == 0 {
            return Vec::new();
        }
        let size = spec.page_size.as_ref().map(|p| p.size).filter(|&s| s > 0);
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
    /// [`PageError::Status`] and changes nothing.
    ///
    /// - `Err(PageError)`: the response is unusable (not JSON, truncated, no items). The walk
    ///   has not moved; the same request is pending. Resend it a bounded number of times when
    ///   [`PageError::is_transient`], else give up.
    /// - `Ok(page)`: deliver `page.records(body)`, then persist [`Walk::checkpoint`], then
    ///   look at [`Page::after`]: more, complete, or stopped by a guard.
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
                    _ => After::Complete,
                },
            });
        };
        if !status.is_success() {
            return Err(PageError::Status(status));
        }
        let base = pending.url.clone();
        if self.spec.is_none() {
            let mut spec = PageSpec::detect(headers, body)?;
            spec.guards = self.guards.clone();
            self.install(spec.clone())
                .map_err(|_| PageError::NotAList)?;
            self.events.push_back(PageEvent::Detected(Box::new(spec)));
        }
        let (Some(spec), Some(plan)) = (&self.spec, &self.plan) else {
            return Err(PageError::NotAList);
        };
        let (items, key) = (&spec.items, spec.key.as_ref());
        let size = spec.page_size.as_ref().map(|p| p.size);
        let mut a = self.assess(plan, items, key, size, &base, headers, body)?;
        if self.pages == 0
            && let Some(prefer) = &self.prefer
            && let Ok(b) = self.assess(prefer, items, key, size, &base, headers, body)
            && offers(prefer, &b)
        {
            a = Assessment {
                switched: true,
                ..b
            };
        }
        Ok(self.commit(a))
    }

    /// Reads the page against a plan, without changing the walk.
    #[allow(clippy::too_many_arguments)]
    fn assess<'a>(
        &self,
        plan: &'a Plan,
        items_ptr: &'a Pointer,
        key: Option<&Pointer>,
        size: Option<u64>,
        base: &Url,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Assessment, PageError> {
        let mut ptrs: Vec<&Pointer> = Vec::with_capacity(5);
        let mut slot = |p: &'a Option<Pointer>| {
            p.as_ref().map(|p| {
                ptrs.push(p);
                ptrs.len() - 1
            })
        };
        let (i_next, i_more, i_done, i_total, i_pages) = (
            slot(&plan.next),
            slot(&plan.has_more),
            slot(&plan.done),
            slot(&plan.total),
            slot(&plan.total_pages),
        );
        let found = json::extract_page(body, Some(items_ptr), &ptrs)?;
        let get = |i: Option<usize>| i.and_then(|i| found.values[i]);
        let items = match found.items {
            Items::Array(ref e) => e,
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
        let has_more = read_bool(get(i_more), plan.has_more.as_ref())?;
        let done = read_bool(get(i_done), plan.done.as_ref())?;
        let total = read_count(get(i_total), plan.total.as_ref())?;
        let total_pages = read_count(get(i_pages), plan.total_pages.as_ref())?;
        let next_text = read_text(get(i_next), plan.next.as_ref())?;

        let count = items.len() as u64;
        let mut records = Vec::with_capacity(items.len());
        // Keys are kept where they earn their memory: to de-duplicate, or to see offset and page
        // walks drift. Cursor-like walks do not drift.
        let track = self.spec.as_ref().is_some_and(|s| s.dedupe)
            || !self.redelivered.is_empty()
            || matches!(plan.mech, Mech::Offset { .. } | Mech::Page { .. });
        let mut keys = Vec::new();
        for item in items {
            records.push(json::range_in(body, item));
            if let Some(k) = key.filter(|_| track) {
                keys.push(json::find(item, k).and_then(json::key_hash));
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
        let short = |c: u64| size.is_some_and(|s| c < s) || c == 0;

        let next: Result<Option<Position>, GuardError> = match &plan.mech {
            Mech::Offset { start, .. } => {
                let at = match self.position {
                    Position::Offset(n) => n,
                    _ => *start,
                };
                let next_at = at.saturating_add(count);
                let more = match (has_more, total) {
                    (Some(m), _) => m,
                    (None, Some(t)) => count > 0 && next_at < t,
                    (None, None) => !short(count),
                };
                Ok(more.then_some(Position::Offset(next_at)))
            }
            Mech::Page { first, .. } => {
                let p = match self.position {
                    Position::Page(n) => n,
                    _ => *first,
                };
                let pages_seen = p.saturating_sub(*first).saturating_add(1);
                let covered = match size {
                    Some(s) => pages_seen.saturating_mul(s),
                    None => self.raw_seen.saturating_add(count),
                };
                let more = match (has_more, total_pages, total) {
                    (Some(m), _, _) => m,
                    (None, Some(tp), _) => pages_seen < tp,
                    (None, None, Some(t)) => count > 0 && covered < t,
                    (None, None, None) => !short(count),
                };
                Ok(more.then_some(Position::Page(p.saturating_add(1))))
            }
            Mech::Cursor { .. } => match (has_more, next_text) {
                (Some(false), _) => Ok(None),
                (_, Some(c)) if !c.is_empty() => Ok(Some(Position::Cursor(c))),
                (Some(true), _) => Err(GuardError::NextMissing {
                    page: self.pages + 1,
                }),
                (None, _) => Ok(None),
            },
            Mech::After { keys: params } => {
                if has_more == Some(false) || (has_more.is_none() && short(count)) {
                    Ok(None)
                } else if let Some(last) = items.last() {
                    params
                        .iter()
                        .map(|k| {
                            json::find(last, &k.field)
                                .filter(|v| json::scalar(v) != Scalar::Null)
                                .and_then(|v| serde_json::from_str::<Value>(v).ok())
                        })
                        .collect::<Option<Vec<Value>>>()
                        .map(|v| Some(Position::After(v)))
                        .ok_or(GuardError::NextMissing {
                            page: self.pages + 1,
                        })
                } else {
                    Err(GuardError::NextMissing {
                        page: self.pages + 1,
                    })
                }
            }
            Mech::Link { rel } => match links_in(headers) {
                Err(e) => Err(GuardError::BadLinkHeader(e)),
                Ok(links) => match find_rel(&links, rel) {
                    None => Ok(None),
                    Some(l) => resolve(base, l.target()).map(Some),
                },
            },
            Mech::NextUrl => match (done, next_text) {
                (Some(true), _) => Ok(None),
                (_, Some(u)) if !u.is_empty() => resolve(base, &u).map(Some),
                _ => Ok(None),
            },
        };

        let (next, mut stop) = match next {
            Ok(n) => (n, None),
            Err(e) => (None, Some(e)),
        };
        let mut cross_origin = false;
        if stop.is_none()
            && let Some(pos) = &next
        {
            stop = self.guard(pos, count, &mut cross_origin);
        }
        // An offset or page walk whose list grew by exactly one page between two requests
        // reads the same records twice; so does one whose server ignores the parameter or
        // serves a stale page, where going on would silently skip records. Only a `total` that
        // grew by at least the page's records tells them apart: then the repeat is drift (its
        // records are not delivered again and the walk goes on), once in a row at most.
        let shifted = matches!(plan.mech, Mech::Offset { .. } | Mech::Page { .. })
            && self.repeats == 0
            && total
                .zip(self.last_total)
                .is_some_and(|(now, before)| now >= before.saturating_add(count.max(1)));
        let repeat = self.guards_repeat(items_hash);
        if repeat && !shifted {
            stop = Some(GuardError::PageRepeated {
                page: self.pages + 1,
            });
        }
        Ok(Assessment {
            switched: false,
            records,
            keys,
            count,
            items_hash,
            total,
            last_key,
            next,
            stop,
            cross_origin,
            repeat,
        })
    }

    fn guards_repeat(&self, items_hash: Option<u128>) -> bool {
        items_hash.is_some() && items_hash == self.last_items
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
            match self.last_total {
                Some(prev) if prev != t => self.events.push_back(PageEvent::TotalChanged {
                    page: number,
                    from: prev,
                    to: t,
                }),
                _ => {}
            }
            self.first_total.get_or_insert(t);
            self.last_total = Some(t);
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
            && let Some(Position::Url(u)) = &a.next
        {
            self.events
                .push_back(PageEvent::CrossOrigin { url: u.clone() });
        }
        if let Some(h) = a.next.as_ref().and_then(Position::repeat_hash) {
            self.seen.insert(h);
        }
        self.position = a.next.unwrap_or(Position::End);
        let after = match a.stop {
            Some(e) => {
                self.pending = None;
                self.state = WalkState::Stopped(e.clone());
                After::Stopped(e)
            }
            None => {
                self.restart();
                if self.pending.is_some() {
                    After::More
                } else {
                    After::Complete
                }
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
}

/// Whether a preferred plan's reading of the first page offers its style.
fn offers(plan: &Plan, a: &Assessment) -> bool {
    match &plan.mech {
        Mech::Cursor { .. } | Mech::After { .. } | Mech::Link { .. } | Mech::NextUrl => {
            a.next.is_some() && a.stop.is_none()
        }
        Mech::Offset { .. } | Mech::Page { .. } => false,
    }
}

fn resolve(base: &Url, target: &str) -> Result<Position, GuardError> {
    base.join(target)
        .map(|u| Position::Url(u.into()))
        .map_err(|_| GuardError::BadNextUrl {
            value: truncate(target, 256),
        })
}

fn truncate(s: &str, max: usize) -> String {
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

fn wrong(p: Option<&Pointer>, expected: &'static str) -> PageError {
    PageError::WrongType {
        pointer: p.cloned().unwrap_or_else(Pointer::root),
        expected,
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
