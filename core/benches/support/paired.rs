//! Paired measurement for a shared machine: paceline's side and its anchor run interleaved,
//! in alternating chunks, inside each of criterion's measurements, and each side's time is
//! taken from the same windows as the other's. Load from other processes then falls on both
//! alike, so their ratio holds where two medians measured a minute apart would not.
//!
//! [`paired`] registers two criterion functions (criterion's `estimates.json` holds each
//! side's median as usual). With `PACELINE_PAIRED_DIR` set (`scripts/bench` sets it), it also
//! writes `DIR/<group>/<ours>.json`: for every measurement criterion took of either function,
//! the iterations and both sides' total nanoseconds, from which the script takes the median of
//! the per-measurement ratios. Shared by the benches of several crates through `#[path]`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;

/// Benches `ours` (named `ours_name`) and `anchor` (named `anchor_name`) in `g`, interleaved
/// in chunks of `chunk` calls (1 for calls of microseconds, a few hundred for nanoseconds, so
/// reading the clock costs little next to a chunk).
pub fn paired<A, B, RA, RB>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    group: &str,
    chunk: u64,
    ours_name: &str,
    mut ours: A,
    anchor_name: &str,
    mut anchor: B,
) where
    A: FnMut() -> RA,
    B: FnMut() -> RB,
{
    let mut samples: Vec<(u64, u128, u128)> = Vec::new();
    for measured_is_ours in [true, false] {
        let name = if measured_is_ours {
            ours_name
        } else {
            anchor_name
        };
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let (mut t_ours, mut t_anchor) = (Duration::ZERO, Duration::ZERO);
                let mut left = iters;
                while left > 0 {
                    let n = left.min(chunk);
                    let start = Instant::now();
                    for _ in 0..n {
                        black_box(ours());
                    }
                    t_ours += start.elapsed();
                    let start = Instant::now();
                    for _ in 0..n {
                        black_box(anchor());
                    }
                    t_anchor += start.elapsed();
                    left -= n;
                }
                samples.push((iters, t_ours.as_nanos(), t_anchor.as_nanos()));
                if measured_is_ours { t_ours } else { t_anchor }
            })
        });
    }
    if let Some(dir) = std::env::var_os("PACELINE_PAIRED_DIR") {
        let dir = std::path::Path::new(&dir).join(slug(group));
        std::fs::create_dir_all(&dir).expect("the paired directory");
        let rows: Vec<String> = samples
            .iter()
            .map(|(i, a, b)| format!("[{i},{a},{b}]"))
            .collect();
        let json = format!(
            "{{\"ours\":{:?},\"anchor\":{:?},\"samples\":[{}]}}",
            format!("{group}/{ours_name}"),
            format!("{group}/{anchor_name}"),
            rows.join(",")
        );
        std::fs::write(dir.join(format!("{}.json", slug(ours_name))), json)
            .expect("the paired file");
    }
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}
