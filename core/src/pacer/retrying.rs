//! The retry rules applied after a failed attempt, and the server-imposed pauses.

use std::time::{Duration, Instant};

use super::types::{Event, Finish, PauseCause};
use super::{Call, Pacer, Pause};
use crate::error::{Attempted, Error};
use crate::headers::Signal;
use crate::retry::{Class, TransportKind};

impl Pacer {
    /// Holds every request for `wait` after `now`, as the server asked.
    pub(super) fn hold(&mut self, now: Instant, signal: &Signal, wait: Duration) {
        let quota = signal.quota_exhausted;
        if wait > Duration::ZERO {
            let cause = if signal.retry_after.is_some() {
                PauseCause::RetryAfter
            } else {
                PauseCause::WindowExhausted
            };
            self.events.push_back(Event::Paused { wait, cause });
        }
        if !quota && wait <= self.retry.max_wait {
            return;
        }
        // A quota is refused until its reset (or, reset unknown, for `max_wait`); a wait past
        // the maximum for `max_wait` only, then requests probe again: one hostile value must
        // not refuse every request for ten years.
        let hold_for = match (quota, wait.is_zero()) {
            (true, false) => wait.min(crate::throttle::MAX_QUOTA_RESET),
            _ => self.retry.max_wait,
        };
        let new = Pause {
            from: now,
            wait: hold_for,
            asked: wait,
            quota,
        };
        let extends = match self.pause {
            Some(p) if p.active(now) => match (p.until(), new.until()) {
                (Some(old), Some(new)) => new > old,
                (Some(_), None) => true,
                (None, _) => false,
            },
            _ => true,
        };
        if extends {
            self.pause = Some(new);
        }
    }

    pub(super) fn record_failure(&mut self, call: &Call, finish: &Finish) {
        if let Finish::Fail(error) = finish {
            self.events.push_back(Event::GaveUp {
                attempts: call.attempts,
                error: error.clone(),
            });
        }
    }

    /// The retry rules of [`crate::retry`], in their documented order.
    pub(super) fn decide(
        &mut self,
        call: &mut Call,
        now: Instant,
        class: Class,
        last: Attempted,
        sent: bool,
        server_wait: Option<Duration>,
    ) -> Finish {
        if sent && !call.retry_safe() {
            return Finish::Fail(Error::NotIdempotent { last });
        }
        // An outage the breaker saw (it is open or probing after this attempt): the request
        // waits for the breaker's next probe, its retries and budget untouched, while the
        // outage is one it may sit through.
        if matches!(
            class,
            Class::Unavailable | Class::ServerError | Class::Transport(_)
        ) && let Some(next) = self.outage_tolerated(call, now)
        {
            call.attempts = call.attempts.saturating_sub(1);
            return Finish::RetryAt(next);
        }
        let policy = &self.retry;
        // A 429 nothing explains, on a route whose rate is being discovered.
        let discovering = class == Class::Throttled
            && server_wait.is_none()
            && self.throttle.adapting(&call.ticket);
        // It is what the discovery costs (it searches by refusals), not this request's
        // failure: it does not count as an attempt, up to twice `max_attempts` such 429s, so
        // that a server refusing everything still ends the request.
        if discovering && call.paced_refusals < policy.max_attempts.saturating_mul(2) {
            call.paced_refusals += 1;
        }
        if call.attempts >= policy.max_attempts.saturating_add(call.paced_refusals) {
            return Finish::Fail(Error::AttemptsExhausted {
                attempts: call.attempts,
                last,
            });
        }
        let wait = match server_wait {
            Some(asked) if asked > policy.max_wait => {
                return Finish::Fail(Error::ServerAskedTooLong {
                    asked,
                    max: policy.max_wait,
                });
            }
            Some(asked) => asked,
            // The discovered rate spaces the retry; a backoff on top would only waste the limit.
            None if discovering => Duration::ZERO,
            None => policy.backoff(call.attempts, call.previous_delay, &mut self.rng),
        };
        let started = call.started.unwrap_or(now);
        let would_take = now.saturating_duration_since(started).saturating_add(wait);
        if would_take > policy.max_elapsed {
            return Finish::Fail(Error::DeadlineExceeded {
                would_take,
                max: policy.max_elapsed,
                last,
            });
        }
        let cost = match class {
            Class::Throttled => 0,
            Class::Transport(TransportKind::Timeout) => policy.budget.timeout_cost,
            _ => policy.budget.retry_cost,
        };
        if cost > 0 {
            let now_ns = self.epoch.map_or(0, |e| super::since(e.mono, now));
            if !self.tokens.try_spend(&policy.budget, cost, now_ns) {
                return Finish::Fail(Error::RetryBudgetExhausted { last });
            }
            call.spent = call.spent.saturating_add(cost);
        }
        let at = now + wait;
        call.not_before = Some(at);
        call.previous_delay = wait;
        self.events.push_back(Event::Retrying {
            attempt: call.attempts,
            cause: last,
            wait,
            server_asked: server_wait.is_some(),
        });
        Finish::RetryAt(at)
    }
}

/// Whether `body` (its first 64 KiB) contains any of `codes`.
pub(super) fn contains_any(body: &[u8], codes: &[String]) -> bool {
    let body = &body[..body.len().min(64 * 1024)];
    codes
        .iter()
        .filter(|c| !c.is_empty())
        .any(|c| body.windows(c.len()).any(|w| w == c.as_bytes()))
}
