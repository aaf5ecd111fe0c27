//! The real `landed audit` binary against a fake kube API server (via KUBECONFIG) and an
//! in-process fake registry: table, JSON, OpenReports and PolicyReports with --apply, exit codes, and a
//! progress bar that appears on a terminal's stderr without touching stdout.

mod kube_support;
mod registry_support;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use kube_support::{deployment, pod, FakeKube};
use registry_support::Fake;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_landed");

struct Setup {
    dir: TempDir,
    kube: FakeKube,
    _registry: Arc<Fake>,
}

async fn setup() -> Setup {
    let registry = Fake::start().await;
    registry.push_image("team/web", Some("1.0"), "web");
    let kube = FakeKube::start().await;
    deployment(&kube, "shop", "web", "fake.test/team/web:1.0", 2);
    deployment(&kube, "shop", "api", "fake.test/team/api:2.0", 1);
    pod(&kube, "shop", "worker", "127.0.0.1:1/team/worker:1");
    let dir = tempfile::tempdir().expect("tempdir");
    kube.write_kubeconfig(&dir.path().join("kubeconfig"));
    let config = format!(
        "resolve:\n  deadline: 2s\n  requestTimeout: 1s\n  connectTimeout: 500ms\n\
         registries:\n  - host: fake.test\n    endpoint: {}\n    insecureHttp: true\n    auth: none\n",
        registry.url()
    );
    std::fs::write(dir.path().join("landed.yaml"), config).expect("config");
    Setup {
        dir,
        kube,
        _registry: registry,
    }
}

fn policy_dir() -> String {
    format!(
        "{}/../policies/target/components",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn command(program: &str, dir: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    cmd.env_clear()
        .env("HOME", dir)
        .env("PATH", "/usr/bin:/bin")
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .env("LANDED_CONFIG", dir.join("landed.yaml"))
        .env("LANDED_POLICY_DIR", policy_dir())
        .current_dir(dir);
    cmd
}

async fn audit(s: &Setup, args: &[&str]) -> Output {
    command(BIN, s.dir.path())
        .arg("audit")
        .args(args)
        .output()
        .await
        .expect("landed runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_when_piped_with_exit_code_1_and_no_progress_bar() {
    let s = setup().await;
    let out = audit(&s, &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is JSON ({e}): {}", text(&out.stdout)));
    let mut rows: Vec<(String, String, String)> = json["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .map(|w| {
            (
                w["name"].as_str().unwrap_or_default().to_owned(),
                w["decision"].as_str().unwrap_or_default().to_owned(),
                w["images"][0]["verdict"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    rows.sort();
    let want = [
        ("api", "deny", "absent"),
        ("web", "allow", "landed"),
        ("worker", "allow", "unavailable"),
    ]
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
    assert_eq!(rows, want);
    assert!(!out.stderr.contains(&b'\r'), "no progress bar on a pipe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_lists_every_container_and_what_would_be_denied() {
    let s = setup().await;
    let out = audit(&s, &["--output", "table", "--namespace", "shop"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAMESPACE",
            "WORKLOAD",
            "CONTAINER",
            "IMAGE",
            "VERDICT",
            "ENFORCE"
        ]
    );
    let col = lines[0].find("VERDICT").expect("column");
    let row = |name: &str| {
        lines
            .iter()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} in {stdout}"))
            .to_string()
    };
    assert!(
        row("Deployment/api")[col..].starts_with("absent"),
        "{stdout}"
    );
    assert!(
        row("Deployment/web")[col..].starts_with("landed"),
        "{stdout}"
    );
    assert!(
        row("Pod/worker")[col..].starts_with("unavailable"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("ReplicaSet"),
        "owned objects are folded: {stdout}"
    );
    assert!(
        stdout.contains("3 workload(s) scanned, 1 would be denied"),
        "{stdout}"
    );
    assert!(
        stdout.contains("shop/Deployment/api: [require-landed]"),
        "{stdout}"
    );
}

#[rstest::rstest]
#[case::openreports("openreports", "openreports.io/v1alpha1", "Report", "reports")]
#[case::wgpolicy(
    "policyreport",
    "wgpolicyk8s.io/v1alpha2",
    "PolicyReport",
    "policyreports"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_output_and_apply(
    #[case] output: &str,
    #[case] api_version: &str,
    #[case] kind: &str,
    #[case] plural: &str,
) {
    let s = setup().await;
    let out = audit(&s, &["-o", output, "--apply"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "one report per workload");
    let api = items
        .iter()
        .find(|r| r["scope"]["name"] == "api")
        .expect("api's report");
    assert_eq!(api["apiVersion"], api_version);
    assert_eq!(api["kind"], kind);
    assert_eq!(api["metadata"]["namespace"], "shop");
    assert_eq!(api["metadata"]["name"], "deployment-api");
    assert_eq!(api["summary"]["fail"], 1);
    assert_eq!(api["results"][0]["properties"]["verdict"], "absent");
    let stored = s.kube.objects(&format!("apis/{api_version}"), plural);
    assert_eq!(stored.len(), 3);
    let stored_api = stored
        .iter()
        .find(|r| r["metadata"]["name"] == "deployment-api")
        .expect("stored");
    assert_eq!(stored_api["results"], api["results"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_with_a_table_writes_the_configured_format() {
    let s = setup().await;
    let config = s.dir.path().join("landed.yaml");
    let mut yaml = std::fs::read_to_string(&config).expect("config");
    yaml.push_str("audit:\n  reports: wgpolicyk8s\n");
    std::fs::write(&config, yaml).expect("config");
    let out = audit(&s, &["-o", "table", "--apply"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        s.kube
            .objects("apis/wgpolicyk8s.io/v1alpha2", "policyreports")
            .len(),
        3
    );
    assert!(s
        .kube
        .objects("apis/openreports.io/v1alpha1", "reports")
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_bar_on_a_terminal_leaves_redirected_stdout_clean() {
    let s = setup().await;
    let script = Path::new("/usr/bin/script");
    if !script.exists() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    // `script` gives the command a terminal; stdout is redirected to a file inside it.
    let out_file = s.dir.path().join("out.json");
    let shell = format!("{BIN} audit --output json > {}", out_file.display());
    let out = command("/usr/bin/script", s.dir.path())
        .args(["-qec", &shell, "/dev/null"])
        .output()
        .await
        .expect("script runs");
    let terminal = text(&out.stdout);
    assert!(terminal.contains("resolving images ["), "{terminal}");
    assert!(terminal.contains('\r'), "{terminal}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_file).expect("out.json")).expect("clean JSON");
    assert_eq!(json["workloads"].as_array().map(Vec::len), Some(3));
}
