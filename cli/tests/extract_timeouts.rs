//! `paceline extract` against servers that stall: each attempt is cut by a timeout and
//! retried, the extract ends with exit 3 (server unavailable) in bounded time, and its summary
//! counts the timeouts. And `--max-body`: a page over it ends the extract, the message naming
//! the flag.

use std::process::{Command, Output};
use std::time::Duration;

use paceline_testkit::{LoopbackServer, Script, ScriptedResponse, Stall, StallingServer};

mod support;
use support::{output_within, text};

const BIN: &str = env!("CARGO_BIN_EXE_paceline");

/// Far more than any of these runs takes, far less than forever.
const NO_HANG: Duration = Duration::from_secs(20);

/// Runs `paceline extract URL --paginate link ARGS`, two attempts a page 5 ms apart, no outage
/// wait; fails the
/// test (killing the process) if it runs longer than [`NO_HANG`].
fn extract(url: &str, args: &[&str]) -> (Output, Duration) {
    let mut command = Command::new(BIN);
    command
        .args(["extract", url, "--paginate", "link"])
        .args(["--max-attempts", "2", "--backoff-ms", "5"])
        // What is measured is each attempt's timeout, not the outage wait (which would wait
        // for the breaker's probes).
        .args(["--max-outage", "0"])
        .args(args);
    output_within(&mut command, NO_HANG, "paceline extract")
}

/// Exit 3, the attempts all timeouts (`n` of them), as the summary counts them.
#[track_caller]
fn assert_timed_out(o: &Output, n: u64) {
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("gave up after {n} attempts (last: Timeout")),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("errors     {n} ")), "{stderr}");
    assert!(stderr.contains(&format!("timeouts   {n} ")), "{stderr}");
    assert!(o.stdout.is_empty());
}

#[test]
fn a_head_then_silence_times_out_idle() {
    let server = StallingServer::start(Stall::AfterHead).unwrap();
    let (o, _) = extract(&server.url(), &["--idle-timeout", "0.3"]);
    assert_timed_out(&o, 2);
    assert_eq!(server.requests(), 2);
}

#[test]
fn a_server_that_never_answers_times_out_idle() {
    let server = StallingServer::start(Stall::Silent).unwrap();
    let (o, _) = extract(&server.url(), &["--idle-timeout", "0.3"]);
    assert_timed_out(&o, 2);
    assert_eq!(server.requests(), 2);
}

#[test]
fn a_trickled_page_is_cut_by_the_timeout() {
    let server = StallingServer::start(Stall::Trickle {
        every: Duration::from_millis(50),
        body: vec![b' '; 1_000_000],
    })
    .unwrap();
    let (o, took) = extract(&server.url(), &["--idle-timeout", "1", "--timeout", "0.5"]);
    assert_timed_out(&o, 2);
    // Two attempts, each cut at 0.5 s, not before.
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert_eq!(server.requests(), 2);
}

#[test]
fn a_hanging_connect_times_out() {
    let server = StallingServer::start(Stall::Connect).unwrap();
    let (o, _) = extract(&server.url(), &["--connect-timeout", "0.2"]);
    assert_timed_out(&o, 2);
    assert_eq!(server.requests(), 0);
}

#[test]
fn a_page_over_max_body_ends_the_extract_and_names_the_flag() {
    let page = format!(r#"[{{"id":1,"pad":"{}"}}]"#, "x".repeat(2000));
    let server = LoopbackServer::start(
        Script::new().route("/items", [ScriptedResponse::new(200).json(&page)]),
    )
    .unwrap();
    let url = format!("{}/items", server.url());
    let (o, _) = extract(&url, &["--max-body", "1KiB"]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("over the limit of 1024 bytes"), "{stderr}");
    assert!(stderr.contains("raise --max-body (now 1KiB)"), "{stderr}");
    // Not asked again: the same page would come back.
    assert_eq!(server.received().len(), 1);
    // Under the limit, the same page is read.
    let (o, _) = extract(&url, &["--max-body", "4KiB"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).lines().count(), 1);
}

#[test]
fn bad_values_are_bad_input() {
    for args in [
        ["--max-body", "10XB"],
        ["--max-body", "0"],
        ["--timeout", "0"],
        ["--idle-timeout", "soon"],
        ["--connect-timeout=-1", "--timeout=1"],
    ] {
        let (o, _) = extract("http://127.0.0.1:9/items", &args);
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        let flag = args[0].split('=').next().unwrap();
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
}

#[test]
fn help_shows_the_defaults() {
    let o = Command::new(BIN)
        .args(["extract", "--help"])
        .output()
        .unwrap();
    let help = text(&o.stdout);
    for default in [
        "[default: 120]",
        "[default: 10]",
        "[default: 30]",
        "[default: 10MiB]",
    ] {
        assert!(help.contains(default), "{help}");
    }
}
