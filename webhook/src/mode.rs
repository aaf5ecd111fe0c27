//! The words every step shares about what to do with a decision: the namespace's [`Mode`]
//! and what an undetermined verdict means ([`OnUndetermined`]), both part of the policy
//! contract, and their per-namespace override.

use serde::Deserialize;

pub use landed_contract::{Mode, OnUndetermined};

/// Overrides for one namespace (`namespaces.<name>` in landed.yaml).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceConfig {
    /// Mode for this namespace.
    pub mode: Option<Mode>,
    /// Undetermined handling for this namespace.
    pub on_undetermined: Option<OnUndetermined>,
}
