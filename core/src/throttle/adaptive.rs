//! Discovering limits nobody documented: a search that finds the rate in seconds, then
//! CUBIC (as in AWS SDKs' adaptive retry mode) to stay near it.
//!
//! **The search.** The first 429 no known limit explains says only that the client sent too
//! fast — on a short run it comes before any rate could be measured (nginx's `limit_req` with
//! no burst refuses the second request sent back to back). So the rate is searched: the rate
//! that failed is an upper bound (at the first 429, the rate of the last few sends, from their
//! own timestamps); a rate held for a probation (half a second and three requests) without a
//! 429 is a lower bound. With no lower bound yet the rate halves (a quarter cost the short
//! runs 4-6 % of the limit: `throttle-discover-burst0-200` 0.864 → 0.925, `-burst10-200`
//! 0.949 → 0.999, for one or two more 429s, which do not count as the request's attempts);
//! with one it bisects, up after a clean probation, down after a 429, until the bounds
//! are within 5 %. A 429 at a rate once thought safe (a burst allowance that hid the limit
//! during the probation) lowers the lower bound. Against nginx's 20 r/s with no burst that is
//! about eight 429s and three seconds. Retries of these 429s wait for the pacing only (see
//! [`crate::Pacer`]), not for a backoff.
//!
//! **A limiter that banks a burst** (nginx's `burst=10 nodelay`) hides its rate from a
//! probation: while the client sends under it, it banks requests again, and a probation over
//! it passes on them. It shows itself at the start — three or more requests through back to
//! back before the first 429, and the next request refused as well (a 429 at random is
//! followed by a success) — and between two 429s it was full at both, so what it admitted
//! in between, `n` requests over `Δ` (at least ten, over at least half a second), is its
//! rate: at least `(n − 1) / Δ`, at most `(n + 1) / Δ` unless it emptied on the way. When
//! that is 5 % under the rate of the last sends, the rate that held did so on the burst: the
//! search takes those bounds, and cruising drops under what was admitted, with CUBIC flat at
//! it, and such a 429 is not taken for noise. Against nginx's 20 r/s burst 10, 200 pages:
//! 6-8 429s where 6-11 were (a probation over the limit passed on the burst, and the client
//! cruised at 21-24/s taking the 429s that came for noise).
//!
//! **Then CUBIC**, from the lower bound back towards the rate that failed: after a 429 at rate
//! `W`, it drops to the rate that held (at least 8 % under `W`), returns quickly towards
//! 95 % of `W`, flattens there (probing gently where 429s would start), and only then
//! accelerates. Against a fixed hidden limit that gives ~92 % of the
//! limit on average with one 429 per cycle. The constants are AWS's — `β = 0.7`, the rate
//! capped at twice the measured send rate (so an idle client does not "discover" capacity it
//! never used) and floored at 0.5 requests per second — except CUBIC's `C`, which is scaled to
//! the rate (see [`AdaptiveConfig::cycle_requests`]). One decrease per round trip: 429s for
//! requests sent before the last decrease do not decrease the rate again.
//!
//! **Noise.** Cruising under the rate that last met a 429, a 429 that is at most the second
//! in 100 sends, with those taken for noise since the last decrease at most 1 % of the sends
//! since (and six), is taken for a service shedding load at random, not for the limit: the
//! rate stays and the retry is spaced (see [`Adaptive::is_jitter`]).
//!
//! **With a configured rate** (`--rate`), a 429 at about that rate is most often the limiter's
//! jitter, not a lower limit: a server that reads a request a few milliseconds late makes the
//! next one, read on time, look early to a limiter with no burst. The first such 429, even
//! three requests into a run, costs only its retry (the rate stays the configured one: a few
//! sends measure a little under it); a later one, a whole cycle of requests on or at most the
//! second in 100 sends, the same; a third within 100 sends lowers the rate (8 %, then CUBIC
//! back).
//!
//! Arithmetic is in `f64`: the rate is an estimate, and `f64` is deterministic for the same
//! inputs on the same platform.

use serde::{Deserialize, Serialize};

const NS: f64 = 1e9;

/// Sends remembered to measure the rate at the first 429.
const RECENT: usize = 8;

/// Requests a probation needs besides its time.
const PROBATION_SENDS: u64 = 5;

/// Sends that measure a client's rate well enough, at its first 429, to tell it was sending at
/// about its configured rate (two intervals).
const DECLARED_SENDS: usize = 3;

/// Bounds this close (upper ÷ lower) end the search.
const CONVERGED: f64 = 1.05;

/// Requests admitted back to back before the first 429 that show the limiter banks a burst.
const BURST_SENDS: u64 = 3;

