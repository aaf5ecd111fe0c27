//! The part of landed.yaml the pipeline reviews with: modes, namespaces, breakglass and
//! the lookup deadline (built by `Config::review_settings`).

use std::collections::BTreeMap;
use std::time::Duration;

use super::breakglass::BreakglassConfig;
use crate::mode::{Mode, NamespaceConfig, OnUndetermined};

/// What the pipeline decides with, apart from its resolver and policies.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReviewSettings {
    /// Mode for every namespace without an override.
    pub mode: Mode,
    /// Undetermined handling for every namespace without an override.
    pub on_undetermined: OnUndetermined,
    /// Per-namespace overrides.
    pub namespaces: BTreeMap<String, NamespaceConfig>,
    /// Namespaces never reviewed.
    pub excluded_namespaces: Vec<String>,
    /// The webhook's own namespace (from `POD_NAMESPACE`), never reviewed either.
    pub own_namespace: Option<String>,
    /// Breakglass annotation handling.
    pub breakglass: BreakglassConfig,
    /// On UPDATE, also check images that did not change against the old object.
    pub check_unchanged_images: bool,
    /// One review's lookup deadline (`resolve.deadline`).
    pub lookup_deadline: Duration,
}

impl ReviewSettings {
    /// Mode and undetermined handling for a namespace (cluster-scoped objects use the globals).
    pub fn effective(&self, namespace: Option<&str>) -> (Mode, OnUndetermined) {
        let over = namespace.and_then(|ns| self.namespaces.get(ns));
        (
            over.and_then(|o| o.mode).unwrap_or(self.mode),
            over.and_then(|o| o.on_undetermined)
                .unwrap_or(self.on_undetermined),
        )
    }

    /// Whether reviews in this namespace are skipped without work.
    pub fn skips_namespace(&self, namespace: Option<&str>) -> bool {
        match namespace {
            Some(ns) => {
                self.own_namespace.as_deref() == Some(ns)
                    || self.excluded_namespaces.iter().any(|e| e == ns)
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_overrides_win_over_globals() {
        let mut settings = ReviewSettings::default();
        settings.namespaces.insert(
            "staging".into(),
            NamespaceConfig {
                mode: Some(Mode::Audit),
                on_undetermined: None,
            },
        );
        settings.namespaces.insert(
            "pay".into(),
            NamespaceConfig {
                mode: None,
                on_undetermined: Some(OnUndetermined::Deny),
            },
        );
        assert_eq!(
            settings.effective(Some("staging")),
            (Mode::Audit, OnUndetermined::Allow)
        );
        assert_eq!(
            settings.effective(Some("pay")),
            (Mode::Enforce, OnUndetermined::Deny)
        );
        assert_eq!(
            settings.effective(None),
            (Mode::Enforce, OnUndetermined::Allow)
        );
    }

    #[test]
    fn the_own_namespace_and_the_listed_ones_are_skipped() {
        let settings = ReviewSettings {
            excluded_namespaces: vec!["kube-system".into()],
            own_namespace: Some("landed".into()),
            ..ReviewSettings::default()
        };
        assert!(settings.skips_namespace(Some("kube-system")));
        assert!(settings.skips_namespace(Some("landed")));
        assert!(!settings.skips_namespace(Some("shop")));
        assert!(!settings.skips_namespace(None));
    }
}
