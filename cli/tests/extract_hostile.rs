//! `paceline extract` against hostile servers: each misbehaviour is bounded by a documented
//! limit, and ends the extract with a clear exit code and a message that names the limit.
//!
//! Written here (a raw TCP server per behaviour, below what an HTTP library allows):
//! - huge headers (an endless head),
//! - endless bodies (chunked, and read-to-close) under `--max-body`,
//! - a head trickled a byte a second (the attempt deadline `--timeout`, not the idle timer),
//! - `Retry-After` of years (seconds and HTTP-date) on 429 and 503: refused at once,
//! - cursors of megabytes (`--max-body` bounds them; a walk of them stops at `--max-pages`),
//! - a `Link` to itself, a two-page cycle, and that cycle across a resume: the walk's
//!   repeated-URL guard (exit 6), nothing written twice,
//! - a total that changes every page (an offset list): never a clean exit with records
//!   missing; an endless growing total stops at `--max-pages`.
//!
//! Already covered elsewhere, not repeated here:
//! - headers then silence: `cli/tests/extract_timeouts.rs` `a_head_then_silence_times_out_idle`
//!   (and `a_server_that_never_answers_times_out_idle`, `a_hanging_connect_times_out`);
//! - a body trickled a byte at a time: `extract_timeouts.rs` `a_trickled_page_is_cut_by_the_timeout`;
//! - a page over `--max-body` with a declared length: `extract_timeouts.rs`
//!   `a_page_over_max_body_ends_the_extract_and_names_the_flag`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod support;
use support::{CURSOR_FLAGS, output_within, temp_dir, text};

const BIN: &str = env!("CARGO_BIN_EXE_paceline");

/// Far more than any run here takes, far less than forever.
const NO_HANG: Duration = Duration::from_secs(30);

/// A request head as the hostile server read it.
#[derive(Debug, Clone)]
struct Head {
    /// The target (path and query).
    target: String,
}

/// What a behaviour is given: the request's head, the connection, and the stop flag (set when
/// the test ends: endless behaviours check it).
type Behave = dyn Fn(&Head, &mut TcpStream, &AtomicBool) + Send + Sync;

/// The open connections (clones, to shut them down) and their threads.
type Conns = Arc<Mutex<Vec<(TcpStream, JoinHandle<()>)>>>;

/// A TCP server on 127.0.0.1 that reads one request head per connection and then does what
/// its behaviour says (usually something no HTTP library would let it do). Stops on drop: the
/// flag set, every connection shut down, every thread joined.
struct Hostile {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    heads: Arc<Mutex<Vec<Head>>>,
    conns: Conns,
    acceptor: Option<JoinHandle<()>>,
}

impl Hostile {
    fn start(behave: impl Fn(&Head, &mut TcpStream, &AtomicBool) + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stopping = Arc::new(AtomicBool::new(false));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let conns: Conns = Arc::default();
        let behave: Arc<Behave> = Arc::new(behave);
        let acceptor = {
            let (stopping, heads, conns) = (
                Arc::clone(&stopping),
                Arc::clone(&heads),
                Arc::clone(&conns),
            );
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let Ok(clone) = stream.try_clone() else {
                        continue;
                    };
                    let (stopping, heads, behave) = (
                        Arc::clone(&stopping),
                        Arc::clone(&heads),
                        Arc::clone(&behave),
                    );
                    let thread = std::thread::spawn(move || {
                        let Some(head) = read_head(&mut stream) else {
                            return;
                        };
                        heads
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(head.clone());
                        behave(&head, &mut stream, &stopping);
                        let _ = stream.flush();
                        let _ = stream.shutdown(Shutdown::Both);
                    });
                    conns
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((clone, thread));
                }
            })
        };
        Hostile {
            addr,
            stopping,
            heads,
            conns,
            acceptor: Some(acceptor),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The request heads read so far.
    fn heads(&self) -> Vec<Head> {
        self.heads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            // Wakes the acceptor, which sees the flag and returns.
            let _ = TcpStream::connect(self.addr);
            let _ = acceptor.join();
        }
        let conns = std::mem::take(&mut *self.conns.lock().unwrap_or_else(PoisonError::into_inner));
        for (stream, _) in &conns {
            let _ = stream.shutdown(Shutdown::Both);
        }
        for (_, thread) in conns {
            let _ = thread.join();
        }
    }
}

/// Reads a request head (up to its blank line; at most 64 MiB) and, if it announces one, its
/// body.
fn read_head(stream: &mut TcpStream) -> Option<Head> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let line = line.trim_end().to_owned();
    if line.is_empty() {
        return None;
    }
    let mut length = 0usize;
    let mut read = line.len();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        read += h.len();
        if read > 64 << 20 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let target = line.split(' ').nth(1).unwrap_or("").to_owned();
    Some(Head { target })
}

