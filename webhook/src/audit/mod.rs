//! Audit: what enforce mode would deny among the workloads already running.
//!
//! [`inventory`] lists the workloads through the Kubernetes API and collapses owned objects
//! into their owners; [`scan`] resolves every distinct image once and runs the same pipeline
//! and policies as admission; [`report`] turns the findings into OpenReports or wg-policy
//! PolicyReports.
//! `landed audit` and the server's background scan both go through [`audit`].

pub mod background;
mod config;
pub mod events;
pub mod inventory;
pub mod report;
pub mod scan;

use std::time::Duration;

pub use config::{AuditConfig, BackgroundScanConfig};
pub use events::EventRecorder;
pub use inventory::{Selection, Workload};
pub use report::{Document, ReportFormat};
pub use scan::{Decision, Finding, Findings, Progress, Silent};

use crate::admission::{Pipeline, ReviewError};

/// Lookups in flight at once during a scan, unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Why an audit could not finish.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// No usable kubeconfig or in-cluster config.
    #[error("cannot reach the Kubernetes API: {0}")]
    Connect(#[source] kube::Error),
    /// Listing a resource failed (RBAC, network).
    #[error("cannot list {resource}: {source}")]
    List {
        /// The plural resource.
        resource: &'static str,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Writing a report failed (RBAC, CRD not installed).
    #[error("cannot write the report in namespace {namespace}: {source}")]
    Apply {
        /// The namespace.
        namespace: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// An object could not be turned into JSON.
    #[error("cannot encode an object: {0}")]
    Encode(#[source] serde_json::Error),
    /// The review built for a workload was refused by the decoder.
    #[error("cannot build the review of a workload: {0}")]
    Review(#[source] ReviewError),
}

/// A Kubernetes client from `KUBECONFIG`, `~/.kube/config` or the in-cluster config.
pub async fn connect() -> Result<kube::Client, AuditError> {
    kube::Client::try_default()
        .await
        .map_err(AuditError::Connect)
}

/// Lists the selection, collapses owned objects and scans the rest.
pub async fn audit(
    client: &kube::Client,
    pipeline: &Pipeline,
    selection: &Selection,
    concurrency: usize,
    progress: &dyn Progress,
) -> Result<Findings, AuditError> {
    let listed = inventory::list(client, selection).await?;
    let total = listed.len();
    let roots = inventory::roots(listed);
    tracing::debug!(listed = total, workloads = roots.len(), "workloads listed");
    scan::scan(pipeline, roots, concurrency, progress).await
}

/// The names of the policies `pipeline` runs, in order.
pub fn policy_names(pipeline: &Pipeline) -> Vec<String> {
    pipeline
        .policies()
        .current()
        .policies
        .iter()
        .map(|p| p.policy.name().to_owned())
        .collect()
}

/// The current time as a report timestamp.
pub fn now() -> report::Timestamp {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    report::Timestamp {
        seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        nanos: 0,
    }
}
