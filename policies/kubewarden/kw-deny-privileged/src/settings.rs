//! Settings: which namespaces may run privileged containers.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// `{"exemptNamespaces": ["kube-system"]}`; every field optional. Unknown fields are refused
/// so that a misspelt key does not silently exempt nothing.
#[derive(Serialize, Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Settings {
    /// Namespaces whose workloads may run privileged containers.
    pub(crate) exempt_namespaces: BTreeSet<String>,
}

impl Settings {
    /// True when `namespace` is exempt; cluster-scoped objects (no namespace) never are.
    pub(crate) fn exempts(&self, namespace: &str) -> bool {
        !namespace.is_empty() && self.exempt_namespaces.contains(namespace)
    }
}

/// A namespace name is a DNS-1123 label: at most 63 lowercase letters, digits and '-',
/// starting and ending with a letter or digit.
fn is_namespace_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.first().is_some_and(edge)
        && bytes.last().is_some_and(edge)
        && bytes.iter().all(|b| edge(b) || *b == b'-')
}

impl kubewarden::settings::Validatable for Settings {
    fn validate(&self) -> Result<(), String> {
        match self
            .exempt_namespaces
            .iter()
            .find(|n| !is_namespace_name(n))
        {
            Some(bad) => Err(format!(
                "exemptNamespaces: {bad:?} is not a namespace name \
                 (1-63 lowercase letters, digits and '-', starting and ending alphanumeric)"
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubewarden::settings::Validatable;

    fn parse(json: &str) -> Result<Settings, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn empty_settings_are_valid_and_exempt_nothing() {
        let settings = parse("{}").expect("empty object");
        assert!(settings.validate().is_ok());
        assert!(!settings.exempts("kube-system"));
    }

    #[test]
    fn listed_namespaces_are_exempt_and_no_others() {
        let settings = parse(r#"{"exemptNamespaces": ["kube-system", "ci-1"]}"#).expect("valid");
        assert!(settings.validate().is_ok());
        assert!(settings.exempts("kube-system"));
        assert!(settings.exempts("ci-1"));
        assert!(!settings.exempts("shop"));
        assert!(
            !settings.exempts(""),
            "cluster-scoped objects are never exempt"
        );
    }

    #[test]
    fn invalid_namespace_names_are_refused_with_the_name() {
        for bad in ["", "Kube-System", "-ci", "ci-", "a_b", &"a".repeat(64)] {
            let settings = Settings {
                exempt_namespaces: BTreeSet::from([bad.to_owned()]),
            };
            let message = settings.validate().expect_err(bad);
            assert!(message.contains(&format!("{bad:?}")), "{message}");
        }
        let longest = Settings {
            exempt_namespaces: BTreeSet::from(["a".repeat(63)]),
        };
        assert!(longest.validate().is_ok());
    }

    #[test]
    fn a_misspelt_key_is_refused_not_ignored() {
        let err = parse(r#"{"exemptNamespace": ["kube-system"]}"#).expect_err("unknown key");
        assert!(
            err.to_string().contains("unknown field `exemptNamespace`"),
            "{err}"
        );
    }
}
