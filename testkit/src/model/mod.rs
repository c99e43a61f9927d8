//! Server models: sans-IO machines that answer requests like real rate-limited APIs.
//!
//! A [`ServerModel`] is limiters + a header [`Dialect`] + [`Chaos`] + an [`App`] (what the
//! endpoint serves: a plain "ok", or a live dataset in some pagination style). It takes a request
//! and the time, and returns a response with the latency it would take. No I/O, no clock: the
//! [simulator](crate::sim) drives it in virtual time, the [loopback server](crate::server) in
//! real time.
//!
//! ```
//! use paceline_testkit::model::{Dialect, LimiterKind, LimiterSpec, ModelRequest, ServerModel};
//! use std::time::UNIX_EPOCH;
//!
//! let mut server = ServerModel::new(1, UNIX_EPOCH)
//!     .dialect(Dialect::Github)
//!     .limiter(LimiterSpec::new(LimiterKind::FixedWindow { limit: 2, window_s: 60.0 }));
//! let req = ModelRequest { method: "GET", path: "/items", body: b"" };
//! assert_eq!(server.handle(0, &req).status, 200);
//! assert_eq!(server.handle(1, &req).status, 200);
//! let third = server.handle(2, &req);
//! assert_eq!(third.status, 403); // GitHub answers an exhausted primary limit with 403
//! assert_eq!(third.headers["x-ratelimit-remaining"], "0");
//! ```

mod chaos;
mod dialect;
mod limiter;
mod loopback;

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

pub use chaos::{After, Before, Chaos, Outage, Shares};
pub use dialect::{Dialect, Shown};
pub use limiter::{Limiter, LimiterKind, LimiterSpec, Report, path_matches};
pub use loopback::{Answers, ModelResponder, SharedModel};

/// A request as a model sees it.
#[derive(Debug, Clone, Copy)]
pub struct ModelRequest<'a> {
    /// The method.
    pub method: &'a str,
    /// Path and query.
    pub path: &'a str,
    /// The body.
    pub body: &'a [u8],
}

/// How the exchange ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// The response is delivered.
    Respond,
    /// The connection is reset before the request was processed.
    ResetBefore,
    /// The request was processed, then the connection was reset.
    ResetAfter,
}

/// A model's answer.
#[derive(Debug, Clone)]
pub struct ModelResponse {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Vec<u8>,
    /// How long the answer takes, ns.
    pub latency_ns: u64,
    /// Whether it arrives.
    pub fate: Fate,
    /// Which limiter refused it, if one did (index in the model's limiters).
    pub refused_by: Option<usize>,
    /// Whether chaos cut this `200`'s body short ([`Chaos::p_truncated`]).
    pub truncated: bool,
}

/// Per-request pagination misbehaviour chosen by chaos, for the [`App`] to apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageChaos {
    /// Serve an empty page (with a next pointer) instead of this one.
    pub empty_page: bool,
    /// Repeat the previous cursor instead of the next one.
    pub repeat_cursor: bool,
    /// On the last page, give a cursor that points at the page itself.
    pub self_cursor: bool,
}

/// What an app answers (before limits and chaos).
#[derive(Debug, Clone, Default)]
pub struct AppResponse {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Vec<u8>,
}

/// Ground truth about the records an app serves, for checking a client's output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Truth {
    /// Records that existed for the whole walk (each must be delivered exactly once).
    pub must_deliver: Vec<u64>,
    /// Every record id that existed at any time (others are invented).
    pub ever: Vec<u64>,
}

impl Truth {
    /// How the ids a client delivered (in any order, repeats included) compare with the truth.
    ///
    /// ```
    /// use paceline_testkit::model::Truth;
    ///
    /// let truth = Truth { must_deliver: vec![1, 2, 3], ever: vec![1, 2, 3, 4] };
    /// let c = truth.compare([1, 2, 2, 4, 9]);
    /// assert!(!c.is_exact());
    /// assert_eq!((c.missing, c.twice, c.invented), (vec![3], vec![2], vec![9]));
    /// assert!(truth.compare([3, 1, 2]).is_exact());
    /// ```
    pub fn compare(&self, delivered: impl IntoIterator<Item = u64>) -> Comparison {
        let mut seen: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
        for id in delivered {
            *seen.entry(id).or_insert(0) += 1;
        }
        let ever: std::collections::HashSet<u64> = self.ever.iter().copied().collect();
        let mut twice: Vec<u64> = seen
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(id, _)| *id)
            .collect();
        let mut invented: Vec<u64> = seen
            .keys()
            .filter(|id| !ever.contains(id))
            .copied()
            .collect();
        twice.sort_unstable();
        invented.sort_unstable();
        Comparison {
            missing: self
                .must_deliver
                .iter()
                .filter(|id| !seen.contains_key(id))
                .copied()
                .collect(),
            twice,
            invented,
        }
    }
}

