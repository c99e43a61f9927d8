//! `paceline extract` writes JSON Lines whatever the server's formatting: pages pretty-printed
//! over several lines come out one compact record a line, and a resumed extract cuts and goes
//! on at the right byte.

use std::process::{Command, Output};

use paceline_testkit::{LoopbackServer, ReceivedRequest, ScriptedResponse};
use serde_json::{Value, json};

mod support;
use support::{temp_dir, text};

const BIN: &str = env!("CARGO_BIN_EXE_paceline");

const RECORDS: u64 = 25;
const PAGE: u64 = 4;

/// The list's records: strings with spaces and escaped line breaks, nested values.
fn record(i: u64) -> Value {
    json!({
        "id": i,
        "name": format!("record  {i}"),
        "note": "line one\nline two\r\n\t\"quoted\"",
        "tags": ["a b", "c"],
        "nested": {"x": [1, 2.5, null, true], "empty": {}},
    })
}

/// A `Link`-paginated list whose pages are pretty-printed JSON arrays, as json-server writes
/// them.
fn pretty_list() -> LoopbackServer {
    let base = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let b = std::sync::Arc::clone(&base);
    let server = LoopbackServer::start_with(move |r: &ReceivedRequest| {
        let page: u64 = r
            .path
            .split("page=")
            .nth(1)
            .map_or(1, |v| v.split('&').next().unwrap().parse().unwrap());
        let first = (page - 1) * PAGE;
        let records: Vec<Value> = (first..(first + PAGE).min(RECORDS)).map(record).collect();
        let body = serde_json::to_string_pretty(&records).unwrap();
        let mut response = ScriptedResponse::new(200).json(&body);
        if first + PAGE < RECORDS {
            let next = format!(
                "<{}/items?page={}>; rel=\"next\"",
                b.get().unwrap(),
                page + 1
            );
            response = response.header("Link", &next);
        }
        response
    })
    .unwrap();
    base.set(server.url()).unwrap();
    server
}

fn extract(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("extract")
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// Every line is one record, compact (serde_json's own compact text of it), in order.
#[track_caller]
fn assert_every_record_once_compact(output: &str) {
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len() as u64, RECORDS, "{output}");
    for (i, line) in (0..).zip(&lines) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line {i} is not one JSON value: {line:?}: {e}"));
        assert_eq!(v, record(i));
        assert_eq!(*line, serde_json::to_string(&record(i)).unwrap());
    }
    assert!(output.ends_with('\n'));
}

#[test]
fn pretty_pages_become_json_lines() {
    let server = pretty_list();
    let o = extract(&[&format!("{}/items", server.url()), "--paginate", "link"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_every_record_once_compact(&text(&o.stdout));
}

#[test]
fn a_resumed_extract_of_pretty_pages_cuts_at_the_checkpoint() {
    let server = pretty_list();
    let dir = temp_dir("jsonl-resume");
    let out = dir.join("out.jsonl");
    let url = format!("{}/items", server.url());
    let base = [
        url.as_str(),
        "--paginate",
        "link",
        "-o",
        out.to_str().unwrap(),
    ];
    // Two pages, then stopped by a guard (exit 6, resumable).
    let o = extract(&[&base[..], &["--max-pages", "2"]].concat());
    assert_eq!(o.status.code(), Some(6), "{}", text(&o.stderr));
    let stopped = std::fs::read_to_string(&out).unwrap();
    assert_eq!(stopped.lines().count() as u64, 2 * PAGE);
    // A crash mid-page left bytes the checkpoint does not cover: resume cuts them.
    let mut bytes = stopped.into_bytes();
    bytes.extend_from_slice(b"{\"id\":8,\"name\":\"rec");
    std::fs::write(&out, bytes).unwrap();
    let o = extract(&[&base[..], &["--resume"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_every_record_once_compact(&std::fs::read_to_string(&out).unwrap());
    std::fs::remove_dir_all(dir).unwrap();
}
