//! Late reads: a request answered later than its route usually answers was probably read late
//! by the server, and a server's limiter counts a request from when it read it.
//!
//! nginx's `limit_req` with no burst refuses a request closer than `1/rate` to the last one
//! it accepted, on its own millisecond clock: the moment its worker read the request. A
//! client pacing `1/rate` apart plus a 1 ms margin is refused when one request is read more
//! than the margin late and the next on time. Measured against nginx on loopback (2 vCPUs
//! shared with other work), about one request in a hundred is read 2–7 ms late, and its
//! answer is as much slower: a round trip of 3.5–10 ms against a typical 1.8 ms. The client
//! cannot see the read, only the answer; so the rule
//! ([`ThrottleConfig::late_read_spacing`](super::ThrottleConfig::late_read_spacing)):
//!
//! > A response (not a 429: a refused request counts for nothing at the limiter) whose round
//! > trip is an outlier for its route — past the upper quartile of the route's last [`KEPT`]
//! > round trips by more than 1.5 times their interquartile range (Tukey's fence) — is late
//! > by its excess over their median; before [`ENOUGH`] round trips are known, any response is
//! > late by its excess over the fastest yet. The configured limits count that request as
//! > sent `min(late, interval / 4)` later than it was.
//!
//! Once the route's typical round trip is known, only outliers count: a network's ordinary
//! jitter (answers spread evenly over tens of milliseconds) seldom reaches the fence (about
//! half an interquartile range past the slowest of an even spread), so it costs next to
//! nothing; a late read stands out of a tight spread. The round trips are the learned route's
//! (so one slow endpoint's answers do not look late beside a fast one's). The route's first
//! request, which also opened the connection, is never typical (it is charged again as of
//! its answer instead) and gives only the floor the first answers are measured from: a floor
//! too high (a slow connect) spaces less, never more. Before [`ENOUGH`] are known, every
//! answer's excess over the fastest yet is spaced: a run's first requests are where a late
//! read is likeliest to cost a 429, as nothing typical is known yet (in the simulator, 2 %
//! of reads up to 7 ms late, 20 seeds: 7 runs of 20 had a 429, 6 of them in the first 9
//! requests; 1 run of 20 now). It costs the first answers' spread: on loopback a fraction of
//! a millisecond each; with 30–60 ms of jitter at 10 per second, 84 ms over the first 8
//! (`core/tests/late_reads.rs`). Each bucket moves its record of the last unit to
//! `sent + shift` only if that is later than what it has: a request already charged after
//! this one (several in flight, or a round trip longer than the interval) has moved the
//! bucket further, and the shift then costs nothing — and helps nothing, as that request
//! has left. So the rule costs time only right after an unusually slow answer, at most a
//! quarter of an interval each time; a backend slow after the limiter's check (a page that
//! takes longer to render) looks the same from the client, and the cap bounds what it costs.
//! Against the nginx run above it moved requests by 3–114 ms in all in 10 s (0.03–1.1 % of
//! the rate, the more the busier the machine). On a busy machine many answers are slow and a
//! read 1–2 ms late is no outlier: the rule then misses some of the late reads (see
//! `cli/tests/real_limiters.rs`).

use super::{Throttle, Ticket};

/// Round trips remembered per route for its typical one.
pub(super) const KEPT: usize = 32;

/// Round trips needed before one counts as late.
pub(super) const ENOUGH: usize = 8;

/// The median and the fence are worked out again every this many round trips, so that three
/// answers in four cost a comparison, not a sort of the ring.
const REFRESH: u8 = 4;

/// The last round trips of a route's answered requests, ns: a ring, allocating nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct RoundTrips {
    recent: [u64; KEPT],
    len: u8,
    next: u8,
    /// The median and the outlier fence of the ring as last worked out (`None`: not yet).
    typical: Option<(u64, u64)>,
    /// Round trips recorded since then.
    stale: u8,
    /// The fastest round trip seen, the route's first request's included.
    floor: Option<u64>,
}

impl RoundTrips {
    /// The quartiles of the round trips kept (lower, median, upper), once there are
    /// [`ENOUGH`]: the `⌊(n − 1) × q⌋`-th smallest of `n`.
    pub(super) fn quartiles(&self) -> Option<(u64, u64, u64)> {
        let len = usize::from(self.len);
        if len < ENOUGH {
            return None;
        }
        let mut sorted = self.recent;
        let kept = &mut sorted[..len];
        kept.sort_unstable();
        let at = |q: usize| kept[(len - 1) * q / 4];
        Some((at(1), at(2), at(3)))
    }

