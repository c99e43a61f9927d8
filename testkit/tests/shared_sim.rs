//! The simulator runs a shared budget the way the drivers do (its store is the core's
//! reference bucket, in virtual time): paced by the shared bucket alone, workers stay under a
//! server's limit that they know nothing else about.

use std::time::SystemTime;

use paceline::shared::SharedBudget;
use paceline::throttle::{Limit, ThrottleConfig};
use paceline::{Pacer, PacerConfig};
use paceline_testkit::model::{Dialect, Latency, LimiterKind, LimiterSpec, ServerModel};
use paceline_testkit::sim::{Sim, Workload};

fn run(config: PacerConfig) -> paceline_testkit::sim::Run {
    let model = ServerModel::new(4, SystemTime::UNIX_EPOCH)
        .dialect(Dialect::None)
        .latency(Latency {
            base_ms: 5.0,
            jitter_ms: 10.0,
        })
        .limiter(LimiterSpec::new(LimiterKind::TokenBucket {
            capacity: 5,
            refill_per_s: 50.0,
        }));
    let workload = Workload {
        workers: 8,
        ..Workload::default()
    };
    Sim::new(model, Pacer::new(config, 4), workload, 60.0, 4).run()
}

#[test]
fn a_shared_budget_paces_the_simulated_workers() {
    // No local limit, adaptive discovery off: what paces is the shared bucket.
    let mut off = paceline::throttle::AdaptiveConfig::default();
    off.enabled = false;
    let local = ThrottleConfig::default().adaptive(off);
    let shared = PacerConfig::default()
        .throttle(local.clone())
        .shared(SharedBudget::new("sim", Limit::per_second(50).burst(5)));
    let paced = run(shared).report;
    assert_eq!(paced.status_429, 0, "{paced:?}");
    assert!(paced.utilisation >= 0.95, "{paced:?}");
    // The same workers without it are refused: the test can fail.
    let unpaced = run(PacerConfig::default().throttle(local)).report;
    assert!(unpaced.status_429 > 0, "{unpaced:?}");
}
