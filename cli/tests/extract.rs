//! `paceline extract` end to end: the binary against loopback servers started here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use paceline_testkit::dataset::{DataStyle, Dataset, DatasetSpec};
use paceline_testkit::model::{
    Answers, Chaos, Latency, LimiterKind, LimiterSpec, ModelResponder, Outage, ServerModel, Truth,
};
use paceline_testkit::{LoopbackServer, ReceivedRequest, Responder as _, ScriptedResponse};

mod support;
use support::{CURSOR_FLAGS, temp_dir, text};

const BIN: &str = env!("CARGO_BIN_EXE_paceline");

/// A dataset served by a model whose ground truth can be read while it runs.
struct Live {
    _server: LoopbackServer,
    model: Arc<Mutex<Option<ModelResponder>>>,
    data: DatasetSpec,
}

impl Live {
    /// A list that stays as it is.
    fn start(
        style: DataStyle,
        records: u64,
        configure: impl FnOnce(ServerModel) -> ServerModel,
    ) -> Live {
        Live::serve(DatasetSpec::new(style, records), configure)
    }

    /// A list that changes while it is read: 5 head inserts, 5 tail inserts and 5 deletes a
    /// second of the dataset's clock, which moves 100 ms a request answered (the same changes
    /// on every run, whatever the machine's speed).
    fn changing(
        style: DataStyle,
        records: u64,
        configure: impl FnOnce(ServerModel) -> ServerModel,
    ) -> Live {
        let data = DatasetSpec::new(style, records)
            .mutations(5.0, 5.0, 5.0)
            .by_request(100.0);
        Live::serve(data, configure)
    }

    fn serve(data: DatasetSpec, configure: impl FnOnce(ServerModel) -> ServerModel) -> Live {
        let model: Arc<Mutex<Option<ModelResponder>>> = Arc::new(Mutex::new(None));
        let serving = Arc::clone(&model);
        let server = LoopbackServer::start_with(move |r: &ReceivedRequest| {
            let mut m = serving.lock().unwrap_or_else(PoisonError::into_inner);
            m.as_mut().expect("model set").respond(r)
        })
        .unwrap();
        let mut data = data.page_size(100);
        data.base_url = server.url();
        let m = ServerModel::new(3, SystemTime::now())
            .latency(Latency {
                base_ms: 0.0,
                jitter_ms: 0.0,
            })
            .app(Dataset::new(data.clone(), 3));
        *model.lock().unwrap() = Some(ModelResponder::new(configure(m)));
        Live {
            _server: server,
            model,
            data,
        }
    }

    fn truth(&self) -> Truth {
        let m = self.model.lock().unwrap();
        m.as_ref().unwrap().model().truth().unwrap()
    }

    /// What the server answered, counted on its side.
    fn answers(&self) -> Answers {
        let m = self.model.lock().unwrap();
        m.as_ref().unwrap().answers().clone()
    }

    /// The page spec as a file, for `--page-spec`.
    fn spec_file(&self, dir: &Path) -> PathBuf {
        let path = dir.join("spec.json");
        std::fs::write(&path, serde_json::to_vec(&self.data.page_spec()).unwrap()).unwrap();
        path
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("extract")
        .args(args)
        .env_remove("RUST_LOG")
        // Quotas' use is kept between runs: in this process's own place, not the user's.
        .env("XDG_STATE_HOME", state_home())
        .output()
        .unwrap()
}

fn state_home() -> PathBuf {
    std::env::temp_dir().join(format!("paceline-cli-state-{}", std::process::id()))
}

/// The ids in the file, in its order.
fn ids_in_order(path: &Path) -> Vec<u64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line: {line:?}: {e}"));
            v["id"].as_u64().unwrap()
        })
        .collect()
}

/// Each id in the file, with how many times it appears.
fn ids(path: &Path) -> HashMap<u64, u32> {
    let mut seen = HashMap::new();
    for id in ids_in_order(path) {
        *seen.entry(id).or_insert(0) += 1;
    }
    seen
}

/// Every record that existed throughout is there, each once, and none was invented.
fn assert_exactly_once(path: &Path, truth: &Truth) {
    let found = truth.compare(ids_in_order(path));
    assert!(found.is_exact(), "{found}");
}

