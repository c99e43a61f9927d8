//! The admission path: whether a request may go now ([`Throttle::send`], [`Throttle::admit`]),
//! charging it to every bucket it draws from ([`Throttle::commit`]), and giving its permit and
//! units back ([`Throttle::release`], [`Throttle::cancel`]).

use super::gcra::{Arrival, Gcra};
use super::quota::Admit;
use super::table::Learned;
use super::{Admission, MAX_TRACKED, NS_PER_S, Note, Priority, Throttle, Ticket, WindowSeq};

/// The windows a request draws from: its learned route's once heard from, the ones that may
/// be shared until then, its configured route's when it has no learned one.
fn drawn_windows<'a>(
    learned: Option<&'a Learned>,
    inherited: &'a [usize],
    route: &'a [usize],
) -> &'a [usize] {
    match learned {
        Some(l) if l.heard => &l.windows,
        Some(_) => inherited,
        None => route,
    }
}

impl Throttle {
    /// The slack background requests leave in a GCRA with this rate, ns.
    #[inline]
    fn slack(&self, g: &Gcra, p: Priority) -> u64 {
        match p {
            Priority::Foreground => 0,
            Priority::Background => {
                let share = self.cfg.background_share;
                let t = NS_PER_S / g.rate().max(1e-9);
                let burst = g.capacity() as f64;
                (t * burst * share / (1.0 - share).max(0.05)) as u64
            }
        }
    }

    /// Whether a request may go now; if it may, it is charged ([`Throttle::commit`]) and
    /// holds its permit. The common case takes one pass ([`Throttle::send_simple`]).
    #[inline]
    pub(crate) fn send(
        &mut self,
        t: &mut Ticket,
        now: u64,
        notes: &mut impl FnMut(Note),
    ) -> Admission {
        if t.key != 0 {
            self.resolve(t, notes);
        }
        if self.send_simple(t, now) {
            return Admission::Now;
        }
        let admission = self.admit(t, now);
        if admission == Admission::Now {
            self.commit(t, now, notes);
        }
        admission
    }

    /// The common case in one pass: one unit of foreground work, with no consumer share, on a
    /// route with no server window, pause or adaptive limit, a permit free, every gate open
    /// and every quota quiet ([`Quota::quiet`](super::quota::Quota::quiet)). Then it is sent:
    /// exactly what [`Throttle::admit`] followed by [`Throttle::commit`] would do, with each
    /// bucket read and written once. Otherwise nothing changes and `false` sends the caller the
    /// general way.
    #[inline]
    fn send_simple(&mut self, t: &mut Ticket, now: u64) -> bool {
        let learned_clear = t.key == 0
            || self
                .live(t)
                .is_none_or(|i| self.learned[i].heard && self.learned[i].windows.is_empty());
        let route = &mut self.routes[usize::from(t.route)];
        let simple = t.cost == 1
            && t.priority == Priority::Foreground
            && t.share.is_none()
            && route.heard
            && route.windows.is_empty()
            && learned_clear
            && !route.adaptive.is_active()
            && route
                .paused_until
                .max(self.global_pause)
                .max(route.gate)
                .max(self.global_gate)
                <= now
            && (t.permit || self.cfg.concurrency.is_none_or(|max| self.in_flight < max))
            && self.quotas.iter().all(|q| q.quiet(now));
        if !simple {
            return false;
        }
        let at = Arrival::new(now);
        let mut gate = 0;
        for g in &mut self.global {
            gate = gate.max(g.take_one(at));
        }
        self.global_gate = gate;
        let mut gate = 0;
        for g in &mut route.limits {
            gate = gate.max(g.take_one(at));
        }
        route.gate = gate;
        // Inactive: only the send rate is measured.
        route.adaptive.measure(now, 1);
        t.sent_at = now;
        for q in &mut self.quotas {
            q.take_one(now);
        }
        self.take_permit(t);
        true
    }

    /// The request is in flight, holding a permit under a concurrency limit.
    #[inline]
    fn take_permit(&mut self, t: &mut Ticket) {
        if !t.permit && self.cfg.concurrency.is_some() {
            self.in_flight += 1;
            t.permit = true;
        }
        t.in_flight = true;
    }

