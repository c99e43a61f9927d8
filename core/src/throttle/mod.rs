//! Proactive throttling: stay under every limit so a 429 is never needed to learn it.
//!
//! A request passes through, in order: the retry wait of its own [`crate::Call`], a pause the
//! server asked for (`Retry-After`; Discord's global limit pauses every route), the concurrency
//! limit, and then every bucket that applies to it — the global [`Limit`]s, its route's limits,
//! its consumer's share, the window the server reported for its route (spread evenly until the
//! reset), the adaptive bucket if an undocumented limit was discovered, and the quotas. It is
//! admitted when all admit; otherwise the wait is the longest.
//!
//! ```text
//!  Call ──► retry wait ─► server pause ─► concurrency ─► [global limits, route limits,
//!           share, server window, adaptive, quotas] ─► max(earliest) ─► Send | Wait | Reject
//! ```
//!
//! All state is integers (GCRA in exact `u128` ticks) except the adaptive rate (see
//! [`AdaptiveConfig`]). Deciding allocates nothing.
//!
//! # Learned routes
//!
//! A server that names its buckets (Discord's `X-RateLimit-Bucket`, GitHub's resource) or
//! reports unnamed windows per path needs no route configuration. Each method and path that
//! no [`RouteRule`] matches (its query aside: the pages of one list are one route) is learned
//! as a route of its own, and draws from the windows its own responses reported: a slow
//! route's exhausted bucket does not hold back a fast one. Two routes share a window when the
//! server says so (the same bucket name) or when their counters visibly move together (a
//! route's first report of an unnamed window with the same limit and reset as another's, on
//! a counter its own first request did not find full). Until its first response, a new route
//! sends one request at a time and draws from the windows that may be shared: every unnamed
//! one, and the named ones more than one route reported. Pauses and adaptive discovery stay
//! with the route the rules gave (a `Retry-After` may speak for the whole API). At most
//! [`MAX_LEARNED_ROUTES`] (64) are kept, the least recently used forgotten first
//! ([`crate::Event::RouteDropped`]). [`ThrottleConfig::learn_routes`] turns this off.
//!
//! # Late reads
//!
//! A limiter counts a request from when it read it, and a server now and then reads one a
//! few milliseconds after it was sent; the next one, read on time, is then closer to it than
//! the limit allows. The only sign a client gets is a slower answer. So a response whose
//! round trip is an outlier for its route moves the configured limits' record of that
//! request to where it was probably read (by its excess over the route's median round trip,
//! or over the fastest yet among a route's first answers; at most a quarter of an interval):
//! see [`ThrottleConfig::late_read_spacing`].
//!
//! # Bounded state
//!
//! What a server reports cannot grow the throttle without end. At most [`MAX_WINDOWS`] (64)
//! server windows (buckets, policies, the unnamed one) are tracked; a response naming one
//! more takes the slot of the one least recently reported, and [`crate::Event::WindowDropped`]
//! says so, once. Routes are the configured [`RouteRule`]s. Resets are held to what is
//! believable (a rate window to the longest pause, a quota to a month), and the header
//! parser refuses counters it cannot hold exactly (see [`crate::headers`]).

mod adaptive;
mod admit;
mod config;
mod gcra;
mod late;
mod limit;
mod quota;
mod server_window;
mod signal;
mod table;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use adaptive::AdaptiveConfig;
pub use config::{Share, ThrottleConfig};
pub use limit::{Limit, LimitParseError, OnExhausted, Period, QuotaConfig, RouteRule};
pub use quota::QuotaUse;
use table::{Learned, NamedWindow, route_key};

use adaptive::Adaptive;
pub(crate) use gcra::Gcra;
use quota::Quota;
use server_window::ServerWindow;

/// How urgent a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// May use the whole budget (the default).
    #[default]
    Foreground,
    /// Uses only what foreground work leaves, keeping [`ThrottleConfig::background_share`]
    /// of every bucket free.
    Background,
}

/// What a throttle knows about one route (index 0: requests no rule matched).
#[derive(Debug, Clone)]
struct Route {
    limits: Vec<Gcra>,
    /// When one unit next conforms to all of `limits` (see [`Gcra::next_free`]).
    gate: u64,
    /// Indices into `windows` of the windows responses said this route draws from.
    windows: Vec<usize>,
    adaptive: Adaptive,
    /// Until when the server asked this route to wait, ns.
    paused_until: u64,
    /// Whether a response on this route has arrived: until one does, one request at a time
    /// goes (sixteen workers starting together would otherwise all go before any limit is
    /// known, and a window of five refuse eleven).
    heard: bool,
    /// Requests in flight on this route before it was heard from.
    unheard_in_flight: u32,
    /// Its answered requests' last round trips (see [`late`]), for requests with no learned
    /// route.
    round_trips: late::RoundTrips,
}

/// The admission verdict for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Send now.
    Now,
    /// Not before this time (ns); `server` when the binding wait came from the server.
    At { at: u64, server: bool },
    /// Wait for a request in flight to finish.
    NoPermit,
    /// A quota configured to fail is used up until `reset_at` (ns).
    QuotaExhausted { reset_at: u64 },
    /// The request costs more than a bucket can ever hold.
    CostTooHigh { cost: u64, capacity: u64 },
}

