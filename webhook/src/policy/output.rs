//! Checking a policy's answer against the contract.

use serde::Deserialize;

use super::{PolicyError, PolicyOutput};

/// Checks a policy's answer against the contract.
pub fn parse_output(
    policy: &str,
    json: &str,
    max_bytes: usize,
) -> Result<PolicyOutput, PolicyError> {
    let invalid = |reason: String| PolicyError::InvalidOutput {
        policy: policy.to_owned(),
        reason,
    };
    if json.len() > max_bytes {
        return Err(invalid(format!(
            "output is {} bytes, over the limit of {max_bytes}",
            json.len()
        )));
    }
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| invalid(format!("output is not JSON: {e}")))?;
    if value.get("allowed").is_none() {
        if let Some(error) = value.get("error").and_then(|e| e.as_str()) {
            return Err(PolicyError::Failed {
                policy: policy.to_owned(),
                reason: format!("reported an error: {error}"),
            });
        }
    }
    PolicyOutput::deserialize(&value).map_err(|e| {
        invalid(format!(
            "expected {{\"allowed\": bool, \"message\"?, \"warnings\"?, \"patch\"?}}: {e}"
        ))
    })
}
