//! `paceline extract` against pagination servers nobody here wrote: json-server 0.17.4 (`Link`
//! and `X-Total-Count` headers, pretty-printed bodies) and Django REST framework 3.18's three
//! paginators (page number, limit/offset, cursor), each started on 127.0.0.1 from the fixtures
//! in `cli/tests/servers/`.
//!
//! Every run gets a fresh server, runs the real binary (bounded in time), and checks the output
//! file against the server's own ground truth: exit 0, every record exactly once, and valid JSON
//! Lines (one JSON object a line, as many lines as records). Each run prints one figures line:
//! `cargo test -p paceline-cli --test real_servers -- --nocapture` shows them.
//!
//! The servers are installed into `target/real-servers/` by `cli/tests/servers/install.sh`
//! (which `.ci/run` calls). Outside CI, without them, these tests say so and pass without
//! running; under CI a missing server is a failure.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;
use support::{Exit, free_port};

const BIN: &str = env!("CARGO_BIN_EXE_paceline");

/// The flags a reader of `paceline extract --help` would pick for each server, besides the
/// runs with no flags at all: each set is one more run. Update them here when the CLI's flags
/// change.
const JSON_SERVER_FLAGS: &[&[&str]] = &[&["--paginate", "link"]];
const DRF_FLAGS: &[&[&str]] = &[&[
    "--paginate",
    "next-url",
    "--items",
    "/results",
    "--next",
    "/next",
]];
/// A reader who knows the paginator's kind names it, and nothing else.
const DRF_PAGE: &[&str] = &["--paginate", "page"];
const DRF_OFFSET: &[&str] = &["--paginate", "offset"];
const DRF_CURSOR: &[&str] = &["--paginate", "cursor"];

/// One paceline run may take this long; past it, it is killed and the run fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(45);
/// A server must answer its stats endpoint this soon after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// DRF's cursor list with inserts: every Nth list request inserts one record at the end.
const INSERT_EVERY: &str = "7";

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    JsonServer,
    Drf,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::JsonServer => "json-server",
            Kind::Drf => "drf",
        }
    }

    fn flags(self) -> &'static [&'static [&'static str]] {
        match self {
            Kind::JsonServer => JSON_SERVER_FLAGS,
            Kind::Drf => DRF_FLAGS,
        }
    }

    fn stats_path(self) -> &'static str {
        match self {
            Kind::JsonServer => "/stats",
            Kind::Drf => "/stats/",
        }
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers")
}

/// Where `install.sh` put the servers (`PACELINE_REAL_SERVERS` overrides).
fn installed() -> PathBuf {
    std::env::var_os("PACELINE_REAL_SERVERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/real-servers"))
}

fn json_server_bin() -> PathBuf {
    installed().join("node/node_modules/.bin/json-server")
}

fn python_path() -> PathBuf {
    installed().join("py")
}

fn is_installed(kind: Kind) -> bool {
    match kind {
        Kind::JsonServer => json_server_bin().exists(),
        Kind::Drf => {
            python_path().join("rest_framework").is_dir() && python_path().join("django").is_dir()
        }
    }
}

/// `true` when `kind` is installed; otherwise a failure under CI, a skip (said) outside it.
fn installed_or_skip(kind: Kind, test: &str) -> bool {
    if is_installed(kind) {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must install {} (.ci/run runs cli/tests/servers/install.sh)",
        kind.name()
    );
    eprintln!(
        "{test}: skipped, {} is not installed (run bash cli/tests/servers/install.sh)",
        kind.name()
    );
    false
}

/// A fresh temporary directory for one run (server data, logs, paceline's output).
fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("paceline-real-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A GET over a fresh HTTP/1.0 connection (read to its close): the status and the body.
fn get(port: u16, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let addr = (std::net::Ipv4Addr::LOCALHOST, port).into();
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of head"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {head:?}")))?;
    Ok((status, raw[split + 4..].to_vec()))
}

