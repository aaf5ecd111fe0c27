//! The server's background scan: `landed_image_availability` gauges (one series per workload
//! container with its verdict) and OpenReports (the default format) kept fresh against the fake API server.

mod kube_support;
mod metrics_support;
mod policy_doubles;

use policy_doubles::DenyUnlanded;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube_support::{deployment, pod, FakeKube};
use landed::admission::Pipeline;
use landed::audit::ReportFormat;
use landed::config::Config;
use landed::policy::{FailurePolicy, Loaded, PolicySet, PolicyStore};
use landed::resolve::TableResolver;
use landed::verdict::Verdict;
use tokio_util::sync::CancellationToken;

const DIGEST: &str = "sha256:4f1c0e0c9ef7d7b45e0d8e4a4e2ec13e6d4bf1d09b1f3fbe7e3c1b8f6c5b9a11";
const REPORTS: (&str, &str) = ("apis/openreports.io/v1alpha1", "reports");

/// The `landed_image_availability` series as (workload, container, image, verdict).
fn gauges() -> Vec<(String, String, String, String)> {
    let samples = metrics_support::parse(&landed::metrics::global().encode());
    let mut out: Vec<_> = samples
        .into_iter()
        .filter(|s| s.name == "landed_image_availability" && s.value == 1.0)
        .map(|s| {
            let get = |key: &str| s.labels.get(key).cloned().unwrap_or_default();
            (
                get("workload"),
                get("container"),
                get("image"),
                get("verdict"),
            )
        })
        .collect();
    out.sort();
    out
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A kube client talking to the fake, as `landed serve` hands one in.
fn client(kube: &FakeKube) -> kube::Client {
    let config = kube::Config::new(kube.url().parse().expect("url"));
    kube::Client::try_from(config).expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gauges_and_reports_follow_the_cluster() {
    let kube = FakeKube::start().await;
    deployment(&kube, "shop", "web", "registry.example.com/team/app:1.0", 2);

    let config = Config::default();
    let resolver = TableResolver::new().with(
        "registry.example.com/team/app:1.0",
        Verdict::landed(DIGEST.parse().expect("digest")),
    );
    let policies = PolicyStore::new(PolicySet {
        policies: vec![Loaded::new(
            DenyUnlanded("require-landed"),
            FailurePolicy::Fail,
        )],
    });
    let pipeline = Arc::new(Pipeline::new(
        config.review_settings(None),
        Arc::new(resolver),
        Arc::new(policies),
    ));
    let shutdown = CancellationToken::new();
    let task = landed::audit::background::spawn(
        client(&kube),
        pipeline,
        Duration::from_millis(100),
        Some(ReportFormat::default()),
        shutdown.clone(),
    );

    let web = (
        "web".to_owned(),
        "web".to_owned(),
        "registry.example.com/team/app:1.0".to_owned(),
        "landed".to_owned(),
    );
    wait_for("the first scan", || gauges() == [web.clone()]).await;
    wait_for("a report", || {
        !kube.objects(REPORTS.0, REPORTS.1).is_empty()
    })
    .await;

    pod(&kube, "shop", "batch", "registry.example.com/team/batch:7");
    let batch = (
        "batch".to_owned(),
        "batch".to_owned(),
        "registry.example.com/team/batch:7".to_owned(),
        "absent".to_owned(),
    );
    wait_for("the new pod's gauge", || {
        gauges() == [batch.clone(), web.clone()]
    })
    .await;
    wait_for("the report to show the denial", || {
        kube.objects(REPORTS.0, REPORTS.1).iter().any(|r| {
            r["metadata"]["name"] == "pod-batch"
                && r["kind"] == "Report"
                && r["summary"]["fail"] == 1
        })
    })
    .await;
    assert_eq!(
        kube.objects(REPORTS.0, REPORTS.1).len(),
        2,
        "one per workload, replaced, not duplicated"
    );
    // The scan counter is bumped after a scan's reports are written: wait for it rather than
    // racing the write we just observed.
    wait_for("two completed scans counted", || {
        let samples = metrics_support::parse(&landed::metrics::global().encode());
        metrics_support::value(&samples, "landed_audit_scans_total", &[("result", "ok")])
            .is_some_and(|n| n >= 2.0)
    })
    .await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops on shutdown")
        .expect("no panic");
}
