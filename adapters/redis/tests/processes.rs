//! Processes sharing one budget in Redis, against the loopback server's token bucket, counted
//! on the server's side (no timing is asserted on any single request).
//!
//! Each worker process is this test binary again, running [`child_worker`] (ignored in a
//! normal run): one `paceline_ureq::Client` with a [`SharedBudget`] in a [`RedisStore`], its
//! threads requesting until a deadline every process shares. It prints one `RESULT {json}`
//! line with what it counted.
//!
//! - `four_processes_share_one_hundred_per_second`: 4 processes × 8 workers, 100 req/s
//!   burst 10 (paced 2 % under, as `paceline extract --rate` is), 20 s. Every request the server received, in every 1 s window: at most 100 +
//!   the burst; admitted ÷ (100/s × the run) ≥ 95 %; no 429.
//! - `redis_killed_mid_run_fail_closed` / `…_fail_open`: 2 processes × 4 workers at 50 req/s;
//!   Redis killed 1.5 s in and started again 2 s later. Closed: nothing reaches the API once
//!   the reservations taken before the kill are spent, every process says it waited, and
//!   resumes. Open: the processes go on at their local fraction (40 % each), and say so.
//!   Neither panics; both finish; no 429.
//!
//! `cargo test -p paceline-redis --test processes -- --nocapture` shows each run's figures.

use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use paceline::shared::{OnUnreachable, SharedBudget};
use paceline::throttle::Limit;
use paceline::{Event, PacerConfig};
use paceline_redis::RedisStore;
use paceline_testkit::model::{Dialect, Latency, LimiterKind, LimiterSpec, ServerModel};
use paceline_testkit::{LoopbackServer, RedisServer};
use serde_json::{Value, json};

/// The runs measure rates in real time: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Run by the parent tests in child processes (see the module docs); configured by
/// `PACELINE_CHILD_*` variables.
#[test]
#[ignore = "a worker process of the other tests"]
fn child_worker() {
    let var = |name: &str| std::env::var(format!("PACELINE_CHILD_{name}")).unwrap();
    let rate: u64 = var("RATE").parse().unwrap();
    let burst: u64 = var("BURST").parse().unwrap();
    let workers: usize = var("WORKERS").parse().unwrap();
    let end = UNIX_EPOCH + Duration::from_millis(var("END_MS").parse().unwrap());
    let on_unreachable = match var("FRACTION").parse::<f64>().unwrap() {
        0.0 => OnUnreachable::Wait,
        fraction => OnUnreachable::Local { fraction },
    };
    // Paced a hair under, as `paceline extract` paces its --rate: what the server sees is
    // the send times plus the network's and the scheduler's jitter, and a limit at exactly
    // the server's rate has no room for it.
    let limit = Limit::per_second(rate).burst(burst).with_margin();
    let budget = SharedBudget::new(&var("KEY"), limit)
        .on_unreachable(on_unreachable)
        .probe_every(Duration::from_millis(250));
    let counts: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
    let seen = Arc::clone(&counts);
    let store = RedisStore::open(&var("REDIS")).unwrap();
    let client = paceline_ureq::Client::new(PacerConfig::default().shared(budget))
        .shared_store(store)
        .on_event(move |e| {
            let i = match e {
                Event::SharedUnreachable { fallback, .. } => {
                    assert_eq!(*fallback, on_unreachable);
                    0
                }
                Event::SharedRecovered { .. } => 1,
                _ => return,
            };
            seen[i].fetch_add(1, Relaxed);
        });
    let url = var("API");
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                while SystemTime::now() < end {
                    let i = match client.get(&url) {
                        Ok(r) if r.status() == 200 => 2,
                        _ => 3,
                    };
                    counts[i].fetch_add(1, Relaxed);
                }
            });
        }
    });
    let [unreachable, recovered, ok, other] = counts.each_ref().map(|c| c.load(Relaxed));
    println!(
        "RESULT {}",
        json!({"unreachable": unreachable, "recovered": recovered, "ok": ok, "other": other})
    );
}

/// One run's set-up.
struct Run {
    processes: usize,
    workers: usize,
    rate: u64,
    burst: u64,
    seconds: f64,
    /// `OnUnreachable::Local`'s fraction; 0: wait.
    fraction: f64,
}

/// What the server saw (arrival times since the run's start, in s) and the children said.
struct Seen {
    arrivals: Vec<f64>,
    ok: u64,
    refused: u64,
    too_many: u64,
    children: Vec<Value>,
}