#[test]
fn a_full_extract_matches_the_ground_truth() {
    // A live cursor list (inserts and deletes while it is paged) with 429s, 5xx, resets and
    // truncated bodies.
    let live = Live::changing(DataStyle::Cursor, 3_000, |m| {
        m.chaos(Chaos {
            p_429: 0.05,
            p_500: 0.03,
            p_reset_after: 0.03,
            p_truncated: 0.03,
            ..Chaos::default()
        })
    });
    let dir = temp_dir("full");
    let out = dir.join("out.jsonl");
    let spec = live.spec_file(&dir);
    let url = live.data.url();
    let o = run(&[
        &url,
        "--page-spec",
        spec.to_str().unwrap(),
        "--backoff-ms",
        "5",
        "--max-attempts",
        "10",
        "-o",
        out.to_str().unwrap(),
    ]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let truth = live.truth();
    assert!(
        truth.ever.len() > 3_010 && truth.must_deliver.len() < 2_995,
        "the list changed while it was read: {} ever, {} throughout",
        truth.ever.len(),
        truth.must_deliver.len()
    );
    assert_exactly_once(&out, &truth);
    for field in [
        "records", "pages", "duration", "requests", "429s", "retries", "errors",
    ] {
        assert!(stderr.contains(field), "summary without {field}: {stderr}");
    }
    assert!(stderr.contains("checkpoint "), "{stderr}");
    // Records go to stdout without --output.
    let live = Live::start(DataStyle::Link, 250, |m| m);
    let o = run(&[
        &live.data.url(),
        "--paginate",
        "link",
        "--page-size",
        "per_page=100",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).lines().count(), 250);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_stopped_extract_resumes_with_every_record_once() {
    let live = Live::start(DataStyle::Link, 2_000, |m| m);
    let dir = temp_dir("resume");
    let out = dir.join("out.jsonl");
    let cp = dir.join("state.json");
    let url = live.data.url();
    let base = [
        url.as_str(),
        "--paginate",
        "link",
        "--page-size",
        "per_page=100",
        "-o",
        out.to_str().unwrap(),
        "--checkpoint",
        cp.to_str().unwrap(),
    ];
    // Stopped by a guard after 5 pages: exit 6, resumable.
    let o = run(&[&base[..], &["--max-pages", "5"]].concat());
    assert_eq!(o.status.code(), Some(6), "{}", text(&o.stderr));
    assert_eq!(ids(&out).len(), 500);
    // Running again without --resume refuses to overwrite the checkpoint.
    let o = run(&base);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("--resume"));
    // Bytes written after the checkpoint (a crash mid-page) are cut on resume.
    let mut bytes = std::fs::read(&out).unwrap();
    bytes.extend_from_slice(b"{\"id\":1000001}\n{\"id\":10");
    std::fs::write(&out, bytes).unwrap();
    let o = run(&[&base[..], &["--resume"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_exactly_once(&out, &live.truth());
    assert_eq!(ids(&out).len(), 2_000);
    // Resuming a complete extract writes nothing more.
    let o = run(&[&base[..], &["--resume"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(ids(&out).len(), 2_000);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn concurrent_offset_pages_are_written_in_order_and_resume_exactly() {
    let live = Live::start(DataStyle::Offset, 2_000, |m| m);
    let dir = temp_dir("concurrent");
    let out = dir.join("out.jsonl");
    let spec = live.spec_file(&dir);
    let url = live.data.url();
    let base = [
        url.as_str(),
        "--page-spec",
        spec.to_str().unwrap(),
        "--concurrency",
        "4",
        "-o",
        out.to_str().unwrap(),
    ];
    // Stopped by a guard after 7 pages (four requested together with the pending one).
    let o = run(&[&base[..], &["--max-pages", "7"]].concat());
    assert_eq!(o.status.code(), Some(6), "{}", text(&o.stderr));
    assert_eq!(ids(&out).len(), 700);
    let o = run(&[&base[..], &["--resume"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_exactly_once(&out, &live.truth());
    // In the list's order: a frozen offset list is read as it stands.
    let written = ids_in_order(&out);
    let mut sorted = written.clone();
    sorted.sort_unstable();
    assert_eq!(written, sorted);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A cursor list of `total` records over a scripted server, `{"data":[…],"next":…}`, whose
/// next pointer is a URL on `next_origin` after page 1 (or its own origin).
fn url_list(total: u64, next_origin: Option<String>) -> LoopbackServer {
    let origin = Arc::new(Mutex::new(None::<String>));
    let o = Arc::clone(&origin);
    let server = LoopbackServer::start_with(move |r: &ReceivedRequest| {
        let at: u64 = r
            .path
            .split("at=")
            .nth(1)
            .map_or(0, |v| v.split('&').next().unwrap().parse().unwrap());
        let end = (at + 10).min(total);
        let items: Vec<String> = (at..end).map(|i| format!(r#"{{"id":{i}}}"#)).collect();
        let base = next_origin
            .clone()
            .or_else(|| o.lock().unwrap().clone())
            .unwrap();
        let next = if end < total {
            format!(r#""{base}/items?at={end}""#)
        } else {
            "null".into()
        };
        ScriptedResponse::new(200).json(&format!(
            r#"{{"data":[{}],"links":{{"next":{next}}}}}"#,
            items.join(",")
        ))
    })
    .unwrap();
    *origin.lock().unwrap() = Some(server.url());
    server
}

#[test]
fn a_header_from_the_environment_is_sent_and_never_shown() {
    const SECRET: &str = "s3cret-7f0c1e";
    let server = url_list(30, None);
    let dir = temp_dir("secret");
    let out = dir.join("out.jsonl");
    let o = Command::new(BIN)
        .args([
            "extract",
            &format!("{}/items", server.url()),
            "--paginate",
            "next-url",
            "-H",
            "Authorization: Bearer $PACELINE_TEST_TOKEN",
            "-H",
            "X-Api-Key: ${PACELINE_TEST_TOKEN}",
            "-o",
            out.to_str().unwrap(),
        ])
        .env("PACELINE_TEST_TOKEN", SECRET)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let received = server.received();
    assert_eq!(received.len(), 3);
    for r in &received {
        assert_eq!(
            r.header("authorization"),
            Some(&*format!("Bearer {SECRET}"))
        );
        assert_eq!(r.header("x-api-key"), Some(SECRET));
    }
    let checkpoint = std::fs::read(dir.join("out.jsonl.checkpoint.json")).unwrap();
    for (what, bytes) in [
        ("stdout", &o.stdout),
        ("stderr", &o.stderr),
        ("checkpoint", &checkpoint),
        ("output", &std::fs::read(&out).unwrap()),
    ] {
        assert!(!text(bytes).contains(SECRET), "the secret is in {what}");
    }
    // An unset variable is bad input, and the message names it, not a value.
    let o = Command::new(BIN)
        .args([
            "extract",
            "http://127.0.0.1:9/x",
            "-H",
            "Authorization: Bearer $PACELINE_UNSET_VAR",
        ])
        .env_remove("PACELINE_UNSET_VAR")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("$PACELINE_UNSET_VAR is not set"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_next_page_on_another_origin_is_refused_unless_allowed() {
    let other = url_list(30, None);
    let first = url_list(30, Some(other.url()));
    let dir = temp_dir("origin");
    let out = dir.join("out.jsonl");
    let url = format!("{}/items", first.url());
    let args = [
        url.as_str(),
        "--paginate",
        "next-url",
        "-H",
        "Authorization: Bearer $PACELINE_TEST_TOKEN",
        "-o",
        out.to_str().unwrap(),
    ];
    let run_env = |extra: &[&str]| {
        Command::new(BIN)
            .arg("extract")
            .args(args)
            .args(extra)
            .env("PACELINE_TEST_TOKEN", "t0ken")
            .output()
            .unwrap()
    };
    let o = run_env(&[]);
    assert_eq!(o.status.code(), Some(6), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("walk stopped"),
        "{}",
        text(&o.stderr)
    );
    assert!(other.received().is_empty());
    assert_eq!(ids(&out).len(), 10);
    // Allowed (as a host, for the list's scheme), resumed from the refusal: no credentials
    // go there.
    let host = other.url().trim_start_matches("http://").to_owned();
    let o = run_env(&["--resume", "--allow-origin", &host]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(ids(&out).len(), 30);
    let received = other.received();
    assert_eq!(received.len(), 2);
    assert!(received.iter().all(|r| r.header("authorization").is_none()));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn exit_codes_tell_what_happened() {
    // Server unavailable after retries: 3.
    let down =
        LoopbackServer::start_with(|_: &ReceivedRequest| ScriptedResponse::new(503)).unwrap();
    let url = format!("{}/items", down.url());
    let o = run(&[
        &url,
        "--paginate",
        "link",
        "--max-attempts",
        "2",
        "--backoff-ms",
        "5",
        "--max-outage",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("--resume"), "{}", text(&o.stderr));
    assert_eq!(down.received().len(), 2);
    // A quota used up: 4, after the pages it allowed.
    let live = Live::start(DataStyle::Link, 1_000, |m| m);
    let o = run(&[
        &live.data.url(),
        "--paginate",
        "link",
        "--page-size",
        "per_page=100",
        "--rate",
        "3/day",
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).lines().count(), 300);
    // The output cannot be written (a directory): 1, before any request.
    let idle =
        LoopbackServer::start_with(|_: &ReceivedRequest| ScriptedResponse::new(200).json("[]"))
            .unwrap();
    let dir = temp_dir("exit1");
    let o = run(&[
        &format!("{}/items", idle.url()),
        "--paginate",
        "link",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(idle.received().is_empty());
    std::fs::remove_dir_all(dir).unwrap();
    // Bad input: 2.
    let o = run(&[&live.data.url(), "--rate", "ten per second"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["not a url"]);
    assert_eq!(o.status.code(), Some(2));
    let o = Command::new(BIN)
        .args(["extract", "--help"])
        .output()
        .unwrap();
    let help = text(&o.stdout);
    for line in [
        "0  complete",
        "3  server unavailable",
        "4  quota exhausted",
        "5  interrupted",
    ] {
        assert!(help.contains(line), "{help}");
    }
}

/// Waits until `path` is longer than `len` (or the child exits): true if it grew.
fn wait_for_growth(path: &Path, len: u64, child: &mut std::process::Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::fs::metadata(path).map_or(0, |m| m.len()) > len {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("{} did not grow past {len} bytes in 20 s", path.display());
}

#[cfg(unix)]
#[test]
fn ctrl_c_saves_the_checkpoint_and_exits_resumably() {
    // Paced to 40 requests/s so there is time to interrupt.
    let live = Live::start(DataStyle::Cursor, 3_000, |m| m);
    let dir = temp_dir("ctrlc");
    let out = dir.join("out.jsonl");
    let url = live.data.url();
    let spec = live.spec_file(&dir);
    let args = [
        "extract",
        url.as_str(),
        "--page-spec",
        spec.to_str().unwrap(),
        "--rate",
        "40/s",
        "-o",
        out.to_str().unwrap(),
    ];
    let mut child = Command::new(BIN)
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_for_growth(&out, 2_000, &mut child));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    let o = Command::new(BIN)
        .args(args)
        .arg("--resume")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_exactly_once(&out, &live.truth());
    std::fs::remove_dir_all(dir).unwrap();
}

/// The checkpoint's `output_bytes`: how much of the output it covers (none before the first
/// checkpoint is written).
fn covered(checkpoint: &Path) -> u64 {
    let Ok(bytes) = std::fs::read(checkpoint) else {
        return 0;
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["output_bytes"].as_u64().unwrap()
}

#[cfg(unix)]
#[test]
fn kill_9_at_ten_random_moments_loses_and_duplicates_nothing() {
    use std::os::unix::process::ExitStatusExt as _;
    // A list that changes while it is read, across the kills and resumes.
    let live = Live::changing(DataStyle::Cursor, 50_000, |m| m);
    let dir = temp_dir("kill9");
    let out = dir.join("out.jsonl");
    let cp = dir.join("out.jsonl.checkpoint.json");
    let url = live.data.url();
    let spec = live.spec_file(&dir);
    let args = [
        "extract",
        url.as_str(),
        "--page-spec",
        spec.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    let mut rng = fastrand::Rng::with_seed(0x9);
    let mut kills = 0;
    // Per kill: what the checkpoint covered and how long the file was.
    let mut at_kill: Vec<(u64, u64)> = Vec::new();
    while kills < 10 {
        let mut command = Command::new(BIN);
        command.args(args).stderr(Stdio::null());
        if cp.exists() {
            command.arg("--resume");
        }
        // Let it write past where the last run got (measured before it starts: a resume first
        // cuts the file back to its checkpoint), then kill it a random moment later.
        let len = std::fs::metadata(&out).map_or(0, |m| m.len());
        let mut child = command.spawn().unwrap();
        assert!(
            wait_for_growth(&out, len, &mut child),
            "run {} ended by itself ({:?}) before writing anything",
            kills + 1,
            child.wait().unwrap()
        );
        std::thread::sleep(Duration::from_micros(rng.u64(0..20_000)));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        // Killed mid-walk, not ended by itself (a refused resume exits 2 at once, which a
        // count of kills alone would take for a kill).
        assert_eq!(status.signal(), Some(9), "run {}: {status}", kills + 1);
        kills += 1;
        // Whatever the moment, the checkpoint never covers more than the file holds: a resume
        // cuts the file back to it, never past its end.
        let (covered, len) = (covered(&cp), std::fs::metadata(&out).unwrap().len());
        assert!(
            covered <= len,
            "kill {kills}: covers {covered} of {len} bytes"
        );
        at_kill.push((covered, len));
    }
    // Each run went further than the one before.
    assert!(
        at_kill
            .windows(2)
            .all(|w| w[1].0 >= w[0].0 && w[1].1 > w[0].1),
        "{at_kill:?}"
    );
    let o = Command::new(BIN)
        .args(args)
        .arg("--resume")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let mid_page = at_kill.iter().filter(|(c, l)| l > c).count();
    eprintln!("{mid_page} of 10 kills left records past the checkpoint: {at_kill:?}");
    let truth = live.truth();
    assert!(truth.ever.len() > 50_100, "the list changed");
    assert_exactly_once(&out, &truth);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn rate_limits_hold_against_a_limited_server() {
    // The server allows a burst of 5 then 50/s; with --rate 50/s the client never hits it.
    let live = Live::start(DataStyle::Cursor, 1_500, |m| {
        m.limiter(LimiterSpec::new(LimiterKind::TokenBucket {
            capacity: 5,
            refill_per_s: 50.0,
        }))
    });
    let dir = temp_dir("rate");
    let spec = live.spec_file(&dir);
    let o = run(&[
        &live.data.url(),
        "--page-spec",
        spec.to_str().unwrap(),
        "--rate",
        "50/s",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).lines().count(), 1_500);
    // Counted by the server: nothing refused, every request a 200, and the client's summary
    // says the same.
    let answers = live.answers();
    assert_eq!(
        (answers.refused, answers.status(429)),
        (0, 0),
        "{answers:?}"
    );
    assert_eq!(answers.requests(), answers.status(200), "{answers:?}");
    let stderr = text(&o.stderr);
    assert!(stderr.contains("429s       0"), "{stderr}");
    assert!(
        stderr.contains(&format!("requests   {}\n", answers.requests())),
        "{answers:?}: {stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// The figure in the issue: extract's records/s against a bare ureq loop over the same pages
/// (same server, same page size, records written as lines to a file). Run with
/// `cargo test --release -p paceline-cli --test extract -- --ignored --nocapture throughput`.
#[test]
#[ignore = "a measurement, not a check"]
fn throughput_against_a_bare_ureq_loop() {
    use std::io::Write as _;
    const RECORDS: u64 = 100_000;
    let dir = temp_dir("throughput");
    // Bare: GET, parse, follow next_cursor, write each record.
    let live = Live::start(DataStyle::Cursor, RECORDS, |m| m);
    let agent: paceline_ureq::ureq::Agent = paceline_ureq::ureq::Agent::new_with_defaults();
    let started = Instant::now();
    let mut file = std::io::BufWriter::new(std::fs::File::create(dir.join("bare.jsonl")).unwrap());
    let mut cursor = String::new();
    let mut n = 0u64;
    loop {
        let url = if cursor.is_empty() {
            format!("{}?limit=100", live.data.url())
        } else {
            format!("{}?limit=100&cursor={cursor}", live.data.url())
        };
        let body = agent
            .get(&url)
            .call()
            .unwrap()
            .body_mut()
            .read_to_vec()
            .unwrap();
        let page: serde_json::Value = serde_json::from_slice(&body).unwrap();
        for r in page["data"].as_array().unwrap() {
            serde_json::to_writer(&mut file, r).unwrap();
            file.write_all(b"\n").unwrap();
            n += 1;
        }
        file.flush().unwrap();
        file.get_ref().sync_data().unwrap();
        match page["next_cursor"].as_str() {
            Some(c) if !c.is_empty() => cursor = c.to_owned(),
            _ => break,
        }
    }
    let bare = n as f64 / started.elapsed().as_secs_f64();
    // extract, with its checkpoint after each page.
    let live = Live::start(DataStyle::Cursor, RECORDS, |m| m);
    let spec = live.spec_file(&dir);
    let out = dir.join("extract.jsonl");
    let started = Instant::now();
    let o = run(&[
        &live.data.url(),
        "--page-spec",
        spec.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let took = started.elapsed().as_secs_f64();
    assert_eq!(o.status.code(), Some(0));
    let extract = ids(&out).len() as f64 / took;
    println!(
        "bare ureq loop: {bare:.0} records/s; paceline extract: {extract:.0} records/s; ratio {:.2}",
        extract / bare
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// The README's `--concurrency` figures: 20,000 records of an offset list, 100 a page, each
/// page answered after 20 ms, extracted with 1, 4 and 8 pages in flight; the median of three
/// runs each. Run with
/// `cargo test --release -p paceline-cli --test extract -- --ignored --nocapture concurrency_figures`.
#[test]
#[ignore = "a measurement, not a check"]
fn concurrency_figures() {
    let dir = temp_dir("concurrency-figures");
    for n in ["1", "4", "8"] {
        let mut took = Vec::new();
        for _ in 0..3 {
            let live = Live::start(DataStyle::Offset, 20_000, |m| {
                m.latency(Latency {
                    base_ms: 20.0,
                    jitter_ms: 0.0,
                })
            });
            let spec = live.spec_file(&dir);
            let out = dir.join("out.jsonl");
            let _ = std::fs::remove_file(&out);
            let _ = std::fs::remove_file(dir.join("out.jsonl.checkpoint.json"));
            let started = Instant::now();
            let o = run(&[
                &live.data.url(),
                "--page-spec",
                spec.to_str().unwrap(),
                "--concurrency",
                n,
                "-o",
                out.to_str().unwrap(),
            ]);
            took.push(started.elapsed().as_secs_f64());
            assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
            assert_exactly_once(&out, &live.truth());
        }
        took.sort_by(f64::total_cmp);
        println!(
            "--concurrency {n}: median {:.2} s (runs {:.2}, {:.2}, {:.2} s)",
            took[1], took[0], took[1], took[2]
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// With pages in flight together, an offset extract really overlaps its requests (seen by the
/// server: a request arrives before the previous one was answered) and still writes the list
/// in order, exactly once. The timing figures are `concurrency_figures` above.
#[test]
fn concurrent_offset_requests_overlap_at_the_server() {
    let live = Live::start(DataStyle::Offset, 2_000, |m| {
        m.latency(Latency {
            base_ms: 50.0,
            jitter_ms: 0.0,
        })
    });
    let dir = temp_dir("overlap");
    let spec = live.spec_file(&dir);
    let out = dir.join("out.jsonl");
    let o = run(&[
        &live.data.url(),
        "--page-spec",
        spec.to_str().unwrap(),
        "--concurrency",
        "4",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_exactly_once(&out, &live.truth());
    let written = ids_in_order(&out);
    assert!(
        written.windows(2).all(|w| w[0] < w[1]),
        "in the list's order"
    );
    // Answers take 50 ms: requests that arrive closer together than that overlapped.
    let mut at: Vec<Instant> = live._server.received().iter().map(|r| r.at).collect();
    at.sort_unstable();
    let overlapping = at
        .windows(2)
        .filter(|w| w[1] - w[0] < Duration::from_millis(25))
        .count();
    assert!(
        overlapping >= at.len() / 2,
        "{overlapping} of {} requests overlapped the one before",
        at.len()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// The seeds' shape (`{"items": [...], "total": N}`, `limit`/`offset`, no next link) over a
/// scripted server whose list loses `deleted` records already read, just before request
/// `at_request`: a record delete ahead of the offset shifts the rest back, unseen.
fn shrinking_list(total: u64, deleted: &'static [u64], at_request: usize) -> LoopbackServer {
    let served = Arc::new(Mutex::new(0usize));
    LoopbackServer::start_with(move |r: &ReceivedRequest| {
        let mut n = served.lock().unwrap();
        *n += 1;
        let live: Vec<u64> = (0..total)
            .filter(|i| *n < at_request || !deleted.contains(i))
            .collect();
        let param = |name: &str| -> Option<usize> {
            r.path
                .split(['?', '&'])
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.parse().ok())
        };
        let (limit, offset) = (param("limit").unwrap_or(10), param("offset").unwrap_or(0));
        let items: Vec<String> = live
            .iter()
            .skip(offset)
            .take(limit)
            .map(|i| format!(r#"{{"id":{i}}}"#))
            .collect();
        ScriptedResponse::new(200).json(&format!(
            r#"{{"items":[{}],"total":{}}}"#,
            items.join(","),
            live.len()
        ))
    })
    .unwrap()
}

/// An offset list that changes while it is read is not reported as a clean success: the walk
/// reaches the end, exits 7, and says how many records may be missing. The same list left
/// alone is complete, exit 0, with the signal that ended it.
#[test]
fn an_offset_list_that_changed_while_read_exits_7() {
    let dir = temp_dir("drift");
    let out = dir.join("out.jsonl");
    let still = shrinking_list(95, &[], usize::MAX);
    let o = run(&[
        &format!("{}/v1/companies?limit=10", still.url()),
        "-o",
        out.to_str().unwrap(),
    ]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert_eq!(ids_in_order(&out), (0..95).collect::<Vec<u64>>());
    assert!(
        stderr.contains("complete (95 records of a total of 95 reached)"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();

    std::fs::create_dir_all(&dir).unwrap();
    // Records 2 and 3 go just before the fourth request (offset 30): 30 and 31 are skipped.
    let shrinking = shrinking_list(95, &[2, 3], 4);
    let o = run(&[
        &format!("{}/v1/companies?limit=10", shrinking.url()),
        "-o",
        out.to_str().unwrap(),
    ]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(7), "{stderr}");
    let got = ids_in_order(&out);
    assert!(!got.contains(&30) && !got.contains(&31), "{got:?}");
    assert!(
        stderr.contains("the list changed while it was read")
            && stderr.contains("about 2 records may be missing"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// A list whose total says more than its first page, on a server that ignores every usual
/// paging parameter: extract writes the first page, stops with exit 6, and names the flags
/// that would say how the list pages. A page size with no parameter to carry it is refused
/// before any request, naming the form that works.
#[test]
fn a_list_that_cannot_be_told_stops_and_names_the_flags() {
    let stubborn = LoopbackServer::start_with(|_: &ReceivedRequest| {
        let items: Vec<String> = (0..10).map(|i| format!(r#"{{"id":{i}}}"#)).collect();
        ScriptedResponse::new(200).json(&format!(
            r#"{{"items":[{}],"total":2000}}"#,
            items.join(",")
        ))
    })
    .unwrap();
    let dir = temp_dir("untold");
    let out = dir.join("out.jsonl");
    let url = format!("{}/v1/things?limit=10", stubborn.url());
    let o = run(&[&url, "-o", out.to_str().unwrap()]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(6), "{stderr}");
    assert_eq!(ids_in_order(&out), (0..10).collect::<Vec<u64>>());
    for flag in ["--paginate", "--items", "--next", "--param"] {
        assert!(stderr.contains(flag), "{flag}: {stderr}");
    }
    assert!(stderr.contains("total (2000)"), "{stderr}");
    // Four requests: the first page, offset=10, page=1 (the base), page=2.
    assert_eq!(stubborn.received().len(), 4);

    let o = run(&[
        &format!("{}/v1/things", stubborn.url()),
        "--page-size",
        "100",
        "-o",
        out.to_str().unwrap(),
    ]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--page-size limit=100"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// `--rate 20/day` across runs: what one run spends, the next one (resumed or not) counts
/// (measured before: 20 + 20 + 11 = 51 requests in three runs of one day). Counted by the
/// server, not by paceline. The 80 % threshold shows in the summary.
#[test]
fn a_daily_quota_is_remembered_across_runs() {
    let dir = temp_dir("quota-state");
    let state = dir.join("quotas.json");
    let live = Live::start(DataStyle::Link, 5_000, |m| m);
    let out = dir.join("out.jsonl");
    let url = live.data.url();
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            url.as_str(),
            "--paginate",
            "link",
            "--rate",
            "20/day",
            "--quota-state",
            state.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        a
    };
    let served = || live._server.received().len();
    let run_with = |a: Vec<String>| run(&a.iter().map(String::as_str).collect::<Vec<_>>());

    // The first run: 16 pages under a cap of 16, then it stops (the quota is not used up).
    let o = run_with(args(&["--max-pages", "16"]));
    assert_eq!(served(), 16, "{}", text(&o.stderr));
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains("16 of 20 used") && stderr.contains("past 80 %"),
        "{stderr}"
    );
    // Resumed: 4 more, then the day's quota is spent (exit 4), every record written once.
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(dir.join("out.jsonl.checkpoint.json"));
    let o = run_with(args(&[]));
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    assert_eq!(served(), 20, "{}", text(&o.stderr));
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains("20 of 20 used") && stderr.contains("past 95 %"),
        "{stderr}"
    );
    // Resumed again the same day: nothing is sent.
    let o = run_with(args(&["--resume"]));
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    assert_eq!(served(), 20, "a third run spent more of a used-up day");
    assert_eq!(ids_in_order(&out).len(), 400, "4 pages of 100");
    // `off`: the run starts with the whole quota (and keeps nothing).
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(dir.join("out.jsonl.checkpoint.json"));
    let mut a = args(&[]);
    let i = a.iter().position(|x| x == "--quota-state").unwrap();
    a[i + 1] = "off".into();
    let o = run_with(a);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    assert_eq!(served(), 40);
    // The file holds this origin's day.
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let origin = url.split("/items").next().unwrap().trim_end_matches('/');
    assert_eq!(file["origins"][origin][0]["used"], 20, "{file}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An outage in the middle of a list: the breaker opens when page 2's attempts all fail, the
/// extract waits for its probe (5 s) instead of giving up, and finishes with every record
/// once; the server sees one probe during the outage, not a stream of retries.
/// A page of the scripted cursor lists: records `{"id": i}` under `/data`, the next cursor
/// (or `null`) at `/next`.
fn cursor_page(ids: std::ops::Range<u32>, next: Option<&str>) -> ScriptedResponse {
    let data: Vec<String> = ids.map(|i| format!(r#"{{"id":{i}}}"#)).collect();
    let next = next.map_or("null".to_string(), |n| format!("{n:?}"));
    ScriptedResponse::new(200).json(&format!(r#"{{"data":[{}],"next":{next}}}"#, data.join(",")))
}

/// Two attempts a page, 5 ms apart: the outage tests' retries.
const RETRIES: &[&str] = &["--max-attempts", "2", "--backoff-ms", "5"];

#[test]
fn an_outage_mid_list_is_waited_out() {
    let mut responses = vec![cursor_page(0..3, Some("c2"))];
    responses.extend(vec![ScriptedResponse::new(503); 2]);
    responses.push(cursor_page(3..5, None));
    let server =
        LoopbackServer::start(paceline_testkit::Script::new().route("/items", responses)).unwrap();
    let url = format!("{}/items", server.url());
    let o = run(&[&[url.as_str()][..], CURSOR_FLAGS, RETRIES].concat());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).lines().count(), 5, "{}", text(&o.stdout));
    assert_eq!(
        server.received().len(),
        4,
        "page 1, two failures, one probe"
    );
}

/// Issue 14's end-to-end figure: `paceline extract` through a 60 s outage in the middle of a
/// list, with its defaults (a per-host breaker, `--max-outage 10m`). The list is 2,000
/// records, 100 a page, paced at 10 pages a second so the outage (every request answered 503
/// from 1 s to 61 s of the server's clock) starts about ten pages in. The run must finish with
/// every record exactly once, and the server must see only a handful of requests while it is
/// down: the attempts that trip the breaker, then a probe per break (5 s, growing).
#[test]
fn a_sixty_second_outage_mid_list_is_waited_out_with_a_handful_of_probes() {
    let live = Live::start(DataStyle::Cursor, 2_000, |m| {
        m.chaos(Chaos {
            outage: Some(Outage::new(1.0, 60.0)),
            ..Chaos::default()
        })
    });
    let dir = temp_dir("outage60");
    let out = dir.join("out.jsonl");
    let spec = live.spec_file(&dir);
    let started = Instant::now();
    let o = run(&[
        &live.data.url(),
        "--page-spec",
        spec.to_str().unwrap(),
        "--rate",
        "10/s",
        "--backoff-ms",
        "100",
        "-o",
        out.to_str().unwrap(),
    ]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert_exactly_once(&out, &live.truth());
    let answers = live.answers();
    let during = answers.status(503);
    assert!(
        (1..=12).contains(&during),
        "{during} requests during the outage: {answers:?}\n{stderr}"
    );
    // It waited the outage out rather than finishing before it (the list outlasts 1 s).
    assert!(started.elapsed() >= Duration::from_secs(60), "{stderr}");
    eprintln!(
        "figures: {during} requests answered 503 during the 60 s outage, {} in all, {:.1} s",
        answers.requests(),
        started.elapsed().as_secs_f64()
    );
}

/// Issue 14, item 5, through the CLI: a run that stops on an outage (exit 3) keeps its
/// breakers in the checkpoint's state file, and `--resume` starts from them: while the break
/// it stopped in lasts, the resumed run sends nothing (a fresh breaker would have spent its
/// attempts on a server still down); once it is over, one probe, and the list goes on.
#[test]
fn a_resumed_run_keeps_the_breaker_an_outage_opened() {
    let mut responses = vec![cursor_page(0..3, Some("c2"))];
    responses.push(ScriptedResponse::new(503));
    responses.push(cursor_page(3..5, None));
    let server =
        LoopbackServer::start(paceline_testkit::Script::new().route("/items", responses)).unwrap();
    let url = format!("{}/items", server.url());
    let dir = temp_dir("breaker-resume");
    let (out, state) = (dir.join("out.jsonl"), dir.join("state.json"));
    let args = |max_outage: &'static str, resume: bool| {
        let mut a: Vec<String> = std::iter::once(url.as_str())
            .chain(CURSOR_FLAGS.iter().chain(RETRIES).copied())
            .map(String::from)
            .collect();
        a.extend([
            "--max-outage".into(),
            max_outage.into(),
            "-o".into(),
            out.to_str().unwrap().into(),
            "--checkpoint".into(),
            state.to_str().unwrap().into(),
        ]);
        if resume {
            a.push("--resume".into());
        }
        a
    };
    let run_with = |a: Vec<String>| run(&a.iter().map(String::as_str).collect::<Vec<_>>());

    // Page 1, then a 503 opens the breaker (one failure in two calls; a 5 s break): more than
    // --max-outage allows.
    let first = run_with(args("0", false));
    assert_eq!(first.status.code(), Some(3), "{}", text(&first.stderr));
    assert_eq!(server.received().len(), 2, "{}", text(&first.stderr));
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(saved.contains(r#""breakers""#), "{saved}");

    // Resumed at once: the break is still on, nothing is sent.
    let second = run_with(args("0", true));
    assert_eq!(second.status.code(), Some(3), "{}", text(&second.stderr));
    assert_eq!(server.received().len(), 2, "{}", text(&second.stderr));

    // Resumed with time to wait the break out: one probe, and the list is complete.
    let third = run_with(args("30s", true));
    assert_eq!(third.status.code(), Some(0), "{}", text(&third.stderr));
    assert_eq!(server.received().len(), 3, "{}", text(&third.stderr));
    assert_eq!(ids_in_order(&out), [0, 1, 2, 3, 4]);
    assert!(
        !std::fs::read_to_string(&state)
            .unwrap_or_default()
            .contains("breakers")
    );
}
