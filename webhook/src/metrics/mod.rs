//! Prometheus metrics: one registry per process, served at `GET /metrics` in the text
//! exposition format.
//!
//! The handle is process-global ([`global`]) rather than threaded through constructors:
//! Prometheus scrapes a process, so one registry per process is the model anyway, and the
//! layers that record (registry client, token cache, resolver caches, policy host, pipeline)
//! are built in many places (CLI, server, tests) that would otherwise all change signature.
//! [`Metrics::new`] still builds a private instance for unit tests.

mod breakglass;
mod cache;
mod egress;
mod labels;
mod policy;
mod serving;

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::verdict::VerdictClass;
pub use cache::CacheResult;
pub use labels::*;
pub use policy::PolicyFailure;

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Buckets for request latencies, 1 ms to 10 s.
fn latency() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

/// Every family landed exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    hosts: HostLabels,
    reviews: Family<ReviewLabels, Counter>,
    admission_duration: Histograms<EndpointLabels>,
    verdicts: Family<VerdictLabels, Counter>,
    would_deny: Family<WouldDenyLabels, Counter>,
    namespaces: SeenLabels,
    breakglass: Family<NamespaceLabels, Counter>,
    breakglass_refused: Family<NamespaceLabels, Counter>,
    inflight: Gauge,
    registry_duration: Histograms<RegistryLabels>,
    registry_errors: Family<RegistryErrorLabels, Counter>,
    token_fetches: Family<TokenLabels, Counter>,
    cache: Family<CacheLabels, Counter>,
    policy_duration: Histograms<PolicyLabels>,
    policy_failures: Family<PolicyFailureLabels, Counter>,
    policy_reused: Family<PolicyLabels, Counter>,
    policy_loaded: Family<PolicyLabels, Gauge>,
    availability: Family<AvailabilityLabels, Gauge>,
    scans: Family<ScanLabels, Counter>,
    egress: egress::EgressMetrics,
    serving: serving::ServingMetrics,
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static GLOBAL: OnceLock<Metrics> = OnceLock::new();
    GLOBAL.get_or_init(Metrics::new)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every family registered (and build info set).
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("landed");
        let m = Self {
            registry: Registry::default(),
            hosts: HostLabels::default(),
            reviews: Family::default(),
            admission_duration: Family::new_with_constructor(latency),
            verdicts: Family::default(),
            would_deny: Family::default(),
            namespaces: SeenLabels::new(MAX_SEEN_NAMESPACES),
            breakglass: Family::default(),
            breakglass_refused: Family::default(),
            inflight: Gauge::default(),
            registry_duration: Family::new_with_constructor(latency),
            registry_errors: Family::default(),
            token_fetches: Family::default(),
            cache: Family::default(),
            policy_duration: Family::new_with_constructor(latency),
            policy_failures: Family::default(),
            policy_reused: Family::default(),
            policy_loaded: Family::default(),
            availability: Family::default(),
            scans: Family::default(),
            egress: egress::EgressMetrics::default(),
            serving: serving::ServingMetrics::default(),
        };
        let r = &mut registry;
        m.egress.register(r);
        m.serving.register(r);
        r.register(
            "reviews",
            "Admission reviews by kind, operation, mode and decision",
            m.reviews.clone(),
        );
        r.register_with_unit(
            "admission_duration",
            "Time to answer one admission review",
            Unit::Seconds,
            m.admission_duration.clone(),
        );
        r.register(
            "verdicts",
            "Image verdicts on the admission path by class and registry host",
            m.verdicts.clone(),
        );
        r.register(
            "audit_would_deny",
            "Denials recorded but not enforced (audit mode) by kind and policy",
            m.would_deny.clone(),
        );
        r.register(
            "breakglass",
            "Reviews where the breakglass annotation was honoured (on /validate), by namespace",
            m.breakglass.clone(),
        );
        r.register(
            "breakglass_refused",
            "Breakglass annotations ignored because the requester may not use them, by namespace",
            m.breakglass_refused.clone(),
        );
        r.register(
            "inflight_reviews",
            "Admission reviews being answered now",
            m.inflight.clone(),
        );
        r.register_with_unit(
            "registry_request_duration",
            "Registry manifest requests by registry host",
            Unit::Seconds,
            m.registry_duration.clone(),
        );
        r.register(
            "registry_errors",
            "Registry requests that failed, by host and verdict class",
            m.registry_errors.clone(),
        );
        r.register(
            "registry_token_fetches",
            "Bearer token fetches from registry token servers, by token server host and result",
            m.token_fetches.clone(),
        );
        r.register(
            "cache_lookups",
            "Resolver cache lookups: hit, miss, or stale (served because the registry failed)",
            m.cache.clone(),
        );
        m.register_policy_families(r);
        r.register(
            "image_availability",
            "Verdict of each workload container's image from the last audit scan (1 = current)",
            m.availability.clone(),
        );
        r.register(
            "audit_scans",
            "Background audit scans by result",
            m.scans.clone(),
        );
        r.register(
            "build",
            "Build information",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
        m.start_cache_results_at_zero();
        Self { registry, ..m }
    }

    /// Declares the configured registry hosts, which are always labelled by name.
    pub fn configure_hosts<'a>(&self, hosts: impl IntoIterator<Item = &'a str>) {
        self.hosts.configure(hosts);
    }

    /// The bounded label value for a registry host.
    pub fn host_label(&self, host: &str) -> String {
        self.hosts.label(host)
    }

    /// The exposition text (OpenMetrics, which Prometheus reads).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// Records one answered review.
    pub fn review(&self, labels: ReviewLabels, endpoint: &'static str, elapsed: Duration) {
        self.reviews.get_or_create(&labels).inc();
        self.admission_duration
            .get_or_create(&EndpointLabels { endpoint })
            .observe(elapsed.as_secs_f64());
    }

    /// Records one image verdict on the admission path.
    pub fn verdict(&self, class: VerdictClass, host: &str) {
        let registry = self.host_label(host);
        self.verdicts
            .get_or_create(&VerdictLabels {
                class: class.as_str(),
                registry,
            })
            .inc();
    }

    /// Records a denial that audit mode did not enforce.
    pub fn would_deny(&self, kind: &str, policy: &str) {
        self.would_deny
            .get_or_create(&WouldDenyLabels {
                kind: kind_label(kind),
                policy: policy.to_owned(),
            })
            .inc();
    }

    /// Counts a review in flight until the guard is dropped.
    pub fn inflight(&self) -> InflightGuard<'_> {
        self.inflight.inc();
        InflightGuard(&self.inflight)
    }

    /// Records one registry request and, when it failed, its class.
    pub fn registry_request(&self, host: &str, elapsed: Duration, error: Option<VerdictClass>) {
        let registry = self.host_label(host);
        self.registry_duration
            .get_or_create(&RegistryLabels {
                registry: registry.clone(),
            })
            .observe(elapsed.as_secs_f64());
        if let Some(class) = error {
            self.registry_errors
                .get_or_create(&RegistryErrorLabels {
                    registry,
                    class: class.as_str(),
                })
                .inc();
        }
    }

    /// Counts a connection the egress rule refused (`reason` from a closed set).
    pub fn egress_refused(&self, reason: &'static str) {
        self.egress.refused(reason);
    }

    /// Sets how many unlisted registries have state now.
    pub fn registry_hosts(&self, tracked: usize) {
        self.egress.hosts(tracked);
    }

    /// Records one token fetch from the token server at `realm_host`. Both results of a
    /// realm exist from its first fetch on, so an error rate reads 0, not "no data".
    pub fn token_fetch(&self, realm_host: &str, ok: bool) {
        let realm = self.host_label(realm_host);
        let (counted, other) = if ok { ("ok", "error") } else { ("error", "ok") };
        let _ = self.token_fetches.get_or_create(&TokenLabels {
            realm: realm.clone(),
            result: other,
        });
        self.token_fetches
            .get_or_create(&TokenLabels {
                realm,
                result: counted,
            })
            .inc();
    }

    /// Replaces every `landed_image_availability` series with the given ones (value 1).
    pub fn set_availability(&self, series: impl IntoIterator<Item = AvailabilityLabels>) {
        self.availability.clear();
        for labels in series {
            self.availability.get_or_create(&labels).set(1);
        }
    }

    /// Records one background scan.
    pub fn audit_scan(&self, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.scans.get_or_create(&ScanLabels { result }).inc();
    }
}

