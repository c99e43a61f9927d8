//! Walk simulations: one pagination walk ([`Walk`]) through a [`Pacer`] against a server model
//! serving a live [`Dataset`](crate::dataset::Dataset), in virtual time.
//!
//! The loop is the one an adapter runs: ask the walk for a request, ask the Pacer when to send
//! it, send it to the model, tell the Pacer the outcome (it retries 429s, 5xx and resets), hand
//! the final 2xx to [`Walk::on_page`]: on a page, deliver its records, persist the checkpoint,
//! go on; on a transient [`PageError`](paceline::paginate::PageError) (a truncated body),
//! send the same request again (a bounded number of times); on a guard's stop, end. Delivered
//! records are checked against the dataset's ground truth ([`Truth`]): records that existed for
//! the whole walk and were not delivered are lost; deliveries beyond a record's first are
//! duplicates; ids that never existed are invented.
//!
//! A crash schedule ([`Crash`]) kills the client after a page's records were delivered (before
//! or after its checkpoint was written) and restarts it, with a fresh Pacer, from the last
//! checkpoint's bytes ([`Walk::resume`]), as a process restarted by its supervisor would. A
//! crash after the checkpoint costs nothing; a crash before it delivers that page again.
//!
//! ```
//! use paceline::PacerConfig;
//! use paceline_testkit::dataset::{DataStyle, Dataset, DatasetSpec};
//! use paceline_testkit::model::ServerModel;
//! use paceline_testkit::sim::walk::{Crash, WalkSim};
//! use std::time::UNIX_EPOCH;
//!
//! let data = DatasetSpec::new(DataStyle::Token, 1000).mutations(20.0, 20.0, 20.0);
//! let (spec, template) = (data.page_spec(), data.template());
//! let model = ServerModel::new(3, UNIX_EPOCH).app(Dataset::new(data, 3));
//! let walk = WalkSim::new(model, PacerConfig::default(), spec, template, 3)
//!     .crashes([Crash { after_page: 4, persisted: true }, Crash { after_page: 7, persisted: false }])
//!     .run();
//! let r = &walk.run.report;
//! // The second crash lost page 7's checkpoint: page 7 came again (a sink keyed by id absorbs
//! // that; nothing in a checkpoint written before page 7 can name page 7's records).
//! assert_eq!((r.records_lost, r.resumes), (0, 2));
//! assert!(r.records_duplicated > 0 && r.records_duplicated <= 100, "{r:?}");
//! assert!(r.records_expected > 900 && r.pages >= 10, "{r:?}");
//! ```

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use http::{HeaderValue, StatusCode};
use paceline::paginate::{
    After, Checkpoint, GuardError, PageEvent, PageSpec, Param, Pointer, RequestTemplate, Style,
    Walk, WalkState,
};
use paceline::retry::{TransportError, TransportKind, is_idempotent};
use paceline::{Begin, Finish, Pacer, PacerConfig};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::series::Series;
use super::{Report, Run};
use crate::model::{Fate, ModelRequest, ServerModel, Truth};

/// A crash of the client: after page `after_page`'s records were delivered, before
/// (`persisted: false`) or after (`persisted: true`) its checkpoint was written. Page numbers
/// are the walk's ([`paceline::paginate::Page::number`]): a resumed walk counts on from its
/// checkpoint, so a page number can come round again after a crash that lost a checkpoint.
/// Each crash of a schedule fires once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Crash {
    /// The page after which the client dies.
    pub after_page: u64,
    /// Whether that page's checkpoint was written before it died.
    #[serde(default)]
    pub persisted: bool,
}

/// How a walk ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WalkEnd {
    /// The list's end was reached.
    Complete,
    /// A guard stopped it.
    Stopped(GuardError),
    /// A request failed for good (the Pacer gave up or refused, a page stayed unusable, a
    /// checkpoint did not resume).
    GaveUp(String),
    /// Virtual time ran out (the simulation's bound).
    OutOfTime,
}

