//! A simulation's figures.

use std::fmt::Write as _;

use paceline::Event;
use serde::{Deserialize, Serialize};

use crate::model::{LimiterKind, ServerModel};

/// What a run measured. Serialized as the JSON `paceline simulate --json` prints.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Requests sent to the server (attempts, retries included).
    pub requests: u64,
    /// Responses with status 429.
    pub status_429: u64,
    /// Responses with status 403 (GitHub's throttling answer among them).
    pub status_403: u64,
    /// Responses with a 5xx status.
    pub status_5xx: u64,
    /// Attempts that got no response (resets).
    pub transport_errors: u64,
    /// Achieved ÷ allowed of the binding limit over the run: 1 is all the limit allows; above 1
    /// the client got more than an honest limiter admits (not capped, so that it shows).
    pub utilisation: f64,
    /// The binding limit's name.
    pub binding_limit: Option<String>,
    /// Virtual time from start to the last event, seconds.
    pub virtual_duration_s: f64,
    /// Records the client had to deliver (pagination runs).
    pub records_expected: u64,
    /// Records delivered: every delivery, repeats included.
    pub records_delivered: u64,
    /// Records that should have been delivered but were not.
    pub records_lost: u64,
    /// Deliveries beyond the first of a record.
    pub records_duplicated: u64,
    /// The seed.
    pub seed: u64,
    /// Pages received (walks only; re-requested pages after a crash count again).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pages: u64,
    /// Records the walk dropped as already delivered (de-duplication by key).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub records_dropped: u64,
    /// Delivered records whose id never existed, or that had none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub records_invented: u64,
    /// Times an offset or page walk saw the list's `total` change.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total_changes: u64,
    /// Requests sent again because their page was unusable (a truncated body).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub resends: u64,
    /// Times the client crashed and resumed from its checkpoint.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub resumes: u64,
    /// What an offset or page walk saw of its list changing (the walk's own account: a walk
    /// that reports none ends clean; one that does must not be taken for a clean success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<String>,
    /// How many records the walk itself says may be missing because of that drift.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub records_may_be_missing: u64,
    /// The style the walk paged by (`offset`, `cursor`, …), or `offset then keyset` when it
    /// switched to a style the spec prefers: what a walk did, not what its dataset serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walk_style: Option<String>,
    /// How the walk ended: `complete (the signal that showed the end)`, `stopped: …`,
    /// `gave up: …`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walk_end: Option<String>,
    /// Logical requests completed.
    pub succeeded: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// Requests given up after attempts.
    pub gave_up: u64,
    /// Requests the Pacer refused to send.
    pub rejected: u64,
    /// Times the Pacer paused for the server.
    pub pauses: u64,
    /// Times adaptive discovery changed the rate.
    pub adaptations: u64,
    /// The thresholds of the client's configured quotas crossed, in order (0.8, 0.95: the
    /// Pacer's `QuotaThreshold` events). Absent when none was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quota_thresholds: Vec<f64>,
    /// The run hit the event bound before finishing.
    pub truncated: bool,
    /// Each rate limit's share when the server has several (per-route buckets under a global
    /// limit): every route's progress, not only the binding one's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<LimitUse>,
    /// How long requests waited for their first send, by priority (runs with background work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waits: Option<Waits>,
    /// What the server received during its outage and how soon the clients recovered (runs
    /// whose server model has an outage, [`crate::model::Outage`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outage: Option<OutageFigures>,
}

/// A run through the server's outage: counts, and the clients' recovery in virtual time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutageFigures {
    /// When the outage started, seconds of virtual time.
    pub from_s: f64,
    /// When it ended (the server answered again), seconds of virtual time.
    pub until_s: f64,
    /// Requests the server received during the outage (attempts sent in `[from_s, until_s)`,
    /// retries and breaker probes included): the load the clients put on a server that was
    /// down.
    pub requests: u64,
    /// Requests an open breaker rejected without sending them during the outage.
    pub failed_fast: u64,
    /// Seconds from the outage's end to the first successful (2xx) response after it: how
    /// soon the clients noticed the server was back. `None`: none succeeded.
    pub first_success_after_s: Option<f64>,
    /// Times the client's breaker opened (or opened again after a failed probe) before the
    /// outage ended.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub breaker_opens: u64,
    /// The break the client's breaker was in (or last began) when the server came back,
    /// seconds: the recovery is measured against it. `None` without a breaker that opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_at_recovery_s: Option<f64>,
    /// Seconds from the outage's end to the breaker's closing (its probe succeeded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker_closed_after_s: Option<f64>,
}