impl Truth {
    /// How a [`Dataset`](crate::dataset::Dataset) list of `initial` records changed while it
    /// was read: its ids start at [`FIRST_ID`](crate::dataset::FIRST_ID), head inserts take
    /// ids below it, tail inserts ids past the initial ones.
    pub fn changes(&self, initial: u64) -> Changes {
        use crate::dataset::FIRST_ID;
        let head = self.ever.iter().filter(|id| **id < FIRST_ID).count();
        let tail = self
            .ever
            .iter()
            .filter(|id| **id >= FIRST_ID + initial)
            .count();
        Changes {
            head,
            tail,
            deleted: self.ever.len() - self.must_deliver.len() - head - tail,
        }
    }
}

/// What [`Truth::changes`] counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    /// Records inserted at the head.
    pub head: usize,
    /// Records inserted at the tail.
    pub tail: usize,
    /// Records deleted.
    pub deleted: usize,
}

/// What [`Truth::compare`] found: each list sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Records that existed for the whole walk and were not delivered.
    pub missing: Vec<u64>,
    /// Records delivered more than once.
    pub twice: Vec<u64>,
    /// Records delivered that never existed.
    pub invented: Vec<u64>,
}

impl Comparison {
    /// Nothing missing, twice or invented.
    pub fn is_exact(&self) -> bool {
        self.missing.is_empty() && self.twice.is_empty() && self.invented.is_empty()
    }
}

impl std::fmt::Display for Comparison {
    /// `"2 missing [3, 7], 0 twice [], 0 invented []"`: the counts, and the first ten of each.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let first = |v: &[u64]| v[..v.len().min(10)].to_vec();
        write!(
            f,
            "{} missing {:?}, {} twice {:?}, {} invented {:?}",
            self.missing.len(),
            first(&self.missing),
            self.twice.len(),
            first(&self.twice),
            self.invented.len(),
            first(&self.invented)
        )
    }
}

/// What an endpoint serves.
pub trait App: Send {
    /// Answers a request the limiters admitted, at `now_ns`.
    fn respond(&mut self, now_ns: u64, req: &ModelRequest<'_>, chaos: PageChaos) -> AppResponse;

    /// The ground truth, for apps that serve records.
    fn truth(&self) -> Option<Truth> {
        None
    }
}

/// The simplest app: `200 {"ok":true}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ok200;

impl App for Ok200 {
    fn respond(&mut self, _: u64, _: &ModelRequest<'_>, _: PageChaos) -> AppResponse {
        // No headers of its own: the model adds `Date` and the dialect's, and a simulated
        // response should cost no more than it must (the simulator runs millions).
        AppResponse {
            status: 200,
            headers: HeaderMap::new(),
            body: b"{\"ok\":true}".to_vec(),
        }
    }
}
/// Latency of the model's answers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Latency {
    /// Base latency, ms.
    pub base_ms: f64,
    /// Uniform extra in `[0, jitter_ms)`.
    pub jitter_ms: f64,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            base_ms: 50.0,
            jitter_ms: 0.0,
        }
    }
}

/// A rate-limited, possibly chaotic server.
pub struct ServerModel {
    limiters: Vec<Limiter>,
    admitted: Vec<u64>,
    dialect: Dialect,
    chaos: Chaos,
    latency: Latency,
    retry_after: bool,
    app: Box<dyn App>,
    rng: fastrand::Rng,
    wall0: SystemTime,
    /// Reused per request: (limiter index, report) for each limiter that applies.
    reports: Vec<(usize, Report)>,
    /// The `Date` header of the current second, formatted once.
    date: Option<(u64, HeaderValue)>,
    /// Header maps given back with [`ServerModel::recycle`], reused for the next responses.
    spare: Vec<HeaderMap>,
}