fn model(rate: u64, capacity: u64) -> ServerModel {
    ServerModel::new(16, SystemTime::now())
        .dialect(Dialect::None)
        .latency(Latency {
            base_ms: 1.0,
            jitter_ms: 2.0,
        })
        .limiter(LimiterSpec::new(LimiterKind::TokenBucket {
            capacity,
            refill_per_s: rate as f64,
        }))
}

fn spawn(run: &Run, redis: &RedisServer, api: &str, key: &str, end: SystemTime) -> Child {
    let end_ms = end.duration_since(UNIX_EPOCH).unwrap().as_millis();
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child_worker",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PACELINE_CHILD_RATE", run.rate.to_string())
        .env("PACELINE_CHILD_BURST", run.burst.to_string())
        .env("PACELINE_CHILD_WORKERS", run.workers.to_string())
        .env("PACELINE_CHILD_END_MS", end_ms.to_string())
        .env("PACELINE_CHILD_FRACTION", run.fraction.to_string())
        .env("PACELINE_CHILD_KEY", key)
        .env("PACELINE_CHILD_REDIS", redis.url())
        .env("PACELINE_CHILD_API", api)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs `run` against a fresh API server and `redis`; `during` is called (on this thread)
/// while the children run, with the run's start instant.
fn execute(
    run: &Run,
    redis: &mut RedisServer,
    during: impl FnOnce(&mut RedisServer, Instant),
) -> Seen {
    let (api, model) = LoopbackServer::start_model_at(|_| model(run.rate, 2 * run.burst)).unwrap();
    let url = format!("{}/items", api.url());
    let started = Instant::now();
    let end = SystemTime::now() + Duration::from_secs_f64(run.seconds);
    let key = format!("run-{}", std::process::id());
    let mut children = Children(
        (0..run.processes)
            .map(|_| spawn(run, redis, &url, &key, end))
            .collect(),
    );
    during(redis, started);
    let deadline = started + Duration::from_secs_f64(run.seconds + 20.0);
    let mut results = Vec::new();
    for child in &mut children.0 {
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let (mut out, mut err) = (String::new(), String::new());
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(
            status.success(),
            "a worker process failed ({status}): {out}\n{err}"
        );
        let line = out
            .lines()
            .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r))
            .unwrap_or_else(|| panic!("no RESULT line: {out}\n{err}"));
        results.push(serde_json::from_str(line).unwrap());
    }
    let arrivals = api
        .received()
        .iter()
        .map(|r| r.at.saturating_duration_since(started).as_secs_f64())
        .collect();
    let answers = model.answers();
    Seen {
        arrivals,
        ok: answers.status(200),
        refused: answers.refused,
        too_many: answers.status(429),
        children: results,
    }
}

/// The worker processes, killed (and waited for) if the test ends before they do.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// The most arrivals in any window `[t, t + 1 s)`.
fn busiest_second(arrivals: &[f64]) -> usize {
    let mut a = arrivals.to_vec();
    a.sort_by(f64::total_cmp);
    (0..a.len())
        .map(|i| a[i..].iter().take_while(|&&x| x < a[i] + 1.0).count())
        .max()
        .unwrap_or(0)
}

fn sum(children: &[Value], field: &str) -> u64 {
    children.iter().map(|c| c[field].as_u64().unwrap()).sum()
}

#[test]
fn four_processes_share_one_hundred_per_second() {
    if !RedisServer::available("four_processes_share_one_hundred_per_second") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut redis = RedisServer::start().unwrap();
    let run = Run {
        processes: 4,
        workers: 8,
        rate: 100,
        burst: 10,
        seconds: 20.0,
        fraction: 0.0,
    };
    let seen = execute(&run, &mut redis, |_, _| {});
    let first = seen.arrivals.iter().copied().fold(f64::INFINITY, f64::min);
    let last = seen.arrivals.iter().copied().fold(0.0, f64::max);
    // The time the requests occupied on the limiter's clock: first to last, plus one interval.
    let seconds = last - first + 1.0 / run.rate as f64;
    let utilisation = seen.ok as f64 / (run.rate as f64 * seconds);
    let busiest = busiest_second(&seen.arrivals);
    eprintln!(
        "figures: 4 processes x 8 workers, 100 req/s burst 10, {seconds:.2} s: {} requests, \
         {} ok, {} x 429, busiest 1 s window {busiest}, utilisation {:.1} %",
        seen.arrivals.len(),
        seen.ok,
        seen.too_many,
        utilisation * 100.0
    );
    assert_eq!(
        (seen.too_many, seen.refused),
        (0, 0),
        "the server refused some"
    );
    assert_eq!(sum(&seen.children, "other"), 0);
    assert_eq!(sum(&seen.children, "ok"), seen.ok);
    assert!(
        busiest as u64 <= run.rate + run.burst,
        "{busiest} requests in one second"
    );
    assert!(utilisation >= 0.95, "utilisation {utilisation}");
}

