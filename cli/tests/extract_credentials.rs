//! `paceline extract`'s credentials never reach another origin, and no header value ever lands
//! in a checkpoint or state file.
//!
//! The credentials: `Authorization` and `Cookie` given literally with `-H` (credentials by
//! name, whatever their value), and an `X-Api-Key` read from the environment (`$VAR`: the
//! CLI's documented way to mark a header a credential). The other origin is a second loopback
//! server on another port (same host: only the port tells the origins apart).
//!
//! Written here: a 30x redirect of the first page and of a later page to the other origin; a
//! `Link` next URL to it, refused and then allowed; every file a run leaves (output,
//! checkpoint mid-walk and at the end, quota state) searched for every header value.
//!
//! Already covered elsewhere, not repeated here:
//! - a next URL in the body to another origin, refused then allowed without `Authorization`:
//!   `cli/tests/extract.rs` `a_next_page_on_another_origin_is_refused_unless_allowed`;
//! - a header from the environment sent, and never in stdout, stderr, the default checkpoint
//!   or the output: `extract.rs` `a_header_from_the_environment_is_sent_and_never_shown`;
//! - the drivers (ureq, smol, async-std) on a redirect and a `Link` to another origin:
//!   `tests/drivers.rs` `a_redirect_to_another_origin_goes_without_credentials`,
//!   `a_next_url_on_another_origin_is_refused`; ureq's redirect rules:
//!   `tests/ureq_redirect.rs`.

use std::path::Path;
use std::process::{Command, Output};

use paceline_testkit::{LoopbackServer, ReceivedRequest, ScriptedResponse};

mod support;
use support::{CURSOR_FLAGS, temp_dir, text};

const BIN: &str = env!("CARGO_BIN_EXE_paceline");

const BEARER: &str = "literal-bearer-5a1b";
const COOKIE: &str = "sid=c00kie-77d2";
const API_KEY: &str = "env-api-key-93fe";
const TRACE: &str = "trace-value-4c0d";

/// The credential flags: a literal bearer token and cookie, an API key from the environment,
/// and a plain header (not a credential, but no more to be written to disk than the others).
fn header_flags() -> Vec<String> {
    vec![
        "-H".into(),
        format!("Authorization: Bearer {BEARER}"),
        "-H".into(),
        format!("Cookie: {COOKIE}"),
        "-H".into(),
        "X-Api-Key: $PACELINE_TEST_API_KEY".into(),
        "-H".into(),
        format!("X-Trace: {TRACE}"),
    ]
}

