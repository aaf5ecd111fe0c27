//! The server's periodic scan (`audit.backgroundScan.interval`): keeps the
//! `landed_image_availability` gauges and, when asked, the reports fresh.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{AuditError, Findings, ReportFormat, Selection, Silent, DEFAULT_CONCURRENCY};
use crate::admission::Pipeline;
use crate::metrics::AvailabilityLabels;

/// One scan of every namespace: gauges replaced, reports written in `reports` when set.
pub async fn scan_once(
    client: &kube::Client,
    pipeline: &Pipeline,
    reports: Option<ReportFormat>,
) -> Result<Findings, AuditError> {
    let findings = super::audit(
        client,
        pipeline,
        &Selection::default(),
        DEFAULT_CONCURRENCY,
        &Silent,
    )
    .await?;
    crate::metrics::global().set_availability(availability(&findings));
    if let Some(format) = reports {
        let names = super::policy_names(pipeline);
        let documents = super::report::reports(&findings, &names, format, super::now());
        super::report::apply(client, format, &documents).await?;
    }
    Ok(findings)
}

/// One gauge series per workload container, labelled with its verdict.
pub fn availability(findings: &Findings) -> Vec<AvailabilityLabels> {
    findings
        .workloads
        .iter()
        .flat_map(|w| {
            w.images.iter().map(move |i| AvailabilityLabels {
                namespace: w.namespace.clone(),
                kind: w.kind,
                workload: w.name.clone(),
                container: i.container.clone(),
                image: i.reference.clone(),
                verdict: i.verdict.as_str(),
            })
        })
        .collect()
}

/// Scans through `client` now and then every `interval` until `shutdown`; writes
/// reports in `reports` when set.
pub fn spawn(
    client: kube::Client,
    pipeline: Arc<Pipeline>,
    interval: Duration,
    reports: Option<ReportFormat>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let result = scan_once(&client, &pipeline, reports).await;
            crate::metrics::global().audit_scan(result.is_ok());
            match result {
                Ok(f) => tracing::info!(
                    workloads = f.workloads.len(),
                    would_deny = f
                        .workloads
                        .iter()
                        .filter(|w| w.decision == super::Decision::Deny)
                        .count(),
                    "background scan done"
                ),
                Err(e) => tracing::warn!(error = %e, "background scan failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    })
}
