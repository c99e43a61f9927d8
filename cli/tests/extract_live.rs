//! `paceline extract` end to end against lists that change while they are read: every
//! pagination style the testkit serves, over loopback, with records inserted at the head and
//! the tail and deleted while the walk goes on (driven by the server's request count, so each
//! run sees the same changes), and a little chaos (5xx, cut connections, truncated bodies).
//! Each output is compared with the server's ground truth:
//!
//! - cursor, keyset, Link, next-URL, token, GraphQL and `search_after` walks deliver every
//!   record present for the whole walk exactly once, and exit 0;
//! - offset and page-number walks either do that too, or end with exit 7 saying the list
//!   changed: never a clean exit with a record lost or written twice.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Output};

use paceline_testkit::LoopbackServer;
use paceline_testkit::dataset::{DataStyle, DatasetSpec};
use paceline_testkit::model::{Chaos, SharedModel, Truth};

mod support;
use support::{temp_dir, text};

const BIN: &str = env!("CARGO_BIN_EXE_paceline");

/// Records at the start.
const RECORDS: u64 = 2_000;

/// Records a page.
const PAGE: u64 = 50;

/// A live list on loopback: `RECORDS` records in `style`, pages of `PAGE`. Each request
/// answered moves the dataset's clock 100 ms, at 5 head inserts, 5 tail inserts and 5 deletes
/// a second: about half of each kind per request (a 41-page walk sees some 60 changes).
/// Seeded.
struct LiveList {
    server: LoopbackServer,
    model: SharedModel,
    data: DatasetSpec,
}

impl LiveList {
    fn start(style: DataStyle, seed: u64, chaos: Chaos) -> LiveList {
        let data = DatasetSpec::new(style, RECORDS)
            .page_size(PAGE)
            .mutations(5.0, 5.0, 5.0)
            .by_request(100.0);
        let (server, model, data) = LoopbackServer::start_dataset(data, seed, chaos).unwrap();
        LiveList {
            server,
            model,
            data,
        }
    }

    fn truth(&self) -> Truth {
        self.model.truth().unwrap()
    }

    /// Runs extract on this list with its page spec (and its POST body for GraphQL and
    /// `search_after`), writing to `out`.
    fn extract(&self, dir: &Path, out: &Path, extra: &[&str]) -> Output {
        let spec = dir.join("spec.json");
        std::fs::write(&spec, serde_json::to_vec(&self.data.page_spec()).unwrap()).unwrap();
        let mut command = Command::new(BIN);
        command
            .arg("extract")
            .arg(self.data.url())
            .arg("--page-spec")
            .arg(&spec)
            .args(["--backoff-ms", "5", "--max-attempts", "10", "-o"])
            .arg(out)
            .args(extra)
            .env_remove("RUST_LOG");
        if let Some(body) = self.data.template().body {
            command.arg("--data").arg(String::from_utf8(body).unwrap());
        }
        command.output().unwrap()
    }
}

/// Each record's id in the file (`/id`, or Elasticsearch's `/_id`), with its count.
fn ids(path: &Path, pointer: &str) -> HashMap<u64, u32> {
    let mut seen = HashMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line: {line:?}: {e}"));
        let id = v
            .pointer(pointer)
            .and_then(|x| x.as_u64().or_else(|| x.as_str()?.parse().ok()))
            .unwrap_or_else(|| panic!("no id at {pointer}: {line}"));
        *seen.entry(id).or_insert(0) += 1;
    }
    seen
}

/// What the file holds against the truth: (missing, duplicated, invented).
fn compare(seen: &HashMap<u64, u32>, truth: &Truth) -> (Vec<u64>, Vec<u64>, Vec<u64>) {
    let missing = truth
        .must_deliver
        .iter()
        .filter(|id| !seen.contains_key(id))
        .copied()
        .collect();
    let mut twice: Vec<u64> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| *id)
        .collect();
    twice.sort_unstable();
    let ever: HashSet<u64> = truth.ever.iter().copied().collect();
    let mut invented: Vec<u64> = seen
        .keys()
        .filter(|id| !ever.contains(id))
        .copied()
        .collect();
    invented.sort_unstable();
    (missing, twice, invented)
}