/// A request's throttle coordinates, kept in its [`crate::Call`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Ticket {
    pub(crate) route: u16,
    pub(crate) share: Option<u16>,
    pub(crate) cost: u64,
    pub(crate) priority: Priority,
    pub(crate) permit: bool,
    /// Each route window's send count when this request left (to correct its reports).
    pub(crate) window_seq: [Option<WindowSeq>; MAX_TRACKED],
    /// When it was sent, ns.
    pub(crate) sent_at: u64,
    /// Sent and not yet answered.
    pub(crate) in_flight: bool,
    /// Sent before its route was heard from (see `Route::heard`).
    pub(crate) first: bool,
    /// The learned route's key (0: none; see [`route_key`]) and, once resolved, its slot and
    /// generation.
    pub(crate) key: u64,
    pub(crate) learned: Option<(usize, u32)>,
    /// Sent before its learned route was heard from.
    pub(crate) learned_first: bool,
}

/// A window's slot, its generation and its send count when a request left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct WindowSeq {
    slot: usize,
    generation: u32,
    seq: u64,
}

/// Something the throttle wants announced.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Note {
    QuotaThreshold {
        index: usize,
        fraction: f64,
    },
    Adapted {
        rate: f64,
    },
    /// The window table was full: the least recently reported window made room (announced
    /// once per Pacer).
    WindowDropped {
        name: Option<String>,
    },
    /// The learned-route table was full: the least recently used route made room (once).
    RouteDropped,
}

/// The throttle's state. Owned by the Pacer.
#[derive(Debug, Clone)]
pub(crate) struct Throttle {
    cfg: ThrottleConfig,
    global: Vec<Gcra>,
    routes: Vec<Route>,
    windows: Vec<NamedWindow>,
    shares: Vec<Vec<Gcra>>,
    quotas: Vec<Quota>,
    in_flight: u32,
    /// Until when every route waits (Discord's global limit), ns.
    global_pause: u64,
    /// When one unit next conforms to all global limits (see [`Gcra::next_free`]).
    global_gate: u64,
    started: bool,
    /// The longest pause or reset taken from a server for a rate limit (the retry policy's
    /// `max_wait`): past it the Pacer refuses, and requests probe again once it has passed.
    max_pause_ns: u64,
    /// Whether a full window table was announced (once).
    dropped_announced: bool,
    /// Routes learned from requests no rule matched.
    learned: Vec<Learned>,
    /// Uses of learned routes so far (their LRU clock).
    learned_uses: u64,
    /// Whether a full learned-route table was announced (once).
    route_dropped_announced: bool,
    /// The windows a learned route not yet heard from draws from: those that may be shared
    /// (unnamed ones, and named ones more than one route reported).
    inherited: Vec<usize>,
}

const NS_PER_S: f64 = 1e9;

/// Windows per route whose in-flight requests are tracked exactly (more are tracked without
/// the in-flight correction, which errs on the safe side only for them).
const MAX_TRACKED: usize = 4;

/// The most server windows tracked at once (see [`crate::throttle`]'s "Bounded state").
pub const MAX_WINDOWS: usize = 64;

/// The most routes learned at once (see [`crate::throttle`]'s "Learned routes").
pub const MAX_LEARNED_ROUTES: usize = 64;

/// How long after a reported reset requests wait for it: 10 ms.
const RESET_MARGIN_NS: u64 = 10_000_000;

/// Units a consumer's share may run ahead of its exact rate (see [`ThrottleConfig::shares`]).
const SHARE_BURST: u64 = 4;

/// Windows longer than this are quotas (the signal parser's default horizon).
const QUOTA_HORIZON_NS: u64 = crate::headers::DEFAULT_QUOTA_HORIZON.as_nanos() as u64;

/// The furthest a reported quota reset is believed: a monthly budget resets within 31 days;
/// a later "reset" is a hostile or broken value and is held to this.
pub(crate) const MAX_QUOTA_RESET: Duration = Duration::from_secs(32 * 86_400);

