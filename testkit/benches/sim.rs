//! Simulator speed: simulated requests per second of wall time.
//! `cargo bench -p paceline-testkit --bench sim`; the figure is `thrpt` (elements = requests),
//! which `scripts/bench` writes into BENCHMARKS.md.

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use paceline_testkit::scenario::Scenario;

fn load(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"));
    Scenario::load(path).expect("scenario")
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("simulate");
    g.sample_size(10);
    for name in [
        "throttle-configured-no-headers",
        "throttle-honest-xratelimit",
        "throttle-unknown-limit",
    ] {
        let s = load(name);
        let requests = s.run().report.requests;
        g.throughput(Throughput::Elements(requests));
        g.bench_function(name, |b| b.iter(|| s.run()));
    }
    // The engine alone: one worker, so no poll is spent on workers woken only to wait again.
    let mut s = load("throttle-configured-no-headers");
    s.client.workload.workers = 1;
    let requests = s.run().report.requests;
    g.throughput(Throughput::Elements(requests));
    g.bench_function("throttle-configured-no-headers, one worker", |b| {
        b.iter(|| s.run())
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench
}
criterion_main!(benches);
