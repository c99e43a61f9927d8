//! What an extract counts, for the progress display and the summary: requests and their
//! statuses (a ureq middleware sees every attempt), transport errors and timeouts, retries and
//! pauses (the client's `tracing` events: only the client sees a body cut after its head),
//! records and pages (the extract loop).

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use paceline_ureq::ureq;
use tracing::field::{Field, Visit};
use tracing::{Event, Metadata, Subscriber, span};

/// Counters shared by the extract loop, the HTTP middleware, the event counter and the
/// progress display. All relaxed atomics: they are figures, not synchronization.
#[derive(Debug)]
pub struct Stats {
    pub started: Instant,
    pub records: AtomicU64,
    pub pages: AtomicU64,
    /// Records already in the output when this run started (a resume).
    pub resumed_records: AtomicU64,
    /// The list's total, when known (0: unknown).
    pub total: AtomicU64,
    /// HTTP attempts sent.
    pub requests: AtomicU64,
    /// Attempts answered 429.
    pub throttled: AtomicU64,
    /// Attempts answered 5xx.
    pub server_errors: AtomicU64,
    /// Attempts with no complete response (refused, reset, timed out, a body cut).
    pub transport_errors: AtomicU64,
    /// Of those, the ones that timed out (connect, idle or attempt timeout).
    pub timeouts: AtomicU64,
    /// Retries the Pacer scheduled.
    pub retries: AtomicU64,
    /// Time spent inside HTTP attempts, ns.
    pub http_ns: AtomicU64,
    /// Time spent getting the next page (waits, retries and HTTP), ns.
    pub fetch_ns: AtomicU64,
    /// Quota thresholds crossed (the last fraction, in per mille).
    pub quota_crossed_permille: AtomicU64,
}

impl Stats {
    pub fn new() -> Arc<Stats> {
        Arc::new(Stats {
            started: Instant::now(),
            records: AtomicU64::new(0),
            pages: AtomicU64::new(0),
            resumed_records: AtomicU64::new(0),
            total: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
            transport_errors: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            http_ns: AtomicU64::new(0),
            fetch_ns: AtomicU64::new(0),
            quota_crossed_permille: AtomicU64::new(0),
        })
    }

    /// Time spent waiting on limits and backoff: getting pages, less the HTTP itself.
    pub fn waiting(&self) -> Duration {
        Duration::from_nanos(
            self.fetch_ns
                .load(Relaxed)
                .saturating_sub(self.http_ns.load(Relaxed)),
        )
    }

    /// Errors seen (5xx and transport errors; each was retried or ended the run).
    pub fn errors(&self) -> u64 {
        self.server_errors.load(Relaxed) + self.transport_errors.load(Relaxed)
    }
}

/// A ureq middleware that counts every attempt, its status and its time. (Its errors are
/// counted from the client's events, which also see the bodies that fail after the head.)
pub fn middleware(
    stats: Arc<Stats>,
) -> impl Fn(
    ureq::http::Request<ureq::SendBody>,
    ureq::middleware::MiddlewareNext,
) -> Result<ureq::http::Response<ureq::Body>, ureq::Error>
+ Send
+ Sync
+ 'static {
    move |request, next| {
        let start = Instant::now();
        stats.requests.fetch_add(1, Relaxed);
        let result = next.handle(request);
        let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        stats.http_ns.fetch_add(ns, Relaxed);
        match &result {
            Ok(r) if r.status() == 429 => {
                stats.throttled.fetch_add(1, Relaxed);
            }
            Ok(r) if r.status().is_server_error() => {
                stats.server_errors.fetch_add(1, Relaxed);
            }
            _ => {}
        }
        result
    }
}

/// A `tracing` subscriber that only counts the client's events (failed attempts, retries,
/// quota thresholds); it prints nothing, so nothing a request carried can leak through it.
pub struct EventCounter {
    stats: Arc<Stats>,
}

impl EventCounter {
    pub fn new(stats: Arc<Stats>) -> Self {
        EventCounter { stats }
    }
}

/// Reads an event's message, its `fraction` field and its `timeout` flag.
#[derive(Default)]
struct Fields {
    message: String,
    /// A page event's [`PageEvent::code`](paceline::paginate::PageEvent::code).
    code: String,
    fraction: Option<f64>,
    timeout: bool,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "fraction" {
            self.fraction = Some(value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "code" {
            value.clone_into(&mut self.code);
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "timeout" {
            self.timeout = value;
        }
    }
}

impl Subscriber for EventCounter {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // The core's exchange logs each failed attempt at debug level.
        metadata.is_event()
            && (*metadata.level() <= tracing::Level::WARN
                || metadata.target().starts_with("paceline::exchange"))
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        match fields.message.as_str() {
            _ if fields.code == "attempt_failed" => {
                self.stats.transport_errors.fetch_add(1, Relaxed);
                if fields.timeout {
                    self.stats.timeouts.fetch_add(1, Relaxed);
                }
            }
            _ if fields.code == "retrying" => {
                self.stats.retries.fetch_add(1, Relaxed);
            }
            "paceline: page walk" if fields.code == "resending" => {
                self.stats.retries.fetch_add(1, Relaxed);
            }
            _ if fields.code == "quota_threshold" => {
                let permille = (fields.fraction.unwrap_or(0.0) * 1000.0) as u64;
                self.stats
                    .quota_crossed_permille
                    .fetch_max(permille, Relaxed);
            }
            _ => {}
        }
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}
