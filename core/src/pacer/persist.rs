//! What a Pacer knows that outlives a run or a screen: quota usage to save and restore, and
//! the throttle's status.

use super::Pacer;
use super::types::note_event;
use crate::breaker::{BreakerState, State};
use crate::time::Now;

#[cfg(doc)]
use super::Event;

impl Pacer {
    /// What each configured quota ([`crate::throttle::ThrottleConfig::quota`]) has used of its current period,
    /// to save for a later run (a resumed extraction, tomorrow's cron job under the same
    /// daily budget): see [`Pacer::restore_quota_usage`].
    ///
    /// ```
    /// use std::time::{Instant, SystemTime};
    /// use paceline::throttle::{Period, QuotaConfig, ThrottleConfig};
    /// use paceline::{Now, Pacer, PacerConfig};
    ///
    /// let config = PacerConfig::default()
    ///     .throttle(ThrottleConfig::default().quota(QuotaConfig::new(20, Period::Day)));
    /// let now = Now::new(Instant::now(), SystemTime::now());
    /// let mut first = Pacer::new(config.clone(), 1);
    /// // ... 16 requests later, the run saves its usage (as JSON, say) ...
    /// let mut saved = first.quota_usage(now);
    /// saved[0].used = 16;
    /// let json = serde_json::to_string(&saved).unwrap();
    ///
    /// // The next run, the same day, starts from it.
    /// let mut second = Pacer::new(config, 2);
    /// second.restore_quota_usage(now, &serde_json::from_str::<Vec<_>>(&json).unwrap());
    /// assert_eq!(second.status(now).quota_remaining, Some(4));
    /// ```
    pub fn quota_usage(&mut self, now: Now) -> Vec<crate::throttle::QuotaUse> {
        let ns = self.ns(&now);
        self.throttle.quota_usage(ns)
    }

    /// Counts what an earlier run used of each quota's current period (records saved by
    /// [`Pacer::quota_usage`]): a record of a period that has ended, or of a quota with another
    /// count or period, is ignored. A threshold the restored usage crosses is announced
    /// ([`Event::QuotaThreshold`]), so the run that starts past 80 % says so.
    pub fn restore_quota_usage(&mut self, now: Now, used: &[crate::throttle::QuotaUse]) {
        let ns = self.ns(&now);
        let events = &mut self.events;
        self.throttle
            .restore_quota_usage(ns, used, &mut |n| events.push_back(note_event(n)));
    }

    /// What the throttle knows now: windows, adaptive rate, quota left.
    pub fn status(&mut self, now: Now) -> crate::throttle::Status {
        let ns = self.ns(&now);
        self.throttle.status(ns)
    }

    /// The state of every host's circuit breaker ([`crate::PacerConfig::breaker`]), to save
    /// for the next run: a process restarting during an outage then starts with the breaker
    /// open, for the time its break has left. Empty without a breaker.
    ///
    /// ```
    /// use std::time::{Duration, Instant, SystemTime};
    /// use http::{HeaderMap, Method, StatusCode};
    /// use paceline::breaker::{BreakerConfig, BreakerState, State};
    /// use paceline::{Begin, Error, Now, Pacer, PacerConfig};
    ///
    /// let config = PacerConfig::default().breaker(BreakerConfig::default().minimum_calls(1));
    /// let now = Now::new(Instant::now(), SystemTime::now());
    /// let mut first = Pacer::new(config.clone(), 1);
    /// let mut call = first.call_to_host(&Method::GET, "api.test", "/items", &HeaderMap::new());
    /// assert_eq!(first.poll_send(&mut call, now), Begin::Send);
    /// let _ = first.on_response(&mut call, now, StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new());
    /// assert_eq!(first.breaker_state("api.test"), Some(State::Open));
    /// let json = serde_json::to_string(&first.breaker_states(now)).unwrap();
    ///
    /// // The next run, a second later, does not send before the break is over.
    /// let later = now.advance(Duration::from_secs(1));
    /// let mut second = Pacer::new(config, 2);
    /// second.restore_breaker_states(later, &serde_json::from_str::<Vec<BreakerState>>(&json).unwrap());
    /// let mut call = second.call_to_host(&Method::GET, "api.test", "/items", &HeaderMap::new());
    /// let Begin::Reject(Error::BreakerOpen { retry_in, .. }) = second.poll_send(&mut call, later) else {
    ///     panic!("expected the breaker open");
    /// };
    /// assert_eq!(retry_in, Duration::from_secs(4));
    /// ```
    pub fn breaker_states(&self, now: Now) -> Vec<BreakerState> {
        self.breakers
            .as_ref()
            .map(|b| b.save(now))
            .unwrap_or_default()
    }

    /// Takes up breaker states saved by [`Pacer::breaker_states`] (each under its host).
    /// Announced as [`Event::Breaker`] events. Nothing without a breaker.
    pub fn restore_breaker_states(&mut self, now: Now, saved: &[BreakerState]) {
        if let Some(b) = &mut self.breakers {
            b.restore(now, saved);
        }
        self.breaker_events();
    }

    /// The state of `host`'s breaker (`""`: requests with no host), if it has one.
    pub fn breaker_state(&self, host: &str) -> Option<State> {
        self.breakers.as_ref().and_then(|b| b.state(host))
    }

    /// While `host`'s breaker is open: when its next probe may go.
    pub fn breaker_open_until(&self, host: &str) -> Option<std::time::Instant> {
        self.breakers.as_ref().and_then(|b| b.open_until(host))
    }

    /// Opens `host`'s breaker until [`Pacer::reset_breaker`]: its requests are rejected with
    /// [`crate::Error::BreakerIsolated`]. Nothing without a breaker.
    pub fn isolate_breaker(&mut self, host: &str) {
        if let Some(b) = &mut self.breakers {
            b.isolate(host);
        }
        self.breaker_events();
    }

    /// Closes `host`'s breaker.
    pub fn reset_breaker(&mut self, host: &str) {
        if let Some(b) = &mut self.breakers {
            b.reset(host);
        }
        self.breaker_events();
    }
}
