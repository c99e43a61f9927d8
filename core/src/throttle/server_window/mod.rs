//! A window the server told us about: `remaining` units until a reset. Paced evenly.
//!
//! With `remaining` R (less the configured reserve) and the reset T away, the next request is
//! due `T / R` after the previous one: the budget is spread over the window, not fired in a
//! burst that then stalls. Requests in flight are counted against the estimate: a response's
//! `remaining` is corrected by the requests sent after it left.

use super::RESET_MARGIN_NS;

/// What a server reported about one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Report {
    pub(crate) remaining: u64,
    pub(crate) limit: Option<u64>,
    /// The reset, ns since the epoch, if known.
    pub(crate) reset_at: Option<u64>,
    /// The window's length in ns, if known.
    pub(crate) window: Option<u64>,
    /// When the report arrived, ns since the epoch.
    pub(crate) at: u64,
    /// When the request it answers was sent (its arrival, when unknown).
    pub(crate) sent: u64,
    /// The reset came in whole seconds (an epoch second, or whole seconds from the response):
    /// the server may have rounded it up by as much as a second.
    pub(crate) whole: bool,
}

/// What whole-second resets taught about a window whose length no header reports.
///
/// A fixed window that the client's first request opens (express-rate-limit's memory store, a
/// Redis `INCR` + `EXPIRE`) ends its length after that request arrived; the server reports that
/// end rounded up to a whole second. Waiting for the rounded value costs up to a second a
/// window: half of a one-second window. Each window opened by a request sent at `s` and
/// answered at `a` whose reset reads `R` bounds the length to `(R − 1 s − a, R − s]`; the
/// intersection over windows, when it holds exactly one whole number of seconds, is taken as
/// the length (configured windows are whole seconds), and the window is then taken to end that
/// long after its opening request was sent (10 ms later, the reset margin).
///
/// A window aligned to the clock (opened before the client's first request) breaks the
/// premise, and no answer short of a refusal tells the two apart: a client that waits for each
/// reported reset sees the same values from an aligned window of L seconds reported exactly
/// as from a client-opened one of L − 1 rounded up. A request sent on a wrong guess gets the
/// old window's answer, which turns the guess off for good: one refused request, once. The
/// guess is therefore made only where rounding costs most, lengths of at most
/// [`LengthGuess::MAX`] (two seconds, where waiting for the rounded reset wastes a third to
/// a half of the limit); a longer window loses at most a second of each to the rounding
/// (under 20 % at 5 s, under 2 % at a minute) and risks no refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct LengthGuess {
    /// Bounds on the length so far, ns: above `lo`, at most `hi` (`hi == 0`: none yet).
    lo: u64,
    hi: u64,
    /// A guess proved wrong (or the bounds disagreed): never guess again.
    off: bool,
    /// The guessed end and the reported reset of the window whose end the guess brought
    /// forward: the answer to a request sent between them confirms or refutes the guess.
    pulled: Option<(u64, u64)>,
}

impl LengthGuess {
    const S: u64 = 1_000_000_000;
    /// The longest length guessed.
    const MAX: u64 = 2 * Self::S;

    /// Narrows the bounds with a window opened by a request sent at `sent`, answered at `at`,
    /// reported to reset at `reset` (less the margin).
    fn observe(&mut self, sent: u64, at: u64, reset: u64) {
        let lo = reset.saturating_sub(Self::S).saturating_sub(at);
        let hi = reset.saturating_sub(sent);
        self.lo = self.lo.max(lo);
        self.hi = if self.hi == 0 { hi } else { self.hi.min(hi) };
        if self.lo >= self.hi {
            self.off = true;
        }
    }

    /// The length, when the bounds hold exactly one whole second count (at least one).
    fn length(&self) -> Option<u64> {
        if self.off || self.hi == 0 {
            return None;
        }
        let first = (self.lo / Self::S + 1).max(1) * Self::S;
        (first <= self.hi && first + Self::S > self.hi && first <= Self::MAX).then_some(first)
    }
}

/// Windows ending sooner than this are not spread (see [`ServerWindow::earliest`]).
const MIN_SPREAD_NS: u64 = 5_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServerWindow {
    /// Estimated units left in the current window, in flight deducted.
    remaining: u64,
    limit: Option<u64>,
    reset_at: Option<u64>,
    window: Option<u64>,
    /// The longest time to a reset any report gave, ns: the window's length when no header
    /// says it (a fixed window reports it at its start, a sliding log at every response).
    longest_reset: u64,
    /// When the last unit went, ns.
    last_send: Option<u64>,
    /// Units sent since the window was created (a sequence to correct reports by).
    sent: u64,
    /// Whether to spread the remaining units until the reset (else: use them as fast as other
    /// limits allow, and wait for the reset only once they are gone).
    spread: bool,
    /// A long window (a quota): exhausting it is not a wait but a refusal until the reset.
    quota: bool,
    /// When the current window opened, at the latest: the send time of the request whose
    /// answer was the window's first unit (`remaining = limit − 1`).
    opened: Option<u64>,
    /// The last reset the server reported (the effective one can be earlier, see
    /// [`LengthGuess`]).
    reported: Option<u64>,
    guess: LengthGuess,
}

