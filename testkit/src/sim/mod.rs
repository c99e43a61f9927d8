//! The simulator: client machines against server models in virtual time.
//!
//! An event queue, no threads, no sleeps: the clock jumps to the next wake-up. Workers (clients
//! sharing one [`Pacer`]) each loop: ask the Pacer, send to the model, get the answer after the
//! model's latency, tell the Pacer, think ([`Workload::think_s`]), start the next request. Same
//! seed, same trace, byte for byte.
//!
//! A request the Pacer rejects ends there (counted in [`Report::rejected`]) and its worker
//! stops, with one exception: a request rejected by an open circuit breaker
//! ([`paceline::Error::BreakerOpen`]) failed fast, as a real caller's would, and its worker
//! starts its next request when the breaker says a probe may go (`until`), as a client that
//! keeps working through an outage does. When the model has an outage
//! ([`crate::model::Outage`]), the report counts what the server received during it and how
//! soon the clients recovered after it ([`Report::outage`]).
//!
//! ```
//! use paceline::{Pacer, PacerConfig};
//! use paceline_testkit::model::{Dialect, LimiterKind, LimiterSpec, ServerModel};
//! use paceline_testkit::sim::{Sim, Workload};
//! use std::time::UNIX_EPOCH;
//!
//! let model = ServerModel::new(7, UNIX_EPOCH)
//!     .dialect(Dialect::XRateLimitDelta)
//!     .limiter(LimiterSpec::new(LimiterKind::FixedWindow { limit: 100, window_s: 10.0 }));
//! let pacer = Pacer::new(PacerConfig::default(), 7);
//! let run = Sim::new(model, pacer, Workload::default(), 60.0, 7).run();
//! assert_eq!(run.report.status_429, 0);
//! assert!(run.report.utilisation > 0.95, "{}", run.report.utilisation);
//! ```

mod report;
mod series;
pub mod walk;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, Method, StatusCode};
use paceline::breaker::BreakerEvent;
use paceline::retry::{TransportError, TransportKind};
use paceline::throttle::Priority;
use paceline::{Begin, Call, Error, Event, Finish, Now, Pacer};
use serde::{Deserialize, Serialize};

pub use report::{LimitUse, OutageFigures, Report, WaitStats, Waits};
pub use series::Bucket;

use crate::model::{Fate, ModelRequest, ModelResponse, ServerModel};

/// A path requests go to, with its share of the traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightedPath {
    /// Path and query.
    pub path: String,
    /// Relative weight.
    #[serde(default = "one")]
    pub weight: u32,
}

fn one() -> u32 {
    1
}

/// What the clients do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Workload {
    /// Concurrent workers sharing one Pacer. Default 4.
    pub workers: u32,
    /// Logical requests in all; `None`: as many as fit in the duration.
    pub requests: Option<u64>,
    /// Where requests go. Default `/items`.
    pub paths: Vec<WeightedPath>,
    /// The method. Default GET.
    pub method: String,
    /// Fraction of requests sent as background priority. Default 0.
    pub background: f64,
    /// Seconds a worker waits after a request ends (done, given up or failed fast by a
    /// breaker) before it starts the next: each worker is then a client sending about one
    /// request every `think_s` plus the response time, not as fast as the server answers.
    /// Default 0.
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub think_s: f64,
}

fn is_zero_f64(x: &f64) -> bool {
    *x == 0.0
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            workers: 4,
            requests: None,
            paths: vec![WeightedPath {
                path: "/items".into(),
                weight: 1,
            }],
            method: "GET".into(),
            background: 0.0,
            think_s: 0.0,
        }
    }
}

/// A finished run: the report and the trace.
#[derive(Debug, Clone)]
pub struct Run {
    /// The figures.
    pub report: Report,
    /// One line per request (up to the trace limit).
    pub trace: Vec<String>,
    /// The lines of the trace that are not a plain success (429s, 5xx, resets, retries,
    /// failures, refusals), wherever in the run they happen, up to the trace limit: where a
    /// scenario's behaviour shows. Empty for walks.
    pub notable: Vec<String>,
    /// Requests sent and throttled over virtual time.
    pub series: Vec<Bucket>,
    /// The width of a [`Run::series`] bucket, seconds.
    pub bucket_s: f64,
    /// The binding limit's allowed rate, requests per second, when there is one.
    pub limit_rate: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Wake(u32),
    Arrive(u32),
}

