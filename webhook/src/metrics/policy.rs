//! Policy families: call latency, failures, reused answers and load state.

use std::time::Duration;

use prometheus_client::registry::{Registry, Unit};

use super::{Metrics, PolicyFailureLabels, PolicyLabels};

/// Why a policy call gave no usable answer, as a label value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyFailure {
    /// The guest trapped or the host failed.
    Trap,
    /// The call ran past its deadline.
    Timeout,
    /// The answer broke the contract.
    InvalidOutput,
    /// No version of the policy has loaded (its `failurePolicy` decided).
    NotLoaded,
}

impl Metrics {
    /// Registers the policy families under `registry`.
    pub(super) fn register_policy_families(&self, r: &mut Registry) {
        r.register_with_unit(
            "policy_duration",
            "Policy calls by policy",
            Unit::Seconds,
            self.policy_duration.clone(),
        );
        r.register(
            "policy_failures",
            "Policy calls without a usable answer, by policy and reason",
            self.policy_failures.clone(),
        );
        r.register(
            "policy_answers_reused",
            "Reviews answered with a policy's earlier answer to identical input, by policy",
            self.policy_reused.clone(),
        );
        r.register(
            "policy_loaded",
            "Whether a working version of each configured policy is serving (1) or not (0); \
             the log has the source and the load error",
            self.policy_loaded.clone(),
        );
    }

    /// Records one policy call and, when it gave no usable answer, why.
    pub fn policy_call(&self, policy: &str, elapsed: Duration, failure: Option<PolicyFailure>) {
        self.policy_duration
            .get_or_create(&PolicyLabels {
                policy: policy.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
        if let Some(failure) = failure {
            self.policy_failure(policy, failure);
        }
    }

    /// Records a policy answer reused for identical input (no call made).
    pub fn policy_answer_reused(&self, policy: &str) {
        self.policy_reused
            .get_or_create(&PolicyLabels {
                policy: policy.to_owned(),
            })
            .inc();
    }

    /// Records a policy that gave no usable answer (without a call, when it is not loaded).
    pub fn policy_failure(&self, policy: &str, failure: PolicyFailure) {
        let reason = match failure {
            PolicyFailure::Trap => "trap",
            PolicyFailure::Timeout => "timeout",
            PolicyFailure::InvalidOutput => "invalid_output",
            PolicyFailure::NotLoaded => "not_loaded",
        };
        self.policy_failures
            .get_or_create(&PolicyFailureLabels {
                policy: policy.to_owned(),
                reason,
            })
            .inc();
    }

    /// Replaces the `landed_policy_loaded` series with the load state of `policies` (the
    /// configured ones: names from landed.yaml, so the label set stays small).
    /// Each item is a policy's name and whether it is loaded.
    pub fn set_policy_status<'a>(&self, policies: impl IntoIterator<Item = (&'a str, bool)>) {
        self.policy_loaded.clear();
        for (name, loaded) in policies {
            self.policy_loaded
                .get_or_create(&PolicyLabels {
                    policy: name.to_owned(),
                })
                .set(i64::from(loaded));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_state_is_a_gauge_per_configured_policy() {
        let m = Metrics::new();
        m.set_policy_status([("require-landed", true), ("custom", false)]);
        let text = m.encode();
        assert!(
            text.contains("landed_policy_loaded{policy=\"require-landed\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("landed_policy_loaded{policy=\"custom\"} 0"),
            "{text}"
        );
        m.set_policy_status([]);
        assert!(!m.encode().contains("policy=\"custom\""));
    }
}
