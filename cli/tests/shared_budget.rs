//! `paceline extract --shared-budget redis://127.0.0.1:PORT/KEY`: two extractions of one API
//! from two processes, together under its limit (a token bucket of 20 req/s, burst 5, in
//! the loopback server), with no 429 — where the same two with `--rate` alone, each sure it
//! owns the whole limit, are refused. Counted on the server's side. Needs `redis-server`
//! (`.ci/run` installs it): outside CI a missing one is a printed skip, under `CI` a failure.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Instant, SystemTime};

use paceline_testkit::dataset::{DataStyle, Dataset, DatasetSpec};
use paceline_testkit::model::{
    Answers, Dialect, Latency, LimiterKind, LimiterSpec, ServerModel, SharedModel,
};
use paceline_testkit::{LoopbackServer, RedisServer};

mod support;
use support::{temp_dir, text};

const BIN: &str = env!("CARGO_BIN_EXE_paceline");
const RATE: u64 = 20;
const RECORDS: u64 = 400;

/// The runs measure a rate in real time: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A cursor list of `RECORDS` records, 10 a page, behind a 20 req/s token bucket (burst 5)
/// that says nothing of itself in headers.
fn api() -> (LoopbackServer, SharedModel, DatasetSpec) {
    let mut spec = None;
    let (server, model) = LoopbackServer::start_model_at(|base| {
        let mut data = DatasetSpec::new(DataStyle::Cursor, RECORDS).page_size(10);
        data.base_url = base.to_owned();
        spec = Some(data.clone());
        ServerModel::new(7, SystemTime::now())
            .dialect(Dialect::None)
            .latency(Latency {
                base_ms: 0.0,
                jitter_ms: 0.0,
            })
            .limiter(LimiterSpec::new(LimiterKind::TokenBucket {
                capacity: 5,
                refill_per_s: RATE as f64,
            }))
            .app(Dataset::new(data, 7))
    })
    .unwrap();
    (server, model, spec.unwrap())
}

/// Two `paceline extract`s of the list at once, each with `flags`; their outputs.
fn two_extracts(dir: &Path, data: &DatasetSpec, flags: &[&str]) -> [Output; 2] {
    let spec = dir.join("spec.json");
    std::fs::write(&spec, serde_json::to_vec(&data.page_spec()).unwrap()).unwrap();
    let children = [0, 1].map(|i| {
        Command::new(BIN)
            .arg("extract")
            .arg(data.url())
            .arg("--page-spec")
            .arg(&spec)
            .arg("-o")
            .arg(dir.join(format!("out{i}.jsonl")))
            .args(["--rate", &format!("{RATE}/s")])
            .args(flags)
            .env_remove("RUST_LOG")
            .env("XDG_STATE_HOME", dir.join("state"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    });
    children.map(|c| c.wait_with_output().unwrap())
}

/// The most requests the server received in any window `[t, t + 1 s)`.
fn busiest_second(server: &LoopbackServer) -> usize {
    let mut at: Vec<Instant> = server.received().iter().map(|r| r.at).collect();
    at.sort();
    (0..at.len())
        .map(|i| {
            at[i..]
                .iter()
                .take_while(|&&t| t.duration_since(at[i]).as_secs_f64() < 1.0)
                .count()
        })
        .max()
        .unwrap_or(0)
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count()
}

fn refused(a: &Answers) -> (u64, u64) {
    (a.status(429), a.refused)
}

#[test]
fn two_extracts_share_one_limit_through_redis() {
    if !RedisServer::available("two_extracts_share_one_limit_through_redis") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let redis = RedisServer::start().unwrap();
    let dir = temp_dir("shared-budget");

    // Without sharing: each process paces itself to the whole limit; together they are
    // twice too fast, and the server refuses.
    let (server, model, data) = api();
    let (alone_dir, dir) = (dir.join("alone"), dir.join("shared"));
    std::fs::create_dir_all(&alone_dir).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    for o in two_extracts(&alone_dir, &data, &[]) {
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    }
    let alone = model.answers();
    assert!(
        refused(&alone).0 > 0,
        "two unshared extracts were never refused: {alone:?}"
    );
    drop(server);

    // Shared in Redis: together at the limit, never refused, every record written.
    let (server, model, data) = api();
    let url = format!("redis://127.0.0.1:{}/extract-test", redis.port());
    let started = Instant::now();
    let outputs = two_extracts(&dir, &data, &["--shared-budget", &url]);
    let seconds = started.elapsed().as_secs_f64();
    for (i, o) in outputs.iter().enumerate() {
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert_eq!(lines(&dir.join(format!("out{i}.jsonl"))), RECORDS as usize);
    }
    let shared = model.answers();
    let busiest = busiest_second(&server);
    eprintln!(
        "figures: two extracts, unshared: {} requests, {} x 429; shared: {} requests in \
         {seconds:.1} s, {} x 429, busiest 1 s window {busiest}",
        alone.requests(),
        alone.status(429),
        shared.requests(),
        shared.status(429),
    );
    assert_eq!(refused(&shared), (0, 0), "{shared:?}");
    // The limit (20 a second) and the one unit of burst the shared budget allows.
    assert!(
        busiest as u64 <= RATE + 1,
        "{busiest} requests in one second"
    );
    std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
}