/// One rate limit's use over a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LimitUse {
    /// The limit's name.
    pub name: String,
    /// Requests it admitted.
    pub admitted: u64,
    /// Admitted ÷ allowed over the run (not capped).
    pub utilisation: f64,
}

/// Time from a request's creation to its first send, by priority.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Waits {
    /// Foreground (normal priority) requests.
    pub foreground: WaitStats,
    /// Background requests.
    pub background: WaitStats,
}

/// A distribution of waits, milliseconds of virtual time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WaitStats {
    /// Requests.
    pub count: u64,
    /// Requests sent at once (no wait at all).
    pub immediate: u64,
    /// The mean wait.
    pub mean_ms: f64,
    /// The 99th percentile.
    pub p99_ms: f64,
    /// The longest.
    pub max_ms: f64,
}

impl WaitStats {
    /// The statistics of `waits_ns` (sorted here).
    pub(crate) fn of(waits_ns: &mut [u64]) -> Self {
        waits_ns.sort_unstable();
        let n = waits_ns.len();
        if n == 0 {
            return WaitStats::default();
        }
        let ms = |ns: u64| round4(ns as f64 / 1e6);
        WaitStats {
            count: n as u64,
            immediate: waits_ns.iter().filter(|w| **w == 0).count() as u64,
            mean_ms: round4(waits_ns.iter().sum::<u64>() as f64 / n as f64 / 1e6),
            p99_ms: ms(waits_ns[(n * 99).div_ceil(100).saturating_sub(1)]),
            max_ms: ms(waits_ns[n - 1]),
        }
    }
}

impl Report {
    pub(crate) fn count_status(&mut self, status: u16) {
        match status {
            429 => self.status_429 += 1,
            403 => self.status_403 += 1,
            500..=599 => self.status_5xx += 1,
            _ => {}
        }
    }

    pub(crate) fn note_event(&mut self, e: &Event) {
        match e {
            Event::Paused { .. } => self.pauses += 1,
            Event::Adapted { .. } => self.adaptations += 1,
            Event::QuotaThreshold { fraction, .. } => self.quota_thresholds.push(*fraction),
            _ => {}
        }
    }

    /// Computes utilisation against the binding limit: of the rate limiters (not concurrency
    /// caps), the one the client came closest to (highest admitted ÷ allowed over the run).
    /// Returns the binding limit's allowed rate (requests per second).
    pub(crate) fn finish(&mut self, model: &ServerModel, duration_ns: u64) -> Option<f64> {
        let binding = model
            .limiters()
            .filter(|(spec, _)| !matches!(spec.kind, LimiterKind::Concurrency { .. }))
            .map(|(spec, admitted)| (spec, admitted, spec.allowed_over(duration_ns)))
            .filter(|(_, _, allowed)| allowed.is_finite() && *allowed > 0.0)
            .max_by(|a, b| (a.1 as f64 / a.2).total_cmp(&(b.1 as f64 / b.2)));
        let rates: Vec<_> = model
            .limiters()
            .filter(|(spec, _)| !matches!(spec.kind, LimiterKind::Concurrency { .. }))
            .collect();
        if rates.len() > 1 {
            self.limits = rates
                .iter()
                .map(|(spec, admitted)| LimitUse {
                    name: spec
                        .name
                        .clone()
                        .unwrap_or_else(|| format!("{:?}", spec.kind)),
                    admitted: *admitted,
                    utilisation: round4(*admitted as f64 / spec.allowed_over(duration_ns)),
                })
                .collect();
        }
        let mut rate = None;
        if let Some((spec, admitted, allowed)) = binding {
            rate = Some(allowed / (duration_ns as f64 / 1e9));
            // Not capped: a client that sends more than the limit allows shows above 1.
            self.utilisation = round4(admitted as f64 / allowed);
            self.binding_limit = Some(
                spec.name
                    .clone()
                    .unwrap_or_else(|| format!("{:?}", spec.kind)),
            );
        }
        self.virtual_duration_s = round4(self.virtual_duration_s);
        rate
    }

