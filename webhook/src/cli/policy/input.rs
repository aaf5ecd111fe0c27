//! Reading a policy input for the author kit: a PolicyInput JSON as is, or an
//! AdmissionReview JSON turned into one by the webhook's own decoder (images found in the pod
//! spec, verdicts given on the command line or in the case file, `landed` otherwise — no
//! registry is asked).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use serde_json::Value;

use crate::admission::extract::{self, FoundImage};
use crate::admission::{self, review};
use crate::image::Reference;
use crate::mode::{Mode, OnUndetermined};
use crate::policy::{ImageInput, PolicyContext, PolicyInput};
use crate::resolve::LookupContext;
use crate::verdict::VerdictClass;
use crate::workload::WorkloadKind;

/// How to fill what an AdmissionReview does not say.
#[derive(Clone, Debug, Default)]
pub struct InputOptions {
    /// Settings handed to the policy (replace the input's).
    pub settings: Option<Value>,
    /// Force `context.mutating`.
    pub mutating: Option<bool>,
    /// Force `context.onUndetermined`.
    pub on_undetermined: Option<OnUndetermined>,
    /// Verdicts by reference (as written or normalized): `absent`, `landed@sha256:…`.
    pub verdicts: BTreeMap<String, String>,
}

/// Reads a JSON or YAML file into a value.
pub fn read_value(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if let Ok(value) = serde_json::from_str(&text) {
        return Ok(value);
    }
    serde_saphyr::from_str(&text)
        .with_context(|| format!("{} is neither JSON nor YAML", path.display()))
}

/// `landed` unless `spec` says otherwise: `CLASS` or `CLASS@DIGEST`.
fn verdict(spec: Option<&String>) -> anyhow::Result<(VerdictClass, Option<String>, String)> {
    let Some(spec) = spec else {
        let detail = "assumed landed (offline run: no registry was asked)";
        return Ok((
            VerdictClass::Landed,
            Some(format!("sha256:{}", "0".repeat(64))),
            detail.into(),
        ));
    };
    let (class, digest) = match spec.split_once('@') {
        Some((class, digest)) => (class, Some(digest.to_owned())),
        None => (spec.as_str(), None),
    };
    let class: VerdictClass = serde_json::from_value(Value::String(class.to_owned()))
        .with_context(|| {
            format!("unknown verdict {class:?} (landed, absent, digest_mismatch, …)")
        })?;
    Ok((class, digest, format!("given verdict {class}")))
}

/// The AdmissionReview `value` as a body, when it is one (Kubewarden policies read its
/// request as sent); `None` for a PolicyInput.
pub fn review_body(value: &Value) -> Option<Vec<u8>> {
    value["request"]["kind"]
        .is_object()
        .then(|| serde_json::to_vec(value).ok())
        .flatten()
}

/// The input a policy sees for `value` (PolicyInput or AdmissionReview).
pub fn policy_input(value: Value, options: &InputOptions) -> anyhow::Result<PolicyInput> {
    Ok(review_input(value, options)?.0)
}

/// The input a policy sees for `value`, and who its `resolve-image` calls look up as: for
/// an AdmissionReview, the pod spec's namespace, pull secrets and service account, found
/// by the webhook's own decoder; for a PolicyInput, its namespace.
pub fn review_input(
    value: Value,
    options: &InputOptions,
) -> anyhow::Result<(PolicyInput, LookupContext)> {
    let (mut input, lookup) = if value["request"]["kind"].is_string() {
        let input =
            serde_json::from_value::<PolicyInput>(value).context("not a valid PolicyInput")?;
        let lookup = LookupContext {
            namespace: input.request.namespace.clone(),
            ..LookupContext::default()
        };
        (input, lookup)
    } else if value["request"]["kind"].is_object() {
        from_review(value, options)?
    } else {
        anyhow::bail!("expected an AdmissionReview or a PolicyInput JSON (no request.kind)");
    };
    if let Some(settings) = &options.settings {
        input.settings = settings.clone();
    }
    if let Some(mutating) = options.mutating {
        input.context.mutating = mutating;
    }
    if let Some(on) = options.on_undetermined {
        input.context.on_undetermined = on;
    }
    Ok((input, lookup))
}

/// An AdmissionReview through the webhook's path: decode, kind, pod spec, images, lookup.
fn from_review(
    mut value: Value,
    options: &InputOptions,
) -> anyhow::Result<(PolicyInput, LookupContext)> {
    // A hand-written review may leave out the envelope's type fields; the API server's never does.
    if let Some(envelope) = value.as_object_mut() {
        envelope
            .entry("apiVersion")
            .or_insert_with(|| review::API_VERSION.into());
        envelope
            .entry("kind")
            .or_insert_with(|| review::KIND.into());
    }
    let body = serde_json::to_vec(&value).context("cannot encode the review")?;
    let req = admission::decode(&body)?;
    let found = match (WorkloadKind::from_gvk(&req.kind), &req.object) {
        (Some(kind), Some(object)) => {
            extract::pod_images(kind, req.namespace.as_deref(), object.json())?
        }
        _ => None,
    };
    let (found, lookup) = match found {
        Some(found) => (found.images, found.lookup),
        None => (
            Vec::new(),
            LookupContext {
                namespace: req.namespace.clone(),
                ..LookupContext::default()
            },
        ),
    };
    let input = PolicyInput {
        images: images(found, options)?,
        request: admission::request_info(&req),
        settings: Value::Null,
        context: PolicyContext {
            mode: Mode::Enforce,
            on_undetermined: OnUndetermined::Allow,
            mutating: false,
        },
    };
    Ok((input, lookup))
}

/// Each image with the verdict given for it (as written or normalized), `landed` otherwise.
fn images(found: Vec<FoundImage>, options: &InputOptions) -> anyhow::Result<Vec<ImageInput>> {
    let mut images = Vec::with_capacity(found.len());
    for image in found {
        let parsed = Reference::parse(&image.image);
        let normalized = parsed.as_ref().ok().map(ToString::to_string);
        let given = options
            .verdicts
            .get(&image.image)
            .or_else(|| normalized.as_ref().and_then(|n| options.verdicts.get(n)));
        let (verdict, digest, detail) = match (&parsed, given) {
            (Err(e), None) => (VerdictClass::InvalidReference, None, e.to_string()),
            _ => verdict(given)?,
        };
        images.push(ImageInput {
            path: image.path,
            container: image.container,
            container_type: image.container_type,
            reference: image.image,
            normalized,
            digest: digest.filter(|_| verdict == VerdictClass::Landed),
            verdict,
            detail,
            stale: false,
        });
    }
    Ok(images)
}

/// A Pod with three landed images, for `landed policy bench` without `--request`.
pub fn sample() -> PolicyInput {
    let review = serde_json::json!({"request": {
        "uid": "bench", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "operation": "CREATE", "namespace": "default", "name": "bench",
        "userInfo": {"username": "bench"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bench"},
            "spec": {"initContainers": [{"name": "init", "image": "busybox:1.36"}],
                     "containers": [{"name": "app", "image": "registry.example/team/app:1.2.3"},
                                    {"name": "proxy", "image": "envoyproxy/envoy:v1.30.1"}]}}}});
    // The sample is fixed and valid: a failure here is a bug in this function.
    policy_input(review, &InputOptions::default()).unwrap_or_else(|e| panic!("bench sample: {e}"))
}
