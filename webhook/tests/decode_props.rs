//! The lean pod spec decoder (borrowed, skip-the-rest) against the reference it replaced:
//! k8s-openapi's full `PodSpec`. For every review fixture, every bench corpus review (the
//! fuzz target's seeds are the same files) and generated pod specs with noise around the
//! fields landed reads, both must find the same images at the same paths, with the same
//! lookup context, on CREATE and against oldObject on UPDATE.

use k8s_openapi::api::core::v1::PodSpec;
use landed::admission::decode;
use landed::admission::extract::{self, FoundImage, PodImages};
use landed::policy::ContainerType;
use landed::resolve::LookupContext;
use landed::workload::WorkloadKind;
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::Path;

/// The reference: the path to the pod spec, decoded as k8s-openapi's `PodSpec`.
fn reference(kind: WorkloadKind, namespace: Option<&str>, object: &Value) -> Option<PodImages> {
    #[derive(Deserialize)]
    struct Spec<T> {
        spec: Option<T>,
    }
    #[derive(Deserialize)]
    struct Template {
        template: Option<Spec<PodSpec>>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct JobTemplate {
        job_template: Option<Spec<Template>>,
    }
    let (prefix, spec) = match kind {
        WorkloadKind::Pod => ("spec", Spec::<PodSpec>::deserialize(object).ok()?.spec),
        WorkloadKind::CronJob => (
            "spec.jobTemplate.spec.template.spec",
            Spec::<JobTemplate>::deserialize(object)
                .ok()?
                .spec
                .and_then(|s| s.job_template?.spec?.template?.spec),
        ),
        _ => (
            "spec.template.spec",
            Spec::<Template>::deserialize(object)
                .ok()?
                .spec
                .and_then(|s| s.template?.spec),
        ),
    };
    let spec = spec?;
    let lists = [
        (
            ContainerType::InitContainer,
            spec.init_containers.clone().unwrap_or_default(),
        ),
        (ContainerType::Container, spec.containers.clone()),
    ];
    let mut images: Vec<FoundImage> = Vec::new();
    for (container_type, list) in lists {
        for (i, c) in list.into_iter().enumerate() {
            images.push(found(prefix, container_type, i, c.name, c.image));
        }
    }
    for (i, c) in spec.ephemeral_containers.into_iter().flatten().enumerate() {
        let kind = ContainerType::EphemeralContainer;
        images.push(found(prefix, kind, i, c.name, c.image));
    }
    let lookup = LookupContext {
        namespace: namespace.map(str::to_owned),
        pull_secrets: spec
            .image_pull_secrets
            .into_iter()
            .flatten()
            .map(|s| s.name)
            .collect(),
        service_account: Some(
            spec.service_account_name
                .unwrap_or_else(|| "default".into()),
        ),
    };
    Some(PodImages { images, lookup })
}

fn found(
    prefix: &str,
    container_type: ContainerType,
    index: usize,
    container: String,
    image: Option<String>,
) -> FoundImage {
    FoundImage {
        path: format!("{prefix}.{}[{index}].image", container_type.field()),
        container,
        container_type,
        image: image.unwrap_or_default(),
    }
}

/// What the webhook finds, from the object's text as a review carries it, and from the
/// object as a value as the audit lists it.
fn lean(kind: WorkloadKind, namespace: Option<&str>, text: &str) -> Option<PodImages> {
    let raw: Box<serde_json::value::RawValue> = serde_json::from_str(text).ok()?;
    let from_text = extract::pod_images(kind, namespace, raw.as_ref()).ok()?;
    let value: Value = serde_json::from_str(text).ok()?;
    let from_value = extract::pod_images(kind, namespace, &value).ok()?;
    assert_eq!(from_text, from_value, "text and value decode alike");
    from_text
}

fn assert_same(kind: WorkloadKind, namespace: Option<&str>, object: &Value, what: &str) {
    let expected = reference(kind, namespace, object);
    let got = lean(kind, namespace, &object.to_string());
    assert_eq!(got, expected, "{what}");
}

/// Every review the tests and the benches send.
fn reviews() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [root.join("tests/data/reviews"), root.join("../bench/data")] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                let body = std::fs::read(&path).expect("readable fixture");
                out.push((path.display().to_string(), body));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_fixture_and_corpus_review_finds_what_the_podspec_path_found() {
    let mut compared = 0;
    for (name, body) in reviews() {
        let Ok(request) = decode(&body) else {
            continue;
        };
        let Some(kind) = WorkloadKind::from_gvk(&request.kind) else {
            continue;
        };
        let namespace = request.namespace.as_deref();
        for object in [&request.object, &request.old_object].into_iter().flatten() {
            let value: Value = serde_json::from_str(object.json().get()).expect("JSON");
            assert_same(kind, namespace, &value, &name);
            compared += 1;
        }
    }
    assert!(compared >= 15, "only {compared} objects compared");
}

#[test]
fn update_keeps_the_same_changed_images_as_the_podspec_path() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/reviews/deployment-update-image.json");
    let body = std::fs::read(path).expect("fixture");
    let request = decode(&body).expect("decodes");
    let kind = WorkloadKind::from_gvk(&request.kind).expect("handled");
    let images = |o: &Option<landed::admission::ReviewObject>| {
        let value: Value =
            serde_json::from_str(o.as_ref().expect("object").json().get()).expect("JSON");
        (
            reference(kind, None, &value).expect("spec").images,
            lean(kind, None, &value.to_string()).expect("spec").images,
        )
    };
    let (new_ref, new_lean) = images(&request.object);
    let (old_ref, old_lean) = images(&request.old_object);
    let changed = extract::changed(new_lean, &old_lean);
    assert_eq!(changed, extract::changed(new_ref, &old_ref));
    assert_eq!(changed.len(), 1, "{changed:?}");
}

