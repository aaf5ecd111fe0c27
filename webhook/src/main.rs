//! The `landed` binary: parse the command line and hand over to [`landed::cli`].

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    landed::cli::run().await
}