/// Writes `bytes`; false once the client is gone or the test is ending.
fn send(stream: &mut TcpStream, stop: &AtomicBool, bytes: &[u8]) -> bool {
    !stop.load(Ordering::SeqCst) && stream.write_all(bytes).is_ok()
}

/// Sleeps `d` unless the test is ending (checked every 10 ms): false if it is.
fn pause(d: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10).min(until - Instant::now()));
    }
    !stop.load(Ordering::SeqCst)
}

/// A complete JSON response.
fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &str) {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("Content-Type: application/json\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
}

/// `paceline extract URL ARGS`, with two attempts a page 5 ms apart and no outage wait unless
/// the arguments set them; killed, and the test failed, past [`NO_HANG`].
fn extract(url: &str, args: &[&str]) -> (Output, Duration) {
    let mut command = Command::new(BIN);
    command.args(["extract", url]);
    for (flag, value) in [
        ("--max-attempts", "2"),
        ("--backoff-ms", "5"),
        ("--max-outage", "0"),
    ] {
        if !args.contains(&flag) {
            command.args([flag, value]);
        }
    }
    command.args(args);
    output_within(
        &mut command,
        NO_HANG,
        &format!("paceline extract {url} {args:?}"),
    )
}

/// The page of ids `from..to`, as `{"data":[…]}` plus `extra` members.
fn page(from: u64, to: u64, extra: &str) -> String {
    let items: Vec<String> = (from..to).map(|i| format!(r#"{{"id":{i}}}"#)).collect();
    format!(r#"{{"data":[{}]{extra}}}"#, items.join(","))
}

#[test]
fn huge_headers_are_refused_and_not_read_forever() {
    // A head that never ends: header lines of a kilobyte, as fast as the client reads them.
    let server = Hostile::start(|_, s, stop| {
        if !send(
            s,
            stop,
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
        ) {
            return;
        }
        let line = format!("X-Junk: {}\r\n", "j".repeat(1024));
        for _ in 0..1_000_000 {
            if !send(s, stop, line.as_bytes()) {
                return;
            }
        }
    });
    let (o, took) = extract(&format!("{}/items", server.url()), &["--paginate", "link"]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    // ureq's limit on a response head: 64 KiB.
    assert!(
        stderr.contains("response header is too big") && stderr.contains("> 65536"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    // Not asked again: the same head would come back.
    assert_eq!(server.heads().len(), 1);
    assert!(o.stdout.is_empty());
}

#[test]
fn an_endless_chunked_body_stops_at_max_body() {
    let server = Hostile::start(|_, s, stop| {
        if !send(
            s,
            stop,
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        ) {
            return;
        }
        let _ = send(s, stop, b"1\r\n[\r\n");
        let chunk = format!(
            "{:x}\r\n{}\r\n",
            4096,
            "{\"id\":1},".repeat(512).get(..4096).unwrap()
        );
        while send(s, stop, chunk.as_bytes()) {}
    });
    let (o, _) = extract(
        &format!("{}/items", server.url()),
        &["--paginate", "link", "--max-body", "1MiB"],
    );
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("raise --max-body (now 1MiB)"), "{stderr}");
    // Not asked again: the same page would come back.
    assert_eq!(server.heads().len(), 1);
    assert!(o.stdout.is_empty());
}

#[test]
fn an_endless_body_read_to_close_stops_at_max_body() {
    // No length, no chunks: the body is what comes until the server closes, which it never does.
    let server = Hostile::start(|_, s, stop| {
        if !send(
            s,
            stop,
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n[",
        ) {
            return;
        }
        let chunk = "{\"id\":1},".repeat(1000);
        while send(s, stop, chunk.as_bytes()) {}
    });
    let (o, _) = extract(
        &format!("{}/items", server.url()),
        &["--paginate", "link", "--max-body", "2MiB"],
    );
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("raise --max-body (now 2MiB)"), "{stderr}");
    assert_eq!(server.heads().len(), 1);
}

#[test]
fn a_head_trickled_a_byte_a_second_is_cut_by_the_attempt_deadline() {
    // A byte a second never trips the 30 s idle timer: the whole attempt's --timeout does.
    let server = Hostile::start(|_, s, stop| {
        for b in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]"
        {
            if !send(s, stop, &[*b]) || !pause(Duration::from_secs(1), stop) {
                return;
            }
        }
    });
    let (o, took) = extract(
        &format!("{}/items", server.url()),
        &["--paginate", "link", "--timeout", "2.5"],
    );
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("gave up after 2 attempts (last: Timeout"),
        "{stderr}"
    );
    assert!(stderr.contains("timeouts   2 "), "{stderr}");
    // Two attempts, each cut at 2.5 s (not before: the idle timer did not fire), well before
    // the head's 70-odd seconds.
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(15),
        "{took:?}"
    );
    assert_eq!(server.heads().len(), 2);
}

#[test]
fn a_retry_after_of_years_is_refused_at_once() {
    // Three years in seconds; an HTTP-date in 2099; on a 429 and on a 503.
    for (status, value) in [
        ("429 Too Many Requests", "94608000"),
        ("429 Too Many Requests", "Thu, 01 Jan 2099 00:00:00 GMT"),
        ("503 Service Unavailable", "94608000"),
    ] {
        let v = value.to_owned();
        let s = status.to_owned();
        let server = Hostile::start(move |_, stream, _| {
            respond(stream, &s, &[("Retry-After", &v)], r#"{"error":"later"}"#);
        });
        // Attempts and an outage wait to spare: only the server's wait is refused.
        let (o, took) = extract(
            &format!("{}/items", server.url()),
            &[
                "--paginate",
                "link",
                "--max-attempts",
                "6",
                "--max-outage",
                "10m",
            ],
        );
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{status} {value}: {stderr}");
        assert!(took < Duration::from_secs(10), "{status} {value}: {took:?}");
        assert!(
            stderr.contains("server asked to wait")
                && stderr.contains("more than the maximum of 300 s"),
            "{status} {value}: {stderr}"
        );
        assert_eq!(server.heads().len(), 1, "{status} {value}: asked once");
    }
}

/// The value of query parameter `name` in a request target.
fn query(target: &str, name: &str) -> Option<String> {
    let q = target.split_once('?')?.1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .map(str::to_owned)
}

/// An endless cursor list whose every cursor is `mib` MiB long (and new on every page).
fn megabyte_cursors(mib: usize) -> Hostile {
    Hostile::start(move |head, s, _| {
        let n: u64 = query(&head.target, "cursor").map_or(0, |c| c[..8].parse().unwrap());
        let next = format!("{:08}{}", n + 1, "c".repeat(mib << 20));
        respond(
            s,
            "200 OK",
            &[],
            &page(n * 10, n * 10 + 10, &format!(r#","next":"{next}""#)),
        );
    })
}

#[test]
fn cursors_of_megabytes_are_bounded_by_max_body_and_max_pages() {
    let flags = CURSOR_FLAGS;
    // A 3 MiB cursor in a page allowed 1 MiB: the page is refused, the cursor never sent.
    let server = megabyte_cursors(3);
    let (o, _) = extract(
        &format!("{}/items", server.url()),
        &[flags, &["--max-body", "1MiB"]].concat(),
    );
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("raise --max-body (now 1MiB)"), "{stderr}");
    assert_eq!(server.heads().len(), 1);
    drop(server);
    // Under the default 10 MiB the page is read, but its cursor makes a URL longer than any
    // request can be (the `http` crate's 64 KiB): the server's doing, exit 3, not bad input.
    let server = megabyte_cursors(3);
    let dir = temp_dir("hostile-cursor");
    let out = dir.join("out.jsonl");
    let (o, took) = extract(
        &format!("{}/items", server.url()),
        &[flags, &["-o", out.to_str().unwrap()]].concat(),
    );
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("page 2: invalid request: http: uri too long")
            && stderr.contains("built from the server's pointer to the page"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert_eq!(server.heads().len(), 1, "{stderr}");
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 10);
    drop(server);
    // Cursors of 40 KiB fit in a URL: each is sent back, and the endless walk stops at
    // --max-pages (exit 6), every page it read written once.
    let server = Hostile::start(move |head, s, _| {
        let n: u64 = query(&head.target, "cursor").map_or(0, |c| c[..8].parse().unwrap());
        let next = format!("{:08}{}", n + 1, "c".repeat(40 << 10));
        respond(
            s,
            "200 OK",
            &[],
            &page(n * 10, n * 10 + 10, &format!(r#","next":"{next}""#)),
        );
    });
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(dir.join("out.jsonl.checkpoint.json"));
    let (o, _) = extract(
        &format!("{}/items", server.url()),
        &[flags, &["--max-pages", "4", "-o", out.to_str().unwrap()]].concat(),
    );
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(6), "{stderr}");
    let heads = server.heads();
    assert_eq!(heads.len(), 4, "{stderr}");
    assert!(heads[1..].iter().all(|h| h.target.len() > 40 << 10));
    let ids: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(ids.len(), 40);
    assert_eq!(ids[39], r#"{"id":39}"#);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_link_to_itself_stops_the_walk() {
    // Every page says the next one is itself.
    let server = Hostile::start(|head, s, _| {
        let own = format!("<{}>; rel=\"next\"", head.target);
        respond(s, "200 OK", &[("Link", &own)], r#"[{"id":1},{"id":2}]"#);
    });
    let (o, _) = extract(
        &format!("{}/items?page=1", server.url()),
        &["--paginate", "link"],
    );
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains("walk stopped: page 1 gave a next URL already requested"),
        "{stderr}"
    );
    assert_eq!(server.heads().len(), 1, "{stderr}");
    assert_eq!(text(&o.stdout).lines().count(), 2);
    // Two pages that point at each other.
    let server = Hostile::start(|head, s, _| {
        let (next, ids) = if head.target.starts_with("/a") {
            ("/b", r#"[{"id":1}]"#)
        } else {
            ("/a", r#"[{"id":2}]"#)
        };
        respond(
            s,
            "200 OK",
            &[("Link", &format!("<{next}>; rel=\"next\""))],
            ids,
        );
    });
    // With the style named and detected alike: /a is never asked twice, its record never
    // written twice (before the fix in `Walk::on_page`, a detected walk asked /a again and
    // wrote record 1 a second time).
    for style in ["link", "auto"] {
        let (o, _) = extract(&format!("{}/a", server.url()), &["--paginate", style]);
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(6), "{style}: {stderr}");
        assert!(
            stderr.contains("walk stopped: page 2 gave a next URL already requested"),
            "{style}: {stderr}"
        );
        assert_eq!(text(&o.stdout), "{\"id\":1}\n{\"id\":2}\n", "{style}");
    }
    assert_eq!(server.heads().len(), 4);
}

/// An offset list of 100 still records, 10 a page, whose `total` is `total(offset)`.
fn offset_list(total: fn(u64) -> u64, records: u64) -> Hostile {
    Hostile::start(move |head, s, _| {
        let offset: u64 = query(&head.target, "offset").map_or(0, |o| o.parse().unwrap());
        let end = (offset + 10).min(records);
        respond(
            s,
            "200 OK",
            &[],
            &page(
                offset.min(end),
                end,
                &format!(r#","total":{}"#, total(offset)),
            ),
        );
    })
}

#[test]
fn a_total_that_changes_every_page_is_never_a_clean_loss() {
    let flags = [
        "--paginate",
        "offset",
        "--items",
        "/data",
        "--total",
        "/total",
        "--page-size",
        "limit=10",
    ];
    for (what, total) in [
        ("growing", (|o| 100 + o) as fn(u64) -> u64),
        ("shrinking", |o| 100u64.saturating_sub(2 * o).max(o / 2)),
        ("jumping", |o| if (o / 10) % 2 == 0 { 1000 } else { 15 }),
    ] {
        let server = offset_list(total, 100);
        let (o, _) = extract(&format!("{}/items?limit=10", server.url()), &flags);
        let stderr = text(&o.stderr);
        let ids: Vec<u64> = text(&o.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(unique, ids, "{what}: a record twice");
        match o.status.code() {
            Some(0) => assert_eq!(
                ids,
                (0..100).collect::<Vec<_>>(),
                "{what}: exit 0 with records missing: {stderr}"
            ),
            Some(7) => assert!(
                stderr.contains("the list changed while it was read"),
                "{what}: {stderr}"
            ),
            code => panic!("{what}: exit {code:?}: {stderr}"),
        }
    }
    // A total that always promises one more page, over a list that never ends: --max-pages.
    let server = offset_list(|o| o + 11, u64::MAX);
    let (o, _) = extract(
        &format!("{}/items?limit=10", server.url()),
        &[&flags[..], &["--max-pages", "30"]].concat(),
    );
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(6), "{stderr}");
    assert_eq!(server.heads().len(), 30, "{stderr}");
    assert_eq!(text(&o.stdout).lines().count(), 300);
}

/// A `Link` cycle that spans a resume: /a → /b, stopped after /a, resumed: /b → /a.
#[test]
fn a_link_cycle_across_a_resume_writes_nothing_twice() {
    let server = Hostile::start(|head, s, _| {
        let (next, ids) = if head.target.starts_with("/a") {
            ("/b", r#"[{"id":1}]"#)
        } else {
            ("/a", r#"[{"id":2}]"#)
        };
        respond(
            s,
            "200 OK",
            &[("Link", &format!("<{next}>; rel=\"next\""))],
            ids,
        );
    });
    let dir = temp_dir("hostile-cycle-resume");
    let out = dir.join("out.jsonl");
    let url = format!("{}/a", server.url());
    let base = ["--paginate", "link", "-o", out.to_str().unwrap()];
    let (o, _) = extract(&url, &[&base[..], &["--max-pages", "1"]].concat());
    assert_eq!(o.status.code(), Some(6), "{}", text(&o.stderr));
    let (o, _) = extract(&url, &[&base[..], &["--resume"]].concat());
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("walk stopped"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "{\"id\":1}\n{\"id\":2}\n"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
