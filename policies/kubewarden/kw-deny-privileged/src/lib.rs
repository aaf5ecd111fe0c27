//! `kw-deny-privileged`: a Kubewarden policy (waPC, protocol v1) that denies Pods and
//! pod-template workloads running a privileged container, init container or ephemeral
//! container, except in the namespaces its settings exempt.
//!
//! Written against the published `kubewarden-policy-sdk` the way Kubewarden's Rust policy
//! template writes policies, so that landed is tested with a policy as Kubewarden users write
//! them. It logs through the SDK's `KubewardenDrain` (the host's `tracing` capability).

use std::sync::LazyLock;

use guest::prelude::*;
use kubewarden_policy_sdk::wapc_guest as guest;

use k8s_openapi::api::core::v1::{PodSpec, SecurityContext};

extern crate kubewarden_policy_sdk as kubewarden;
use kubewarden::{logging, protocol_version_guest, request::ValidationRequest, validate_settings};

mod settings;
use settings::Settings;

use slog::{info, o, Logger};

static LOG_DRAIN: LazyLock<Logger> = LazyLock::new(|| {
    Logger::root(
        logging::KubewardenDrain::new(),
        o!("policy" => "kw-deny-privileged"),
    )
});

/// Registers the waPC operations; the host calls this once after instantiation.
#[no_mangle]
pub extern "C" fn wapc_init() {
    register_function("validate", validate);
    register_function("validate_settings", validate_settings::<Settings>);
    register_function("protocol_version", protocol_version_guest);
}

/// `true` when a security context asks for a privileged container.
fn is_privileged(context: Option<&SecurityContext>) -> bool {
    context.and_then(|c| c.privileged).unwrap_or(false)
}

/// The privileged containers of a pod spec, as `initContainer "name"`, in spec order.
fn privileged_containers(spec: &PodSpec) -> Vec<String> {
    let init = spec.init_containers.iter().flatten();
    let ephemeral = spec.ephemeral_containers.iter().flatten();
    init.filter(|c| is_privileged(c.security_context.as_ref()))
        .map(|c| format!("initContainer {:?}", c.name))
        .chain(
            spec.containers
                .iter()
                .filter(|c| is_privileged(c.security_context.as_ref()))
                .map(|c| format!("container {:?}", c.name)),
        )
        .chain(
            ephemeral
                .filter(|c| is_privileged(c.security_context.as_ref()))
                .map(|c| format!("ephemeralContainer {:?}", c.name)),
        )
        .collect()
}

