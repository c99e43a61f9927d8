//! The library drivers through heavy chaos (issue 17, item 2): the ureq page iterator and the
//! async one under smol and under async-std each walk 100,000 records of a list that changes
//! while it is read, from the loopback server, where of all requests about 20 % get a 429
//! (half with `Retry-After` of 0 or 1 s, half without), 10 % a 500, 5 % a cut connection and
//! 2 % a `200` whose body is cut in half. Three seeds (each its own style: cursor, `Link`, page
//! token) × three drivers. Zero records lost (every record present for the whole walk is
//! delivered), zero duplicated, none invented, no error, no panic. The chaos is counted at the
//! server. The same through `paceline extract` is `cli/tests/extract_chaos.rs`.
//!
//! The Pacer: a 5 ms backoff, ten attempts, and adaptive discovery floored at 20 requests a
//! second instead of 0.5. A 429 that no known limit explains starts adaptive pacing, and these
//! 429s come at any rate: by its rules the rate then falls towards the floor (measured: at the
//! default floor of 0.5/s a walk of these 100 pages took 73-313 s through `paceline extract`).
//! The floor keeps each walk to seconds; what is checked is what reaches the caller.

use std::time::{Duration, Instant};

use paceline::PacerConfig;
use paceline::paginate::{PageSpec, RequestTemplate};
use paceline::retry::RetryPolicy;
use paceline::throttle::{AdaptiveConfig, ThrottleConfig};
use paceline_testkit::LoopbackServer;
use paceline_testkit::dataset::{DataStyle, DatasetSpec};
use paceline_testkit::model::{Answers, Chaos, SharedModel, Shares, Truth};
use serde_json::Value;

/// Records at the start.
const RECORDS: u64 = 100_000;

/// Records a page (the dataset's largest).
const PAGE: u64 = 1_000;

/// The seeds, each with its style.
const RUNS: [(u64, DataStyle); 3] = [
    (1, DataStyle::Cursor),
    (2, DataStyle::Link),
    (3, DataStyle::Token),
];

/// Who walks the list.
#[derive(Debug, Clone, Copy)]
enum Driver {
    Ureq,
    Smol,
    AsyncStd,
}

const DRIVERS: [Driver; 3] = [Driver::Ureq, Driver::Smol, Driver::AsyncStd];

fn config() -> PacerConfig {
    let mut adaptive = AdaptiveConfig::default();
    adaptive.min_rate = 20.0;
    PacerConfig::default()
        .retry(
            RetryPolicy::default()
                .base(Duration::from_millis(5))
                .max_attempts(10),
        )
        .throttle(ThrottleConfig::default().adaptive(adaptive))
}

impl Driver {
    /// Walks the list to its end: the ids delivered, and the error that ended it, if one did.
    fn walk(self, spec: PageSpec, template: RequestTemplate) -> (Vec<u64>, Option<String>) {
        let id = |r: &[u8]| -> u64 {
            serde_json::from_slice::<Value>(r).unwrap()["id"]
                .as_u64()
                .unwrap()
        };
        match self {
            Driver::Ureq => {
                let client = paceline_ureq::Client::new(config());
                let pages =
                    match client.pages(Some(spec), template, paceline_ureq::PageOptions::new()) {
                        Ok(p) => p,
                        Err(e) => return (Vec::new(), Some(e.to_string())),
                    };
                let (mut got, mut err) = (Vec::new(), None);
                for r in pages {
                    match r {
                        Ok(r) => got.push(id(&r)),
                        Err(e) => {
                            err = Some(e.to_string());
                            break;
                        }
                    }
                }
                (got, err)
            }
            _ => {
                let walk = async {
                    let client = paceline_async::Client::new(config());
                    let options = paceline_async::PageOptions::new();
                    let mut pages = match client.pages(Some(spec), template, options).await {
                        Ok(p) => p,
                        Err(e) => return (Vec::new(), Some(e.to_string())),
                    };
                    let (mut got, mut err) = (Vec::new(), None);
                    loop {
                        match pages.next_record().await {
                            Some(Ok(r)) => got.push(id(&r)),
                            Some(Err(e)) => {
                                err = Some(e.to_string());
                                break;
                            }
                            None => break,
                        }
                    }
                    (got, err)
                };
                match self {
                    Driver::AsyncStd => async_std::task::block_on(walk),
                    _ => smol::block_on(walk),
                }
            }
        }
    }
}

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

