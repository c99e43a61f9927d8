//! `paceline inspect headers` against a corpus of rate-limit responses built from vendors' own
//! documentation (`tests/corpus/headers/*.json`, format in its README; each file cites the pages
//! it was built from). Every case goes through the binary as a user would feed it (a status
//! line, the headers in wire order, a blank line, the body) and what it prints is compared with
//! what the vendor's documentation lets us state (`expect`; an absent key is not checked).
//!
//! Two figures: at least 95 % of the cases must be read right, and none may be a silent
//! miss: a response the documentation says is throttled (a 429 or its equivalent, or nothing
//! remaining) read as "go on now". "Right" sets one mismatch apart, printed and counted on
//! its own: a window the docs state in prose that the response does not carry (`window_s`
//! read as null; a wrong number is wrong). The strict figure (every key) is printed too. `cargo test -p paceline-cli --test header_corpus --
//! --nocapture` prints a table per vendor and every case that is not right.

use std::process::Command;

use serde_json::Value;

mod support;

const BIN: &str = env!("CARGO_BIN_EXE_paceline");

/// Seconds compared to the millisecond: documented waits are whole seconds or milliseconds.
const TOLERANCE_S: f64 = 0.001;

fn corpus() -> Vec<(String, Value)> {
    support::corpus("headers")
        .into_iter()
        .map(|(p, v)| (p.file_stem().unwrap().to_string_lossy().into_owned(), v))
        .collect()
}

/// The response as `inspect headers` reads it: a status line, the headers in wire order, a
/// blank line, the body (when the docs show one).
fn response_text(case: &Value) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {} X\r\n", case["status"].as_u64().unwrap());
    for pair in case["headers"].as_array().unwrap() {
        let (name, value) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    if !case["body"].is_null() {
        out.push_str(&case["body"].to_string());
    }
    out.into_bytes()
}

fn inspect(case: &Value) -> Value {
    let now = case["now_epoch_s"].as_u64().unwrap().to_string();
    let out = support::run_with_stdin(
        Command::new(BIN).args(["inspect", "headers", "--now", &now]),
        &response_text(case),
    );
    assert!(
        out.status.success(),
        "{}: exit {:?}: {}",
        case["name"],
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Whether the class printed is the class the docs state: `ok` is a response the client may go
/// on from (`final` on a 2xx), `throttled` a refusal that is waited out (a used-up quota is one
/// too; whether it is a quota is checked by `quota_exhausted`).
fn class_matches(want: &str, got: &Value) -> bool {
    match want {
        "ok" => got["class"] == "final",
        "throttled" => got["class"] == "throttled" || got["class"] == "quota_exhausted",
        other => got["class"] == other,
    }
}

/// The one mismatch counted apart: a window the docs state in prose ("per minute") that the
/// response does not carry, so no reading of it can know (`window_s` null, not a wrong number).
/// The throttle learns such a window from the counters it sees come back.
const UNSTATED_WINDOW: &str = "window_s null: not in the response";

/// What is wrong with the answer to one case (empty when it is right).
fn mismatches(expect: &Value, got: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["limit", "remaining"] {
        if let Some(want) = expect.get(key)
            && got[key].as_f64() != want.as_f64()
        {
            out.push(format!("{key} {} (want {want})", got[key]));
        }
    }
    for key in ["reset_in_s", "retry_after_s", "must_wait_s", "window_s"] {
        if let Some(want) = expect.get(key).and_then(Value::as_f64) {
            match got[key].as_f64() {
                Some(g) if (g - want).abs() <= TOLERANCE_S => {}
                None if key == "window_s" => out.push(format!("{UNSTATED_WINDOW} (want {want})")),
                _ => out.push(format!("{key} {} (want {want})", got[key])),
            }
        }
    }
    if let Some(want) = expect.get("quota_exhausted")
        && &got["quota_exhausted"] != want
    {
        out.push(format!(
            "quota_exhausted {} (want {want})",
            got["quota_exhausted"]
        ));
    }
    if let Some(want) = expect.get("class").and_then(Value::as_str)
        && !class_matches(want, got)
    {
        out.push(format!("class {} (want {want})", got["class"]));
    }
    out
}

/// A throttled response read as "go on now": the docs say it was refused (or nothing remains,
/// and the wait is not documented as zero), and the answer is a plain success with no wait and
/// no sign that the window is used up.
fn silent_miss(expect: &Value, got: &Value) -> bool {
    let throttled = expect["class"] == "throttled"
        || (expect["remaining"] == 0 && expect["must_wait_s"].as_f64() != Some(0.0));
    throttled
        && got["class"] == "final"
        && got["must_wait_s"].as_f64() == Some(0.0)
        && got["remaining"] != 0
}

#[derive(Default)]
struct Tally {
    cases: usize,
    /// Right, a window the response does not state aside.
    right: usize,
    /// Right on every key stated.
    strict: usize,
    silent: usize,
}

#[test]
fn documented_vendor_headers_read_as_documented() {
    let files = corpus();
    let mut total = Tally::default();
    let mut rows = Vec::new();
    let mut wrong = Vec::new();
    let mut silent = Vec::new();
    let mut unstated = Vec::new();
    for (vendor, file) in &files {
        assert!(
            file["sources"].as_array().is_some_and(|s| !s.is_empty()),
            "{vendor}: every file cites its sources"
        );
        let mut t = Tally::default();
        for case in file["cases"].as_array().unwrap() {
            let got = inspect(case);
            let expect = &case["expect"];
            let bad = mismatches(expect, &got);
            let name = case["name"].as_str().unwrap();
            t.cases += 1;
            if bad.is_empty() {
                t.right += 1;
                t.strict += 1;
            } else if bad.iter().all(|b| b.starts_with(UNSTATED_WINDOW)) {
                t.right += 1;
                unstated.push(format!("{vendor} / {name}: {}", bad.join(", ")));
            } else if silent_miss(expect, &got) {
                t.silent += 1;
                silent.push(format!("{vendor} / {name}: {}", bad.join(", ")));
            } else {
                wrong.push(format!("{vendor} / {name}: {}", bad.join(", ")));
            }
        }
        total.cases += t.cases;
        total.right += t.right;
        total.strict += t.strict;
        total.silent += t.silent;
        rows.push((vendor.clone(), t));
    }
    println!(
        "{:<28} {:>5} {:>5} {:>6} {:>6}",
        "vendor", "cases", "right", "strict", "silent"
    );
    for (vendor, t) in &rows {
        println!(
            "{vendor:<28} {:>5} {:>5} {:>6} {:>6}",
            t.cases, t.right, t.strict, t.silent
        );
    }
    println!(
        "{} vendors, {} cases: {} right ({} on every key, {} with a window the response does \
         not state), {} wrong, {} silent misses",
        files.len(),
        total.cases,
        total.right,
        total.strict,
        unstated.len(),
        wrong.len(),
        silent.len()
    );
    for line in silent
        .iter()
        .map(|s| format!("  SILENT {s}"))
        .chain(wrong.iter().map(|w| format!("  wrong  {w}")))
        .chain(unstated.iter().map(|u| format!("  window {u}")))
    {
        println!("{line}");
    }
    assert!(files.len() >= 40, "at least 40 vendors: {}", files.len());
    assert!(
        silent.is_empty(),
        "throttled responses read as \"go on now\":\n{}",
        silent.join("\n")
    );
    assert!(
        total.right * 100 >= total.cases * 95,
        "{} of {} right:\n{}",
        total.right,
        total.cases,
        wrong.join("\n")
    );
}
