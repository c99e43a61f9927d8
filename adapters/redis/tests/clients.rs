//! The adapters' clients with the Redis stores, against the loopback server: async clients
//! sharing a budget under smol, and one client's 429 pausing another (each client its own
//! Pacer, as two processes would have). Counted on the server's side.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime};

use paceline::shared::SharedBudget;
use paceline::throttle::Limit;
use paceline::{Event, PacerConfig};
use paceline_redis::{AsyncRedisStore, RedisStore};
use paceline_testkit::model::{Dialect, Latency, LimiterKind, LimiterSpec, ServerModel};
use paceline_testkit::{LoopbackServer, RedisServer, Script, ScriptedResponse};

#[test]
fn async_clients_share_a_budget_under_smol() {
    if !RedisServer::available("async_clients_share_a_budget_under_smol") {
        return;
    }
    const RATE: u64 = 50;
    let redis = RedisServer::start().unwrap();
    let (api, model) = LoopbackServer::start_model_at(|_| {
        ServerModel::new(2, SystemTime::now())
            .dialect(Dialect::None)
            .latency(Latency {
                base_ms: 1.0,
                jitter_ms: 2.0,
            })
            .limiter(LimiterSpec::new(LimiterKind::TokenBucket {
                capacity: 5,
                refill_per_s: RATE as f64,
            }))
    })
    .unwrap();
    let url = format!("{}/items", api.url());
    let ok = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let end = started + Duration::from_secs(3);
    smol::block_on(async {
        let mut tasks = Vec::new();
        // Two clients, two Pacers: each alone would go at the whole rate.
        for _ in 0..2 {
            let budget = SharedBudget::new("async-clients", Limit::per_second(RATE));
            let client = paceline_async::Client::builder(PacerConfig::default().shared(budget))
                .shared_store(AsyncRedisStore::open(&redis.url()).unwrap())
                .build();
            for _ in 0..4 {
                let (client, url, ok) = (client.clone(), url.clone(), Arc::clone(&ok));
                tasks.push(smol::spawn(async move {
                    while Instant::now() < end {
                        let response = client.get(&url).await.unwrap();
                        assert_eq!(response.status(), 200);
                        ok.fetch_add(1, Relaxed);
                    }
                }));
            }
        }
        for t in tasks {
            t.await;
        }
    });
    let answers = model.answers();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("figures: 2 async clients x 4 tasks, {RATE}/s, {seconds:.2} s: {answers:?}");
    assert_eq!(
        (answers.status(429), answers.refused),
        (0, 0),
        "{answers:?}"
    );
    // At the shared rate, burst 1: about 150 in the 3 s (not 300, as two unshared clients
    // would try), and never more than the turns the run's length holds.
    let ok = ok.load(Relaxed);
    assert!(
        ok >= 135 && ok as f64 <= RATE as f64 * seconds + 1.0,
        "{ok} requests in {seconds:.2} s"
    );
}

#[test]
fn one_clients_retry_after_pauses_another() {
    if !RedisServer::available("one_clients_retry_after_pauses_another") {
        return;
    }
    let redis = RedisServer::start().unwrap();
    let api = LoopbackServer::start(
        Script::new()
            .route(
                "/a",
                [
                    ScriptedResponse::new(429).header("Retry-After", "2"),
                    ScriptedResponse::new(200),
                ],
            )
            .route("/b", [ScriptedResponse::new(200)]),
    )
    .unwrap();
    let budget = SharedBudget::new("paused-clients", Limit::per_second(100));
    let paused = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&paused);
    let a = paceline_ureq::Client::new(PacerConfig::default().shared(budget.clone()))
        .shared_store(RedisStore::open(&redis.url()).unwrap());
    let b = paceline_ureq::Client::new(PacerConfig::default().shared(budget))
        .shared_store(RedisStore::open(&redis.url()).unwrap())
        .on_event(move |e| {
            if matches!(e, Event::SharedPaused { .. }) {
                seen.fetch_add(1, Relaxed);
            }
        });
    let inspect = RedisStore::open(&redis.url()).unwrap();
    std::thread::scope(|s| {
        let first = s.spawn(|| a.get(&format!("{}/a", api.url())).unwrap());
        // Polled: until A's pause is in Redis.
        let deadline = Instant::now() + Duration::from_secs(5);
        while inspect
            .bucket("paused-clients")
            .unwrap()
            .is_none_or(|(state, _)| state.paused_until == 0)
        {
            assert!(Instant::now() < deadline, "the pause never reached Redis");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(b.get(&format!("{}/b", api.url())).unwrap().status(), 200);
        assert_eq!(first.join().unwrap().status(), 200);
    });
    let received = api.received();
    let at = |path: &str| {
        received
            .iter()
            .find(|r| r.path == path)
            .map(|r| r.at)
            .unwrap()
    };
    // B never saw the 429, and still waited out its Retry-After.
    let gap = at("/b").duration_since(at("/a"));
    assert!(gap >= Duration::from_secs(2), "{gap:?}");
    assert_eq!(paused.load(Relaxed), 1);
}
