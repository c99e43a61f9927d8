//! Crash and resume (issue 17, item 3): one `paceline extract` killed with SIGKILL at 20
//! seeded random moments, resumed with `--resume` after each, and its final output compared
//! byte for byte with the ground truth.
//!
//! The list is still (so the ground truth is one exact file, written here from the dataset's
//! definition, not by another extract): 40,000 records, 100 a page, through a little chaos
//! (500s, cut connections, truncated bodies); by offset, and by cursor. Each run uses a
//! concurrency drawn from 1, 2, 4 and 8 (an offset list requests that many pages together), so
//! runs resume each other's checkpoints across concurrencies, and kills land while several
//! pages are in flight.
//!
//! The moment of each kill: the run is let write a seeded random number of bytes past where
//! the last run got (polled, bounded), then killed at once or after a seeded random delay of up
//! to 15 ms. After each kill the checkpoint never covers more than the file holds. Kills that
//! land between a page's write and its checkpoint are counted; the resume must cut those bytes.
//!
//! The same with a list that changes while read (records judged against the server's truth,
//! 10 kills, one page at a time) is `cli/tests/extract.rs`
//! `kill_9_at_ten_random_moments_loses_and_duplicates_nothing`.

#![cfg(unix)]

use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use paceline_testkit::LoopbackServer;
use paceline_testkit::dataset::{DataStyle, DatasetSpec, FIRST_ID, FIRST_TS};
use paceline_testkit::model::Chaos;

mod support;
use support::{temp_dir, text};

const BIN: &str = env!("CARGO_BIN_EXE_paceline");

const RECORDS: u64 = 40_000;
const PAGE: u64 = 100;
const KILLS: usize = 20;

/// A running extract, killed (and reaped) on drop if still running: no process outlives the
/// test, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// The list's records as extract must write them: the dataset's `{"id":…,"ts":…}` in order,
/// ids from [`FIRST_ID`], four records a timestamp second from [`FIRST_TS`], one a line.
fn ground_truth() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..RECORDS {
        out.extend_from_slice(
            format!("{{\"id\":{},\"ts\":{}}}\n", FIRST_ID + i, FIRST_TS + i / 4).as_bytes(),
        );
    }
    out
}

/// The checkpoint's `output_bytes`: how much of the output it covers (0 before the first).
fn covered(checkpoint: &Path) -> u64 {
    std::fs::read(checkpoint).map_or(0, |bytes| {
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        v["output_bytes"].as_u64().unwrap()
    })
}

fn len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Waits until `path` holds at least `target` bytes: true; false if the run ended first.
/// Fails the test past 30 s.
fn wait_for_length(path: &Path, target: u64, run: &mut Running) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if len(path) >= target {
            return true;
        }
        if run.0.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("{} did not reach {target} bytes in 30 s", path.display());
}

/// An offset list, 1 to 8 pages in flight.
#[test]
fn kill_9_at_twenty_random_moments_then_the_output_is_the_ground_truth() {
    twenty_kills(DataStyle::Offset, 0x17);
}

/// A cursor list (one page at a time, whatever the concurrency): the checkpoint holds the
/// server's cursor.
#[test]
fn the_same_with_a_cursor_list() {
    twenty_kills(DataStyle::Cursor, 0x18);
}