/// What an average between two 429s needs to measure a limiter that banks a burst: this
/// many requests admitted, over at least this long (ns).
const HELD_SENDS: u64 = 10;
const HELD_SPAN_NS: u64 = 500_000_000;

/// Sends over which a 429 under the rate that last failed counts as noise while it is at
/// most the second (see [`Adaptive::is_jitter`]).
const NOISE_WINDOW: u64 = 100;

/// The most 429s taken for noise since the last decrease, as a share of the sends since, and
/// the few always allowed (see [`Adaptive::is_jitter`]).
const NOISE_SHARE: f64 = 0.01;
const NOISE_SLACK: f64 = 6.0;

/// Whether the limiter banks a burst (see [`Adaptive::held`]).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Burst {
    /// No sign of one: no 429 yet, or the first came after fewer than [`BURST_SENDS`]
    /// requests, or the answer after it was a success (a 429 at random).
    No,
    /// The first 429 came after [`BURST_SENDS`] or more requests went through back to back;
    /// the next answer tells.
    Maybe,
    /// And the next request met a 429 too: a limiter that banks a burst, now full.
    Yes,
}

/// What a limiter that banks a burst admitted between two 429s, requests per second (see
/// [`Adaptive::held`]).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Held {
    /// At least its rate: `(n − 1) / Δ`.
    low: f64,
    /// What it admitted: `n / Δ`.
    mid: f64,
    /// At most its rate unless it emptied on the way: `(n + 1) / Δ`.
    high: f64,
}

/// Adaptive discovery settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AdaptiveConfig {
    /// Whether a 429 that no known limit explains starts adaptive pacing. Default true.
    pub enabled: bool,
    /// Multiplicative decrease on a 429 once the rate is found (AWS: 0.7).
    pub beta: f64,
    /// Requests one CUBIC cycle spans: the time back to the last rate that worked is
    /// `K = cycle_requests / rate`, and CUBIC's scale constant follows as
    /// `C = rate × (1 − β) / K³`. Default 66, which gives AWS's `C = 0.4` at 25 requests per
    /// second; AWS keeps `C` fixed, which at 2 requests per second probes every other request
    /// and at 1,000 takes minutes to recover. Scaling it keeps 429s near `1 / cycle_requests`
    /// of requests at any rate.
    pub cycle_requests: f64,
    /// The lowest rate, requests per second (AWS: 0.5).
    pub min_rate: f64,
    /// How often the send rate is measured, seconds (AWS: 0.5).
    pub measure_every: f64,
    /// How long a rate must hold, without a 429, to count as one that works while searching,
    /// seconds (and at least three requests). Default 0.5: long enough for a limiter with no
    /// burst to refuse a rate above its own, short enough that a search of six steps fits in
    /// a few seconds.
    pub probation: f64,
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        AdaptiveConfig {
            enabled: true,
            beta: 0.7,
            cycle_requests: 66.0,
            min_rate: 0.5,
            measure_every: 0.5,
            probation: 0.5,
        }
    }
}

/// The adaptive bucket: inactive until the first unexplained 429.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Adaptive {
    cfg: AdaptiveConfig,
    active: bool,
    /// Current allowed rate, per second.
    rate: f64,
    /// Searching for the rate (else cruising with CUBIC).
    searching: bool,
    /// The highest rate held through a probation (0: none yet).
    lo: f64,
    /// Searching, the lowest rate that met a 429 (infinite: none yet); cruising, the rate the
    /// last decrease was made from (the rate a 429 met).
    hi: f64,
    /// Upward steps since the last 429: each doubles the next probation, since a limiter
    /// banks burst allowance while the rate is low and spends it when it rises.
    ups: u32,
    /// When the current rate was set, ns, and the units sent at it since.
    since_ns: u64,
    sent_since: u64,
    /// The last sends' times, ns (a ring).
    recent: [u64; RECENT],
    recent_len: usize,
    recent_next: usize,
    last_max_rate: f64,
    /// Units sent in all, and that count at the last two 429s (newest first).
    total_sent: u64,
    throttled_at: [u64; 2],
    /// When the last 429 came, ns.
    last_429_ns: u64,
    /// Whether the limiter banks a burst.
    burst: Burst,
    /// Cruising, 429s taken for noise since the last decrease, and `total_sent` then.
    noise: u64,
    decreased_at: u64,
    last_throttle_ns: u64,
    /// CUBIC's K: seconds from the throttle until the rate is back at `last_max_rate`.
    k: f64,
    /// CUBIC's scale for the current cycle.
    c: f64,
    /// Measured send rate (smoothed), per second.
    measured: f64,
    measure_start_ns: u64,
    measure_count: u64,
    /// Next time a unit may go, ns.
    next_ns: u64,
    /// `measure_every` in ns.
    measure_every_ns: u64,
}

