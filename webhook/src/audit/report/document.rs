//! The report object as written to the cluster. OpenReports' `Report` and wg-policy's
//! `PolicyReport` share their result, summary and scope shapes; an [`Encoding`] holds what
//! differs (group, version, kind, plural, whether the report itself names its source).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::content::{PolicyResult, Scope, Summary, WorkloadReport};
use super::SOURCE;

/// What differs between the report APIs.
#[derive(Debug)]
pub struct Encoding {
    /// API group.
    pub group: &'static str,
    /// API version.
    pub version: &'static str,
    /// Kind of the namespaced report.
    pub kind: &'static str,
    /// Plural resource name (RBAC, REST paths).
    pub plural: &'static str,
    /// Whether the report has a top-level `source` (OpenReports does; wg-policy does not).
    pub report_source: bool,
}

/// A namespaced report object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    /// `GROUP/VERSION`.
    pub api_version: String,
    /// `Report` or `PolicyReport`.
    pub kind: String,
    /// Name, namespace, labels, owner.
    pub metadata: Meta,
    /// `landed`, when the API has the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The workload the report is about.
    pub scope: ObjectRef,
    /// Counts of results by outcome.
    pub summary: Summary,
    /// One result per image and policy.
    pub results: Vec<ResultDoc>,
}

/// The report's metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// `<kind>-<name>` of the workload, lower case.
    pub name: String,
    /// The workload's namespace.
    pub namespace: String,
    /// `app.kubernetes.io/managed-by: landed`.
    pub labels: BTreeMap<String, String>,
    /// The workload, so the report goes when it goes (absent when its uid is unknown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner_references: Vec<OwnerRef>,
    /// Set when replacing an existing report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
}

/// A metadata owner reference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerRef {
    /// API version of the owner.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Uid.
    pub uid: String,
}

/// One policy's outcome on one image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultDoc {
    /// Always `landed`.
    pub source: String,
    /// The policy name.
    pub policy: String,
    /// pass, fail, warn, error or skip.
    pub result: PolicyResult,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Whether it counts towards a score.
    pub scored: bool,
    /// When the scan ran.
    pub timestamp: Timestamp,
    /// The workload.
    pub resources: Vec<ObjectRef>,
    /// The image, its verdict class and evidence.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
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

/// A core `ObjectReference` to the workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// API version of the workload.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Uid, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

impl From<&Scope> for ObjectRef {
    fn from(s: &Scope) -> Self {
        Self {
            api_version: s.api_version.clone(),
            kind: s.kind.clone(),
            name: s.name.clone(),
            namespace: s.namespace.clone(),
            uid: s.uid.clone(),
        }
    }
}

/// Longest object name the API server accepts (DNS subdomain).
const MAX_NAME: usize = 253;

/// `deployment-web`: unique per namespace, readable in `kubectl get`. A name too long for
/// the prefix falls back to the uid (unique too), else is cut.
fn report_name(scope: &Scope) -> String {
    let name = format!("{}-{}", scope.kind.to_ascii_lowercase(), scope.name);
    match (&scope.uid, name.len() > MAX_NAME) {
        (Some(uid), true) => uid.clone(),
        (None, true) => {
            let mut end = MAX_NAME;
            while !name.is_char_boundary(end) {
                end -= 1;
            }
            // A DNS subdomain ends with a letter or digit.
            name[..end]
                .trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_owned()
        }
        (_, false) => name,
    }
}

impl Encoding {
    /// `GROUP/VERSION`.
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }

    /// The report object for one workload's content.
    pub fn encode(&self, report: &WorkloadReport, now: Timestamp) -> Document {
        let scope = ObjectRef::from(&report.scope);
        let owner = report.scope.uid.as_ref().map(|uid| OwnerRef {
            api_version: scope.api_version.clone(),
            kind: scope.kind.clone(),
            name: scope.name.clone(),
            uid: uid.clone(),
        });
        Document {
            api_version: self.api_version(),
            kind: self.kind.to_owned(),
            metadata: Meta {
                name: report_name(&report.scope),
                namespace: report.scope.namespace.clone(),
                labels: BTreeMap::from([(
                    "app.kubernetes.io/managed-by".to_owned(),
                    "landed".to_owned(),
                )]),
                owner_references: owner.into_iter().collect(),
                resource_version: None,
            },
            source: self.report_source.then(|| SOURCE.to_owned()),
            results: report
                .results
                .iter()
                .map(|row| ResultDoc {
                    source: SOURCE.to_owned(),
                    policy: row.policy.clone(),
                    result: row.result,
                    message: row.message.clone(),
                    scored: true,
                    timestamp: now,
                    resources: vec![scope.clone()],
                    properties: row.properties.clone(),
                })
                .collect(),
            summary: report.summary.clone(),
            scope,
        }
    }
}

#[cfg(test)]
mod tests;