impl fmt::Display for WalkEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalkEnd::Complete => f.write_str("complete"),
            WalkEnd::Stopped(e) => write!(f, "stopped: {e}"),
            WalkEnd::GaveUp(e) => write!(f, "gave up: {e}"),
            WalkEnd::OutOfTime => f.write_str("out of virtual time"),
        }
    }
}

/// A finished walk simulation.
#[derive(Debug, Clone)]
pub struct WalkRun {
    /// The report (with the `records_*`, `pages` and walk fields filled), trace and series.
    pub run: Run,
    /// Every record id delivered, in delivery order (repeats included).
    pub delivered: Vec<u64>,
    /// How the walk ended.
    pub end: WalkEnd,
    /// The dataset's ground truth at the end.
    pub truth: Truth,
}

/// A walk simulation, ready to run. See the [module docs](self).
pub struct WalkSim {
    model: ServerModel,
    config: PacerConfig,
    spec: PageSpec,
    template: RequestTemplate,
    seed: u64,
    id: Pointer,
    crashes: Vec<Crash>,
    restart_ns: u64,
    max_ns: u64,
    trace_limit: usize,
    max_resends: u32,
}

impl WalkSim {
    /// A walk of `template` paged as `spec` says, through a Pacer configured by `config`,
    /// against `model`. Records are identified by `spec.key`, else `/id`.
    pub fn new(
        model: ServerModel,
        config: PacerConfig,
        spec: PageSpec,
        template: RequestTemplate,
        seed: u64,
    ) -> Self {
        let id = spec
            .key
            .clone()
            .unwrap_or_else(|| Pointer::from_static("/id"));
        WalkSim {
            model,
            config,
            spec,
            template,
            seed,
            id,
            crashes: Vec::new(),
            restart_ns: 1_000_000_000,
            max_ns: 86_400_000_000_000,
            trace_limit: 1000,
            max_resends: 10,
        }
    }

    /// Where a record's id is (a number, or a string of digits), inside a record.
    ///
    /// # Panics
    /// When `pointer` is not a JSON Pointer.
    pub fn id_pointer(mut self, pointer: &str) -> Self {
        self.id = Pointer::parse(pointer).expect("a JSON Pointer");
        self
    }

    /// Crashes the client as scheduled (see [`Crash`]).
    pub fn crashes(mut self, crashes: impl IntoIterator<Item = Crash>) -> Self {
        self.crashes = crashes.into_iter().collect();
        self
    }

    /// How long a crashed client takes to restart (default 1 s).
    pub fn restart_after(mut self, d: Duration) -> Self {
        self.restart_ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self
    }

    /// Stops the walk when virtual time passes `d` (default a day).
    pub fn max_duration(mut self, d: Duration) -> Self {
        self.max_ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self
    }

    /// Keeps at most this many trace lines (default 1000).
    pub fn trace_limit(mut self, n: usize) -> Self {
        self.trace_limit = n;
        self
    }

    /// Sends a request whose response was an unusable page (truncated) again at most this
    /// many times in a row (default 10).
    pub fn max_resends(mut self, n: u32) -> Self {
        self.max_resends = n;
        self
    }