/// A third-party server on 127.0.0.1, killed (and its directory removed) on drop.
struct Server {
    kind: Kind,
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `kind` with `env` in `dir` and waits, bounded, until its stats endpoint answers.
    /// A server that exits at once (its port taken meanwhile) is started again on another port.
    fn start(kind: Kind, dir: &Path, env: &[(&str, &str)]) -> Server {
        for attempt in 1..=3 {
            let port = free_port();
            let log = dir.join(format!("{}-{attempt}.log", kind.name()));
            let mut command = match kind {
                Kind::JsonServer => {
                    let js = fixtures().join("json-server");
                    let mut c = Command::new(json_server_bin());
                    // `-m` takes several files: the source goes first.
                    c.arg(js.join("db.js"))
                        .args([
                            "--host",
                            "127.0.0.1",
                            "--port",
                            &port.to_string(),
                            "--quiet",
                        ])
                        .arg("-m")
                        .arg(js.join("stats.js"))
                        .current_dir(dir);
                    c
                }
                Kind::Drf => {
                    let mut c = Command::new("python3");
                    c.arg(fixtures().join("drf/serve.py"))
                        .arg(port.to_string())
                        .arg(dir.join("db.sqlite3"))
                        .env("PYTHONPATH", python_path())
                        .env("PYTHONDONTWRITEBYTECODE", "1")
                        .current_dir(dir);
                    c
                }
            };
            let log_file = File::create(&log).unwrap();
            let child = command
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().unwrap())
                .stderr(log_file)
                .spawn()
                .unwrap_or_else(|e| panic!("{} does not start: {e}", kind.name()));
            let mut server = Server {
                kind,
                child,
                port,
                log,
            };
            if server.wait_ready() {
                return server;
            }
        }
        panic!("{} did not start in 3 attempts", kind.name());
    }

    /// Polls the stats endpoint (every 20 ms, at most `START_TIMEOUT`): `false` when the server
    /// exited first.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + START_TIMEOUT;
        let attempts = START_TIMEOUT.as_millis() / 20;
        for _ in 0..attempts {
            if let Some(status) = self.child.try_wait().unwrap() {
                eprintln!(
                    "{} exited ({status}) before it listened:\n{}",
                    self.kind.name(),
                    self.log()
                );
                return false;
            }
            if matches!(get(self.port, self.kind.stats_path()), Ok((200, _))) {
                return true;
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "{} did not answer on {} within {START_TIMEOUT:?}:\n{}",
            self.kind.name(),
            self.port,
            self.log()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn get_json(&self, path: &str) -> Value {
        let (status, body) = get(self.port, path).unwrap();
        assert_eq!(
            status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).unwrap()
    }

    /// List requests the server answered, by its own count.
    fn list_requests(&self) -> u64 {
        self.get_json(self.kind.stats_path())["list_requests"]
            .as_u64()
            .unwrap()
    }

    /// Every id the server holds now, unpaginated.
    fn truth(&self) -> Vec<u64> {
        let ids = match self.kind {
            Kind::JsonServer => self.get_json("/items"),
            Kind::Drf => self.get_json("/all/")["ids"].clone(),
        };
        ids.as_array()
            .unwrap()
            .iter()
            .map(|v| v.get("id").unwrap_or(v).as_u64().unwrap())
            .collect()
    }
}

/// `paceline extract URL -o OUT FLAGS...`, killed past `RUN_TIMEOUT`.
fn extract(url: &str, out: &Path, flags: &[&str]) -> Exit {
    support::extract_until(BIN, url, out, flags, RUN_TIMEOUT)
}

/// What the output file holds.
struct Output {
    lines: usize,
    /// Why it is not valid JSON Lines (one JSON object with an id a line), if it is not.
    invalid: Option<String>,
    /// The ids of the records in it, read as a stream of JSON values whatever its lines, so a
    /// file that is not JSON Lines still says which records it holds.
    ids: Vec<u64>,
}

fn read_output(path: &Path) -> Output {
    let text = match std::fs::read(path).map(String::from_utf8) {
        Ok(Ok(text)) => text,
        Ok(Err(_)) => return Output::invalid("not UTF-8".into()),
        Err(e) => return Output::invalid(format!("no output file: {e}")),
    };
    let mut out = Output {
        lines: text.lines().count(),
        invalid: None,
        ids: Vec::new(),
    };
    let id = |record: &Value| record.get("id").and_then(Value::as_u64);
    for (n, line) in text.lines().enumerate() {
        let valid = serde_json::from_str::<Value>(line)
            .ok()
            .filter(|record| record.is_object() && id(record).is_some());
        if valid.is_none() {
            let shown: String = line.chars().take(60).collect();
            out.invalid = Some(format!(
                "line {} is not one JSON object with an id: {shown:?}",
                n + 1
            ));
            break;
        }
    }
    for value in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
        match value.as_ref().ok().and_then(id) {
            Some(n) => out.ids.push(n),
            None => {
                out.invalid
                    .get_or_insert_with(|| format!("not a stream of records: {value:?}"));
                break;
            }
        }
    }
    out
}

