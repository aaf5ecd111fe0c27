//! The rules: each policy reads the admission request and the image verdicts and answers
//! allow, deny, warn or patch.

mod abi;
mod clock;
mod contract;
mod engine;
mod host;
mod limiter;
mod loader;
mod lookup;
mod oci;
mod output;
mod prepared;
pub mod publish;
mod reload;
mod reuse;
mod section;
mod store;
mod wapc;
mod wasm;

use futures::future::BoxFuture;

pub use abi::{detect as detect_abi, Abi, PolicyModule};
pub use contract::{
    ContainerType, ImageInput, InputScope, ObjectText, PolicyContext, PolicyInput, PolicyOutput,
    RequestInfo,
};
pub use engine::{EngineError, PolicyEngine, PolicyLimits, EPOCH_TICK};
pub use host::{ResolveAccess, HOST_INTERFACE};
pub use loader::{
    builtin_file, builtin_runs_on, default_entries, oci_reference, policy_dir, FetchPolicy,
    FetchedPolicy, PolicyConfig, PolicyLoader, Source, BUILTINS, DEV_POLICY_DIR, POLICY_DIR_ENV,
    SYSTEM_POLICY_DIR,
};
pub use oci::OciFetcher;
pub use output::parse_output;
pub use prepared::PreparedInput;
pub use reload::{PolicyHost, OCI_RETRY_INTERVAL, RELOAD_INTERVAL};
pub use reuse::reuse_blocker;
pub use section::PoliciesConfig;
pub use store::{NotLoaded, PolicyStatus, PolicyStore};
pub use wapc::{
    KubewardenPolicy, WapcFault, CAPABILITIES as KUBEWARDEN_CAPABILITIES, METADATA_SECTION,
    PROTOCOL_VERSION as KUBEWARDEN_PROTOCOL, WASI_OFFERED,
};
pub use wasm::{LoadError, WasmPolicy};

/// Why a policy gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy ran past its deadline.
    #[error("policy {policy} timed out (ran past its per-call deadline)")]
    Timeout {
        /// The policy's name.
        policy: String,
    },
    /// The policy trapped or failed while running.
    #[error("policy {policy} failed: {reason}")]
    Failed {
        /// The policy's name.
        policy: String,
        /// What went wrong.
        reason: String,
    },
    /// The policy's answer did not follow the contract.
    #[error("policy {policy} returned an invalid answer: {reason}")]
    InvalidOutput {
        /// The policy's name.
        policy: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The policy is configured but no version of it has loaded.
    #[error("policy {policy} is not loaded: {reason}")]
    NotLoaded {
        /// The policy's name.
        policy: String,
        /// The load error.
        reason: String,
    },
}

impl PolicyError {
    /// The failure as the metrics count it.
    pub(crate) fn failure(&self) -> crate::metrics::PolicyFailure {
        use crate::metrics::PolicyFailure;
        match self {
            Self::Timeout { .. } => PolicyFailure::Timeout,
            Self::Failed { .. } => PolicyFailure::Trap,
            Self::InvalidOutput { .. } => PolicyFailure::InvalidOutput,
            Self::NotLoaded { .. } => PolicyFailure::NotLoaded,
        }
    }
}

/// What happens to a review when a policy gives no usable answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub enum FailurePolicy {
    /// Deny the review (fail closed).
    #[default]
    Fail,
    /// Allow the review with a warning (fail open).
    Ignore,
}

/// One rule.
pub trait Policy: Send + Sync {
    /// The policy's name, as in config and messages.
    fn name(&self) -> &str;

    /// Evaluates one review with this policy's `settings`. The input is shared by every
    /// policy of the review, each part encoded at most once (see [`PreparedInput`]).
    fn evaluate<'a>(
        &'a self,
        input: &'a PreparedInput<'_>,
        settings: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<PolicyOutput, PolicyError>>;
}

/// A policy with the settings that govern how its answer is used.
pub struct Loaded {
    /// The policy.
    pub policy: Box<dyn Policy>,
    /// Settings handed to the policy in its input.
    pub settings: serde_json::Value,
    /// Fail closed or open when it errs.
    pub failure_policy: FailurePolicy,
    /// Overrides the namespace's mode for this policy's denials.
    pub mode: Option<crate::mode::Mode>,
    /// The webhook paths it runs on.
    pub runs_on: RunsOn,
}

impl Loaded {
    /// `policy` without settings or a mode of its own, on both webhook paths.
    pub fn new(policy: impl Policy + 'static, failure_policy: FailurePolicy) -> Self {
        Self {
            policy: Box::new(policy),
            settings: serde_json::Value::Null,
            failure_policy,
            mode: None,
            runs_on: RunsOn::Both,
        }
    }
}

/// Which webhook paths a policy runs on (`runsOn:` in landed.yaml).
///
/// `/mutate` never denies and `/validate` never patches, so a policy whose answer only one of
/// them uses is skipped on the other: with pinning on, each Pod passes through both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunsOn {
    /// `/validate` only: the policy allows, denies or warns.
    Validate,
    /// `/mutate` only: the policy patches.
    Mutate,
    /// Both paths (the default for policies that are not built-ins).
    #[default]
    Both,
}

impl RunsOn {
    /// Whether the policy runs on `/mutate` (`mutating`) or on `/validate`.
    pub fn includes(self, mutating: bool) -> bool {
        match self {
            Self::Validate => !mutating,
            Self::Mutate => mutating,
            Self::Both => true,
        }
    }
}

/// The policies that run on every review, in order.
#[derive(Default)]
pub struct PolicySet {
    /// The loaded policies.
    pub policies: Vec<Loaded>,
}

#[cfg(test)]
mod tests;