impl Adaptive {
    pub(crate) fn new(cfg: AdaptiveConfig) -> Self {
        Adaptive {
            cfg,
            active: false,
            rate: 0.0,
            searching: false,
            lo: 0.0,
            hi: f64::INFINITY,
            ups: 0,
            since_ns: 0,
            sent_since: 0,
            noise: 0,
            decreased_at: 0,
            recent: [0; RECENT],
            recent_len: 0,
            recent_next: 0,
            last_max_rate: 0.0,
            total_sent: 0,
            throttled_at: [0; 2],
            last_429_ns: 0,
            burst: Burst::No,
            last_throttle_ns: 0,
            k: 0.0,
            c: 0.0,
            measured: 0.0,
            measure_start_ns: 0,
            measure_count: 0,
            next_ns: 0,
            measure_every_ns: (cfg.measure_every.clamp(0.001, 3600.0) * NS) as u64,
        }
    }

    pub(crate) fn is_active(&self) -> bool {
        self.active
    }

    /// The rate in force (requests per second), or `None` while inactive.
    pub(crate) fn rate(&self) -> Option<f64> {
        self.active.then_some(self.rate)
    }

    pub(crate) fn earliest(&self, now: u64) -> u64 {
        if self.active {
            self.next_ns.max(now)
        } else {
            now
        }
    }

    #[inline]
    pub(crate) fn consume(&mut self, now: u64, cost: u64) {
        self.measure(now, cost);
        if self.active {
            let spacing = (cost as f64 * NS / self.rate.max(self.cfg.min_rate)) as u64;
            self.next_ns = self.next_ns.max(now).saturating_add(spacing);
            self.sent_since = self.sent_since.saturating_add(cost);
        }
    }

    /// The send rate, measured over buckets of `measure_every` seconds and smoothed
    /// (`0.8 × old + 0.2 × new`, AWS's), and the last sends' times.
    #[inline]
    pub(crate) fn measure(&mut self, now: u64, cost: u64) {
        if now.saturating_sub(self.measure_start_ns) >= self.measure_every_ns {
            self.close_measurement(now);
        }
        self.measure_count = self.measure_count.saturating_add(cost);
        self.total_sent = self.total_sent.saturating_add(cost);
        self.recent[self.recent_next] = now;
        self.recent_next = (self.recent_next + 1) % RECENT;
        self.recent_len = (self.recent_len + 1).min(RECENT);
    }

    /// Ends a measuring interval (once per `measure_every`, out of the per-request path).
    #[cold]
    fn close_measurement(&mut self, now: u64) {
        let span = now.saturating_sub(self.measure_start_ns) as f64 / NS;
        let r = self.measure_count as f64 / span;
        self.measured = if self.measured == 0.0 {
            r
        } else {
            0.8 * self.measured + 0.2 * r
        };
        self.measure_start_ns = now;
        self.measure_count = 0;
    }

    /// The rate of the last sends, from their timestamps (at least a millisecond between the
    /// first and the last); with fewer than two, a guess of 4 per second.
    fn recent_rate(&self) -> f64 {
        if self.recent_len < 2 {
            return 4.0;
        }
        let times = &self.recent[..self.recent_len];
        let (first, last) = (
            times.iter().min().copied().unwrap_or(0),
            times.iter().max().copied().unwrap_or(0),
        );
        let span = (last.saturating_sub(first) as f64 / NS).max(0.001);
        (self.recent_len - 1) as f64 / span
    }

    fn cap(&mut self, new_rate: f64) {
        let ceiling = if self.measured > 0.0 {
            2.0 * self.measured
        } else {
            new_rate
        };
        self.rate = new_rate.min(ceiling).max(self.cfg.min_rate);
    }

    /// Sets the rate to try next while searching.
    fn try_rate(&mut self, rate: f64, now: u64) {
        self.rate = rate.max(self.cfg.min_rate);
        self.since_ns = now;
        self.sent_since = 0;
    }

