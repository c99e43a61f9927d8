//! Walk simulations: one pagination walk ([`Walk`]) through a [`Pacer`] against a server model
//! serving a live [`Dataset`](crate::dataset::Dataset), in virtual time.
//!
//! The walk is the core's page machine ([`Pages`]), the one the ureq adapter pumps: every
//! rule of a walk (which pages are sent again, deliver before save, what a resumed walk skips)
//! is the shipped one. The simulator pumps it in virtual time: each `Send` is one paced
//! exchange (ask the Pacer when to send, send to the model, tell the Pacer the outcome: it
//! retries 429s, 5xx and resets), each `Deliver` is checked against the dataset's ground
//! truth ([`Truth`]): records that existed for the whole walk and were not delivered are lost;
//! deliveries beyond a record's first are duplicates; ids that never existed are invented.
//!
//! A crash schedule ([`Crash`]) kills the client after a page's records were delivered (before
//! or after its checkpoint was written) and restarts it, with a fresh Pacer, from the last
//! checkpoint's bytes ([`Pages::start`]), as a process restarted by its supervisor would. A
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
use std::time::Duration;

use http::StatusCode;
use paceline::exchange::{Exchange, ExchangeConfig, Step};
use paceline::paginate::{
    After, Failure, GuardError, Output, PageEvent, PageRequest, PageSpec, Pages, PagesConfig,
    Param, Pointer, RequestTemplate, Style, Walk,
};
use paceline::retry::{TransportError, TransportKind};
use paceline::{Pacer, PacerConfig};
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

    /// Runs the walk to its end (or the time bound): the core's page machine
    /// ([`Pages`]) pumped in virtual time, each of its requests one paced exchange.
    pub fn run(mut self) -> WalkRun {
        let clock = super::Clock::new(&self.model);
        let mut x = Exchanges {
            r: Report {
                seed: self.seed,
                ..Report::default()
            },
            trace: Trace {
                lines: Vec::new(),
                limit: self.trace_limit,
            },
            series: Series::for_duration(self.max_ns.min(86_400_000_000_000)),
            t: 0,
            max_ns: self.max_ns,
            body_params: body_params(&self.spec),
            pacer: Pacer::new(self.config.clone(), self.seed),
            store: paceline::shared::BucketState::default(),
        };
        let mut counts: HashMap<u64, u32> = HashMap::new();
        let mut delivered = Vec::new();
        let config = PagesConfig::default().resends(self.max_resends);
        let start = |saved: Option<&[u8]>, tail: &[Vec<u8>]| {
            Pages::start(
                Some(self.spec.clone()),
                self.template.clone(),
                config.clone(),
                saved,
            )
            .map(|mut pages| {
                pages.hold(tail.iter().map(Vec::as_slice));
                pages
            })
        };
        let (mut pages, mut end) = match start(None, &[]) {
            Ok(p) => (Some(p), WalkEnd::Complete),
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
        // The style the walk started in, once it switched to another.
        let mut switched_from = None;
        // What the trace says of the last final response, the page's notes, a switch.
        let mut head = String::new();
        let mut notes: Vec<String> = Vec::new();
        let mut switched = None;
        let mut failure: Option<String> = None;

        while let Some(m) = pages.as_mut() {
            match m.poll() {
                Output::Send { slot, request } => {
                    match x.paced(&mut self.model, &clock, &request) {
                        Paced::Done(status, headers, body, h) => {
                            head = h;
                            m.on_response(slot, status, headers, body);
                        }
                        Paced::Failed(e) => {
                            x.r.gave_up += 1;
                            failure = Some(e);
                            m.on_send_failed(slot);
                        }
                        Paced::OutOfTime => {
                            end = WalkEnd::OutOfTime;
                            x.r.truncated = true;
                            break;
                        }
                    }
                }
                Output::Event(e) => match e {
                    PageEvent::TotalChanged { from, to, .. } => {
                        x.r.total_changes += 1;
                        notes.push(format!("total {from} -> {to}"));
                    }
                    PageEvent::DuplicateKeys { count, dropped, .. } => {
                        if dropped {
                            x.r.records_dropped += u64::from(count);
                            notes.push(format!("{count} seen before, dropped"));
                        } else {
                            notes.push(format!("{count} seen before"));
                        }
                    }
                    PageEvent::Switched { from, to } => {
                        switched_from.get_or_insert(from);
                        switched = Some((from, to));
                    }
                    PageEvent::Resending { error, .. } => {
                        x.r.resends += 1;
                        x.trace
                            .push(|| format!("{head} unusable ({error}): send again"));
                    }
                    _ => {}
                },
                Output::Deliver(page) => {
                    x.r.pages += 1;
                    let crash_ahead = crashes.peek().is_some();
                    for record in page.records() {
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
                            None => x.r.records_invented += 1,
                        }
                        x.r.records_delivered += 1;
                    }
                    let notes = std::mem::take(&mut notes);
                    x.trace.push(|| {
                        let mut line =
                            format!("{head} page {}: {} records", page.number(), page.len());
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
                    if let Some((from, to)) = switched.take() {
                        let t = x.t;
                        x.trace.push(|| {
                            format!("{:>10.3}s switched from {from} to {to}", t as f64 / 1e9)
                        });
                    }
                    m.on_delivered(page.number());
                }
                Output::Save(save) => {
                    // Persisted only while a crash is still to come; or the crash.
                    let crash = crashes.next_if(|c| c.after_page == save.page);
                    let persist = match crash {
                        Some(c) => c.persisted,
                        None => crashes.peek().is_some(),
                    };
                    if persist {
                        saved = Some(save.checkpoint.to_bytes());
                        tail.clear();
                    }
                    if crash.is_none() {
                        m.on_saved(save.page);
                        continue;
                    }
                    x.t = x.t.saturating_add(self.restart_ns);
                    x.r.resumes += 1;
                    x.pacer = Pacer::new(self.config.clone(), self.seed.wrapping_add(x.r.resumes));
                    let t = x.t;
                    x.trace.push(|| {
                        format!(
                            "{:>10.3}s crash after page {}; restart from {}",
                            t as f64 / 1e9,
                            save.page,
                            if saved.is_some() {
                                "the last checkpoint"
                            } else {
                                "the start"
                            }
                        )
                    });
                    match start(saved.as_deref(), &tail) {
                        Ok(resumed) => *m = resumed,
                        Err(e) => {
                            end = WalkEnd::GaveUp(e.to_string());
                            break;
                        }
                    }
                }
                Output::Idle => {
                    end = WalkEnd::GaveUp("the page machine waits for nothing".into());
                    break;
                }
                Output::Done(_) => {
                    end = WalkEnd::Complete;
                    break;
                }
                Output::Failed(f) => {
                    end = match f {
                        Failure::Stopped { error, .. } => WalkEnd::Stopped(error),
                        Failure::Unreadable { error, .. } => {
                            x.trace
                                .push(|| format!("{head} unusable ({error}): give up"));
                            WalkEnd::GaveUp(error.to_string())
                        }
                        Failure::Request { .. } => {
                            WalkEnd::GaveUp(failure.take().unwrap_or_default())
                        }
                        other => WalkEnd::GaveUp(other.to_string()),
                    };
                    break;
                }
            }
        }

        let Exchanges {
            mut r,
            trace,
            series,
            t,
            ..
        } = x;
        let walk = pages.as_ref().map(Pages::walk);
        let truth = self.model.truth().unwrap_or_default();
        score(&mut r, &truth, &counts);
        let reason = walk.and_then(|w| w.end_reason().cloned());
        r.walk_end = Some(match (&end, reason) {
            (WalkEnd::Complete, Some(reason)) => format!("complete ({reason})"),
            _ => end.to_string(),
        });
        r.walk_style = walk.and_then(Walk::style).map(|now| match switched_from {
            Some(from) if from != now => format!("{from} then {now}"),
            _ => now.to_string(),
        });
        if let Some(drift) = walk.map(Walk::drift).filter(|d| !d.is_empty()) {
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

/// How one paced exchange ended.
enum Paced {
    /// A final response (status, headers, body), and its trace head.
    Done(StatusCode, http::HeaderMap, Vec<u8>, String),
    /// The Pacer gave up or refused.
    Failed(String),
    /// Virtual time ran out.
    OutOfTime,
}

/// The state the exchanges of a walk share: the Pacer, virtual time, the report and trace.
struct Exchanges {
    r: Report,
    trace: Trace,
    series: Series,
    t: u64,
    max_ns: u64,
    body_params: Vec<Pointer>,
    pacer: Pacer,
    /// A shared budget's store, in virtual time: the core's reference bucket.
    store: paceline::shared::BucketState,
}

impl Exchanges {
    /// One page request through the core's [`Exchange`] (the Pacer's loop: send, retry,
    /// until a final response or a failure), in virtual time. A page read is retry-safe,
    /// POST (GraphQL, search) included: [`PageRequest::to_http`] marks it.
    fn paced(&mut self, model: &mut ServerModel, clock: &super::Clock, req: &PageRequest) -> Paced {
        let path = match req.url.query() {
            Some(q) => format!("{}?{q}", req.url.path()),
            None => req.url.path().to_owned(),
        };
        let exchange = req.to_http(&[]).map_err(|e| e.to_string()).and_then(|r| {
            Exchange::new(&self.pacer, r, &ExchangeConfig::default().max_redirects(0))
                .map_err(|e| e.to_string())
        });
        let mut exchange = match exchange {
            Ok(x) => x,
            Err(e) => return Paced::Failed(e),
        };
        let body = req.body.as_deref().unwrap_or(b"");
        let shown = if self.trace.has_room() {
            shown_body(&self.body_params, body)
        } else {
            String::new()
        };
        // The trace head of the last attempt, while its outcome is what the next step says.
        let mut reported: Option<String> = None;
        loop {
            if self.t > self.max_ns {
                return Paced::OutOfTime;
            }
            let now = clock.at(self.t);
            let step = exchange.poll(&mut self.pacer, now);
            while let Some(e) = self.pacer.poll_event() {
                self.r.note_event(&e);
            }
            let head = reported.take();
            match step {
                Step::Send(_) | Step::Wait(_) if head.is_some() => {
                    let head = head.clone().unwrap_or_default();
                    self.r.retries += 1;
                    let at = match &step {
                        Step::Wait(at) => *at,
                        _ => now.mono,
                    };
                    self.trace.push(|| {
                        let wait = at.saturating_duration_since(now.mono).as_secs_f64();
                        format!("{head} retry in {wait:.3}s")
                    });
                }
                Step::Fail(e) if head.is_some() => {
                    let head = head.clone().unwrap_or_default();
                    self.trace.push(|| format!("{head} fail: {e}"));
                    return Paced::Failed(e.to_string());
                }
                _ => {}
            }
            match step {
                Step::Send(_) => {}
                Step::Wait(at) => {
                    self.t = self.t.max(clock.ns(at));
                    continue;
                }
                Step::WaitForPermit => return Paced::Failed("no concurrency permit".to_owned()),
                Step::Reserve(r) => {
                    let reply = self.store.reserve(self.t / 1_000, &r);
                    exchange.on_reserved(&mut self.pacer, now, reply);
                    continue;
                }
                Step::Fail(e) => {
                    self.r.rejected += 1;
                    return Paced::Failed(e.to_string());
                }
                Step::Done(response) => {
                    self.r.succeeded += 1;
                    let head = head.unwrap_or_default();
                    let (parts, body) = response.into_parts();
                    return Paced::Done(parts.status, parts.headers, body, head);
                }
            }
            self.r.requests += 1;
            self.series.sent(self.t);
            let mreq = ModelRequest {
                method: req.method.as_str(),
                path: &path,
                body,
            };
            let resp = model.handle(self.t, &mreq);
            self.t = self.t.saturating_add(resp.latency_ns);
            let now = clock.at(self.t);
            let status = match resp.fate {
                Fate::Respond => {
                    self.r.count_status(resp.status);
                    if matches!(resp.status, 429 | 403) {
                        self.series.throttled(self.t);
                    }
                    let status = StatusCode::from_u16(resp.status)
                        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    let mut response = http::Response::new(resp.body);
                    *response.status_mut() = status;
                    *response.headers_mut() = resp.headers;
                    exchange.on_response(&mut self.pacer, now, response);
                    resp.status.to_string()
                }
                Fate::ResetBefore | Fate::ResetAfter => {
                    self.r.transport_errors += 1;
                    let e = TransportError::after_send(TransportKind::Reset);
                    exchange.on_transport_error(&mut self.pacer, now, e);
                    "reset".into()
                }
            };
            while let Some(paceline::shared::SharedSignal::Pause { wait, .. }) =
                self.pacer.poll_shared()
            {
                let wait = u64::try_from(wait.as_micros()).unwrap_or(u64::MAX);
                self.store.pause(self.t / 1_000, wait);
            }
            while let Some(e) = self.pacer.poll_event() {
                self.r.note_event(&e);
            }
            reported = Some(format!(
                "{:>10.3}s {} {path}{shown} -> {status}",
                self.t as f64 / 1e9,
                req.method
            ));
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
