//! Throttle configuration: limits, routes, quotas, and how they are written.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A rate limit: at most `count` units per `per`, with an optional burst.
///
/// Semantics (exact, checked by property tests): the bucket is a GCRA with emission interval
/// `T = per / count`; in any half-open interval of length `d` it admits at most
/// `burst − 1 + ⌈d / T⌉` units. With the default `burst` of 1 that is at most `count` units in
/// any window of length `per`, whatever its alignment, so a server counting fixed or sliding
/// windows of `per` never sees more than `count`. A larger burst matches a token-bucket server
/// (Shopify's bucket of 40 leaking 2/s is `2/s,burst=40`) and admits up to `burst − 1` more.
///
/// Written as `COUNT/UNIT` (`10/s`, `300/min`, `5000/h`, `10000/day`, `100/30s`, `1/500ms`;
/// `ns` too), optionally
/// followed by `,burst=N`; serde reads and writes that string.
///
/// ```
/// use paceline::throttle::Limit;
/// use std::time::Duration;
///
/// let l: Limit = "300/min".parse().unwrap();
/// assert_eq!((l.count, l.per, l.burst), (300, Duration::from_secs(60), 1));
/// let l: Limit = "2/s,burst=40".parse().unwrap();
/// assert_eq!(l.burst, 40);
/// assert_eq!(l.to_string(), "2/s,burst=40");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limit {
    /// Units allowed per period (at least 1).
    pub count: u64,
    /// The period (at least 1 ns).
    pub per: Duration,
    /// Units that may go at once after idling (at least 1).
    pub burst: u64,
}

impl Limit {
    /// The same limit, paced a hair under: each unit's interval lengthened by 2 % of it, at
    /// most 1 ms. A limiter that counts time in whole milliseconds (nginx's `limit_req`)
    /// refuses a request that comes a fraction of a millisecond early, and requests paced at
    /// exactly its rate do, now and then. At 20 per second this uses 98 % of the limit.
    ///
    /// ```
    /// use std::time::Duration;
    /// use paceline::throttle::Limit;
    ///
    /// let l = Limit::per_second(20).with_margin();
    /// assert_eq!(l.per, Duration::from_millis(1020)); // 51 ms a request, not 50
    /// ```
    pub fn with_margin(self) -> Self {
        let interval = self.per / u32::try_from(self.count).unwrap_or(u32::MAX).max(1);
        let margin = (interval / 50).min(Duration::from_millis(1));
        Limit {
            per: self.per.saturating_add(
                margin.saturating_mul(u32::try_from(self.count).unwrap_or(u32::MAX)),
            ),
            ..self
        }
    }

    /// `count` per `per`, no burst. Zero values are raised to the smallest valid ones.
    pub fn new(count: u64, per: Duration) -> Self {
        Limit {
            count: count.max(1),
            per: per.max(Duration::from_nanos(1)),
            burst: 1,
        }
    }

    /// `count` per second.
    pub fn per_second(count: u64) -> Self {
        Limit::new(count, Duration::from_secs(1))
    }

    /// `count` per minute.
    pub fn per_minute(count: u64) -> Self {
        Limit::new(count, Duration::from_secs(60))
    }

    /// `count` per day (24 h, rolling: for calendar-aligned budgets use a [`QuotaConfig`]).
    pub fn per_day(count: u64) -> Self {
        Limit::new(count, Duration::from_secs(86_400))
    }

    /// Sets the burst (at least 1).
    pub fn burst(mut self, burst: u64) -> Self {
        self.burst = burst.max(1);
        self
    }

    /// Units per second.
    pub fn rate(&self) -> f64 {
        self.count as f64 / self.per.as_secs_f64()
    }
}

/// Why a limit string did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitParseError(String);

impl fmt::Display for LimitParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid limit {:?}: expected COUNT/UNIT like 10/s, 300/min, 1000/day",
            self.0
        )
    }
}

impl std::error::Error for LimitParseError {}

