//! The JSON a policy receives and returns, as typed Rust values.
//!
//! The verdict classes (with their remedies), the image entries and the answer are the host's
//! own types, from the contract crate; the request and the context are read here leniently.
//! `contract/golden/` pins the JSON both sides write; `policies/README.md` documents it.

pub use landed_contract::{
    ContainerType, Image, Mode, OnUndetermined, PatchOp, VerdictClass as Verdict,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// Everything a policy sees about one review.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// The admission request.
    pub request: Request,
    /// Every checked image with its path and verdict.
    #[serde(default)]
    pub images: Vec<Image>,
    /// This policy's settings from landed.yaml (also handed to `validate` typed).
    #[serde(default)]
    pub settings: Value,
    /// How the answer will be used.
    pub context: Context,
}

/// The parts of the AdmissionRequest a policy may read.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// Request uid.
    #[serde(default)]
    pub uid: String,
    /// API group of the object ("" for core).
    #[serde(default)]
    pub group: String,
    /// Kind of the object (Pod, Deployment, …).
    #[serde(default)]
    pub kind: String,
    /// Subresource, e.g. `ephemeralcontainers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_resource: Option<String>,
    /// CREATE or UPDATE.
    #[serde(default)]
    pub operation: String,
    /// Namespace, if namespaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Object name (may be empty for generateName).
    #[serde(default)]
    pub name: String,
    /// The requesting user.
    #[serde(default)]
    pub user_info: UserInfo,
    /// Whether this is a dry run.
    #[serde(default)]
    pub dry_run: bool,
    /// The object as sent, parsed when read (see [`Object`]).
    #[serde(default)]
    pub object: Object,
}

/// The request's object, kept as JSON text until a policy reads it.
///
/// Most policies only look at `images`; parsing a whole workload into a `Value` on every call
/// was most of a call's cost. Parse it into a `Value` or into a struct holding just the fields
/// a policy needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Object(Box<RawValue>);

impl Object {
    /// The JSON text as the host sent it.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// The object parsed into `T` (a `serde_json::Value`, or a struct of the fields needed).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }

    /// The object as a `serde_json::Value` (`Null` when there is none).
    pub fn value(&self) -> Value {
        self.parse().unwrap_or(Value::Null)
    }
}

impl Default for Object {
    fn default() -> Self {
        Self::from(Value::Null)
    }
}

impl From<Value> for Object {
    fn from(value: Value) -> Self {
        // Writing a `Value` as JSON cannot fail, and its text is valid JSON.
        let raw = serde_json::value::to_raw_value(&value).unwrap_or_else(|_| null_raw());
        Self(raw)
    }
}

fn null_raw() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).unwrap_or_else(|_| unreachable!("`null` is JSON"))
}

impl PartialEq for Object {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

/// The requesting user (Kubernetes `authentication/v1 UserInfo`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    /// User name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// User uid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Groups the user is in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Extra attributes from the authenticator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Value>,
}

/// How the host will use the answer.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    /// The effective mode for this namespace.
    #[serde(default)]
    pub mode: Mode,
    /// The effective handling of undetermined verdicts.
    #[serde(default)]
    pub on_undetermined: OnUndetermined,
    /// True on `/mutate`: patches are applied.
    #[serde(default)]
    pub mutating: bool,
}

/// A policy's answer: allow, deny with a message, warn, patch.
pub type Output = landed_contract::Output<Vec<PatchOp>>;

/// A verdict answered by the host's `resolve-image`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Resolved {
    /// The reference asked about.
    pub reference: String,
    /// Its normalized form (absent when invalid).
    #[serde(default)]
    pub normalized: Option<String>,
    /// The verdict class.
    pub verdict: Verdict,
    /// The manifest digest, when known.
    #[serde(default)]
    pub digest: Option<String>,
    /// Evidence.
    #[serde(default)]
    pub detail: String,
    /// Whether it is a stale cached answer.
    #[serde(default)]
    pub stale: bool,
}
