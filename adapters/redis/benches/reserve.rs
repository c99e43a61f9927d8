//! What a reservation costs on loopback: `cargo bench -p paceline-redis --bench reserve`.
//!
//! Starts its own `redis-server` (stopped at the end). Each reservation is one `EVALSHA` of
//! the store's script on a bucket whose rate never makes anyone wait (what is measured is
//! the round trip and the script, not a turn). Besides criterion's estimates, the median and
//! 99th percentile of 20 000 timed reservations are printed for each store (criterion gives
//! no percentiles), and for the whole Pacer step a driver runs: `poll_send` → reserve →
//! `on_reserved` → `poll_send` (= `Send`).

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, Method};
use paceline::shared::SharedBudget;
use paceline::throttle::Limit;
use paceline::{Begin, Now, Pacer, PacerConfig};
use paceline_redis::{AsyncRedisStore, RedisStore};
use paceline_testkit::RedisServer;

const SAMPLES: usize = 20_000;

fn budget() -> SharedBudget {
    SharedBudget::new("bench", Limit::per_second(1_000_000_000).burst(1_000_000))
}

/// Median and p99 of `n` timed runs of `f`, printed.
fn percentiles(name: &str, n: usize, mut f: impl FnMut()) {
    for _ in 0..500 {
        f();
    }
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "{name}: median {:.1} µs, p99 {:.1} µs, max {:.1} µs over {n} reservations",
        at(0.5).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        times[times.len() - 1].as_secs_f64() * 1e6
    );
}

fn bench(c: &mut Criterion) {
    if RedisServer::binary().is_none() {
        eprintln!("reserve: skipped, redis-server is not installed");
        return;
    }
    let server = RedisServer::start().expect("redis-server starts");
    let r = budget().reservation(1);

    let store = RedisStore::open(&server.url()).unwrap();
    percentiles("blocking RedisStore::try_reserve", SAMPLES, || {
        black_box(store.try_reserve(&r).unwrap());
    });

    let async_store = AsyncRedisStore::open(&server.url()).unwrap();
    percentiles("AsyncRedisStore::try_reserve (smol)", SAMPLES, || {
        black_box(smol::block_on(async_store.try_reserve(&r)).unwrap());
    });

    let mut pacer = Pacer::new(PacerConfig::default().shared(budget()), 1);
    let empty = HeaderMap::new();
    let mut step = || {
        let now = Now::new(Instant::now(), SystemTime::now());
        let mut call = pacer.call(&Method::GET, &empty);
        let Begin::Reserve(r) = pacer.poll_send(&mut call, now) else {
            panic!("no reservation asked")
        };
        let reply = store.try_reserve(&r).unwrap();
        pacer.on_reserved(&mut call, now, reply);
        assert_eq!(pacer.poll_send(&mut call, now), Begin::Send);
        pacer.cancel(&mut call, now);
    };
    percentiles(
        "Pacer poll_send + RedisStore + on_reserved",
        SAMPLES,
        &mut step,
    );

    let mut g = c.benchmark_group("reserve");
    g.bench_function("blocking RedisStore::try_reserve (loopback)", |b| {
        b.iter(|| black_box(store.try_reserve(&r).unwrap()))
    });
    g.bench_function("AsyncRedisStore::try_reserve (loopback, smol)", |b| {
        b.iter(|| black_box(smol::block_on(async_store.try_reserve(&r)).unwrap()))
    });
    g.bench_function("Pacer poll_send + RedisStore + on_reserved", |b| {
        b.iter(&mut step)
    });
    g.finish();
    drop(server);
}

criterion_group!(benches, bench);
criterion_main!(benches);
