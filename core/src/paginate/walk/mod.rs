//! The walk: one machine per pass through a list endpoint.
//!
//! Here: the walk's state, how it starts and resumes, and what it tells; `request` makes the
//! next page's request, `read` reads a page and commits to it.

mod read;
mod request;

use std::collections::{HashSet, VecDeque};
use std::ops::Range;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use url::{Origin, Url};

use super::checkpoint::{CHECKPOINT_VERSION, Checkpoint, Position};
use super::detect::{Hints, Probe};
use super::end::{Drift, EndReason};
use super::error::{GuardError, ResumeError, SpecError};
use super::json::{self};
use super::page::{PageEvent, WalkState};
use super::plan::{Mech, Next, Plan, truncate};
use super::pointer::Pointer;
use super::request::{PageRequest, RequestTemplate, set_body};
use super::seen::Seen;
use super::spec::{Guards, PageSize, PageSpec, Param, StyleKind};

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
        // The first page's own URL, as an uninterrupted walk remembers it: a next URL leading
        // back to the start is a repeat after a resume too. (The URLs between are not kept in
        // a checkpoint: a cycle back to one of them is caught one round later.)
        if let Some(Mech::Link { .. } | Mech::NextUrl) = walk.plan.as_ref().map(|p| &p.mech)
            && let Some(h) =
                Position::Url(walk.request_for(&Position::Start).url.to_string()).repeat_hash()
        {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paginate::page::Page;
    use http::{HeaderMap, StatusCode};

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
