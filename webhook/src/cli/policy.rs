//! `landed policy`: the policy author kit. (being written)

use std::process::ExitCode;

/// Policy subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Describe a policy module.
    Inspect {
        /// The .wasm file.
        wasm: std::path::PathBuf,
    },
}

/// Runs a policy subcommand.
pub async fn run(_cmd: PolicyCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("landed policy is not implemented yet")
}