impl std::fmt::Debug for ServerModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerModel")
            .field("limiters", &self.limiters)
            .field("dialect", &self.dialect)
            .field("chaos", &self.chaos)
            .finish_non_exhaustive()
    }
}

impl ServerModel {
    /// A model with no limits, no headers, no chaos, 50 ms latency, serving [`Ok200`]; its
    /// randomness seeded with `seed`; `wall0` the wall-clock time of its start.
    pub fn new(seed: u64, wall0: SystemTime) -> Self {
        ServerModel {
            limiters: Vec::new(),
            admitted: Vec::new(),
            dialect: Dialect::None,
            chaos: Chaos::default(),
            latency: Latency::default(),
            retry_after: true,
            app: Box::new(Ok200),
            rng: fastrand::Rng::with_seed(seed),
            wall0,
            reports: Vec::new(),
            date: None,
            spare: Vec::new(),
        }
    }

    /// Adds a limiter.
    pub fn limiter(mut self, spec: LimiterSpec) -> Self {
        self.limiters.push(Limiter::new(spec));
        self.admitted.push(0);
        self
    }

    /// Sets the dialect.
    pub fn dialect(mut self, d: Dialect) -> Self {
        self.dialect = d;
        self
    }

    /// Sets the chaos.
    pub fn chaos(mut self, c: Chaos) -> Self {
        self.chaos = c;
        self
    }

    /// Sets the latency.
    pub fn latency(mut self, l: Latency) -> Self {
        self.latency = l;
        self
    }

    /// Whether 429s from limiters carry `Retry-After` (default true).
    pub fn retry_after(mut self, on: bool) -> Self {
        self.retry_after = on;
        self
    }

    /// Sets the app.
    pub fn app(mut self, app: impl App + 'static) -> Self {
        self.app = Box::new(app);
        self
    }

    /// The limiters, with how many requests each admitted.
    pub fn limiters(&self) -> impl Iterator<Item = (&LimiterSpec, u64)> {
        self.limiters
            .iter()
            .map(|l| &l.spec)
            .zip(self.admitted.iter().copied())
    }

    /// The outage its chaos schedules, if any.
    pub fn outage(&self) -> Option<Outage> {
        self.chaos.outage
    }

    /// The app's ground truth.
    pub fn truth(&self) -> Option<Truth> {
        self.app.truth()
    }

    /// Gives a response's header map back for reuse (a simulation's responses then allocate
    /// no header maps in steady state).
    pub fn recycle(&mut self, mut headers: HeaderMap) {
        if self.spare.len() < 64 {
            headers.clear();
            self.spare.push(headers);
        }
    }

    /// The wall-clock time `now_ns` after the start.
    pub fn wall(&self, now_ns: u64) -> SystemTime {
        self.wall0 + Duration::from_nanos(now_ns)
    }

