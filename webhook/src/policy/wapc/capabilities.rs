//! The host capabilities a Kubewarden policy may call (binding `kubewarden`): the `oci`
//! lookups, answered by landed's resolver and registry client under the review's lookup
//! deadline, and `tracing/log`. Everything else Kubewarden's policy server offers
//! (Kubernetes lookups, sigstore verification, DNS, crypto, manifest configs) answers an
//! error naming the capability, which the policy sees as a failed host call.

use serde::Serialize;

use super::state::WapcState;
use crate::policy::host::MAX_REFERENCE_BYTES;
use crate::verdict::{Verdict, VerdictClass};

/// The only binding Kubewarden policies use.
pub const BINDING: &str = "kubewarden";

/// The capabilities landed answers, as `namespace operation` (docs and `inspect` list them).
pub const OFFERED: [&str; 3] = [
    "oci v1/manifest_digest",
    "oci v1/oci_manifest",
    "tracing log",
];

/// One `__host_call` as the guest named it.
pub struct Call<'a> {
    /// The waPC binding.
    pub binding: &'a str,
    /// The capability's namespace (`oci`, `tracing`, `kubernetes`, …).
    pub namespace: &'a str,
    /// The operation.
    pub operation: &'a str,
    /// The payload, JSON for every Kubewarden capability.
    pub payload: &'a [u8],
}

#[derive(Serialize)]
struct DigestAnswer {
    digest: String,
}

/// The answer to `call`: bytes for the guest, or the error text it reads back. The outer
/// error stops the guest (its lookup cap or time is spent).
pub fn answer(state: &mut WapcState, call: &Call<'_>) -> wasmtime::Result<Result<Vec<u8>, String>> {
    if call.binding != BINDING {
        return Ok(Err(format!(
            "binding `{}` is not offered by landed (only `{BINDING}`)",
            call.binding
        )));
    }
    Ok(match (call.namespace, call.operation) {
        ("oci", "v1/manifest_digest") => {
            state.count_lookup()?;
            manifest_digest(state, call.payload)
        }
        ("oci", "v1/oci_manifest") => {
            state.count_lookup()?;
            oci_manifest(state, call.payload)
        }
        ("tracing", "log") => {
            log(state, call.payload);
            Ok(Vec::new())
        }
        (namespace, operation) => Err(not_offered(namespace, operation)),
    })
}

/// The error for a capability landed does not offer, naming it and what is offered.
fn not_offered(namespace: &str, operation: &str) -> String {
    let what = match (namespace, operation) {
        ("kubernetes", _) => "Kubernetes lookups",
        ("oci", op) if op.ends_with("/verify") => "sigstore verification",
        ("oci", _) => "this OCI operation",
        ("net", _) => "DNS lookups",
        ("crypto", _) => "certificate verification",
        _ => "this capability",
    };
    format!(
        "capability kubewarden/{namespace}/{operation} is not offered by landed ({what}); \
         landed offers: {}",
        OFFERED.join(", ")
    )
}

/// The image reference of an `oci` call: a JSON string.
fn reference(payload: &[u8]) -> Result<String, String> {
    let reference: String = serde_json::from_slice(payload)
        .map_err(|e| format!("the payload must be a JSON string image reference: {e}"))?;
    if reference.len() > MAX_REFERENCE_BYTES {
        let len = reference.len();
        return Err(format!(
            "invalid_reference: a reference of {len} bytes is longer than any valid one"
        ));
    }
    Ok(reference)
}

/// An image that did not land, as the policy reads it: the verdict class first.
fn refused(verdict: &Verdict) -> String {
    format!("{}: {}", verdict.class, verdict.detail)
}

fn manifest_digest(state: &mut WapcState, payload: &[u8]) -> Result<Vec<u8>, String> {
    let reference = reference(payload)?;
    let (_, verdict) = state.lookups.verdict(&reference);
    tracing::debug!(policy = %state.policy, reference, verdict = %verdict.class, "policy oci/v1/manifest_digest");
    match (verdict.class, &verdict.digest) {
        (VerdictClass::Landed, Some(digest)) => {
            let answer = DigestAnswer {
                digest: digest.to_string(),
            };
            serde_json::to_vec(&answer).map_err(|e| e.to_string())
        }
        _ => Err(refused(&verdict)),
    }
}

fn oci_manifest(state: &mut WapcState, payload: &[u8]) -> Result<Vec<u8>, String> {
    let reference = reference(payload)?;
    let answer = state.lookups.manifest(&reference);
    let class = answer
        .as_ref()
        .map_or_else(|v| v.class, |_| VerdictClass::Landed);
    tracing::debug!(policy = %state.policy, reference, verdict = %class, "policy oci/v1/oci_manifest");
    answer.map(|body| body.to_vec()).map_err(|v| refused(&v))
}

/// `tracing/log`: the SDK's JSON event (`level`, `message`, fields) to landed's log, bounded.
fn log(state: &mut WapcState, payload: &[u8]) {
    let granted = state.log_budget(payload.len());
    let Some(text) = payload.get(..granted).filter(|t| !t.is_empty()) else {
        return;
    };
    let text = String::from_utf8_lossy(text);
    let level = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("level").and_then(|l| l.as_str()).map(str::to_owned));
    let policy = &state.policy;
    match level.as_deref() {
        Some("error") | Some("critical") => {
            tracing::error!(policy = %policy, event = %text, "policy log")
        }
        Some("warning") | Some("warn") => {
            tracing::warn!(policy = %policy, event = %text, "policy log")
        }
        Some("debug") | Some("trace") => {
            tracing::debug!(policy = %policy, event = %text, "policy log")
        }
        _ => tracing::info!(policy = %policy, event = %text, "policy log"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unoffered_capabilities_are_named_with_what_is_offered() {
        let text = not_offered("kubernetes", "list_resources_by_namespace");
        assert!(
            text.contains("kubewarden/kubernetes/list_resources_by_namespace")
                && text.contains("Kubernetes lookups")
                && text.contains("oci v1/manifest_digest"),
            "{text}"
        );
        assert!(not_offered("oci", "v1/oci_manifest_config").contains("this OCI operation"));
        assert!(not_offered("oci", "v2/verify").contains("sigstore verification"));
    }

    #[test]
    fn a_reference_must_be_a_json_string_of_bounded_length() {
        assert_eq!(
            reference(br#""ghcr.io/a/b:1""#).as_deref(),
            Ok("ghcr.io/a/b:1")
        );
        assert!(reference(b"ghcr.io/a/b:1").is_err());
        let long = serde_json::to_vec(&"a".repeat(2000)).unwrap_or_default();
        let err = reference(&long).err().unwrap_or_default();
        assert!(err.starts_with("invalid_reference: "), "{err}");
    }
}
