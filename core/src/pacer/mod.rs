//! The Pacer: the one object a caller holds, asked before every request and told after.
//!
//! ```text
//!            ┌──────────────────────── poll_send(call, now) ───────────────────────┐
//!            │                                                                      │
//!            ▼                                                                      │
//!   Begin::Wait(t) ── sleep until t ──┐       Begin::Reject(e) ──► give up          │
//!            │◄───────────────────────┘                                             │
//!   Begin::Send ──► do the request ──► on_response / on_transport_error ──┐         │
//!                                                                         ▼         │
//!                              Finish::Done ◄──┬── Finish::RetryAt(t) ── sleep ─────┘
//!                              (return it)     └── Finish::Fail(e) ──► give up
//! ```
//!
//! The drain rule: after every call, drain [`Pacer::poll_event`] until `None` (adapters forward
//! events to `tracing`). Events never change decisions; dropping them is safe.
//!
//! ```
//! use http::{HeaderMap, Method, StatusCode};
//! use paceline::{Begin, Finish, Now, Pacer, PacerConfig};
//! use std::time::{Duration, Instant, SystemTime};
//!
//! let mut pacer = Pacer::new(PacerConfig::default(), 42);
//! let mut now = Now::new(Instant::now(), SystemTime::now());
//! let mut call = pacer.call(&Method::GET, &HeaderMap::new());
//! let mut replies = vec![(StatusCode::OK, "0"), (StatusCode::TOO_MANY_REQUESTS, "2")];
//! let status = loop {
//!     match pacer.poll_send(&mut call, now) {
//!         Begin::Send => {}
//!         Begin::Wait(until) => { now = now.at(until); continue; } // a driver sleeps here
//!         Begin::Reject(e) => panic!("{e}"),
//!         Begin::WaitForPermit => unreachable!("no concurrency limit configured"),
//!         Begin::Reserve(_) => unreachable!("no shared budget configured"),
//!     }
//!     let (status, retry_after) = replies.pop().unwrap(); // a driver sends here
//!     let mut headers = HeaderMap::new();
//!     headers.insert("retry-after", retry_after.parse().unwrap());
//!     match pacer.on_response(&mut call, now, status, &headers) {
//!         Finish::Done => break status,
//!         Finish::RetryAt(at) => now = now.at(at),
//!         Finish::Fail(e) => panic!("{e}"),
//!     }
//! };
//! assert_eq!(status, StatusCode::OK);
//! assert_eq!(call.attempts(), 2);
//! while let Some(event) = pacer.poll_event() { println!("{event:?}"); }
//! ```

mod persist;
mod retrying;
mod shared;
mod types;

use retrying::contains_any;
use types::note_event;
pub use types::{Begin, Call, Event, Finish, PacerConfig, PauseCause, RetrySafe};

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use http::{HeaderMap, Method, StatusCode};

use crate::breaker::{Breakers, Decision};
use crate::error::{Attempted, Error};
use crate::headers::{Signal, SignalParser};
use crate::retry::{Class, RetryPolicy, Tokens, TransportError, TransportKind, classify};
use crate::throttle::{Admission, Throttle};
use crate::time::Now;

/// A server-imposed hold on every request.
#[derive(Debug, Clone, Copy)]
struct Pause {
    from: Instant,
    /// How long requests are refused.
    wait: Duration,
    /// What the server asked for.
    asked: Duration,
    quota: bool,
}

impl Pause {
    fn until(&self) -> Option<Instant> {
        self.from.checked_add(self.wait)
    }
    fn active(&self, now: Instant) -> bool {
        self.until().is_none_or(|u| now < u)
    }
}

/// Whole nanoseconds from `epoch` to `t` (0 before it, saturating past 584 years).
#[inline]
fn since(epoch: Instant, t: Instant) -> u64 {
    let d = t.saturating_duration_since(epoch);
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(d.subsec_nanos()))
}

/// The failure of a request answered by a spent quota.
fn quota_spent(signal: &Signal, status: StatusCode) -> Error {
    Error::QuotaExhausted {
        resets_in: signal.reset_in.or(signal.retry_after),
        last: Some(Attempted::Status(status)),
    }
}