struct Worker {
    call: Option<(Call, usize)>,
    /// When the current call was made, and whether it is background work; taken at its first
    /// send.
    made: Option<(u64, bool)>,
    pending: Option<ModelResponse>,
    parked: bool,
    retired: bool,
}

/// A simulation, ready to run.
pub struct Sim {
    model: ServerModel,
    pacer: Pacer,
    workload: Workload,
    duration_ns: u64,
    seed: u64,
    trace_limit: usize,
    max_events: u64,
}

impl Sim {
    /// `model` against a `pacer` doing `workload` for `duration_s` of virtual time.
    pub fn new(
        model: ServerModel,
        pacer: Pacer,
        workload: Workload,
        duration_s: f64,
        seed: u64,
    ) -> Self {
        Sim {
            model,
            pacer,
            workload,
            duration_ns: (duration_s.max(0.0) * 1e9) as u64,
            seed,
            trace_limit: 1000,
            max_events: 50_000_000,
        }
    }

    /// Keeps at most this many trace lines (default 1000).
    pub fn trace_limit(mut self, n: usize) -> Self {
        self.trace_limit = n;
        self
    }

    /// Runs to the end of the duration (or of the requests), then lets requests in flight finish.
    pub fn run(mut self) -> Run {
        let clock = Clock::new(&self.model);
        let now_at = |ns: u64| clock.at(ns);
        let mut rng = fastrand::Rng::with_seed(self.seed ^ 0x5eed);
        let workers = self.workload.workers.max(1);
        let mut ws: Vec<Worker> = (0..workers)
            .map(|_| Worker {
                call: None,
                made: None,
                pending: None,
                parked: false,
                retired: false,
            })
            .collect();
        let mut queue: BinaryHeap<Reverse<(u64, u64, Ev)>> = BinaryHeap::new();
        // A shared budget's store, in virtual time: the core's reference bucket.
        let mut store = paceline::shared::BucketState::default();
        let mut seq = 0u64;
        let mut push = |q: &mut BinaryHeap<Reverse<(u64, u64, Ev)>>, t: u64, ev: Ev| {
            seq += 1;
            q.push(Reverse((t, seq, ev)));
        };
        for w in 0..workers {
            push(&mut queue, 0, Ev::Wake(w));
        }
        let method: Method = self.workload.method.parse().unwrap_or(Method::GET);
        let total_weight: u64 = self
            .workload
            .paths
            .iter()
            .map(|p| u64::from(p.weight))
            .sum::<u64>()
            .max(1);
        let mut r = Report {
            seed: self.seed,
            ..Report::default()
        };
        let mut series = series::Series::for_duration(self.duration_ns);
        let mut trace = Vec::new();
        let mut notable = Vec::new();
        let (mut fg_waits, mut bg_waits) = (Vec::new(), Vec::new());
        let mut started = 0u64;
        let mut end = 0u64;
        let mut events = 0u64;
        let empty = HeaderMap::new();
        let think_ns = if self.workload.think_s.is_finite() && self.workload.think_s > 0.0 {
            (self.workload.think_s * 1e9) as u64
        } else {
            0
        };
        let mut outage = self.model.outage().map(|o| OutageWatch {
            from_ns: o.from_ns(),
            until_ns: o.until_ns(),
            figures: OutageFigures {
                from_s: o.from_ns() as f64 / 1e9,
                until_s: o.until_ns() as f64 / 1e9,
                ..OutageFigures::default()
            },
        });

        while let Some(Reverse((now, _, ev))) = queue.pop() {
            events += 1;
            if events > self.max_events {
                r.truncated = true;
                break;
            }
            end = end.max(now);
            let t = now_at(now);
            let (w, arrived) = match ev {
                Ev::Wake(w) => (w, false),
                Ev::Arrive(w) => (w, true),
            };
            let wi = w as usize;
            if ws[wi].retired {
                continue;
            }
            let mut wake_parked = false;
            if arrived {
                let resp = ws[wi].pending.take().expect("an arrival has a response");
                let (call, path_i) = ws[wi].call.as_mut().expect("an arrival has a call");
                let path = &self.workload.paths[*path_i].path;
                let finish = match resp.fate {
                    Fate::Respond => {
                        let status = StatusCode::from_u16(resp.status)
                            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                        r.count_status(resp.status);
                        if let Some(o) = &mut outage {
                            o.answered(now, resp.status);
                        }
                        if matches!(resp.status, 429 | 403) {
                            series.throttled(now);
                        }
                        self.pacer
                            .on_response_body(call, t, status, &resp.headers, &resp.body)
                    }
                    Fate::ResetBefore | Fate::ResetAfter => {
                        r.transport_errors += 1;
                        self.pacer.on_transport_error(
                            call,
                            t,
                            TransportError::after_send(TransportKind::Reset),
                        )
                    }
                };
                let plain = resp.fate == Fate::Respond
                    && (200..300).contains(&resp.status)
                    && matches!(finish, Finish::Done);
                if trace.len() < self.trace_limit || (!plain && notable.len() < self.trace_limit) {
                    let status = match resp.fate {
                        Fate::Respond => resp.status.to_string(),
                        _ => "reset".into(),
                    };
                    let line = match &finish {
                        Finish::Done => "done".to_string(),
                        Finish::RetryAt(at) => {
                            format!("retry in {:.3}s", at.duration_since(t.mono).as_secs_f64())
                        }
                        Finish::Fail(e) => format!("fail: {e}"),
                    };
                    let line = format!(
                        "{:>10.3}s w{w} {} {path} -> {status} {line}",
                        now as f64 / 1e9,
                        method
                    );
                    if !plain && notable.len() < self.trace_limit {
                        notable.push(line.clone());
                    }
                    if trace.len() < self.trace_limit {
                        trace.push(line);
                    }
                }
                self.model.recycle(resp.headers);
                match finish {
                    Finish::Done => {
                        r.succeeded += 1;
                        ws[wi].call = None;
                        push(&mut queue, now + think_ns, Ev::Wake(w));
                    }
                    Finish::RetryAt(at) => {
                        r.retries += 1;
                        push(&mut queue, clock.ns(at), Ev::Wake(w));
                    }
                    Finish::Fail(_) => {
                        r.gave_up += 1;
                        ws[wi].call = None;
                        push(&mut queue, now + think_ns, Ev::Wake(w));
                    }
                }
                wake_parked = true;
            } else {
                ws[wi].parked = false;
                if ws[wi].call.is_none() {
                    let more = self.workload.requests.is_none_or(|n| started < n);
                    if now >= self.duration_ns || !more {
                        ws[wi].retired = true;
                        continue;
                    }
                    started += 1;
                    let pick = rng.u64(0..total_weight);
                    let mut acc = 0;
                    let path_i = self
                        .workload
                        .paths
                        .iter()
                        .position(|p| {
                            acc += u64::from(p.weight);
                            pick < acc
                        })
                        .unwrap_or(0);
                    let mut call =
                        self.pacer
                            .call_to(&method, &self.workload.paths[path_i].path, &empty);
                    let background =
                        self.workload.background > 0.0 && rng.f64() < self.workload.background;
                    if background {
                        call.set_priority(Priority::Background);
                    }
                    ws[wi].made = Some((now, background));
                    ws[wi].call = Some((call, path_i));
                }
                let Worker { call, made, .. } = &mut ws[wi];
                let (call, path_i) = call.as_mut().expect("set above");
                match self.pacer.poll_send(call, t) {
                    Begin::Send => {
                        r.requests += 1;
                        series.sent(now);
                        if let Some(o) = &mut outage {
                            o.sent(now);
                        }
                        if let Some((made, background)) = made.take() {
                            let waits = if background {
                                &mut bg_waits
                            } else {
                                &mut fg_waits
                            };
                            waits.push(now - made);
                        }
                        let path = &self.workload.paths[*path_i].path;
                        let req = ModelRequest {
                            method: method.as_str(),
                            path,
                            body: b"",
                        };
                        let resp = self.model.handle(now, &req);
                        let at = now.saturating_add(resp.latency_ns);
                        ws[wi].pending = Some(resp);
                        push(&mut queue, at, Ev::Arrive(w));
                    }
                    Begin::Wait(at) => push(&mut queue, clock.ns(at).max(now), Ev::Wake(w)),
                    Begin::WaitForPermit => ws[wi].parked = true,
                    Begin::Reserve(res) => {
                        let reply = store.reserve(now / 1_000, &res);
                        self.pacer.on_reserved(call, t, reply);
                        push(&mut queue, now, Ev::Wake(w));
                    }
                    Begin::Reject(e) => {
                        r.rejected += 1;
                        let line = || format!("{:>10.3}s w{w} rejected: {e}", now as f64 / 1e9);
                        if trace.len() < self.trace_limit {
                            trace.push(line());
                        }
                        if notable.len() < self.trace_limit {
                            notable.push(line());
                        }
                        ws[wi].call = None;
                        if let Error::BreakerOpen { until, .. } = e {
                            // Failed fast: the next request when a probe may go (never at
                            // this same instant, whatever `until` says).
                            if let Some(o) = &mut outage {
                                o.figures.failed_fast += u64::from(o.covers(now));
                            }
                            let at = clock.ns(until).max(now + 1_000_000);
                            push(&mut queue, at.max(now + think_ns), Ev::Wake(w));
                        } else {
                            ws[wi].retired = true;
                        }
                    }
                }
            }
            while let Some(paceline::shared::SharedSignal::Pause { wait, .. }) =
                self.pacer.poll_shared()
            {
                store.pause(
                    now / 1_000,
                    u64::try_from(wait.as_micros()).unwrap_or(u64::MAX),
                );
            }
            while let Some(e) = self.pacer.poll_event() {
                if let (Some(o), Event::Breaker { event, .. }) = (&mut outage, &e) {
                    o.breaker(now, event);
                }
                r.note_event(&e);
            }
            if wake_parked {
                for (i, wk) in ws.iter_mut().enumerate() {
                    if wk.parked {
                        wk.parked = false;
                        push(&mut queue, now, Ev::Wake(i as u32));
                    }
                }
            }
        }
        r.virtual_duration_s = end.max(self.duration_ns.min(end.max(1))) as f64 / 1e9;
        // Over the whole run: requests still waiting at the scenario's duration go on, and
        // what they are admitted counts against the time they took.
        if self.workload.background > 0.0 {
            r.waits = Some(report::Waits {
                foreground: report::WaitStats::of(&mut fg_waits),
                background: report::WaitStats::of(&mut bg_waits),
            });
        }
        r.outage = outage.map(|o| o.figures);
        let limit_rate = r.finish(&self.model, end.max(1));
        let (series, bucket_s) = series.finish();
        Run {
            report: r,
            trace,
            notable,
            series,
            bucket_s,
            limit_rate,
        }
    }
}

