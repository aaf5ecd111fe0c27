//! `landed serve`: the HTTPS admission webhook.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::ConfigArg;
use crate::admission::Pipeline;
use crate::audit::{AuditConfig, EventRecorder};
use crate::server::certs::CertBundle;
use crate::server::{self, ServeOptions, TlsFiles};

/// Arguments of `landed serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// Development mode: throwaway CA and serving cert in a temp dir, 127.0.0.1:8443.
    #[arg(long)]
    pub dev: bool,
    /// Listen address (overrides `server.listen`).
    #[arg(long, env = "LANDED_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
}

/// Runs the server until SIGTERM or Ctrl-C, then drains.
pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let breakglass = &config.breakglass;
    if breakglass.enabled && breakglass.open_to_everyone() {
        warn!(
            annotation = %breakglass.annotation,
            "breakglass is usable by every requester: set breakglass.groups (or users) to the on-call group"
        );
    }
    server::open_files::raise_open_file_limit(config.server.max_connections);
    let mut listen = args.listen.unwrap_or(config.server.listen);
    // Kept alive for the whole run: the dev certificates live in it.
    let mut _dev_dir = None;
    let tls = match (&config.server.tls_cert_file, &config.server.tls_key_file, args.dev) {
        (Some(cert), Some(key), _) => TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: config.server.client_ca_file.clone(),
        },
        (_, _, true) => {
            if args.listen.is_none() {
                listen = SocketAddr::from(([127, 0, 0, 1], 8443));
            }
            let dir = tempfile::Builder::new().prefix("landed-dev-").tempdir()?;
            let names = ["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
            let paths = CertBundle::generate(&names, 30)?.write(dir.path())?;
            eprintln!("landed --dev: throwaway certificates in {}", dir.path().display());
            eprintln!("  CA:   {}", paths.ca.display());
            eprintln!("  cert: {}", paths.cert.display());
            eprintln!("  key:  {}", paths.key.display());
            let tls = TlsFiles {
                cert: paths.cert,
                key: paths.key,
                client_ca: config.server.client_ca_file.clone(),
            };
            _dev_dir = Some(dir);
            tls
        }
        _ => anyhow::bail!(
            "no serving certificate: set server.tlsCertFile and server.tlsKeyFile in the config, or run with --dev"
        ),
    };
    let ca_hint = _dev_dir
        .as_ref()
        .map(|d| d.path().join("ca.crt").display().to_string());
    let options = ServeOptions {
        listen,
        tls,
        reload_interval: config.server.cert_reload_interval,
        shutdown_grace: config.server.shutdown_grace,
        limits: server::ServerLimits::from_config(&config.server),
    };
    let audit = config.audit.clone();
    let pipeline = super::pipeline(config, args.config.config.as_deref(), true).await?;
    let shutdown = CancellationToken::new();
    let pipeline = with_audit(pipeline, &audit, &shutdown).await;
    tokio::spawn(signal(shutdown.clone()));
    server::serve(pipeline, options, shutdown, move |addr| {
        if let Some(ca) = ca_hint {
            eprintln!("landed --dev: listening on https://{addr}");
            eprintln!(
                "  try: curl --cacert {ca} -H 'Content-Type: application/json' --data @review.json https://{addr}/validate"
            );
        }
    })
    .await
    .context("server failed")?;
    info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Hands the pipeline what `audit:` asks of the server: an Event per would-be denial, and
/// the background scan (started here, stopped by `shutdown`). Both need the Kubernetes API;
/// without one they are off, with a warning.
async fn with_audit(
    pipeline: Pipeline,
    audit: &AuditConfig,
    shutdown: &CancellationToken,
) -> Arc<Pipeline> {
    let wanted = audit.events || audit.background_scan.interval.is_some();
    let client = if wanted {
        crate::audit::connect()
            .await
            .map_err(|e| warn!(error = %e, "no Kubernetes API: audit Events and the background scan are off"))
            .ok()
    } else {
        None
    };
    let Some(client) = client else {
        return Arc::new(pipeline);
    };
    let pipeline = if audit.events {
        pipeline.with_observer(Arc::new(EventRecorder::new(client.clone())))
    } else {
        pipeline
    };
    let pipeline = Arc::new(pipeline);
    if let Some(interval) = audit.background_scan.interval {
        crate::audit::background::spawn(
            client,
            pipeline.clone(),
            interval,
            audit.policy_reports.then_some(audit.reports),
            shutdown.clone(),
        );
    }
    pipeline
}

/// Cancels `token` on SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
async fn signal(token: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => info!("interrupt received"),
    }
    token.cancel();
}
