//! `allowed-registries`: every image must come from a listed registry.
//!
//! Settings (required): `{"registries": ["gcr.io", "us-docker.pkg.dev/my-proj/"]}`. An entry
//! without `/` is a registry host (exact match on the host of the normalized reference, port
//! included); an entry with `/` is a prefix of the normalized reference (`registry/repo…`),
//! matched at a path boundary unless it ends with `/`.

use landed_policy_sdk::{Input, Output, Settings};
use serde::Deserialize;

/// Settings of `allowed-registries`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AllowedSettings {
    /// Allowed hosts and prefixes.
    pub registries: Vec<String>,
}

impl Settings for AllowedSettings {
    fn check(&self) -> Result<(), String> {
        if self.registries.is_empty() {
            return Err(
                "settings.registries must list at least one registry host or prefix".into(),
            );
        }
        if let Some(bad) = self
            .registries
            .iter()
            .find(|r| r.trim().is_empty() || r.contains(char::is_whitespace))
        {
            return Err(format!("settings.registries has an invalid entry {bad:?}"));
        }
        Ok(())
    }
}

/// Whether `normalized` (e.g. `docker.io/library/nginx:1`) matches one entry.
pub fn matches(entry: &str, normalized: &str) -> bool {
    if !entry.contains('/') {
        return normalized.split('/').next() == Some(entry);
    }
    if entry.ends_with('/') {
        return normalized.starts_with(entry);
    }
    normalized
        .strip_prefix(entry)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', ':', '@']))
}

/// Decides one review.
pub fn validate(input: &Input, settings: &AllowedSettings) -> Output {
    let mut denials = Vec::new();
    for image in &input.images {
        match image.normalized.as_deref() {
            None => denials.push(format!(
                "container {:?} ({}) image {:?} is not a valid reference, so its registry cannot be checked",
                image.container, image.path, image.reference
            )),
            Some(n) if !settings.registries.iter().any(|e| matches(e, n)) => denials.push(format!(
                "container {:?} ({}) image {:?} ({n}) is not from an allowed registry — use one of: {}",
                image.container,
                image.path,
                image.reference,
                settings.registries.join(", ")
            )),
            Some(_) => {}
        }
    }
    if denials.is_empty() {
        Output::allow()
    } else {
        Output::deny(denials.join("; "))
    }
}

landed_policy_sdk::export_policy!(validate, AllowedSettings);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_prefix_matching() {
        assert!(matches("gcr.io", "gcr.io/p/a:1"));
        assert!(!matches("gcr.io", "eu.gcr.io/p/a:1"));
        assert!(!matches("gcr.io", "gcr.io.evil.com/p/a:1"));
        assert!(matches("localhost:5000", "localhost:5000/a:1"));
        assert!(matches(
            "us-docker.pkg.dev/my-proj/",
            "us-docker.pkg.dev/my-proj/repo/img:1"
        ));
        assert!(!matches(
            "us-docker.pkg.dev/my-proj/",
            "us-docker.pkg.dev/my-proj2/repo/img:1"
        ));
        assert!(matches(
            "us-docker.pkg.dev/my-proj",
            "us-docker.pkg.dev/my-proj/repo/img:1"
        ));
        assert!(!matches(
            "us-docker.pkg.dev/my-proj",
            "us-docker.pkg.dev/my-proj2/img:1"
        ));
        assert!(matches(
            "docker.io/library/nginx",
            "docker.io/library/nginx:1"
        ));
    }

    #[test]
    fn empty_settings_refuse_to_load() {
        let err = landed_policy_sdk::run_validate_settings::<AllowedSettings>("null").unwrap_err();
        assert!(err.contains("at least one"));
        assert!(landed_policy_sdk::run_validate_settings::<AllowedSettings>(
            r#"{"registries":["gcr.io"]}"#
        )
        .is_ok());
    }
}
