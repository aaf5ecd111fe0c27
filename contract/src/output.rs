//! A policy's answer.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A policy's answer; `P` is how its JSON Patch is read: the SDK writes [`PatchOp`]s, the
/// host reads any RFC 6902 patch (with JSON Pointers checked) through its own patch type.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Output<P> {
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
    pub patch: Option<P>,
}

// Not derived: a derive would ask `P: Default` of a field that defaults to `None`.
impl<P> Default for Output<P> {
    fn default() -> Self {
        Self {
            allowed: false,
            message: None,
            warnings: Vec::new(),
            patch: None,
        }
    }
}

impl<P> Output<P> {
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
}

impl Output<Vec<PatchOp>> {
    /// Sets the JSON Patch (ignored unless the request is mutating).
    pub fn with_patch(mut self, patch: Vec<PatchOp>) -> Self {
        self.patch = (!patch.is_empty()).then_some(patch);
        self
    }
}

/// One RFC 6902 JSON Patch operation, as a policy writes it.
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