/// The list changed during the walk: records were inserted (at either end) and deleted, so a
/// walk that ignored the changes would show it.
fn assert_it_changed(truth: &Truth, style: DataStyle) {
    let inserted = truth.ever.len() as u64 - RECORDS;
    let deleted = RECORDS
        - truth
            .must_deliver
            .iter()
            .filter(|id| (1_000_000..1_000_000 + RECORDS).contains(*id))
            .count() as u64;
    assert!(
        inserted >= 10 && deleted >= 5,
        "{style:?}: too few changes for the test to mean anything: {inserted} inserted, \
         {deleted} deleted"
    );
}

/// The query or body parameter each style's later requests must carry: the walk pages the
/// way its style says (an offset walk by offset, not by a keyset it switched to).
fn paging_parameter(style: DataStyle) -> &'static str {
    match style {
        DataStyle::Offset => "offset=",
        DataStyle::Page => "page=",
        DataStyle::Cursor => "cursor=",
        DataStyle::Keyset => "since_id=",
        DataStyle::Link => "after=",
        DataStyle::NextUrl => "page[after]=",
        DataStyle::Token => "pageToken=",
        DataStyle::Graphql => "\"after\":",
        DataStyle::SearchAfter => "\"search_after\":",
    }
}

/// Runs one style (with `extra` flags) and checks its output against the truth; returns the
/// exit code.
fn check_style(style: DataStyle, seed: u64, extra: &[&str]) -> i32 {
    let list = LiveList::start(style, seed, Chaos::recoverable(0.02));
    let dir = temp_dir(&format!("live-{}-{}", style.as_str(), extra.len()));
    let out = dir.join("out.jsonl");
    let o = list.extract(&dir, &out, extra);
    let stderr = text(&o.stderr);
    let code = o.status.code().unwrap_or(-1);
    let truth = list.truth();
    assert_it_changed(&truth, style);
    let seen = ids(&out, list.data.id_pointer());
    let (missing, twice, invented) = compare(&seen, &truth);
    assert!(invented.is_empty(), "{style:?}: invented {invented:?}");
    // The walk paged in its own style: every request after the first carries its parameter.
    let received = list.server.received();
    let param = paging_parameter(style);
    for r in received.iter().skip(1) {
        let asked = format!("{} {}", r.path, String::from_utf8_lossy(&r.body));
        assert!(
            asked.contains(param),
            "{style:?}: a request without {param}: {asked}"
        );
    }
    // The summary's request count is the server's.
    let answers = list.model.answers();
    assert_eq!(answers.requests(), received.len() as u64, "{style:?}");
    assert!(
        stderr.contains(&format!("requests   {}\n", received.len())),
        "{style:?}: the server answered {} requests: {stderr}",
        received.len()
    );
    eprintln!(
        "{}: exit {code}, {} requests ({} answered 200), {} records written, {} of {} present \
         throughout missing, {} twice, {} ever existed",
        style.as_str(),
        received.len(),
        answers.status(200),
        seen.values().sum::<u32>(),
        missing.len(),
        truth.must_deliver.len(),
        twice.len(),
        truth.ever.len()
    );
    match code {
        0 => {
            assert!(
                missing.is_empty() && twice.is_empty(),
                "{style:?}: exit 0 with {} missing ({missing:?}) and {} twice ({twice:?}): {stderr}",
                missing.len(),
                twice.len()
            );
            assert!(stderr.contains("complete ("), "{style:?}: {stderr}");
        }
        7 if style.drifts() => {
            assert!(
                stderr.contains("the list changed while it was read"),
                "{style:?}: {stderr}"
            );
        }
        _ => panic!("{style:?}: exit {code}: {stderr}"),
    }
    std::fs::remove_dir_all(dir).unwrap();
    code
}

#[test]
fn every_drift_free_style_delivers_a_changing_list_exactly_once() {
    for (i, style) in DataStyle::ALL
        .into_iter()
        .filter(|s| !s.drifts())
        .enumerate()
    {
        assert_eq!(check_style(style, 20 + i as u64, &[]), 0, "{style:?}");
    }
}

/// Offset and page-number walks over a list that changes cannot be exact (a delete ahead of the
/// offset shifts a record past it unseen): here they end with exit 7, not a clean 0, one page
/// at a time or four.
#[test]
fn offset_and_page_walks_of_a_changing_list_say_so_with_exit_7() {
    for (style, seed) in [(DataStyle::Offset, 31), (DataStyle::Page, 32)] {
        assert_eq!(check_style(style, seed, &[]), 7, "{style:?}");
        // Four pages in flight at once: the same honesty.
        assert_eq!(
            check_style(style, seed, &["--concurrency", "4"]),
            7,
            "{style:?}, 4 at once"
        );
    }
}