    /// Runs the walk to its end (or the time bound).
    pub fn run(mut self) -> WalkRun {
        let clock = super::Clock::new(&self.model);
        let now_at = |ns: u64| clock.at(ns);
        let ns_of = |at: Instant| clock.ns(at);
        let mut r = Report {
            seed: self.seed,
            ..Report::default()
        };
        let mut trace = Trace {
            lines: Vec::new(),
            limit: self.trace_limit,
        };
        let mut series = Series::for_duration(self.max_ns.min(86_400_000_000_000));
        let mut counts: HashMap<u64, u32> = HashMap::new();
        let mut delivered = Vec::new();
        let mut pacer = Pacer::new(self.config.clone(), self.seed);
        let key_header = self.config.retry.idempotency_header.clone();
        let body_params = body_params(&self.spec);
        let (mut walk, mut end) = match Walk::new(self.spec.clone(), self.template.clone()) {
            Ok(w) => (Some(w), WalkEnd::Complete),
            Err(e) => (None, WalkEnd::GaveUp(e.to_string())),
        };
        let mut saved: Option<Vec<u8>> = None;
        // The sink's records past the saved checkpoint (a file's tail): what a crash before
        // the next save leaves delivered but uncovered, told to the resumed walk.
        let mut tail: Vec<Vec<u8>> = Vec::new();
        let mut crashes = std::mem::take(&mut self.crashes);
        crashes.retain(|c| c.after_page > 0);
        crashes.sort_by_key(|c| c.after_page);
        let mut crashes = crashes.into_iter().peekable();
        let mut t = 0u64;
        let mut resends = 0u32;
        // The style the walk started in, once it switched to another.
        let mut switched_from = None;

        'walk: while let Some(w) = walk.as_mut() {
            let Some(req) = w.poll_request().cloned() else {
                end = match w.state() {
                    WalkState::Stopped(e) => WalkEnd::Stopped(e.clone()),
                    _ => WalkEnd::Complete,
                };
                break;
            };
            let path = match req.url.query() {
                Some(q) => format!("{}?{q}", req.url.path()),
                None => req.url.path().to_owned(),
            };
            // A page read is safe to repeat, POST (GraphQL, search) included: say so the way
            // the Pacer understands.
            let mut headers = req.headers.clone();
            if !is_idempotent(&req.method)
                && let Ok(name) = http::HeaderName::from_bytes(key_header.as_bytes())
            {
                headers.insert(name, HeaderValue::from_static("page-read"));
            }
            let mut call = pacer.call_to(&req.method, req.url.path(), &headers);
            let body = req.body.as_deref().unwrap_or(b"");
            let shown = if trace.has_room() {
                shown_body(&body_params, body)
            } else {
                String::new()
            };
            // The Pacer's loop: send, retry, until a final response or a failure.
            let response = loop {
                if t > self.max_ns {
                    end = WalkEnd::OutOfTime;
                    r.truncated = true;
                    break 'walk;
                }
                match pacer.poll_send(&mut call, now_at(t)) {
                    Begin::Send => {}
                    Begin::Wait(at) => {
                        t = t.max(ns_of(at));
                        continue;
                    }
                    Begin::WaitForPermit => break Err("no concurrency permit".to_owned()),
                    Begin::Reject(e) => {
                        r.rejected += 1;
                        break Err(e.to_string());
                    }
                }
                r.requests += 1;
                series.sent(t);
                let mreq = ModelRequest {
                    method: req.method.as_str(),
                    path: &path,
                    body,
                };
                let resp = self.model.handle(t, &mreq);
                t = t.saturating_add(resp.latency_ns);
                let now = now_at(t);
                let (finish, status) = match resp.fate {
                    Fate::Respond => {
                        r.count_status(resp.status);
                        if matches!(resp.status, 429 | 403) {
                            series.throttled(t);
                        }
                        let status = StatusCode::from_u16(resp.status)
                            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                        let f = pacer.on_response_body(
                            &mut call,
                            now,
                            status,
                            &resp.headers,
                            &resp.body,
                        );
                        (f, resp.status.to_string())
                    }
                    Fate::ResetBefore | Fate::ResetAfter => {
                        r.transport_errors += 1;
                        let e = TransportError::after_send(TransportKind::Reset);
                        (pacer.on_transport_error(&mut call, now, e), "reset".into())
                    }
                };
                while let Some(e) = pacer.poll_event() {
                    r.note_event(&e);
                }
                let head = format!(
                    "{:>10.3}s {} {path}{shown} -> {status}",
                    t as f64 / 1e9,
                    req.method
                );
                match finish {
                    Finish::Done => break Ok((resp, head)),
                    Finish::RetryAt(at) => {
                        r.retries += 1;
                        trace.push(|| {
                            let wait = at.saturating_duration_since(now.mono).as_secs_f64();
                            format!("{head} retry in {wait:.3}s")
                        });
                        t = t.max(ns_of(at));
                    }
                    Finish::Fail(e) => {
                        trace.push(|| format!("{head} fail: {e}"));
                        break Err(e.to_string());
                    }
                }
            };
            let (resp, head) = match response {
                Ok(x) => x,
                Err(e) => {
                    r.gave_up += 1;
                    end = WalkEnd::GaveUp(e);
                    break;
                }
            };
            r.succeeded += 1;
            let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::OK);
            let page = match w.on_page(status, &resp.headers, &resp.body) {
                Ok(p) => p,
                Err(e) if e.is_transient() && resends < self.max_resends => {
                    resends += 1;
                    r.resends += 1;
                    trace.push(|| format!("{head} unusable ({e}): send again"));
                    continue;
                }
                Err(e) => {
                    trace.push(|| format!("{head} unusable ({e}): give up"));
                    end = WalkEnd::GaveUp(e.to_string());
                    break;
                }
            };
            resends = 0;
            r.pages += 1;
            // 1. Deliver the records.
            let crash_ahead = crashes.peek().is_some();
            for record in page.records(&resp.body) {
                if crash_ahead {
                    tail.push(record.to_vec());
                }
                let id = serde_json::from_slice::<Value>(record)
                    .ok()
                    .and_then(|v| self.id.find(&v).and_then(id_of));
                match id {
                    Some(id) => {
                        *counts.entry(id).or_insert(0) += 1;
                        delivered.push(id);
                    }
                    None => r.records_invented += 1,
                }
                r.records_delivered += 1;
            }
            let mut notes = Vec::new();
            let mut switched = None;
            while let Some(e) = w.poll_event() {
                match e {
                    PageEvent::TotalChanged { from, to, .. } => {
                        r.total_changes += 1;
                        notes.push(format!("total {from} -> {to}"));
                    }
                    PageEvent::DuplicateKeys { count, dropped, .. } => {
                        if dropped {
                            r.records_dropped += u64::from(count);
                            notes.push(format!("{count} seen before, dropped"));
                        } else {
                            notes.push(format!("{count} seen before"));
                        }
                    }
                    PageEvent::Switched { from, to } => {
                        switched_from.get_or_insert(from);
                        switched = Some((from, to));
                    }
                    _ => {}
                }
            }
            trace.push(|| {
                let mut line = format!("{head} page {}: {} records", page.number(), page.len());
                if !notes.is_empty() {
                    line.push_str(&format!(" ({})", notes.join(", ")));
                }
                match page.after() {
                    After::More => {}
                    After::Complete(reason) => line.push_str(&format!(", end: {reason}")),
                    After::Stopped(e) => line.push_str(&format!(", stopped: {e}")),
                }
                line
            });
            if let Some((from, to)) = switched {
                trace.push(|| format!("{:>10.3}s switched from {from} to {to}", t as f64 / 1e9));
            }
            // 2. Persist the checkpoint (only kept when a crash is still to come), or crash.
            let crash = crashes.next_if(|c| c.after_page == page.number());
            let persist = match crash {
                Some(c) => c.persisted,
                None => crashes.peek().is_some(),
            };
            if persist {
                saved = Some(w.checkpoint().to_bytes());
                tail.clear();
            }
            if crash.is_some() {
                t = t.saturating_add(self.restart_ns);
                r.resumes += 1;
                pacer = Pacer::new(self.config.clone(), self.seed.wrapping_add(r.resumes));
                let from = saved
                    .as_deref()
                    .and_then(|b| Checkpoint::from_bytes(b).ok())
                    .map(|c| {
                        Walk::resume(Some(self.spec.clone()), self.template.clone(), &c)
                            .map_err(|e| e.to_string())
                    });
                trace.push(|| {
                    format!(
                        "{:>10.3}s crash after page {}; restart from {}",
                        t as f64 / 1e9,
                        page.number(),
                        if saved.is_some() {
                            "the last checkpoint"
                        } else {
                            "the start"
                        }
                    )
                });
                match from {
                    Some(Ok(mut resumed)) => {
                        resumed.already_delivered(tail.iter().map(Vec::as_slice));
                        *w = resumed;
                    }
                    Some(Err(e)) => {
                        end = WalkEnd::GaveUp(e);
                        break;
                    }
                    None => match Walk::new(self.spec.clone(), self.template.clone()) {
                        Ok(mut fresh) => {
                            fresh.already_delivered(tail.iter().map(Vec::as_slice));
                            *w = fresh;
                        }
                        Err(e) => {
                            end = WalkEnd::GaveUp(e.to_string());
                            break;
                        }
                    },
                }
            }
        }

        let truth = self.model.truth().unwrap_or_default();
        score(&mut r, &truth, &counts);
        let reason = walk.as_ref().and_then(|w| w.end_reason().cloned());
        r.walk_end = Some(match (&end, reason) {
            (WalkEnd::Complete, Some(reason)) => format!("complete ({reason})"),
            _ => end.to_string(),
        });
        r.walk_style = walk
            .as_ref()
            .and_then(Walk::style)
            .map(|now| match switched_from {
                Some(from) if from != now => format!("{from} then {now}"),
                _ => now.to_string(),
            });
        if let Some(drift) = walk.as_ref().map(Walk::drift).filter(|d| !d.is_empty()) {
            r.drift = Some(drift.to_string());
            r.records_may_be_missing = drift.may_be_missing();
        }
        r.virtual_duration_s = t as f64 / 1e9;
        let limit_rate = r.finish(&self.model, t.max(1));
        let (series, bucket_s) = series.finish();
        WalkRun {
            run: Run {
                report: r,
                trace: trace.lines,
                notable: Vec::new(),
                series,
                bucket_s,
                limit_rate,
            },
            delivered,
            end,
            truth,
        }
    }
}

