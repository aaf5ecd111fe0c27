//! `no-latest-tag`: refuses images tagged `latest` (or untagged, which means `latest`)
//! unless they are pinned by digest.
//!
//! Settings: `{"tags": ["latest"]}` (default) lists the refused tags.

use landed_policy_sdk::{Input, Output, Settings};
use serde::Deserialize;

/// Settings of `no-latest-tag`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TagSettings {
    /// Tags that are refused (an untagged reference counts as `latest`).
    pub tags: Vec<String>,
}

impl Default for TagSettings {
    fn default() -> Self {
        Self {
            tags: vec!["latest".into()],
        }
    }
}

impl Settings for TagSettings {}

/// The tag of a reference as written: `None` when pinned by digest, `latest` when absent.
pub fn effective_tag(reference: &str) -> Option<&str> {
    if reference.contains('@') {
        return None;
    }
    let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
    Some(match reference[last_slash..].rfind(':') {
        Some(colon) => &reference[last_slash + colon + 1..],
        None => "latest",
    })
}

/// Decides one review.
pub fn validate(input: &Input, settings: &TagSettings) -> Output {
    let denials: Vec<String> = input
        .images
        .iter()
        .filter_map(|image| {
            let tag = effective_tag(&image.reference)?;
            settings.tags.iter().any(|t| t == tag).then(|| {
                format!(
                    "container {:?} ({}) image {:?} uses the tag {tag:?} — use a version tag or pin a digest",
                    image.container, image.path, image.reference
                )
            })
        })
        .collect();
    if denials.is_empty() {
        Output::allow()
    } else {
        Output::deny(denials.join("; "))
    }
}

landed_policy_sdk::export_policy!(validate, TagSettings);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert_eq!(effective_tag("nginx"), Some("latest"));
        assert_eq!(effective_tag("nginx:latest"), Some("latest"));
        assert_eq!(effective_tag("nginx:1.25"), Some("1.25"));
        assert_eq!(effective_tag("localhost:5000/app"), Some("latest"));
        assert_eq!(effective_tag("localhost:5000/app:v2"), Some("v2"));
        assert_eq!(effective_tag("nginx:latest@sha256:abc"), None);
    }

    #[test]
    fn refuses_latest_by_default() {
        let input: Input = serde_json::from_value(serde_json::json!({
            "request": {"kind": "Pod"},
            "images": [
                {"path": "spec.containers[0].image", "container": "a", "containerType": "container",
                 "reference": "nginx", "verdict": "landed"},
                {"path": "spec.containers[1].image", "container": "b", "containerType": "container",
                 "reference": "nginx:1.25", "verdict": "landed"}
            ],
            "context": {}
        }))
        .unwrap();
        let out = validate(&input, &TagSettings::default());
        assert!(!out.allowed);
        let msg = out.message.unwrap();
        assert!(
            msg.contains("container \"a\"") && !msg.contains("container \"b\""),
            "{msg}"
        );
    }
}
