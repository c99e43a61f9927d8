//! The Redis store against a `redis-server` of the test's own: the script answers exactly as
//! the core's reference bucket, keys expire, pauses reach every process, and an unreachable
//! or restarted server is handled.

use std::time::{Duration, Instant};

use paceline::shared::{BucketState, Reply, SharedBudget, SharedSignal};
use paceline::throttle::Limit;
use paceline_redis::{AsyncRedisStore, RedisStore, StoreError};
use paceline_testkit::RedisServer;

/// Redis's clock, µs.
fn redis_time(conn: &mut redis::Connection) -> u64 {
    let (s, us): (u64, u64) = redis::cmd("TIME").query(conn).unwrap();
    s * 1_000_000 + us
}

/// For random buckets and operations, what Redis answered and the state it kept are exactly
/// what the reference ([`BucketState`]) answers and keeps at some instant between the
/// `TIME`s read just before and just after the call.
#[test]
fn the_script_is_the_reference_bucket() {
    if !RedisServer::available("the_script_is_the_reference_bucket") {
        return;
    }
    let server = RedisServer::start().unwrap();
    let store = RedisStore::open(&server.url()).unwrap();
    let mut conn = redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let mut rng = fastrand::Rng::with_seed(16);
    let budgets: Vec<SharedBudget> = (0..12)
        .map(|i| {
            let count = rng.u64(1..1000);
            let per = Duration::from_micros(rng.u64(1..5_000_000));
            let burst = rng.u64(1..6);
            SharedBudget::new(&format!("prop-{i}"), Limit::new(count, per).burst(burst))
                .max_ahead(Duration::from_micros(rng.u64(0..3_000_000)))
        })
        .collect();
    let (mut granted, mut refused, mut paused) = (0, 0, 0);
    for _ in 0..600 {
        let b = &budgets[rng.usize(..budgets.len())];
        let before = store
            .bucket(&b.key)
            .unwrap()
            .map(|(s, _)| s)
            .unwrap_or_default();
        let t0 = redis_time(&mut conn);
        let pause = rng.u8(..10) == 0;
        let (reply, tokens) = if pause {
            let wait = Duration::from_micros(rng.u64(0..2_000_000));
            store
                .try_publish(&SharedSignal::Pause {
                    key: b.key.as_str().into(),
                    wait,
                })
                .unwrap();
            (None, wait)
        } else {
            let r = b.reservation(rng.u64(1..=b.limit.burst));
            let reply = store.try_reserve(&r).unwrap();
            (Some((reply, r)), Duration::ZERO)
        };
        let t1 = redis_time(&mut conn);
        let (after, ttl) = store.bucket(&b.key).unwrap().expect("the bucket is kept");
        let matches = (t0..=t1).any(|now| {
            let mut s = before;
            match &reply {
                Some((reply, r)) => s.reserve(now, r) == *reply && s == after,
                None => {
                    s.pause(now, tokens.as_micros() as u64);
                    s == after
                }
            }
        });
        assert!(
            matches,
            "{b:?}: from {before:?} in [{t0}, {t1}] Redis answered {reply:?} and kept {after:?}"
        );
        // The key lives as long as its state matters, and a second more.
        // (Set at the script's instant in whole ms rounded up, on a ms clock; read later.)
        let (most, least) = (after.ttl_us(t0) + 2_000, after.ttl_us(t1));
        let ttl = ttl.as_micros() as u64;
        assert!(
            ttl <= most && ttl + 50_000 >= least,
            "TTL {ttl} µs, expected {least}..={most}"
        );
        match reply {
            Some((Reply::Granted { paused: p, .. }, _)) => {
                granted += 1;
                paused += usize::from(p);
            }
            Some(_) => refused += 1,
            None => {}
        }
    }
    // The sequence went through every branch.
    assert!(
        granted > 50 && refused > 50 && paused > 0,
        "{granted} {refused} {paused}"
    );
}

