//! `paceline serve SCENARIO [--port N]`: the scenario's server model over real HTTP.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::Args;
use paceline_testkit::LoopbackServer;

/// Serve a scenario's server model on 127.0.0.1 until killed: a realistic, hostile API to test
/// an integration against.
#[derive(Debug, Args)]
pub struct Serve {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// The port (0: one the OS picks).
    #[arg(long, default_value_t = 0)]
    port: u16,
}

pub fn run(cmd: Serve) -> ExitCode {
    let Some(scenario) = crate::simulate::load("serve", &cmd.scenario) else {
        return ExitCode::from(2);
    };
    let model = scenario.model_at(SystemTime::now());
    let server = match LoopbackServer::start_model_on(cmd.port, model) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "paceline serve: cannot listen on 127.0.0.1:{}: {e}",
                cmd.port
            );
            return ExitCode::from(1);
        }
    };
    println!("listening on {}", server.url());
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}
