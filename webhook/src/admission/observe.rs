//! What one admission review adds to the metrics: the pipeline's observer, handing the
//! metrics plain values.

use std::time::Duration;

use kube::core::admission::AdmissionResponse;

use super::review::operation_name;
use super::{Outcome, Request, Route};
use crate::metrics::{kind_label, registry_of, Metrics, ReviewLabels};
use crate::mode::Mode;

/// Told about every review once it is answered (e.g. the server's audit Events); must not
/// block: the review's answer waits for it.
pub trait ReviewObserver: Send + Sync {
    /// After `req` was answered on `route` with `outcome`.
    fn after_review(&self, req: &Request, route: Route, outcome: &Outcome);
}

/// One review's outcome as seen by the metrics.
pub struct ReviewRecord<'a> {
    /// The request.
    pub request: &'a Request,
    /// The namespace's mode.
    pub mode: Mode,
    /// Which webhook path.
    pub route: Route,
    /// What the pipeline decided.
    pub outcome: &'a Outcome,
    /// The answer sent.
    pub response: &'a AdmissionResponse,
    /// Time taken.
    pub elapsed: Duration,
}

impl ReviewRecord<'_> {
    /// Records the review: its count and latency, each image's verdict, and the denials
    /// audit mode did not enforce (counted on `/validate` only, so a mutating hook adds
    /// nothing).
    pub fn record(&self, metrics: &Metrics) {
        let kind = kind_label(&self.request.kind.kind);
        metrics.review(
            ReviewLabels {
                kind,
                operation: operation_name(&self.request.operation),
                mode: self.mode.as_str(),
                decision: self.outcome.decision(self.response),
            },
            self.route.as_str(),
            self.elapsed,
        );
        let Outcome::Evaluated(evaluation) = self.outcome else {
            return;
        };
        for image in &evaluation.images {
            metrics.verdict(image.verdict, registry_of(image.normalized.as_deref()));
        }
        if self.route == Route::Validate {
            for denial in evaluation.denials.iter().filter(|d| d.mode == Mode::Audit) {
                metrics.would_deny(kind, &denial.policy);
            }
            // Counted on /validate only: with pinning on, the same object also passes /mutate.
            if let Some(breakglass) = &evaluation.breakglass {
                metrics.breakglass(breakglass.is_used(), self.request.namespace.as_deref());
            }
        }
    }
}
