//! The ureq page iterator against the loopback server: cursor and `Link` walks deliver every
//! record once; a crash after a page and a resume from the checkpoint file deliver exactly the
//! rest; a next URL on another origin is refused, or requested without credentials when
//! allowed; a 429 mid-walk is retried by the Pacer; a garbled page is requested again.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http::{HeaderName, HeaderValue};
use paceline::PacerConfig;
use paceline::paginate::{
    Checkpoint, GuardError, Guards, PageError, PageEvent, PageSpec, Param, RequestTemplate,
    ResumeError, StyleKind,
};
use paceline_testkit::model::{App, AppResponse, Chaos, Latency, LimiterKind, LimiterSpec};
use paceline_testkit::model::{ModelRequest, ModelResponder, PageChaos, ServerModel};
use paceline_testkit::{LoopbackServer, ReceivedRequest, Responder, ScriptedResponse};
use paceline_ureq::{CheckpointStore, Client, PageOptions, PagesError, Record, Resume};
use support::exact_backoff;

// ---------------------------------------------------------------------------------------------
// Servers

/// The value of query parameter `name` in a request target.
fn query(path: &str, name: &str) -> Option<String> {
    let (_, q) = path.split_once('?')?;
    q.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Records `from..to` of the list, as a JSON array.
fn records(from: u64, to: u64) -> String {
    let items: Vec<String> = (from..to)
        .map(|i| format!(r#"{{"id":{i},"name":"record-{i}"}}"#))
        .collect();
    format!("[{}]", items.join(","))
}

/// A cursor page of a list of `total` records: `?cursor=N&limit=L` (no cursor: from 0), the
/// next cursor in `/next_cursor`, `null` at the end.
fn cursor_page(path: &str, total: u64) -> String {
    let at: u64 = query(path, "cursor").map_or(0, |c| c.parse().unwrap());
    let limit: u64 = query(path, "limit").map_or(10, |l| l.parse().unwrap());
    let end = (at + limit).min(total);
    let next = if end < total {
        format!(r#""{end}""#)
    } else {
        "null".to_owned()
    };
    format!(r#"{{"data":{},"next_cursor":{next}}}"#, records(at, end))
}

fn cursor_spec(size: u64) -> PageSpec {
    PageSpec::cursor("/data", "/next_cursor", "cursor").page_size(Param::query("limit"), size)
}

/// A server of `total` records in cursor pages.
fn cursor_server(total: u64) -> LoopbackServer {
    LoopbackServer::start_with(move |r: &ReceivedRequest| {
        ScriptedResponse::new(200).json(&cursor_page(&r.path, total))
    })
    .expect("loopback server")
}

/// GitHub-style: a top-level array, `?page=N&per_page=L`, the next page in a relative `Link`.
fn link_response(path: &str, total: u64) -> ScriptedResponse {
    let page: u64 = query(path, "page").map_or(1, |p| p.parse().unwrap());
    let per: u64 = query(path, "per_page").map_or(10, |l| l.parse().unwrap());
    let (from, to) = ((page - 1) * per, (page * per).min(total));
    let mut response = ScriptedResponse::new(200).json(&records(from, to));
    if to < total {
        let next = page + 1;
        response = response.header(
            "Link",
            &format!(
                r#"</repos/o/r/issues?per_page={per}&page={next}>; rel="next", </repos/o/r/issues?per_page={per}&page=1>; rel="first""#
            ),
        );
    }
    response
}

fn client() -> Client {
    Client::new(PacerConfig::default().retry(exact_backoff(Duration::from_millis(20))))
}

fn template(server: &LoopbackServer, path: &str) -> RequestTemplate {
    RequestTemplate::get(&format!("{}{path}", server.url())).unwrap()
}

fn id(record: &Record) -> u64 {
    record.parse::<serde_json::Value>().unwrap()["id"]
        .as_u64()
        .unwrap()
}

/// Walks to the end; the ids delivered.
fn walk_all(pages: impl Iterator<Item = Result<Record, PagesError>>) -> Vec<u64> {
    pages.map(|r| id(&r.unwrap())).collect()
}

/// A fresh directory for one test's checkpoint.
fn temp_dir(name: &str) -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "paceline-e2e-{name}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn read_checkpoint(path: &Path) -> Checkpoint {
    Checkpoint::from_bytes(&fs::read(path).unwrap()).unwrap()
}

/// How many requests asked for each cursor (`None`: the first page).
fn cursors(received: &[ReceivedRequest]) -> Vec<Option<String>> {
    received.iter().map(|r| query(&r.path, "cursor")).collect()
}

// ---------------------------------------------------------------------------------------------
// Walks

#[test]
fn a_cursor_walk_delivers_every_record_once() {
    let server = cursor_server(95);
    let client = client();
    let dir = temp_dir("cursor");
    let path = dir.join("walk.json");
    let options = PageOptions::new().checkpoint_file(&path);

    let pages = client
        .pages(Some(cursor_spec(10)), template(&server, "/items"), options)
        .unwrap();
    assert_eq!(walk_all(pages), (0..95).collect::<Vec<_>>());

    let received = server.received();
    assert_eq!(received.len(), 10);
    assert_eq!(received[0].path, "/items?limit=10");
    assert_eq!(received[9].path, "/items?limit=10&cursor=90");
    let checkpoint = read_checkpoint(&path);
    assert!(checkpoint.is_complete());
    assert_eq!((checkpoint.pages(), checkpoint.records()), (10, 95));
    // Only the checkpoint is left in the directory: no temporary file.
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_link_walk_delivers_every_record_once() {
    let server =
        LoopbackServer::start_with(|r: &ReceivedRequest| link_response(&r.path, 250)).unwrap();
    let client = client();

    let pages = client
        .pages(
            Some(PageSpec::github()),
            template(&server, "/repos/o/r/issues?state=all"),
            PageOptions::new(),
        )
        .unwrap();
    assert_eq!(walk_all(pages), (0..250).collect::<Vec<_>>());

    let paths: Vec<String> = server.received().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/repos/o/r/issues?state=all&per_page=100",
            "/repos/o/r/issues?per_page=100&page=2",
            "/repos/o/r/issues?per_page=100&page=3",
        ]
    );
}

#[test]
fn a_detected_link_walk_resumes_with_the_detected_spec() {
    let server =
        LoopbackServer::start_with(|r: &ReceivedRequest| link_response(&r.path, 45)).unwrap();
    let client = client();
    let dir = temp_dir("auto");
    let path = dir.join("walk.json");
    let t = template(&server, "/repos/o/r/issues");

    let mut pages = client
        .pages(None, t.clone(), PageOptions::new().checkpoint_file(&path))
        .unwrap();
    let first: Vec<u64> = (0..10)
        .map(|_| id(&pages.next().unwrap().unwrap()))
        .collect();
    assert!(matches!(pages.poll_event(), Some(PageEvent::Detected(_))));
    assert_eq!(pages.walk().style(), Some(StyleKind::Link));
    assert!(pages.commit().unwrap());
    drop(pages);
    assert!(read_checkpoint(&path).detected_spec().is_some());

    let rest = walk_all(
        client
            .pages(None, t, PageOptions::new().checkpoint_file(&path))
            .unwrap(),
    );
    assert_eq!([first, rest].concat(), (0..45).collect::<Vec<_>>());
    assert_eq!(server.received().len(), 5);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn whole_pages_at_a_time() {
    let server = cursor_server(25);
    let client = client();
    let mut pages = client
        .pages(
            Some(cursor_spec(10)),
            template(&server, "/items"),
            PageOptions::new(),
        )
        .unwrap();
    let mut sizes = Vec::new();
    let mut ids = Vec::new();
    while let Some(page) = pages.next_page() {
        let page = page.unwrap();
        sizes.push((page.number(), page.len()));
        ids.extend(page.records().map(|r| id(&r)));
    }
    assert_eq!(sizes, [(1, 10), (2, 10), (3, 5)]);
    assert_eq!(ids, (0..25).collect::<Vec<_>>());
    let delivered = pages.delivered();
    assert_eq!((delivered.pages, delivered.records), (3, 25));
}

// ---------------------------------------------------------------------------------------------
// Crash and resume

#[test]
fn a_crash_after_page_k_then_a_resume_delivers_exactly_the_rest() {
    let server = cursor_server(95);
    let client = client();
    let dir = temp_dir("crash");
    let path = dir.join("walk.json");
    let options = || PageOptions::new().checkpoint_file(&path);

    // Run 1: process pages 1 to 3, ask for the next record (the caller is done with page 3:
    // its checkpoint is saved), and crash before processing it.
    let mut processed = Vec::new();
    let mut pages = client
        .pages(
            Some(cursor_spec(10)),
            template(&server, "/items"),
            options(),
        )
        .unwrap();
    for _ in 0..30 {
        processed.push(id(&pages.next().unwrap().unwrap()));
    }
    // Page 3 is in the caller's hands: the checkpoint covers pages 1 and 2 only.
    assert_eq!(read_checkpoint(&path).pages(), 2);
    let d = pages.delivered();
    assert_eq!((d.pages, d.records, d.checkpointed), (3, 30, false));
    let unprocessed = pages.next().unwrap().unwrap();
    assert_eq!((unprocessed.page(), id(&unprocessed)), (4, 30));
    let d = pages.delivered();
    assert_eq!((d.pages, d.records, d.checkpointed), (3, 31, true));
    drop(pages);
    let checkpoint = read_checkpoint(&path);
    assert_eq!((checkpoint.pages(), checkpoint.records()), (3, 30));

    // Run 2: resumes after page 3.
    let rest = walk_all(
        client
            .pages(
                Some(cursor_spec(10)),
                template(&server, "/items"),
                options(),
            )
            .unwrap(),
    );
    processed.extend(rest);
    assert_eq!(processed, (0..95).collect::<Vec<_>>());
    // Page 4 was fetched by both runs; every other page once.
    let asked = cursors(&server.received());
    assert_eq!(asked.len(), 11);
    assert_eq!(
        asked.iter().filter(|c| c.as_deref() == Some("30")).count(),
        2
    );
    assert!(read_checkpoint(&path).is_complete());

    // Run 3: the walk is complete; resuming delivers nothing and sends nothing.
    let again = client
        .pages(
            Some(cursor_spec(10)),
            template(&server, "/items"),
            options(),
        )
        .unwrap();
    assert_eq!(walk_all(again), Vec::<u64>::new());
    assert_eq!(server.received().len(), 11);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_crash_mid_page_redelivers_that_page_only() {
    let server = cursor_server(50);
    let client = client();
    let dir = temp_dir("midpage");
    let path = dir.join("walk.json");
    let options = || PageOptions::new().checkpoint_file(&path);

    let mut pages = client
        .pages(
            Some(cursor_spec(10)),
            template(&server, "/items"),
            options(),
        )
        .unwrap();
    let first: Vec<u64> = (0..25)
        .map(|_| id(&pages.next().unwrap().unwrap()))
        .collect();
    assert!(
        !pages.commit().unwrap(),
        "no checkpoint in the middle of a page"
    );
    drop(pages);

    let rest = walk_all(
        client
            .pages(
                Some(cursor_spec(10)),
                template(&server, "/items"),
                options(),
            )
            .unwrap(),
    );
    assert_eq!(
        rest,
        (20..50).collect::<Vec<_>>(),
        "page 3 again, then the rest"
    );
    assert_eq!(first, (0..25).collect::<Vec<_>>());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_crash_mid_page_with_a_keyed_sink_delivers_nothing_twice() {
    let server = cursor_server(50);
    let client = client();
    let dir = temp_dir("midpage-keyed");
    let path = dir.join("walk.json");
    let spec = || cursor_spec(10).key("/id");
    let mut sink: Vec<Vec<u8>> = Vec::new();
    let mut pages = client
        .pages(
            Some(spec()),
            template(&server, "/items"),
            PageOptions::new().checkpoint_file(&path),
        )
        .unwrap();
    for _ in 0..25 {
        sink.push(pages.next().unwrap().unwrap().to_vec());
    }
    drop(pages); // the process dies with page 3 half written

    // The sink's tail past the checkpoint (pages 1 and 2: 20 records) is page 3's first half.
    assert_eq!(read_checkpoint(&path).records(), 20);
    let tail = sink[20..].to_vec();
    let pages = client
        .pages(
            Some(spec()),
            template(&server, "/items"),
            PageOptions::new()
                .checkpoint_file(&path)
                .already_delivered(tail),
        )
        .unwrap();
    for r in pages {
        sink.push(r.unwrap().to_vec());
    }
    let ids: Vec<u64> = sink
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(r).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        ids,
        (0..50).collect::<Vec<_>>(),
        "every record once, in order"
    );
    assert_eq!(read_checkpoint(&path).records(), 50);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_checkpoint_of_another_request_is_refused() {
    let server = cursor_server(30);
    let client = client();
    let dir = temp_dir("mismatch");
    let path = dir.join("walk.json");
    let options = || PageOptions::new().checkpoint_file(&path);
    let mut pages = client
        .pages(
            Some(cursor_spec(10)),
            template(&server, "/items"),
            options(),
        )
        .unwrap();
    for _ in 0..10 {
        pages.next().unwrap().unwrap();
    }
    pages.commit().unwrap();
    drop(pages);

    let other = template(&server, "/items?status=open");
    let err = client
        .pages(Some(cursor_spec(10)), other, options())
        .unwrap_err();
    assert!(
        matches!(
            err,
            PagesError::Resume(ResumeError::FingerprintMismatch { .. })
        ),
        "{err}"
    );
    // Resume::Never starts over (and overwrites the checkpoint after the first page).
    let fresh = client
        .pages(
            Some(cursor_spec(10)),
            template(&server, "/items?status=open"),
            options().resume(Resume::Never),
        )
        .unwrap();
    assert_eq!(walk_all(fresh).len(), 30);

    // Garbage in the file is a typed error too; so is a missing file under `Required`.
    fs::write(&path, b"{\"version\":1,").unwrap();
    let err = client
        .pages(
            Some(cursor_spec(10)),
            template(&server, "/items"),
            options(),
        )
        .unwrap_err();
    assert!(matches!(err, PagesError::BadCheckpoint(_)), "{err}");
    fs::remove_file(&path).unwrap();
    let err = client
        .pages(
            Some(cursor_spec(10)),
            template(&server, "/items"),
            options().resume(Resume::Required),
        )
        .unwrap_err();
    assert!(matches!(err, PagesError::NoCheckpoint), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

/// A store that keeps checkpoints in memory and fails its `fail_at`-th save.
struct FlakyStore {
    saved: Arc<Mutex<Vec<Vec<u8>>>>,
    fail_at: usize,
}

impl CheckpointStore for FlakyStore {
    fn load(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        Ok(self.saved.lock().unwrap().last().cloned())
    }

    fn save(&mut self, checkpoint: &[u8]) -> std::io::Result<()> {
        let mut saved = self.saved.lock().unwrap();
        if saved.len() + 1 == self.fail_at {
            return Err(std::io::Error::other("disk full"));
        }
        saved.push(checkpoint.to_vec());
        Ok(())
    }
}

#[test]
fn a_failing_store_stops_the_walk_with_what_was_delivered() {
    let server = cursor_server(50);
    let client = client();
    let saved = Arc::new(Mutex::new(Vec::new()));
    let store = FlakyStore {
        saved: Arc::clone(&saved),
        fail_at: 3,
    };
    let pages = client
        .pages(
            Some(cursor_spec(10)),
            template(&server, "/items"),
            PageOptions::new().checkpoint_store(store),
        )
        .unwrap();
    let results: Vec<_> = pages.collect();
    assert_eq!(results.len(), 31, "three pages, then the error");
    match &results[30] {
        Err(PagesError::Checkpoint { error, delivered }) => {
            assert_eq!(error.to_string(), "disk full");
            assert_eq!(
                (delivered.pages, delivered.records, delivered.checkpointed),
                (3, 30, false)
            );
        }
        other => panic!("expected a checkpoint error, got {other:?}"),
    }
    assert_eq!(saved.lock().unwrap().len(), 2);
    assert_eq!(server.received().len(), 3, "no page after the failed save");

    // Resuming from the last saved checkpoint delivers page 3 again, then the rest.
    let store = FlakyStore {
        saved: Arc::clone(&saved),
        fail_at: usize::MAX,
    };
    let rest = walk_all(
        client
            .pages(
                Some(cursor_spec(10)),
                template(&server, "/items"),
                PageOptions::new().checkpoint_store(store),
            )
            .unwrap(),
    );
    assert_eq!(rest, (20..50).collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------------------------
// Origins and credentials

/// Server `a` serves page 1 with a `Link` to page 2 on server `b` (another port: another
/// origin); `b` serves the last page.
fn two_origins() -> (LoopbackServer, LoopbackServer) {
    let b = LoopbackServer::start_with(|_: &ReceivedRequest| {
        ScriptedResponse::new(200).json(&records(3, 5))
    })
    .unwrap();
    let next = format!("{}/export/page2", b.url());
    let a = LoopbackServer::start_with(move |_: &ReceivedRequest| {
        ScriptedResponse::new(200)
            .json(&records(0, 3))
            .header("Link", &format!("<{next}>; rel=\"next\""))
    })
    .unwrap();
    (a, b)
}

fn with_credentials(t: RequestTemplate) -> RequestTemplate {
    let h = |v: &'static str| HeaderValue::from_static(v);
    t.header(http::header::AUTHORIZATION, h("Bearer s3cret"))
        .header(http::header::COOKIE, h("session=abc"))
        .header(HeaderName::from_static("x-api-key"), h("k3y"))
        .header(http::header::ACCEPT, h("application/json"))
}

#[test]
fn a_next_url_on_another_origin_is_refused_by_default() {
    let (a, b) = two_origins();
    let client = client();
    let mut pages = client
        .pages(
            Some(PageSpec::link("")),
            with_credentials(template(&a, "/export")),
            PageOptions::new(),
        )
        .unwrap();
    let ids: Vec<u64> = (0..3)
        .map(|_| id(&pages.next().unwrap().unwrap()))
        .collect();
    assert_eq!(ids, [0, 1, 2]);
    match pages.next() {
        Some(Err(PagesError::Stopped {
            error: GuardError::OffOrigin { url },
            delivered,
        })) => {
            assert_eq!(url, format!("{}/export/page2", b.url()));
            assert_eq!((delivered.pages, delivered.records), (1, 3));
        }
        other => panic!("expected an off-origin stop, got {other:?}"),
    }
    assert!(pages.next().is_none());
    assert!(b.received().is_empty());
}

#[test]
fn an_allowed_origin_gets_no_credentials() {
    let (a, b) = two_origins();
    let client = client();
    let spec = PageSpec::link("").guards(
        Guards::default()
            .allow_origin(&b.url())
            .credential_header("X-Api-Key"),
    );
    let mut pages = client
        .pages(
            Some(spec),
            with_credentials(template(&a, "/export")),
            PageOptions::new(),
        )
        .unwrap();
    let ids: Vec<u64> = pages.by_ref().map(|r| id(&r.unwrap())).collect();
    assert_eq!(ids, [0, 1, 2, 3, 4]);
    assert!(
        std::iter::from_fn(|| pages.poll_event())
            .any(|e| matches!(e, PageEvent::CrossOrigin { .. }))
    );

    let to_a = &a.received()[0];
    assert_eq!(to_a.header("authorization"), Some("Bearer s3cret"));
    assert_eq!(to_a.header("cookie"), Some("session=abc"));
    assert_eq!(to_a.header("x-api-key"), Some("k3y"));
    let to_b = b.received();
    assert_eq!(to_b.len(), 1);
    assert_eq!(to_b[0].path, "/export/page2");
    assert_eq!(to_b[0].header("authorization"), None);
    assert_eq!(to_b[0].header("cookie"), None);
    assert_eq!(to_b[0].header("x-api-key"), None);
    assert_eq!(to_b[0].header("accept"), Some("application/json"));
}

// ---------------------------------------------------------------------------------------------
// Throttling and garbled pages

#[test]
fn a_429_mid_walk_is_retried_by_the_pacer() {
    let mut throttled = false;
    let server = LoopbackServer::start_with(move |r: &ReceivedRequest| {
        if query(&r.path, "cursor").as_deref() == Some("20") && !throttled {
            throttled = true;
            return ScriptedResponse::new(429).header("Retry-After", "1");
        }
        ScriptedResponse::new(200).json(&cursor_page(&r.path, 45))
    })
    .unwrap();
    let client = client();

    let pages = client
        .pages(
            Some(cursor_spec(10)),
            template(&server, "/items"),
            PageOptions::new(),
        )
        .unwrap();
    assert_eq!(walk_all(pages), (0..45).collect::<Vec<_>>());

    let received = server.received();
    let asked = cursors(&received);
    assert_eq!(asked.len(), 6);
    assert_eq!(
        (asked[2].as_deref(), asked[3].as_deref()),
        (Some("20"), Some("20"))
    );
    support::assert_at_least(
        received[3].at.duration_since(received[2].at),
        Duration::from_secs(1),
    );
}

#[test]
fn a_truncated_or_non_json_page_is_requested_again() {
    let mut garbled = 0;
    let server = LoopbackServer::start_with(move |r: &ReceivedRequest| {
        let page = cursor_page(&r.path, 30);
        if query(&r.path, "cursor").as_deref() == Some("10") && garbled < 2 {
            garbled += 1;
            return if garbled == 1 {
                ScriptedResponse::new(200).json(&page[..page.len() / 2])
            } else {
                ScriptedResponse::new(200).body("<html>502 Bad Gateway</html>")
            };
        }
        ScriptedResponse::new(200).json(&page)
    })
    .unwrap();
    let client = client();

    let pages = client
        .pages(
            Some(cursor_spec(10)),
            template(&server, "/items"),
            PageOptions::new(),
        )
        .unwrap();
    assert_eq!(walk_all(pages), (0..30).collect::<Vec<_>>());
    let asked = cursors(&server.received());
    assert_eq!(
        asked.iter().filter(|c| c.as_deref() == Some("10")).count(),
        3
    );
}

#[test]
fn a_page_that_stays_garbled_is_a_typed_error_after_bounded_retries() {
    let server = LoopbackServer::start_with(|r: &ReceivedRequest| {
        let page = cursor_page(&r.path, 30);
        if query(&r.path, "cursor").is_some() {
            return ScriptedResponse::new(200).json(&page[..page.len() - 3]);
        }
        ScriptedResponse::new(200).json(&page)
    })
    .unwrap();
    let client = client();
    let pages = client
        .pages(
            Some(cursor_spec(10)),
            template(&server, "/items"),
            PageOptions::new().page_retries(1),
        )
        .unwrap();
    let results: Vec<_> = pages.collect();
    assert_eq!(results.len(), 11);
    assert!(results[..10].iter().all(Result::is_ok));
    match &results[10] {
        Err(PagesError::Page {
            page: 2,
            error: PageError::Body(_),
            responses: 2,
            delivered,
        }) => assert_eq!(delivered.records, 10),
        other => panic!("expected a page error, got {other:?}"),
    }
    assert_eq!(server.received().len(), 3);
}

#[test]
fn a_cursor_loop_stops_with_what_was_delivered() {
    // Page 2 points back at itself.
    let server = LoopbackServer::start_with(|r: &ReceivedRequest| {
        let at = query(&r.path, "cursor").unwrap_or_else(|| "0".into());
        let from: u64 = at.parse().unwrap();
        ScriptedResponse::new(200).json(&format!(
            r#"{{"data":{},"next_cursor":"10"}}"#,
            records(from, from + 10)
        ))
    })
    .unwrap();
    let client = client();
    let mut pages = client
        .pages(
            Some(cursor_spec(10)),
            template(&server, "/items"),
            PageOptions::new(),
        )
        .unwrap();
    let ok = pages.by_ref().take_while(Result::is_ok).count();
    assert_eq!(ok, 20);
    let delivered = pages.delivered();
    assert_eq!((delivered.pages, delivered.records), (2, 20));
    assert_eq!(server.received().len(), 2);
}

/// A cursor list of `total` records, as a testkit app (behind the model's limiters and chaos).
struct CursorApp {
    total: u64,
}

impl App for CursorApp {
    fn respond(&mut self, _: u64, req: &ModelRequest<'_>, _: PageChaos) -> AppResponse {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        AppResponse {
            status: 200,
            headers,
            body: cursor_page(req.path, self.total).into_bytes(),
        }
    }
}

#[test]
fn a_rate_limited_chaotic_model_is_walked_to_the_end() {
    // A token bucket of 3 refilled at 20/s, no rate-limit headers (the client learns only from
    // 429s and their Retry-After), and one 200 in five truncated.
    let model = ServerModel::new(7, SystemTime::now())
        .latency(Latency {
            base_ms: 0.0,
            jitter_ms: 0.0,
        })
        .limiter(LimiterSpec::new(LimiterKind::TokenBucket {
            capacity: 3,
            refill_per_s: 20.0,
        }))
        .chaos(Chaos {
            p_truncated: 0.2,
            ..Chaos::default()
        })
        .app(CursorApp { total: 120 });
    // The model's answers, as (status, whether the body is JSON).
    let answers = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&answers);
    let mut model = ModelResponder::new(model);
    let server = LoopbackServer::start_with(move |r: &ReceivedRequest| {
        let answer = model.respond(r);
        let json = serde_json::from_slice::<serde_json::Value>(answer.body_bytes()).is_ok();
        seen.lock().unwrap().push((answer.status(), json));
        answer
    })
    .unwrap();
    let client = client();
    let pages = client
        .pages(
            Some(cursor_spec(10)),
            template(&server, "/items"),
            PageOptions::new().page_retries(10),
        )
        .unwrap();
    assert_eq!(walk_all(pages), (0..120).collect::<Vec<_>>());
    let answers = answers.lock().unwrap();
    let throttled = answers.iter().filter(|(s, _)| *s == 429).count();
    let truncated = answers
        .iter()
        .filter(|(s, json)| *s == 200 && !json)
        .count();
    assert!(throttled > 0 && truncated > 0, "{answers:?}");
    assert_eq!(answers.len(), 12 + throttled + truncated);
}

#[test]
fn a_graphql_page_post_is_retried_after_a_drop() {
    // The second page's first attempt is cut after it was sent: a POST, but a page read, so
    // the walk's request says it is safe to send again.
    let sent = std::sync::atomic::AtomicU32::new(0);
    let server = LoopbackServer::start_with(move |r: &ReceivedRequest| {
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let after = body["variables"]["after"].as_str().map(str::to_owned);
        match after.as_deref() {
            None => ScriptedResponse::new(200).json(
                r#"{"data":{"items":{"nodes":[{"id":1},{"id":2}],"pageInfo":{"hasNextPage":true,"endCursor":"c2"}}}}"#,
            ),
            Some(_) if sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 => {
                ScriptedResponse::drop_connection()
            }
            Some(_) => ScriptedResponse::new(200).json(
                r#"{"data":{"items":{"nodes":[{"id":3}],"pageInfo":{"hasNextPage":false,"endCursor":"c3"}}}}"#,
            ),
        }
    })
    .expect("loopback server");
    let spec = PageSpec::relay("/data/items", 2);
    let template = RequestTemplate::post_json(
        &format!("{}/graphql", server.url()),
        &serde_json::json!({
            "query": "query($after: String, $first: Int) { items(first: $first, after: $after) { nodes { id } } }",
            "variables": {},
        }),
    )
    .unwrap();
    let ids = walk_all(
        client()
            .pages(Some(spec), template, PageOptions::new())
            .unwrap(),
    );
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(server.received().len(), 3);
}

/// An offset list of `total` records, `?offset=N&limit=L`, `total` in the body, each response
/// held `delay` (the latency concurrency hides).
fn offset_server(total: u64, delay: Duration) -> LoopbackServer {
    LoopbackServer::start_with(move |r: &ReceivedRequest| {
        let at: u64 = query(&r.path, "offset").map_or(0, |v| v.parse().unwrap());
        let limit: u64 = query(&r.path, "limit").map_or(10, |v| v.parse().unwrap());
        let end = (at + limit).min(total);
        ScriptedResponse::new(200)
            .json(&format!(
                r#"{{"data":{},"total":{total}}}"#,
                records(at.min(total), end)
            ))
            .delay(delay)
    })
    .expect("loopback server")
}

#[test]
fn concurrent_offset_pages_arrive_in_order_each_once() {
    let delay = Duration::from_millis(300);
    let server = offset_server(40, delay);
    let spec = PageSpec::offset("/data", 5).total("/total");
    let client = client();
    let pages = client
        .pages(
            Some(spec),
            template(&server, "/items"),
            PageOptions::new().concurrency(4),
        )
        .unwrap();
    assert_eq!(walk_all(pages), (0..40).collect::<Vec<_>>());
    let received = server.received();
    let mut offsets: Vec<u64> = received
        .iter()
        .map(|r| query(&r.path, "offset").map_or(0, |v| v.parse().unwrap()))
        .collect();
    offsets.sort_unstable();
    assert_eq!(
        offsets,
        (0..8).map(|i| i * 5).collect::<Vec<_>>(),
        "every page once: no guess past the total, none wasted"
    );
    // One at a time, a request follows the previous response, so at least `delay` after the
    // previous request; here some left together.
    let mut at: Vec<_> = received.iter().map(|r| r.at).collect();
    at.sort_unstable();
    let closest = at.windows(2).map(|w| w[1] - w[0]).min().unwrap();
    assert!(closest < delay, "no two requests overlapped: {closest:?}");
}

/// The iterator is a pipeline, not rounds: with four pages in flight and the second one slow
/// (1 s), the first page handed out frees its slot at once, so the fifth page is requested
/// while the second is still on its way. Rounds of four would send the fifth only after the
/// whole first round, the slow page included, had come back.
#[test]
fn a_slow_page_does_not_hold_back_the_refill() {
    let slow = Duration::from_secs(1);
    let server = LoopbackServer::start_with(move |r: &ReceivedRequest| {
        let at: u64 = query(&r.path, "offset").map_or(0, |v| v.parse().unwrap());
        let end = (at + 5).min(40);
        let page = ScriptedResponse::new(200).json(&format!(
            r#"{{"data":{},"total":40}}"#,
            records(at.min(40), end)
        ));
        if at == 5 { page.delay(slow) } else { page }
    })
    .expect("loopback server");
    let spec = PageSpec::offset("/data", 5).total("/total");
    let client = client();
    let pages = client
        .pages(
            Some(spec),
            template(&server, "/items"),
            PageOptions::new().concurrency(4),
        )
        .unwrap();
    assert_eq!(walk_all(pages), (0..40).collect::<Vec<_>>());
    let received = server.received();
    let when = |offset: u64| {
        received
            .iter()
            .find(|r| query(&r.path, "offset") == Some(offset.to_string()))
            .map(|r| r.at)
            .unwrap()
    };
    let gap = when(20).saturating_duration_since(when(5));
    assert!(
        gap < slow / 2,
        "the fifth page waited for the slow second one: {gap:?} after it"
    );
}

#[test]
fn a_cursor_walk_ignores_concurrency() {
    let server = cursor_server(30);
    let client = client();
    let pages = client
        .pages(
            Some(cursor_spec(10)),
            template(&server, "/items"),
            PageOptions::new().concurrency(4),
        )
        .unwrap();
    assert_eq!(walk_all(pages), (0..30).collect::<Vec<_>>());
    assert_eq!(server.received().len(), 3, "no guessed requests");
}
