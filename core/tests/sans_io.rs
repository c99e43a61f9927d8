//! The crate docs' promise, checked on the source: the core never opens a socket or a file,
//! sleeps, reads a clock or spawns a thread. Every `.rs` file under `src/` is read, comments
//! (and so doc examples) left out, and searched for the standard library's ways of doing any of
//! that.

use std::path::{Path, PathBuf};

/// What a sans-IO machine must not call.
const FORBIDDEN: &[&str] = &[
    "Instant::now",
    "SystemTime::now",
    "std::thread",
    "thread::spawn",
    "thread::sleep",
    "std::net",
    "std::fs",
    "std::io::stdin",
    "std::process",
    "std::env",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The code of a line: what comes before a `//` comment.
fn code(line: &str) -> &str {
    line.split("//").next().unwrap_or("")
}

#[test]
fn the_core_reads_no_clock_and_does_no_io() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 20, "{files:?}");
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for word in FORBIDDEN {
                if code(line).contains(word) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The search does find a call (so the test above can fail).
#[test]
fn the_search_sees_a_clock_read() {
    assert!(code("    let t = std::time::Instant::now(); // a clock").contains("Instant::now"));
    assert!(!code("    // Instant::now() is the caller's").contains("Instant::now"));
}
