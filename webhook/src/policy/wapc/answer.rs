//! A Kubewarden policy's answers mapped onto landed's: `validate` gives a
//! `ValidationResponse`, `validate_settings` a `SettingsValidationResponse`,
//! `protocol_version` a JSON string.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::policy::{ObjectText, PolicyError, PolicyOutput};

/// The protocol version landed speaks.
pub const PROTOCOL_VERSION: &str = "v1";

/// Kubewarden's `ValidationResponse`.
#[derive(Deserialize)]
struct ValidationResponse {
    accepted: bool,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    mutated_object: Option<serde_json::Value>,
    #[serde(default)]
    audit_annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    warnings: Option<Vec<String>>,
}

/// Kubewarden's `SettingsValidationResponse`.
#[derive(Deserialize)]
struct SettingsResponse {
    valid: bool,
    #[serde(default)]
    message: Option<String>,
}

/// landed's answer for a `validate` response. `mutated_object` becomes a JSON Patch from
/// `object` (only when `mutating`: `/validate` never patches); a `code` is kept in the
/// message; audit annotations are logged under the policy's name.
pub fn validation(
    policy: &str,
    bytes: &[u8],
    object: &ObjectText,
    mutating: bool,
) -> Result<PolicyOutput, PolicyError> {
    let invalid = |reason: String| PolicyError::InvalidOutput {
        policy: policy.to_owned(),
        reason,
    };
    let answer: ValidationResponse = serde_json::from_slice(bytes).map_err(|e| {
        invalid(format!(
            "expected a Kubewarden ValidationResponse {{\"accepted\": bool, \"message\"?, \
             \"code\"?, \"mutated_object\"?, \"audit_annotations\"?, \"warnings\"?}}: {e}"
        ))
    })?;
    let message = match (answer.message, answer.code) {
        (Some(message), Some(code)) => Some(format!("{message} (code {code})")),
        (Some(message), None) => Some(message),
        (None, Some(code)) => Some(format!("denied by policy {policy} (code {code})")),
        (None, None) => None,
    };
    if let Some(annotations) = answer.audit_annotations.filter(|a| !a.is_empty()) {
        tracing::info!(policy, annotations = ?annotations, "policy audit annotations");
    }
    let patch = match (answer.mutated_object, mutating) {
        (Some(mutated), true) => {
            let original: serde_json::Value = serde_json::from_str(object.json().get())
                .map_err(|e| invalid(format!("the reviewed object does not decode: {e}")))?;
            if !original.is_object() || !mutated.is_object() {
                return Err(invalid(
                    "mutated_object must be an object, for a request with an object".into(),
                ));
            }
            let patch = json_patch::diff(&original, &mutated);
            (!patch.0.is_empty()).then_some(patch)
        }
        _ => None,
    };
    Ok(PolicyOutput {
        allowed: answer.accepted,
        message,
        warnings: answer.warnings.unwrap_or_default(),
        patch,
    })
}

/// `validate_settings`'s verdict: `Ok(Err(message))` when the policy refuses them.
pub fn settings(bytes: &[u8]) -> Result<Result<(), String>, String> {
    let answer: SettingsResponse = serde_json::from_slice(bytes).map_err(|e| {
        format!("validate_settings must answer {{\"valid\": bool, \"message\"?}}: {e}")
    })?;
    Ok(match answer.valid {
        true => Ok(()),
        false => Err(answer
            .message
            .unwrap_or_else(|| "refused without a message".into())),
    })
}

/// The protocol version a policy answered.
pub fn protocol_version(bytes: &[u8]) -> Result<String, String> {
    serde_json::from_slice::<String>(bytes).map_err(|e| {
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(64)]).into_owned();
        format!("protocol_version must answer a JSON string such as \"v1\", not {shown:?}: {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object() -> ObjectText {
        ObjectText::from_value(&serde_json::json!({"metadata": {"name": "p"}, "spec": {}}))
    }

    #[test]
    fn a_mutated_object_becomes_a_patch_on_mutate_only() {
        let answer = br#"{"accepted":true,"mutated_object":{"metadata":{"name":"p","labels":{"a":"b"}},"spec":{}}}"#;
        let out = validation("kw", answer, &object(), true).unwrap_or_default();
        let patch = serde_json::to_value(&out.patch).unwrap_or_default();
        assert_eq!(
            patch,
            serde_json::json!([{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}])
        );
        let out = validation("kw", answer, &object(), false).unwrap_or_default();
        assert!(out.allowed && out.patch.is_none());
    }

    #[test]
    fn a_denial_keeps_message_code_and_warnings() {
        let answer = br#"{"accepted":false,"message":"privileged","code":403,"warnings":["w"]}"#;
        let out = validation("kw", answer, &object(), false).unwrap_or_default();
        assert!(!out.allowed);
        assert_eq!(out.message.as_deref(), Some("privileged (code 403)"));
        assert_eq!(out.warnings, ["w"]);
    }

    #[test]
    fn garbage_answers_are_invalid_output() {
        for bad in [
            &b"not json"[..],
            br#"{"allowed":true}"#,
            br#"{"accepted":"yes"}"#,
        ] {
            let err = validation("kw", bad, &object(), false).err();
            assert!(
                matches!(err, Some(PolicyError::InvalidOutput { .. })),
                "{bad:?}"
            );
        }
        let err = validation(
            "kw",
            br#"{"accepted":true,"mutated_object":5}"#,
            &object(),
            true,
        );
        assert!(matches!(err, Err(PolicyError::InvalidOutput { .. })));
    }

    #[test]
    fn settings_and_protocol_answers_are_read() {
        assert_eq!(settings(br#"{"valid":true}"#), Ok(Ok(())));
        assert_eq!(
            settings(br#"{"valid":false,"message":"bad"}"#),
            Ok(Err("bad".into()))
        );
        assert!(settings(b"[]").is_err());
        assert_eq!(protocol_version(br#""v1""#).as_deref(), Ok("v1"));
        assert!(protocol_version(b"v1").is_err());
    }
}
