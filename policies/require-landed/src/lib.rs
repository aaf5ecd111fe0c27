//! `require-landed`, the core rule: every image must have landed in its registry.
//!
//! Definite failures (absent, digest_mismatch, invalid_reference) deny; undetermined
//! verdicts (unauthorized, forbidden, rate_limited, unavailable) deny or warn per
//! `context.onUndetermined`; a landed verdict served stale from cache warns.
//! No settings.

use landed_policy_sdk::{Image, Input, OnUndetermined, Output, Verdict};

/// One line naming the container, path, image, verdict, evidence and remedy.
fn describe(image: &Image) -> String {
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

/// Decides one review.
pub fn validate(input: &Input, _settings: &serde_json::Value) -> Output {
    let deny_undetermined = input.context.on_undetermined == OnUndetermined::Deny;
    let mut denials = Vec::new();
    let mut warnings = Vec::new();
    for image in &input.images {
        let verdict = image.verdict;
        if verdict.is_definite_failure() || (verdict.is_undetermined() && deny_undetermined) {
            denials.push(describe(image));
        } else if verdict.is_undetermined() {
            warnings.push(format!("could not verify: {}", describe(image)));
        } else if image.stale && verdict == Verdict::Landed {
            warnings.push(format!(
                "image {:?} verified from cache only (registry unreachable now)",
                image.reference
            ));
        }
    }
    Output {
        allowed: denials.is_empty(),
        message: (!denials.is_empty()).then(|| denials.join("; ")),
        warnings,
        patch: None,
    }
}

landed_policy_sdk::export_policy!(validate);

#[cfg(test)]
mod tests;
