//! What the server serves with: the serving certificate's expiry and the webhook timeout the
//! budgets stay below, so alerts compare against the running values, not a copy of them.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use super::Metrics;

/// The serving families.
#[derive(Debug, Default)]
pub struct ServingMetrics {
    not_after: Gauge,
    webhook_timeout: Gauge<f64, AtomicU64>,
}

impl ServingMetrics {
    /// Adds the families to `registry` (already prefixed `landed`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register_with_unit(
            "tls_certificate_not_after",
            "When the serving certificate now in use expires (Unix time); set at start and at \
             every reload",
            Unit::Seconds,
            self.not_after.clone(),
        );
        registry.register_with_unit(
            "webhook_timeout",
            "The webhook's timeoutSeconds as configured (server.webhookTimeout)",
            Unit::Seconds,
            self.webhook_timeout.clone(),
        );
    }
}

impl Metrics {
    /// Records the expiry (Unix seconds) of the serving certificate just loaded.
    pub fn serving_certificate(&self, not_after_unix: i64) {
        self.serving.not_after.set(not_after_unix);
    }

    /// Records the webhook timeout the server was configured with.
    pub fn webhook_timeout(&self, timeout: Duration) {
        self.serving.webhook_timeout.set(timeout.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_and_timeout_are_exposed_in_seconds() {
        let m = Metrics::new();
        m.serving_certificate(1_900_000_000);
        m.webhook_timeout(Duration::from_millis(2500));
        let text = m.encode();
        assert!(
            text.contains("landed_tls_certificate_not_after_seconds 1900000000\n"),
            "{text}"
        );
        assert!(
            text.contains("landed_webhook_timeout_seconds 2.5\n"),
            "{text}"
        );
        m.serving_certificate(1_900_086_400);
        assert!(m
            .encode()
            .contains("landed_tls_certificate_not_after_seconds 1900086400\n"));
    }
}
