//! The audit scan against a fake kube API server and an in-process fake registry: a small
//! cluster with landed, never-pushed and unreachable images; owned objects reported once under
//! their owner; each distinct image resolved once; OpenReports and PolicyReports built and
//! applied.

mod kube_support;
mod registry_support;

use std::time::Duration;

use kube_support::{deployment, pod, FakeKube};
use landed::audit::report::PolicyResult;
use landed::audit::{self, Decision, Findings, ReportFormat, Selection, Silent};
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

#[rstest::rstest]
#[case::openreports(
    ReportFormat::Openreports,
    "apis/openreports.io/v1alpha1",
    "reports",
    "Report"
)]
#[case::wgpolicy(
    ReportFormat::Wgpolicyk8s,
    POLICY_REPORTS,
    "policyreports",
    "PolicyReport"
)]
#[tokio::test]
async fn reports_are_built_per_workload_and_applied_then_replaced(
    #[case] format: ReportFormat,
    #[case] prefix: &str,
    #[case] plural: &str,
    #[case] kind: &str,
) {
    let (registry, kube) = cluster().await;
    let (findings, policies) = run(&kube, &registry, Selection::default()).await;
    let reports = audit::report::reports(&findings, &policies, format, audit::now());
    let mut scopes: Vec<(&str, &str, &str)> = reports
        .iter()
        .map(|r| {
            assert_eq!(r.kind, kind);
            assert_eq!(r.metadata.namespace, r.scope.namespace);
            (
                r.scope.kind.as_str(),
                r.scope.name.as_str(),
                r.metadata.name.as_str(),
            )
        })
        .collect();
    scopes.sort();
    assert_eq!(
        scopes,
        [
            ("Deployment", "api", "deployment-api"),
            ("Deployment", "web", "deployment-web"),
            ("Deployment", "web-canary", "deployment-web-canary"),
            ("Pod", "worker", "pod-worker"),
        ]
    );
    let failed: Vec<(&str, &str, &str)> = reports
        .iter()
        .flat_map(|r| &r.results)
        .filter(|r| r.result == PolicyResult::Fail)
        .map(|r| {
            (
                r.policy.as_str(),
                r.resources[0].name.as_str(),
                r.properties["verdict"].as_str(),
            )
        })
        .collect();
    assert_eq!(failed, [("require-landed", "api", "absent")]);
    for r in &reports {
        assert_eq!(r.results.len(), policies.len(), "one image per workload");
        assert_eq!(r.summary.pass + r.summary.fail, r.results.len() as u32);
        let owner = &r.metadata.owner_references[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str()),
            (r.scope.kind.as_str(), r.scope.name.as_str())
        );
        assert_eq!(Some(&owner.uid), r.scope.uid.as_ref());
        assert_eq!(
            r.source.as_deref(),
            (format == ReportFormat::Openreports).then_some("landed"),
            "only OpenReports has a report-level source"
        );
        assert!(r.results.iter().all(|x| x.source == "landed"));
    }
    let client = client(&kube);
    audit::report::apply(&client, format, &reports)
        .await
        .expect("create");
    audit::report::apply(&client, format, &reports)
        .await
        .expect("replace");
    let stored = kube.objects(prefix, plural);
    assert_eq!(stored.len(), 4, "replaced, not duplicated");
    let api = stored
        .iter()
        .find(|o| o["metadata"]["name"] == "deployment-api")
        .expect("api's report");
    assert_eq!(api["summary"]["fail"], 1);
    assert_eq!(api["scope"]["name"], "api");
    let mut writes: Vec<(String, String)> = kube
        .requests()
        .into_iter()
        .filter(|(m, _)| m == "POST" || m == "PUT")
        .collect();
    let base = format!("/{prefix}/namespaces/shop/{plural}");
    writes.sort();
    let names = [
        "deployment-api",
        "deployment-web",
        "deployment-web-canary",
        "pod-worker",
    ];
    let want: Vec<(String, String)> = names
        .iter()
        .map(|_| ("POST".to_owned(), base.clone()))
        .chain(
            names
                .iter()
                .map(|n| ("PUT".to_owned(), format!("{base}/{n}"))),
        )
        .collect();
    assert_eq!(writes, want);
}

#[tokio::test]
async fn a_report_the_api_refuses_does_not_stop_the_others() {
    let (registry, kube) = cluster().await;
    pod(&kube, "billing", "invoicer", "fake.test/team/web:1.0");
    let (findings, policies) = run(&kube, &registry, Selection::default()).await;
    let format = ReportFormat::Openreports;
    let reports = audit::report::reports(&findings, &policies, format, audit::now());
    let refused = reports[0].metadata.namespace.clone();
    let other = if refused == "shop" { "billing" } else { "shop" };
    kube.refuse_writes_in(&refused);
    let err = audit::report::apply(&client(&kube), format, &reports)
        .await
        .expect_err("one namespace refuses");
    assert!(err.to_string().contains(&refused), "{err}");
    let stored = kube.objects("apis/openreports.io/v1alpha1", "reports");
    let written = reports
        .iter()
        .filter(|r| r.metadata.namespace == other)
        .count();
    assert!(written > 0);
    assert_eq!(
        stored.len(),
        written,
        "every report of {other} still written"
    );
    assert!(stored.iter().all(|r| r["metadata"]["namespace"] == other));
}
