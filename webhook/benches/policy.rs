//! One call of each default built-in policy (require-landed, pin-digest), compiled from
//! source by policies/build.sh, through the pooled engine: encode the input, fresh store
//! and instance, call `validate`, check the answer; and the same with the input encoded
//! beforehand (`/prepared`), as the pipeline encodes it once per review. Single-threaded.

use criterion::{criterion_group, criterion_main, Criterion};
use landed::admission::decode;
use landed::config::{Mode, OnUndetermined};
use landed::policy::{
    builtin_file, policy_dir, ContainerType, ImageInput, ObjectText, PolicyContext, PolicyEngine,
    PolicyInput, PolicyLimits, PreparedInput, RequestInfo, WasmPolicy,
};
use landed::verdict::VerdictClass;
use landed::workload::WorkloadKind;
use std::hint::black_box;

mod support;

/// The input the pipeline hands policies for `pod-create.json` with its 3 images landed.
fn input(mutating: bool) -> PolicyInput {
    let req = decode(&support::review("pod-create.json")).expect("fixture");
    let kind = WorkloadKind::from_gvk(&req.kind).expect("Pod");
    let object = serde_json::to_value(req.object.as_ref().expect("object")).expect("object");
    let found = kind.pod_spec(&object).expect("spec");
    let found =
        landed::admission::extract::images(found.prefix, found.spec.as_ref().expect("spec"));
    let images = found
        .into_iter()
        .enumerate()
        .map(|(i, f)| ImageInput {
            normalized: Some(f.image.clone()),
            reference: f.image,
            path: f.path,
            container: f.container,
            container_type: f.container_type,
            verdict: VerdictClass::Landed,
            digest: Some(format!("sha256:{}", i.to_string().repeat(64))),
            detail: "HEAD 200".into(),
            stale: false,
        })
        .collect::<Vec<_>>();
    assert_eq!(images.len(), 3);
    assert_eq!(images[0].container_type, ContainerType::InitContainer);
    PolicyInput {
        request: RequestInfo {
            uid: req.uid.clone(),
            group: String::new(),
            kind: "Pod".into(),
            sub_resource: None,
            operation: "CREATE".into(),
            namespace: req.namespace.clone(),
            name: req.name.clone(),
            user_info: req.user_info.clone(),
            dry_run: false,
            object: ObjectText::from_value(&object),
        },
        images,
        settings: serde_json::Value::Null,
        context: PolicyContext {
            mode: Mode::Enforce,
            on_undetermined: OnUndetermined::Allow,
            mutating,
        },
    }
}

fn bench(c: &mut Criterion) {
    let engine = PolicyEngine::new(PolicyLimits::default()).expect("engine");
    assert!(engine.is_pooling(), "the pooling allocator is in use");
    let dir = policy_dir(None);
    let mut group = c.benchmark_group("policy");
    for (name, mutating) in [("require-landed", false), ("pin-digest", true)] {
        let file = builtin_file(&dir, name);
        let policy = WasmPolicy::load_file(&engine, name, &file, &serde_json::Value::Null)
            .unwrap_or_else(|e| panic!("{} (run policies/build.sh): {e}", file.display()));
        let input = input(mutating);
        let out = policy
            .evaluate_blocking(&PreparedInput::new(&input), &input.settings)
            .expect("answers");
        assert!(out.allowed);
        assert_eq!(out.patch.is_some(), mutating, "{name}: {out:?}");
        group.bench_function(name, |b| {
            b.iter(|| {
                // The input encoded afresh each call, as for a review with one policy.
                let input = black_box(&input);
                policy
                    .evaluate_blocking(&PreparedInput::new(input), &input.settings)
                    .expect("answers")
            })
        });
        // What the pipeline pays per policy: the review's input is encoded once and shared.
        let prepared = PreparedInput::new(&input);
        group.bench_function(format!("{name}/prepared"), |b| {
            b.iter(|| {
                policy
                    .evaluate_blocking(black_box(&prepared), &input.settings)
                    .expect("answers")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
