//! What a report says, whatever API it is written in: per workload, one result per image
//! and policy, with the image's verdict class and evidence as properties.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::audit::scan::{Decision, Finding, Findings, ImageRow};

/// The outcome of one policy on one image (the enum both report APIs share).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyResult {
    /// The policy admitted it.
    Pass,
    /// The policy would deny it.
    Fail,
    /// Not met, but not scored.
    Warn,
    /// The policy could not be evaluated.
    Error,
    /// Not evaluated (breakglass).
    Skip,
}

/// Result counts by outcome; they add up to the number of results.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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

impl Summary {
    /// The counts of `rows`.
    pub fn of(rows: &[Row]) -> Self {
        let mut summary = Self::default();
        for row in rows {
            let slot = match row.result {
                PolicyResult::Pass => &mut summary.pass,
                PolicyResult::Fail => &mut summary.fail,
                PolicyResult::Warn => &mut summary.warn,
                PolicyResult::Error => &mut summary.error,
                PolicyResult::Skip => &mut summary.skip,
            };
            *slot = slot.saturating_add(1);
        }
        summary
    }

    /// All results counted.
    pub fn total(&self) -> u64 {
        [self.pass, self.fail, self.warn, self.error, self.skip]
            .iter()
            .map(|&n| u64::from(n))
            .sum()
    }
}

/// The workload a report is about (its `scope`, and each result's resource).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// `apps/v1`, `v1`, `batch/v1`.
    pub api_version: String,
    /// Deployment, Pod, …
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Uid, when the API server gave one.
    pub uid: Option<String>,
}

/// One policy's outcome on one image of the workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The policy name.
    pub policy: String,
    /// pass, fail or skip.
    pub result: PolicyResult,
    /// The policy's denial, or the breakglass reason.
    pub message: Option<String>,
    /// `container`, `path`, `image`, `normalized`, `verdict`, `digest`, `detail`.
    pub properties: BTreeMap<String, String>,
}

/// One workload's report content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadReport {
    /// The workload.
    pub scope: Scope,
    /// One row per image and policy (per policy when no image verdicts were needed).
    pub results: Vec<Row>,
    /// The rows' counts.
    pub summary: Summary,
}

/// One report per workload; `policies` are the names of the policies that ran.
pub fn build(findings: &Findings, policies: &[String]) -> Vec<WorkloadReport> {
    findings
        .workloads
        .iter()
        .map(|f| {
            let results = rows(f, policies);
            WorkloadReport {
                scope: Scope {
                    api_version: f.api_version.clone(),
                    kind: f.kind.to_owned(),
                    name: f.name.clone(),
                    namespace: f.namespace.clone(),
                    uid: f.uid.clone(),
                },
                summary: Summary::of(&results),
                results,
            }
        })
        .collect()
}

/// The image's verdict and evidence, as string properties.
fn properties(image: &ImageRow) -> BTreeMap<String, String> {
    let mut p = BTreeMap::from([
        ("container".to_owned(), image.container.clone()),
        ("path".to_owned(), image.path.clone()),
        ("image".to_owned(), image.reference.clone()),
        ("verdict".to_owned(), image.verdict.to_string()),
    ]);
    if let Some(n) = &image.normalized {
        p.insert("normalized".to_owned(), n.clone());
    }
    if let Some(d) = &image.digest {
        p.insert("digest".to_owned(), d.clone());
    }
    if !image.detail.is_empty() {
        p.insert("detail".to_owned(), image.detail.clone());
    }
    p
}

/// Whether a denial message names this image. Policies answer per workload; the built-ins
/// name each image they refuse by its JSON path and quoted reference.
fn names(message: &str, image: &ImageRow) -> bool {
    message.contains(&image.path) || message.contains(&format!("{:?}", image.reference))
}

fn rows(f: &Finding, policies: &[String]) -> Vec<Row> {
    let mut names_run: Vec<&str> = policies.iter().map(String::as_str).collect();
    for d in &f.denials {
        if !names_run.contains(&d.policy.as_str()) {
            names_run.push(&d.policy);
        }
    }
    let mut out = Vec::new();
    for policy in names_run {
        let denials: Vec<&str> = f
            .denials
            .iter()
            .filter(|d| d.policy == policy)
            .map(|d| d.message.as_str())
            .collect();
        let message = (!denials.is_empty()).then(|| denials.join("; "));
        // A denial that names none of the images cannot be narrowed: it fails them all.
        let narrowed = message
            .as_deref()
            .is_some_and(|m| f.images.iter().any(|i| names(m, i)));
        let result_for = |image: Option<&ImageRow>| match (&message, f.decision) {
            (_, Decision::Breakglass) => (PolicyResult::Skip, Some(f.warnings.join("; "))),
            (Some(m), _) if !narrowed || image.is_none_or(|i| names(m, i)) => {
                (PolicyResult::Fail, Some(m.clone()))
            }
            _ => (PolicyResult::Pass, None),
        };
        if f.images.is_empty() {
            let (result, message) = result_for(None);
            out.push(Row {
                policy: policy.to_owned(),
                result,
                message,
                properties: BTreeMap::new(),
            });
        }
        for image in &f.images {
            let (result, message) = result_for(Some(image));
            out.push(Row {
                policy: policy.to_owned(),
                result,
                message,
                properties: properties(image),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
