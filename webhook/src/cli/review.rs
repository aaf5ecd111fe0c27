//! `landed review`. (being written)

use std::process::ExitCode;

use super::ConfigArg;

/// Arguments of `landed review`.
#[derive(Debug, clap::Args)]
pub struct ReviewArgs {
    /// Config file.
    #[command(flatten)]
    pub config: ConfigArg,
}

/// Runs one review.
pub async fn run(_args: ReviewArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet")
}