/// A changing list of [`RECORDS`] in `style` on loopback, with [`chaos`]: the dataset's clock
/// moves 100 ms a request answered, at 20 head inserts, 20 tail inserts and 20 deletes a
/// second (about two of each a request).
fn chaos_list(style: DataStyle, seed: u64) -> (LoopbackServer, SharedModel, DatasetSpec) {
    let data = DatasetSpec::new(style, RECORDS)
        .page_size(PAGE)
        .mutations(20.0, 20.0, 20.0)
        .by_request(100.0);
    let (server, model, data) =
        LoopbackServer::start_dataset(data, seed, chaos()).expect("loopback server");
    (server, model, data)
}

/// Asserts the delivery against the truth: nothing missing, twice or invented; and that the
/// list did change (inserts at both ends, deletes) while it was read.
#[track_caller]
fn assert_exactly_once(what: &str, got: &[u64], truth: &Truth) {
    let found = truth.compare(got.iter().copied());
    assert!(found.is_exact(), "{what}: {found}");
    let c = truth.changes(RECORDS);
    assert!(
        c.head >= 100 && c.tail >= 100 && c.deleted >= 100,
        "{what}: too few changes to mean anything: {c:?}"
    );
}

/// Asserts that the server really sent the chaos asked for, counted on its side: of all
/// requests, 429s 13-27 % (about half with `Retry-After`), 500s 5-15 %, cut connections
/// 2-9 %, and some truncated bodies.
#[track_caller]
fn assert_chaos_happened(what: &str, a: &Answers) {
    let n = a.requests() as f64;
    let share = |k: u64| k as f64 / n;
    let (t429, ra429) = (a.status(429), a.with_retry_after(429));
    assert!(
        (0.13..=0.27).contains(&share(t429)),
        "{what}: {t429} 429s of {n}: {a:?}"
    );
    assert!(
        (0.3..=0.7).contains(&(ra429 as f64 / t429 as f64)),
        "{what}: {ra429} of {t429} 429s with Retry-After"
    );
    assert!(
        (0.05..=0.15).contains(&share(a.status(500))),
        "{what}: {a:?}"
    );
    assert!((0.02..=0.09).contains(&share(a.resets)), "{what}: {a:?}");
    assert!(a.truncated >= 1, "{what}: {a:?}");
}

#[test]
fn every_driver_walks_a_hundred_thousand_records_through_chaos_exactly_once() {
    let started = Instant::now();
    // All nine walks at once: each is mostly waiting (Retry-After, backoff, pacing).
    let runs: Vec<_> = RUNS
        .into_iter()
        .flat_map(|(seed, style)| DRIVERS.map(|d| (seed, style, d)))
        .map(|(seed, style, driver)| {
            std::thread::spawn(move || {
                let what = format!("{driver:?}, seed {seed} ({})", style.as_str());
                let (server, model, data) = chaos_list(style, seed);
                let t = Instant::now();
                let (got, err) = driver.walk(data.page_spec(), data.template());
                let took = t.elapsed();
                assert_eq!(err, None, "{what}");
                let truth = model.truth().unwrap();
                assert_exactly_once(&what, &got, &truth);
                let answers = model.answers();
                assert_chaos_happened(&what, &answers);
                eprintln!(
                    "{what}: {} records in {:.1} s; {} requests: {} × 429 ({} with \
                     Retry-After), {} × 500, {} cut, {} truncated; {} ever existed, {} throughout",
                    got.len(),
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
                drop(server);
            })
        })
        .collect();
    let mut failed = Vec::new();
    for run in runs {
        if let Err(e) = run.join() {
            failed.push(
                e.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default(),
            );
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
    eprintln!("nine walks in {:.1} s", started.elapsed().as_secs_f64());
}
