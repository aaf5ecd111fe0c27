//! What the egress rule did: connections refused by reason, and how many unlisted
//! registries have state (bounded by `resolve.maxHosts`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// `landed_egress_refused_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusedLabels {
    /// `private_address`, `no_public_address`, `unlisted`, `insecure_scheme`,
    /// `too_many_redirects` or `port`.
    pub reason: &'static str,
}

/// The egress families.
#[derive(Debug, Default)]
pub struct EgressMetrics {
    refused: Family<RefusedLabels, Counter>,
    hosts: Gauge,
}

impl EgressMetrics {
    /// Adds the families to `registry` (already prefixed `landed`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "egress_refused",
            "Connections landed did not make because of the egress rule, by reason",
            self.refused.clone(),
        );
        registry.register(
            "registry_hosts_tracked",
            "Unlisted registries with state kept (at most resolve.maxHosts)",
            self.hosts.clone(),
        );
    }

    /// Counts one refusal.
    pub fn refused(&self, reason: &'static str) {
        self.refused.get_or_create(&RefusedLabels { reason }).inc();
    }

    /// Sets how many unlisted registries have state.
    pub fn hosts(&self, tracked: usize) {
        self.hosts.set(i64::try_from(tracked).unwrap_or(i64::MAX));
    }
}
