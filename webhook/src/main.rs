//! The `landed` binary: parse the command line and hand over to [`landed::cli`].

use std::process::ExitCode;

/// Fewest tokio workers, whatever the CPU quota: a policy runs on the worker that reviews,
/// for up to its deadline, and with one worker (the chart's one CPU) that would hold every
/// other review and probe until it ends.
const MIN_WORKERS: usize = 2;

fn main() -> ExitCode {
    let workers = std::thread::available_parallelism()
        .map_or(MIN_WORKERS, usize::from)
        .max(MIN_WORKERS);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(landed::cli::run()),
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            ExitCode::from(2)
        }
    }
}
