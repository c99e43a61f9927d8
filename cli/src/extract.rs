//! `paceline extract URL`: every record of a list endpoint into a JSON Lines file, paced by
//! the Pacer, checkpointed after each page, resumable after a crash.
//!
//! The loop, one page at a time (a page walk is sequential: each request needs the previous
//! response's cursor):
//!
//! ```text
//! next_page()          waits, retries, re-requests garbled pages (the Pacer and Pages)
//!   └► write its records to the output
//!   └► commit(): flush + fsync the output, then replace the state file atomically
//!        (checkpoint + the output's length)
//! ```
//!
//! A crash at any moment leaves a state file that covers only durable records; `--resume`
//! cuts the output back to the length it recorded and goes on from its checkpoint.

mod args;
mod headers;
mod interrupt;
mod output;
mod progress;
mod quota_state;
mod run;
mod shared_budget;
mod state;
mod stats;
mod units;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use paceline::paginate::{Guards, Hints, PageSpec, RequestTemplate};
use paceline::{Pacer, PacerConfig};
use paceline_ureq::{Client, ureq};

pub use args::Extract;
pub use progress::Limits;
pub use quota_state::QuotaState;
pub use run::execute;
use stats::Stats;

/// Exit codes, as `--help` and the README list them.
pub mod code {
    /// Every record was extracted.
    pub const COMPLETE: u8 = 0;
    /// A local failure: the output or the checkpoint could not be written.
    pub const LOCAL: u8 = 1;
    /// Bad input: usage, a spec, a header, a checkpoint that does not fit.
    pub const BAD_INPUT: u8 = 2;
    /// The server stayed unavailable (retries exhausted) or answered an error.
    pub const SERVER: u8 = 3;
    /// A daily or monthly quota is used up.
    pub const QUOTA: u8 = 4;
    /// Interrupted (Ctrl-C); the checkpoint is saved: run again with `--resume`.
    pub const INTERRUPTED: u8 = 5;
    /// A guard stopped the walk (`--max-pages`, a repeated cursor, a next page on an origin
    /// not allowed), or how the list pages could not be told; the checkpoint points at the
    /// refused page.
    pub const STOPPED: u8 = 6;
    /// The walk reached the list's end, but the list changed while it was read by offset or
    /// page number: records may be missing.
    pub const DRIFTED: u8 = 7;
}

/// Everything one extract needs, built from the arguments (or by `demo`).
pub struct Job {
    pub client: Client,
    pub spec: Option<PageSpec>,
    /// What the flags say of how the list pages, when there is no spec.
    pub hints: Hints,
    pub template: RequestTemplate,
    pub guards: Guards,
    pub output: Option<PathBuf>,
    pub checkpoint: Option<PathBuf>,
    pub resume: bool,
    pub limits: Limits,
    pub stats: Arc<Stats>,
    pub progress_interval: Duration,
    /// Overrides the terminal check (`demo` forces plain lines in tests).
    pub terminal: Option<bool>,
    /// Page requests in flight at once (`--concurrency`).
    pub concurrency: usize,
    /// Where the quotas' use is kept between runs (none: not kept).
    pub quota_state: Option<QuotaState>,
}

pub fn run(cmd: Extract) -> ExitCode {
    let stats = Stats::new();
    let job = match args::build(cmd, &stats) {
        Ok(job) => job,
        Err((msg, code)) => {
            eprintln!("paceline extract: {msg}");
            return ExitCode::from(code);
        }
    };
    ExitCode::from(execute(job).0)
}

/// New counters for a job.
pub fn stats_new() -> Arc<Stats> {
    Stats::new()
}

/// Tells the progress display the list's total (for the ETA).
pub fn set_total(stats: &Stats, total: u64) {
    stats.total.store(total, Relaxed);
}

/// A client over `config` whose every attempt `stats` counts.
pub fn client(config: PacerConfig, stats: &Arc<Stats>) -> Client {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .middleware(stats::middleware(Arc::clone(stats)))
        .build()
        .into();
    let seed = {
        use std::hash::{BuildHasher as _, Hasher as _};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.finish()
    };
    Client::with_agent(agent, Pacer::new(config, seed))
}

/// Both clocks, read together.
fn clock() -> paceline::Now {
    paceline::Now::new(Instant::now(), std::time::SystemTime::now())
}
