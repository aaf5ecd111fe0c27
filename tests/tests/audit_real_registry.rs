//! `landed audit` end to end: a real docker-registry holding a landed image and the seed's
//! partial push (blobs uploaded, manifest never PUT), an unreachable registry, and a fake
//! kube API server listing the workloads (the webhook crate's fake, included by path).

#[path = "../../webhook/tests/kube_support/mod.rs"]
mod kube_support;

use kube_support::{deployment, pod, FakeKube};
use landed_e2e::runtime::block_on;
use landed_e2e::scenario::{plain_registry, EXIT_ABSENT};
use landed_e2e::{Landed, Registry};
use serde_json::Value;

struct Cluster {
    _registry: Registry,
    kube: FakeKube,
    landed: Landed,
}

/// `web` (landed, 2 pods), `api` (partially pushed), `worker` (registry not listening).
fn cluster() -> Cluster {
    let (registry, mut landed) = plain_registry().expect("registry");
    let web = registry.push_image("team/web", "v1").expect("push");
    let api = registry
        .push_partial("team/api", "v2")
        .expect("partial push");
    let kube = block_on(FakeKube::start());
    deployment(&kube, "shop", "web", &web.by_tag(), 2);
    deployment(&kube, "shop", "api", &api.by_tag(), 1);
    pod(&kube, "shop", "worker", "127.0.0.1:1/team/worker:1");
    let kubeconfig = landed.home().join("kubeconfig");
    kube.write_kubeconfig(&kubeconfig);
    landed.set_env("KUBECONFIG", kubeconfig.display().to_string());
    Cluster {
        _registry: registry,
        kube,
        landed,
    }
}

/// (name, owned objects, decision, verdict) per reported workload, sorted by name.
fn summary(json: &Value) -> Vec<(String, u64, String, String)> {
    let mut rows: Vec<_> = json["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .map(|w| {
            (
                w["name"].as_str().unwrap_or_default().to_owned(),
                w["owned"].as_u64().unwrap_or_default(),
                w["decision"].as_str().unwrap_or_default().to_owned(),
                w["images"][0]["verdict"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn audit_reports_landed_partial_and_unreachable_images() {
    let c = cluster();
    let run = c
        .landed
        .run("audit", &["--output", "json"], None)
        .expect("run");
    assert_eq!(run.code, Some(EXIT_ABSENT), "{}", run.describe());
    let json: Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    let want = [
        ("api", 2, "deny", "absent"),
        ("web", 3, "allow", "landed"),
        ("worker", 0, "allow", "unavailable"),
    ]
    .map(|(n, o, d, v)| (n.to_owned(), o, d.to_owned(), v.to_owned()));
    assert_eq!(summary(&json), want, "{}", run.describe());
    let api = &json["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .find(|w| w["name"] == "api")
        .expect("api")["denials"][0]["message"];
    let message = api.as_str().unwrap_or_default();
    assert!(message.contains("team/api:v2"), "{message}");
    assert!(!run.stderr.contains('\r'), "no progress bar on a pipe");

    let table = c
        .landed
        .run("audit", &["--output", "table"], None)
        .expect("run");
    assert_eq!(table.code, Some(EXIT_ABSENT), "{}", table.describe());
    assert!(
        table.stdout.contains("1 would be denied"),
        "{}",
        table.describe()
    );
    assert!(
        !table.stdout.contains("ReplicaSet/"),
        "{}",
        table.describe()
    );
}

#[test]
fn openreports_are_printed_and_applied() {
    let c = cluster();
    let run = c
        .landed
        .run("audit", &["--output", "openreports", "--apply"], None)
        .expect("run");
    assert_eq!(run.code, Some(EXIT_ABSENT), "{}", run.describe());
    let list: Value = serde_json::from_str(&run.stdout).expect("JSON");
    let items = list["items"].as_array().expect("items");
    assert!(
        items.iter().all(|r| r["kind"] == "Report"),
        "{}",
        run.describe()
    );
    let fails: u64 = items
        .iter()
        .map(|r| r["summary"]["fail"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(fails, 1);
    let failed: Vec<&Value> = items
        .iter()
        .flat_map(|r| r["results"].as_array().expect("results"))
        .filter(|r| r["result"] == "fail")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["policy"], "require-landed");
    assert_eq!(failed[0]["resources"][0]["kind"], "Deployment");
    assert_eq!(failed[0]["resources"][0]["name"], "api");
    assert_eq!(failed[0]["properties"]["verdict"], "absent");
    let stored = c.kube.objects("apis/openreports.io/v1alpha1", "reports");
    assert_eq!(stored.len(), items.len(), "{stored:?}");
    assert!(stored.iter().all(|r| r["metadata"]["namespace"] == "shop"));
}
