//! One suite, every driver: the same scenarios against the blocking ureq client and the async
//! client under smol and under async-std. Each driver pumps the same core machines (the
//! exchange and the page pump), so each scenario must come out the same whichever runs it.

use std::path::PathBuf;
use std::time::Duration;

use http::Request;
use paceline::PacerConfig;
use paceline::paginate::{PageSpec, RequestTemplate, Resume};
use paceline::retry::{Jitter, RetryPolicy};
use paceline_testkit::dataset::{DataStyle, DatasetSpec};
use paceline_testkit::model::{Chaos, SharedModel, Truth};
use paceline_testkit::{LoopbackServer, ReceivedRequest, Script, ScriptedResponse};
use serde_json::Value;

mod support;
use support::{assert_at_least, gaps};

/// Who runs the scenario.
#[derive(Debug, Clone, Copy)]
enum Driver {
    Ureq,
    Smol,
    AsyncStd,
}

const DRIVERS: [Driver; 3] = [Driver::Ureq, Driver::Smol, Driver::AsyncStd];

/// A page walk as a scenario asks it: at most `take` records (then the walk is dropped, as a
/// crash would), through a checkpoint file when given.
struct Walk {
    spec: Option<PageSpec>,
    template: RequestTemplate,
    checkpoint: Option<PathBuf>,
    resume: Resume,
    concurrency: usize,
    take: usize,
}

fn config() -> PacerConfig {
    PacerConfig::default().retry(
        RetryPolicy::default()
            .base(Duration::from_millis(5))
            .jitter(Jitter::None)
            .max_attempts(10),
    )
}

impl Driver {
    fn block_on<F: std::future::Future>(self, f: F) -> F::Output {
        match self {
            Driver::AsyncStd => async_std::task::block_on(f),
            _ => smol::block_on(f),
        }
    }

    /// Sends each request in order through one client: its status and body, or the error.
    fn send(self, requests: Vec<Request<Vec<u8>>>) -> Vec<Result<(u16, Vec<u8>), String>> {
        self.send_with(config(), requests)
    }

    /// [`Driver::send`] with this Pacer configuration.
    fn send_with(
        self,
        config: PacerConfig,
        requests: Vec<Request<Vec<u8>>>,
    ) -> Vec<Result<(u16, Vec<u8>), String>> {
        match self {
            Driver::Ureq => {
                let client = paceline_ureq::Client::new(config);
                requests
                    .into_iter()
                    .map(|r| {
                        client
                            .send(r)
                            .map(|r| (r.status().as_u16(), r.into_body()))
                            .map_err(|e| e.to_string())
                    })
                    .collect()
            }
            _ => self.block_on(async {
                let client = paceline_async::Client::new(config);
                let mut out = Vec::new();
                for r in requests {
                    out.push(
                        client
                            .send(r)
                            .await
                            .map(|r| (r.status().as_u16(), r.into_body()))
                            .map_err(|e| e.to_string()),
                    );
                }
                out
            }),
        }
    }

    /// Walks a list: the records delivered, and the error that ended it, if one did.
    fn walk(self, w: Walk) -> (Vec<Vec<u8>>, Option<String>) {
        match self {
            Driver::Ureq => {
                let client = paceline_ureq::Client::new(config());
                let mut options = paceline_ureq::PageOptions::new()
                    .resume(w.resume)
                    .concurrency(w.concurrency);
                if let Some(p) = &w.checkpoint {
                    options = options.checkpoint_file(p);
                }
                let pages = match client.pages(w.spec, w.template, options) {
                    Ok(p) => p,
                    Err(e) => return (Vec::new(), Some(e.to_string())),
                };
                let (mut got, mut err) = (Vec::new(), None);
                for r in pages.take(w.take) {
                    match r {
                        Ok(r) => got.push(r.to_vec()),
                        Err(e) => err = Some(e.to_string()),
                    }
                }
                (got, err)
            }
            _ => self.block_on(async {
                let client = paceline_async::Client::new(config());
                let mut options = paceline_async::PageOptions::new()
                    .resume(w.resume)
                    .concurrency(w.concurrency);
                if let Some(p) = &w.checkpoint {
                    options = options.checkpoint_file(p);
                }
                let mut pages = match client.pages(w.spec, w.template, options).await {
                    Ok(p) => p,
                    Err(e) => return (Vec::new(), Some(e.to_string())),
                };
                let (mut got, mut err) = (Vec::new(), None);
                while got.len() < w.take {
                    match pages.next_record().await {
                        Some(Ok(r)) => got.push(r.to_vec()),
                        Some(Err(e)) => {
                            err = Some(e.to_string());
                            break;
                        }
                        None => break,
                    }
                }
                (got, err)
            }),
        }
    }
}