/// The same offset walk over a list that does not change is complete and exact: exit 0 (so the
/// exit 7 above is the list's doing, not the style's).
#[test]
fn an_offset_walk_of_a_still_list_is_exact() {
    for style in [DataStyle::Offset, DataStyle::Page] {
        let data = DatasetSpec::new(style, RECORDS).page_size(PAGE);
        let (server, model, data) =
            LoopbackServer::start_dataset(data, 5, Chaos::default()).unwrap();
        let list = LiveList {
            server,
            model,
            data,
        };
        let dir = temp_dir(&format!("still-{}", style.as_str()));
        let out = dir.join("out.jsonl");
        let o = list.extract(&dir, &out, &[]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let seen = ids(&out, "/id");
        let (missing, twice, invented) = compare(&seen, &list.truth());
        assert_eq!((missing.len(), twice.len(), invented.len()), (0, 0, 0));
        assert_eq!(seen.len() as u64, RECORDS);
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// The first page's URL and body as a user would give them with no flag: the style's own
/// page-size parameter on the URL (or in the POST body), nothing else.
fn first_page(data: &DatasetSpec) -> (String, Option<String>) {
    let url = data.url();
    match data.style {
        DataStyle::Offset | DataStyle::Cursor | DataStyle::Keyset => {
            (format!("{url}?limit={PAGE}"), None)
        }
        DataStyle::Page | DataStyle::Link => (format!("{url}?per_page={PAGE}"), None),
        DataStyle::NextUrl => (format!("{url}?page[size]={PAGE}"), None),
        DataStyle::Token => (format!("{url}?pageSize={PAGE}"), None),
        DataStyle::Graphql => (
            url,
            Some(format!(
                r#"{{"query":"query($first: Int!, $after: String) {{ items(first: $first, after: $after) {{ nodes {{ id ts }} pageInfo {{ hasNextPage endCursor }} }} }}","variables":{{"first":{PAGE}}}}}"#
            )),
        ),
        DataStyle::SearchAfter => (
            url,
            Some(format!(
                r#"{{"size":{PAGE},"query":{{"match_all":{{}}}},"sort":[{{"ts":"asc"}},{{"id":"asc"}}]}}"#
            )),
        ),
    }
}

/// With no flag but the page size, each style's list is detected from its first exchange and
/// read while it changes. Where the server gives the next page's pointer (cursor, `Link`, next
/// URL, token, GraphQL) or the request carries it (`search_after`), exactly once, exit 0. A
/// keyset list whose body says nothing of how it goes on is probed, paged by offset (the
/// dataset takes `offset` too) and, changing, ends with exit 7 — as do offset and page lists:
/// never a clean exit with a record missing.
#[test]
fn auto_detected_walks_of_a_changing_list() {
    for (i, style) in DataStyle::ALL.into_iter().enumerate() {
        let list = LiveList::start(style, 80 + i as u64, Chaos::recoverable(0.02));
        let dir = temp_dir(&format!("auto-{}", style.as_str()));
        let out = dir.join("out.jsonl");
        let (url, body) = first_page(&list.data);
        let mut command = Command::new(BIN);
        command
            .arg("extract")
            .arg(&url)
            .args(["--backoff-ms", "5", "--max-attempts", "10", "-o"])
            .arg(&out);
        if let Some(body) = &body {
            command.arg("--data").arg(body);
        }
        let o = command.env_remove("RUST_LOG").output().unwrap();
        let stderr = text(&o.stderr);
        let truth = list.truth();
        assert_it_changed(&truth, style);
        let seen = ids(&out, list.data.id_pointer());
        let (missing, twice, invented) = compare(&seen, &truth);
        assert!(invented.is_empty(), "{style:?}: invented {invented:?}");
        let walks_by_offset = matches!(
            style,
            DataStyle::Offset | DataStyle::Page | DataStyle::Keyset
        );
        match o.status.code() {
            Some(0) => assert!(
                missing.is_empty() && twice.is_empty(),
                "{style:?}: exit 0 with {missing:?} missing, {twice:?} twice: {stderr}"
            ),
            Some(7) if walks_by_offset => assert!(
                stderr.contains("the list changed while it was read"),
                "{style:?}: {stderr}"
            ),
            code => panic!("{style:?}: exit {code:?}: {stderr}"),
        }
        if !walks_by_offset {
            assert_eq!(o.status.code(), Some(0), "{style:?}: {stderr}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
