//! Breakglass families: uses and refused attempts by namespace.

use super::{Metrics, NamespaceLabels};

impl Metrics {
    /// Records a breakglass use (`used`) or a refused attempt in `namespace`.
    pub fn breakglass(&self, used: bool, namespace: Option<&str>) {
        let labels = NamespaceLabels {
            namespace: self.namespaces.label(namespace.unwrap_or("")),
        };
        let family = if used {
            &self.breakglass
        } else {
            &self.breakglass_refused
        };
        family.get_or_create(&labels).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breakglass_uses_and_refusals_are_counted_apart_by_namespace() {
        let m = Metrics::new();
        m.breakglass(true, Some("shop"));
        m.breakglass(true, Some("shop"));
        m.breakglass(false, Some("pay"));
        let text = m.encode();
        assert!(
            text.contains("landed_breakglass_total{namespace=\"shop\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("landed_breakglass_refused_total{namespace=\"pay\"} 1"),
            "{text}"
        );
    }
}