    /// A 429 that no known limit explains, for a request sent at `sent_at`. Requests sent
    /// before the last decrease cannot confirm the new rate is still too high: their 429s are
    /// the same congestion event and do not decrease it again (one decrease per round trip).
    ///
    /// `declared` is the rate the caller configured for these requests (infinite: none). A
    /// first 429 at about that rate is most likely a late read (a strict limiter that counts
    /// arrivals to the millisecond refuses one now and then when two requests arrive a few
    /// milliseconds closer than they left), not a limit far below: once [`DECLARED_SENDS`]
    /// sends measure the rate at 90 % of it or more, the client cruises at the configured rate
    /// and the 429 costs its retry; measured lower, at what was measured; with fewer sends,
    /// the search starts with 90 % of it as the rate that holds. Cruising at about that rate,
    /// a 429 after a whole cycle of requests ([`AdaptiveConfig::cycle_requests`]) went
    /// through at it, or at most the second in [`NOISE_WINDOW`] sends, is the same jitter
    /// again: the rate stays (see [`Adaptive::is_jitter`]). 429s more often than that, at or
    /// under the rate, lower it.
    pub(crate) fn on_throttle(&mut self, now: u64, sent_at: u64, declared: f64) {
        if !self.cfg.enabled || (self.active && sent_at < self.last_throttle_ns) {
            return;
        }
        // What a limiter that banks a burst admitted since the last 429, when it is 5 % under
        // the rate of the last sends: that rate is over the limit, and the burst that hid it
        // is spent.
        let held = self.held(now).filter(|h| h.mid < 0.95 * self.recent_rate());
        if !self.active {
            // `total_sent` counts this request too.
            if self.total_sent > BURST_SENDS {
                self.burst = Burst::Maybe;
            }
        } else if self.burst == Burst::Maybe {
            self.burst = Burst::Yes;
        }
        let jitter = self.is_jitter(declared, held.is_some());
        self.throttled_at = [self.total_sent, self.throttled_at[0]];
        self.last_429_ns = now;
        if jitter {
            // The next one counts from here; CUBIC's cycle (from the last decrease) goes on.
            self.noise += 1;
            self.sent_since = 0;
            self.space_from(now);
            return;
        }
        let failed = if self.active {
            self.rate
        } else {
            self.recent_rate()
        };
        self.last_throttle_ns = now;
        self.ups = 0;
        let at_declared = declared.is_finite() && failed <= declared * 1.1;
        if !self.active && at_declared && self.recent_len >= DECLARED_SENDS {
            // Sending at about the configured rate (a few sends measure it a little low: the
            // first request is charged as of its answer), this 429 is most likely a late read.
            let at = if failed >= declared * 0.9 {
                declared
            } else {
                failed
            };
            self.active = true;
            self.lo = at * 0.99;
            self.cruise_from(at, at, now);
            self.space_from(now);
            return;
        }
        if !self.active || self.searching {
            if !self.active && at_declared {
                self.lo = failed * 0.9;
            }
            self.active = true;
            self.searching = true;
            self.hi = self.hi.min(failed).max(self.cfg.min_rate);
            if let Some(Held { low, high, .. }) = held {
                // The rate that held did on a burst the limiter had banked (it admitted 5 %
                // less since it was last full): what it admitted bounds it.
                self.lo = low;
                self.hi = self.hi.min(high).max(low);
                if self.hi <= self.lo * CONVERGED {
                    self.cruise_from(self.lo, self.hi, now);
                    self.space_from(now);
                    return;
                }
            } else if self.lo * CONVERGED >= self.hi {
                // A 429 at (or a hair above) a rate that held: the probation passed on a burst
                // allowance the limiter had banked, not on the rate.
                self.lo = self.hi * self.cfg.beta;
            }
            let next = if self.lo > 0.0 {
                (self.lo + self.hi) / 2.0
            } else {
                self.hi / 2.0
            };
            self.try_rate(next, now);
            self.space_from(now);
            return;
        }
        // Cruising: a 429 above the rate last held through a probation drops back to that
        // rate (the limit is between the two; at least 8 % below the one that failed) and
        // CUBIC climbs back towards this one; one at or below it means the limit fell: search
        // again below it.
        let current = self.rate.max(self.cfg.min_rate);
        if let Some(Held { low, mid, .. }) = held {
            // The limiter admitted 5 % less than this rate since it was last full: the rest
            // came from a burst it had banked, now spent. Back under what it admitted, and
            // CUBIC flat at it.
            self.lo = low;
            self.cruise_from(low.min(current * 0.92), mid / 0.95, now);
            self.space_from(now);
            return;
        }
        if current <= self.lo {
            self.searching = true;
            self.hi = current;
            self.lo = current * 0.85;
            self.try_rate((self.lo + self.hi) / 2.0, now);
            self.space_from(now);
            return;
        }
        // At least 8 % below the rate that failed: send-time jitter (a thread woken a
        // millisecond late, two requests bunched) alone refuses a rate a few % under the
        // limit.
        let floor = if self.lo > 0.0 {
            self.lo.min(current * 0.92)
        } else {
            current * self.cfg.beta
        };
        self.cruise_from(floor, current, now);
        self.space_from(now);
    }

