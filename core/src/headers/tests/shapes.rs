//! Properties of the shapes read beyond the fixed names: unknown prefixes, GraphQL throttle
//! bodies, parallel lists and Strava's pairs.

use super::*;

// Under a prefix paceline does not know, a `-remaining` field is still read, and the warning
// names the assumption; under a known one, silently.
#[test]
fn prop_unknown_prefix_read_with_a_warning() {
    fn prop(prefix: Vec<u8>, n: u32, known: bool) -> TestResult {
        let prefix: String = prefix
            .into_iter()
            .map(|b| char::from(b'a' + b % 26))
            .take(12)
            .collect();
        if prefix.is_empty() || prefix.contains("ratelimit") || prefix == "x" {
            return TestResult::discard();
        }
        let name = if known {
            "x-sib-ratelimit-remaining".to_owned()
        } else {
            format!("x-{prefix}-ratelimit-remaining")
        };
        let s = parse(200, &[(&name, &n.to_string())], at(0));
        let assumed = s.warnings.iter().any(|w| {
            w.kind == WarningKind::Assumed(Assumption::RateLimitField) && w.header == name
        });
        TestResult::from_bool(s.remaining == Some(u64::from(n)) && assumed != known)
    }
    QuickCheck::new()
        .tests(500)
        .quickcheck(prop as fn(Vec<u8>, u32, bool) -> TestResult);
}

// A GraphQL throttle error makes a 200 a 429, whose wait is the query's cost coming back.
#[test]
fn prop_throttled_graphql_body() {
    fn prop(cost: u16, available: u16, rate: u8, throttled: bool) -> TestResult {
        if rate == 0 {
            return TestResult::discard();
        }
        // A bucket of 1,000 points, as Shopify's.
        let available = available % 1001;
        let errors = if throttled {
            r#""errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}],"#
        } else {
            ""
        };
        let body = format!(
            r#"{{{errors}"extensions":{{"cost":{{"requestedQueryCost":{cost},"throttleStatus":{{"maximumAvailable":1000.0,"currentlyAvailable":{available},"restoreRate":{rate}.0}}}}}}}}"#
        );
        let parser = SignalParser::new();
        let mut s = parser.parse(StatusCode::OK, &HeaderMap::new(), at(0));
        parser.parse_body(&mut s, body.as_bytes());
        let class = crate::retry::classify(&s);
        let want = f64::from(cost.saturating_sub(available)) / f64::from(rate);
        let wait = s.must_wait().as_secs_f64();
        TestResult::from_bool(if throttled {
            // Nothing available: the bucket's refill (its reset) may be longer still.
            class == crate::retry::Class::Throttled
                && ((wait - want).abs() < 1e-6 || (available == 0 && wait >= want))
        } else {
            class == crate::retry::Class::Final && s.retry_after.is_none()
        })
    }
    QuickCheck::new()
        .tests(500)
        .quickcheck(prop as fn(u16, u16, u8, bool) -> TestResult);
}

// Parallel lists (one item per window, as Brave Search sends them): one policy per window, and
// the top level is the window with the fewest left.
#[test]
fn prop_parallel_lists_are_windows() {
    fn prop(windows: Vec<(u16, u16, u16, u8)>) -> TestResult {
        if windows.len() < 2 || windows.len() > 8 {
            return TestResult::discard();
        }
        // A server's remaining is at most its limit (more is clamped, with a warning).
        let windows: Vec<_> = windows
            .into_iter()
            .map(|(l, r, t, w)| (l, (u32::from(r) % (u32::from(l) + 1)) as u16, t, w))
            .collect();
        type Window = (u16, u16, u16, u8);
        let join =
            |f: &dyn Fn(&Window) -> String| windows.iter().map(f).collect::<Vec<_>>().join(", ");
        let limit = join(&|w| w.0.to_string());
        let remaining = join(&|w| w.1.to_string());
        let reset = join(&|w| w.2.to_string());
        let policy = join(&|w| format!("{};w={}", w.0, u32::from(w.3) + 1));
        let s = parse(
            200,
            &[
                ("x-ratelimit-limit", &limit),
                ("x-ratelimit-remaining", &remaining),
                ("x-ratelimit-reset", &reset),
                ("x-ratelimit-policy", &policy),
            ],
            at(0),
        );
        let least = windows.iter().map(|w| u64::from(w.1)).min();
        let all_read = s.policies.len() == windows.len()
            && s.policies.iter().zip(&windows).all(|(p, w)| {
                p.limit == Some(u64::from(w.0))
                    && p.remaining == Some(u64::from(w.1))
                    && p.reset_in == Some(Duration::from_secs(u64::from(w.2)))
                    && p.window == Some(Duration::from_secs(u64::from(w.3) + 1))
            });
        TestResult::from_bool(all_read && s.remaining == least)
    }
    QuickCheck::new()
        .tests(500)
        .quickcheck(prop as fn(Vec<(u16, u16, u16, u8)>) -> TestResult);
}

// Strava: the first number of each pair is the 15-minute window (reset at the quarter hour),
// the second the day (reset at midnight UTC); the one with the fewest left is the top level.
#[test]
fn prop_strava_pairs() {
    fn prop(l15: u16, lday: u16, u15: u16, uday: u16, now: u32) -> bool {
        let s = parse(
            200,
            &[
                ("x-ratelimit-limit", &format!("{l15},{lday}")),
                ("x-ratelimit-usage", &format!("{u15},{uday}")),
            ],
            at(u64::from(now)),
        );
        let r15 = u64::from(l15.saturating_sub(u15));
        let rday = u64::from(lday.saturating_sub(uday));
        let to_quarter = 900 - u64::from(now) % 900;
        let to_midnight = 86_400 - u64::from(now) % 86_400;
        let names: Vec<_> = s.policies.iter().map(|p| p.name.as_deref()).collect();
        names == [Some("15min"), Some("day")]
            && s.policies[0].remaining == Some(r15)
            && s.policies[1].remaining == Some(rday)
            && s.policies[0].reset_in == Some(Duration::from_secs(to_quarter))
            && s.policies[1].reset_in == Some(Duration::from_secs(to_midnight))
            && s.remaining == Some(r15.min(rday))
    }
    QuickCheck::new()
        .tests(500)
        .quickcheck(prop as fn(u16, u16, u16, u16, u32) -> bool);
}
