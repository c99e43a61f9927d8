//! The `paceline` command. Each subcommand lives in its own module; this file only dispatches.
#![forbid(unsafe_code)]

mod demo;
mod extract;
mod inspect;
mod plot;
mod serve;
mod simulate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Production-safe HTTP API clients: rate limits, retries, pagination.
#[derive(Debug, Parser)]
#[command(name = "paceline", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Extract every record of a list endpoint to a JSON Lines file, checkpointed, resumable.
    Extract(Box<extract::Extract>),
    /// Extract a rate-limited, chaotic, live dataset from a loopback server and check it.
    Demo(demo::Demo),
    /// Show what paceline reads from a server's answer.
    #[command(subcommand)]
    Inspect(inspect::Inspect),
    /// Run a scenario (server model + client policy + seed) in virtual time.
    Simulate(simulate::Simulate),
    /// Serve a scenario's server model on 127.0.0.1 until killed.
    Serve(serve::Serve),
}

fn main() -> ExitCode {
    // clap exits with 2 on bad usage; subcommands return 0 (ok) or 1 (unreadable input).
    match Cli::parse().command {
        Command::Extract(cmd) => extract::run(*cmd),
        Command::Demo(cmd) => demo::run(cmd),
        Command::Inspect(cmd) => inspect::run(cmd),
        Command::Simulate(cmd) => simulate::run(cmd),
        Command::Serve(cmd) => serve::run(cmd),
    }
}
