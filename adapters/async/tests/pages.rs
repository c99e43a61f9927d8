//! The async page walk against the loopback server: cursor, `Link` and offset walks deliver
//! every record once; a crash (the stream dropped mid-walk) and a resume deliver exactly the
//! rest; a next URL on another origin is refused, or requested without credentials when
//! allowed; offset pages are truly in flight together; two partitions share one client and
//! its limits.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_lite::StreamExt;
use paceline::PacerConfig;
use paceline::paginate::{Checkpoint, PageSpec, Param, RequestTemplate};
use paceline::retry::{Jitter, RetryPolicy};
use paceline::throttle::ThrottleConfig;
use paceline_async::{Client, PageOptions, Pages, Record};
use paceline_testkit::{LoopbackServer, ReceivedRequest, ScriptedResponse};

fn query(path: &str, name: &str) -> Option<String> {
    let (_, q) = path.split_once('?')?;
    q.split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn records(from: u64, to: u64) -> String {
    let items: Vec<String> = (from..to).map(|i| format!(r#"{{"id":{i}}}"#)).collect();
    format!("[{}]", items.join(","))
}

fn cursor_server(total: u64) -> LoopbackServer {
    LoopbackServer::start_with(move |r: &ReceivedRequest| {
        let at: u64 = query(&r.path, "cursor").map_or(0, |c| c.parse().unwrap());
        let end = (at + 10).min(total);
        let next = if end < total {
            format!(r#""{end}""#)
        } else {
            "null".into()
        };
        ScriptedResponse::new(200).json(&format!(
            r#"{{"data":{},"next_cursor":{next}}}"#,
            records(at, end)
        ))
    })
    .unwrap()
}

fn cursor_spec() -> PageSpec {
    PageSpec::cursor("/data", "/next_cursor", "cursor").page_size(Param::query("limit"), 10)
}

/// Offset pages of `total` records, each answered after `DELAY`.
fn offset_server(total: u64) -> LoopbackServer {
    LoopbackServer::start_with(move |r: &ReceivedRequest| {
        let at: u64 = query(&r.path, "offset").map_or(0, |v| v.parse().unwrap());
        let end = (at + 5).min(total);
        ScriptedResponse::new(200)
            .json(&format!(
                r#"{{"data":{},"total":{total}}}"#,
                records(at.min(total), end)
            ))
            .delay(DELAY)
    })
    .unwrap()
}

const DELAY: Duration = Duration::from_millis(200);

/// The arrival times, sorted.
fn arrivals(server: &LoopbackServer) -> Vec<std::time::Instant> {
    let mut at: Vec<_> = server.received().iter().map(|r| r.at).collect();
    at.sort_unstable();
    at
}

fn client() -> Client {
    let retry = RetryPolicy::default()
        .base(Duration::from_millis(20))
        .jitter(Jitter::None);
    Client::new(PacerConfig::default().retry(retry))
}

fn template(server: &LoopbackServer, path: &str) -> RequestTemplate {
    RequestTemplate::get(&format!("{}{path}", server.url())).unwrap()
}

fn id(record: &Record) -> u64 {
    record.parse::<serde_json::Value>().unwrap()["id"]
        .as_u64()
        .unwrap()
}

async fn walk_all(pages: Pages) -> Vec<u64> {
    pages.into_stream().map(|r| id(&r.unwrap())).collect().await
}

fn temp_dir(name: &str) -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "paceline-async-{name}-{}-{seq}",
        std::process::id()
    ));
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn read_checkpoint(path: &Path) -> Checkpoint {
    Checkpoint::from_bytes(&fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_crash_mid_walk_then_a_resume_delivers_exactly_the_rest() {
    let server = cursor_server(95);
    let client = client();
    let dir = temp_dir("crash");
    let path = dir.join("walk.json");
    let start = || {
        client.pages(
            Some(cursor_spec()),
            template(&server, "/items"),
            PageOptions::new().checkpoint_file(&path),
        )
    };
    smol::block_on(async {
        // Run 1: pages 1 to 3 processed; the caller asks for the next record (so page 3's
        // checkpoint is saved), then crashes: the stream is dropped mid-walk.
        let mut stream = Box::pin(start().await.unwrap().into_stream());
        let mut processed = Vec::new();
        for _ in 0..30 {
            processed.push(id(&stream.next().await.unwrap().unwrap()));
        }
        let unprocessed = stream.next().await.unwrap().unwrap();
        assert_eq!((unprocessed.page(), id(&unprocessed)), (4, 30));
        drop(stream);
        let checkpoint = read_checkpoint(&path);
        assert_eq!((checkpoint.pages(), checkpoint.records()), (3, 30));

        // Run 2: resumes after page 3, exactly once.
        processed.extend(walk_all(start().await.unwrap()).await);
        assert_eq!(processed, (0..95).collect::<Vec<_>>());
        assert!(read_checkpoint(&path).is_complete());
        // Page 4 was fetched by both runs, every other page once.
        assert_eq!(server.received().len(), 11);

        // Run 3: complete; nothing delivered, nothing sent.
        assert_eq!(walk_all(start().await.unwrap()).await, Vec::<u64>::new());
    });
    assert_eq!(server.received().len(), 11);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn commit_saves_a_finished_page_before_a_graceful_exit() {
    let server = cursor_server(25);
    let client = client();
    let dir = temp_dir("commit");
    let path = dir.join("walk.json");
    let start = || {
        client.pages(
            Some(cursor_spec()),
            template(&server, "/items"),
            PageOptions::new().checkpoint_file(&path),
        )
    };
    smol::block_on(async {
        let mut pages = start().await.unwrap();
        let page = pages.next_page().await.unwrap().unwrap();
        assert_eq!(page.len(), 10);
        assert!(pages.commit().await.unwrap());
        drop(pages);
        assert_eq!(read_checkpoint(&path).pages(), 1);
        assert_eq!(
            walk_all(start().await.unwrap()).await,
            (10..25).collect::<Vec<_>>()
        );
    });
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn offset_pages_are_in_flight_together_and_arrive_in_order() {
    let server = offset_server(40);
    let client = client();
    let spec = PageSpec::offset("/data", 5).total("/total");
    let ids = smol::block_on(async {
        walk_all(
            client
                .pages(
                    Some(spec),
                    template(&server, "/items"),
                    PageOptions::new().concurrency(4),
                )
                .await
                .unwrap(),
        )
        .await
    });
    assert_eq!(ids, (0..40).collect::<Vec<_>>());
    let mut offsets: Vec<u64> = server
        .received()
        .iter()
        .map(|r| query(&r.path, "offset").map_or(0, |v| v.parse().unwrap()))
        .collect();
    offsets.sort_unstable();
    assert_eq!(
        offsets,
        (0..8).map(|i| i * 5).collect::<Vec<_>>(),
        "every page once"
    );
    // One at a time, a request follows the previous response, at least `DELAY` later.
    let closest = arrivals(&server)
        .windows(2)
        .map(|w| w[1] - w[0])
        .min()
        .unwrap();
    assert!(
        closest < DELAY,
        "no two page requests were in flight together: {closest:?}"
    );
}

#[test]
fn two_partitions_share_one_client_and_its_concurrency_limit() {
    let server = offset_server(30);
    let client =
        Client::new(PacerConfig::default().throttle(ThrottleConfig::default().concurrency(2)));
    let spec = PageSpec::offset("/data", 5).total("/total");
    let (left, right) = smol::block_on(async {
        let walk = |list: &str| {
            let (client, spec, template) = (client.clone(), spec.clone(), template(&server, list));
            smol::spawn(async move {
                walk_all(
                    client
                        .pages(Some(spec), template, PageOptions::new().concurrency(3))
                        .await
                        .unwrap(),
                )
                .await
            })
        };
        let (left, right) = (walk("/lists/1"), walk("/lists/2"));
        (left.await, right.await)
    });
    assert_eq!((left.len(), right.len()), (30, 30));
    assert_eq!(server.received().len(), 12);
    // Two in flight at most: a third request waits for one of two to finish.
    let at = arrivals(&server);
    assert!(
        at.windows(2).any(|w| w[1] - w[0] < DELAY),
        "never two in flight"
    );
    for w in at.windows(3) {
        assert!(
            w[2] - w[0] + Duration::from_millis(50) >= DELAY,
            "three requests in flight at once"
        );
    }
}