fn ids(records: &[Vec<u8>]) -> Vec<u64> {
    records
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(r).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

/// A list of `n` records on loopback, with 2 % 500s, resets after the answer and truncated
/// bodies: what the Pacer retries and the page pump resends.
fn list(style: DataStyle, n: u64, seed: u64) -> (LoopbackServer, SharedModel, DatasetSpec) {
    let data = DatasetSpec::new(style, n).page_size(20);
    let (server, model, data) = LoopbackServer::start_dataset(data, seed, Chaos::recoverable(0.02))
        .expect("loopback server");
    (server, model, data)
}

fn every_record(model: &SharedModel) -> Vec<u64> {
    let Truth { ever, .. } = model.truth().unwrap();
    let mut ever = ever;
    ever.sort_unstable();
    ever
}

#[test]
fn a_503_is_retried_and_a_404_is_an_answer() {
    for d in DRIVERS {
        let server = LoopbackServer::start(
            Script::new()
                .route(
                    "/a",
                    [
                        ScriptedResponse::new(503),
                        ScriptedResponse::new(200).body("ok"),
                    ],
                )
                .route("/b", [ScriptedResponse::new(404)]),
        )
        .unwrap();
        let get = |p: &str| {
            Request::get(format!("{}{p}", server.url()))
                .body(Vec::new())
                .unwrap()
        };
        let out = d.send(vec![get("/a"), get("/b")]);
        assert_eq!(out[0], Ok((200, b"ok".to_vec())), "{d:?}");
        assert_eq!(out[1].as_ref().map(|r| r.0), Ok(404), "{d:?}");
        assert_eq!(server.received().len(), 3, "{d:?}");
    }
}

#[test]
fn a_redirect_to_another_origin_goes_without_credentials() {
    for d in DRIVERS {
        let other =
            LoopbackServer::start(Script::new().route("/x", [ScriptedResponse::new(200)])).unwrap();
        let target = format!("{}/x", other.url());
        let first = LoopbackServer::start_with(move |_: &ReceivedRequest| {
            ScriptedResponse::new(302).header("location", &target)
        })
        .unwrap();
        let request = Request::get(format!("{}/start", first.url()))
            .header("authorization", "Bearer secret")
            .header("cookie", "sid=1")
            .body(Vec::new())
            .unwrap();
        let out = d.send(vec![request]);
        assert_eq!(out[0].as_ref().map(|r| r.0), Ok(200), "{d:?}");
        let seen = other.received();
        assert_eq!(seen.len(), 1, "{d:?}");
        assert_eq!(seen[0].header("authorization"), None, "{d:?}");
        assert_eq!(seen[0].header("cookie"), None, "{d:?}");
    }
}

#[test]
fn every_style_is_walked_exactly_once_through_chaos() {
    for style in [DataStyle::Cursor, DataStyle::Link, DataStyle::Offset] {
        for (i, d) in DRIVERS.into_iter().enumerate() {
            let (server, model, data) = list(style, 150, 7 + i as u64);
            let concurrency = if style == DataStyle::Offset { 3 } else { 1 };
            let (got, err) = d.walk(Walk {
                spec: Some(data.page_spec()),
                template: data.template(),
                checkpoint: None,
                resume: Resume::Never,
                concurrency,
                take: usize::MAX,
            });
            assert_eq!(err, None, "{d:?} {style:?}");
            let mut got = ids(&got);
            let delivered = got.len();
            got.sort_unstable();
            got.dedup();
            assert_eq!(got.len(), delivered, "{d:?} {style:?}: a record twice");
            assert_eq!(got, every_record(&model), "{d:?} {style:?}");
            drop(server);
        }
    }
}

#[test]
fn a_walk_dropped_mid_list_resumes_with_exactly_the_rest() {
    for d in DRIVERS {
        let (_server, model, data) = list(DataStyle::Cursor, 200, 3);
        let dir =
            std::env::temp_dir().join(format!("paceline-drivers-{}-{d:?}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let checkpoint = Some(dir.join("walk.json"));
        let walk = |take, resume| Walk {
            spec: Some(data.page_spec()),
            template: data.template(),
            checkpoint: checkpoint.clone(),
            resume,
            concurrency: 1,
            take,
        };
        // 50 records taken, then dropped: page 3 is in hand, its checkpoint not saved.
        let (first, err) = d.walk(walk(50, Resume::Never));
        assert_eq!((first.len(), err), (50, None), "{d:?}");
        let (rest, err) = d.walk(walk(usize::MAX, Resume::Required));
        assert_eq!(err, None, "{d:?}");
        // The page in hand when it stopped comes again (no key given): never a gap.
        let (first, rest) = (ids(&first), ids(&rest));
        let redelivered = first.iter().filter(|i| rest.contains(i)).count();
        assert!(
            redelivered <= 20,
            "{d:?}: at most the page in hand again, {redelivered}"
        );
        let mut all: Vec<u64> = first.into_iter().chain(rest).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all, every_record(&model), "{d:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_next_url_on_another_origin_is_refused() {
    for d in DRIVERS {
        let other = LoopbackServer::start(Script::new().route("/p2", [ScriptedResponse::new(200)]))
            .unwrap();
        let next = format!("{}/p2", other.url());
        let first = LoopbackServer::start_with(move |_: &ReceivedRequest| {
            ScriptedResponse::new(200)
                .header("link", &format!("<{next}>; rel=\"next\""))
                .json(r#"[{"id":1}]"#)
        })
        .unwrap();
        let mut template = RequestTemplate::get(&format!("{}/p1", first.url())).unwrap();
        template
            .headers
            .insert("authorization", "Bearer secret".parse().unwrap());
        let (got, err) = d.walk(Walk {
            spec: Some(PageSpec::link("")),
            template,
            checkpoint: None,
            resume: Resume::Never,
            concurrency: 1,
            take: usize::MAX,
        });
        assert_eq!(ids(&got), [1], "{d:?}");
        assert!(err.is_some_and(|e| e.contains("origin")), "{d:?}");
        assert!(
            other.received().is_empty(),
            "{d:?}: nothing sent to another origin"
        );
    }
}

#[test]
fn a_retry_after_is_waited_for() {
    for d in DRIVERS {
        let server = LoopbackServer::start(Script::new().route(
            "/a",
            [
                ScriptedResponse::new(429).header("retry-after", "1"),
                ScriptedResponse::new(200).body("ok"),
            ],
        ))
        .unwrap();
        let get = Request::get(format!("{}/a", server.url()))
            .body(Vec::new())
            .unwrap();
        assert_eq!(d.send(vec![get])[0], Ok((200, b"ok".to_vec())), "{d:?}");
        let received = server.received();
        assert_eq!(received.len(), 2, "{d:?}");
        assert_at_least(gaps(&received)[0], Duration::from_secs(1));
    }
}

#[test]
fn a_configured_rate_spaces_the_requests() {
    use paceline::throttle::{Limit, ThrottleConfig};
    for d in DRIVERS {
        let server =
            LoopbackServer::start_with(|_: &ReceivedRequest| ScriptedResponse::new(200)).unwrap();
        let config = config().throttle(ThrottleConfig::default().limit(Limit::per_second(20)));
        let requests = (0..12)
            .map(|_| {
                Request::get(format!("{}/a", server.url()))
                    .body(Vec::new())
                    .unwrap()
            })
            .collect();
        let out = d.send_with(config, requests);
        assert!(
            out.iter().all(|r| r.as_ref().is_ok_and(|r| r.0 == 200)),
            "{d:?}"
        );
        // Twelve requests at 20 a second: the first goes at once, the last 11 × 50 ms later.
        let received = server.received();
        let span = received[11].at.duration_since(received[0].at);
        assert_at_least(span, Duration::from_millis(550));
        for gap in gaps(&received) {
            assert_at_least(gap, Duration::from_millis(50));
        }
    }
}

#[test]
fn a_post_answered_303_is_followed_with_a_get() {
    for d in DRIVERS {
        let server = LoopbackServer::start(
            Script::new()
                .route(
                    "/submit",
                    [ScriptedResponse::new(303).header("location", "/result")],
                )
                .route("/result", [ScriptedResponse::new(200).body("done")]),
        )
        .unwrap();
        let post = Request::post(format!("{}/submit", server.url()))
            .body(b"form".to_vec())
            .unwrap();
        assert_eq!(d.send(vec![post])[0], Ok((200, b"done".to_vec())), "{d:?}");
        let received = server.received();
        let first = (received[0].method.as_str(), received[0].body.as_slice());
        assert_eq!(first, ("POST", &b"form"[..]), "{d:?}");
        assert_eq!(received[1].method, "GET", "{d:?}");
        assert!(
            received[1].body.is_empty(),
            "{d:?}: the 303's GET has no body"
        );
    }
}

/// A two-page `Link` list whose second page is on `b`'s origin.
fn list_across_origins() -> (LoopbackServer, LoopbackServer) {
    let b = LoopbackServer::start_with(|_: &ReceivedRequest| {
        ScriptedResponse::new(200).json(r#"[{"id":3},{"id":4}]"#)
    })
    .unwrap();
    let next = format!("{}/export/page2", b.url());
    let a = LoopbackServer::start_with(move |_: &ReceivedRequest| {
        ScriptedResponse::new(200)
            .json(r#"[{"id":0},{"id":1},{"id":2}]"#)
            .header("link", &format!("<{next}>; rel=\"next\""))
    })
    .unwrap();
    (a, b)
}

#[test]
fn an_allowed_origin_gets_the_next_page_request_without_credentials() {
    use paceline::paginate::Guards;
    for d in DRIVERS {
        let (a, b) = list_across_origins();
        let guards = Guards::default()
            .allow_origin(&b.url())
            .credential_header("X-Api-Key");
        let mut template = RequestTemplate::get(&format!("{}/export", a.url())).unwrap();
        for (name, value) in [
            ("authorization", "Bearer s3cret"),
            ("cookie", "session=abc"),
            ("x-api-key", "k3y"),
        ] {
            template.headers.insert(name, value.parse().unwrap());
        }
        let (got, err) = d.walk(Walk {
            spec: Some(PageSpec::link("").guards(guards)),
            template,
            checkpoint: None,
            resume: Resume::Never,
            concurrency: 1,
            take: usize::MAX,
        });
        assert_eq!((ids(&got), err), (vec![0, 1, 2, 3, 4], None), "{d:?}");
        let first = a.received();
        assert_eq!(first[0].header("authorization"), Some("Bearer s3cret"));
        let to_b = b.received();
        assert_eq!(to_b.len(), 1, "{d:?}");
        for secret in ["authorization", "cookie", "x-api-key"] {
            assert_eq!(to_b[0].header(secret), None, "{d:?}: {secret} left");
        }
    }
}

#[test]
fn a_429_mid_walk_is_waited_out_and_the_page_requested_again() {
    for d in DRIVERS {
        let server = LoopbackServer::start(
            Script::new()
                .route(
                    "/items",
                    [ScriptedResponse::new(200)
                        .json(r#"[{"id":0},{"id":1},{"id":2}]"#)
                        .header("link", "</items2>; rel=\"next\"")],
                )
                .route(
                    "/items2",
                    [
                        ScriptedResponse::new(429).header("retry-after", "1"),
                        ScriptedResponse::new(200).json(r#"[{"id":3},{"id":4}]"#),
                    ],
                ),
        )
        .unwrap();
        let (got, err) = d.walk(Walk {
            spec: Some(PageSpec::link("")),
            template: RequestTemplate::get(&format!("{}/items", server.url())).unwrap(),
            checkpoint: None,
            resume: Resume::Never,
            concurrency: 1,
            take: usize::MAX,
        });
        assert_eq!((ids(&got), err), (vec![0, 1, 2, 3, 4], None), "{d:?}");
        let received = server.received();
        assert_eq!(received.len(), 3, "{d:?}");
        assert_at_least(gaps(&received)[1], Duration::from_secs(1));
    }
}