    /// Remembers the route's first round trip for [`RoundTrips::floor`] only (it also opened
    /// the connection: never typical, at most a floor too high, which spaces less).
    pub(super) fn first(&mut self, rtt: u64) {
        self.note_floor(rtt);
    }

    fn note_floor(&mut self, rtt: u64) {
        self.floor = Some(self.floor.map_or(rtt, |f| f.min(rtt)));
    }

    /// Remembers a round trip (the oldest one goes when [`KEPT`] are kept).
    pub(super) fn record(&mut self, rtt: u64) {
        self.note_floor(rtt);
        self.recent[usize::from(self.next)] = rtt;
        self.next = ((usize::from(self.next) + 1) % KEPT) as u8;
        self.len = (usize::from(self.len) + 1).min(KEPT) as u8;
        self.stale = self.stale.saturating_add(1);
        if self.typical.is_none() || self.stale >= REFRESH {
            self.stale = 0;
            // Tukey's fence for outliers: the upper quartile plus 1.5 interquartile ranges.
            self.typical = self.quartiles().map(|(lower, median, upper)| {
                let range = upper - lower;
                (
                    median,
                    upper.saturating_add(range).saturating_add(range / 2),
                )
            });
        }
    }

    /// How late `rtt` is: once the route's typical round trip is known, its excess over the
    /// median when it is an outlier (past the fence), else 0; before, its excess over the
    /// fastest round trip yet (0 with none); then remembers it.
    pub(super) fn lateness(&mut self, rtt: u64) -> u64 {
        let late = match self.typical {
            Some((median, fence)) if rtt > fence => rtt - median,
            Some(_) => 0,
            None => self.floor.map_or(0, |f| rtt.saturating_sub(f)),
        };
        self.record(rtt);
        late
    }
}

impl Throttle {
    /// The late-read rule (see [`self`]) for a response to `t` received at `now`, ns.
    /// `throttled`: it was a 429 (nothing is learned from it).
    pub(super) fn respace_late_read(&mut self, t: &Ticket, now: u64, throttled: bool) {
        let r = usize::from(t.route);
        if !self.cfg.late_read_spacing
            || throttled
            || !t.in_flight
            || t.sent_at > now
            || (self.global.is_empty() && self.routes[r].limits.is_empty())
        {
            return;
        }
        let rtt = now - t.sent_at;
        let round_trips = match self.live(t) {
            Some(i) => &mut self.learned[i].round_trips,
            None => &mut self.routes[r].round_trips,
        };
        if t.first {
            round_trips.first(rtt);
            return;
        }
        let excess = round_trips.lateness(rtt);
        if excess == 0 {
            return;
        }
        for g in self
            .global
            .iter_mut()
            .chain(self.routes[r].limits.iter_mut())
        {
            g.count_last_at(t.sent_at, excess.min(g.interval_ns() / 4));
        }
        self.regate(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outlier_is_late_by_its_excess_over_the_median() {
        let mut r = RoundTrips::default();
        assert_eq!(r.lateness(5), 0, "nothing known");
        // Under ENOUGH known, late by the excess over the fastest yet.
        let late: Vec<u64> = [1, 3, 4, 2, 3, 4].map(|rtt| r.lateness(rtt)).into();
        assert_eq!(late, [0, 2, 3, 1, 2, 3]);
        r.record(3);
        // 1, 2, 3, 3, 3, 4, 4, 5: the ⌊7q/4⌋-th.
        assert_eq!(r.quartiles(), Some((2, 3, 4)));
        // The fence: 4 + 1.5 × (4 − 2).
        assert_eq!(r.lateness(7), 0);
        assert_eq!(r.lateness(20), 17);
        // A ring of 2s: then anything over 2 is late.
        for _ in 0..KEPT {
            r.record(2);
        }
        assert_eq!(r.quartiles(), Some((2, 2, 2)));
        assert_eq!(r.lateness(3), 1);
        assert_eq!(r.lateness(1), 0);
    }

    /// The route's first round trip (it opened the connection) is a floor only: the next
    /// answer is late by its excess over it, and it is never typical.
    #[test]
    fn the_first_round_trip_is_a_floor_only() {
        let mut r = RoundTrips::default();
        r.first(30);
        assert_eq!(r.quartiles(), None);
        assert_eq!(r.lateness(35), 5);
        assert_eq!(r.lateness(2), 0);
        assert_eq!(r.lateness(9), 7, "the fastest yet is 2");
        let mut fresh = RoundTrips::default();
        fresh.first(2);
        assert_eq!(fresh.lateness(2), 0);
    }
}
