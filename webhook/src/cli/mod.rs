//! The `landed` command line: one module per subcommand.

mod check;
mod policy;
mod review;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

/// Kubernetes admission webhook that refuses images that never landed in their registry.
#[derive(Debug, Parser)]
#[command(name = "landed", version, about)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTPS admission webhook.
    Serve(serve::ServeArgs),
    /// Run one AdmissionReview JSON through the pipeline offline and print the response.
    Review(review::ReviewArgs),
    /// Ask the registry whether images landed (exit 0 landed, 1 absent/mismatch, 2 usage/invalid, 3 undetermined).
    Check(check::CheckArgs),
    /// Policy author kit: new, run, test, bench, inspect.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
}

/// `--config FILE`, shared by subcommands.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArg {
    /// Path to landed.yaml (every field optional).
    #[arg(long, short = 'c', env = "LANDED_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl ConfigArg {
    /// Loads the config file, or the defaults when none is given.
    pub fn load(&self) -> anyhow::Result<Config> {
        match &self.config {
            Some(path) => Ok(Config::load(path)?),
            None => Ok(Config::default()),
        }
    }
}

/// Parses the command line and runs the subcommand.
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Review(args) => review::run(args).await,
        Command::Check(args) => check::run(args).await,
        Command::Policy(cmd) => policy::run(cmd).await,
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
