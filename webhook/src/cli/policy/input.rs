//! Reading a policy input for the author kit: a PolicyInput JSON as is, or an
//! AdmissionReview JSON turned into one (images found in the pod spec, verdicts given on
//! the command line or in the case file, `landed` otherwise — no registry is asked).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use serde_json::Value;

use crate::image::Reference;
use crate::mode::{Mode, OnUndetermined};
use crate::policy::{
    ContainerType, ImageInput, ObjectText, PolicyContext, PolicyInput, RequestInfo,
};
use crate::verdict::VerdictClass;

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

/// The input a policy sees for `value` (PolicyInput or AdmissionReview).
pub fn policy_input(value: Value, options: &InputOptions) -> anyhow::Result<PolicyInput> {
    let mut input = if value["request"]["kind"].is_string() {
        serde_json::from_value::<PolicyInput>(value).context("not a valid PolicyInput")?
    } else if value["request"]["kind"].is_object() {
        from_review(&value["request"], options)?
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
    Ok(input)
}

fn from_review(request: &Value, options: &InputOptions) -> anyhow::Result<PolicyInput> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let object = request["object"].clone();
    Ok(PolicyInput {
        images: images(&object, options)?,
        request: RequestInfo {
            uid: text(&request["uid"]),
            group: text(&request["kind"]["group"]),
            kind: text(&request["kind"]["kind"]),
            sub_resource: request["subResource"].as_str().map(str::to_owned),
            operation: text(&request["operation"]),
            namespace: request["namespace"].as_str().map(str::to_owned),
            name: text(&request["name"]),
            user_info: serde_json::from_value(request["userInfo"].clone()).unwrap_or_default(),
            dry_run: request["dryRun"].as_bool().unwrap_or(false),
            object: ObjectText::from_value(&object),
        },
        settings: Value::Null,
        context: PolicyContext {
            mode: Mode::Enforce,
            on_undetermined: OnUndetermined::Allow,
            mutating: false,
        },
    })
}

fn images(object: &Value, options: &InputOptions) -> anyhow::Result<Vec<ImageInput>> {
    let (prefix, spec) = [
        ("spec", &object["spec"]),
        ("spec.template.spec", &object["spec"]["template"]["spec"]),
        (
            "spec.jobTemplate.spec.template.spec",
            &object["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        ),
    ]
    .into_iter()
    .find(|(_, s)| s["containers"].is_array())
    .unwrap_or(("spec", &Value::Null));
    let mut found = Vec::new();
    for (list, container_type) in [
        ("initContainers", ContainerType::InitContainer),
        ("containers", ContainerType::Container),
        ("ephemeralContainers", ContainerType::EphemeralContainer),
    ] {
        for (i, c) in spec[list].as_array().into_iter().flatten().enumerate() {
            let reference = c["image"].as_str().unwrap_or_default().to_owned();
            let parsed = Reference::parse(&reference);
            let normalized = parsed.as_ref().ok().map(ToString::to_string);
            let given = options
                .verdicts
                .get(&reference)
                .or_else(|| normalized.as_ref().and_then(|n| options.verdicts.get(n)));
            let (verdict, digest, detail) = match (&parsed, given) {
                (Err(e), None) => (VerdictClass::InvalidReference, None, e.to_string()),
                _ => verdict(given)?,
            };
            found.push(ImageInput {
                path: format!("{prefix}.{list}[{i}].image"),
                container: c["name"].as_str().unwrap_or_default().to_owned(),
                container_type,
                reference,
                normalized,
                digest: digest.filter(|_| verdict == VerdictClass::Landed),
                verdict,
                detail,
                stale: false,
            });
        }
    }
    Ok(found)
}

/// A Pod with three landed images, for `landed policy bench` without `--request`.
pub fn sample() -> PolicyInput {
    let review = serde_json::json!({"request": {
        "uid": "bench", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "operation": "CREATE", "namespace": "default", "name": "bench",
        "userInfo": {"username": "bench"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bench"},
            "spec": {"initContainers": [{"name": "init", "image": "busybox:1.36"}],
                     "containers": [{"name": "app", "image": "registry.example/team/app:1.2.3"},
                                    {"name": "proxy", "image": "envoyproxy/envoy:v1.30.1"}]}}}});
    // The sample is fixed and valid: a failure here is a bug in this function.
    policy_input(review, &InputOptions::default()).unwrap_or_else(|e| panic!("bench sample: {e}"))
}