/// The composition a caller holds: one per API (or per key). See the [crate docs](crate).
#[derive(Debug, Clone)]
pub struct Pacer {
    retry: RetryPolicy,
    throttle: Throttle,
    quota_codes: Vec<String>,
    /// The first time seen: throttle times are nanoseconds since then.
    epoch: Option<Now>,
    parser: SignalParser,
    key_header: Option<http::HeaderName>,
    rng: fastrand::Rng,
    tokens: Tokens,
    pause: Option<Pause>,
    pub(super) breakers: Option<Breakers>,
    /// [`PacerConfig::breaker_wait`].
    breaker_wait: Duration,
    last_signal: Signal,
    events: VecDeque<Event>,
    /// The budget shared with other processes, if configured ([`PacerConfig::shared`]).
    shared: Option<shared::SharedState>,
}

impl Pacer {
    /// A Pacer with this configuration, its jitter generator seeded with `seed` (adapters seed
    /// from the OS, simulations from the scenario).
    pub fn new(config: PacerConfig, seed: u64) -> Self {
        let mut throttle = Throttle::new(config.throttle);
        throttle.set_max_pause(config.retry.max_wait);
        Pacer {
            throttle,
            quota_codes: config.quota_codes,
            epoch: None,
            key_header: config.retry.key_header(),
            tokens: Tokens::new(&config.retry.budget),
            retry: config.retry,
            parser: SignalParser::new(),
            rng: fastrand::Rng::with_seed(seed),
            pause: None,
            breakers: config.breaker.map(Breakers::new),
            breaker_wait: config.breaker_wait,
            last_signal: Signal::default(),
            events: VecDeque::new(),
            shared: config.shared.map(shared::SharedState::new),
        }
    }