/// The `validate` operation.
pub fn validate(payload: &[u8]) -> CallResult {
    let validation_request: ValidationRequest<Settings> = ValidationRequest::new(payload)?;
    let request = &validation_request.request;
    if validation_request.settings.exempts(&request.namespace) {
        info!(LOG_DRAIN, "namespace exempt: accepting"; "namespace" => &request.namespace);
        return kubewarden::accept_request();
    }
    let spec = match validation_request.extract_pod_spec_from_object() {
        Ok(Some(spec)) => spec,
        Ok(None) => return kubewarden::accept_request(),
        // Not a Pod or a pod-template workload: nothing this policy looks at.
        Err(kubewarden::Error::Validation(_)) => return kubewarden::accept_request(),
        // A workload this policy cannot read is not let through unread.
        Err(e) => {
            return kubewarden::reject_request(
                Some(format!("cannot read the {}: {e}", request.kind.kind)),
                Some(400),
                None,
                None,
            )
        }
    };
    let privileged = privileged_containers(&spec);
    if privileged.is_empty() {
        return kubewarden::accept_request();
    }
    let containers = privileged.join(", ");
    info!(
        LOG_DRAIN, "rejecting privileged containers";
        "kind" => &request.kind.kind, "namespace" => &request.namespace,
        "name" => &request.name, "containers" => &containers,
    );
    kubewarden::reject_request(
        Some(format!(
            "privileged containers are not allowed in namespace {:?}: {containers}",
            request.namespace
        )),
        None,
        None,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubewarden::response::ValidationResponse;
    use serde_json::{json, Value};

    /// The validate payload for an AdmissionReview fixture (the same files the case file uses).
    fn payload(fixture: &str, settings: Value) -> Vec<u8> {
        let path = format!("{}/../{fixture}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect(&path);
        let review: Value = serde_json::from_str(&text).expect(&path);
        serde_json::to_vec(&json!({"request": review["request"], "settings": settings}))
            .expect("encode")
    }

    fn run(fixture: &str, settings: Value) -> ValidationResponse {
        let answer = validate(&payload(fixture, settings)).expect("validate");
        serde_json::from_slice(&answer).expect("a ValidationResponse")
    }

    #[test]
    fn a_pod_without_privileged_containers_is_accepted() {
        let answer = run("../testdata/pod-review.json", json!({}));
        assert!(answer.accepted);
        assert!(answer.mutated_object.is_none());
    }

    #[test]
    fn a_deployment_with_a_privileged_init_container_is_rejected_naming_it() {
        let answer = run("testdata/privileged-deployment.json", json!({}));
        assert!(!answer.accepted);
        assert_eq!(
            answer.message.as_deref(),
            Some(
                r#"privileged containers are not allowed in namespace "shop": initContainer "sysctl""#
            )
        );
    }

    #[test]
    fn a_privileged_ephemeral_debug_container_is_rejected() {
        let answer = run("testdata/ephemeral-debug-pod.json", json!({}));
        assert!(!answer.accepted);
        let message = answer.message.unwrap_or_default();
        assert!(
            message.contains(r#"ephemeralContainer "debugger""#),
            "{message}"
        );
        assert!(!message.contains(r#"container "app""#), "{message}");
    }

    #[test]
    fn an_exempt_namespace_may_run_privileged_containers() {
        let settings = json!({"exemptNamespaces": ["shop"]});
        assert!(run("testdata/privileged-deployment.json", settings).accepted);
        let other = json!({"exemptNamespaces": ["kube-system"]});
        assert!(!run("testdata/privileged-deployment.json", other).accepted);
    }

    #[test]
    fn objects_without_a_pod_spec_are_accepted() {
        assert!(run("testdata/configmap-review.json", json!({})).accepted);
    }

    #[test]
    fn a_workload_that_cannot_be_read_is_rejected_not_accepted() {
        let mut review: Value = serde_json::from_str(
            &std::fs::read_to_string(format!(
                "{}/../testdata/privileged-deployment.json",
                env!("CARGO_MANIFEST_DIR")
            ))
            .expect("fixture"),
        )
        .expect("json");
        review["request"]["object"]["spec"]["template"]["spec"]["containers"] = json!("app");
        let payload = json!({"request": review["request"], "settings": {}});
        let answer = validate(&serde_json::to_vec(&payload).expect("encode")).expect("validate");
        let answer: ValidationResponse = serde_json::from_slice(&answer).expect("response");
        assert!(!answer.accepted);
        assert_eq!(answer.code, Some(400));
        assert!(answer
            .message
            .unwrap_or_default()
            .starts_with("cannot read the Deployment"));
    }

    #[test]
    fn settings_are_checked_by_the_sdk_entry_point() {
        let refused =
            validate_settings::<Settings>(br#"{"exemptNamespaces": ["Bad"]}"#).expect("an answer");
        let refused: Value = serde_json::from_slice(&refused).expect("json");
        assert_eq!(refused["valid"], false);
        assert!(refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("\"Bad\""));
        let accepted = validate_settings::<Settings>(b"{}").expect("an answer");
        let accepted: Value = serde_json::from_slice(&accepted).expect("json");
        assert_eq!(accepted["valid"], true);
    }

    #[test]
    fn the_protocol_version_is_v1() {
        assert_eq!(protocol_version_guest(b"").expect("answer"), br#""v1""#);
    }
}
