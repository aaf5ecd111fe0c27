//! Attacks on the breakglass annotation by someone who can create Pods in one namespace,
//! against the real `landed serve` over TLS and a real docker-registry. Breakglass is
//! restricted to the group `oncall@example.com` and skips only `require-landed`; the config
//! also runs `allowed-registries` (only the test registry is allowed).

use landed_e2e::config::{BreakglassEntry, PolicyEntry};
use landed_e2e::fakes::kube_api::FakeKubeApi;
use landed_e2e::review::PodReview;
use landed_e2e::server::LandedServer;
use landed_e2e::{Landed, LandedConfig, Registry, RegistryEntry, RegistryOptions};
use serde_json::{json, Value};

const ONCALL: &str = "oncall@example.com";
const REASON: &str = "INC-7 registry outage, paged by on-call";

struct Setup {
    registry: Registry,
    server: LandedServer,
    _landed: Landed,
    _kube: FakeKubeApi,
}

fn setup() -> Setup {
    let registry = Registry::start(RegistryOptions::default()).expect("registry");
    // The repository exists; the tag the attacker names never landed in it.
    registry.push_image("team/app", "v1").expect("push");
    let mut landed = Landed::new().expect("landed");
    let kube = FakeKubeApi::start().expect("kube");
    let kubeconfig = kube
        .write_kubeconfig(landed.home(), "shop")
        .expect("kubeconfig");
    landed.set_env("KUBECONFIG", kubeconfig.display().to_string());
    let config = LandedConfig {
        // Listed, so registry egress control lets landed contact it.
        registries: vec![RegistryEntry::for_registry(&registry)],
        policies: vec![
            PolicyEntry::builtin("require-landed"),
            PolicyEntry::builtin("allowed-registries")
                .settings(json!({"registries": [registry.host()]})),
        ],
        breakglass: Some(BreakglassEntry {
            groups: vec![ONCALL.to_owned()],
            ..BreakglassEntry::default()
        }),
        ..LandedConfig::default()
    };
    let server = LandedServer::start(&mut landed, &config).expect("landed serve");
    Setup {
        registry,
        server,
        _landed: landed,
        _kube: kube,
    }
}

impl Setup {
    /// `registry/team/app:never-pushed`: really absent from the registry.
    fn absent_image(&self) -> String {
        format!("{}/team/app:never-pushed", self.registry.host())
    }

    /// POSTs a Pod running `image` with the breakglass annotation, sent by `user` in `groups`;
    /// returns the AdmissionResponse.
    fn breakglass_pod(&self, image: &str, user: &str, groups: &[&str]) -> Value {
        let pod = PodReview::new("shop")
            .expect("fixture")
            .container("app", image)
            .annotation("landed.dev/breakglass", REASON)
            .requested_by(user, groups);
        let (status, body) = self.server.post("/validate", &pod.to_json()).expect("POST");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["response"]["uid"], pod.uid().as_str(), "{body}");
        body["response"].clone()
    }

    fn metrics(&self) -> String {
        let (status, text) = self.server.get("/metrics").expect("metrics");
        assert_eq!(status, 200, "{text}");
        text
    }
}

fn warnings(response: &Value) -> Vec<String> {
    response["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w.as_str().map(str::to_owned))
        .collect()
}

fn message(response: &Value) -> &str {
    response["status"]["message"].as_str().unwrap_or_default()
}

#[test]
fn breakglass_by_a_user_outside_breakglass_groups_on_an_absent_image_is_still_denied() {
    let setup = setup();
    let mark = setup.registry.access_mark();
    let response = setup.breakglass_pod(
        &setup.absent_image(),
        "mallory@example.com",
        &["system:authenticated", "devs@example.com"],
    );
    assert_eq!(response["allowed"], false, "{response}");
    assert!(
        message(&response).contains("never-pushed\" is absent"),
        "{response}"
    );
    let warnings = warnings(&response);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("breakglass is not permitted for mallory@example.com")),
        "{warnings:?}"
    );
    assert!(
        setup.registry.manifest_requests_since(mark, "team/app") >= 1,
        "the review went on as if the annotation were absent: the registry was asked"
    );
    assert!(
        setup
            .metrics()
            .contains("landed_breakglass_refused_total{namespace=\"shop\"} 1"),
        "refused attempts are counted"
    );
    let log = setup.server.stop_and_check_logs().expect("logs");
    let line = log
        .lines()
        .find(|l| l.contains("breakglass refused"))
        .expect("the refused attempt is logged");
    assert!(
        line.contains("\"level\":\"WARN\"")
            && line.contains("mallory@example.com")
            && line.contains(REASON)
            && line.contains("\"namespace\":\"shop\""),
        "{line}"
    );
}

#[test]
fn breakglass_by_an_oncall_member_skips_only_require_landed_for_an_absent_image() {
    let setup = setup();
    let response = setup.breakglass_pod(
        &setup.absent_image(),
        "alice@example.com",
        &["system:authenticated", ONCALL],
    );
    assert_eq!(response["allowed"], true, "{response}");
    let warnings = warnings(&response);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(REASON) && w.contains("skipped policies: require-landed")),
        "the client is told which policies were skipped: {warnings:?}"
    );
    assert_eq!(
        response["auditAnnotations"]["breakglass-skipped"], "require-landed",
        "{response}"
    );
    assert!(
        setup
            .metrics()
            .contains("landed_breakglass_total{namespace=\"shop\"} 1"),
        "uses are counted"
    );
    let log = setup.server.stop_and_check_logs().expect("logs");
    let line = log
        .lines()
        .find(|l| l.contains("breakglass used"))
        .expect("the use is logged");
    assert!(
        line.contains("\"level\":\"WARN\"")
            && line.contains("alice@example.com")
            && line.contains(REASON)
            && line.contains("\"name\":\"web\""),
        "{line}"
    );
}

#[test]
fn breakglass_by_an_oncall_member_cannot_bypass_allowed_registries() {
    let setup = setup();
    // A registry missing from allowed-registries' settings (and from `registries:`). Its
    // verdict is not asserted: what matters is that allowed-registries still runs and denies.
    let response = setup.breakglass_pod(
        "unlisted-registry.invalid:5000/team/app:v1",
        "alice@example.com",
        &["system:authenticated", ONCALL],
    );
    assert_eq!(response["allowed"], false, "{response}");
    assert!(
        message(&response).contains("not from an allowed registry"),
        "{response}"
    );
    assert!(
        warnings(&response)
            .iter()
            .any(|w| w.contains("skipped policies: require-landed")),
        "{response}"
    );
}
