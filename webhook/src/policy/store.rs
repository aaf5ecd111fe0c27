//! The policies currently serving, swappable as a whole when one reloads.

use std::sync::Arc;

use arc_swap::ArcSwap;
use futures::future::BoxFuture;
use serde::Serialize;

use super::{Policy, PolicyError, PolicyOutput, PolicySet, PreparedInput};

/// Load state of one configured policy, shown on `/readyz`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PolicyStatus {
    /// Policy name.
    pub name: String,
    /// Whether a working version is serving.
    pub loaded: bool,
    /// The last load error, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Where the policy comes from (file path or OCI reference).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// sha256 of the component serving now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// The serving policy set plus the load status of each policy.
pub struct PolicyStore {
    current: ArcSwap<PolicySet>,
    status: ArcSwap<Vec<PolicyStatus>>,
}

impl PolicyStore {
    /// A store serving `set`.
    pub fn new(set: PolicySet) -> Self {
        let status = set
            .policies
            .iter()
            .map(|p| PolicyStatus {
                name: p.policy.name().to_owned(),
                loaded: true,
                error: None,
                source: None,
                digest: None,
            })
            .collect();
        Self {
            current: ArcSwap::from_pointee(set),
            status: ArcSwap::from_pointee(status),
        }
    }

    /// Swaps in a new policy set and status together (readers see the old or the new set,
    /// never a mix).
    pub fn replace(&self, set: PolicySet, status: Vec<PolicyStatus>) {
        self.current.store(Arc::new(set));
        self.status.store(Arc::new(status));
    }

    /// The policies to run for one review (a consistent snapshot).
    pub fn current(&self) -> Arc<PolicySet> {
        self.current.load_full()
    }

    /// Load status of every configured policy.
    pub fn status(&self) -> Arc<Vec<PolicyStatus>> {
        self.status.load_full()
    }

    /// True when every configured policy has a working version serving.
    pub fn all_loaded(&self) -> bool {
        self.status.load().iter().all(|s| s.loaded)
    }
}

/// Stands in for a configured policy that has never loaded: every call fails with the load
/// error, so the entry's `failurePolicy` decides the review instead of the rule silently not
/// running (`Fail` denies, `Ignore` allows with a warning).
#[derive(Clone, Debug)]
pub struct NotLoaded {
    name: String,
    reason: String,
}

impl NotLoaded {
    /// Policy `name`, which failed to load with `reason`.
    pub fn new(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// The failure every evaluation gives, counted in the metrics.
    fn fail(&self) -> BoxFuture<'static, Result<PolicyOutput, PolicyError>> {
        let err = PolicyError::NotLoaded {
            policy: self.name.clone(),
            reason: self.reason.clone(),
        };
        crate::metrics::global().policy_failure(&self.name, err.failure());
        Box::pin(std::future::ready(Err(err)))
    }
}

impl Policy for NotLoaded {
    fn name(&self) -> &str {
        &self.name
    }

    fn evaluate<'a>(
        &'a self,
        _input: &'a PreparedInput<'_>,
        _settings: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<PolicyOutput, PolicyError>> {
        self.fail()
    }
}