/// Decrements the in-flight gauge when dropped.
#[derive(Debug)]
pub struct InflightGuard<'a>(&'a Gauge);

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_named_and_build_info_is_set() {
        let m = Metrics::new();
        m.review(
            ReviewLabels {
                kind: "Pod",
                operation: "CREATE",
                mode: "enforce",
                decision: "deny",
            },
            "validate",
            Duration::from_millis(3),
        );
        m.verdict(VerdictClass::Absent, "reg.example");
        let text = m.encode();
        assert!(text.contains("landed_reviews_total{kind=\"Pod\",operation=\"CREATE\",mode=\"enforce\",decision=\"deny\"} 1"), "{text}");
        assert!(text.contains("landed_build_info{version=\""), "{text}");
        assert!(
            text.contains("landed_admission_duration_seconds_count{endpoint=\"validate\"} 1"),
            "{text}"
        );
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
    }

    #[test]
    fn error_and_stale_series_read_zero_before_the_first_one() {
        let m = Metrics::new();
        m.token_fetch("auth.example", true);
        let text = m.encode();
        for series in [
            "landed_registry_token_fetches_total{realm=\"auth.example\",result=\"error\"} 0",
            "landed_registry_token_fetches_total{realm=\"auth.example\",result=\"ok\"} 1",
            "landed_cache_lookups_total{result=\"stale\"} 0",
        ] {
            assert!(text.contains(series), "{series} in {text}");
        }
    }

    #[test]
    fn inflight_goes_back_down() {
        let m = Metrics::new();
        {
            let _a = m.inflight();
            let _b = m.inflight();
            assert_eq!(m.inflight.get(), 2);
        }
        assert_eq!(m.inflight.get(), 0);
    }
}
