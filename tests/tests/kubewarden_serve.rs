//! The three Kubewarden test policies of `policies/kubewarden/` (built against the published
//! kubewarden-policy-sdk by `policies/build.sh`) inside `landed serve`, against a real
//! docker-registry: the manifest-digest policy sees the digest of a landed image and an error
//! naming `absent` for one that never landed; the validating policy denies a privileged
//! container; the mutating one patches on `/mutate`.

use std::path::PathBuf;

use base64::Engine as _;
use landed_e2e::config::PolicyEntry;
use landed_e2e::fakes::kube_api::FakeKubeApi;
use landed_e2e::review::PodReview;
use landed_e2e::scenario::plain_registry;
use landed_e2e::server::LandedServer;
use landed_e2e::{Landed, LandedConfig, Registry, RegistryEntry, RegistryOptions};
use serde_json::json;

/// A Kubewarden test policy built by `policies/build.sh`.
fn kubewarden_policy(crate_name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../policies/target/kubewarden")
        .join(format!("{crate_name}.wasm"));
    assert!(
        path.is_file(),
        "{} not found: build the Kubewarden test policies with policies/build.sh",
        path.display()
    );
    path
}

fn with_kube(landed: &mut Landed) -> FakeKubeApi {
    let kube = FakeKubeApi::start().expect("kube");
    let path = kube
        .write_kubeconfig(landed.home(), "shop")
        .expect("kubeconfig");
    landed.set_env("KUBECONFIG", path.display().to_string());
    kube
}

fn message(body: &serde_json::Value) -> String {
    body["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn kubewarden_policies_run_inside_landed_serve_against_a_real_registry() {
    let registry = Registry::start(RegistryOptions::default()).expect("registry");
    let pushed = registry.push_image("team/app", "v1").expect("push");
    let missing = format!("{}/team/app:never-pushed", registry.host());
    let mut landed = Landed::new().expect("landed");
    let _kube = with_kube(&mut landed);
    let mut config = LandedConfig::with_registries(vec![RegistryEntry::for_registry(&registry)]);
    config.policies = vec![
        PolicyEntry::file(
            "kw-manifest-digest",
            kubewarden_policy("kw_manifest_digest"),
        ),
        PolicyEntry::file(
            "kw-deny-privileged",
            kubewarden_policy("kw_deny_privileged"),
        )
        .settings(json!({"exemptNamespaces": ["kube-system"]})),
        PolicyEntry::file("kw-add-label", kubewarden_policy("kw_add_label"))
            .settings(json!({"labels": {"landed.dev/checked": "true"}})),
    ];
    let server = LandedServer::start(&mut landed, &config).expect("landed serve");
    let (status, ready) = server.get("/readyz").expect("readyz");
    assert_eq!(status, 200, "every Kubewarden policy loaded: {ready}");

    // A landed image: the policy is told its digest by landed's resolver.
    let good = PodReview::new("shop")
        .expect("fixture")
        .container("app", &pushed.by_tag());
    let (status, body) = server.post("/validate", &good.to_json()).expect("POST");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"]["allowed"], true, "{body}");
    let warnings = body["response"]["warnings"].to_string();
    assert!(
        warnings.contains(&pushed.digest),
        "{warnings} / {}",
        pushed.digest
    );

    // An image that never landed: the policy's host call fails with `absent: …`.
    let absent = PodReview::new("shop")
        .expect("fixture")
        .container("app", &pushed.by_tag())
        .container("worker", &missing);
    let (status, body) = server.post("/validate", &absent.to_json()).expect("POST");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"]["allowed"], false, "{body}");
    let text = message(&body);
    assert!(
        text.contains("kw-manifest-digest") || text.contains("worker"),
        "{text}"
    );
    assert!(text.contains("Host error: absent"), "{text}");

    // A privileged container: denied by the validating policy, in any namespace but kube-system.
    let mut privileged = good.to_json();
    privileged["request"]["object"]["spec"]["containers"][0]["securityContext"] =
        json!({"privileged": true});
    let (_, body) = server.post("/validate", &privileged).expect("POST");
    assert_eq!(body["response"]["allowed"], false, "{body}");
    assert!(message(&body).contains("privileged"), "{body}");

    // On /mutate the mutating policy's object becomes a JSON Patch.
    let (status, body) = server.post("/mutate", &good.to_json()).expect("POST");
    assert_eq!(status, 200, "{body}");
    // `patch` is a Go []byte: base64 text on the wire, as the API server documents it.
    let text = body["response"]["patch"].as_str().expect("patch as text");
    let patch = base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64 patch");
    let patch: serde_json::Value = serde_json::from_slice(&patch).expect("JSON patch");
    assert_eq!(
        patch,
        json!([{"op": "add", "path": "/metadata/labels/landed.dev~1checked", "value": "true"}])
    );
    server
        .stop_and_check_logs()
        .expect("no credentials in logs");
}

/// Pushes `wasm` to `repo:tag` the way `kwctl push` stores a policy (an OCI manifest, a
/// `application/vnd.wasm.config.v1+json` config, one `application/vnd.wasm.content.layer.v1+wasm`
/// layer); returns the manifest digest.
fn push_like_kwctl(registry: &Registry, repo: &str, tag: &str, wasm: &[u8]) -> String {
    let admin = registry.admin().expect("admin client");
    let layer = admin.upload_blob(repo, wasm).expect("upload wasm");
    let config = br#"{"metadata":{"protocolVersion":"v1"}}"#;
    let config_digest = admin.upload_blob(repo, config).expect("upload config");
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.wasm.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.wasm.content.layer.v1+wasm", "digest": layer, "size": wasm.len()}]
    });
    let manifest = serde_json::to_vec(&manifest).expect("json");
    admin
        .put_manifest(
            repo,
            tag,
            "application/vnd.oci.image.manifest.v1+json",
            &manifest,
        )
        .expect("put manifest")
}

#[test]
fn a_kubewarden_policy_pulled_by_digest_as_kwctl_pushes_it_runs() {
    let (registry, mut landed) = plain_registry().expect("registry");
    let wasm = std::fs::read(kubewarden_policy("kw_manifest_digest")).expect("read policy");
    let repo = "kubewarden/policies/manifest-digest";
    let digest = push_like_kwctl(&registry, repo, "v0.1.0", &wasm);
    let host = registry.host();
    let config_path = landed
        .set_config(&LandedConfig::with_registries(vec![
            RegistryEntry::for_registry(&registry),
        ]))
        .expect("config");
    let mut yaml = std::fs::read_to_string(&config_path).expect("read config");
    yaml.push_str(&format!(
        "policies:\n  - name: manifest-digest\n    oci: \"{host}/{repo}:v0.1.0@{digest}\"\n    abi: kubewarden-wapc\n"
    ));
    std::fs::write(&config_path, yaml).expect("write config");
    let review = PodReview::new("shop")
        .expect("review")
        .container("worker", &format!("{host}/team/app:never-pushed"));
    let run = landed.review(&review.to_json()).expect("run review");
    assert!(
        !run.allowed().expect("decision"),
        "{}",
        run.output.describe()
    );
    let message = run.message().expect("message");
    assert!(message.contains("Host error: absent"), "{message}");
    let stderr = &run.output.stderr;
    assert!(
        stderr.contains("policy artifact resolved") && stderr.contains(&digest),
        "{stderr}"
    );
}
