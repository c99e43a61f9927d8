//! `paceline demo`: the whole job against a hostile API on this machine, in well under a
//! minute. A loopback server serves a live dataset (records inserted and deleted while it is
//! paged) with GitHub-style rate-limit headers and `Link` pagination, behind a rate limit and
//! chaos (429s, 5xx, resets, truncated bodies); `extract`'s own code path pulls it into a file
//! with progress; the file is then checked against the server's ground truth.

use std::collections::HashMap;
use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::Args;
use paceline::PacerConfig;
use paceline::paginate::Guards;
use paceline::retry::RetryPolicy;
use paceline_testkit::LoopbackServer;
use paceline_testkit::dataset::{DataStyle, Dataset, DatasetSpec};
use paceline_testkit::model::{
    Chaos, Dialect, Latency, LimiterKind, LimiterSpec, ServerModel, Truth,
};

use crate::extract::{self, Job, Limits, code};

/// Extract a rate-limited, chaotic, live dataset from a server on this machine, then check
/// every record against the server's ground truth.
#[derive(Debug, Args)]
pub struct Demo {
    /// Records in the dataset at the start.
    #[arg(long, default_value_t = 20_000)]
    records: u64,
    /// Requests per second the server allows (a GitHub-style window of one second).
    #[arg(long, default_value_t = 40)]
    server_rate: u64,
    /// The seed of the server's chaos and of the dataset's changes.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Where to write the records (default: a temporary directory, removed at the end).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(cmd: Demo) -> ExitCode {
    // 5 head inserts, 5 tail inserts and 5 deletes a second, on the dataset's own clock: one
    // request answered is a server's window divided by its rate (25 ms at 40/s), so the list
    // changes as it would at full speed, and by the same seed the same way on every run.
    let mut data = DatasetSpec::new(DataStyle::Link, cmd.records)
        .page_size(100)
        .mutations(5.0, 5.0, 5.0)
        .by_request(1000.0 / cmd.server_rate.max(1) as f64);
    // The dataset's next links are absolute: the model is built once the server's URL is known.
    let started = LoopbackServer::start_model_at(|url| {
        data.base_url = url.to_string();
        ServerModel::new(cmd.seed, SystemTime::now())
            .dialect(Dialect::Github)
            .latency(Latency {
                base_ms: 1.0,
                jitter_ms: 2.0,
            })
            .limiter(LimiterSpec::new(LimiterKind::FixedWindow {
                limit: cmd.server_rate.max(1),
                window_s: 1.0,
            }))
            .chaos(Chaos {
                p_429: 0.01,
                p_500: 0.01,
                p_502: 0.01,
                p_503: 0.005,
                p_reset_after: 0.01,
                p_truncated: 0.02,
                ..Chaos::default()
            })
            .app(Dataset::new(data.clone(), cmd.seed))
    });
    let (server, model) = match started {
        Ok(s) => s,
        Err(e) => {
            eprintln!("paceline demo: cannot start the loopback server: {e}");
            return ExitCode::from(code::LOCAL);
        }
    };

    let (dir, output) = match &cmd.output {
        Some(path) => (None, path.clone()),
        None => {
            let dir = std::env::temp_dir().join(format!("paceline-demo-{}", std::process::id()));
            if let Err(e) = std::fs::create_dir_all(&dir) {
                eprintln!("paceline demo: {}: {e}", dir.display());
                return ExitCode::from(code::LOCAL);
            }
            let file = dir.join("records.jsonl");
            (Some(dir), file)
        }
    };
    let checkpoint = {
        let mut name = output.as_os_str().to_owned();
        name.push(".checkpoint.json");
        PathBuf::from(name)
    };
    let _ = std::fs::remove_file(&checkpoint);
    eprintln!(
        "paceline demo: {} records (changing while paged), Link pagination, GitHub-style \
         headers, {} requests/s allowed, 429s, 5xx, resets and truncated bodies, at {}",
        cmd.records,
        cmd.server_rate,
        data.url()
    );
    eprintln!("paceline demo: extracting to {}", output.display());

