//! `paceline extract` end to end through heavy chaos (issue 17, item 2): 100,000 records of a
//! list that changes while it is read, from the loopback server, where of all requests about
//! 20 % get a 429 (half with `Retry-After`, of 0 or 1 s, half without), 10 % a 500, 5 % a cut
//! connection and 2 % a `200` whose body is cut in half. Three seeds, each its own style
//! (cursor, `Link`, page token). Zero records lost, zero duplicated, none invented, no panic.
//!
//! "Lost" is judged by the dataset's ground truth: every record that existed for the whole walk
//! (`Truth::must_deliver`) must be in the output once; every record in the output must have
//! existed at some point (`Truth::ever`). The fractions of chaos are counted at the server
//! (`Answers`), not taken from the configuration. The same suite under the library drivers
//! (ureq, smol, async-std) is `tests/chaos.rs`.
//!
//! Pages of 5,000 records, not 1,000, and why: a 429 that no known limit explains (no
//! `X-RateLimit-Remaining: 0` or the like) starts the Pacer's adaptive discovery of a hidden
//! limit, and these 429s come whatever the rate. By its rules (AWS's adaptive retry mode) the
//! rate then falls to its floor of 0.5 requests a second within two or three 429s, and stays
//! there: extract has no flag to change that floor. At 1,000 records a page (some 160 requests)
//! a seed took 73-313 s (`the_same_in_pages_of_a_thousand`, ignored); at 5,000 (some 35
//! requests), 27-70 s, the three seeds at once. Exactness is what is checked, not speed.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use paceline_testkit::LoopbackServer;
use paceline_testkit::dataset::{DataStyle, DatasetSpec};
use paceline_testkit::model::{Answers, Chaos, SharedModel, Shares, Truth};

mod support;
use support::{temp_dir, text};

const BIN: &str = env!("CARGO_BIN_EXE_paceline");

/// Records at the start.
const RECORDS: u64 = 100_000;

/// Records a page: 20 pages and some 35 requests a seed (see the module docs for why not
/// 1,000).
const PAGE: u64 = 5_000;

/// The seeds, each with its style.
const RUNS: [(u64, DataStyle); 3] = [
    (1, DataStyle::Cursor),
    (2, DataStyle::Link),
    (3, DataStyle::Token),
];

/// 20 % 429s (half with a `Retry-After` of 0-1 s), 10 % 500s, 5 % cut connections, 2 %
/// truncated bodies: shares of all requests.
fn chaos() -> Chaos {
    Chaos {
        retry_after_s: Some([0, 1]),
        ..Chaos::from_shares(Shares {
            reset_before: 0.05,
            with_retry_after: 0.10,
            without_retry_after: 0.10,
            status_500: 0.10,
            truncated: 0.02,
        })
    }
}

/// A changing list of [`RECORDS`] in `style` on loopback, `page` records a page, with
/// [`chaos`]: the dataset's clock moves 100 ms a request answered, at 40 head inserts, 40 tail
/// inserts and 40 deletes a second (about four of each a request; the same changes on every
/// run of a seed).
struct ChaosList {
    _server: LoopbackServer,
    model: SharedModel,
    data: DatasetSpec,
}

impl ChaosList {
    fn start(style: DataStyle, seed: u64, page: u64) -> ChaosList {
        let mut data = DatasetSpec::new(style, RECORDS)
            .page_size(page)
            .mutations(40.0, 40.0, 40.0)
            .by_request(100.0);
        data.max_page_size = page;
        let (server, model, data) = LoopbackServer::start_dataset(data, seed, chaos()).unwrap();
        ChaosList {
            _server: server,
            model,
            data,
        }
    }
}

/// Each record's id in the file, in its order.
fn ids(path: &Path) -> Vec<u64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line: {line:?}: {e}"));
            v["id"].as_u64().unwrap_or_else(|| panic!("no id: {line}"))
        })
        .collect()
}

/// Asserts the output against the truth: nothing missing, twice or invented; and that the list
/// did change (inserts at both ends, deletes) while it was read.
#[track_caller]
fn assert_exactly_once(what: &str, seen: &[u64], truth: &Truth) {
    let found = truth.compare(seen.iter().copied());
    assert!(found.is_exact(), "{what}: {found}");
    let c = truth.changes(RECORDS);
    assert!(
        c.head >= 50 && c.tail >= 50 && c.deleted >= 50,
        "{what}: too few changes to mean anything: {c:?}"
    );
    assert!(truth.must_deliver.len() as u64 > RECORDS - 1_000, "{what}");
}

