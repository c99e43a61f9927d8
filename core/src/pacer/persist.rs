//! What a Pacer knows that outlives a run or a screen: quota usage to save and restore, and
//! the throttle's status.

use super::Pacer;
use super::types::note_event;
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
}
