//! The ureq page walk ([`paceline_ureq::Client::pages`]) against lists that change while they
//! are read, in every pagination style the testkit serves: records inserted at the head and the
//! tail and deleted while the walk goes on (by the server's request count, so each run sees the
//! same changes), with a little chaos (5xx, cut connections, truncated bodies). Compared with
//! the server's ground truth:
//!
//! - cursor, keyset, Link, next-URL, token, GraphQL and `search_after` walks deliver every
//!   record present for the whole walk exactly once, also when the walk is stopped half-way and
//!   resumed from its checkpoint file;
//! - offset and page-number walks deliver exactly once, or report drift ([`Walk::drift`]): never
//!   a clean end with a record lost or delivered twice.
//!
//! [`Walk::drift`]: paceline::paginate::Walk::drift

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use paceline::PacerConfig;
use paceline::paginate::StyleKind;
use paceline::retry::{Jitter, RetryPolicy};
use paceline_testkit::LoopbackServer;
use paceline_testkit::dataset::{DataStyle, DatasetSpec};
use paceline_testkit::model::{Chaos, SharedModel, Truth};
use paceline_ureq::{Client, PageOptions, Pages, Resume};

/// Records at the start, and a page's size.
const RECORDS: u64 = 2_000;
const PAGE: u64 = 50;

/// A list of `RECORDS` records in `style` on loopback, changing by 5 head inserts, 5 tail
/// inserts and 5 deletes a second of the dataset's clock, which moves 100 ms a request: about
/// half a change of each kind per request. Seeded.
fn live(style: DataStyle, seed: u64, changing: bool) -> (LoopbackServer, SharedModel, DatasetSpec) {
    let mut data = DatasetSpec::new(style, RECORDS).page_size(PAGE);
    if changing {
        data = data.mutations(5.0, 5.0, 5.0).by_request(100.0);
    }
    let (server, model, data) = LoopbackServer::start_dataset(data, seed, Chaos::recoverable(0.02))
        .expect("loopback server");
    (server, model, data)
}

fn client() -> Client {
    let retry = RetryPolicy::default()
        .base(Duration::from_millis(5))
        .jitter(Jitter::None)
        .max_attempts(10);
    Client::new(PacerConfig::default().retry(retry))
}

fn kind(style: DataStyle) -> StyleKind {
    match style {
        DataStyle::Offset => StyleKind::Offset,
        DataStyle::Page => StyleKind::Page,
        DataStyle::Cursor => StyleKind::Cursor,
        DataStyle::Keyset => StyleKind::Keyset,
        DataStyle::Link => StyleKind::Link,
        DataStyle::NextUrl => StyleKind::NextUrl,
        DataStyle::Token => StyleKind::Token,
        DataStyle::Graphql => StyleKind::Relay,
        DataStyle::SearchAfter => StyleKind::SearchAfter,
    }
}

/// The ids of the pages handed out, up to `max_pages` pages (or the end).
fn take_pages(pages: &mut Pages<'_>, pointer: &str, max_pages: usize, ids: &mut Vec<u64>) {
    for _ in 0..max_pages {
        let Some(page) = pages.next_page() else {
            return;
        };
        let page = page.unwrap_or_else(|e| panic!("{e}"));
        for record in page.records() {
            let v: serde_json::Value = record.parse().unwrap();
            let id = v
                .pointer(pointer)
                .and_then(|x| x.as_u64().or_else(|| x.as_str()?.parse().ok()))
                .unwrap_or_else(|| panic!("no id at {pointer}: {v}"));
            ids.push(id);
        }
    }
}

/// (missing, duplicated, invented) against the truth.
fn compare(ids: &[u64], truth: &Truth) -> (usize, usize, usize) {
    let mut seen: HashMap<u64, u32> = HashMap::new();
    for id in ids {
        *seen.entry(*id).or_insert(0) += 1;
    }
    let missing = truth
        .must_deliver
        .iter()
        .filter(|id| !seen.contains_key(id))
        .count();
    let twice = seen.values().filter(|n| **n > 1).count();
    let ever: HashSet<u64> = truth.ever.iter().copied().collect();
    let invented = seen.keys().filter(|id| !ever.contains(id)).count();
    (missing, twice, invented)
}

/// The list changed during the walk, at both ends and in the middle.
fn assert_it_changed(truth: &Truth, style: DataStyle) {
    let first = 1_000_000..1_000_000 + RECORDS;
    let head = truth.ever.iter().filter(|id| **id < first.start).count();
    let tail = truth.ever.iter().filter(|id| **id >= first.end).count();
    let deleted = RECORDS as usize
        - truth
            .must_deliver
            .iter()
            .filter(|id| first.contains(id))
            .count();
    assert!(
        head >= 5 && tail >= 5 && deleted >= 5,
        "{style:?}: too few changes to mean anything: {head} head inserts, {tail} tail \
         inserts, {deleted} deleted"
    );
}

