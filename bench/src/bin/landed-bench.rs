//! `landed-bench`: the load benchmark of issues #8 and #27 in one command (see
//! `scripts/bench-load`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use landed_bench::corpus::Review;
use landed_bench::report::Report;
use landed_bench::setup::{sibling_binary, World};
use landed_bench::warm::WarmOptions;
use landed_bench::wrk::Load;
use landed_bench::{cold, memory, warm};

/// A part of the benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Phase {
    /// landed vs the three floor servers on corpus reviews, cache warm.
    Warm,
    /// Concurrent reviews of a never-seen tag: registry and token requests.
    Cold,
    /// RSS idle and holding many cache entries under load.
    Memory,
}

/// Starts a real registry, `landed serve` and the floor servers, and measures them.
#[derive(Parser)]
struct Args {
    /// A few seconds per phase and fewer entries (CI): figures are printed, never judged.
    #[arg(long)]
    smoke: bool,
    /// Phases to run (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    phase: Vec<Phase>,
    /// Seconds per measured wrk round (default 15; smoke 2).
    #[arg(long)]
    duration: Option<u64>,
    /// Seconds of untimed load on each server before each review's rounds (default 5; smoke 1).
    #[arg(long)]
    warmup: Option<u64>,
    /// Measured rounds per server and review, alternating the servers (default 2; smoke 1).
    #[arg(long)]
    rounds: Option<u32>,
    /// Concurrent connections (wrk -c).
    #[arg(long, default_value_t = 8)]
    connections: u32,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Concurrent reviews in the cold phase (default 1000; smoke 200).
    #[arg(long)]
    cold_reviews: Option<usize>,
    /// Distinct tags held in the memory phase (default 100000; smoke 300).
    #[arg(long)]
    entries: Option<usize>,
    /// `input:` of the warm phase's policies (default: the built-ins' own, `images`, whose
    /// answers are reused for identical input; `full`: every review calls both policies).
    #[arg(long, value_enum)]
    policy_input: Option<PolicyInput>,
    /// A third policy file the warm phase's landed also runs (a component or a Kubewarden
    /// module, e.g. policies/target/kubewarden/kw_manifest_digest.wasm).
    #[arg(long)]
    extra_policy: Option<PathBuf>,
    /// Reviews of the corpus (bench/data/) the warm phase sends, each measured in turn:
    /// landed and the three floors (kube types, a serde_json::Value, the uid alone) alternate on it (`all`: every
    /// one). The default is the Pod a ReplicaSet creates, the review a webhook on Pods gets
    /// most (one per replica, on every rollout, scale-up and reschedule) and the one #27's
    /// targets are judged on; pod-small, with nothing to skip, flatters the figure.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "pod-replicaset"
    )]
    review: Vec<ReviewArg>,
}

/// A `--review` value: one review of the corpus, or all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ReviewArg {
    /// The 1 KB Pod with 3 containers and nothing else (the review before #27).
    PodSmall,
    /// A Pod CREATE by the ReplicaSet controller, 13 KB, as the API server sends it.
    PodReplicaset,
    /// A Deployment UPDATE from `kubectl apply`: object and oldObject, one image new, 37 KB.
    DeploymentUpdateApply,
    /// A CronJob CREATE from `kubectl apply`, 5 KB.
    CronjobCreate,
    /// Every review above, in that order.
    All,
}

/// The reviews `--review` names, in corpus order, each once.
fn reviews(args: &[ReviewArg]) -> Vec<Review> {
    Review::ALL
        .into_iter()
        .filter(|review| {
            args.iter().any(|arg| match arg {
                ReviewArg::All => true,
                ReviewArg::PodSmall => *review == Review::PodSmall,
                ReviewArg::PodReplicaset => *review == Review::PodReplicaset,
                ReviewArg::DeploymentUpdateApply => *review == Review::DeploymentUpdateApply,
                ReviewArg::CronjobCreate => *review == Review::CronjobCreate,
            })
        })
        .collect()
}

/// What the warm phase's policies are handed.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum PolicyInput {
    /// The whole request: no answer reused.
    Full,
    /// Images, settings and context: answers reused for identical input.
    Images,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // The memory phase gives the registry 100,000 tag directories; on a disk mounted with
    // `discard`, removing them afterwards takes many minutes. Keep scratch files in memory.
    let shm = std::path::Path::new("/dev/shm");
    if std::env::var_os("TMPDIR").is_none() && shm.is_dir() {
        std::env::set_var("TMPDIR", shm);
    }
    // The harness starts whatever LANDED_BIN names; default to the landed beside this binary.
    if std::env::var_os("LANDED_BIN").is_none() {
        match sibling_binary("LANDED_BIN", "landed") {
            Ok(path) => std::env::set_var("LANDED_BIN", path),
            Err(e) => {
                eprintln!("landed-bench: {e:#}");
                return ExitCode::from(2);
            }
        }
    }
    match run(&args) {
        Ok(report) => {
            print!("{}", report.render());
            let missed = report.verdicts().iter().any(|v| !v.passed);
            if missed && !args.smoke {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("landed-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> anyhow::Result<Report> {
    let phases = if args.phase.is_empty() {
        vec![Phase::Warm, Phase::Cold, Phase::Memory]
    } else {
        args.phase.clone()
    };
    let world = World::start()?;
    let mut report = Report::default();
    for phase in phases {
        eprintln!("landed-bench: {phase:?} phase");
        match phase {
            Phase::Warm => {
                let options = WarmOptions {
                    load: Load {
                        threads: args.threads,
                        connections: args.connections,
                        duration: Duration::from_secs(
                            args.duration.unwrap_or(pick(args.smoke, 15, 2)),
                        ),
                    },
                    warmup: Duration::from_secs(args.warmup.unwrap_or(pick(args.smoke, 5, 1))),
                    rounds: args.rounds.unwrap_or(pick(args.smoke, 2, 1)),
                    policy_input: args.policy_input.map(|input| match input {
                        PolicyInput::Full => "full",
                        PolicyInput::Images => "images",
                    }),
                    extra_policy: args
                        .extra_policy
                        .as_ref()
                        .map(|path| {
                            path.canonicalize()
                                .with_context(|| format!("--extra-policy {}", path.display()))
                        })
                        .transpose()?,
                };
                let warm = warm::run(&world, &options, &reviews(&args.review))?;
                report.warm = Some((options, warm));
            }
            Phase::Cold => {
                let reviews = args.cold_reviews.unwrap_or(pick(args.smoke, 1000, 200));
                report.cold = Some(cold::run(&world, reviews)?);
            }
            Phase::Memory => {
                let entries = args.entries.unwrap_or(pick(args.smoke, 100_000, 300));
                report.memory = Some(memory::run(&world, entries, args.connections as usize)?);
            }
        }
    }
    Ok(report)
}

/// The full run's default, or the smoke run's.
fn pick<T>(smoke: bool, full: T, small: T) -> T {
    if smoke {
        small
    } else {
        full
    }
}
