//! Scenarios as data: a TOML file names the server model, the client policy and the seed.
//!
//! ```toml
//! description = "GitHub-style hourly window, honest headers"
//! seed = 1
//! duration_s = 3600
//!
//! [server]
//! dialect = "github"
//! limiters = [{ kind = "fixed_window", limit = 5000, window_s = 3600, name = "core" }]
//!
//! [client]
//! workers = 4
//! ```
//!
//! `[server]` takes `dialect`, `retry_after` (do 429s carry it), `latency = { base_ms, jitter_ms }`,
//! `limiters` (see [`LimiterSpec`]) and `chaos` (see [`Chaos`]); `[client]` takes the
//! [`Workload`] fields, `pacer`, a full [`PacerConfig`] (retry and throttle settings), and
//! `rate`, limits as `paceline extract --rate` sets them (see [`ClientSpec::rate`]).
//!
//! A scenario with a `[dataset]` table (see [`DatasetSpec`]) serves a live dataset and runs one
//! pagination walk through it ([`WalkSim`]) instead of the workload; `duration_s` then bounds
//! the walk's virtual time. The client walks with `[client.page_spec]` (a full [`PageSpec`],
//! as serde reads it) or, without one, the core's constructor for the dataset's style
//! ([`DatasetSpec::page_spec`]); `crashes = [{ after_page = 300, persisted = true }]` crashes
//! and resumes it from its checkpoint ([`Crash`]).
//!
//! ```toml
//! seed = 5
//! duration_s = 600
//!
//! [server]
//! latency = { base_ms = 40, jitter_ms = 20 }
//!
//! [dataset]
//! style = "offset"
//! records = 100000
//! head_inserts_per_s = 5
//! tail_inserts_per_s = 5
//! deletes_per_s = 5
//!
//! [client.page_spec]
//! style = { kind = "offset", total = "/total" }
//! items = "/data"
//! page_size = { param = { query = "limit" }, size = 100 }
//! key = "/id"
//! dedupe = true
//! ```

use std::path::Path;
use std::time::Duration;

use paceline::paginate::PageSpec;
use paceline::throttle::Limit;
use paceline::{Pacer, PacerConfig};
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, DatasetSpec};
use crate::model::{Chaos, Dialect, Latency, LimiterSpec, ServerModel};
use crate::sim::walk::{Crash, WalkRun, WalkSim};
use crate::sim::{Run, Sim, Workload, wall_at};

/// The wall-clock start of every scenario unless it says otherwise: 2027-01-15T08:00:00Z.
pub const DEFAULT_START_EPOCH_S: u64 = 1_800_000_000;

/// A scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// Seed for every random choice (server chaos, latency jitter, client jitter).
    #[serde(default)]
    pub seed: u64,
    /// Virtual time the clients keep sending, seconds (walks: the most the walk may take).
    pub duration_s: f64,
    /// Wall-clock time at the start (Unix seconds).
    #[serde(default = "default_start")]
    pub start_epoch_s: u64,
    /// The server.
    pub server: ServerSpec,
    /// The clients.
    #[serde(default)]
    pub client: ClientSpec,
    /// A live dataset the server serves, walked page by page instead of the workload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<DatasetSpec>,
}

fn default_start() -> u64 {
    DEFAULT_START_EPOCH_S
}

fn yes() -> bool {
    true
}

/// The server part of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    /// Header dialect.
    #[serde(default)]
    pub dialect: Dialect,
    /// Whether 429s carry `Retry-After`.
    #[serde(default = "yes")]
    pub retry_after: bool,
    /// Latency.
    #[serde(default)]
    pub latency: Latency,
    /// Limiters, all enforced.
    #[serde(default)]
    pub limiters: Vec<LimiterSpec>,
    /// Chaos.
    #[serde(default)]
    pub chaos: Chaos,
}

/// The client part of a scenario.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClientSpec {
    /// What the workers do.
    #[serde(flatten)]
    pub workload: Workload,
    /// The Pacer's configuration.
    #[serde(default)]
    pub pacer: PacerConfig,
    /// Limits as `paceline extract --rate` gives them: each paced with its margin
    /// ([`Limit::with_margin`]), beside `pacer.throttle.limits` (which are taken exactly).
    /// `rate = ["20/s"]` is the client of `--rate 20/s`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rate: Vec<Limit>,
    /// How the walk pages (scenarios with a dataset). Default: the constructor for the
    /// dataset's style ([`DatasetSpec::page_spec`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_spec: Option<PageSpec>,
    /// When the walking client crashes and resumes from its checkpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crashes: Vec<Crash>,
}

