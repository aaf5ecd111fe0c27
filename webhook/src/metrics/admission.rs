//! What one admission review adds to the metrics.

use std::time::Duration;

use kube::core::admission::{AdmissionResponse, Operation};

use super::{kind_label, Metrics, NamespaceLabels, ReviewLabels};
use crate::admission::{Breakglass, Outcome, Request, Route};
use crate::mode::Mode;

/// The `operation` label value.
pub fn operation_label(operation: &Operation) -> &'static str {
    match operation {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Connect => "CONNECT",
    }
}

/// The registry host of a normalized reference (`host/repo:tag`), `none` when it did not parse.
pub fn registry_of(normalized: Option<&str>) -> &str {
    normalized
        .and_then(|n| n.split('/').next())
        .filter(|h| !h.is_empty())
        .unwrap_or("none")
}

/// One review's outcome as seen by the metrics.
pub struct ReviewRecord<'a> {
    /// The request.
    pub request: &'a Request,
    /// The namespace's mode.
    pub mode: Mode,
    /// Which webhook path.
    pub endpoint: Route,
    /// What the pipeline decided.
    pub outcome: &'a Outcome,
    /// The answer sent.
    pub response: &'a AdmissionResponse,
    /// Time taken.
    pub elapsed: Duration,
}

impl Metrics {
    /// Records a review: its count and latency, each image's verdict, and the denials audit
    /// mode did not enforce (counted on `/validate` only, so a mutating hook adds nothing).
    pub fn admission(&self, record: ReviewRecord<'_>) {
        let kind = kind_label(&record.request.kind.kind);
        let endpoint = match record.endpoint {
            Route::Validate => "validate",
            Route::Mutate => "mutate",
        };
        self.review(
            ReviewLabels {
                kind,
                operation: operation_label(&record.request.operation),
                mode: record.mode.as_str(),
                decision: record.outcome.decision(record.response),
            },
            endpoint,
            record.elapsed,
        );
        let Outcome::Evaluated(evaluation) = record.outcome else {
            return;
        };
        for image in &evaluation.images {
            self.verdict(image.verdict, registry_of(image.normalized.as_deref()));
        }
        if record.endpoint == Route::Validate {
            for denial in evaluation.denials.iter().filter(|d| d.mode == Mode::Audit) {
                self.would_deny(kind, &denial.policy);
            }
            // Counted on /validate only: with pinning on, the same object also passes /mutate.
            if let Some(breakglass) = &evaluation.breakglass {
                self.breakglass(breakglass, record.request.namespace.as_deref());
            }
        }
    }

    /// Records a breakglass use or a refused attempt in `namespace`.
    pub fn breakglass(&self, breakglass: &Breakglass, namespace: Option<&str>) {
        let labels = NamespaceLabels {
            namespace: self.namespaces.label(namespace.unwrap_or("")),
        };
        let family = match breakglass {
            Breakglass::Used { .. } => &self.breakglass,
            Breakglass::Refused { .. } => &self.breakglass_refused,
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
        let used = Breakglass::Used {
            reason: "INC-1".into(),
            user: "alice".into(),
            skipped: vec!["require-landed".into()],
        };
        let refused = Breakglass::Refused {
            reason: "INC-1".into(),
            user: "mallory".into(),
        };
        m.breakglass(&used, Some("shop"));
        m.breakglass(&used, Some("shop"));
        m.breakglass(&refused, Some("pay"));
        let text = m.encode();
        assert!(
            text.contains("landed_breakglass_total{namespace=\"shop\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("landed_breakglass_refused_total{namespace=\"pay\"} 1"),
            "{text}"
        );
        // Neither the user nor the reason becomes a label.
        assert!(!text.contains("alice") && !text.contains("INC-1"), "{text}");
    }

    #[test]
    fn registry_is_the_first_segment_of_the_normalized_reference() {
        assert_eq!(registry_of(Some("docker.io/library/nginx:1")), "docker.io");
        assert_eq!(
            registry_of(Some("127.0.0.1:5000/a/b@sha256:x")),
            "127.0.0.1:5000"
        );
        assert_eq!(registry_of(None), "none");
    }
}