impl Output {
    fn invalid(why: String) -> Output {
        Output {
            lines: 0,
            invalid: Some(why),
            ids: Vec::new(),
        }
    }
}

/// One run's figures, checked against the server's ground truth.
struct Figures {
    expected: usize,
    /// Records in the output (whatever its lines).
    written: usize,
    lines: usize,
    duplicated: usize,
    missing: usize,
    extra: usize,
}

impl Figures {
    fn new(truth: &[u64], output: &Output) -> Figures {
        let expected: HashSet<u64> = truth.iter().copied().collect();
        let got: HashSet<u64> = output.ids.iter().copied().collect();
        Figures {
            expected: expected.len(),
            written: output.ids.len(),
            lines: output.lines,
            duplicated: output.ids.len() - got.len(),
            missing: expected.difference(&got).count(),
            extra: got.difference(&expected).count(),
        }
    }
}

/// One paceline run against a fresh server: `path` on `kind`, with these pagination flags
/// (none: auto-detection). Prints the figures line; returns why it failed.
fn run(kind: Kind, path: &str, flags: &[&str], env: &[(&str, &str)]) -> Option<String> {
    let shown_flags = if flags.is_empty() {
        "(none)".to_string()
    } else {
        flags.join(" ")
    };
    let dir = scratch(kind.name());
    let server = Server::start(kind, &dir, env);
    let start_records = server.truth().len();
    let out = dir.join("out.jsonl");
    let before = server.list_requests();
    let exit = extract(&server.url(path), &out, flags);
    let requests = server.list_requests() - before;
    let truth = server.truth();
    let output = read_output(&out);
    let f = Figures::new(&truth, &output);
    let inserted = if truth.len() > start_records {
        format!(
            " (of them inserted during the walk: {})",
            truth.len() - start_records
        )
    } else {
        String::new()
    };
    let code = match (exit.code, exit.timed_out) {
        (_, true) => "timeout".to_string(),
        (Some(code), _) => code.to_string(),
        (None, _) => "signal".to_string(),
    };
    println!(
        "figures: {} {path} flags: {shown_flags} | exit {code} | records expected {}{inserted} \
         written {} duplicated {} missing {} extra {} | lines {} valid JSON Lines: {} | server \
         requests {} | {:.2} s",
        kind.name(),
        f.expected,
        f.written,
        f.duplicated,
        f.missing,
        f.extra,
        f.lines,
        if output.invalid.is_none() {
            "yes"
        } else {
            "no"
        },
        requests,
        exit.seconds,
    );
    let mut wrong = Vec::new();
    if exit.code != Some(0) {
        wrong.push(format!("exit {code}"));
    }
    if let Some(why) = &output.invalid {
        wrong.push(why.clone());
    }
    if f.duplicated > 0 || f.missing > 0 || f.extra > 0 || f.written != f.expected {
        wrong.push(format!(
            "{} records written for {}: {} duplicated, {} missing, {} not on the server",
            f.written, f.expected, f.duplicated, f.missing, f.extra
        ));
    }
    if f.lines != f.expected {
        wrong.push(format!("{} lines for {} records", f.lines, f.expected));
    }
    let failure = (!wrong.is_empty()).then(|| {
        let tail: Vec<&str> = exit.stderr.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "{} {path} [{shown_flags}]: {}\n  output, stderr and server log kept in {}\n  \
             paceline's stderr (last lines):\n    {}",
            kind.name(),
            wrong.join("; "),
            dir.display(),
            tail.join("\n    ")
        )
    });
    drop(server);
    if failure.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    failure
}

