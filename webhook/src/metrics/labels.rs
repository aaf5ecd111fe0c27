//! Label sets of the metric families, and the bounds that keep their values few.
//!
//! Admission-path families carry only closed sets (kind, operation, mode, decision, verdict
//! class), registry hosts (capped) and policy names (from the config): never an image tag, a
//! repository, a user name or anything secret.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError, RwLock};

use prometheus_client::encoding::EncodeLabelSet;

use crate::workload::WorkloadKind;

/// The label value for anything outside a bounded set.
pub const OTHER: &str = "other";

/// Most distinct registry hosts labelled by name besides the configured ones.
pub const MAX_SEEN_HOSTS: usize = 32;

/// Most distinct namespaces labelled by name (the rest are `other`): reviews can be forged by
/// anyone who reaches the port, so their namespaces must not grow the label set unbounded.
pub const MAX_SEEN_NAMESPACES: usize = 256;

/// `landed_reviews_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReviewLabels {
    /// Workload kind, or `other`.
    pub kind: &'static str,
    /// CREATE, UPDATE, DELETE or CONNECT.
    pub operation: &'static str,
    /// enforce, warn or audit.
    pub mode: &'static str,
    /// allow, deny, warn, audit-deny, skip or breakglass.
    pub decision: &'static str,
}

/// `landed_admission_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    /// validate or mutate.
    pub endpoint: &'static str,
}

/// `landed_verdicts_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerdictLabels {
    /// The verdict class.
    pub class: &'static str,
    /// The registry host (bounded, see [`HostLabels`]).
    pub registry: String,
}

/// `landed_audit_would_deny_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WouldDenyLabels {
    /// Workload kind.
    pub kind: &'static str,
    /// The policy that would have denied.
    pub policy: String,
}

/// `landed_breakglass_total`, `landed_breakglass_refused_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NamespaceLabels {
    /// The namespace (bounded, see [`MAX_SEEN_NAMESPACES`]).
    pub namespace: String,
}

/// Registry request families.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RegistryLabels {
    /// The registry host (bounded).
    pub registry: String,
}

/// `landed_registry_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RegistryErrorLabels {
    /// The registry host (bounded).
    pub registry: String,
    /// The verdict class the error maps to.
    pub class: &'static str,
}

/// `landed_registry_token_fetches_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    /// The token server's host (bounded like registry hosts).
    pub realm: String,
    /// ok or error.
    pub result: &'static str,
}

/// `landed_cache_lookups_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// hit, miss or stale.
    pub result: &'static str,
}

/// Policy call families.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyLabels {
    /// The policy's name from the config.
    pub policy: String,
}

/// `landed_policy_failures_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyFailureLabels {
    /// The policy's name from the config.
    pub policy: String,
    /// trap, timeout, invalid_output or not_loaded.
    pub reason: &'static str,
}

/// `landed_image_availability`: one series per workload container (bounded by the cluster's
/// workloads, like k8s-image-availability-exporter's gauges).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AvailabilityLabels {
    /// Namespace of the workload.
    pub namespace: String,
    /// Kind of the workload.
    pub kind: &'static str,
    /// Name of the workload.
    pub workload: String,
    /// Container name.
    pub container: String,
    /// The image as written.
    pub image: String,
    /// The verdict class.
    pub verdict: &'static str,
}

/// `landed_audit_scans_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScanLabels {
    /// ok or error.
    pub result: &'static str,
}

/// `landed_build_info`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    /// The crate version.
    pub version: &'static str,
}

/// The `kind` label for a request kind: a handled kind's name, else `other`.
pub fn kind_label(kind: &str) -> &'static str {
    WorkloadKind::ALL
        .into_iter()
        .find(|k| k.kind() == kind)
        .map_or(OTHER, WorkloadKind::kind)
}

/// The registry host of a normalized reference (`host/repo:tag`), `none` when it did not parse.
pub fn registry_of(normalized: Option<&str>) -> &str {
    normalized
        .and_then(|n| n.split('/').next())
        .filter(|h| !h.is_empty())
        .unwrap_or("none")
}

/// Label values of an open set: the first `cap` distinct values seen keep their name, later
/// ones are `other`.
#[derive(Debug)]
pub struct SeenLabels {
    seen: Mutex<HashSet<String>>,
    cap: usize,
}

impl SeenLabels {
    /// At most `cap` values by name.
    pub fn new(cap: usize) -> Self {
        Self {
            seen: Mutex::default(),
            cap,
        }
    }

    /// The label value for `value`.
    pub fn label(&self, value: &str) -> String {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.contains(value) {
            return value.to_owned();
        }
        if seen.len() < self.cap {
            seen.insert(value.to_owned());
            return value.to_owned();
        }
        OTHER.to_owned()
    }
}

/// Registry host labels: configured hosts always by name, then the first
/// [`MAX_SEEN_HOSTS`] others seen, then `other`.
#[derive(Debug)]
pub struct HostLabels {
    configured: RwLock<HashSet<String>>,
    seen: SeenLabels,
}

impl Default for HostLabels {
    fn default() -> Self {
        Self {
            configured: RwLock::default(),
            seen: SeenLabels::new(MAX_SEEN_HOSTS),
        }
    }
}

impl HostLabels {
    /// Declares the hosts of the config's `registries:` entries.
    pub fn configure<'a>(&self, hosts: impl IntoIterator<Item = &'a str>) {
        let mut configured = self
            .configured
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        configured.extend(hosts.into_iter().map(str::to_ascii_lowercase));
    }

    /// The label value for `host`.
    pub fn label(&self, host: &str) -> String {
        let host = host.to_ascii_lowercase();
        let configured = self
            .configured
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if configured.contains(&host) {
            return host;
        }
        drop(configured);
        self.seen.label(&host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_beyond_the_cap_are_other_but_configured_ones_keep_their_name() {
        let hosts = HostLabels::default();
        hosts.configure(["gar.example"]);
        for i in 0..MAX_SEEN_HOSTS {
            assert_eq!(
                hosts.label(&format!("r{i}.example")),
                format!("r{i}.example")
            );
        }
        assert_eq!(hosts.label("one-too-many.example"), OTHER);
        assert_eq!(hosts.label("r0.example"), "r0.example");
        assert_eq!(hosts.label("GAR.example"), "gar.example");
    }

    #[test]
    fn namespaces_beyond_the_cap_are_other() {
        let namespaces = SeenLabels::new(2);
        assert_eq!(namespaces.label("shop"), "shop");
        assert_eq!(namespaces.label("pay"), "pay");
        assert_eq!(namespaces.label("forged-1"), OTHER);
        assert_eq!(namespaces.label("shop"), "shop");
    }

    #[test]
    fn unknown_kinds_are_other() {
        assert_eq!(kind_label("Deployment"), "Deployment");
        assert_eq!(kind_label("ConfigMap"), OTHER);
    }
}