#[test]
fn idle_buckets_disappear() {
    if !RedisServer::available("idle_buckets_disappear") {
        return;
    }
    let server = RedisServer::start().unwrap();
    let store = RedisStore::open(&server.url()).unwrap();
    let r = SharedBudget::new("idle", Limit::per_second(1000)).reservation(1);
    assert!(matches!(store.try_reserve(&r), Ok(Reply::Granted { .. })));
    let (_, ttl) = store
        .bucket("idle")
        .unwrap()
        .expect("kept while it matters");
    assert!(
        ttl > Duration::ZERO && ttl <= Duration::from_millis(1_002),
        "{ttl:?}"
    );
    // Polled: gone once the TTL has passed.
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.bucket("idle").unwrap().is_some() {
        assert!(Instant::now() < deadline, "the idle bucket never expired");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_pause_published_by_one_process_holds_the_others() {
    if !RedisServer::available("a_pause_published_by_one_process_holds_the_others") {
        return;
    }
    let server = RedisServer::start().unwrap();
    let (a, b) = (
        RedisStore::open(&server.url()).unwrap(),
        RedisStore::open(&server.url()).unwrap(),
    );
    let budget = SharedBudget::new("paused", Limit::per_second(100));
    assert!(matches!(
        b.try_reserve(&budget.reservation(1)),
        Ok(Reply::Granted { paused: false, .. })
    ));
    a.try_publish(&SharedSignal::Pause {
        key: "paused".into(),
        wait: Duration::from_secs(30),
    })
    .unwrap();
    let Ok(Reply::NotYet { wait, paused: true }) = b.try_reserve(&budget.reservation(1)) else {
        panic!("not paused")
    };
    // 30 s, less the second a turn may be reserved ahead, less the time since the pause.
    assert!(
        wait > Duration::from_secs(28) && wait <= Duration::from_secs(29),
        "{wait:?}"
    );
}

#[test]
fn unreachable_then_restarted() {
    if !RedisServer::available("unreachable_then_restarted") {
        return;
    }
    let mut server = RedisServer::start().unwrap();
    let store = RedisStore::open(&server.url()).unwrap();
    let r = SharedBudget::new("restart", Limit::per_second(100)).reservation(1);
    assert!(matches!(store.try_reserve(&r), Ok(Reply::Granted { .. })));
    server.stop();
    let err = store.try_reserve(&r).unwrap_err();
    assert!(matches!(err, StoreError::Unreachable(_)), "{err}");
    assert_eq!(
        paceline_ureq::SharedStore::reserve(&store, &r),
        Reply::Unreachable
    );
    // A fresh server knows no script: EVALSHA's NOSCRIPT loads it again, transparently.
    server.restart().unwrap();
    assert!(matches!(store.try_reserve(&r), Ok(Reply::Granted { .. })));
}

#[test]
fn the_async_store_under_smol() {
    if !RedisServer::available("the_async_store_under_smol") {
        return;
    }
    let mut server = RedisServer::start().unwrap();
    let store = AsyncRedisStore::open(&server.url()).unwrap();
    let r = SharedBudget::new("async", Limit::per_second(10)).reservation(1);
    smol::block_on(async {
        let first = store.try_reserve(&r).await.unwrap();
        let second = store.try_reserve(&r).await.unwrap();
        assert!(
            matches!(first, Reply::Granted { wait, .. } if wait.is_zero()),
            "{first:?}"
        );
        // 100 ms after the first, less the time between the two calls.
        assert!(
            matches!(second, Reply::Granted { wait, .. }
                if wait > Duration::from_millis(50) && wait <= Duration::from_millis(100)),
            "{second:?}"
        );
        let state = store.bucket("async").await.unwrap();
        assert!(state.is_some_and(|s| s != BucketState::default()));
    });
    server.stop();
    smol::block_on(async {
        let err = store.try_reserve(&r).await.unwrap_err();
        assert!(matches!(err, StoreError::Unreachable(_)), "{err}");
    });
    server.restart().unwrap();
    smol::block_on(async {
        let again = store.try_reserve(&r).await.unwrap();
        assert!(matches!(again, Reply::Granted { .. }), "{again:?}");
    });
}
