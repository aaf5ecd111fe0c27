//! What the host does with a denial and with an undetermined verdict: the policy input's
//! `context.mode` and `context.onUndetermined`, and landed.yaml's spellings of them.

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