/// Fills the `records_*` fields from the truth and the delivery counts.
fn score(r: &mut Report, truth: &Truth, counts: &HashMap<u64, u32>) {
    r.records_expected = truth.must_deliver.len() as u64;
    r.records_lost = truth
        .must_deliver
        .iter()
        .filter(|id| !counts.contains_key(id))
        .count() as u64;
    r.records_duplicated = counts.values().map(|&n| u64::from(n - 1)).sum();
    if !truth.ever.is_empty() {
        let ever: std::collections::HashSet<u64> = truth.ever.iter().copied().collect();
        r.records_invented += counts
            .keys()
            .filter(|id| !ever.contains(id))
            .map(|id| u64::from(counts[id]))
            .sum::<u64>();
    }
}

/// The body members a spec pages with (GraphQL's `after`, `search_after`), shown in the trace.
fn body_params(spec: &PageSpec) -> Vec<Pointer> {
    let mut out = Vec::new();
    for style in std::iter::once(&spec.style).chain(spec.prefer.as_ref()) {
        let params: Vec<&Param> = match style {
            Style::Offset { param, .. }
            | Style::Page { param, .. }
            | Style::Cursor { param, .. }
            | Style::Token { param, .. }
            | Style::SearchAfter { param, .. } => vec![param],
            Style::Keyset { keys, .. } => keys.iter().map(|k| &k.param).collect(),
            Style::Relay { variable, .. } => {
                out.push(Pointer::root().child("variables").child(variable));
                Vec::new()
            }
            _ => Vec::new(),
        };
        out.extend(params.into_iter().filter_map(|p| match p {
            Param::Body(p) => Some(p.clone()),
            _ => None,
        }));
    }
    out
}

/// ` /variables/after="…"` for each paging member the body has.
fn shown_body(params: &[Pointer], body: &[u8]) -> String {
    let mut out = String::new();
    if params.is_empty() || body.is_empty() {
        return out;
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        for p in params {
            if let Some(x) = p.find(&v) {
                out.push_str(&format!(" {}={x}", p.as_str()));
            }
        }
    }
    out
}

/// A record id: a number, or a string of digits (Elasticsearch's `_id`).
fn id_of(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

struct Trace {
    lines: Vec<String>,
    limit: usize,
}

impl Trace {
    fn has_room(&self) -> bool {
        self.lines.len() < self.limit
    }

    /// Adds a line, formatted only while there is room.
    fn push(&mut self, line: impl FnOnce() -> String) {
        if self.lines.len() < self.limit {
            self.lines.push(line());
        }
    }
}