    /// Whether a 429 now is noise, not a limit, while cruising:
    /// - at 90 % or more of the rate the caller configured (`declared`), with at least a
    ///   cycle's requests sent since the last 429, or at most the second 429 in the last
    ///   [`NOISE_WINDOW`] sends. A limiter that counts arrivals to the millisecond (nginx's
    ///   `limit_req` with no burst) refuses one now and then when its server reads a request
    ///   a few milliseconds late;
    /// - under the rate the last decrease was made from (`hi`), and at most the second 429 in the
    ///   last [`NOISE_WINDOW`] sends. A service that sheds a share of requests at any rate
    ///   (1 % 429s with no limit behind them) would otherwise lower the rate on every one,
    ///   and with the rate that held as the floor of each search, ratchet it down cycle after
    ///   cycle: to 30 % of a 20/s limit over 5,000 requests (`throttle-noise-5000`). A limit is
    ///   met at about the rate it was met before. The 429s taken for noise since the last
    ///   decrease stay at most [`NOISE_SHARE`] (1 %) of the sends since, and
    ///   [`NOISE_SLACK`] (6, so that a short run is not held to it): a rate a little over a
    ///   bucket's refill draws 429s spaced just under two in 100, again and again, and the
    ///   window alone would let the client sit there (`throttle-unknown-limit`, 20 seeds:
    ///   0.02-1.58 % of 429s, mean 0.80 %; with the share 0.02-0.77 %, mean 0.19 %, and the
    ///   noise scenarios unchanged).
    ///
    /// A limit really under the rate refuses more often than that (every request over it with
    /// no burst; more than 2 % of requests as soon as the rate is 2 % over a bucket's), and
    /// those 429s lower the rate as before; so do those of a limiter that banks a burst and
    /// admitted 5 % less than the rate since its last 429 (`over`: see [`Adaptive::held`]).
    fn is_jitter(&self, declared: f64, over: bool) -> bool {
        if !self.active || self.searching {
            return false;
        }
        // `throttled_at` does not hold this 429 yet: [the last, the one before].
        let rare = self.total_sent.saturating_sub(self.throttled_at[1]) >= NOISE_WINDOW;
        let configured = declared.is_finite()
            && self.rate >= declared * 0.9
            && (rare || self.sent_since as f64 >= self.cfg.cycle_requests);
        // Noise stays a small share of what was sent: a rate a little over a limit draws 429s
        // spaced just under the window's two, again and again, and is then the limit.
        let sent = self.total_sent.saturating_sub(self.decreased_at) as f64;
        let scarce = (self.noise + 1) as f64 <= NOISE_SHARE * sent + NOISE_SLACK;
        configured || (self.rate < self.hi && rare && scarce && !over)
    }

    /// What a limiter that banks a burst (it let [`BURST_SENDS`] or more requests through
    /// back to back before its first 429) admitted between the last 429 and this one, when
    /// that is at least [`HELD_SENDS`] requests over [`HELD_SPAN_NS`]: `n` requests over `Δ`
    /// seconds, as [`Held`] `((n − 1) / Δ, n / Δ, (n + 1) / Δ)`. The limiter was
    /// full at both 429s, so its rate is at least `low` (it had less than a request of room at
    /// the first), and at most `high` unless it emptied on the way (the client sent under its
    /// rate long enough to bank the whole burst again). Rates a burst carried past the limit
    /// for a probation, or for CUBIC's flat stretch, show here: the average is under them.
    fn held(&self, now: u64) -> Option<Held> {
        // `Yes` comes with a second 429, so only once active.
        if self.burst != Burst::Yes {
            return None;
        }
        // `total_sent` counts this request; it was refused.
        let n = self
            .total_sent
            .saturating_sub(self.throttled_at[0])
            .saturating_sub(1);
        let span = now.saturating_sub(self.last_429_ns);
        if n < HELD_SENDS || span < HELD_SPAN_NS {
            return None;
        }
        let span = span as f64 / NS;
        Some(Held {
            low: (n - 1) as f64 / span,
            mid: n as f64 / span,
            high: (n + 1) as f64 / span,
        })
    }

    /// The next send no sooner than one interval at the current rate from `now` (the request
    /// that met the 429 went about now).
    fn space_from(&mut self, now: u64) {
        let spacing = (NS / self.rate.max(self.cfg.min_rate)) as u64;
        self.next_ns = self.next_ns.max(now.saturating_add(spacing));
    }

