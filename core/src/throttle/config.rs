//! The throttle's configuration.

use serde::{Deserialize, Serialize};

use super::{AdaptiveConfig, Limit, QuotaConfig, RouteRule};

/// A consumer's weight in a shared budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    /// The consumer's name.
    pub name: String,
    /// Its weight: it gets `weight / Σ weights` of each global limit.
    pub weight: u32,
}

/// Throttle settings. `Default` throttles nothing by configuration but follows every header,
/// discovers undocumented limits, and keeps 20 % free from background work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ThrottleConfig {
    /// Limits on every request (per second, per minute, per day...).
    pub limits: Vec<Limit>,
    /// Per-route limits; the first matching rule wins. Each route also gets its own server
    /// window and pause.
    pub routes: Vec<RouteRule>,
    /// Requests in flight at once, at most (Salesforce-style concurrency limits). `None`: no
    /// limit.
    pub concurrency: Option<u32>,
    /// Daily/monthly budgets.
    pub quotas: Vec<QuotaConfig>,
    /// Pace by what responses report (`remaining` until the reset). Default true.
    pub follow_headers: bool,
    /// Units of a reported window never used (a margin for other clients of the same key).
    /// Default 0.
    pub reserve: u64,
    /// Spread reported quotas (windows longer than an hour: daily, monthly) until their reset
    /// too. Default false: a quota is spent as fast as the rate limits allow, and exhausting it
    /// refuses requests until the reset. Shorter windows are always spread.
    pub spread_quotas: bool,
    /// Discovery of undocumented limits.
    pub adaptive: AdaptiveConfig,
    /// The fraction of each bucket background requests leave free. Default 0.2.
    pub background_share: f64,
    /// Consumers sharing the global limits by weight (empty: no shares).
    pub shares: Vec<Share>,
    /// Learn routes from requests no rule matches (default true): each method and path (its
    /// query aside) draws from the windows its own responses report, not from every window
    /// the server reported for any path. See "Learned routes" in [`crate::throttle`].
    pub learn_routes: bool,
    /// Space the next request from where the server probably read the last one (default
    /// true). A limiter counts a request from when it read it; a response whose round trip is
    /// an outlier for its route (over the upper quartile of its last 32 by more than 1.5 times
    /// their interquartile range: Tukey's fence) was probably read late, by its excess over their
    /// median; before 8 round trips are known, an answer is taken as late by its excess over
    /// the fastest yet (the route's first request, which opened the connection, gives only
    /// that floor). The configured [`limits`](Self::limits) (global and per route) then count
    /// that request as sent that much later, at most a quarter of their interval, so the next
    /// one keeps a whole interval from it at the server. It costs time only after an
    /// unusually slow answer, and the first answers' spread. Against nginx's `limit_req` with
    /// no burst, which refuses a request closer than `1/rate` to the last one it read, it
    /// removes the 429s late reads caused (see [`crate::throttle`]'s "Late reads"). 429s
    /// teach it nothing; limits learned from headers or discovered from 429s are not moved.
    pub late_read_spacing: bool,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            limits: Vec::new(),
            routes: Vec::new(),
            concurrency: None,
            quotas: Vec::new(),
            follow_headers: true,
            reserve: 0,
            spread_quotas: false,
            adaptive: AdaptiveConfig::default(),
            background_share: 0.2,
            shares: Vec::new(),
            learn_routes: true,
            late_read_spacing: true,
        }
    }
}

impl ThrottleConfig {
    /// Adds a global limit.
    pub fn limit(mut self, limit: Limit) -> Self {
        self.limits.push(limit);
        self
    }
    /// Adds a route rule.
    pub fn route(mut self, rule: RouteRule) -> Self {
        self.routes.push(rule);
        self
    }
    /// Sets the concurrency limit.
    pub fn concurrency(mut self, n: u32) -> Self {
        self.concurrency = Some(n.max(1));
        self
    }
    /// Adds a quota.
    pub fn quota(mut self, q: QuotaConfig) -> Self {
        self.quotas.push(q);
        self
    }
    /// Sets whether reported windows pace requests.
    pub fn follow_headers(mut self, on: bool) -> Self {
        self.follow_headers = on;
        self
    }
    /// Sets the reserve kept in reported windows.
    pub fn reserve(mut self, units: u64) -> Self {
        self.reserve = units;
        self
    }
    /// Sets whether reported quotas are spread until their reset.
    pub fn spread_quotas(mut self, on: bool) -> Self {
        self.spread_quotas = on;
        self
    }
    /// Sets adaptive discovery.
    pub fn adaptive(mut self, a: AdaptiveConfig) -> Self {
        self.adaptive = a;
        self
    }
    /// Sets the share background work leaves free (clamped to 0..=0.95).
    pub fn background_share(mut self, share: f64) -> Self {
        self.background_share = if share.is_finite() {
            share.clamp(0.0, 0.95)
        } else {
            0.2
        };
        self
    }
    /// Sets whether routes are learned from requests no rule matches.
    pub fn learn_routes(mut self, on: bool) -> Self {
        self.learn_routes = on;
        self
    }
    /// Sets whether the configured limits space the next request from a late answer's
    /// probable read (see [`ThrottleConfig::late_read_spacing`]).
    pub fn late_read_spacing(mut self, on: bool) -> Self {
        self.late_read_spacing = on;
        self
    }
    /// Adds a consumer share.
    pub fn share(mut self, name: &str, weight: u32) -> Self {
        self.shares.push(Share {
            name: name.into(),
            weight: weight.max(1),
        });
        self
    }
}
