//! The `landed` command line: one module per subcommand.

mod audit;
mod certs;
mod check;
mod json_fields;
mod kinds;
mod policy;
mod review;
mod serve;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::admission::Pipeline;
use crate::config::Config;
use crate::policy::{FetchPolicy, OciFetcher, PolicyHost, ResolveAccess, RELOAD_INTERVAL};
use crate::registry::Origin;
use crate::resolve::{Resolve, Resolver};

/// Kubernetes admission webhook that refuses images that never landed in their registry.
#[derive(Debug, Parser)]
#[command(name = "landed", version, about)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
    /// Log format: json (default when stderr is not a terminal) or text.
    #[arg(long, global = true, env = "LANDED_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
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
    /// Policy author kit: new, run, test, bench, inspect, push, pull.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Generate a CA and a serving certificate.
    Certs(certs::CertsArgs),
    /// List the kinds and subresources the webhook reviews.
    Kinds(kinds::KindsArgs),
    /// Scan running workloads: what enforce mode would deny (table, json, OpenReports or PolicyReports).
    Audit(audit::AuditArgs),
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
    init_tracing(cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Review(args) => review::run(args).await,
        Command::Check(args) => check::run(args).await,
        Command::Policy(cmd) => policy::run(cmd).await,
        Command::Certs(args) => certs::run(args).await,
        Command::Kinds(args) => kinds::run(args).await,
        Command::Audit(args) => audit::run(args).await,
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// The composition root: config → resolver, policies → pipeline.
///
/// `watch` starts hot reload of policy files (the server); one-shot commands leave it off.
pub async fn pipeline(
    config: Config,
    config_path: Option<&Path>,
    watch: bool,
) -> anyhow::Result<Pipeline> {
    let config = Arc::new(config);
    crate::metrics::global().configure_hosts(config.registries.iter().map(|r| r.host.as_str()));
    // Registries the operator names for `oci:` policies are listed like `registries:`.
    let oci_hosts: Vec<String> = config
        .policies
        .iter()
        .flatten()
        .filter_map(|entry| entry.oci.as_deref())
        .filter_map(|oci| crate::image::Reference::parse(oci.trim_start_matches("oci://")).ok())
        .map(|reference| reference.registry().to_owned())
        .collect();
    let registry = Resolver::build((&*config).into(), Origin::Review, &oci_hosts)?;
    let fetcher: Arc<dyn FetchPolicy> = Arc::new(OciFetcher::new(registry.clone()));
    let resolver: Arc<dyn Resolve> = Arc::new(registry);
    let access = ResolveAccess {
        resolver: resolver.clone(),
        budget: config.resolve.deadline,
    };
    let host = Arc::new(
        PolicyHost::from_config(&*config, config_path, Some(access), Some(fetcher)).await?,
    );
    for status in host.store().status().iter().filter(|s| !s.loaded) {
        tracing::error!(
            policy = %status.name,
            error = status.error.as_deref().unwrap_or("unknown"),
            "policy failed to load; the others keep serving"
        );
    }
    if watch {
        host.spawn_watch(RELOAD_INTERVAL);
    }
    let settings = config.review_settings(std::env::var("POD_NAMESPACE").ok());
    Ok(Pipeline::new(settings, resolver, host.store()))
}

/// Logs go to standard error, never standard output (which carries command results).
fn init_tracing(format: Option<LogFormat>) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("LANDED_LOG").unwrap_or_else(|_| {
        EnvFilter::new("info,hyper=warn,h2=warn,rustls=warn,wasmtime=warn,cranelift=warn,kube=warn")
    });
    let format = format.unwrap_or(if std::io::stderr().is_terminal() {
        LogFormat::Text
    } else {
        LogFormat::Json
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (tests calling run twice) is harmless, so its error is ignored.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .fmt_fields(json_fields::JsonSpanFields)
            .try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}
