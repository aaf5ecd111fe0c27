//! Reports of the audit scan: the content is built once ([`content`]) and encoded as either
//! OpenReports ([`openreports`], `openreports.io/v1alpha1` `Report`) or wg-policy
//! PolicyReports ([`wgpolicy`], `wgpolicyk8s.io/v1alpha2`) by [`document`]; [`apply`] writes
//! them to the cluster.
//!
//! One report per workload, in the workload's namespace, scoped to it (`scope`), with one
//! result per image and policy. Every workload landed scans is namespaced, so it never writes
//! a `ClusterReport` / `ClusterPolicyReport`.

pub mod content;
pub mod document;
pub mod openreports;
pub mod wgpolicy;

use kube::api::{ApiResource, DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use kube::Api;
use serde::Deserialize;

pub use content::{build, PolicyResult, Row, Summary, WorkloadReport};
pub use document::{Document, Encoding, Timestamp};

use super::AuditError;

/// The `source` of every report and result.
pub const SOURCE: &str = "landed";

/// Which report API landed writes (`audit.reports`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// `openreports.io/v1alpha1` `Report`: what Kubewarden writes by default and Kyverno
    /// supports; the successor of the wg-policy API.
    #[default]
    Openreports,
    /// `wgpolicyk8s.io/v1alpha2` `PolicyReport`, deprecated by Kubewarden but still read by
    /// older consumers.
    Wgpolicyk8s,
}

impl ReportFormat {
    /// How this format is encoded.
    pub fn encoding(self) -> &'static Encoding {
        match self {
            Self::Openreports => &openreports::ENCODING,
            Self::Wgpolicyk8s => &wgpolicy::ENCODING,
        }
    }
}

/// The findings as documents of `format`: one per workload, results per image and policy.
pub fn reports(
    findings: &super::Findings,
    policies: &[String],
    format: ReportFormat,
    now: Timestamp,
) -> Vec<Document> {
    let encoding = format.encoding();
    build(findings, policies)
        .iter()
        .map(|r| encoding.encode(r, now))
        .collect()
}

/// Creates each report, or replaces the one already there. A report that cannot be written
/// (a quota, an admission policy, its size) does not stop the others: every one is tried,
/// and the first failure is returned.
pub async fn apply(
    client: &kube::Client,
    format: ReportFormat,
    reports: &[Document],
) -> Result<(), AuditError> {
    let encoding = format.encoding();
    let gvk = GroupVersionKind::gvk(encoding.group, encoding.version, encoding.kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, encoding.plural);
    let mut first_failure = None;
    for report in reports {
        let ns = &report.metadata.namespace;
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource);
        match write(&api, report).await {
            Ok(()) => tracing::info!(
                namespace = %ns,
                report = %report.metadata.name,
                kind = encoding.kind,
                results = report.results.len(),
                "report written"
            ),
            Err(e) => {
                tracing::warn!(namespace = %ns, report = %report.metadata.name, error = %e, "report not written");
                first_failure.get_or_insert(e);
            }
        }
    }
    first_failure.map_or(Ok(()), Err)
}

/// Creates `report`, or replaces it when it exists.
async fn write(api: &Api<DynamicObject>, report: &Document) -> Result<(), AuditError> {
    let failed = |source| AuditError::Apply {
        namespace: report.metadata.namespace.clone(),
        source,
    };
    let existing = api.get_opt(&report.metadata.name).await.map_err(failed)?;
    let mut report = report.clone();
    report.metadata.resource_version = existing.and_then(|e| e.metadata.resource_version);
    let object: DynamicObject = serde_json::to_value(&report)
        .and_then(serde_json::from_value)
        .map_err(AuditError::Encode)?;
    let params = PostParams::default();
    if report.metadata.resource_version.is_some() {
        api.replace(&report.metadata.name, &params, &object)
            .await
            .map_err(failed)?;
    } else {
        api.create(&params, &object).await.map_err(failed)?;
    }
    Ok(())
}