    /// Answers `req` arriving at `now_ns` (ns since the model's start).
    pub fn handle(&mut self, now_ns: u64, req: &ModelRequest<'_>) -> ModelResponse {
        let latency = self.latency_ns() + self.chaos.slow(&mut self.rng);
        // A late read: everything below happens that much later, the answer too.
        let late = self.chaos.late_read(&mut self.rng);
        let now_ns = now_ns.saturating_add(late);
        let mut response = ModelResponse {
            status: 0,
            headers: self.spare.pop().unwrap_or_default(),
            body: Vec::new(),
            latency_ns: latency + late,
            fate: Fate::Respond,
            refused_by: None,
            truncated: false,
        };
        if let Some(outage) = self.chaos.outage
            && outage.covers(now_ns)
        {
            // Down: the limiters and the app never see it, and no chaos is drawn.
            response.status = outage.status;
            self.put_date(&mut response.headers, self.wall(now_ns));
            response.body = br#"{"error":"service unavailable"}"#.to_vec();
            return response;
        }
        if self.chaos.before(&mut self.rng) == Before::Reset {
            response.fate = Fate::ResetBefore;
            return response;
        }
        let path = req.path;
        let wall = self.wall(now_ns);
        // Check every applicable limiter; the first refusal decides.
        let mut refused: Option<(usize, Report)> = None;
        let mut reports = std::mem::take(&mut self.reports);
        reports.clear();
        for (i, l) in self.limiters.iter_mut().enumerate() {
            if !l.applies(path) {
                continue;
            }
            let r = l.check(now_ns);
            if !r.allowed && refused.is_none() {
                refused = Some((i, r));
            }
            reports.push((i, r));
        }
        if refused.is_none() {
            for &(i, _) in &reports {
                self.limiters[i].admit(now_ns, now_ns + latency);
                self.admitted[i] += 1;
            }
        }
        if self.dialect != Dialect::None {
            // The visible limiters, binding (refusing, else fewest remaining) first.
            let mut shown: Vec<Shown<'_>> = reports
                .iter()
                .filter(|(i, _)| !self.limiters[*i].spec.hidden)
                .map(|&(i, report)| Shown {
                    name: self.limiters[i].name(),
                    report,
                })
                .collect();
            shown.sort_by_key(|s| {
                (
                    s.report.allowed,
                    s.report.remaining,
                    std::cmp::Reverse(s.report.reset_in_ns),
                )
            });
            self.dialect.render(&mut response.headers, wall, &shown);
        }
        self.reports = reports;
        self.put_date(&mut response.headers, wall);
        if let Some((i, r)) = refused {
            let hidden = self.limiters[i].spec.hidden;
            let quota = self.limiters[i].is_quota();
            response.status = if hidden {
                429
            } else {
                self.dialect.throttle_status()
            };
            if self.retry_after && (!hidden || quota || self.dialect != Dialect::None) {
                put_retry_after(&mut response.headers, r.retry_in_ns);
            }
            response.refused_by = Some(i);
            response.body = br#"{"error":"rate limited"}"#.to_vec();
            return response;
        }
        match self.chaos.after(&mut self.rng) {
            After::Normal => {}
            After::Status(status, retry_after) => {
                response.status = status;
                if retry_after {
                    let s = self.chaos.retry_after(&mut self.rng);
                    response
                        .headers
                        .insert(http::header::RETRY_AFTER, HeaderValue::from(s));
                }
                response.body = br#"{"error":"chaos"}"#.to_vec();
                return response;
            }
            After::Reset => response.fate = Fate::ResetAfter,
        }
        let page_chaos = PageChaos {
            empty_page: self.chaos.p_empty_page > 0.0 && self.rng.f64() < self.chaos.p_empty_page,
            repeat_cursor: self.chaos.p_repeat_cursor > 0.0
                && self.rng.f64() < self.chaos.p_repeat_cursor,
            self_cursor: self.chaos.p_self_cursor > 0.0
                && self.rng.f64() < self.chaos.p_self_cursor,
        };
        let app = self.app.respond(now_ns, req, page_chaos);
        response.status = app.status;
        response.headers.extend(app.headers);
        response.body = app.body;
        if response.status == 200 {
            if self.chaos.p_truncated > 0.0 && self.rng.f64() < self.chaos.p_truncated {
                let keep = response.body.len() / 2;
                response.body.truncate(keep);
                response.truncated = true;
            } else if self.chaos.p_invalid_json > 0.0 && self.rng.f64() < self.chaos.p_invalid_json
            {
                response.body = b"<html>upstream error</html>".to_vec();
            }
        }
        response
    }

    /// Sets `Date`, formatting it once per second of model time.
    fn put_date(&mut self, h: &mut HeaderMap, wall: SystemTime) {
        let secs = wall
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let value = match &self.date {
            Some((s, v)) if *s == secs => v.clone(),
            _ => match HeaderValue::from_str(&httpdate::fmt_http_date(wall)) {
                Ok(v) => {
                    self.date = Some((secs, v.clone()));
                    v
                }
                Err(_) => return,
            },
        };
        h.insert(http::header::DATE, value);
    }

    fn latency_ns(&mut self) -> u64 {
        let ms = self.latency.base_ms.max(0.0) + self.latency.jitter_ms.max(0.0) * self.rng.f64();
        (ms * 1e6) as u64
    }
}

