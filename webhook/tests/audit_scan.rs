//! The audit scan against a fake kube API server and an in-process fake registry: a small
//! cluster with landed, never-pushed and unreachable images; owned objects reported once under
//! their owner; each distinct image resolved once; PolicyReports built and applied.

mod kube_support;
mod registry_support;

use std::time::Duration;

use kube_support::{deployment, pod, FakeKube};
use landed::audit::{self, Decision, Findings, Selection, Silent};
use landed::config::Config;
use landed::resolve::ResolveConfig;
use landed::verdict::VerdictClass;
use registry_support::Fake;

const POLICY_REPORTS: &str = "apis/wgpolicyk8s.io/v1alpha2";

/// The shared fake-registry config for `fake.test`, with tighter resolve timeouts: the scan
/// also meets a registry nobody listens on.
fn config(registry: &Fake) -> Config {
    Config {
        resolve: ResolveConfig {
            deadline: Duration::from_secs(2),
            request_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_millis(500),
            ..ResolveConfig::default()
        },
        ..registry_support::config(registry, "fake.test")
    }
}

/// web (landed, 2 pods) and web-canary (same image), api (never pushed), a bare pod on a
/// registry nobody listens on, and a pod in an excluded namespace.
async fn cluster() -> (Fake2, FakeKube) {
    let registry = Fake::start().await;
    registry.push_image("team/web", Some("1.0"), "web");
    let kube = FakeKube::start().await;
    deployment(&kube, "shop", "web", "fake.test/team/web:1.0", 2);
    deployment(&kube, "shop", "web-canary", "fake.test/team/web:1.0", 1);
    deployment(&kube, "shop", "api", "fake.test/team/api:2.0", 1);
    pod(&kube, "shop", "worker", "127.0.0.1:1/team/worker:1");
    pod(&kube, "kube-system", "dns", "fake.test/team/api:2.0");
    (registry, kube)
}

type Fake2 = std::sync::Arc<Fake>;

/// A kube client talking to the fake.
fn client(kube: &FakeKube) -> kube::Client {
    let config = kube::Config::new(kube.url().parse().expect("url"));
    kube::Client::try_from(config).expect("client")
}

async fn run(kube: &FakeKube, registry: &Fake, selection: Selection) -> (Findings, Vec<String>) {
    let pipeline = landed::cli::pipeline(config(registry), None, false)
        .await
        .expect("pipeline with the built-in policies");
    let findings = audit::audit(&client(kube), &pipeline, &selection, 4, &Silent)
        .await
        .expect("audit");
    (findings, audit::policy_names(&pipeline))
}

#[tokio::test]
async fn each_workload_once_with_its_verdicts_and_what_enforce_would_deny() {
    let (registry, kube) = cluster().await;
    let (findings, _) = run(&kube, &registry, Selection::default()).await;
    let summary: Vec<(&str, &str, usize, Decision, VerdictClass)> = findings
        .workloads
        .iter()
        .map(|w| {
            assert_eq!(w.images.len(), 1, "{w:?}");
            (
                w.kind,
                w.name.as_str(),
                w.owned,
                w.decision,
                w.images[0].verdict,
            )
        })
        .collect();
    use Decision::*;
    use VerdictClass::*;
    let mut summary = summary;
    summary.sort_by_key(|s| s.1);
    assert_eq!(
        summary,
        [
            ("Deployment", "api", 2, Deny, Absent),
            ("Deployment", "web", 3, Allow, Landed),
            ("Deployment", "web-canary", 2, Allow, Landed),
            ("Pod", "worker", 0, Allow, Unavailable),
        ]
    );
    assert_eq!(findings.skipped, 1, "kube-system is excluded");
    assert_eq!(findings.lookups, 3, "one lookup per distinct image");
    let api = findings
        .workloads
        .iter()
        .find(|w| w.name == "api")
        .expect("api");
    assert!(
        api.denials.iter().any(|d| d.message.contains("absent")),
        "{:?}",
        api.denials
    );
    assert_eq!(findings.exit_code(), 1);
    let json = serde_json::to_value(&findings).expect("json");
    let verdicts: Vec<&str> = json["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .filter_map(|w| w["images"][0]["verdict"].as_str())
        .collect();
    assert_eq!(verdicts.len(), 4, "{json}");
    assert!(verdicts.contains(&"digest_mismatch") || verdicts.contains(&"absent"));
}

#[tokio::test]
async fn namespaces_are_listed_one_by_one_when_selected() {
    let (registry, kube) = cluster().await;
    let selection = Selection {
        namespaces: vec!["shop".into()],
    };
    let (findings, _) = run(&kube, &registry, selection).await;
    assert_eq!(findings.workloads.len(), 4);
    assert_eq!(findings.skipped, 0);
    let lists: Vec<String> = kube
        .requests()
        .into_iter()
        .filter(|(m, _)| m == "GET")
        .map(|(_, p)| p)
        .collect();
    assert!(
        lists.contains(&"/api/v1/namespaces/shop/pods".to_owned()),
        "{lists:?}"
    );
    assert!(
        lists.contains(&"/apis/apps/v1/namespaces/shop/deployments".to_owned()),
        "{lists:?}"
    );
    assert!(
        !lists.iter().any(|p| p.contains("kube-system")),
        "{lists:?}"
    );
}

#[tokio::test]
async fn policy_reports_are_built_per_namespace_and_applied_then_replaced() {
    let (registry, kube) = cluster().await;
    let (findings, policies) = run(&kube, &registry, Selection::default()).await;
    let reports = audit::report::reports(&findings, &policies, audit::now());
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(report.metadata.namespace.as_deref(), Some("shop"));
    assert_eq!(report.kind, "PolicyReport");
    let failed: Vec<(&str, &str)> = report
        .results
        .iter()
        .filter(|r| r.result == "fail")
        .map(|r| (r.policy.as_str(), r.resources[0].name.as_str()))
        .collect();
    assert_eq!(failed, [("require-landed", "api")]);
    assert_eq!(report.summary.fail, 1);
    assert_eq!(
        report.summary.pass as usize,
        4 * policies.len() - 1,
        "one result per workload and policy"
    );
    let client = client(&kube);
    audit::report::apply(&client, &reports)
        .await
        .expect("create");
    audit::report::apply(&client, &reports)
        .await
        .expect("replace");
    let stored = kube.objects(POLICY_REPORTS, "policyreports");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["summary"]["fail"], 1);
    let writes: Vec<(String, String)> = kube
        .requests()
        .into_iter()
        .filter(|(m, _)| m == "POST" || m == "PUT")
        .collect();
    assert_eq!(
        writes,
        [
            (
                "POST".into(),
                "/apis/wgpolicyk8s.io/v1alpha2/namespaces/shop/policyreports".into()
            ),
            (
                "PUT".into(),
                "/apis/wgpolicyk8s.io/v1alpha2/namespaces/shop/policyreports/landed".into()
            ),
        ]
    );
}