/// What a run saw of the server's outage, as it goes.
struct OutageWatch {
    from_ns: u64,
    until_ns: u64,
    figures: OutageFigures,
}

impl OutageWatch {
    fn covers(&self, now: u64) -> bool {
        (self.from_ns..self.until_ns).contains(&now)
    }

    /// A request reached the server at `now`.
    fn sent(&mut self, now: u64) {
        if self.covers(now) {
            self.figures.requests += 1;
        }
    }

    /// A response with `status` arrived at `now`.
    fn answered(&mut self, now: u64, status: u16) {
        if now >= self.until_ns
            && (200..300).contains(&status)
            && self.figures.first_success_after_s.is_none()
        {
            self.figures.first_success_after_s = Some(round6((now - self.until_ns) as f64 / 1e9));
        }
    }

    /// The client's breaker did something at `now`.
    fn breaker(&mut self, now: u64, event: &BreakerEvent) {
        match event {
            BreakerEvent::Opened { break_for, .. } | BreakerEvent::Reopened { break_for }
                if now < self.until_ns =>
            {
                self.figures.breaker_opens += 1;
                self.figures.break_at_recovery_s = Some(break_for.as_secs_f64());
            }
            BreakerEvent::Closed
                if now >= self.until_ns && self.figures.breaker_closed_after_s.is_none() =>
            {
                self.figures.breaker_closed_after_s =
                    Some(round6((now - self.until_ns) as f64 / 1e9));
            }
            _ => {}
        }
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Virtual time: nanoseconds since the run's start, as the `Now`s a Pacer is given.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    base: Instant,
    wall0: SystemTime,
}

impl Clock {
    /// A clock whose zero is the model's start (its wall time) and an arbitrary instant.
    pub(crate) fn new(model: &ServerModel) -> Self {
        Clock {
            base: Instant::now(),
            wall0: model.wall(0),
        }
    }

    /// The `Now` of `ns` nanoseconds into the run.
    pub(crate) fn at(&self, ns: u64) -> Now {
        Now::new(
            self.base + Duration::from_nanos(ns),
            self.wall0 + Duration::from_nanos(ns),
        )
    }

    /// Nanoseconds into the run of an instant a Pacer returned.
    pub(crate) fn ns(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Renders a run for people: the report, then (optionally) the trace.
pub fn render(run: &Run, with_trace: bool) -> String {
    let mut out = run.report.to_text();
    if with_trace {
        out.push_str("\ntrace:\n");
        for l in &run.trace {
            let _ = writeln!(out, "{l}");
        }
    }
    out
}

/// The Unix epoch plus `secs`: a fixed wall clock for deterministic runs.
pub fn wall_at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}
