//! The table of what servers reported: their windows (by name, or unnamed and owned by the
//! route that reported them) and the routes learned from requests no rule matched. Both are
//! bounded (see "Bounded state" and "Learned routes" in [`super`]).

use super::server_window::{Report, ServerWindow};
use super::{
    MAX_LEARNED_ROUTES, MAX_QUOTA_RESET, MAX_WINDOWS, Note, QUOTA_HORIZON_NS, Throttle, Ticket,
    dur_ns,
};

/// A window a server reported, under the name it gave (bucket, resource, policy) or none.
#[derive(Debug, Clone)]
pub(super) struct NamedWindow {
    pub(super) name: Option<String>,
    pub(super) win: ServerWindow,
    /// When a response last reported it, ns (the least recently reported goes first when the
    /// table is full).
    pub(super) heard: u64,
    /// Bumped when the slot is given to another window: a request's record of an older one no
    /// longer applies.
    pub(super) generation: u32,
    /// For an unnamed window reported on a learned route: that route's slot (unnamed windows
    /// of different routes are different windows unless their counters move together).
    pub(super) owner: Option<usize>,
    /// How many learned routes reported it (at most 2: "more than one").
    pub(super) routes_seen: u8,
}

/// A route learned from requests no rule matched: one method and path.
#[derive(Debug, Clone)]
pub(super) struct Learned {
    /// A hash of the method and path (see [`route_key`]).
    pub(super) key: u64,
    /// The windows its responses reported.
    pub(super) windows: Vec<usize>,
    /// Whether a response has come: until one does, it draws from the windows that may be
    /// shared (`Throttle::inherited`), one request at a time.
    pub(super) heard: bool,
    pub(super) unheard_in_flight: u32,
    /// A counter of uses (the least recently used slot goes first when the table is full).
    pub(super) used: u64,
    pub(super) generation: u32,
    /// Its answered requests' last round trips (see [`super::late`]).
    pub(super) round_trips: super::late::RoundTrips,
}

/// The key of a learned route: a hash of the method and the path, its query aside (no string
/// is kept, so deciding allocates nothing). Empty paths learn nothing.
pub(crate) fn route_key(method: &str, path: &str) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let path = path.split('?').next().unwrap_or("");
    if path.is_empty() {
        return 0;
    }
    let mut h = std::hash::DefaultHasher::new();
    method.hash(&mut h);
    path.hash(&mut h);
    h.finish().max(1)
}

/// A slot for `fresh` in a table of at most `cap` entries: appended while there is room, else
/// the one `age` says is oldest, whose occupant is returned.
pub(super) fn take_slot<T>(
    table: &mut Vec<T>,
    cap: usize,
    fresh: T,
    age: impl Fn(&T) -> u64,
) -> (usize, Option<T>) {
    if table.len() < cap {
        table.push(fresh);
        return (table.len() - 1, None);
    }
    let i = table
        .iter()
        .enumerate()
        .min_by_key(|(_, x)| age(x))
        .map_or(0, |(i, _)| i);
    (i, Some(std::mem::replace(&mut table[i], fresh)))
}

impl Throttle {
    /// Updates (or starts tracking) the window `name` from a report answering `t`, and notes
    /// that route `r` draws from it.
    pub(super) fn learn(
        &mut self,
        (r, t): (usize, &Ticket),
        now: u64,
        name: Option<&str>,
        mut report: Report,
        notes: &mut impl FnMut(Note),
    ) {
        let long = match (report.window, report.reset_at) {
            (Some(window), _) => window > QUOTA_HORIZON_NS,
            (None, Some(reset)) => reset.saturating_sub(now) > QUOTA_HORIZON_NS,
            (None, None) => false,
        };
        // Hostile resets are held to what is believable: a rate window to the longest pause,
        // a quota to a month.
        let cap = if long {
            dur_ns(MAX_QUOTA_RESET)
        } else {
            self.max_pause_ns.max(QUOTA_HORIZON_NS)
        };
        report.reset_at = report.reset_at.map(|at| at.min(now.saturating_add(cap)));
        let learned = self.live(t);
        let w = match self.find_window(learned, name, &report) {
            Some(w) => w,
            None => self.make_room((name, learned), report, notes),
        };
        let named = &mut self.windows[w];
        named.heard = now;
        let (generation, win) = (named.generation, &mut named.win);
        let sent_after = t
            .window_seq
            .iter()
            .flatten()
            .find(|ws| ws.slot == w && ws.generation == generation)
            .map_or(0, |ws| win.sent().saturating_sub(ws.seq));
        win.update(report, sent_after);
        win.set_kind(long, !long || self.cfg.spread_quotas);
        if !self.routes[r].windows.contains(&w) {
            self.routes[r].windows.push(w);
        }
        if let Some(i) = learned
            && !self.learned[i].windows.contains(&w)
        {
            self.learned[i].windows.push(w);
            let named = &mut self.windows[w];
            named.routes_seen = named.routes_seen.saturating_add(1).min(2);
            self.set_inherited();
        }
    }