impl ServerWindow {
    pub(crate) fn new(r: Report, sent_after: u64) -> Self {
        let mut w = ServerWindow {
            remaining: 0,
            limit: None,
            reset_at: None,
            window: None,
            longest_reset: 0,
            last_send: None,
            sent: 0,
            spread: true,
            quota: false,
            opened: None,
            reported: None,
            guess: LengthGuess::default(),
        };
        w.update(r, sent_after);
        w
    }

    /// The units sent through this window so far (callers remember it at send time to compute
    /// `sent_after` for a later report).
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    /// A fresh report. `sent_after` is how many units left after the request this report
    /// answers (they are not in the server's count yet).
    pub(crate) fn update(&mut self, r: Report, sent_after: u64) {
        let estimate = r.remaining.saturating_sub(sent_after);
        let fresh_window = match (self.reported, r.reset_at) {
            (Some(old), Some(new)) => new > old.saturating_add(r.window.unwrap_or(0) / 2),
            _ => true,
        };
        // Within one window the count only goes down: a report older than our estimate (it left
        // before others were counted) cannot raise it. A new window replaces it, and so does
        // the answer to the latest request sent (nothing left after it): the server's count
        // as it stands, which a sliding log or a token bucket raises as units come back.
        if fresh_window || sent_after == 0 || estimate < self.remaining || self.reset_at.is_none() {
            self.remaining = estimate;
        }
        self.limit = r.limit.or(self.limit);
        self.window = r.window.or(self.window);
        if let Some((end, reported)) = self.guess.pulled
            && r.sent >= end
        {
            // A request sent on the guess: an answer from the old window (its reset again, or
            // an earlier one) proves the window did not end when the guess said.
            if r.sent < reported && r.reset_at.is_some_and(|at| at <= reported) {
                self.guess.off = true;
            }
            self.guess.pulled = None;
        }
        if let Some(at) = r.reset_at {
            self.reset_at = Some(at);
            self.reported = Some(at);
            self.longest_reset = self.longest_reset.max(at.saturating_sub(r.at));
        }
        self.bound_by_opening(&r, sent_after);
    }

    /// Resets given in whole seconds are rounded up (express-rate-limit's `reset=1` a
    /// millisecond before its window ends; an epoch second rounded up): taken as they come
    /// they cost up to a second a window. The window opened no later than the request that
    /// got its first unit was sent, so it ends no later than that plus its length: the length
    /// the server reports (IETF `w=`), or else the one whole-second resets taught (see
    /// [`LengthGuess`]). The reset is the earlier of the two.
    fn bound_by_opening(&mut self, r: &Report, sent_after: u64) {
        const S: u64 = LengthGuess::S;
        let Some(limit) = self.limit else { return };
        if sent_after == 0 && r.remaining.saturating_add(1) == limit {
            let sent = r.sent.min(r.at);
            self.opened = Some(sent);
            if let (None, Some(reset), true) = (self.window, r.reset_at, r.whole) {
                self.guess
                    .observe(sent, r.at, reset.saturating_sub(RESET_MARGIN_NS));
            }
        }
        let length = match self.window {
            Some(w) => Some(w),
            None if r.whole => self.guess.length(),
            None => None,
        };
        let (Some(opened), Some(length), Some(reset)) = (self.opened, length, self.reported) else {
            return;
        };
        // Only within the rounding: an end already past, or one far before the reported reset,
        // is another window's.
        let end = opened
            .saturating_add(length)
            .saturating_add(RESET_MARGIN_NS);
        if end >= r.at && end < reset && reset <= end.saturating_add(S + S / 2) {
            self.reset_at = Some(end);
            if self.window.is_none() {
                self.guess.pulled = Some((end, reset));
            }
        }
    }

    /// Rolls over to a new window if the reset has passed.
    fn roll(&mut self, now: u64) {
        if let Some(reset) = self.reset_at
            && now >= reset
        {
            match (self.limit, self.window) {
                (Some(limit), Some(window)) if window > 0 => {
                    let windows = (now - reset) / window + 1;
                    self.reset_at = reset.checked_add(windows.saturating_mul(window));
                    self.remaining = limit;
                    self.opened = None;
                }
                (Some(limit), _) if self.longest_reset > 0 => {
                    // The length is not reported: the longest time to a reset any response
                    // gave stands in for it (a fixed window reports its whole length at its
                    // start), so that the new window has a reset too, and requests that
                    // exhaust it wait for that instead of all going.
                    // Measured from arrival it falls short of the length by the time the
                    // response took: rounded up to a whole second, it errs late, never early.
                    let length = self.longest_reset.div_ceil(1_000_000_000) * 1_000_000_000;
                    let windows = (now - reset) / length + 1;
                    self.reset_at = reset.checked_add(windows.saturating_mul(length));
                    self.remaining = limit;
                    self.opened = None;
                }
                (Some(limit), _) => {
                    // The length is unknown: the next response tells. Allow the full limit.
                    self.reset_at = None;
                    self.remaining = limit;
                    self.opened = None;
                }
                _ => {
                    self.reset_at = None;
                    self.remaining = u64::MAX;
                }
            }
        }
    }

