//! The words every step shares about what to do with a decision: the namespace's [`Mode`]
//! and what an undetermined verdict means ([`OnUndetermined`]).

use serde::{Deserialize, Serialize};

/// What the webhook does with a denial.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// Deny what the policies deny.
    #[default]
    Enforce,
    /// Allow, turning each denial into a warning for the client.
    Warn,
    /// Allow silently and never mutate; record what would have been denied.
    Audit,
}

impl Mode {
    /// The spelling used in config, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Warn => "warn",
            Self::Audit => "audit",
        }
    }
}

/// What to do with an image whose verdict is undetermined (auth, outage, rate limit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OnUndetermined {
    /// Allow with a warning naming the image and the verdict.
    #[default]
    Allow,
    /// Deny as if the image were absent.
    Deny,
}

/// Overrides for one namespace (`namespaces.<name>` in landed.yaml).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceConfig {
    /// Mode for this namespace.
    pub mode: Option<Mode>,
    /// Undetermined handling for this namespace.
    pub on_undetermined: Option<OnUndetermined>,
}
