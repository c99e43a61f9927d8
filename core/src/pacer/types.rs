//! What the Pacer is configured with, what it answers, the events it raises, and the logical
//! request ([`Call`]) a caller holds across attempts.

use crate::breaker::{BreakerConfig, BreakerEvent, Permit};
use crate::error::{Attempted, Error};
use crate::headers::Warning;
use crate::retry::RetryPolicy;
use crate::throttle::{Note, Priority, ThrottleConfig, Ticket};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything a Pacer is configured with. `Default` gives the documented defaults of each part.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PacerConfig {
    /// How to retry.
    pub retry: RetryPolicy,
    /// How to stay under limits.
    pub throttle: ThrottleConfig,
    /// A circuit breaker per host (see [`crate::breaker`] and [`super::Pacer::call_to_host`];
    /// requests with no host share one). `None` by default: no breaker.
    pub breaker: Option<BreakerConfig>,
    /// How long a request waits for its host's open breaker instead of failing fast: while
    /// its outage (from the first time this request found the breaker open) is shorter, the
    /// request waits for the breaker's next probe (`Begin::Wait`), and its failed attempts
    /// during the outage do not use up its retries. Zero (the default): an open breaker
    /// rejects at once with [`crate::Error::BreakerOpen`]. A long extraction sets it to the
    /// outage it will sit through (`paceline extract --max-outage`, 10 min).
    #[serde(with = "crate::serde_secs")]
    pub breaker_wait: Duration,
    /// Strings that, found in a 429's body, mark it as a quota (not a rate limit): the error
    /// codes an API uses for "daily limit reached". Empty by default.
    pub quota_codes: Vec<String>,
    /// A budget shared with other processes through a store (see [`crate::shared`]).
    /// `None` by default: every budget is this Pacer's own.
    pub shared: Option<crate::shared::SharedBudget>,
}

impl PacerConfig {
    /// Sets the retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the throttle.
    pub fn throttle(mut self, throttle: ThrottleConfig) -> Self {
        self.throttle = throttle;
        self
    }

    /// Sets a circuit breaker per host.
    pub fn breaker(mut self, breaker: BreakerConfig) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Sets [`PacerConfig::breaker_wait`].
    pub fn breaker_wait(mut self, wait: Duration) -> Self {
        self.breaker_wait = wait;
        self
    }

    /// Shares a budget with other processes ([`PacerConfig::shared`]).
    pub fn shared(mut self, budget: crate::shared::SharedBudget) -> Self {
        self.shared = Some(budget);
        self
    }

    /// Adds a body code that marks a 429 as a quota.
    pub fn quota_code(mut self, code: &str) -> Self {
        self.quota_codes.push(code.into());
        self
    }
}

/// Before a request: what to do now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Begin {
    /// Send it now, then report the outcome with [`super::Pacer::on_response`] or
    /// [`super::Pacer::on_transport_error`].
    Send,
    /// Not before this instant: sleep, then ask again.
    Wait(Instant),
    /// The concurrency limit is reached: ask again when another request of this Pacer has
    /// finished (after its `on_response`, `on_transport_error` or `cancel`).
    WaitForPermit,
    /// Do not send it at all.
    Reject(Error),
    /// Ask the shared budget's store for these tokens (only with [`PacerConfig::shared`]),
    /// then tell the Pacer its answer with [`super::Pacer::on_reserved`] and ask again.
    Reserve(crate::shared::Reservation),
}

/// After a request: what happens next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Finish {
    /// Hand the response to the caller (a success, or a final error such as 404).
    Done,
    /// Retry, not before this instant: sleep, then [`super::Pacer::poll_send`] again.
    RetryAt(Instant),
    /// Give up.
    Fail(Error),
}

/// Something worth telling an operator. Polled with [`super::Pacer::poll_event`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// An attempt failed and will be retried after `wait`.
    Retrying {
        /// The attempt that failed (1 for the first).
        attempt: u32,
        /// What it produced.
        cause: Attempted,
        /// How long until the retry.
        wait: Duration,
        /// Whether the wait is the server's (`Retry-After`, a reset) rather than backoff.
        server_asked: bool,
    },
    /// The server said to hold all requests for `wait` (`Retry-After`, an exhausted window).
    Paused {
        /// How long.
        wait: Duration,
        /// Why.
        cause: PauseCause,
    },
    /// A request was given up.
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// Why.
        error: Error,
    },
    /// A header value was ignored.
    HeaderWarning(Warning),
    /// A quota crossed one of its thresholds.
    QuotaThreshold {
        /// Which configured quota (index in [`ThrottleConfig::quotas`]).
        quota: usize,
        /// The fraction used that was crossed (0.8, 0.95...).
        fraction: f64,
    },
    /// The server reported more distinct windows (buckets, policies) than are tracked at once
    /// ([`crate::throttle::MAX_WINDOWS`]): the least recently reported one, `name`, was
    /// dropped to make room, and others will be as new names come. Told once per Pacer.
    WindowDropped {
        /// The most windows tracked at once.
        max: usize,
        /// The dropped window's name (`None`: the unnamed one).
        name: Option<String>,
    },
    /// Requests went to more distinct paths than routes are learned at once
    /// ([`crate::throttle::MAX_LEARNED_ROUTES`]): the least recently used route was forgotten
    /// to make room, and others will be. Told once per Pacer.
    RouteDropped {
        /// The most routes learned at once.
        max: usize,
    },
    /// A 429 no known limit explained: adaptive pacing now allows this many requests per
    /// second on the route.
    Adapted {
        /// Requests per second.
        rate: f64,
    },
    /// A host's circuit breaker changed state (opened, half-opened, closed, isolated, reset,
    /// restored).
    Breaker {
        /// The host (empty for requests with no host).
        host: String,
        /// What happened.
        event: BreakerEvent,
    },
    /// The shared budget's store could not be reached: requests now wait for it, or draw
    /// from a local fraction of the budget, as `fallback` says. Told once per outage.
    SharedUnreachable {
        /// The bucket's key.
        key: String,
        /// What requests do until the store is back.
        fallback: crate::shared::OnUnreachable,
    },
    /// The shared budget's store answered again after being unreachable.
    SharedRecovered {
        /// The bucket's key.
        key: String,
        /// How long it was unreachable (from the first failure seen to this answer).
        down_for: Duration,
    },
    /// The shared bucket is paused by a signal (a `Retry-After` or an exhausted window that
    /// this or another process saw). Told once per pause.
    SharedPaused {
        /// The bucket's key.
        key: String,
    },
}

