//! The core rule in native code, used until the WebAssembly host replaces it.

use futures::future::BoxFuture;

use super::{ImageInput, Policy, PolicyError, PolicyInput, PolicyOutput};
use crate::config::OnUndetermined;
use crate::verdict::VerdictClass;

/// "Every image must have landed": definite failures deny, undetermined verdicts follow
/// `onUndetermined`.
pub struct RequireLanded;

fn describe(image: &ImageInput) -> String {
    let mut line = format!(
        "container {:?} ({}) image {:?} is {}",
        image.container, image.path, image.reference, image.verdict
    );
    if !image.detail.is_empty() {
        line.push_str(": ");
        line.push_str(&image.detail);
    }
    line.push_str(" — ");
    line.push_str(image.verdict.remedy());
    line
}

impl Policy for RequireLanded {
    fn name(&self) -> &str {
        "require-landed"
    }

    fn evaluate<'a>(
        &'a self,
        input: &'a PolicyInput,
    ) -> BoxFuture<'a, Result<PolicyOutput, PolicyError>> {
        let deny_undetermined = input.context.on_undetermined == OnUndetermined::Deny;
        let mut denials = Vec::new();
        let mut warnings = Vec::new();
        for image in &input.images {
            let class = image.verdict;
            if class.is_definite_failure() || (class.is_undetermined() && deny_undetermined) {
                denials.push(describe(image));
            } else if class.is_undetermined() {
                warnings.push(format!("could not verify: {}", describe(image)));
            } else if image.stale && class == VerdictClass::Landed {
                warnings.push(format!(
                    "image {:?} verified from cache only (registry unreachable now)",
                    image.reference
                ));
            }
        }
        let output = PolicyOutput {
            allowed: denials.is_empty(),
            message: (!denials.is_empty()).then(|| denials.join("; ")),
            warnings,
            patch: None,
        };
        Box::pin(async move { Ok(output) })
    }
}