    let stats = extract::stats_new();
    // Retries come quickly here: the server is on this machine.
    let retry = RetryPolicy::default()
        .max_attempts(8)
        .base(Duration::from_millis(50));
    let job = Job {
        client: extract::client(PacerConfig::default().retry(retry), &stats),
        spec: Some(data.page_spec()),
        hints: paceline::paginate::Hints::default(),
        template: data.template(),
        guards: Guards::default(),
        output: Some(output.clone()),
        checkpoint: Some(checkpoint.clone()),
        resume: false,
        limits: Limits::default(),
        stats: Arc::clone(&stats),
        progress_interval: Duration::from_secs(2),
        terminal: None,
        // A Link walk: each page's URL comes from the one before.
        concurrency: 1,
        quota_state: None,
    };
    extract::set_total(&stats, cmd.records);
    let (exit, _) = extract::execute(job);
    if exit != code::COMPLETE {
        eprintln!("paceline demo: the extract did not complete (exit {exit})");
        return ExitCode::from(exit);
    }

    let truth = model.truth().unwrap_or_default();
    drop(server);
    let verdict = match verify(&output, data.id_pointer(), &truth) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("paceline demo: cannot read {}: {e}", output.display());
            return ExitCode::from(code::LOCAL);
        }
    };
    println!(
        "{} records, {} missing, {} duplicated",
        verdict.records, verdict.missing, verdict.duplicated
    );
    if verdict.invented > 0 {
        println!("{} records the server never had", verdict.invented);
    }
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(dir);
    } else {
        let _ = std::fs::remove_file(&checkpoint);
    }
    if verdict.missing == 0 && verdict.duplicated == 0 && verdict.invented == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(code::LOCAL)
    }
}

/// The output checked against the ground truth.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    pub records: u64,
    /// Records that existed for the whole walk and are not in the file.
    pub missing: u64,
    /// Extra copies of records in the file.
    pub duplicated: u64,
    /// Records in the file that never existed.
    pub invented: u64,
}

fn verify(path: &std::path::Path, id: &str, truth: &Truth) -> std::io::Result<Verdict> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut seen: HashMap<u64, u32> = HashMap::new();
    let mut verdict = Verdict::default();
    for line in file.lines() {
        let line = line?;
        verdict.records += 1;
        let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        let Some(id) = value.pointer(id).and_then(id_of) else {
            verdict.invented += 1;
            continue;
        };
        *seen.entry(id).or_default() += 1;
    }
    verdict.duplicated = seen.values().map(|n| u64::from(n - 1)).sum();
    verdict.missing = truth
        .must_deliver
        .iter()
        .filter(|id| !seen.contains_key(id))
        .count() as u64;
    let ever: std::collections::HashSet<u64> = truth.ever.iter().copied().collect();
    verdict.invented += seen.keys().filter(|id| !ever.contains(id)).count() as u64;
    Ok(verdict)
}

fn id_of(v: &serde_json::Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo's verdict counts what it claims to count: a record present throughout and not
    /// written is missing, a second copy is a duplicate, an id the server never had is invented.
    #[test]
    fn the_verdict_counts_missing_duplicated_and_invented_records() {
        let dir =
            std::env::temp_dir().join(format!("paceline-demo-verdict-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.jsonl");
        let truth = Truth {
            must_deliver: vec![1, 2, 3, 4],
            ever: vec![0, 1, 2, 3, 4, 5],
        };
        let check = |lines: &str| {
            std::fs::write(&path, lines).unwrap();
            verify(&path, "/id", &truth).unwrap()
        };
        let exact = check("{\"id\":0}\n{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n{\"id\":4}\n");
        assert_eq!(
            exact,
            Verdict {
                records: 5,
                ..Verdict::default()
            }
        );
        let wrong = check("{\"id\":1}\n{\"id\":2}\n{\"id\":2}\n{\"id\":4}\n{\"id\":9}\n{}\n");
        assert_eq!(
            wrong,
            Verdict {
                records: 6,
                missing: 1,
                duplicated: 1,
                invented: 2,
            }
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