    /// The earliest time `cost` units may go, keeping `reserve` units unused. A window used up
    /// whose reset nothing says admits one request a second (its answer tells the reset).
    pub(crate) fn earliest(&mut self, now: u64, cost: u64, reserve: u64) -> Option<u64> {
        self.roll(now);
        let usable = self.remaining.saturating_sub(reserve);
        if usable < cost {
            // Used up, the reset unknown: a second after the last send, and again after
            // that, until a response says when (never all at once).
            return Some(self.reset_at.map_or_else(
                || {
                    self.last_send
                        .map_or(now, |l| l.saturating_add(1_000_000_000))
                        .max(now)
                },
                |r| r.max(now),
            ));
        }
        if !self.spread {
            return Some(now);
        }
        let (Some(reset), Some(last)) = (self.reset_at, self.last_send) else {
            return Some(now);
        };
        // Resets come in whole seconds (an epoch second read against a `Date` rounded down can
        // be two seconds late): spreading a window of a few seconds by them would waste most
        // of it. Windows shorter than `MIN_SPREAD_NS` (their length, or else the time from the
        // last send to the reset) are used as fast as other limits allow; remaining, tracked
        // with requests in flight deducted, still stops at zero until the reset.
        if reset <= now || self.window.unwrap_or(reset.saturating_sub(last)) < MIN_SPREAD_NS {
            return Some(now);
        }
        // Spread: the time from the last send to the reset is cut into `usable + 1` equal slots,
        // the last send at the start of the first: over a fresh window of L units that is one
        // every W / L, the last one a slot before the reset.
        let mut spacing = reset.saturating_sub(last) / (usable + 1) * cost;
        // Never much slower than the window's own rate: a sliding log or a token bucket
        // reports its reset a whole window away at every response, and spreading what remains
        // over that settles at half its rate. The floor is 95 % of the limit over the window
        // (its length as reported, or else the longest reset seen), so that a sliding log
        // keeps a few units free instead of running dry and waiting a whole window. A fixed
        // window paced so spends what remains at that rate, then waits for its reset: never
        // past `remaining`. (Not for quotas.)
        if !self.quota
            && let Some(limit) = self.limit.filter(|&l| l > 0)
            && let Some(window) = self
                .window
                .or((self.longest_reset > 0).then_some(self.longest_reset))
        {
            let floor = u64::try_from(
                u128::from(window) * 20 * u128::from(cost) / (u128::from(limit) * 19),
            )
            .unwrap_or(u64::MAX);
            spacing = spacing.min(floor);
        }
        Some(last.saturating_add(spacing).max(now).min(reset))
    }

    /// Marks the window as a quota (or not), and whether its units are spread to the reset.
    pub(crate) fn set_kind(&mut self, quota: bool, spread: bool) {
        self.quota = quota;
        self.spread = spread;
    }

    /// A quota that cannot admit `cost` more units (keeping `reserve`) before its reset.
    pub(crate) fn quota_exhausted(&mut self, now: u64, cost: u64, reserve: u64) -> Option<u64> {
        self.roll(now);
        (self.quota && self.remaining.saturating_sub(reserve) < cost)
            .then_some(self.reset_at.unwrap_or(u64::MAX))
    }

    /// `cost` units went at `now`.
    pub(crate) fn consume(&mut self, now: u64, cost: u64) {
        self.roll(now);
        self.remaining = self.remaining.saturating_sub(cost);
        self.last_send = Some(now);
        self.sent = self.sent.saturating_add(cost);
    }

    /// `cost` units were cancelled before they went.
    pub(crate) fn refund(&mut self, cost: u64) {
        self.remaining = self.remaining.saturating_add(cost);
        self.sent = self.sent.saturating_sub(cost);
    }

    pub(crate) fn remaining(&self) -> u64 {
        self.remaining
    }

    pub(crate) fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// The last reset the server reported.
    pub(crate) fn reported(&self) -> Option<u64> {
        self.reported
    }

    #[cfg(test)]
    pub(crate) fn reset_at(&self) -> Option<u64> {
        self.reset_at
    }
}

#[cfg(test)]
mod tests;
