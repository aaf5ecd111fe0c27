//! The JSON a policy receives and returns, as typed Rust values.
//!
//! These mirror the host's `webhook/src/policy/contract.rs`; the field spellings are the
//! contract documented in `policies/README.md`.

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

/// Which list of the pod spec a container is in.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum ContainerType {
    /// `containers`.
    Container,
    /// `initContainers`.
    InitContainer,
    /// `ephemeralContainers`.
    EphemeralContainer,
}

/// What the registry said about an image (the verdict classes).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The manifest exists and its digest is known.
    Landed,
    /// The registry says the manifest (or a child of an index) is not there.
    Absent,
    /// A pinned or expected digest differs from what the tag points at now.
    DigestMismatch,
    /// No or bad credentials.
    Unauthorized,
    /// Credentials accepted but access denied.
    Forbidden,
    /// The registry asked us to slow down.
    RateLimited,
    /// 5xx, timeout, DNS, TLS or connection failure.
    Unavailable,
    /// The string is not a valid image reference.
    InvalidReference,
}

impl Verdict {
    /// The exact spelling used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Landed => "landed",
            Self::Absent => "absent",
            Self::DigestMismatch => "digest_mismatch",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::InvalidReference => "invalid_reference",
        }
    }

    /// The registry gave a definite "no": absent, digest_mismatch, invalid_reference.
    pub fn is_definite_failure(self) -> bool {
        matches!(
            self,
            Self::Absent | Self::DigestMismatch | Self::InvalidReference
        )
    }

    /// We could not tell: unauthorized, forbidden, rate_limited, unavailable.
    pub fn is_undetermined(self) -> bool {
        matches!(
            self,
            Self::Unauthorized | Self::Forbidden | Self::RateLimited | Self::Unavailable
        )
    }

    /// What a user can do about this verdict, for deny and warning messages.
    pub fn remedy(self) -> &'static str {
        match self {
            Self::Landed => "nothing to do",
            Self::Absent => "push the image again and check that the manifest upload succeeded (`landed check IMAGE`)",
            Self::DigestMismatch => "the tag moved: pin the digest the tag points at now, or push the expected image again",
            Self::Unauthorized => "give landed pull credentials for this registry (imagePullSecrets, docker config or Workload Identity)",
            Self::Forbidden => "grant landed read access to this repository (on GAR: roles/artifactregistry.reader), or check that it exists",
            Self::RateLimited => "the registry is rate limiting; retry later",
            Self::Unavailable => "the registry could not be reached in time; retry later",
            Self::InvalidReference => "fix the image reference",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One image with where it was found and what the registry said.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// Path of the image field, e.g. `spec.template.spec.initContainers[0].image`.
    pub path: String,
    /// Container name.
    #[serde(default)]
    pub container: String,
    /// Which container list.
    pub container_type: ContainerType,
    /// The reference as written in the object.
    pub reference: String,
    /// The normalized reference (absent when invalid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalized: Option<String>,
    /// The verdict class.
    pub verdict: Verdict,
    /// The resolved manifest digest, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Evidence for the verdict.
    #[serde(default)]
    pub detail: String,
    /// Whether the verdict is a stale cached answer.
    #[serde(default)]
    pub stale: bool,
}

/// The effective mode (informational: the host applies it).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// Denials deny.
    #[default]
    Enforce,
    /// Denials become warnings.
    Warn,
    /// Denials are only recorded.
    Audit,
}

/// What to do with undetermined verdicts.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum OnUndetermined {
    /// Allow with a warning.
    #[default]
    Allow,
    /// Deny.
    Deny,
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

/// One RFC 6902 JSON Patch operation.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum PatchOp {
    /// Add a value.
    Add {
        /// JSON pointer.
        path: String,
        /// The value.
        value: Value,
    },
    /// Remove a value.
    Remove {
        /// JSON pointer.
        path: String,
    },
    /// Replace a value.
    Replace {
        /// JSON pointer.
        path: String,
        /// The new value.
        value: Value,
    },
    /// Check a value (the patch fails if it differs).
    Test {
        /// JSON pointer.
        path: String,
        /// The expected value.
        value: Value,
    },
}

/// A policy's answer.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    /// Whether the policy allows the object.
    pub allowed: bool,
    /// Why it is denied (user-facing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Warnings for the client, allowed or not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// JSON Patch, applied on `/mutate` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<Vec<PatchOp>>,
}

impl Output {
    /// An allow with no remarks.
    pub fn allow() -> Self {
        Self {
            allowed: true,
            ..Self::default()
        }
    }

    /// A denial with a user-facing message.
    pub fn deny(message: impl Into<String>) -> Self {
        Self {
            allowed: false,
            message: Some(message.into()),
            ..Self::default()
        }
    }

    /// Adds a warning.
    pub fn with_warning(mut self, warning: impl Into<String>) -> Self {
        self.warnings.push(warning.into());
        self
    }

    /// Sets the JSON Patch (ignored unless the request is mutating).
    pub fn with_patch(mut self, patch: Vec<PatchOp>) -> Self {
        self.patch = (!patch.is_empty()).then_some(patch);
        self
    }
}

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
