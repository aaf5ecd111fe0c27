//! Policy doubles for tests of the pipeline's plumbing; the real rules are WebAssembly and
//! are tested in policy_*.

use futures::future::BoxFuture;
use landed::policy::{Policy, PolicyError, PolicyOutput, PreparedInput};
use landed::verdict::VerdictClass;

/// Policy double: denies every image that did not land, naming container, path and verdict.
/// The field is the policy's name (it shows in messages and metric labels).
pub struct DenyUnlanded(pub &'static str);

impl Policy for DenyUnlanded {
    fn name(&self) -> &str {
        self.0
    }
    fn evaluate<'a>(
        &'a self,
        input: &'a PreparedInput<'_>,
        _settings: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<PolicyOutput, PolicyError>> {
        let input = input.input();
        let bad: Vec<String> = input
            .images
            .iter()
            .filter(|i| i.verdict != VerdictClass::Landed)
            .map(|i| {
                format!(
                    "container {} ({}) is {}: {}",
                    i.container, i.path, i.verdict, i.detail
                )
            })
            .collect();
        let patch = input.context.mutating.then(|| {
            serde_json::from_value(serde_json::json!([
                {"op": "add", "path": "/metadata/labels/checked", "value": "yes"}
            ]))
            .expect("valid patch")
        });
        let out = PolicyOutput {
            allowed: bad.is_empty(),
            message: (!bad.is_empty()).then(|| bad.join("; ")),
            warnings: vec![],
            patch,
        };
        Box::pin(async move { Ok(out) })
    }
}
