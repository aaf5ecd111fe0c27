//! `landed review`: one AdmissionReview through the same pipeline, offline.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::ConfigArg;
use crate::admission::{self, Answer, Route};

/// Arguments of `landed review`.
#[derive(Debug, clap::Args)]
pub struct ReviewArgs {
    /// Config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// Review as the mutating webhook (`/mutate`) instead of the validating one.
    #[arg(long)]
    pub mutate: bool,
    /// AdmissionReview JSON file, or `-` for standard input.
    #[arg(value_name = "FILE|-")]
    pub file: PathBuf,
}

/// Prints the response AdmissionReview; exit 0 when allowed, 1 when denied.
pub async fn run(args: ReviewArgs) -> anyhow::Result<ExitCode> {
    let body = if args.file.as_os_str() == "-" {
        let mut body = Vec::new();
        std::io::stdin()
            .read_to_end(&mut body)
            .context("cannot read standard input")?;
        body
    } else {
        std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?
    };
    let request = admission::decode(&body)?;
    let pipeline =
        super::pipeline(args.config.load()?, args.config.config.as_deref(), false).await?;
    let route = if args.mutate {
        Route::Mutate
    } else {
        Route::Validate
    };
    let response = pipeline.review_sent(&request, Some(&body), route).await;
    let allowed = response.allowed;
    println!("{}", serde_json::to_string_pretty(&Answer(response))?);
    Ok(if allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