/// A string field as the API server may write it, or missing or null.
fn text() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        "[a-z0-9./:@-]{0,20}".prop_map(|s| Some(json!(s))),
        // Escapes: quotes, slashes and non-ASCII must come out unescaped.
        "[a-z\"\\\\/é]{0,8}".prop_map(|s| Some(json!(s))),
    ]
}

/// Fields landed skips, of the shapes a real spec has.
fn noise() -> impl Strategy<Value = Vec<(&'static str, Value)>> {
    prop::collection::vec(
        prop_oneof![
            Just(("ports", json!([{"containerPort": 80, "protocol": "TCP"}]))),
            Just((
                "env",
                json!([{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}])
            )),
            Just((
                "livenessProbe",
                json!({"httpGet": {"path": "/", "port": 8080}})
            )),
            Just((
                "resources",
                json!({"limits": {"cpu": "1"}, "requests": {"memory": "1Gi"}})
            )),
            Just((
                "securityContext",
                json!({"runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}})
            )),
        ],
        0..3,
    )
}

fn container() -> impl Strategy<Value = Value> {
    (text(), text(), noise()).prop_map(|(name, image, noise)| {
        let mut c = serde_json::Map::new();
        for (k, v) in noise {
            c.insert(k.into(), v);
        }
        if let Some(name) = name {
            c.insert("name".into(), name);
        }
        if let Some(image) = image {
            c.insert("image".into(), image);
        }
        Value::Object(c)
    })
}

fn list() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        prop::collection::vec(container(), 0..4).prop_map(|l| Some(Value::Array(l))),
    ]
}

fn pod_spec() -> impl Strategy<Value = Value> {
    let secrets = prop::option::of(prop::collection::vec(text(), 0..3));
    (list(), list(), list(), secrets, text(), noise()).prop_map(
        |(containers, init, ephemeral, secrets, account, noise)| {
            let mut spec = serde_json::Map::new();
            for (k, v) in noise {
                spec.insert(format!("x{k}"), v);
            }
            for (key, value) in [
                ("containers", containers),
                ("initContainers", init),
                ("ephemeralContainers", ephemeral),
                ("serviceAccountName", account),
            ] {
                if let Some(value) = value {
                    spec.insert(key.into(), value);
                }
            }
            if let Some(secrets) = secrets {
                let list = secrets
                    .into_iter()
                    .map(|name| name.map_or(json!({}), |n| json!({ "name": n })));
                spec.insert("imagePullSecrets".into(), Value::Array(list.collect()));
            }
            Value::Object(spec)
        },
    )
}

fn wrapped(kind: WorkloadKind, spec: Value) -> Value {
    let template = json!({"metadata": {"labels": {"app": "a"}}, "spec": spec});
    let body = match kind {
        WorkloadKind::Pod => return json!({"metadata": {"managedFields": []}, "spec": spec}),
        WorkloadKind::CronJob => {
            json!({"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}})
        }
        _ => json!({"replicas": 2, "template": template}),
    };
    json!({"metadata": {"name": "w"}, "spec": body, "status": {"replicas": 1}})
}

proptest! {
    #[test]
    fn generated_specs_find_what_the_podspec_path_found(
        spec in pod_spec(),
        kind in prop::sample::select(WorkloadKind::ALL.to_vec()),
        namespace in prop::option::of("[a-z]{1,8}"),
    ) {
        let object = wrapped(kind, spec);
        let expected = reference(kind, namespace.as_deref(), &object);
        // Every generated spec is one the API server could send: both must read it.
        prop_assert!(expected.is_some(), "the reference refused {}", object);
        let got = lean(kind, namespace.as_deref(), &object.to_string());
        prop_assert_eq!(got, expected);
    }
}
