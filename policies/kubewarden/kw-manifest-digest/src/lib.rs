//! `kw-manifest-digest`: a Kubewarden policy (waPC, protocol v1) that asks its host for the
//! manifest digest of every container image of a Pod or pod-template workload, through the
//! SDK's `oci` `v1/manifest_digest` host capability.
//!
//! An image whose digest the host cannot give is denied with the host's own error text (in
//! landed it starts with the verdict class, `absent`, `unavailable`, …); otherwise the object
//! is accepted with one warning per container naming the digest its image resolves to.
//! No settings.

use std::collections::BTreeMap;

use guest::prelude::*;
use kubewarden_policy_sdk::wapc_guest as guest;

use k8s_openapi::api::core::v1::PodSpec;
use serde::{Deserialize, Serialize};

extern crate kubewarden_policy_sdk as kubewarden;
use kubewarden::host_capabilities::oci::{get_manifest_digest, ManifestDigestResponse};
use kubewarden::response::ValidationResponse;
use kubewarden::{protocol_version_guest, request::ValidationRequest, validate_settings};

/// No settings: `{}` (or none); any field is refused.
#[derive(Serialize, Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct Settings {}

impl kubewarden::settings::Validatable for Settings {
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Registers the waPC operations; the host calls this once after instantiation.
#[no_mangle]
pub extern "C" fn wapc_init() {
    register_function("validate", validate);
    register_function("validate_settings", validate_settings::<Settings>);
    register_function("protocol_version", protocol_version_guest);
}

/// Every container of a pod spec that names an image: (`container "name"`, image), in spec
/// order (init containers, containers, ephemeral containers).
fn container_images(spec: &PodSpec) -> Vec<(String, String)> {
    let init = spec.init_containers.iter().flatten();
    let ephemeral = spec.ephemeral_containers.iter().flatten();
    init.filter_map(|c| Some((format!("initContainer {:?}", c.name), c.image.clone()?)))
        .chain(
            spec.containers
                .iter()
                .filter_map(|c| Some((format!("container {:?}", c.name), c.image.clone()?))),
        )
        .chain(
            ephemeral.filter_map(|c| {
                Some((format!("ephemeralContainer {:?}", c.name), c.image.clone()?))
            }),
        )
        .collect()
}

/// Looks every image up once through `lookup` and answers: rejected with every failure, or
/// accepted with every digest as a warning.
fn decide<F>(spec: &PodSpec, mut lookup: F) -> ValidationResponse
where
    F: FnMut(&str) -> kubewarden::Result<ManifestDigestResponse>,
{
    let mut answers: BTreeMap<String, Result<String, String>> = BTreeMap::new();
    let mut digests = Vec::new();
    let mut failures = Vec::new();
    for (container, image) in container_images(spec) {
        let answer = answers
            .entry(image.clone())
            .or_insert_with(|| lookup(&image).map(|r| r.digest).map_err(|e| e.to_string()));
        match answer {
            Ok(digest) => digests.push(format!("{container} image {image:?} is {digest}")),
            Err(why) => failures.push(format!("{container} image {image:?}: {why}")),
        }
    }
    let accepted = failures.is_empty();
    ValidationResponse {
        accepted,
        message: (!accepted).then(|| failures.join("; ")),
        code: None,
        mutated_object: None,
        audit_annotations: None,
        warnings: (accepted && !digests.is_empty()).then_some(digests),
    }
}

/// The `validate` operation.
pub fn validate(payload: &[u8]) -> CallResult {
    let validation_request: ValidationRequest<Settings> = ValidationRequest::new(payload)?;
    let spec = match validation_request.extract_pod_spec_from_object() {
        Ok(Some(spec)) => spec,
        Ok(None) => return kubewarden::accept_request(),
        // Not a Pod or a pod-template workload: no images to look at.
        Err(kubewarden::Error::Validation(_)) => return kubewarden::accept_request(),
        Err(e) => {
            return kubewarden::reject_request(
                Some(format!(
                    "cannot read the {}: {e}",
                    validation_request.request.kind.kind
                )),
                Some(400),
                None,
                None,
            )
        }
    };
    Ok(serde_json::to_vec(&decide(&spec, get_manifest_digest))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// The validate payload for an AdmissionReview fixture (the same files the case file uses).
    fn payload(fixture: &str) -> Vec<u8> {
        let path = format!("{}/../{fixture}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect(&path);
        let review: Value = serde_json::from_str(&text).expect(&path);
        serde_json::to_vec(&json!({"request": review["request"], "settings": {}})).expect("encode")
    }

    fn spec(fixture: &str) -> PodSpec {
        let request: ValidationRequest<Settings> =
            ValidationRequest::new(&payload(fixture)).expect("request");
        request
            .extract_pod_spec_from_object()
            .expect("a workload")
            .expect("a pod spec")
    }

    /// A host error as wapc-guest reports it, with `text` as the host's error message.
    fn host_error(text: &str) -> kubewarden::Error {
        kubewarden::Error::HostCall {
            operation: "oci.manifest_digest".to_owned(),
            source: text.into(),
        }
    }

    fn digest_of(image: &str) -> String {
        format!("sha256:{:064x}", image.len())
    }

    #[test]
    fn every_image_resolved_is_accepted_with_its_digest() {
        let mut asked = Vec::new();
        let answer = decide(&spec("../testdata/pod-review.json"), |image| {
            asked.push(image.to_owned());
            Ok(ManifestDigestResponse {
                digest: digest_of(image),
            })
        });
        assert!(answer.accepted);
        assert_eq!(
            asked,
            ["gcr.io/shop/migrate:2.0", "gcr.io/shop/app:1.4.2", "nginx"]
        );
        let warnings = answer.warnings.expect("warnings");
        assert_eq!(
            warnings[1],
            format!(
                "container \"app\" image \"gcr.io/shop/app:1.4.2\" is {}",
                digest_of("gcr.io/shop/app:1.4.2")
            )
        );
        assert_eq!(warnings.len(), 3);
    }

    #[test]
    fn an_image_the_host_cannot_resolve_is_rejected_with_the_host_text() {
        let answer = decide(&spec("../testdata/pod-review.json"), |image| {
            if image == "nginx" {
                Err(host_error("absent: MANIFEST_UNKNOWN (404)"))
            } else {
                Ok(ManifestDigestResponse {
                    digest: digest_of(image),
                })
            }
        });
        assert!(!answer.accepted);
        assert_eq!(
            answer.message.as_deref(),
            Some("container \"proxy\" image \"nginx\": error invoking host capability oci.manifest_digest: absent: MANIFEST_UNKNOWN (404)")
        );
        assert!(answer.warnings.is_none());
    }

    #[test]
    fn an_image_used_twice_is_asked_once_and_named_for_each_container() {
        let mut calls = 0;
        let answer = decide(&spec("testdata/ephemeral-debug-pod.json"), |_| {
            calls += 1;
            Err(host_error("unavailable: registry timed out"))
        });
        assert_eq!(calls, 2, "busybox and the app image, once each");
        let message = answer.message.expect("message");
        assert!(message.contains("container \"app\""), "{message}");
        assert!(
            message.contains("ephemeralContainer \"debugger\""),
            "{message}"
        );
    }

    #[test]
    fn without_a_host_the_real_sdk_call_fails_and_the_pod_is_rejected() {
        // Natively the SDK links its stand-in waPC imports, whose host call always fails:
        // the real `get_manifest_digest` path, ending in a rejection rather than a panic.
        let answer = validate(&payload("../testdata/pod-review.json")).expect("answer");
        let answer: ValidationResponse = serde_json::from_slice(&answer).expect("response");
        assert!(!answer.accepted);
        let message = answer.message.expect("message");
        assert!(
            message.starts_with("initContainer \"migrate\" image \"gcr.io/shop/migrate:2.0\": error invoking host capability oci.manifest_digest"),
            "{message}"
        );
    }

    #[test]
    fn objects_without_a_pod_spec_are_accepted_without_host_calls() {
        let answer = validate(&payload("testdata/configmap-review.json")).expect("answer");
        let answer: ValidationResponse = serde_json::from_slice(&answer).expect("response");
        assert!(answer.accepted);
    }

    #[test]
    fn settings_must_be_empty() {
        let refused = validate_settings::<Settings>(br#"{"registry": "x"}"#);
        let error = refused.expect_err("unknown field").to_string();
        assert!(error.contains("unknown field `registry`"), "{error}");
        let accepted = validate_settings::<Settings>(b"{}").expect("answer");
        let accepted: Value = serde_json::from_slice(&accepted).expect("json");
        assert_eq!(accepted["valid"], true);
    }
}