fn twenty_kills(style: DataStyle, seed: u64) {
    let data = DatasetSpec::new(style, RECORDS).page_size(PAGE);
    let (server, model, data) =
        LoopbackServer::start_dataset(data, 17, Chaos::recoverable(0.02)).unwrap();
    let truth = ground_truth();

    let dir = temp_dir(&format!("kill20-{}", style.as_str()));
    let out = dir.join("out.jsonl");
    let cp = dir.join("out.jsonl.checkpoint.json");
    let spec = dir.join("spec.json");
    std::fs::write(&spec, serde_json::to_vec(&data.page_spec()).unwrap()).unwrap();
    let url = data.url();
    let command = |concurrency: u32| {
        let mut c = Command::new(BIN);
        c.args(["extract", &url, "--page-spec"])
            .arg(&spec)
            .args(["--backoff-ms", "5", "--max-attempts", "10"])
            .args(["--concurrency", &concurrency.to_string(), "-o"])
            .arg(&out)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if cp.exists() {
            c.arg("--resume");
        }
        c
    };
    let page_bytes = truth.len() as u64 / (RECORDS / PAGE);
    let mut rng = fastrand::Rng::with_seed(seed);
    // Per kill: the concurrency, the delay after the threshold (µs), what the checkpoint
    // covered and how long the file was.
    let mut kills: Vec<(u32, u64, u64, u64)> = Vec::new();
    while kills.len() < KILLS {
        let n = kills.len() + 1;
        let concurrency = [1, 2, 4, 8][rng.usize(0..4)];
        // Past where the last run got (measured before it starts: a resume first cuts the file
        // back to its checkpoint), by one to eight pages' worth of bytes.
        let target = len(&out) + rng.u64(1..=8 * page_bytes);
        let delay = if rng.bool() { 0 } else { rng.u64(0..15_000) };
        let mut run = Running(command(concurrency).spawn().unwrap());
        assert!(
            wait_for_length(&out, target, &mut run),
            "run {n} ended by itself ({:?}) before writing {target} bytes",
            run.0.try_wait()
        );
        std::thread::sleep(Duration::from_micros(delay));
        run.0.kill().unwrap(); // SIGKILL
        let status = run.0.wait().unwrap();
        // Killed mid-walk, not ended by itself.
        assert_eq!(status.signal(), Some(9), "run {n}: {status}");
        let (covered, len) = (covered(&cp), len(&out));
        // Whatever the moment, the checkpoint never covers more than the file holds, and what
        // it covers is the truth's beginning, byte for byte.
        assert!(covered <= len, "kill {n}: covers {covered} of {len} bytes");
        let written = std::fs::read(&out).unwrap();
        let c = covered as usize;
        assert!(
            written[..c] == truth[..c],
            "kill {n}: the {c} bytes covered differ from the truth from byte {:?}",
            written.iter().zip(&truth).position(|(a, b)| a != b)
        );
        kills.push((concurrency, delay, covered, len));
    }
    // Each run went further than the one before.
    assert!(
        kills
            .windows(2)
            .all(|w| w[1].2 >= w[0].2 && w[1].3 > w[0].3),
        "{kills:?}"
    );
    assert!(
        kills.iter().any(|k| k.0 == 1) && kills.iter().any(|k| k.0 > 1),
        "{kills:?}"
    );
    let last = kills.last().unwrap();
    assert!(
        last.3 < truth.len() as u64,
        "the last kill came after the end"
    );
    // The last resume, to the end.
    let o = command(4).stderr(Stdio::piped()).output().unwrap();
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("complete ("), "{stderr}");
    let written = std::fs::read(&out).unwrap();
    assert!(
        written == truth,
        "the output ({} bytes) differs from the truth ({} bytes) from byte {:?}",
        written.len(),
        truth.len(),
        written.iter().zip(&truth).position(|(a, b)| a != b)
    );
    let mid_page = kills.iter().filter(|(_, _, c, l)| l > c).count();
    eprintln!(
        "{}: {mid_page} of {KILLS} kills left bytes past the checkpoint; {} requests; kills \
         (concurrency, delay µs, covered, length): {kills:?}",
        style.as_str(),
        server.received().len()
    );
    // The truth as the server knows it: the same ids, none added or deleted.
    let mut ids = model.truth().unwrap().must_deliver;
    ids.sort_unstable();
    assert!(
        ids == (FIRST_ID..FIRST_ID + RECORDS).collect::<Vec<_>>(),
        "the server's truth: {} records",
        ids.len()
    );
    // The chaos happened (so resends and retries were among what was killed).
    let answers = model.answers();
    assert!(answers.status(500) > 0 && answers.resets > 0, "{answers:?}");
    std::fs::remove_dir_all(dir).unwrap();
}