/// Kills Redis 1.5 s into a 6 s run and starts it again 2 s later; returns what was seen
/// and the outage's bounds (s since the start).
fn outage(fraction: f64, test: &str) -> Option<(Seen, (f64, f64))> {
    if !RedisServer::available(test) {
        return None;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut redis = RedisServer::start().unwrap();
    let run = Run {
        processes: 2,
        workers: 4,
        rate: 50,
        burst: 5,
        seconds: 6.0,
        fraction,
    };
    let mut bounds = (0.0, 0.0);
    let seen = execute(&run, &mut redis, |redis, started| {
        // Waiting for a moment in the run is what this test is: a bounded sleep, not a poll.
        std::thread::sleep(Duration::from_millis(1500).saturating_sub(started.elapsed()));
        redis.stop();
        bounds.0 = started.elapsed().as_secs_f64();
        std::thread::sleep(Duration::from_secs(2));
        // From here on, a request may be granted again.
        bounds.1 = started.elapsed().as_secs_f64();
        redis.restart().unwrap();
    });
    let during = seen
        .arrivals
        .iter()
        .filter(|&&t| t > bounds.0 && t < bounds.1)
        .count();
    let mut bins = [0u32; 60];
    for &t in &seen.arrivals {
        if let Some(b) = bins.get_mut((t * 10.0) as usize) {
            *b += 1;
        }
    }
    eprintln!("{test}: arrivals per 100 ms: {bins:?}");
    eprintln!(
        "figures: {test}: Redis down {:.2}..{:.2} s, {} requests ({during} while down), {} ok, \
         {} x 429, busiest 1 s window {}, children {:?}",
        bounds.0,
        bounds.1,
        seen.arrivals.len(),
        seen.ok,
        seen.too_many,
        busiest_second(&seen.arrivals),
        seen.children
    );
    // Every process saw the outage and its end, once each.
    for c in &seen.children {
        assert_eq!(
            (c["unreachable"].as_u64(), c["recovered"].as_u64()),
            (Some(1), Some(1)),
            "{c}"
        );
        assert_eq!(c["other"].as_u64(), Some(0), "{c}");
    }
    assert_eq!(
        (seen.too_many, seen.refused),
        (0, 0),
        "the server refused some"
    );
    // Failing closed, never more than the limit. Failing open, a Redis that comes back empty
    // (nothing is persisted here) has forgotten what was spent and grants its whole burst
    // again, on top of the requests the local fractions just sent: one burst more.
    let bursts = if fraction > 0.0 { 2 } else { 1 };
    let busiest = busiest_second(&seen.arrivals) as u64;
    assert!(
        busiest <= run.rate + bursts * run.burst,
        "{busiest} in one second"
    );
    // The run went on after Redis came back.
    assert!(seen.arrivals.iter().any(|&t| t > bounds.1 + 0.5));
    Some((seen, bounds))
}

#[test]
fn redis_killed_mid_run_fail_closed() {
    let Some((seen, (down, up))) = outage(0.0, "redis_killed_mid_run_fail_closed") else {
        return;
    };
    // Turns reserved before the kill (at most `max_ahead`, 1 s, ahead) are still used; after
    // them, nothing until Redis is back.
    let late = seen
        .arrivals
        .iter()
        .filter(|&&t| t > down + 1.1 && t < up)
        .count();
    assert_eq!(late, 0, "requests went out while the store was down");
}

#[test]
fn redis_killed_mid_run_fail_open() {
    // 40 % each: 80 % of the rate together, so that the API's bucket has room for the burst
    // a restarted (empty) Redis grants when it is back.
    let Some((seen, (down, up))) = outage(0.4, "redis_killed_mid_run_fail_open") else {
        return;
    };
    // After the turns reserved before the kill: the local fractions, 20 req/s each.
    let local = seen
        .arrivals
        .iter()
        .filter(|&&t| t > down + 1.1 && t < up)
        .count() as f64;
    let span = up - down - 1.1;
    assert!(
        // Two buckets of burst 1, and an arrival's jitter at each end of the window.
        local >= 0.8 * 40.0 * span && local <= 40.0 * span + 4.0,
        "{local} requests in {span:.2} s while Redis was down"
    );
}