fn unit_secs(unit: &str) -> Option<u64> {
    Some(match unit {
        "s" | "sec" | "second" | "seconds" => 1,
        "m" | "min" | "minute" | "minutes" => 60,
        "h" | "hr" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        _ => return None,
    })
}

impl FromStr for Limit {
    type Err = LimitParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || LimitParseError(s.chars().take(64).collect());
        let (rate, burst) = match s.split_once(',') {
            Some((rate, rest)) => {
                let b = rest.trim().strip_prefix("burst=").ok_or_else(err)?;
                (rate, Some(b.trim().parse::<u64>().map_err(|_| err())?))
            }
            None => (s, None),
        };
        let (count, per) = rate.trim().split_once('/').ok_or_else(err)?;
        let count: u64 = count.trim().parse().map_err(|_| err())?;
        let per = per.trim();
        let digits = per.len() - per.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let (n, unit) = per.split_at(digits);
        let n: u64 = if n.is_empty() {
            1
        } else {
            n.parse().map_err(|_| err())?
        };
        let per = if unit == "ms" {
            Duration::from_millis(n)
        } else if unit == "ns" {
            Duration::from_nanos(n)
        } else {
            Duration::from_secs(
                unit_secs(unit)
                    .ok_or_else(err)?
                    .checked_mul(n)
                    .ok_or_else(err)?,
            )
        };
        if count == 0 || per.is_zero() || burst == Some(0) {
            return Err(err());
        }
        Ok(Limit::new(count, per).burst(burst.unwrap_or(1)))
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secs, nanos) = (self.per.as_secs(), self.per.subsec_nanos());
        let unit = match (secs, nanos) {
            (1, 0) => "s".to_string(),
            (60, 0) => "min".to_string(),
            (3600, 0) => "h".to_string(),
            (86_400, 0) => "day".to_string(),
            (_, 0) => format!("{secs}s"),
            (_, n) if n % 1_000_000 == 0 => format!("{}ms", self.per.as_millis()),
            _ => format!("{}ns", self.per.as_nanos()),
        };
        write!(f, "{}/{unit}", self.count)?;
        if self.burst > 1 {
            write!(f, ",burst={}", self.burst)?;
        }
        Ok(())
    }
}

impl Serialize for Limit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Which requests a rule applies to: method and path pattern.
///
/// The pattern matches a request path segment by segment: `*` matches one segment, a trailing
/// `**` (or `*` as the last segment) matches the rest. `GET /search/*` matches
/// `/search/issues`; `/repos/**` matches `/repos/a/b/c`. The query string is ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRule {
    /// A name for events and per-route figures.
    pub name: String,
    /// The method, or any when `None`.
    #[serde(default)]
    pub method: Option<String>,
    /// The path pattern.
    pub path: String,
    /// Limits for requests on this route, on top of the global ones.
    #[serde(default)]
    pub limits: Vec<Limit>,
}

impl RouteRule {
    /// A rule named `name` for `path` (any method), with no limits yet.
    pub fn new(name: &str, path: &str) -> Self {
        RouteRule {
            name: name.into(),
            method: None,
            path: path.into(),
            limits: Vec::new(),
        }
    }

    /// Only for this method.
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Adds a limit.
    pub fn limit(mut self, limit: Limit) -> Self {
        self.limits.push(limit);
        self
    }

    /// Whether a request matches. Allocation-free.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        if let Some(m) = &self.method
            && !m.eq_ignore_ascii_case(method)
        {
            return false;
        }
        path_matches(&self.path, path)
    }
}