impl Event {
    /// A stable name for the kind of event (`"retrying"`), for counting and filtering without
    /// matching on log text; also the `code` field of the records `paceline::trace::forward`
    /// writes (feature `tracing`).
    pub fn code(&self) -> &'static str {
        match self {
            Event::Retrying { .. } => "retrying",
            Event::Paused { .. } => "paused",
            Event::GaveUp { .. } => "gave_up",
            Event::HeaderWarning(_) => "header_warning",
            Event::QuotaThreshold { .. } => "quota_threshold",
            Event::WindowDropped { .. } => "window_dropped",
            Event::RouteDropped { .. } => "route_dropped",
            Event::Adapted { .. } => "adapted",
            Event::Breaker { .. } => "breaker",
            Event::SharedUnreachable { .. } => "shared_unreachable",
            Event::SharedRecovered { .. } => "shared_recovered",
            Event::SharedPaused { .. } => "shared_paused",
        }
    }
}

/// Why the Pacer paused every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PauseCause {
    /// `Retry-After`.
    RetryAfter,
    /// `remaining: 0` with a reset.
    WindowExhausted,
}

/// One logical request, across its attempts. Create with [`super::Pacer::call`].
#[derive(Debug, Clone)]
pub struct Call {
    pub(super) ticket: Ticket,
    pub(super) idempotent: bool,
    pub(super) has_key: bool,
    pub(super) attempts: u32,
    pub(super) started: Option<Instant>,
    pub(super) not_before: Option<Instant>,
    pub(super) previous_delay: Duration,
    pub(super) spent: u32,
    /// 429s met while the route's rate was being discovered, not counted as attempts (see
    /// [`crate::retry::RetryPolicy::max_attempts`]).
    pub(super) paced_refusals: u32,
    /// The breaker's key, when the Pacer has breakers.
    pub(super) breaker_key: Option<Arc<str>>,
    /// The breaker's permit for the attempt in flight.
    pub(super) permit: Option<Permit>,
    /// When this request first found its breaker open (the outage it waits through).
    pub(super) outage_since: Option<Instant>,
    /// Whether the shared budget granted this attempt its tokens (see [`crate::shared`]).
    pub(super) shared_granted: bool,
}

/// A request extension (`http::Request::extensions_mut().insert(RetrySafe)`) saying that the
/// request only reads, whatever its method: adapters then let the Pacer retry it after it was
/// sent ([`Call::mark_retry_safe`]). Page requests of a walk carry it.
///
/// ```
/// let mut request = http::Request::post("https://api.example.com/graphql")
///     .body(br#"{"query":"{ viewer { login } }"}"#.to_vec())
///     .unwrap();
/// request.extensions_mut().insert(paceline::RetrySafe);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetrySafe;

impl Call {
    /// Attempts sent so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether a retry of this request after it was sent is safe.
    pub fn retry_safe(&self) -> bool {
        self.idempotent || self.has_key
    }

    /// Declares the request safe to send again although its method is not idempotent: a
    /// POST that only reads (a GraphQL query, a search with a body, a page of a list).
    /// Adapters call it for requests carrying the [`RetrySafe`] extension.
    pub fn mark_retry_safe(&mut self) {
        self.idempotent = true;
    }

    /// Sets the units this request costs (default 1; a GraphQL query's estimated cost).
    pub fn set_cost(&mut self, units: u64) {
        self.ticket.cost = units.max(1);
    }

    /// Sets the request's priority (default foreground).
    pub fn set_priority(&mut self, p: Priority) {
        self.ticket.priority = p;
    }

    /// Sets the cost; chainable.
    pub fn with_cost(mut self, units: u64) -> Self {
        self.set_cost(units);
        self
    }

    /// Sets the priority; chainable.
    pub fn with_priority(mut self, p: Priority) -> Self {
        self.set_priority(p);
        self
    }
}

pub(super) fn note_event(n: Note) -> Event {
    match n {
        Note::QuotaThreshold { index, fraction } => Event::QuotaThreshold {
            quota: index,
            fraction,
        },
        Note::Adapted { rate } => Event::Adapted { rate },
        Note::WindowDropped { name } => Event::WindowDropped {
            max: crate::throttle::MAX_WINDOWS,
            name,
        },
        Note::RouteDropped => Event::RouteDropped {
            max: crate::throttle::MAX_LEARNED_ROUTES,
        },
    }
}
