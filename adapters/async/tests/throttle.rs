//! 32 tasks sharing one client against the loopback server's token-bucket model at 100
//! requests per second: the shared Pacer keeps all of them inside the limit. Count-based:
//! the server counts what it admitted and refused; no request's timing is asserted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use paceline::PacerConfig;
use paceline::throttle::{Limit, ThrottleConfig};
use paceline_async::Client;
use paceline_testkit::LoopbackServer;
use paceline_testkit::model::{Dialect, Latency, LimiterKind, LimiterSpec, ServerModel};

#[test]
fn thirty_two_tasks_at_a_hundred_per_second_for_ten_seconds_without_a_429() {
    const TASKS: usize = 32;
    const RATE: u64 = 100;
    const CAPACITY: u64 = 10;
    const SECONDS: u64 = 10;
    let model = ServerModel::new(1, SystemTime::now())
        .dialect(Dialect::None)
        .latency(Latency {
            base_ms: 2.0,
            jitter_ms: 3.0,
        })
        .limiter(LimiterSpec::new(LimiterKind::TokenBucket {
            capacity: CAPACITY,
            refill_per_s: RATE as f64,
        }));
    let server = LoopbackServer::start_model(model).unwrap();
    let throttle = ThrottleConfig::default().limit(Limit::per_second(RATE));
    let client = Client::new(PacerConfig::default().throttle(throttle));
    let url = format!("{}/items", server.url());
    let per_task: Vec<_> = (0..TASKS).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let other = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(SECONDS);
    smol::block_on(async {
        let tasks: Vec<_> = per_task
            .iter()
            .map(|done| {
                let (client, url, done, other) =
                    (client.clone(), url.clone(), done.clone(), other.clone());
                smol::spawn(async move {
                    while Instant::now() < end {
                        match client.get(&url).await {
                            Ok(r) if r.status() == 200 => done.fetch_add(1, Ordering::Relaxed),
                            _ => other.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await;
        }
    });
    let counts: Vec<u64> = per_task.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    let ok: u64 = counts.iter().sum();
    let received = server.received().len() as u64;
    let refused = received - ok;
    let allowed = CAPACITY + RATE * SECONDS;
    let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
    eprintln!("{ok} of {allowed} allowed done, {refused} refused; per task {min}..={max}");
    assert_eq!(
        refused, 0,
        "the server answered {refused} requests with 429"
    );
    assert_eq!(other.load(Ordering::Relaxed), 0);
    // A floor against pacing gone far too slow, not a figure: tasks woken late on a busy
    // machine lose a few % of real time, and late never means a 429.
    assert!(ok * 100 >= allowed * 80, "{ok} of {allowed} allowed");
    // Every task progresses: none gets less than a quarter of a fair share.
    let fair = ok / TASKS as u64;
    assert!(
        *min * 4 >= fair,
        "a task did {min} requests, the fair share is {fair}"
    );
}
