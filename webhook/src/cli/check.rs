//! `landed check`: is this image in its registry? (being written)

use std::process::ExitCode;

use super::ConfigArg;

/// Arguments of `landed check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// Images to check.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// Runs `landed check`.
pub async fn run(_args: CheckArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("landed check is not implemented yet")
}
