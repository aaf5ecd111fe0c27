//! What the registry told us about one image: the verdict classes of DESIGN.md.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::image::Digest;

/// The closed set of answers a lookup can give; spellings are part of the CLI, metrics and
/// policy contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictClass {
    /// The manifest exists and its digest is known.
    Landed,
    /// The registry says the manifest (or a child of an index) is not there.
    Absent,
    /// A pinned or expected digest differs from what the tag points at now.
    DigestMismatch,
    /// No or bad credentials (401 after the token dance).
    Unauthorized,
    /// Credentials accepted but access denied (403); GAR's ambiguous 403 stays here.
    Forbidden,
    /// The registry asked us to slow down (429 / TOOMANYREQUESTS).
    RateLimited,
    /// 5xx, timeout, DNS, TLS or connection failure.
    Unavailable,
    /// The string is not a valid image reference.
    InvalidReference,
}

impl VerdictClass {
    /// Every class, in contract order.
    pub const ALL: [VerdictClass; 8] = [
        Self::Landed,
        Self::Absent,
        Self::DigestMismatch,
        Self::Unauthorized,
        Self::Forbidden,
        Self::RateLimited,
        Self::Unavailable,
        Self::InvalidReference,
    ];

    /// The exact spelling used in JSON, metrics labels and policy input.
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

    /// Classes where the registry gave a definite "no": denied by default.
    pub fn is_definite_failure(self) -> bool {
        matches!(
            self,
            Self::Absent | Self::DigestMismatch | Self::InvalidReference
        )
    }

    /// Classes where we could not tell: handled by `onUndetermined`.
    pub fn is_undetermined(self) -> bool {
        matches!(
            self,
            Self::Unauthorized | Self::Forbidden | Self::RateLimited | Self::Unavailable
        )
    }

    /// What a user can do about this class, for deny and warning messages.
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

impl fmt::Display for VerdictClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_through_serde() {
        for class in VerdictClass::ALL {
            let json = serde_json::to_string(&class).expect("serialize");
            assert_eq!(json, format!("\"{}\"", class.as_str()));
            let back: VerdictClass = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back, class);
        }
    }

    #[test]
    fn every_class_is_exactly_one_of_landed_definite_or_undetermined() {
        for class in VerdictClass::ALL {
            let n = [
                class == VerdictClass::Landed,
                class.is_definite_failure(),
                class.is_undetermined(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            assert_eq!(n, 1, "{class}");
        }
    }
}
