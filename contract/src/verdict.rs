//! The verdict classes: what the registry told us about one image (DESIGN.md).

use std::fmt;

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_through_serde() {
        for class in VerdictClass::ALL {
            let json = serde_json::to_string(&class).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(json, format!("\"{}\"", class.as_str()));
            let back: VerdictClass = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
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

    #[test]
    fn spellings_and_remedies_are_the_golden_ones() {
        let golden: serde_json::Value =
            serde_json::from_str(include_str!("../golden/verdicts.json"))
                .unwrap_or_else(|e| panic!("{e}"));
        let ours: Vec<serde_json::Value> = VerdictClass::ALL
            .iter()
            .map(|c| serde_json::json!({"verdict": c.as_str(), "remedy": c.remedy()}))
            .collect();
        assert_eq!(serde_json::Value::from(ours), golden);
    }

    #[test]
    fn the_wit_lists_every_verdict() {
        let wit = include_str!("../../policies/wit/landed.wit");
        for class in VerdictClass::ALL {
            assert!(wit.contains(class.as_str()), "{class}");
        }
    }
}
