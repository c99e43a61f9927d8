//! What a response teaches the throttle: the windows it reports, the pause it asks for, and
//! whether a 429 was a hidden limit to discover.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::gcra::Gcra;
use super::server_window::Report;
use super::*;
use crate::headers::Signal;

impl Throttle {
    /// What a response said, received at `now` (ns; and its wall-clock time). `throttled`: it
    /// was a 429 (or throttling 403).
    pub(crate) fn on_signal(
        &mut self,
        t: &Ticket,
        (now, wall): (u64, SystemTime),
        s: &Signal,
        throttled: bool,
        notes: &mut impl FnMut(Note),
    ) {
        let r = usize::from(t.route);
        if !self.routes[r].heard && t.first {
            // The route's first request also opened the connection: its arrival at the server
            // lagged its send by more than the next one's will. Charged again as of its answer,
            // configured limits space the next request from then, or an exact `--rate` would
            // put the first two closer at the server than the limit allows.
            for g in self
                .global
                .iter_mut()
                .chain(self.routes[r].limits.iter_mut())
            {
                g.refund(now, t.cost);
                g.consume(now, t.cost);
            }
            self.regate(r);
        }
        self.respace_late_read(t, now, throttled);
        self.routes[r].heard = true;
        if self.cfg.follow_headers {
            // Every policy reported, or else the one window the top-level fields describe.
            if s.policies.is_empty() {
                let name = s.bucket.as_deref().or(s.policy.as_deref());
                self.learn_reported(
                    r,
                    t,
                    (now, wall),
                    name,
                    s.remaining,
                    s.limit,
                    s.window,
                    s.reset_in,
                    notes,
                );
            }
            for p in &s.policies {
                self.learn_reported(
                    r,
                    t,
                    (now, wall),
                    p.name.as_deref(),
                    p.remaining,
                    p.limit,
                    p.window,
                    p.reset_in,
                    notes,
                );
            }
        }
        if let Some(wait) = s.retry_after.filter(|d| !d.is_zero()) {
            let until = now.saturating_add(dur_ns(wait).min(self.max_pause_ns));
            if s.global {
                self.global_pause = self.global_pause.max(until);
            } else {
                self.routes[r].paused_until = self.routes[r].paused_until.max(until);
            }
        }
        if let Some(i) = self.live(t) {
            self.learned[i].heard = true;
        }
        // A used-up window explains a 429; so does a throttled body that says how long to wait
        // (a GraphQL cost to wait for): neither is a hidden limit to discover.
        let explained = s.remaining == Some(0)
            || s.policies.iter().any(|p| p.remaining == Some(0))
            || (s.throttled && s.retry_after.is_some());
        if throttled && !explained {
            // The tightest rate configured for these requests (infinite: none).
            let declared = self
                .global
                .iter()
                .chain(&self.routes[r].limits)
                .map(Gcra::rate)
                .fold(f64::INFINITY, f64::min);
            let adaptive = &mut self.routes[r].adaptive;
            adaptive.on_throttle(now, t.sent_at, declared);
            if let Some(rate) = adaptive.rate() {
                notes(Note::Adapted { rate });
            }
        } else if !throttled && self.routes[r].adaptive.is_active() {
            self.routes[r].adaptive.on_success(now);
        }
    }

    /// [`Throttle::learn`] from a reported policy's fields, when it says what remains.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn learn_reported(
        &mut self,
        r: usize,
        t: &Ticket,
        (now, wall): (u64, SystemTime),
        name: Option<&str>,
        remaining: Option<u64>,
        limit: Option<u64>,
        window: Option<Duration>,
        reset_in: Option<Duration>,
        notes: &mut impl FnMut(Note),
    ) {
        if let Some(remaining) = remaining {
            let report = Report {
                remaining,
                limit,
                // A reset is a boundary: arriving on it a hair early (clocks that differ by
                // milliseconds, a value read through floating point) is a 429.
                reset_at: reset_in.map(|d| {
                    now.saturating_add(dur_ns(d))
                        .saturating_add(RESET_MARGIN_NS)
                }),
                window: window.map(dur_ns),
                at: now,
                sent: if t.sent_at > 0 {
                    t.sent_at.min(now)
                } else {
                    now
                },
                whole: reset_in.is_some_and(|d| {
                    // Whole seconds from the response, or an epoch second (read against this
                    // wall clock, through floating point: within a millisecond).
                    let epoch = wall
                        .checked_add(d)
                        .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
                        .map_or(1, |at| at.subsec_nanos());
                    d.subsec_nanos() == 0 || !(1_000_000..=999_000_000).contains(&epoch)
                }),
            };
            self.learn((r, t), now, name, report, notes);
        }
    }
}