    /// Whether, and when, a request may go. Does not change state.
    pub(crate) fn admit(&mut self, t: &Ticket, now: u64) -> Admission {
        let mut at = now;
        let mut server = false;
        let route = &self.routes[usize::from(t.route)];
        let pause = route.paused_until.max(self.global_pause);
        if pause > at {
            at = pause;
            server = true;
        }
        if let Some(max) = self.cfg.concurrency
            && !t.permit
            && self.in_flight >= max
        {
            return Admission::NoPermit;
        }
        if !route.heard && route.unheard_in_flight > 0 && !t.in_flight {
            return Admission::NoPermit;
        }
        let learned = self.live(t).map(|i| &self.learned[i]);
        if learned.is_some_and(|l| !l.heard && l.unheard_in_flight > 0) && !t.in_flight {
            return Admission::NoPermit;
        }
        let windows = drawn_windows(learned, &self.inherited, &route.windows);
        let share: &[Gcra] = match t.share {
            Some(i) => self.shares.get(usize::from(i)).map_or(&[], Vec::as_slice),
            None => &[],
        };
        // The common case, a unit of foreground work: the gates say when every global and route
        // bucket admits it, so one comparison replaces the loop while they allow it now.
        let gated = t.cost == 1 && t.priority == Priority::Foreground;
        let sets: [&[Gcra]; 3] = if gated && self.global_gate.max(route.gate) <= now {
            [&[], &[], share]
        } else {
            [self.global.as_slice(), route.limits.as_slice(), share]
        };
        for set in sets {
            for g in set {
                match g.earliest_with_slack(now, t.cost, self.slack(g, t.priority)) {
                    Some(x) => at = at.max(x),
                    None => {
                        return Admission::CostTooHigh {
                            cost: t.cost,
                            capacity: g.capacity(),
                        };
                    }
                }
            }
        }
        if self.cfg.follow_headers {
            for &w in windows {
                let win = &mut self.windows[w].win;
                let reserve = match t.priority {
                    Priority::Foreground => self.cfg.reserve,
                    Priority::Background => {
                        let limit = win.limit().unwrap_or(0) as f64;
                        self.cfg
                            .reserve
                            .max((limit * self.cfg.background_share) as u64)
                    }
                };
                if let Some(reset_at) = win.quota_exhausted(now, t.cost, reserve) {
                    return Admission::QuotaExhausted { reset_at };
                }
                if let Some(x) = win.earliest(now, t.cost, reserve)
                    && x > at
                {
                    at = x;
                    server = true;
                }
            }
        }
        let route = &self.routes[usize::from(t.route)];
        let adaptive_at = route.adaptive.earliest(now);
        if adaptive_at > at {
            at = adaptive_at;
            server = false;
        }
        for q in &mut self.quotas {
            match q.admit(now, t.cost) {
                Admit::At(x) => {
                    if x > at {
                        at = x;
                        server = false;
                    }
                }
                Admit::Exhausted { reset_at } => return Admission::QuotaExhausted { reset_at },
            }
        }
        if at <= now {
            Admission::Now
        } else {
            Admission::At { at, server }
        }
    }

    /// The request goes now: take its units from every bucket, and its permit.
    pub(crate) fn commit(&mut self, t: &mut Ticket, now: u64, notes: &mut impl FnMut(Note)) {
        let learned = self.live(t);
        if let Some(i) = learned
            && !self.learned[i].heard
            && !t.learned_first
        {
            self.learned[i].unheard_in_flight += 1;
            t.learned_first = true;
        }
        let windows = drawn_windows(
            learned.map(|i| &self.learned[i]),
            &self.inherited,
            &self.routes[usize::from(t.route)].windows,
        );
        if !windows.is_empty() {
            t.window_seq = [None; MAX_TRACKED];
        }
        for (i, &w) in windows.iter().enumerate() {
            let named = &mut self.windows[w];
            named.win.consume(now, t.cost);
            if let Some(slot) = t.window_seq.get_mut(i) {
                *slot = Some(WindowSeq {
                    slot: w,
                    generation: named.generation,
                    seq: named.win.sent(),
                });
            }
        }
        let route = &mut self.routes[usize::from(t.route)];
        self.global_gate = 0;
        for g in &mut self.global {
            g.consume(now, t.cost);
            self.global_gate = self.global_gate.max(g.next_free());
        }
        route.gate = 0;
        for g in &mut route.limits {
            g.consume(now, t.cost);
            route.gate = route.gate.max(g.next_free());
        }
        if let Some(i) = t.share
            && let Some(set) = self.shares.get_mut(usize::from(i))
        {
            set.iter_mut().for_each(|g| g.consume(now, t.cost));
        }
        route.adaptive.consume(now, t.cost);
        t.sent_at = now;
        if !route.heard && !t.first {
            route.unheard_in_flight += 1;
            t.first = true;
        }
        for (index, q) in self.quotas.iter_mut().enumerate() {
            if let Some(fraction) = q.consume(now, t.cost) {
                notes(Note::QuotaThreshold { index, fraction });
            }
        }
        self.take_permit(t);
    }

    /// The request is over (answered, failed or abandoned): its permit goes back.
    pub(crate) fn release(&mut self, t: &mut Ticket) {
        if t.permit {
            self.in_flight = self.in_flight.saturating_sub(1);
            t.permit = false;
        }
        if t.first {
            let route = &mut self.routes[usize::from(t.route)];
            route.unheard_in_flight = route.unheard_in_flight.saturating_sub(1);
            t.first = false;
        }
        if t.learned_first {
            if let Some(i) = self.live(t) {
                let l = &mut self.learned[i];
                l.unheard_in_flight = l.unheard_in_flight.saturating_sub(1);
            }
            t.learned_first = false;
        }
        t.in_flight = false;
    }

    /// A request that was committed but never sent: give its units back where that is exact.
    pub(crate) fn cancel(&mut self, t: &mut Ticket, now: u64) {
        if t.in_flight {
            let r = usize::from(t.route);
            for g in self
                .global
                .iter_mut()
                .chain(self.routes[r].limits.iter_mut())
            {
                g.refund(now, t.cost);
            }
            self.regate(r);
            for ws in t.window_seq.iter_mut().filter_map(Option::take) {
                if let Some(named) = self.windows.get_mut(ws.slot)
                    && named.generation == ws.generation
                {
                    named.win.refund(t.cost);
                }
            }
            for q in &mut self.quotas {
                q.refund(t.cost);
            }
        }
        self.release(t);
    }
}