/// Asserts that the server really sent the chaos asked for, counted on its side: each seed
/// got 429s with and without `Retry-After`, 500s and cut connections; over the three seeds
/// (some 100 requests, so loose bounds), of all requests 429s were 13-27 % (30-70 % of them
/// with `Retry-After`), 500s 5-15 %, cut connections 2-10 %, and some bodies were truncated.
#[track_caller]
fn assert_chaos_happened(runs: &[(String, Answers)]) {
    let mut all = Answers::default();
    for (what, a) in runs {
        let (t429, ra429) = (a.status(429), a.with_retry_after(429));
        assert!(
            ra429 >= 1 && t429 > ra429 && a.status(500) >= 1 && a.resets >= 1,
            "{what}: {a:?}"
        );
        for (status, n) in &a.statuses {
            *all.statuses.entry(*status).or_insert(0) += n;
        }
        *all.with_retry_after.entry(429).or_insert(0) += ra429;
        all.resets += a.resets;
        all.truncated += a.truncated;
    }
    let n = all.requests() as f64;
    let share = |k: u64| k as f64 / n;
    let (t429, ra429) = (all.status(429), all.with_retry_after(429));
    assert!((0.13..=0.27).contains(&share(t429)), "{all:?}");
    assert!(
        (0.3..=0.7).contains(&(ra429 as f64 / t429 as f64)),
        "{all:?}"
    );
    assert!((0.05..=0.15).contains(&share(all.status(500))), "{all:?}");
    assert!((0.02..=0.10).contains(&share(all.resets)), "{all:?}");
    assert!(all.truncated >= 1, "{all:?}");
}

/// Runs extract over one seed's list; what it printed and how long it took.
fn extract(list: &ChaosList, dir: &Path, out: &Path) -> (Output, Duration) {
    let spec = dir.join("spec.json");
    std::fs::write(&spec, serde_json::to_vec(&list.data.page_spec()).unwrap()).unwrap();
    let started = Instant::now();
    let o = Command::new(BIN)
        .arg("extract")
        .arg(list.data.url())
        .arg("--page-spec")
        .arg(&spec)
        .args(["--backoff-ms", "5", "--max-attempts", "10", "-o"])
        .arg(out)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (o, started.elapsed())
}

/// Extracts each seed's list, `page` records a page, all three at once (each run is mostly
/// waiting), and checks each.
fn three_seeds(page: u64) {
    let started = Instant::now();
    let runs: Vec<_> = RUNS
        .into_iter()
        .map(|(seed, style)| {
            std::thread::spawn(move || {
                let what = format!("seed {seed} ({})", style.as_str());
                let list = ChaosList::start(style, seed, page);
                let dir = temp_dir(&format!("chaos-{seed}"));
                let out = dir.join("out.jsonl");
                let (o, took) = extract(&list, &dir, &out);
                let stderr = text(&o.stderr);
                assert!(!stderr.contains("panicked"), "{what}: {stderr}");
                assert_eq!(o.status.code(), Some(0), "{what}: {stderr}");
                assert!(stderr.contains("complete ("), "{what}: {stderr}");
                let seen = ids(&out);
                let truth = list.model.truth().unwrap();
                assert_exactly_once(&what, &seen, &truth);
                let answers = list.model.answers();
                // The summary counts what the server counted.
                assert!(
                    stderr.contains(&format!("requests   {}\n", answers.requests())),
                    "{what}: the server answered {}: {stderr}",
                    answers.requests()
                );
                assert!(
                    stderr.contains(&format!("429s       {}\n", answers.status(429))),
                    "{what}: the server sent {} 429s: {stderr}",
                    answers.status(429)
                );
                eprintln!(
                    "{what}: {} records in {:.1} s; {} requests: {} × 429 ({} with Retry-After), \
                     {} × 500, {} cut, {} truncated; {} ever existed, {} throughout",
                    seen.len(),
                    took.as_secs_f64(),
                    answers.requests(),
                    answers.status(429),
                    answers.with_retry_after(429),
                    answers.status(500),
                    answers.resets,
                    answers.truncated,
                    truth.ever.len(),
                    truth.must_deliver.len()
                );
                std::fs::remove_dir_all(dir).unwrap();
                (what, answers)
            })
        })
        .collect();
    let mut failed = Vec::new();
    let mut answers = Vec::new();
    for run in runs {
        match run.join() {
            Ok(a) => answers.push(a),
            Err(e) => failed.push(
                e.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default(),
            ),
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
    assert_chaos_happened(&answers);
    eprintln!("three seeds in {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn a_hundred_thousand_records_through_chaos_exactly_once_for_three_seeds() {
    three_seeds(PAGE);
}

/// The same in pages of 1,000: about 160 requests a seed, minutes (measured 73, 265 and
/// 313 s for the three seeds at once, debug build, 2 shared cores): see the module docs. Run
/// with `cargo test -p paceline-cli --test extract_chaos -- --ignored --nocapture`.
#[test]
#[ignore = "minutes: the adaptive pacing's floor of 0.5 requests a second"]
fn the_same_in_pages_of_a_thousand() {
    three_seeds(1_000);
}
