//! The registry, token, cache and policy families after real lookups against the in-process
//! fake registry (bearer tokens) and a built-in WebAssembly policy; parsed from the exposition.

mod metrics_support;
mod registry_support;

use std::sync::Arc;

use landed::admission::{decode, Pipeline, Route};
use landed::config::Config;
use landed::image::Reference;
use landed::policy::{
    FailurePolicy, Loaded, PolicyEngine, PolicyLimits, PolicySet, PolicyStore, WasmPolicy,
};
use landed::resolve::{LookupContext, Resolve, Resolver, TableResolver};
use landed::verdict::{Verdict, VerdictClass};
use metrics_support::{parse, value};
use registry_support::{Auth, Fake};

const DIGEST: &str = "sha256:4f1c0e0c9ef7d7b45e0d8e4a4e2ec13e6d4bf1d09b1f3fbe7e3c1b8f6c5b9a11";

fn at_least(samples: &[metrics_support::Sample], name: &str, labels: &[(&str, &str)], n: f64) {
    let got = value(samples, name, labels);
    assert!(
        got.is_some_and(|v| v >= n),
        "{name}{labels:?} = {got:?}, want >= {n}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_token_cache_and_policy_families() {
    let fake = Fake::start().await;
    *fake.auth.lock().expect("lock") = Auth::Bearer {
        expires_in: 300,
        basic: None,
    };
    fake.push_image("team/web", Some("1.0"), "web");
    let config = registry_support::config(&fake, "fake.test");
    let resolver = Resolver::new(&config).expect("resolver");
    let ctx = LookupContext::default();
    for image in [
        "fake.test/team/web:1.0",
        "fake.test/team/web:1.0",
        "fake.test/team/gone:1",
    ] {
        let reference = Reference::parse(image).expect("reference");
        resolver.resolve(&reference, &ctx).await;
    }

    // A built-in WebAssembly policy behind the pipeline.
    let dir = format!(
        "{}/../policies/target/components",
        env!("CARGO_MANIFEST_DIR")
    );
    let engine = PolicyEngine::new(PolicyLimits::default()).expect("engine");
    let wasm = WasmPolicy::load_file(
        &engine,
        "require-landed",
        &std::path::Path::new(&dir).join("require_landed.wasm"),
        &serde_json::Value::Null,
    )
    .expect("built-in require-landed (built by policies/build.sh)");
    let policies = PolicyStore::new(PolicySet {
        policies: vec![Loaded::new(wasm, FailurePolicy::Fail)],
    });
    let table = TableResolver::new()
        .with(
            "registry.example.com/team/app:1.0",
            Verdict::landed(DIGEST.parse().expect("digest")),
        )
        .with(
            "registry.example.com/team/sidecar:2.1",
            Verdict::landed(DIGEST.parse().expect("digest")),
        )
        .with(
            "registry.example.com/team/migrate:1.0",
            Verdict::new(VerdictClass::Absent, "manifest unknown"),
        );
    let pipeline = Pipeline::new(
        Config::default().review_settings(None),
        Arc::new(table),
        Arc::new(policies),
    );
    let path = format!(
        "{}/tests/data/reviews/pod-create.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let request = decode(&std::fs::read(path).expect("review")).expect("decode");
    let response = pipeline.review(&request, Route::Validate).await;
    assert!(!response.allowed);

    let samples = parse(&landed::metrics::global().encode());
    let registry = [("registry", "fake.test")];
    at_least(
        &samples,
        "landed_registry_request_duration_seconds_count",
        &registry,
        2.0,
    );
    at_least(
        &samples,
        "landed_registry_errors_total",
        &[("registry", "fake.test"), ("class", "absent")],
        1.0,
    );
    at_least(
        &samples,
        "landed_registry_token_fetches_total",
        &[("realm", "127.0.0.1"), ("result", "ok")],
        1.0,
    );
    at_least(
        &samples,
        "landed_cache_lookups_total",
        &[("result", "hit")],
        1.0,
    );
    at_least(
        &samples,
        "landed_cache_lookups_total",
        &[("result", "miss")],
        2.0,
    );
    at_least(
        &samples,
        "landed_policy_duration_seconds_count",
        &[("policy", "require-landed")],
        1.0,
    );
    assert_eq!(
        value(
            &samples,
            "landed_policy_failures_total",
            &[("policy", "require-landed"), ("reason", "trap")]
        ),
        None
    );
    // Token values, credentials and repositories never appear in any label.
    for s in &samples {
        for v in s.labels.values() {
            assert!(!v.contains("team/") && !v.contains("token"), "{s:?}");
        }
    }
}