fn temp_dir(name: &str) -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "paceline-e2e-live-{name}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_drift_free_style_walks_a_changing_list_exactly_once() {
    for (i, style) in DataStyle::ALL
        .into_iter()
        .filter(|s| !s.drifts())
        .enumerate()
    {
        let (server, model, data) = live(style, 40 + i as u64, true);
        let client = client();
        let mut pages = client
            .pages(Some(data.page_spec()), data.template(), PageOptions::new())
            .unwrap();
        let mut ids = Vec::new();
        take_pages(&mut pages, data.id_pointer(), usize::MAX, &mut ids);
        assert!(
            pages.walk().end_reason().is_some(),
            "{style:?}: not complete"
        );
        assert_eq!(pages.walk().style(), Some(kind(style)), "{style:?}");
        assert!(pages.walk().drift().is_empty(), "{style:?}");
        let truth = model.truth().unwrap();
        assert_it_changed(&truth, style);
        assert_eq!(compare(&ids, &truth), (0, 0, 0), "{style:?}");
        // The client's account of its requests is the server's.
        let answers = model.answers();
        assert_eq!(answers.requests(), server.received().len() as u64);
        assert_eq!(answers.status(429), 0);
    }
}

/// Stopped after 15 pages (the checkpoint of the last one saved, as a graceful exit does),
/// then resumed from the checkpoint file by a new client: the two runs together hold every
/// record present throughout exactly once, while the list changed under both.
#[test]
fn a_changing_list_walked_in_two_runs_is_delivered_exactly_once() {
    for (i, style) in DataStyle::ALL
        .into_iter()
        .filter(|s| !s.drifts())
        .enumerate()
    {
        let (_server, model, data) = live(style, 60 + i as u64, true);
        let dir = temp_dir(style.as_str());
        let file = dir.join("checkpoint.json");
        let mut ids = Vec::new();
        {
            let client = client();
            let mut pages = client
                .pages(
                    Some(data.page_spec()),
                    data.template(),
                    PageOptions::new().checkpoint_file(&file),
                )
                .unwrap();
            take_pages(&mut pages, data.id_pointer(), 15, &mut ids);
            assert!(pages.commit().unwrap(), "{style:?}: the 15th page saved");
        }
        assert!(ids.len() >= 14 * PAGE as usize, "{style:?}: {}", ids.len());
        let client = client();
        let mut pages = client
            .pages(
                Some(data.page_spec()),
                data.template(),
                PageOptions::new()
                    .checkpoint_file(&file)
                    .resume(Resume::Required),
            )
            .unwrap();
        take_pages(&mut pages, data.id_pointer(), usize::MAX, &mut ids);
        assert!(
            pages.walk().end_reason().is_some(),
            "{style:?}: not complete"
        );
        let truth = model.truth().unwrap();
        assert_it_changed(&truth, style);
        assert_eq!(compare(&ids, &truth), (0, 0, 0), "{style:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// Offset and page-number walks, one page at a time and four at once: they page by offset
/// and page number (the style they end in is theirs), and over a changing list they either
/// deliver exactly once or report the drift. Over the same list left still they are exact
/// with no drift.
#[test]
fn offset_and_page_walks_are_exact_or_report_drift() {
    for (style, seed) in [(DataStyle::Offset, 71), (DataStyle::Page, 72)] {
        for concurrency in [1, 4] {
            for changing in [true, false] {
                let (_server, model, data) = live(style, seed, changing);
                let client = client();
                let mut pages = client
                    .pages(
                        Some(data.page_spec()),
                        data.template(),
                        PageOptions::new().concurrency(concurrency),
                    )
                    .unwrap();
                let mut ids = Vec::new();
                take_pages(&mut pages, "/id", usize::MAX, &mut ids);
                let what = format!("{style:?}, {concurrency} at once, changing: {changing}");
                assert!(pages.walk().end_reason().is_some(), "{what}: not complete");
                assert_eq!(pages.walk().style(), Some(kind(style)), "{what}");
                let truth = model.truth().unwrap();
                let (missing, twice, invented) = compare(&ids, &truth);
                assert_eq!(invented, 0, "{what}");
                let drift = pages.walk().drift();
                if changing {
                    assert_it_changed(&truth, style);
                    // Here the changes do show: a clean end would have been silent loss.
                    assert!(
                        !drift.is_empty(),
                        "{what}: {missing} missing, {twice} twice"
                    );
                } else {
                    assert!(drift.is_empty(), "{what}: {drift}");
                }
                if drift.is_empty() {
                    assert_eq!((missing, twice), (0, 0), "{what}: a clean end");
                }
            }
        }
    }
}
