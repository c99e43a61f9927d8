//! Exponential backoff with jitter, from a seeded generator the machine owns.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a backoff delay is randomised (see "Exponential Backoff And Jitter", AWS Architecture
/// Blog, 2015, which measured all four).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// The exact exponential delay: clients that failed together retry together. Tests only.
    None,
    /// Uniform in `[0, d]`: the least contention; the default (AWS SDKs' standard mode).
    #[default]
    Full,
    /// `d/2 + uniform[0, d/2]`: never shorter than half the delay.
    Equal,
    /// `min(cap, uniform[base, 3 × previous])`: grows from the previous delay, not the attempt
    /// number.
    Decorrelated,
}

/// The exponential delay before retry number `retry` (1 for the first retry):
/// `min(cap, base × factor^(retry-1))`, computed without overflow.
pub(crate) fn exponential(base: Duration, factor: f64, cap: Duration, retry: u32) -> Duration {
    let exp = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
    let factor = if factor.is_finite() && factor >= 1.0 {
        factor
    } else {
        1.0
    };
    let secs = base.as_secs_f64() * factor.powi(exp);
    let d = if secs.is_finite() {
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
    } else {
        Duration::MAX
    };
    d.min(cap)
}

/// `d × u` for `u` in `[0, 1)`.
fn scale(d: Duration, u: f64) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * u).unwrap_or(d)
}

/// Applies `jitter` to the exponential delay `d`. `previous` is the last delay this request
/// waited (for decorrelated jitter; `base` before the first retry). The result is in `[0, cap]`.
pub(crate) fn jittered(
    jitter: Jitter,
    d: Duration,
    base: Duration,
    cap: Duration,
    previous: Duration,
    rng: &mut fastrand::Rng,
) -> Duration {
    let out = match jitter {
        Jitter::None => d,
        Jitter::Full => scale(d, rng.f64()),
        Jitter::Equal => d / 2 + scale(d / 2, rng.f64()),
        Jitter::Decorrelated => {
            let hi = previous.max(base).saturating_mul(3);
            base + scale(hi.saturating_sub(base), rng.f64())
        }
    };
    out.min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_grows_then_caps() {
        let b = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        let seq: Vec<_> = (1..=7)
            .map(|n| exponential(b, 2.0, cap, n).as_millis())
            .collect();
        assert_eq!(seq, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(exponential(b, 2.0, cap, u32::MAX), cap);
        assert_eq!(exponential(b, f64::NAN, cap, 5), b);
    }

    #[test]
    fn jitter_stays_in_range() {
        let mut rng = fastrand::Rng::with_seed(7);
        let (b, cap) = (Duration::from_millis(100), Duration::from_secs(1));
        for j in [
            Jitter::None,
            Jitter::Full,
            Jitter::Equal,
            Jitter::Decorrelated,
        ] {
            let mut prev = b;
            for n in 1..50 {
                let d = exponential(b, 2.0, cap, n);
                let x = jittered(j, d, b, cap, prev, &mut rng);
                assert!(x <= cap, "{j:?} {x:?}");
                if j == Jitter::Equal {
                    assert!(x >= d / 2);
                }
                prev = x;
            }
        }
    }

    /// Any policy, any attempt: the delay is within `[0, cap]`.
    #[test]
    fn prop_delay_within_zero_and_cap() {
        fn prop(base_ms: u32, factor: f64, cap_ms: u32, retry: u32, seed: u64, j: u8) -> bool {
            let jitter = [
                Jitter::None,
                Jitter::Full,
                Jitter::Equal,
                Jitter::Decorrelated,
            ][j as usize % 4];
            let (base, cap) = (
                Duration::from_millis(base_ms.into()),
                Duration::from_millis(cap_ms.into()),
            );
            let mut rng = fastrand::Rng::with_seed(seed);
            let d = exponential(base, factor, cap, retry);
            let x = jittered(jitter, d, base, cap, d, &mut rng);
            d <= cap && x <= cap
        }
        quickcheck::QuickCheck::new()
            .tests(5000)
            .quickcheck(prop as fn(u32, f64, u32, u32, u64, u8) -> bool);
    }

    /// With full and equal jitter, the mean delay grows with the attempt number until the cap.
    #[test]
    fn prop_expectation_grows_until_cap() {
        fn prop(base_ms: u16, seed: u64, equal: bool) -> bool {
            let jitter = if equal { Jitter::Equal } else { Jitter::Full };
            let base = Duration::from_millis(u64::from(base_ms % 1000) + 1);
            let cap = base * 64;
            let mut rng = fastrand::Rng::with_seed(seed);
            let mean = |retry: u32, rng: &mut fastrand::Rng| {
                let d = exponential(base, 2.0, cap, retry);
                (0..400)
                    .map(|_| jittered(jitter, d, base, cap, d, rng).as_secs_f64())
                    .sum::<f64>()
                    / 400.0
            };
            let means: Vec<f64> = (1..=9).map(|n| mean(n, &mut rng)).collect();
            // Below the cap (retries 1..=7 reach 64 × base), each mean exceeds the previous.
            means[..7].windows(2).all(|w| w[1] > w[0])
                && means.iter().all(|m| *m <= cap.as_secs_f64())
        }
        quickcheck::QuickCheck::new()
            .tests(200)
            .quickcheck(prop as fn(u16, u64, bool) -> bool);
    }
}