fn extract(url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("extract")
        .arg(url)
        .args(header_flags())
        .args(["--max-attempts", "2", "--backoff-ms", "5"])
        .args(args)
        .env("PACELINE_TEST_API_KEY", API_KEY)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// Every request `server` received carried every credential.
#[track_caller]
fn assert_all_credentials(server: &LoopbackServer) {
    let received = server.received();
    assert!(!received.is_empty());
    for r in &received {
        assert_eq!(
            r.header("authorization"),
            Some(&*format!("Bearer {BEARER}")),
            "{}",
            r.path
        );
        assert_eq!(r.header("cookie"), Some(COOKIE), "{}", r.path);
        assert_eq!(r.header("x-api-key"), Some(API_KEY), "{}", r.path);
    }
}

/// No request `server` received carried a credential, under any header name.
#[track_caller]
fn assert_no_credentials(server: &LoopbackServer) {
    for r in server.received() {
        for (name, value) in &r.headers {
            for secret in [BEARER, COOKIE, API_KEY] {
                assert!(
                    !value.contains(secret),
                    "{secret} reached the other origin in {name}: {} {}",
                    r.method,
                    r.path
                );
            }
        }
    }
}

/// The other origin: `/items?page=N` is a page of one record, `id` N, with no next page.
fn other_origin() -> LoopbackServer {
    LoopbackServer::start_with(|r: &ReceivedRequest| {
        let n: u64 = r
            .path
            .split("page=")
            .nth(1)
            .map_or(1, |v| v.split('&').next().unwrap().parse().unwrap());
        ScriptedResponse::new(200).json(&format!(r#"[{{"id":{n}}}]"#))
    })
    .unwrap()
}

/// Ids in an output, in order.
fn ids(out: &[u8]) -> Vec<u64> {
    text(out)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[test]
fn a_redirect_to_another_origin_carries_no_credential() {
    for status in [301, 302, 303, 307, 308] {
        let other = other_origin();
        // The first page itself moved to the other origin.
        let target = format!("{}/items", other.url());
        let first = LoopbackServer::start_with(move |_: &ReceivedRequest| {
            ScriptedResponse::new(status).header("Location", &target)
        })
        .unwrap();
        let o = extract(&format!("{}/items", first.url()), &["--paginate", "link"]);
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{status}: {stderr}");
        assert_eq!(ids(&o.stdout), [1], "{status}");
        assert_all_credentials(&first);
        // (Each request the walk makes is redirected there: with no `Link`, it probes whether
        // the list goes on.)
        assert!(!other.received().is_empty(), "{status}");
        assert_no_credentials(&other);
        // The plain header goes along: only credentials are dropped.
        assert_eq!(other.received()[0].header("x-trace"), Some(TRACE));
    }
}

#[test]
fn a_later_page_redirected_to_another_origin_carries_no_credential() {
    let other = other_origin();
    let to = other.url();
    // Page 1 here, its Link to page 2 here, which redirects to the other origin.
    let first = LoopbackServer::start_with(move |r: &ReceivedRequest| {
        if r.path.contains("page=2") {
            ScriptedResponse::new(307).header("Location", &format!("{to}/items?page=2"))
        } else {
            ScriptedResponse::new(200)
                .header("Link", "</items?page=2>; rel=\"next\"")
                .json(r#"[{"id":1}]"#)
        }
    })
    .unwrap();
    let o = extract(
        &format!("{}/items?page=1", first.url()),
        &["--paginate", "link"],
    );
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert_eq!(ids(&o.stdout), [1, 2]);
    assert_eq!(first.received().len(), 2);
    assert_all_credentials(&first);
    assert_eq!(other.received().len(), 1);
    assert_no_credentials(&other);
}

#[test]
fn a_link_to_another_origin_is_refused_then_followed_without_credentials() {
    let other = other_origin();
    let to = other.url();
    let first = LoopbackServer::start_with(move |_: &ReceivedRequest| {
        ScriptedResponse::new(200)
            .header("Link", &format!("<{to}/items?page=2>; rel=\"next\""))
            .json(r#"[{"id":1}]"#)
    })
    .unwrap();
    let dir = temp_dir("cred-link");
    let out = dir.join("out.jsonl");
    let url = format!("{}/items?page=1", first.url());
    let base = ["--paginate", "link", "-o", out.to_str().unwrap()];
    let o = extract(&url, &base);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("walk stopped"), "{stderr}");
    assert!(
        other.received().is_empty(),
        "nothing sent to the other origin"
    );
    // Allowed, resumed from the refusal: it goes there, bare.
    let host = other.url().trim_start_matches("http://").to_owned();
    let o = extract(
        &url,
        &[&base[..], &["--resume", "--allow-origin", &host]].concat(),
    );
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert_eq!(ids(&std::fs::read(&out).unwrap()), [1, 2]);
    assert_all_credentials(&first);
    assert_eq!(other.received().len(), 1);
    assert_no_credentials(&other);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// No file under `dir` holds a header value (the checkpoint, the quota state, the output).
#[track_caller]
fn assert_no_header_value_in(dir: &Path, when: &str) -> usize {
    let files = files(dir);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let content = String::from_utf8_lossy(&bytes);
        for value in [BEARER, COOKIE, API_KEY, TRACE, "c00kie", "Bearer"] {
            assert!(
                !content.contains(value),
                "{when}: {} holds {value}",
                f.display()
            );
        }
    }
    files.len()
}

#[test]
fn checkpoint_and_state_files_never_hold_a_header_value() {
    // A cursor list of 50 records, 10 a page.
    let server = LoopbackServer::start_with(|r: &ReceivedRequest| {
        let at: u64 = r
            .path
            .split("cursor=")
            .nth(1)
            .map_or(0, |v| v.split('&').next().unwrap().parse().unwrap());
        let items: Vec<String> = (at..at + 10).map(|i| format!(r#"{{"id":{i}}}"#)).collect();
        let next = if at + 10 < 50 {
            format!(r#""{}""#, at + 10)
        } else {
            "null".into()
        };
        ScriptedResponse::new(200).json(&format!(
            r#"{{"data":[{}],"next":{next}}}"#,
            items.join(",")
        ))
    })
    .unwrap();
    let dir = temp_dir("cred-files");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let out = dir.join("out.jsonl");
    let cp = state.join("walk.checkpoint.json");
    let quotas = state.join("quotas.json");
    let url = format!("{}/items", server.url());
    let files = [
        "-o",
        out.to_str().unwrap(),
        "--checkpoint",
        cp.to_str().unwrap(),
        "--rate",
        "1000/day",
        "--quota-state",
        quotas.to_str().unwrap(),
    ];
    let base = [CURSOR_FLAGS, &files[..]].concat();
    // Stopped mid-walk (a checkpoint pointing at page 3), then resumed to the end.
    let o = extract(&url, &[&base[..], &["--max-pages", "2"]].concat());
    assert_eq!(o.status.code(), Some(6), "{}", text(&o.stderr));
    assert!(cp.exists() && quotas.exists());
    assert_eq!(assert_no_header_value_in(&dir, "mid-walk"), 3);
    let o = extract(&url, &[&base[..], &["--resume"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        ids(&std::fs::read(&out).unwrap()),
        (0..50).collect::<Vec<_>>()
    );
    assert_no_header_value_in(&dir, "at the end");
    // Nor anything printed.
    for (what, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        for secret in [BEARER, COOKIE, API_KEY] {
            assert!(!text(bytes).contains(secret), "{secret} in {what}");
        }
    }
    // The headers did go, every time.
    assert_eq!(server.received().len(), 5);
    assert_all_credentials(&server);
    std::fs::remove_dir_all(dir).unwrap();
}
