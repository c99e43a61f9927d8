//! `paceline simulate SCENARIO [--trace] [--json]`: run a scenario in virtual time.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use paceline_testkit::scenario::Scenario;
use paceline_testkit::sim::render;

/// Run a scenario file (server model, client policy, seed) in virtual time and report.
#[derive(Debug, Args)]
pub struct Simulate {
    /// The scenario file (TOML), e.g. testkit/scenarios/throttle-honest-github.toml.
    scenario: PathBuf,
    /// Also print the trace: one line per request (virtual time, route, status, decision).
    #[arg(long)]
    trace: bool,
    /// Print the report as one JSON object (with `trace` as an array when --trace is given).
    #[arg(long)]
    json: bool,
    /// Also draw the send rate against the limit over virtual time, 429s marked, as SVG here.
    #[arg(long, value_name = "OUT.svg")]
    plot: Option<PathBuf>,
    /// Keep at most this many trace lines.
    #[arg(long, default_value_t = 10_000)]
    trace_lines: usize,
}

pub fn run(cmd: Simulate) -> ExitCode {
    let Some(scenario) = load("simulate", &cmd.scenario) else {
        return ExitCode::from(2);
    };
    let lines = if cmd.trace { cmd.trace_lines } else { 0 };
    let run = scenario.run_with_trace(lines);
    if let Some(path) = &cmd.plot {
        let title = cmd
            .scenario
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        if let Err(e) = crate::plot::draw(&run, &title, path) {
            eprintln!("paceline simulate: cannot draw {}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    if cmd.json {
        let mut value = serde_json::to_value(&run.report).expect("a report serializes");
        if cmd.trace
            && let Some(obj) = value.as_object_mut()
        {
            obj.insert("trace".into(), serde_json::Value::from(run.trace.clone()));
        }
        println!("{value}");
    } else {
        if !scenario.description.is_empty() {
            println!("{}\n", scenario.description);
        }
        print!("{}", render(&run, cmd.trace));
    }
    ExitCode::SUCCESS
}

/// Loads a scenario file, saying why not on stderr (as `paceline COMMAND: PATH: reason`).
pub fn load(command: &str, path: &std::path::Path) -> Option<Scenario> {
    Scenario::load(path)
        .map_err(|e| eprintln!("paceline {command}: {}: {e}", path.display()))
        .ok()
}
