//! `audit.events: true`: a denial that audit mode lets through becomes a Kubernetes Event on
//! the object (created at the fake API server through the client it is handed); dry-run requests and
//! enforced denials make none.

mod kube_support;
mod policy_doubles;

use policy_doubles::DenyUnlanded;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube_support::FakeKube;
use landed::admission::{decode, Pipeline, Route};
use landed::audit::EventRecorder;
use landed::config::{Config, Mode, NamespaceConfig};
use landed::policy::{FailurePolicy, Loaded, PolicySet, PolicyStore};
use landed::resolve::TableResolver;
use landed::verdict::Verdict;

/// A kube client talking to the fake, as `landed serve` hands one in.
fn client(kube: &FakeKube) -> kube::Client {
    let config = kube::Config::new(kube.url().parse().expect("url"));
    kube::Client::try_from(config).expect("client")
}

const DIGEST: &str = "sha256:4f1c0e0c9ef7d7b45e0d8e4a4e2ec13e6d4bf1d09b1f3fbe7e3c1b8f6c5b9a11";

fn review(name: &str, namespace: &str) -> landed::admission::Request {
    let path = format!("{}/tests/data/reviews/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut json: serde_json::Value = serde_json::from_str(&text).expect("json");
    json["request"]["namespace"] = namespace.into();
    json["request"]["object"]["metadata"]["namespace"] = namespace.into();
    decode(&serde_json::to_vec(&json).expect("encode")).expect("review")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_denials_become_events_but_not_on_dry_run_or_enforce() {
    let kube = FakeKube::start().await;

    let mut config = Config::default();
    config.namespaces.insert(
        "staging".into(),
        NamespaceConfig {
            mode: Some(Mode::Audit),
            on_undetermined: None,
        },
    );
    let resolver = TableResolver::new()
        .with(
            "registry.example.com/team/app:1.0",
            Verdict::landed(DIGEST.parse().expect("digest")),
        )
        .with(
            "registry.example.com/team/sidecar:2.1",
            Verdict::landed(DIGEST.parse().expect("digest")),
        );
    let policies = PolicyStore::new(PolicySet {
        policies: vec![Loaded::new(
            DenyUnlanded("require-landed"),
            FailurePolicy::Fail,
        )],
    });
    let pipeline = Pipeline::new(
        config.review_settings(None),
        Arc::new(resolver),
        Arc::new(policies),
    )
    .with_observer(Arc::new(EventRecorder::new(client(&kube))));

    let dry = pipeline
        .review(
            &review("pod-create-dryrun.json", "staging"),
            Route::Validate,
        )
        .await;
    assert!(dry.allowed);
    let enforced = pipeline
        .review(&review("pod-create.json", "shop"), Route::Validate)
        .await;
    assert!(!enforced.allowed);
    let audited = pipeline
        .review(&review("pod-create.json", "staging"), Route::Validate)
        .await;
    assert!(audited.allowed, "audit mode never denies");

    let started = Instant::now();
    while kube.objects("api/v1", "events").is_empty() && started.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give a stray second Event (which would be a bug) a moment to show up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = kube.objects("api/v1", "events");
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event["reason"], "LandedWouldDeny");
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["metadata"]["namespace"], "staging");
    assert_eq!(event["involvedObject"]["kind"], "Pod");
    assert_eq!(event["involvedObject"]["name"], "web");
    let message = event["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("migrate") && message.contains("absent"),
        "{message}"
    );
    let posts: Vec<String> = kube
        .requests()
        .into_iter()
        .filter(|(m, _)| m == "POST")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(posts, ["/api/v1/namespaces/staging/events"]);
}