/// Segment-wise glob match (see [`RouteRule`]).
pub(crate) fn path_matches(pattern: &str, path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let mut pat = pattern.trim_matches('/').split('/').peekable();
    let mut segs = path.trim_matches('/').split('/');
    loop {
        match (pat.next(), segs.next()) {
            (Some("**"), _) => return true,
            (Some("*"), Some(_)) if pat.peek().is_none() => return true,
            (Some("*"), Some(_)) => {}
            (Some(p), Some(s)) if p == s => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// A calendar period for quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Resets at 00:00 UTC every day.
    Day,
    /// Resets at 00:00 UTC on the first of every month.
    Month,
    /// Resets every this many seconds, counted from the first request.
    Seconds(u64),
}

/// What to do when a quota is used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnExhausted {
    /// Refuse requests with [`crate::Error::QuotaExhausted`] until the reset (the default: a
    /// script should not sleep until tomorrow without being told to).
    #[default]
    Fail,
    /// Wait until the reset.
    Wait,
}

/// A long-window budget: so many units per day or month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaConfig {
    /// Units per period.
    pub count: u64,
    /// The period.
    pub period: Period,
    /// What exhaustion does.
    #[serde(default)]
    pub on_exhausted: OnExhausted,
    /// Spread the remaining units evenly until the reset instead of spending them as fast as
    /// the rate limits allow (a batch job that must last the day).
    #[serde(default)]
    pub spread: bool,
    /// Fractions used at which a [`crate::Event::QuotaThreshold`] is raised. Default 0.8, 0.95.
    #[serde(default = "default_thresholds")]
    pub thresholds: Vec<f64>,
}

fn default_thresholds() -> Vec<f64> {
    vec![0.8, 0.95]
}

impl QuotaConfig {
    /// `count` units per `period`, failing when exhausted, not spread, thresholds 80 % and 95 %.
    pub fn new(count: u64, period: Period) -> Self {
        QuotaConfig {
            count,
            period,
            on_exhausted: OnExhausted::Fail,
            spread: false,
            thresholds: default_thresholds(),
        }
    }

    /// Sets what exhaustion does.
    pub fn on_exhausted(mut self, o: OnExhausted) -> Self {
        self.on_exhausted = o;
        self
    }

    /// Spreads the budget until the reset.
    pub fn spread(mut self, spread: bool) -> Self {
        self.spread = spread;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for s in [
            "10/s",
            "300/min",
            "5000/h",
            "10000/day",
            "100/30s",
            "2/s,burst=40",
        ] {
            let l: Limit = s.parse().unwrap();
            assert_eq!(l.to_string(), s);
        }
        assert_eq!(
            "5/2min".parse::<Limit>().unwrap().per,
            Duration::from_secs(120)
        );
        for bad in [
            "",
            "10",
            "0/s",
            "10/fortnight",
            "10/s,burst=0",
            "-1/s",
            "1/18446744073709551615d",
        ] {
            assert!(bad.parse::<Limit>().is_err(), "{bad}");
        }
    }

    /// Any string: parsing never panics, and what parses prints back to an equal limit.
    #[test]
    fn prop_parse_is_total_and_round_trips() {
        fn prop(count: u64, n: u16, unit: u8, burst: u8, junk: String) -> bool {
            let units = [
                "s", "min", "h", "day", "sec", "hours", "d", "ms", "ns", "x", "",
            ];
            let text = format!(
                "{count}/{n}{},burst={burst}",
                units[usize::from(unit) % units.len()]
            );
            for candidate in [text.as_str(), junk.as_str()] {
                if let Ok(l) = candidate.parse::<Limit>()
                    && l.to_string().parse::<Limit>() != Ok(l)
                {
                    return false;
                }
            }
            true
        }
        quickcheck::QuickCheck::new()
            .tests(2000)
            .quickcheck(prop as fn(u64, u16, u8, u8, String) -> bool);
    }

    #[test]
    fn path_patterns() {
        assert!(path_matches("/search/*", "/search/issues?q=x"));
        assert!(!path_matches("/search/*", "/search"));
        assert!(path_matches("/repos/**", "/repos/a/b/c"));
        assert!(path_matches("/repos/*/issues", "/repos/x/issues"));
        assert!(!path_matches("/repos/*/issues", "/repos/x/pulls"));
        assert!(path_matches("/", "/"));
        assert!(
            RouteRule::new("s", "/search/*")
                .method("get")
                .matches("GET", "/search/code")
        );
        assert!(
            !RouteRule::new("s", "/search/*")
                .method("get")
                .matches("POST", "/search/code")
        );
    }
}