    /// The window a report describes, if it is tracked: a named one by its name (a bucket
    /// shared by routes has one name); an unnamed one reported on a learned route is that
    /// route's own, or, on its first report, another route's whose counter it visibly shares
    /// (same limit and reset, and this route's first request did not find the counter full).
    fn find_window(&self, learned: Option<usize>, name: Option<&str>, r: &Report) -> Option<usize> {
        let Some(i) = learned.filter(|_| name.is_none()) else {
            return self
                .windows
                .iter()
                .position(|w| w.name.as_deref() == name && w.owner.is_none());
        };
        let l = &self.learned[i];
        if let Some(&w) = l.windows.iter().find(|&&w| self.windows[w].name.is_none()) {
            return Some(w);
        }
        if l.heard {
            return None;
        }
        let limit = r.limit?;
        if r.remaining.saturating_add(1) >= limit {
            return None;
        }
        self.windows.iter().position(|w| {
            w.name.is_none()
                && w.owner.is_some_and(|o| o != i)
                && w.win.limit() == Some(limit)
                && match (w.win.reported(), r.reset_at) {
                    (Some(a), Some(b)) => a.abs_diff(b) <= 1_000_000_000,
                    (None, None) => true,
                    _ => false,
                }
        })
    }

    /// The windows a learned route not yet heard from draws from: every unnamed window, and
    /// the named ones more than one route reported (a budget shared by paths, as GitHub's
    /// `core`). A named bucket only one route reported (Discord's per-route buckets) is
    /// another route's business.
    fn set_inherited(&mut self) {
        self.inherited.clear();
        let seen = self.routes[0].windows.iter().copied();
        let windows = &self.windows;
        self.inherited
            .extend(seen.filter(|&w| windows[w].name.is_none() || windows[w].routes_seen > 1));
    }

    /// The learned route's slot for `t`, if it has one still.
    #[inline]
    pub(super) fn live(&self, t: &Ticket) -> Option<usize> {
        let (i, generation) = t.learned?;
        self.learned
            .get(i)
            .is_some_and(|l| l.generation == generation && l.key == t.key)
            .then_some(i)
    }

    /// Finds (or makes) the learned route of a request no rule matched, by its key.
    pub(super) fn resolve(&mut self, t: &mut Ticket, notes: &mut impl FnMut(Note)) {
        if t.key == 0 {
            return;
        }
        self.learned_uses += 1;
        if let Some(i) = self.live(t) {
            self.learned[i].used = self.learned_uses;
            return;
        }
        let fresh = Learned {
            key: t.key,
            windows: Vec::new(),
            heard: false,
            unheard_in_flight: 0,
            used: self.learned_uses,
            generation: 0,
            round_trips: super::late::RoundTrips::default(),
        };
        let i = match self.learned.iter().position(|l| l.key == t.key) {
            Some(i) => i,
            None => {
                let (i, old) = take_slot(&mut self.learned, MAX_LEARNED_ROUTES, fresh, |l| l.used);
                if let Some(old) = old {
                    self.learned[i].generation = old.generation.wrapping_add(1);
                    // Its unnamed windows are no one's now: they age out of the window table.
                    for w in &mut self.windows {
                        if w.owner == Some(i) {
                            w.owner = Some(usize::MAX);
                        }
                    }
                    if !self.route_dropped_announced {
                        self.route_dropped_announced = true;
                        notes(Note::RouteDropped);
                    }
                }
                i
            }
        };
        self.learned[i].used = self.learned_uses;
        t.learned = Some((i, self.learned[i].generation));
    }

    /// A slot for a window not seen before: a new one while fewer than [`MAX_WINDOWS`] are
    /// tracked, else the least recently reported one's (a server that names a new policy on
    /// every response must not grow the table, nor the time each decision takes, without end).
    fn make_room(
        &mut self,
        (name, learned): (Option<&str>, Option<usize>),
        report: Report,
        notes: &mut impl FnMut(Note),
    ) -> usize {
        let fresh = NamedWindow {
            name: name.map(str::to_owned),
            win: ServerWindow::new(report, 0),
            heard: report.at,
            generation: 0,
            owner: if name.is_none() { learned } else { None },
            routes_seen: 0,
        };
        let (w, old) = take_slot(&mut self.windows, MAX_WINDOWS, fresh, |w| w.heard);
        let Some(old) = old else { return w };
        self.windows[w].generation = old.generation.wrapping_add(1);
        for route in &mut self.routes {
            route.windows.retain(|&x| x != w);
        }
        for l in &mut self.learned {
            l.windows.retain(|&x| x != w);
        }
        self.inherited.retain(|&x| x != w);
        if !self.dropped_announced {
            self.dropped_announced = true;
            notes(Note::WindowDropped { name: old.name });
        }
        w
    }
}
