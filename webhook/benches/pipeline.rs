//! The whole review offline: AdmissionReview bytes for a Pod with 3 images → decode →
//! extract → warm-cache resolve → the 2 default built-in policies → response bytes, through
//! the same composition root as `landed serve` and an in-process registry on loopback; then
//! each review of the load bench's corpus (as the API server sends them) on `/validate`.

use criterion::{criterion_group, criterion_main, Criterion};
use landed::admission::{decode, Pipeline, Route};
use std::hint::black_box;

mod support;

/// What the `/validate` and `/mutate` handlers do with a body.
async fn review(pipeline: &Pipeline, body: &[u8], endpoint: Route) -> Vec<u8> {
    let request = decode(body).expect("fixture decodes");
    let response = pipeline.review(&request, endpoint).await;
    serde_json::to_vec(&response.into_review()).expect("response encodes")
}

fn bench(c: &mut Criterion) {
    let rt = support::runtime();
    let fake = rt.block_on(support::registry());
    let pipeline = rt
        .block_on(landed::cli::pipeline(support::config(&fake), None, false))
        .expect("pipeline");
    assert_eq!(pipeline.policies().current().policies.len(), 2);
    let body = support::review("pod-create.json");
    for endpoint in [Route::Validate, Route::Mutate] {
        let answer = rt.block_on(review(&pipeline, &body, endpoint));
        let answer: serde_json::Value = serde_json::from_slice(&answer).expect("JSON");
        assert_eq!(answer["response"]["allowed"], true, "{answer}");
    }
    let corpus: Vec<(&str, Vec<u8>)> = support::CORPUS
        .iter()
        .map(|&name| (name, support::corpus(name)))
        .collect();
    for (name, body) in &corpus {
        let answer = rt.block_on(review(&pipeline, body, Route::Validate));
        let answer: serde_json::Value = serde_json::from_slice(&answer).expect("JSON");
        // A warning would mean an image did not verify: the bench would time the wrong path.
        assert_eq!(answer["response"]["allowed"], true, "{name}: {answer}");
        assert!(answer["response"]["warnings"].is_null(), "{name}: {answer}");
    }
    let warmed = fake.manifests();

    let mut group = c.benchmark_group("pipeline");
    for (name, endpoint) in [
        ("pod_3_images_validate", Route::Validate),
        ("pod_3_images_mutate", Route::Mutate),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&rt)
                .iter(|| review(&pipeline, black_box(&body), endpoint))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("pipeline/corpus");
    for (name, body) in &corpus {
        group.bench_function(*name, |b| {
            b.to_async(&rt)
                .iter(|| review(&pipeline, black_box(body), Route::Validate))
        });
    }
    group.finish();
    assert_eq!(
        fake.manifests(),
        warmed,
        "a warm review reached the registry"
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