    /// CUBIC from `from`, back near `to` (5 % under) after `K = cycle_requests / from`
    /// seconds.
    fn cruise_from(&mut self, from: f64, to: f64, now: u64) {
        let from = from.max(self.cfg.min_rate);
        self.searching = false;
        // CUBIC flattens around its target: 5 % under the rate that failed, so that the time
        // spent near the limit is spent under it.
        self.last_max_rate = (to * 0.95).max(from);
        self.hi = to;
        self.last_throttle_ns = now;
        self.k = self.cfg.cycle_requests.max(1.0) / from;
        self.c = (self.last_max_rate - from) / self.k.powi(3);
        self.rate = from;
        self.since_ns = now;
        self.sent_since = 0;
        self.noise = 0;
        self.decreased_at = self.total_sent;
    }

    /// A success.
    pub(crate) fn on_success(&mut self, now: u64) {
        if !self.active {
            return;
        }
        if self.burst == Burst::Maybe {
            self.burst = Burst::No;
        }
        if self.searching {
            let probation = (self.cfg.probation.max(0.0) * NS) as u64
                * (1 << self.ups.saturating_sub(1).min(1));
            if now.saturating_sub(self.since_ns) < probation || self.sent_since < PROBATION_SENDS {
                return;
            }
            self.lo = self.lo.max(self.rate);
            if self.hi / self.lo <= CONVERGED {
                // Found: cruise from here back towards the rate that failed.
                self.cruise_from(self.lo, self.hi, now);
            } else if self.hi.is_finite() {
                self.ups += 1;
                // Up a third of the way: a burst allowance the limiter banked while the rate
                // was low can carry a probation well above the limit, and a smaller step
                // costs fewer 429s when it does.
                self.try_rate((2.0 * self.lo + self.hi) / 3.0, now);
            } else {
                self.try_rate(self.lo * 2.0, now);
            }
            return;
        }
        let t = now.saturating_sub(self.last_throttle_ns) as f64 / NS;
        let cubic = self.c * (t - self.k).powi(3) + self.last_max_rate;
        self.cap(cubic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives `a` against a limiter that admits a request only `gap_ns` after the last one it
    /// admitted (nginx's `limit_req` with no burst), a request every millisecond the pacing
    /// allows, for `for_ns`. Returns (429s, the time the search ended, admitted).
    fn against_strict(a: &mut Adaptive, gap_ns: u64, for_ns: u64) -> (u32, Option<u64>, u32) {
        let (mut now, mut last_ok, mut refused, mut found, mut ok) =
            (0u64, None::<u64>, 0, None, 0);
        while now < for_ns {
            now = a.earliest(now);
            a.consume(now, 1);
            let admitted = last_ok.is_none_or(|l| now - l >= gap_ns);
            now += 1_000_000; // the answer, a millisecond later
            if admitted {
                last_ok = Some(now - 1_000_000);
                ok += 1;
                a.on_success(now);
            } else {
                refused += 1;
                a.on_throttle(now, now - 1_000_000, f64::INFINITY);
            }
            if a.is_active() && !a.searching && found.is_none() {
                found = Some(now);
            }
        }
        (refused, found, ok)
    }

    /// Drives `a` against a limiter that banks a burst (nginx's `limit_req` with `burst` and
    /// `nodelay`, a GCRA): a request is admitted when it arrives no earlier than `burst`
    /// intervals before the limiter's theoretical arrival time, which each admission pushes
    /// one interval on. Sends as [`against_strict`] does. Returns (429s, admitted).
    fn against_burst(a: &mut Adaptive, gap_ns: u64, burst: u64, for_ns: u64) -> (u32, u32) {
        let (mut now, mut tat, mut refused, mut ok) = (0u64, 0u64, 0, 0);
        while now < for_ns {
            now = a.earliest(now);
            a.consume(now, 1);
            let admitted = now + burst * gap_ns >= tat;
            if admitted {
                tat = tat.max(now) + gap_ns;
            }
            now += 1_000_000;
            if admitted {
                ok += 1;
                a.on_success(now);
            } else {
                refused += 1;
                a.on_throttle(now, now - 1_000_000, f64::INFINITY);
            }
        }
        (refused, ok)
    }

    /// 20/s with a burst of 10, the limiter full after the first 11 requests: probations
    /// passed on the burst it banks again whenever the rate is under its own. Between two
    /// 429s it was full at both, so what it admitted in between is its rate: the search ends
    /// there, and cruising does not sit over it on what is left of the burst.
    #[test]
    fn a_burst_that_hid_the_limit_is_measured_out() {
        let mut a = Adaptive::new(AdaptiveConfig::default());
        let (refused, ok) = against_burst(&mut a, 50_000_000, 10, 10_000_000_000);
        assert_eq!(a.burst, Burst::Yes);
        assert!(refused <= 7, "{refused} 429s");
        assert!(ok >= 190, "{ok} admitted");
        // The rate after the last 429 is under the limit: no cruising on a burst.
        let rate = a.rate().unwrap();
        assert!((17.0..=20.4).contains(&rate), "{rate}");
        // A limiter that admits back to back, then a 429 at random (the next request goes
        // through): not a burst, and no measuring.
        let mut b = Adaptive::new(AdaptiveConfig::default());
        for k in 0..5 {
            b.consume(k * 1_000_000, 1);
        }
        b.on_throttle(5_000_000, 4_000_000, f64::INFINITY);
        b.consume(20_000_000, 1);
        b.on_success(21_000_000);
        assert_eq!(b.burst, Burst::No);
    }

    #[test]
    fn a_strict_limit_is_found_in_seconds() {
        let mut a = Adaptive::new(AdaptiveConfig::default());
        let (refused, found, ok) = against_strict(&mut a, 50_000_000, 10_000_000_000);
        let found = found.expect("the search ends");
        // From a client sending a request a millisecond (50 × the limit): six halvings down, then
        // up-steps whose probations double (a banked burst must be spent first); 6.0 s here.
        assert!(found < 6_500_000_000, "found after {found} ns");
        assert!(refused <= 12, "{refused} 429s");
        // Ten seconds of a 20/s limit: at least 85 % of it used.
        assert!(ok >= 170, "{ok} admitted");
        assert!((a.lo - 20.0).abs() < 1.0, "lower bound {}", a.lo);
    }

    #[test]
    fn cruising_drops_to_what_worked_not_by_beta() {
        let mut a = Adaptive::new(AdaptiveConfig::default());
        against_strict(&mut a, 50_000_000, 10_000_000_000);
        assert!(!a.searching);
        let lo = a.lo;
        a.rate = lo * 1.1;
        let now = 20_000_000_000;
        a.on_throttle(now, now, f64::INFINITY);
        assert_eq!(
            a.rate,
            lo,
            "back to the rate that held, not {}",
            lo * 1.1 * 0.7
        );
        assert!(!a.searching);
        // 429s at the rate that held: the first after this one is noise (the second in 100
        // sends); the next says the limit fell: search again below it.
        a.on_throttle(now + 1_000_000_000, now + 1_000_000_000, f64::INFINITY);
        assert!(!a.searching && a.rate == lo);
        a.on_throttle(now + 1_000_000_000, now + 1_000_000_000, f64::INFINITY);
        assert!(a.searching);
        assert!(a.rate < lo && a.hi == lo, "{} {}", a.rate, a.hi);
    }

    #[test]
    fn the_first_429_is_measured_from_the_last_sends() {
        let mut a = Adaptive::new(AdaptiveConfig::default());
        // Four sends 10 ms apart: 100/s. The search starts at half of it.
        for i in 0..4 {
            a.consume(i * 10_000_000, 1);
        }
        a.on_throttle(31_000_000, 30_000_000, f64::INFINITY);
        assert!((a.hi - 100.0).abs() < 1e-6, "{}", a.hi);
        assert!((a.rate().unwrap() - 50.0).abs() < 1e-6);
        assert!(
            a.earliest(31_000_000) >= 31_000_000 + 20_000_000,
            "the retry is spaced"
        );
    }

    #[test]
    fn inactive_until_throttled_and_floored() {
        let mut a = Adaptive::new(AdaptiveConfig::default());
        assert_eq!(a.earliest(5), 5);
        a.on_throttle(0, 0, f64::INFINITY);
        for i in 0..20 {
            a.on_throttle(i, i, f64::INFINITY);
        }
        assert!(a.rate().unwrap() >= 0.5);
    }

    /// A configured 20/s, paced at 19.6/s: a 429 at that rate (two arrivals a few ms closer
    /// than they left: a late read) costs only its retry, even three requests into a run;
    /// another a cycle later, or at most the second in 100 sends, is the same jitter; a third
    /// in 100 sends means the limit is lower, and the rate drops under it.
    #[test]
    fn a_lone_429_at_the_configured_rate_costs_only_its_retry() {
        for clean in [40, 3] {
            let mut a = Adaptive::new(AdaptiveConfig::default());
            let gap = (NS / 19.6) as u64;
            let mut now = 0;
            for _ in 0..clean {
                a.consume(now, 1);
                now += gap;
            }
            a.on_throttle(now, now - gap, 19.6);
            assert!(a.is_active() && !a.searching);
            let rate = a.rate().unwrap();
            assert_eq!(rate, 19.6, "after {clean} sends");
            // Cruising holds it (CUBIC flat at the rate that held).
            for _ in 0..200 {
                now += gap;
                a.consume(now, 1);
                a.on_success(now);
            }
            assert_eq!(a.rate().unwrap(), rate);
            // Another lone 429, 200 requests on: the same jitter; the rate stays, the next
            // send waits an interval. So does one ten requests later (the second in 100).
            for wait in [0, 10] {
                for _ in 0..wait {
                    now += gap;
                    a.consume(now, 1);
                    a.on_success(now);
                }
                now += gap;
                a.on_throttle(now, now, 19.6);
                assert!(!a.searching);
                assert_eq!(a.rate().unwrap(), rate);
                assert!(a.earliest(now) >= now + (NS / rate) as u64 - 1);
            }
            // The limit really is lower: a third 429 in 100 sends lowers the rate.
            for _ in 0..10 {
                now += gap;
                a.consume(now, 1);
                a.on_success(now);
            }
            now += gap;
            a.on_throttle(now, now, 19.6);
            assert!(a.rate().unwrap() < rate * 0.95, "{}", a.rate().unwrap());
        }
        // Sends measured well under the configured rate: the rate that failed is what was
        // sent, not what was configured.
        let mut a = Adaptive::new(AdaptiveConfig::default());
        let s = NS as u64;
        for k in 0..10 {
            a.consume(k * s / 10, 1);
        }
        a.on_throttle(s, 9 * s / 10, 19.6);
        assert!(a.rate().unwrap() < 11.0, "{}", a.rate().unwrap());
    }

    /// Without a configured rate, cruising under the rate that last failed: 429s at most two
    /// in 100 sends, and at most 1 % of the sends since the last decrease (and six), are
    /// noise and leave the rate; a third within 100 lowers it, and so do 429s steadily more
    /// than 1 % (a rate a little over a limit: `throttle-unknown-limit` sat 2.4 % over its
    /// limit with 1.6 % 429s, just under two in 100 each time), and a 429 at or over the rate
    /// that failed.
    #[test]
    fn rare_429s_under_the_rate_that_failed_are_noise() {
        let cruising = || {
            let mut a = Adaptive::new(AdaptiveConfig::default());
            against_strict(&mut a, 50_000_000, 10_000_000_000);
            assert!(!a.searching);
            assert!(a.rate().unwrap() < a.hi, "{:?} {}", a.rate(), a.hi);
            a
        };
        let send = |a: &mut Adaptive, n: u32, now: &mut u64| {
            for _ in 0..n {
                *now += 50_000_000;
                a.consume(*now, 1);
                a.on_success(*now);
            }
        };
        // 429s one every 60 sends (1.7 %): the first few are noise, then the rate goes down.
        let mut a = cruising();
        let cruise = a.rate().unwrap();
        let mut now = 20_000_000_000;
        let mut absorbed = 0;
        while a.rate().unwrap() == cruise {
            send(&mut a, 60, &mut now);
            a.on_throttle(now, now, f64::INFINITY);
            absorbed += 1;
            assert!(absorbed <= 20, "1.7 % of 429s never lowered the rate");
        }
        assert!(absorbed > 6, "{absorbed}");
        // Forty 429s, one every 150 sends (0.7 %): none moves the rate.
        let mut a = cruising();
        let mut now = 20_000_000_000;
        for _ in 0..40 {
            send(&mut a, 150, &mut now);
            a.on_throttle(now, now, f64::INFINITY);
            assert_eq!(a.rate().unwrap(), cruise, "after a rare 429");
        }
        // A second within 100 sends is still noise; a third lowers the rate.
        send(&mut a, 10, &mut now);
        a.on_throttle(now, now, f64::INFINITY);
        assert_eq!(a.rate().unwrap(), cruise);
        send(&mut a, 10, &mut now);
        a.on_throttle(now, now, f64::INFINITY);
        assert!(a.rate().unwrap() < cruise, "{}", a.rate().unwrap());
        // At the rate that failed, even a lone 429 lowers it.
        let mut b = Adaptive::new(AdaptiveConfig::default());
        against_strict(&mut b, 50_000_000, 10_000_000_000);
        let mut now = 20_000_000_000;
        send(&mut b, 300, &mut now);
        b.rate = b.hi;
        b.on_throttle(now, now, f64::INFINITY);
        assert!(b.rate().unwrap() < b.hi * 0.99, "{}", b.rate().unwrap());
    }

    /// With no clean run behind it (the first requests), the first 429 at the configured rate
    /// searches from 90 % of it, as before.
    #[test]
    fn an_early_429_at_the_configured_rate_searches() {
        let mut a = Adaptive::new(AdaptiveConfig::default());
        a.consume(0, 1);
        a.consume(50_000_000, 1);
        a.on_throttle(100_000_000, 50_000_000, 20.0);
        assert!(a.searching);
    }
}
