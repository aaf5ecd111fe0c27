//! The JSON a policy receives and returns (documented for authors in policies/README.md).
//! What the guest SDK reads the same way comes from the contract crate; the request and the
//! context are the host's own (k8s types, text kept as sent, pre-encoded parts), pinned
//! against the SDK by `contract/golden/`.

use k8s_openapi::api::authentication::v1::UserInfo;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

pub use landed_contract::{ContainerType, Image as ImageInput};

use crate::mode::{Mode, OnUndetermined};

/// Everything a policy sees about one review.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PolicyInput {
    /// The admission request.
    pub request: RequestInfo,
    /// Every checked image with its path and verdict.
    pub images: Vec<ImageInput>,
    /// This policy's settings from landed.yaml.
    #[serde(default)]
    pub settings: serde_json::Value,
    /// How the answer will be used.
    pub context: PolicyContext,
}

/// The parts of the AdmissionRequest a policy may read.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RequestInfo {
    /// Request uid.
    pub uid: String,
    /// API group of the object ("" for core).
    pub group: String,
    /// Kind of the object (Pod, Deployment, …).
    pub kind: String,
    /// Subresource, e.g. `ephemeralcontainers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_resource: Option<String>,
    /// CREATE or UPDATE.
    pub operation: String,
    /// Namespace, if namespaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Object name (may be empty for generateName).
    pub name: String,
    /// The requesting user.
    pub user_info: UserInfo,
    /// Whether this is a dry run.
    pub dry_run: bool,
    /// The object as sent.
    pub object: ObjectText,
}

/// How much of the review a policy is handed (`input:` of its `policies:` entry).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InputScope {
    /// The whole request: uid, name, userInfo and the object as sent.
    #[default]
    Full,
    /// The images, settings and context, and of the request only its group, kind,
    /// subResource, operation, namespace and dryRun. A policy that imports nothing answers
    /// identical input identically, so its answers are reused (see `policy::reuse`).
    Images,
}

/// The request as an [`InputScope::Images`] policy sees it: nothing that names one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RequestSummary<'a> {
    group: &'a str,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_resource: Option<&'a str>,
    operation: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    dry_run: bool,
}

impl<'a> From<&'a RequestInfo> for RequestSummary<'a> {
    fn from(r: &'a RequestInfo) -> Self {
        Self {
            group: &r.group,
            kind: &r.kind,
            sub_resource: r.sub_resource.as_deref(),
            operation: &r.operation,
            namespace: r.namespace.as_deref(),
            dry_run: r.dry_run,
        }
    }
}

impl RequestSummary<'_> {
    /// The summary copied, to be kept past the review.
    pub(crate) fn kept(&self) -> KeptSummary {
        KeptSummary {
            group: self.group.into(),
            kind: self.kind.into(),
            sub_resource: self.sub_resource.map(Into::into),
            operation: self.operation.into(),
            namespace: self.namespace.map(Into::into),
            dry_run: self.dry_run,
        }
    }
}

/// A [`RequestSummary`] kept past its review (as the key of a reused answer).
#[derive(Debug)]
pub(crate) struct KeptSummary {
    group: Box<str>,
    kind: Box<str>,
    sub_resource: Option<Box<str>>,
    operation: Box<str>,
    namespace: Option<Box<str>>,
    dry_run: bool,
}

impl KeptSummary {
    /// The summary it keeps.
    pub(crate) fn view(&self) -> RequestSummary<'_> {
        RequestSummary {
            group: &self.group,
            kind: &self.kind,
            sub_resource: self.sub_resource.as_deref(),
            operation: &self.operation,
            namespace: self.namespace.as_deref(),
            dry_run: self.dry_run,
        }
    }
}

/// An object's JSON text, handed to policies as the API server sent it (not re-encoded).
///
/// Shared, not copied: the review holds it and each policy input points at the same text.
#[derive(Clone, Debug)]
pub struct ObjectText(
    // `Arc<RawValue>` would copy the decoded text once more: the box is shared as it came.
    #[allow(clippy::redundant_allocation)] Arc<Box<RawValue>>,
);

impl ObjectText {
    /// The text of an object as it came.
    pub fn new(json: Box<RawValue>) -> Self {
        Self(Arc::new(json))
    }

    /// The text of `value` encoded.
    pub fn from_value(value: &serde_json::Value) -> Self {
        // Encoding a Value cannot fail (its map keys are strings); the default is `null`.
        Self::new(serde_json::value::to_raw_value(value).unwrap_or_default())
    }

    /// The JSON text.
    pub fn json(&self) -> &RawValue {
        &self.0
    }
}

impl Serialize for ObjectText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ObjectText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(Self::new)
    }
}

impl PartialEq for ObjectText {
    fn eq(&self, other: &Self) -> bool {
        self.json().get() == other.json().get()
    }
}

/// How the host will use the answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct PolicyContext {
    /// The effective mode for this namespace.
    pub mode: Mode,
    /// The effective handling of undetermined verdicts.
    pub on_undetermined: OnUndetermined,
    /// True on `/mutate`: patches are applied.
    pub mutating: bool,
}

/// A policy's answer, its patch read as any RFC 6902 patch.
pub type PolicyOutput = landed_contract::Output<json_patch::Patch>;