    /// Replaces the header parser (to add dialects, change the reset rule or quota horizon).
    pub fn with_parser(mut self, parser: SignalParser) -> Self {
        self.parser = parser;
        self
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Starts a logical request to no particular route. `headers` are the request's, checked
    /// for the idempotency key.
    pub fn call(&self, method: &Method, headers: &HeaderMap) -> Call {
        self.call_to(method, "", headers)
    }

    /// Starts a logical request to `path` (matched against the route rules; a query string is
    /// ignored). With a breaker configured, it goes through the breaker of requests with no
    /// host: give the host with [`Pacer::call_to_host`] for one breaker per host.
    pub fn call_to(&self, method: &Method, path: &str, headers: &HeaderMap) -> Call {
        self.call_to_host(method, "", path, headers)
    }

    /// The idempotency key to attach to a new logical request, when
    /// [`RetryPolicy::attach_idempotency_keys`](crate::retry::RetryPolicy::attach_idempotency_keys)
    /// is on, the method is not idempotent and `headers` carry no key yet: the header's name
    /// and a fresh key (32 hex digits from the Pacer's generator). Attach it to every attempt
    /// of the request ([`crate::exchange::Exchange`] does).
    pub fn idempotency_key(
        &mut self,
        method: &Method,
        headers: &HeaderMap,
    ) -> Option<(http::HeaderName, http::HeaderValue)> {
        if !self.retry.attach_idempotency_keys || crate::retry::is_idempotent(method) {
            return None;
        }
        let name = self.key_header.clone()?;
        if headers.contains_key(&name) {
            return None;
        }
        let key = format!("{:016x}{:016x}", self.rng.u64(..), self.rng.u64(..));
        Some((name, http::HeaderValue::from_str(&key).ok()?))
    }

    /// Starts a logical request to `path` on `host` (the URL's authority, `api.example.com`):
    /// with a breaker configured ([`PacerConfig::breaker`]), each host has its own. Allocates
    /// nothing once the host is known.
    pub fn call_to_host(
        &self,
        method: &Method,
        host: &str,
        path: &str,
        headers: &HeaderMap,
    ) -> Call {
        Call {
            ticket: self.throttle.ticket(method.as_str(), path, None),
            idempotent: crate::retry::is_idempotent(method),
            has_key: self
                .key_header
                .as_ref()
                .is_some_and(|k| headers.contains_key(k)),
            attempts: 0,
            started: None,
            not_before: None,
            previous_delay: self.retry.base,
            spent: 0,
            paced_refusals: 0,
            breaker_key: self.breakers.as_ref().map(|b| b.shared_key(host)),
            permit: None,
            outage_since: None,
            shared_granted: false,
        }
    }

    /// Makes the call draw from a consumer's share (see [`crate::throttle::ThrottleConfig::shares`]); unknown
    /// names are ignored.
    pub fn set_consumer(&self, call: &mut Call, name: &str) {
        call.ticket.share = self.throttle.ticket("", "", Some(name)).share;
    }

    /// Nanoseconds since the epoch (the first time this Pacer saw). Reads only the monotonic
    /// clock after the first call.
    #[inline]
    fn ns(&mut self, now: &Now) -> u64 {
        match self.epoch {
            Some(e) => since(e.mono, now.mono),
            None => self.start_epoch(now),
        }
    }

    #[cold]
    fn start_epoch(&mut self, now: &Now) -> u64 {
        self.epoch = Some(*now);
        let wall = now
            .wall
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        self.throttle.start(0, wall);
        0
    }

    /// The instant `ns` after the epoch (`None` past what an `Instant` can hold).
    fn instant(&self, ns: u64) -> Option<Instant> {
        self.epoch
            .and_then(|e| e.mono.checked_add(Duration::from_nanos(ns)))
    }

    /// Before each attempt: send now, wait until an instant, wait for a permit, reject, or
    /// (with a [`PacerConfig::shared`] budget) ask the shared store first
    /// ([`Begin::Reserve`], answered with [`Pacer::on_reserved`]).
    /// A `Wait` may be followed by more `Wait`s (another request's response can extend a pause).
    /// Deciding allocates nothing.
    pub fn poll_send(&mut self, call: &mut Call, now: Now) -> Begin {
        let now_ns = self.ns(&now);
        if let Some(p) = self.pause {
            if !p.active(now.mono) {
                self.pause = None;
            } else if p.quota {
                return Begin::Reject(Error::QuotaExhausted {
                    resets_in: p.until().map(|u| u - now.mono),
                    last: None,
                });
            } else {
                return Begin::Reject(Error::ServerAskedTooLong {
                    asked: p.asked,
                    max: self.retry.max_wait,
                });
            }
        }
        if let Some(t) = call.not_before
            && now.mono < t
        {
            return Begin::Wait(t);
        }
        if let Some(rejected) = self.ask_breaker(call, now.mono) {
            if let Error::BreakerOpen { .. } = rejected
                && let Some(next) = self.outage_tolerated(call, now.mono)
            {
                return Begin::Wait(next);
            }
            return Begin::Reject(rejected);
        }
        if self.shared.is_some()
            && let Some(begin) = self.shared_begin(call, now, now_ns)
        {
            return begin;
        }
        let events = &mut self.events;
        let admission = self.throttle.send(&mut call.ticket, now_ns, &mut |n| {
            events.push_back(note_event(n))
        });
        let refused = match admission {
            Admission::Now => None,
            Admission::At { at, server } => {
                let wait = Duration::from_nanos(at - now_ns);
                match self.instant(at) {
                    // The breaker's permit is kept while waiting: the call goes next.
                    Some(t) if !server || wait <= self.retry.max_wait => return Begin::Wait(t),
                    _ => Some(Error::ServerAskedTooLong {
                        asked: wait,
                        max: self.retry.max_wait,
                    }),
                }
            }
            Admission::NoPermit => return Begin::WaitForPermit,
            Admission::QuotaExhausted { reset_at } => Some(Error::QuotaExhausted {
                resets_in: Some(Duration::from_nanos(reset_at.saturating_sub(now_ns))),
                last: None,
            }),
            Admission::CostTooHigh { cost, capacity } => {
                Some(Error::CostTooHigh { cost, capacity })
            }
        };
        if let Some(error) = refused {
            self.cancel_breaker(call);
            return Begin::Reject(error);
        }
        if let Some(p) = &mut call.permit {
            p.restart(now.mono);
        }
        if call.attempts == 0 {
            self.tokens.on_request(&self.retry.budget, now_ns);
        }
        call.attempts += 1;
        call.shared_granted = false;
        call.started.get_or_insert(now.mono);
        Begin::Send
    }

    /// A request that got [`Begin::Send`] but will never be reported (the caller dropped it, a
    /// task was cancelled): its permit and, where exact, its units go back. Safe to call on any
    /// call, any number of times.
    pub fn cancel(&mut self, call: &mut Call, now: Now) {
        let now_ns = self.ns(&now);
        self.throttle.cancel(&mut call.ticket, now_ns);
        self.cancel_breaker(call);
    }

    /// After a response arrived: done, retry at an instant, or fail.
    pub fn on_response(
        &mut self,
        call: &mut Call,
        now: Now,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> Finish {
        self.on_response_body(call, now, status, headers, &[])
    }

    /// As [`Pacer::on_response`], also reading the body: GraphQL costs reported in it
    /// (Shopify's `extensions.cost.throttleStatus`, GitHub's `rateLimit`) and the configured
    /// quota codes. Use it when the body is at hand.
    pub fn on_response_body(
        &mut self,
        call: &mut Call,
        now: Now,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Finish {
        self.tell_breaker(call, now.mono, Attempted::Status(status));
        let (signal, class, server_wait) = self.learn(call, now, status, headers, body);
        let finish = match class {
            Class::Final => {
                if status.is_success() {
                    let refund = if call.spent > 0 {
                        call.spent
                    } else {
                        self.retry.budget.success_refund
                    };
                    self.tokens.refund(&self.retry.budget, refund);
                }
                Finish::Done
            }
            Class::QuotaExhausted => Finish::Fail(quota_spent(&signal, status)),
            _ => self.decide(
                call,
                now.mono,
                class,
                Attempted::Status(status),
                true,
                server_wait,
            ),
        };
        self.last_signal = signal;
        self.record_failure(call, &finish);
        finish
    }

    /// What a response's head (and body, when at hand) says, learned: the signal parsed, the
    /// throttle told, the permit released, a pause the server asked for taken. Returns the
    /// signal, its class, and how long the server asked to wait, if it did.
    fn learn(
        &mut self,
        call: &mut Call,
        now: Now,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> (Signal, Class, Option<Duration>) {
        let now_ns = self.ns(&now);
        let mut signal = self.parser.parse(status, headers, now.wall);
        if !body.is_empty() {
            self.parser.parse_body(&mut signal, body);
            if status == StatusCode::TOO_MANY_REQUESTS && contains_any(body, &self.quota_codes) {
                signal.quota_exhausted = true;
            }
        }
        self.events
            .extend(signal.warnings.iter().cloned().map(Event::HeaderWarning));
        let class = classify(&signal);
        let must_wait = signal.must_wait();
        let throttled = matches!(class, Class::Throttled | Class::QuotaExhausted);
        let events = &mut self.events;
        self.throttle.on_signal(
            &call.ticket,
            (now_ns, now.wall),
            &signal,
            throttled,
            &mut |n| events.push_back(note_event(n)),
        );
        self.throttle.release(&mut call.ticket);
        if must_wait > Duration::ZERO || signal.quota_exhausted {
            self.hold(now.mono, &signal, must_wait);
            self.share_pause(must_wait);
        }
        let server_wait = signal
            .retry_after
            .or((must_wait > Duration::ZERO).then_some(must_wait));
        (signal, class, server_wait)
    }

    /// After a response's head arrived but its body could not be read (the connection cut
    /// mid-body, a body over the adapter's size limit): the head still counts — its
    /// `Retry-After`, the window it reports, a quota it says is spent — and the attempt is
    /// then decided as the transport error it is, never sooner than the server asked.
    ///
    /// ```
    /// use std::time::{Duration, Instant, SystemTime};
    /// use http::{HeaderMap, HeaderValue, Method, StatusCode};
    /// use paceline::retry::{TransportError, TransportKind};
    /// use paceline::{Begin, Finish, Now, Pacer, PacerConfig};
    ///
    /// let mut pacer = Pacer::new(PacerConfig::default(), 7);
    /// let now = Now::new(Instant::now(), SystemTime::now());
    /// let mut call = pacer.call(&Method::GET, &HeaderMap::new());
    /// assert_eq!(pacer.poll_send(&mut call, now), Begin::Send);
    /// let mut head = HeaderMap::new();
    /// head.insert("retry-after", HeaderValue::from_static("30"));
    /// let cut = TransportError::after_send(TransportKind::Reset);
    /// let finish = pacer.on_body_error(&mut call, now, StatusCode::SERVICE_UNAVAILABLE, &head, cut);
    /// let Finish::RetryAt(at) = finish else { panic!("{finish:?}") };
    /// assert!(at >= now.mono + Duration::from_secs(30));
    /// ```
    pub fn on_body_error(
        &mut self,
        call: &mut Call,
        now: Now,
        status: StatusCode,
        headers: &HeaderMap,
        error: TransportError,
    ) -> Finish {
        self.tell_breaker(call, now.mono, Attempted::Transport(error));
        let (signal, class, server_wait) = self.learn(call, now, status, headers, &[]);
        let finish = match class {
            Class::QuotaExhausted => Finish::Fail(quota_spent(&signal, status)),
            _ if error.kind == TransportKind::Other => Finish::Fail(Error::Transport(error)),
            _ => self.decide(
                call,
                now.mono,
                Class::Transport(error.kind),
                Attempted::Transport(error),
                true,
                server_wait,
            ),
        };
        self.last_signal = signal;
        self.record_failure(call, &finish);
        finish
    }

    /// After a request produced no response: retry at an instant, or fail.
    pub fn on_transport_error(
        &mut self,
        call: &mut Call,
        now: Now,
        error: TransportError,
    ) -> Finish {
        self.tell_breaker(call, now.mono, Attempted::Transport(error));
        self.throttle.release(&mut call.ticket);
        let finish = if error.kind == TransportKind::Other {
            Finish::Fail(Error::Transport(error))
        } else {
            let class = Class::Transport(error.kind);
            self.decide(
                call,
                now.mono,
                class,
                Attempted::Transport(error),
                error.sent,
                None,
            )
        };
        self.record_failure(call, &finish);
        finish
    }

    /// Asks the call's breaker (unless the call holds a permit already, from a `poll_send`
    /// that said to wait): `Some` is the rejection.
    fn ask_breaker(&mut self, call: &mut Call, now: Instant) -> Option<Error> {
        let (Some(breakers), Some(key)) = (&mut self.breakers, &call.breaker_key) else {
            return None;
        };
        if call.permit.is_some() {
            return None;
        }
        let rejected = match breakers.allow(key, now) {
            Decision::Permit(p) => {
                call.permit = Some(p);
                None
            }
            Decision::Rejected { until: Some(until) } => Some(Error::BreakerOpen {
                until,
                retry_in: until.saturating_duration_since(now),
            }),
            Decision::Rejected { until: None } => Some(Error::BreakerIsolated),
        };
        self.breaker_events();
        rejected
    }

    /// When the call may try again if it waits out its breaker's outage
    /// ([`PacerConfig::breaker_wait`]): the breaker is open or probing, and its next probe
    /// comes within the wait allowed, counted from the first time this call found it open.
    /// Starts the call's outage clock.
    pub(super) fn outage_tolerated(&mut self, call: &mut Call, now: Instant) -> Option<Instant> {
        let wait = self.breaker_wait;
        let (Some(breakers), Some(key)) = (&self.breakers, &call.breaker_key) else {
            return None;
        };
        if wait.is_zero()
            || !matches!(
                breakers.state(key),
                Some(crate::breaker::State::Open | crate::breaker::State::HalfOpen)
            )
        {
            return None;
        }
        let next = breakers.open_until(key).unwrap_or(now).max(now);
        let since = *call.outage_since.get_or_insert(now);
        (next.saturating_duration_since(since) <= wait).then_some(next)
    }

    /// Reports the attempt's outcome to its breaker.
    fn tell_breaker(&mut self, call: &mut Call, now: Instant, outcome: Attempted) {
        if let (Some(breakers), Some(permit)) = (&mut self.breakers, call.permit.take()) {
            breakers.on_outcome(now, permit, &outcome);
            self.breaker_events();
        }
    }

    /// Gives back the call's breaker permit, if it holds one.
    fn cancel_breaker(&mut self, call: &mut Call) {
        if let (Some(breakers), Some(permit)) = (&mut self.breakers, call.permit.take()) {
            breakers.cancel(permit);
        }
    }

    /// Moves the breakers' events to the Pacer's queue.
    pub(super) fn breaker_events(&mut self) {
        if let Some(breakers) = &mut self.breakers {
            while let Some((host, event)) = breakers.poll_event() {
                self.events.push_back(Event::Breaker { host, event });
            }
        }
    }

    /// The next event, if any. Drain after every call.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// What the last response said.
    pub fn last_signal(&self) -> &Signal {
        &self.last_signal
    }
}
