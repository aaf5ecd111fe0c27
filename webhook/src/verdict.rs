//! What the registry told us about one image: the verdict classes of DESIGN.md (defined in
//! the contract crate, shared with the policy SDK) and the evidence for one verdict.

use serde::{Deserialize, Serialize};

use crate::image::Digest;
pub use landed_contract::VerdictClass;

/// One image's verdict with its evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The class of the answer.
    pub class: VerdictClass,
    /// The manifest digest the reference resolves to, when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub digest: Option<Digest>,
    /// Evidence safe to show whoever sent the review: the registry's status and error code,
    /// or why landed did not ask (never transport detail or registry free text).
    pub detail: String,
    /// The whole story for the operator (transport error chain, registry message), for
    /// logs and `landed check`; `None` when `detail` says it all. Never serialized.
    #[serde(skip)]
    pub cause: Option<String>,
    /// True when a cached `landed` answer was served because the registry failed now.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub stale: bool,
}

impl Verdict {
    /// A verdict of `class` with `detail` and no digest.
    pub fn new(class: VerdictClass, detail: impl Into<String>) -> Self {
        Self {
            class,
            digest: None,
            detail: detail.into(),
            cause: None,
            stale: false,
        }
    }

    /// A verdict of `class` with a public `detail` and the operator's `cause`.
    pub fn with_cause(class: VerdictClass, detail: impl Into<String>, cause: String) -> Self {
        Self {
            cause: Some(cause),
            ..Self::new(class, detail)
        }
    }

    /// What the operator reads: the cause when there is one, else the detail.
    pub fn operator_detail(&self) -> &str {
        self.cause.as_deref().unwrap_or(&self.detail)
    }

    /// A `landed` verdict with its digest.
    pub fn landed(digest: Digest) -> Self {
        Self {
            class: VerdictClass::Landed,
            detail: format!("manifest {digest} exists"),
            digest: Some(digest),
            cause: None,
            stale: false,
        }
    }
}