    /// The report for people.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let pct = |n: u64| {
            if self.requests == 0 {
                0.0
            } else {
                100.0 * n as f64 / self.requests as f64
            }
        };
        let _ = writeln!(s, "seed                {}", self.seed);
        let _ = writeln!(s, "virtual duration    {:.1} s", self.virtual_duration_s);
        let _ = writeln!(s, "requests            {}", self.requests);
        let _ = writeln!(s, "  succeeded         {}", self.succeeded);
        let _ = writeln!(
            s,
            "  429               {} ({:.2} %)",
            self.status_429,
            pct(self.status_429)
        );
        let _ = writeln!(s, "  403               {}", self.status_403);
        let _ = writeln!(s, "  5xx               {}", self.status_5xx);
        let _ = writeln!(s, "  transport errors  {}", self.transport_errors);
        let _ = writeln!(s, "  retries           {}", self.retries);
        let _ = writeln!(s, "  gave up           {}", self.gave_up);
        let _ = writeln!(s, "  rejected          {}", self.rejected);
        let _ = writeln!(
            s,
            "utilisation         {:.2} % of {}",
            100.0 * self.utilisation,
            self.binding_limit.as_deref().unwrap_or("(no limit)")
        );
        if self.records_expected > 0 || self.records_delivered > 0 {
            let _ = writeln!(s, "records expected    {}", self.records_expected);
            let _ = writeln!(s, "records delivered   {}", self.records_delivered);
            let _ = writeln!(s, "records lost        {}", self.records_lost);
            let _ = writeln!(s, "records duplicated  {}", self.records_duplicated);
            if self.records_dropped > 0 {
                let _ = writeln!(s, "  dropped as dups   {}", self.records_dropped);
            }
            if self.records_invented > 0 {
                let _ = writeln!(s, "records invented    {}", self.records_invented);
            }
        }
        if let Some(end) = &self.walk_end {
            let _ = writeln!(s, "pages               {}", self.pages);
            if self.total_changes > 0 {
                let _ = writeln!(s, "  total changed     {}", self.total_changes);
            }
            if self.resends > 0 {
                let _ = writeln!(s, "  sent again        {}", self.resends);
            }
            if self.resumes > 0 {
                let _ = writeln!(s, "  resumed           {}", self.resumes);
            }
            let _ = writeln!(s, "walk                {end}");
            if let Some(style) = &self.walk_style {
                let _ = writeln!(s, "  paged by          {style}");
            }
            if let Some(drift) = &self.drift {
                let _ = writeln!(
                    s,
                    "  drift             {drift}: about {} records may be missing",
                    self.records_may_be_missing
                );
            }
        }
        for l in &self.limits {
            let _ = writeln!(
                s,
                "  {:<17} {} admitted, {:.2} %",
                l.name,
                l.admitted,
                100.0 * l.utilisation
            );
        }
        if let Some(w) = &self.waits {
            for (name, st) in [("foreground", &w.foreground), ("background", &w.background)] {
                let _ = writeln!(
                    s,
                    "{name:<19} {} requests, {} sent at once, wait mean {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                    st.count, st.immediate, st.mean_ms, st.p99_ms, st.max_ms
                );
            }
        }
        if let Some(o) = &self.outage {
            let _ = writeln!(
                s,
                "outage              {:.1} s to {:.1} s: {} requests received, {} failed fast",
                o.from_s, o.until_s, o.requests, o.failed_fast
            );
            match o.first_success_after_s {
                Some(t) => {
                    let _ = writeln!(s, "  first success     {t:.3} s after it");
                }
                None => {
                    let _ = writeln!(s, "  first success     none after it");
                }
            }
            if let Some(b) = o.break_at_recovery_s {
                let _ = writeln!(
                    s,
                    "  breaker           opened {} times, in a {b:.1} s break at the end",
                    o.breaker_opens
                );
            }
        }
        if self.truncated {
            let _ = writeln!(s, "(stopped at the event bound)");
        }
        s
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