fn dur_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Throttle {
    /// Works out again when one unit next conforms to the global limits and to route `r`'s
    /// configured ones, after their buckets moved (a refund, a recharge, a late read).
    fn regate(&mut self, r: usize) {
        self.global_gate = self.global.iter().map(Gcra::next_free).max().unwrap_or(0);
        let route = &mut self.routes[r];
        route.gate = route.limits.iter().map(Gcra::next_free).max().unwrap_or(0);
    }

    pub(crate) fn new(cfg: ThrottleConfig) -> Self {
        let route = |limits: &[Limit]| Route {
            limits: limits.iter().map(Gcra::new).collect(),
            gate: 0,
            windows: Vec::new(),
            adaptive: Adaptive::new(cfg.adaptive),
            paused_until: 0,
            heard: false,
            unheard_in_flight: 0,
            round_trips: late::RoundTrips::default(),
        };
        let mut routes = vec![route(&[])];
        routes.extend(cfg.routes.iter().map(|r| route(&r.limits)));
        let total: u64 = cfg
            .shares
            .iter()
            .map(|s| u64::from(s.weight))
            .sum::<u64>()
            .max(1);
        let shares = cfg
            .shares
            .iter()
            .map(|s| {
                cfg.limits
                    .iter()
                    .map(|l| {
                        // weight/total of the rate: the same count over a longer period. The
                        // global bucket enforces the server's limit; a share only divides it,
                        // so it may run a few units ahead to make up for the moments it
                        // waited on the others (without it, collisions waste the budget).
                        let per = l
                            .per
                            .saturating_mul(u32::try_from(total).unwrap_or(u32::MAX))
                            / s.weight.max(1);
                        Gcra::new(&Limit {
                            per,
                            burst: l.burst.max(SHARE_BURST),
                            ..*l
                        })
                    })
                    .collect()
            })
            .collect();
        Throttle {
            global: cfg.limits.iter().map(Gcra::new).collect(),
            routes,
            windows: Vec::new(),
            shares,
            quotas: Vec::new(),
            in_flight: 0,
            global_pause: 0,
            global_gate: 0,
            started: false,
            max_pause_ns: dur_ns(Duration::from_secs(300)),
            dropped_announced: false,
            learned: Vec::new(),
            learned_uses: 0,
            route_dropped_announced: false,
            inherited: Vec::new(),
            cfg,
        }
    }

    /// Sets the longest server-asked pause kept (the retry policy's `max_wait`).
    pub(crate) fn set_max_pause(&mut self, d: Duration) {
        self.max_pause_ns = dur_ns(d);
    }

    /// Creates time-dependent state (quota periods) on first use.
    pub(crate) fn start(&mut self, now_ns: u64, wall_ns: u128) {
        if !self.started {
            self.started = true;
            self.quotas = self
                .cfg
                .quotas
                .iter()
                .map(|q| Quota::new(q.clone(), now_ns, wall_ns))
                .collect();
        }
    }

    /// The ticket for a request: its route (first matching rule), its consumer share.
    pub(crate) fn ticket(&self, method: &str, path: &str, share: Option<&str>) -> Ticket {
        let route = self
            .cfg
            .routes
            .iter()
            .position(|r| r.matches(method, path))
            .map_or(0, |i| u16::try_from(i + 1).unwrap_or(0));
        let share = share
            .and_then(|name| self.cfg.shares.iter().position(|s| s.name == name))
            .and_then(|i| u16::try_from(i).ok());
        Ticket {
            route,
            share,
            cost: 1,
            key: if route == 0 && self.cfg.learn_routes {
                route_key(method, path)
            } else {
                0
            },
            ..Ticket::default()
        }
    }

    /// What each configured quota has used of its period.
    pub(crate) fn quota_usage(&mut self, now: u64) -> Vec<QuotaUse> {
        self.quotas.iter_mut().map(|q| q.usage(now)).collect()
    }

    /// Counts what an earlier run used (each record applies to the quota it describes, if its
    /// period has not ended).
    pub(crate) fn restore_quota_usage(
        &mut self,
        now: u64,
        used: &[QuotaUse],
        notes: &mut impl FnMut(Note),
    ) {
        for (index, q) in self.quotas.iter_mut().enumerate() {
            for u in used {
                if let Some(fraction) = q.restore(now, u) {
                    notes(Note::QuotaThreshold { index, fraction });
                }
            }
        }
    }

    /// Whether this request's route is paced by a discovered rate (a retry of an unexplained
    /// 429 then waits for that pacing only, not for a backoff as well).
    pub(crate) fn adapting(&self, t: &Ticket) -> bool {
        self.routes
            .get(usize::from(t.route))
            .is_some_and(|r| r.adaptive.is_active())
    }

    /// What the throttle knows, for progress displays and reports.
    pub(crate) fn status(&self, now: u64) -> Status {
        let route = &self.routes[0];
        let window = route.windows.first().map(|&w| &self.windows[w].win);
        Status {
            in_flight: self.in_flight,
            adaptive_rate: self.routes.iter().find_map(|r| r.adaptive.rate()),
            window_remaining: window.map(ServerWindow::remaining),
            window_limit: window.and_then(ServerWindow::limit),
            limits_available: self.global.iter().map(|g| g.available(now)).min(),
            quota_remaining: self.quotas.iter().map(Quota::remaining).min(),
            windows_tracked: self.windows.len(),
        }
    }
}

/// A snapshot of what the throttle knows (see [`crate::Pacer::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub struct Status {
    /// Requests sent and not yet answered (counted only under a concurrency limit).
    pub in_flight: u32,
    /// The adaptive rate in force, requests per second, if a hidden limit was discovered.
    pub adaptive_rate: Option<f64>,
    /// Units left in the window the server reported (for requests with no route).
    pub window_remaining: Option<u64>,
    /// That window's limit.
    pub window_limit: Option<u64>,
    /// Units available now in the tightest configured limit.
    pub limits_available: Option<u64>,
    /// Units left in the tightest quota.
    pub quota_remaining: Option<u64>,
    /// Server windows tracked (at most [`MAX_WINDOWS`]).
    pub windows_tracked: usize,
}
