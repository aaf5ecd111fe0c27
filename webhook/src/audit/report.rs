//! wg-policy PolicyReports (`wgpolicyk8s.io/v1alpha2`): one per namespace, one result per
//! workload and policy; written to the cluster on request.

use std::collections::BTreeMap;

use kube::api::{ApiResource, DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use kube::Api;
use serde::{Deserialize, Serialize};

use super::scan::{Decision, Finding, Findings};
use super::AuditError;

/// The reports' API group and version.
pub const API_VERSION: &str = "wgpolicyk8s.io/v1alpha2";
/// The name of the report landed writes in each namespace.
pub const REPORT_NAME: &str = "landed";
/// The `source` of every result.
pub const SOURCE: &str = "landed";

/// A `PolicyReport` (namespaced) or `ClusterPolicyReport`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyReport {
    /// `wgpolicyk8s.io/v1alpha2`.
    pub api_version: String,
    /// `PolicyReport` or `ClusterPolicyReport`.
    pub kind: String,
    /// Name, namespace and labels.
    pub metadata: ReportMeta,
    /// Counts of results by outcome.
    pub summary: Summary,
    /// One result per workload and policy.
    pub results: Vec<ReportResult>,
}

/// The report's metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportMeta {
    /// Report name.
    pub name: String,
    /// Namespace (absent for a ClusterPolicyReport).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels (`app.kubernetes.io/managed-by: landed`).
    pub labels: BTreeMap<String, String>,
    /// Set when replacing an existing report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
}

/// Result counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Results that passed.
    pub pass: u32,
    /// Results that failed.
    pub fail: u32,
    /// Results with a warning.
    pub warn: u32,
    /// Results where the policy erred.
    pub error: u32,
    /// Results not evaluated.
    pub skip: u32,
}

/// One policy's verdict on one workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportResult {
    /// The policy name.
    pub policy: String,
    /// pass, fail, warn, error or skip.
    pub result: String,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Always `landed`.
    pub source: String,
    /// Whether it counts towards a score.
    pub scored: bool,
    /// When the scan ran.
    pub timestamp: Timestamp,
    /// The workload.
    pub resources: Vec<ResourceRef>,
    /// Each container's image verdict (`image.<container>` → `<verdict> <image>`).
    pub properties: BTreeMap<String, String>,
}

/// Seconds since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamp {
    /// Whole seconds.
    pub seconds: i64,
    /// Nanoseconds.
    pub nanos: i32,
}

/// An object reference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRef {
    /// API version of the workload.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Uid, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// One report per namespace with findings; `policies` are the names of the policies that ran
/// (each workload gets one result per policy, pass unless that policy denied it).
pub fn reports(findings: &Findings, policies: &[String], now: Timestamp) -> Vec<PolicyReport> {
    let mut by_ns: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &findings.workloads {
        by_ns.entry(&f.namespace).or_default().push(f);
    }
    by_ns
        .into_iter()
        .map(|(ns, list)| {
            let results: Vec<ReportResult> = list
                .iter()
                .flat_map(|f| results_for(f, policies, now))
                .collect();
            let mut summary = Summary::default();
            for r in &results {
                match r.result.as_str() {
                    "pass" => summary.pass += 1,
                    "fail" => summary.fail += 1,
                    "warn" => summary.warn += 1,
                    "error" => summary.error += 1,
                    _ => summary.skip += 1,
                }
            }
            PolicyReport {
                api_version: API_VERSION.to_owned(),
                kind: "PolicyReport".to_owned(),
                metadata: ReportMeta {
                    name: REPORT_NAME.to_owned(),
                    namespace: Some(ns.to_owned()),
                    labels: BTreeMap::from([(
                        "app.kubernetes.io/managed-by".to_owned(),
                        "landed".to_owned(),
                    )]),
                    resource_version: None,
                },
                summary,
                results,
            }
        })
        .collect()
}

fn results_for(f: &Finding, policies: &[String], now: Timestamp) -> Vec<ReportResult> {
    let properties: BTreeMap<String, String> = f
        .images
        .iter()
        .map(|i| {
            (
                format!("image.{}", i.container),
                format!("{} {}", i.verdict, i.reference),
            )
        })
        .collect();
    let mut names: Vec<&str> = policies.iter().map(String::as_str).collect();
    for d in &f.denials {
        if !names.contains(&d.policy.as_str()) {
            names.push(&d.policy);
        }
    }
    names
        .into_iter()
        .map(|policy| {
            let denials: Vec<&str> = f
                .denials
                .iter()
                .filter(|d| d.policy == policy)
                .map(|d| d.message.as_str())
                .collect();
            let (result, message) = match (f.decision, denials.is_empty()) {
                (Decision::Breakglass, _) => ("skip", Some(f.warnings.join("; "))),
                (_, false) => ("fail", Some(denials.join("; "))),
                (_, true) => ("pass", None),
            };
            ReportResult {
                policy: policy.to_owned(),
                result: result.to_owned(),
                message,
                source: SOURCE.to_owned(),
                scored: true,
                timestamp: now,
                resources: vec![ResourceRef {
                    api_version: f.api_version.clone(),
                    kind: f.kind.to_owned(),
                    name: f.name.clone(),
                    namespace: f.namespace.clone(),
                    uid: f.uid.clone(),
                }],
                properties: properties.clone(),
            }
        })
        .collect()
}

/// Creates each report, or replaces the one already there.
pub async fn apply(client: &kube::Client, reports: &[PolicyReport]) -> Result<(), AuditError> {
    let gvk = GroupVersionKind::gvk("wgpolicyk8s.io", "v1alpha2", "PolicyReport");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "policyreports");
    for report in reports {
        let ns = report.metadata.namespace.clone().unwrap_or_default();
        let failed = |source| AuditError::Apply {
            namespace: ns.clone(),
            source,
        };
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &resource);
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
        tracing::info!(namespace = %ns, results = report.results.len(), "policy report written");
    }
    Ok(())
}