/// The runs of `path` on `kind` (no flags, the table's flags, then `more`), each on a fresh
/// server; fails after all, with what went wrong in each.
fn check(test: &str, kind: Kind, path: &str, env: &[(&str, &str)]) {
    check_with(test, kind, path, env, &[]);
}

fn check_with(test: &str, kind: Kind, path: &str, env: &[(&str, &str)], more: &[&[&str]]) {
    check_runs(test, kind, path, env, kind.flags(), more);
}

/// The runs with no flags, then `table`, then `more`.
fn check_runs(
    test: &str,
    kind: Kind,
    path: &str,
    env: &[(&str, &str)],
    table: &[&[&str]],
    more: &[&[&str]],
) {
    if !installed_or_skip(kind, test) {
        return;
    }
    let none: &[&str] = &[];
    let failures: Vec<String> = std::iter::once(none)
        .chain(table.iter().copied())
        .chain(more.iter().copied())
        .filter_map(|flags| run(kind, path, flags, env))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn json_server_pages_with_link_headers() {
    check(
        "json-server",
        Kind::JsonServer,
        "/items?_page=1&_limit=50",
        &[],
    );
}

#[test]
fn json_server_with_a_limit_and_no_page() {
    // `_limit` alone: json-server sends X-Total-Count and no Link; paceline probes `_start`.
    check(
        "json-server _limit",
        Kind::JsonServer,
        "/items?_limit=50",
        &[],
    );
}

#[test]
fn drf_page_number() {
    check_with("drf page number", Kind::Drf, "/pn/", &[], &[DRF_PAGE]);
}

/// The seeds' own API shape (`{"items": [...], "total": N}`, `limit`/`offset`, no next link),
/// served by a DRF paginator written the way its docs show: wave 1 read one page of it and
/// called it complete.
#[test]
fn drf_items_and_total_like_the_seeds_api() {
    // No next link here: the table's next-url flags do not apply; a reader picks offset.
    check_runs(
        "drf items+total",
        Kind::Drf,
        "/v1/companies?limit=10",
        &[],
        &[],
        &[DRF_OFFSET],
    );
}

#[test]
fn drf_page_number_asking_above_max_page_size() {
    // size=500 is above max_page_size: DRF serves 100 a page and keeps `size=500` in `next`.
    check("drf page number size=500", Kind::Drf, "/pn/?size=500", &[]);
}

#[test]
fn drf_limit_offset_with_limit() {
    check(
        "drf limit/offset limit=100",
        Kind::Drf,
        "/lo/?limit=100",
        &[],
    );
}

#[test]
fn drf_limit_offset_default_limit() {
    check_with("drf limit/offset", Kind::Drf, "/lo/", &[], &[DRF_OFFSET]);
}

#[test]
fn drf_cursor() {
    check_with("drf cursor", Kind::Drf, "/cursor/", &[], &[DRF_CURSOR]);
}

/// Records are appended (at the end of the id ordering) while the walk goes on: nothing that
/// existed at the start nor anything appended may be missing, and nothing may come twice.
#[test]
fn drf_cursor_with_inserts_during_the_walk() {
    check(
        "drf cursor inserts",
        Kind::Drf,
        "/cursor/",
        &[("INSERT_EVERY", INSERT_EVERY)],
    );
}

#[test]
fn drf_page_number_with_inserts_during_the_walk() {
    check(
        "drf page number inserts",
        Kind::Drf,
        "/pn/",
        &[("INSERT_EVERY", INSERT_EVERY)],
    );
}

#[test]
fn drf_limit_offset_with_inserts_during_the_walk() {
    check(
        "drf limit/offset inserts",
        Kind::Drf,
        "/lo/?limit=100",
        &[("INSERT_EVERY", INSERT_EVERY)],
    );
}
