//! `paceline inspect page` against a corpus of list responses built from vendors' own
//! documentation (`tests/corpus/pages/*.json`; each file cites the pages it was built from).
//! For every case the answer must be the documented next request, or the end, or — where the
//! vendor's rule cannot be read from a response — anything but an end: never a silent end.
//! Zero silent ends are allowed; at least 95 % of the cases must be exactly right (the others
//! cost a request: a guessed parameter the walk corrects, or one more page to see the end).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use paceline::paginate::Url;
use serde_json::Value;

mod support;

const BIN: &str = env!("CARGO_BIN_EXE_paceline");

fn corpus() -> Vec<(PathBuf, Value)> {
    support::corpus("pages")
}

/// The response as `inspect page` reads it: a status line, headers, a blank line, the body.
fn response_text(r: &Value) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {} X\r\n", r["status"].as_u64().unwrap_or(200));
    if let Some(h) = r["headers"].as_object() {
        for (k, v) in h {
            out.push_str(&format!("{k}: {}\r\n", v.as_str().unwrap()));
        }
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(r["body"].to_string().as_bytes());
    bytes
}

fn inspect(request: &Value, response: &Value) -> Result<Value, String> {
    let mut cmd = Command::new(BIN);
    cmd.args(["inspect", "page", "--url", request["url"].as_str().unwrap()]);
    if let Some(m) = request["method"].as_str() {
        cmd.args(["--method", m]);
    }
    if !request["body"].is_null() {
        cmd.args(["--body", &request["body"].to_string()]);
    }
    let out = support::run_with_stdin(&mut cmd, &response_text(response));
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A URL as its parts: scheme, host, port, path, and its query pairs as a multiset (order does
/// not matter; encoding does not either).
/// A URL's parts: scheme, host, port, path, query pairs.
type UrlKey = (
    String,
    Option<String>,
    Option<u16>,
    String,
    BTreeMap<String, Vec<String>>,
);

fn url_key(u: &str) -> UrlKey {
    let url = Url::parse(u).unwrap_or_else(|e| panic!("{u}: {e}"));
    let mut q: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in url.query_pairs() {
        q.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    for v in q.values_mut() {
        v.sort();
    }
    (
        url.scheme().to_owned(),
        url.host_str().map(str::to_owned),
        url.port_or_known_default(),
        url.path().to_owned(),
        q,
    )
}

/// What went wrong with one case, or `None` when it is right.
fn check(case: &Value) -> Option<String> {
    let expect = &case["expect"];
    let got = inspect(&case["request"], &case["response"]);
    if expect.get("refuse").is_some() {
        return match got {
            // A refusal (exit 1 with a message) or any answer but "the end".
            Err(_) => None,
            Ok(v) if v["end"] == false => None,
            Ok(v) => Some(format!(
                "a silent end where the docs say the client must act: {v}"
            )),
        };
    }
    let got = match got {
        Ok(v) => v,
        Err(e) => return Some(format!("refused: {e}")),
    };
    if expect["end"] == true {
        return (got["end"] != true).then(|| format!("not the end: {got}"));
    }
    let want = &expect["next"];
    let next = &got["next"];
    if next.is_null() {
        return Some(format!("no next request: {got}"));
    }
    if next["method"] != want["method"] {
        return Some(format!(
            "method {} (want {})",
            next["method"], want["method"]
        ));
    }
    let (a, b) = (
        url_key(next["url"].as_str().unwrap()),
        url_key(want["url"].as_str().unwrap()),
    );
    if a != b {
        return Some(format!("next {} (want {})", next["url"], want["url"]));
    }
    if !want["body"].is_null() && next["body"] != want["body"] {
        return Some(format!("body {} (want {})", next["body"], want["body"]));
    }
    None
}

#[test]
fn documented_vendor_pages_give_the_documented_next_request_or_end() {
    let mut cases = 0;
    let mut wrong = Vec::new();
    let mut silent_ends = Vec::new();
    let files = corpus();
    for (path, file) in &files {
        let vendor = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(
            file["sources"].as_array().is_some_and(|s| !s.is_empty()),
            "{vendor}: every case cites its sources"
        );
        for case in file["cases"].as_array().unwrap() {
            cases += 1;
            if let Some(why) = check(case) {
                let line = format!("{vendor} / {}: {why}", case["name"].as_str().unwrap());
                if why.starts_with("not the end") || why.starts_with("a silent end") {
                    wrong.push(line);
                } else if case["expect"].get("next").is_some()
                    && inspect(&case["request"], &case["response"]).is_ok_and(|v| v["end"] == true)
                {
                    silent_ends.push(line);
                } else {
                    wrong.push(line);
                }
            }
        }
    }
    let right = cases - wrong.len() - silent_ends.len();
    println!(
        "{} vendors, {cases} cases: {right} right, {} wrong, {} silent ends",
        files.len(),
        wrong.len(),
        silent_ends.len()
    );
    for w in wrong.iter().chain(&silent_ends) {
        println!("  {w}");
    }
    assert!(files.len() >= 40, "at least 40 vendors: {}", files.len());
    assert!(
        silent_ends.is_empty(),
        "silent ends (the list goes on, the answer says it ends):\n{}",
        silent_ends.join("\n")
    );
    // The rest may cost a request (a guess the walk then corrects, or one more page asked for
    // to see an end); at least 95 % must be exactly right.
    assert!(
        right * 100 >= cases * 95,
        "{right} of {cases} right, {} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
