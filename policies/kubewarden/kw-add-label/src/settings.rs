//! Settings: the labels to add, and whether a different existing value is replaced.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `{"labels": {"landed.dev/checked": "true"}, "overwrite": false}`. `labels` is required
/// and non-empty; unknown fields are refused.
#[derive(Serialize, Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Settings {
    /// The labels every object must carry.
    pub(crate) labels: BTreeMap<String, String>,
    /// Replace a label that is set to another value (otherwise the object is rejected).
    pub(crate) overwrite: bool,
}

/// A name segment of a label key, or a non-empty value: at most 63 characters, alphanumeric
/// at both ends, `-`, `_` and `.` inside.
fn is_label_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge = |b: &u8| b.is_ascii_alphanumeric();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.first().is_some_and(edge)
        && bytes.last().is_some_and(edge)
        && bytes
            .iter()
            .all(|b| edge(b) || matches!(b, b'-' | b'_' | b'.'))
}

/// A DNS-1123 subdomain (a label key's prefix): at most 253 characters of dot-separated
/// lowercase labels.
fn is_subdomain(prefix: &str) -> bool {
    prefix.len() <= 253
        && prefix.split('.').all(|part| {
            let bytes = part.as_bytes();
            let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
            !bytes.is_empty()
                && bytes.first().is_some_and(edge)
                && bytes.last().is_some_and(edge)
                && bytes.iter().all(|b| edge(b) || *b == b'-')
        })
}

/// Kubernetes' rule for label keys: `[prefix/]name`.
fn is_label_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => is_subdomain(prefix) && is_label_name(name),
        None => is_label_name(key),
    }
}

impl kubewarden::settings::Validatable for Settings {
    fn validate(&self) -> Result<(), String> {
        if self.labels.is_empty() {
            return Err("labels: name at least one label to add".to_owned());
        }
        for (key, value) in &self.labels {
            if !is_label_key(key) {
                return Err(format!(
                    "labels: {key:?} is not a label key ([prefix/]name, name 1-63 characters)"
                ));
            }
            if !value.is_empty() && !is_label_name(value) {
                return Err(format!(
                    "labels: the value {value:?} of {key:?} is not a label value \
                     (at most 63 characters, alphanumeric at both ends)"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubewarden::settings::Validatable;

    fn with(key: &str, value: &str) -> Settings {
        Settings {
            labels: BTreeMap::from([(key.to_owned(), value.to_owned())]),
            overwrite: false,
        }
    }

    #[test]
    fn no_labels_is_refused() {
        let message = Settings::default().validate().expect_err("empty");
        assert!(message.contains("at least one label"), "{message}");
    }

    #[test]
    fn valid_keys_and_values_are_accepted() {
        for (key, value) in [
            ("team", "shop"),
            ("landed.dev/checked", "true"),
            ("app.kubernetes.io/part-of", "web_2.0"),
            ("empty-value", ""),
        ] {
            assert!(with(key, value).validate().is_ok(), "{key}={value}");
        }
    }

    #[test]
    fn invalid_keys_are_refused_with_the_key() {
        for key in [
            "",
            "-team",
            "Landed.Dev/checked",
            "a/b/c",
            "/x",
            "x/",
            &"k".repeat(64),
        ] {
            let message = with(key, "v").validate().expect_err(key);
            assert!(message.contains(&format!("{key:?}")), "{message}");
        }
    }

    #[test]
    fn invalid_values_are_refused_with_the_value() {
        for value in ["has space", "-x", &"v".repeat(64)] {
            let message = with("team", value).validate().expect_err(value);
            assert!(message.contains(&format!("{value:?}")), "{message}");
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<Settings>(r#"{"label": {"a": "b"}}"#).expect_err("typo");
        assert!(err.to_string().contains("unknown field `label`"), "{err}");
    }
}