fn put_retry_after(h: &mut HeaderMap, ns: u64) {
    h.insert(
        http::header::RETRY_AFTER,
        HeaderValue::from(ns.div_ceil(1_000_000_000).max(1)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn get(path: &str) -> ModelRequest<'_> {
        ModelRequest {
            method: "GET",
            path,
            body: b"",
        }
    }

    /// Every request in the outage gets a bare 503 (no `Retry-After`, no rate-limit headers)
    /// whatever the limits and other chaos say, and the limiters admit none of them; before and
    /// after, the model answers as usual.
    #[test]
    fn an_outage_fails_every_request_in_its_span_only() {
        let mut m = ServerModel::new(1, UNIX_EPOCH)
            .dialect(Dialect::Github)
            .limiter(LimiterSpec::new(LimiterKind::FixedWindow {
                limit: 1000,
                window_s: 1.0,
            }))
            .chaos(Chaos {
                outage: Some(Outage::new(30.0, 60.0)),
                p_reset_before: 0.5,
                ..Chaos::default()
            });
        let req = get("/items");
        let s = 1_000_000_000u64;
        let mut admitted_before = 0;
        for i in 0..10 {
            let r = m.handle(29 * s + i, &req);
            if r.fate == Fate::Respond {
                assert_eq!(r.status, 200);
                admitted_before += 1;
            }
        }
        assert_eq!(m.limiters().next().unwrap().1, admitted_before);
        for t in [30 * s, 31 * s, 60 * s, 90 * s - 1] {
            let r = m.handle(t, &req);
            assert_eq!((r.status, r.fate), (503, Fate::Respond), "at {t}");
            assert!(r.headers.get(http::header::RETRY_AFTER).is_none());
            assert!(r.headers.get("x-ratelimit-remaining").is_none());
            assert!(r.headers.contains_key(http::header::DATE));
            assert!(r.latency_ns > 0);
        }
        assert_eq!(
            m.limiters().next().unwrap().1,
            admitted_before,
            "none admitted"
        );
        let after: Vec<_> = (0..20).map(|i| m.handle(90 * s + i, &req)).collect();
        assert!(after.iter().any(|r| r.status == 200), "recovered");
        assert!(after.iter().all(|r| r.status != 503));
        assert_eq!(m.outage(), Some(Outage::new(30.0, 60.0)));
    }

    #[test]
    fn an_outage_can_answer_another_status() {
        let mut m = ServerModel::new(1, UNIX_EPOCH).chaos(Chaos {
            outage: Some(Outage {
                status: 500,
                ..Outage::new(0.0, 1.0)
            }),
            ..Chaos::default()
        });
        let req = get("/");
        assert_eq!(m.handle(0, &req).status, 500);
        assert_eq!(m.handle(1_000_000_000, &req).status, 200);
    }

    /// A late read is counted by the limiters when it is read, and answered that much later:
    /// against a token bucket of one at 20 per second, requests sent exactly 50 ms apart are
    /// refused exactly when read under 50 ms after the last one admitted.
    #[test]
    fn a_late_read_is_counted_when_read() {
        let ms = 1_000_000;
        let mut m = ServerModel::new(3, UNIX_EPOCH)
            .latency(Latency {
                base_ms: 2.0,
                jitter_ms: 0.0,
            })
            .limiter(LimiterSpec::new(LimiterKind::TokenBucket {
                capacity: 1,
                refill_per_s: 20.0,
            }))
            .chaos(Chaos {
                p_late_read: 0.3,
                late_read_ms: 7.0,
                ..Chaos::default()
            });
        let req = get("/");
        let (mut late, mut refused, mut admitted_at) = (0, 0, None::<u64>);
        for k in 0..200u64 {
            let sent = k * 50 * ms;
            let r = m.handle(sent, &req);
            let lag = r.latency_ns - 2 * ms;
            assert!(lag < 7 * ms, "{lag}");
            late += u32::from(lag > 0);
            let read = sent + lag;
            let expect_refused = admitted_at.is_some_and(|a| read - a < 50 * ms);
            assert_eq!(
                r.status == 429,
                expect_refused,
                "request {k} read at {read}"
            );
            if expect_refused {
                refused += 1;
            } else {
                admitted_at = Some(read);
            }
        }
        assert!((40..=80).contains(&late), "{late} of 200 read late");
        assert!(refused > 0);
    }
}
