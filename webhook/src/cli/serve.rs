//! `landed serve`. (being written)

use std::process::ExitCode;

use super::ConfigArg;

/// Arguments of `landed serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Config file.
    #[command(flatten)]
    pub config: ConfigArg,
}

/// Runs the server.
pub async fn run(_args: ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet")
}
