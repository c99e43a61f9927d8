//! Properties over random scenarios: determinism, limiters that never over-admit, reports
//! whose counts add up.

use paceline::PacerConfig;
use paceline::throttle::ThrottleConfig;
use paceline_testkit::model::{Chaos, Dialect, Latency, Limiter, LimiterKind, LimiterSpec};
use paceline_testkit::scenario::{ClientSpec, Scenario, ServerSpec};
use paceline_testkit::sim::Workload;
use quickcheck::{Arbitrary, Gen, QuickCheck};

#[derive(Debug, Clone)]
struct RandomScenario(Scenario);

fn kind(g: &mut Gen) -> LimiterKind {
    let limit = u64::from(u8::arbitrary(g) % 50) + 1;
    let window_s = f64::from(u8::arbitrary(g) % 20 + 1);
    match u8::arbitrary(g) % 5 {
        0 => LimiterKind::FixedWindow { limit, window_s },
        1 => LimiterKind::SlidingLog { limit, window_s },
        2 => LimiterKind::TokenBucket {
            capacity: limit,
            refill_per_s: limit as f64 / window_s,
        },
        3 => LimiterKind::LeakyBucket {
            capacity: limit,
            leak_per_s: limit as f64 / window_s,
        },
        _ => LimiterKind::Concurrency { max: limit % 5 + 1 },
    }
}

impl Arbitrary for RandomScenario {
    fn arbitrary(g: &mut Gen) -> Self {
        let dialects = [
            Dialect::Github,
            Dialect::Ietf,
            Dialect::XRateLimitEpoch,
            Dialect::XRateLimitDelta,
            Dialect::Discord,
            Dialect::Shopify,
            Dialect::None,
            Dialect::Lying,
        ];
        let p = |g: &mut Gen| f64::from(u8::arbitrary(g) % 8) / 100.0;
        let chaos = Chaos {
            p_429: p(g),
            p_429_without_retry_after: p(g),
            p_500: p(g),
            p_503: p(g),
            p_reset_before: p(g),
            p_reset_after: p(g),
            p_slow: p(g),
            slow_ms: 500,
            ..Chaos::default()
        };
        let limiters = (0..u8::arbitrary(g) % 3 + 1)
            .map(|_| LimiterSpec {
                hidden: bool::arbitrary(g),
                ..LimiterSpec::new(kind(g))
            })
            .collect();
        let mut throttle = ThrottleConfig::default();
        if bool::arbitrary(g) {
            throttle = throttle.limit(paceline::throttle::Limit::per_second(
                u64::from(u8::arbitrary(g) % 20) + 1,
            ));
        }
        RandomScenario(Scenario {
            description: "random".into(),
            seed: u64::arbitrary(g),
            duration_s: f64::from(u8::arbitrary(g) % 60 + 5),
            start_epoch_s: 1_800_000_000,
            server: ServerSpec {
                dialect: *g.choose(&dialects).unwrap(),
                retry_after: bool::arbitrary(g),
                latency: Latency {
                    base_ms: 20.0,
                    jitter_ms: 40.0,
                },
                limiters,
                chaos,
            },
            client: ClientSpec {
                workload: Workload {
                    workers: u32::from(u8::arbitrary(g) % 6) + 1,
                    ..Workload::default()
                },
                pacer: PacerConfig::default().throttle(throttle),
                ..ClientSpec::default()
            },
            dataset: None,
        })
    }
}

#[test]
fn prop_same_seed_same_trace_and_report() {
    fn prop(s: RandomScenario) -> bool {
        let a = s.0.run_with_trace(10_000);
        let b = s.0.run_with_trace(10_000);
        a.trace == b.trace && a.report == b.report
    }
    QuickCheck::new()
        .tests(40)
        .quickcheck(prop as fn(RandomScenario) -> bool);
}

#[test]
fn prop_report_counts_add_up() {
    fn prop(s: RandomScenario) -> bool {
        let r = s.0.run().report;
        // Every attempt sent ends exactly once: done, retried or given up.
        r.requests == r.succeeded + r.retries + r.gave_up
            && r.status_429 + r.status_403 + r.status_5xx + r.transport_errors <= r.requests
            // Not capped at 1: a short run can use a whole window's limit in a fraction of it.
            && r.utilisation.is_finite()
            && r.utilisation >= 0.0
            && !r.truncated
    }
    QuickCheck::new()
        .tests(40)
        .quickcheck(prop as fn(RandomScenario) -> bool);
}

/// Drives one limiter with arbitrary request times; checks the admitted ones against the
/// limiter's definition with a reference count over every window.
#[test]
fn prop_limiters_never_admit_more_than_their_limit() {
    fn prop(limit: u8, window_ds: u8, gaps: Vec<u16>, which: u8) -> bool {
        let limit = u64::from(limit % 20) + 1;
        let w_ns = (u64::from(window_ds % 50) + 1) * 100_000_000;
        let window_s = w_ns as f64 / 1e9;
        let kind = match which % 3 {
            0 => LimiterKind::FixedWindow { limit, window_s },
            1 => LimiterKind::SlidingLog { limit, window_s },
            _ => LimiterKind::TokenBucket {
                capacity: limit,
                refill_per_s: limit as f64 / window_s,
            },
        };
        let mut l = Limiter::new(LimiterSpec::new(kind.clone()));
        let mut t = 0u64;
        let mut admitted = Vec::new();
        for gap in gaps {
            t += u64::from(gap) * 100_000;
            if l.check(t).allowed {
                l.admit(t, t);
                admitted.push(t);
            }
        }
        admitted.iter().enumerate().all(|(i, &start)| {
            let in_window =
                |d: u64| admitted[i..].iter().take_while(|&&x| x < start + d).count() as u64;
            match kind {
                LimiterKind::FixedWindow { .. } => {
                    let aligned = start / w_ns * w_ns;
                    admitted
                        .iter()
                        .filter(|&&x| x >= aligned && x < aligned + w_ns)
                        .count() as u64
                        <= limit
                }
                LimiterKind::SlidingLog { .. } => in_window(w_ns) <= limit,
                // A token bucket: at most capacity + rate × d in any interval of length d.
                _ => [w_ns / 4, w_ns, 3 * w_ns].iter().all(|&d| {
                    in_window(d) as f64
                        <= limit as f64 + limit as f64 * (d as f64 / w_ns as f64) + 1e-6
                }),
            }
        })
    }
    QuickCheck::new()
        .tests(500)
        .quickcheck(prop as fn(u8, u8, Vec<u16>, u8) -> bool);
}