/// Why a scenario could not be loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file could not be read.
    Io(std::io::Error),
    /// It is not a valid scenario.
    Parse(toml::de::Error),
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScenarioError::Io(e) => write!(f, "cannot read scenario: {e}"),
            ScenarioError::Parse(e) => write!(f, "invalid scenario: {e}"),
        }
    }
}

impl std::error::Error for ScenarioError {}

impl Scenario {
    /// Parses a scenario from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ScenarioError> {
        toml::from_str(text).map_err(ScenarioError::Parse)
    }

    /// Reads and parses a scenario file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(ScenarioError::Io)?;
        Scenario::from_toml(&text)
    }

    /// The server model, fresh, its clock starting at the scenario's `start_epoch_s`.
    pub fn model(&self) -> ServerModel {
        self.model_at(wall_at(self.start_epoch_s))
    }

    /// The server model, fresh, its clock starting at `wall0` (the real time, to serve it).
    pub fn model_at(&self, wall0: std::time::SystemTime) -> ServerModel {
        let mut m = ServerModel::new(self.seed, wall0)
            .dialect(self.server.dialect)
            .latency(self.server.latency)
            .retry_after(self.server.retry_after)
            .chaos(self.server.chaos.clone());
        for l in &self.server.limiters {
            m = m.limiter(l.clone());
        }
        if let Some(d) = &self.dataset {
            m = m.app(Dataset::new(d.clone(), self.seed));
        }
        m
    }

    /// The client's Pacer, fresh, seeded from the scenario.
    pub fn pacer(&self) -> Pacer {
        Pacer::new(self.pacer_config(), self.seed.wrapping_add(1))
    }

    /// The client's Pacer configuration: `[client.pacer]` with `[client] rate`'s limits.
    pub fn pacer_config(&self) -> PacerConfig {
        let mut config = self.client.pacer.clone();
        config
            .throttle
            .limits
            .extend(self.client.rate.iter().map(|l| l.with_margin()));
        config
    }

    /// The walk a scenario with a dataset runs (`None` without one).
    pub fn walk(&self) -> Option<WalkSim> {
        let d = self.dataset.as_ref()?;
        let spec = self
            .client
            .page_spec
            .clone()
            .unwrap_or_else(|| d.page_spec());
        let mut sim = WalkSim::new(
            self.model(),
            self.pacer_config(),
            spec.clone(),
            d.template(),
            self.seed,
        )
        .crashes(self.client.crashes.iter().copied())
        .max_duration(self.duration());
        if spec.key.is_none() {
            sim = sim.id_pointer(d.id_pointer());
        }
        Some(sim)
    }

    /// Runs the walk of a scenario with a dataset, keeping at most `lines` of trace.
    pub fn run_walk(&self, lines: usize) -> Option<WalkRun> {
        Some(self.walk()?.trace_limit(lines).run())
    }

    /// Runs it in virtual time (keeping the default 1,000 lines of trace).
    pub fn run(&self) -> Run {
        self.run_with_trace(1000)
    }

    /// Runs it keeping at most `lines` of trace.
    pub fn run_with_trace(&self, lines: usize) -> Run {
        if let Some(w) = self.run_walk(lines) {
            return w.run;
        }
        Sim::new(
            self.model(),
            self.pacer(),
            self.client.workload.clone(),
            self.duration_s,
            self.seed,
        )
        .trace_limit(lines)
        .run()
    }

    /// The virtual duration.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration_s.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_doc_example() {
        let s = Scenario::from_toml(
            r#"
            seed = 1
            duration_s = 60
            [server]
            dialect = "github"
            limiters = [{ kind = "fixed_window", limit = 50, window_s = 60, name = "core" }]
            [client]
            workers = 2
            [client.pacer.throttle]
            limits = ["1/s"]
            "#,
        )
        .unwrap();
        assert_eq!(s.client.workload.workers, 2);
        assert_eq!(s.client.pacer.throttle.limits[0].to_string(), "1/s");
        let run = s.run();
        assert!(run.report.requests >= 50, "{:?}", run.report);
    }

    #[test]
    fn unknown_fields_are_errors() {
        assert!(Scenario::from_toml("duration_s = 1\nbogus = 2\n[server]\n").is_err());
    }
}
