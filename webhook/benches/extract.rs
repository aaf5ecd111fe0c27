//! Image extraction per kind: AdmissionReview bytes → decode → pod spec → images with paths;
//! and the same for the load bench's corpus of reviews as the API server sends them.

use criterion::{criterion_group, criterion_main, Criterion};
use landed::admission::{decode, extract};
use landed::workload::WorkloadKind;
use std::hint::black_box;

mod support;

/// One CREATE fixture per workload kind.
const FIXTURES: [&str; 8] = [
    "pod-create.json",
    "deployment-create.json",
    "statefulset-create.json",
    "daemonset-create.json",
    "replicaset-create.json",
    "replicationcontroller-create.json",
    "job-create.json",
    "cronjob-create.json",
];

/// What the pipeline does before resolving: decode, find the pod spec, list its images.
fn images(body: &[u8]) -> Vec<extract::FoundImage> {
    let req = decode(body).expect("fixture decodes");
    let kind = WorkloadKind::from_gvk(&req.kind).expect("handled kind");
    let object = serde_json::to_value(req.object.as_ref().expect("object")).expect("object");
    let found = kind.pod_spec(&object).expect("pod spec");
    extract::images(found.prefix, found.spec.as_ref().expect("spec"))
}

/// The same from the objects' text, as the pipeline reads it: for an UPDATE the old object's
/// images too (to compare). Returns how many images were found.
fn corpus_images(body: &[u8]) -> usize {
    let req = decode(body).expect("corpus review decodes");
    let kind = WorkloadKind::from_gvk(&req.kind).expect("handled kind");
    let namespace = req.namespace.as_deref();
    [req.object.as_ref(), req.old_object.as_ref()]
        .into_iter()
        .flatten()
        .map(|object| {
            extract::pod_images(kind, namespace, object.json())
                .expect("pod spec decodes")
                .map_or(0, |found| found.images.len())
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("extract");
    for name in FIXTURES {
        let body = support::review(name);
        assert!(!images(&body).is_empty(), "{name} has images");
        let kind = name.trim_end_matches("-create.json");
        group.bench_function(kind, |b| b.iter(|| images(black_box(&body))));
    }
    group.finish();
    let mut group = c.benchmark_group("extract/corpus");
    for name in support::CORPUS {
        let body = support::corpus(name);
        assert!(corpus_images(&body) > 0, "{name} has images");
        group.bench_function(name, |b| b.iter(|| corpus_images(black_box(&body))));
    }
    group.finish();
    // Where the corpus's cost goes: the envelope with the objects captured as text, and a
    // bare skip of the whole body (the least any JSON reader pays).
    let mut group = c.benchmark_group("decode/corpus");
    for name in support::CORPUS {
        let body = support::corpus(name);
        group.bench_function(format!("{name}/envelope"), |b| {
            b.iter(|| decode(black_box(&body)).expect("decodes"))
        });
        group.bench_function(format!("{name}/skip_all"), |b| {
            b.iter(|| {
                serde_json::from_slice::<serde::de::IgnoredAny>(black_box(&body)).expect("JSON")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
