//! A policy pulled from a real registry as an OCI artifact, with the webhook's own client.

use std::path::PathBuf;

use landed_e2e::review::PodReview;
use landed_e2e::scenario::plain_registry;
use serde_json::json;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn built_policy(crate_name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../policies/target/components")
        .join(format!("{crate_name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (build the policies with policies/build.sh)",
            path.display()
        )
    })
}

#[test]
fn require_landed_pulled_from_a_registry_denies_a_missing_image() {
    let (registry, mut landed) = plain_registry().expect("registry");
    let admin = registry.admin().expect("admin client");

    // Push the built-in rule as an artifact the way `oras push` lays it out.
    let repo = "policies/require-landed";
    let wasm = built_policy("require_landed");
    let layer = admin.upload_blob(repo, &wasm).expect("upload wasm");
    let config = admin.upload_blob(repo, b"{}").expect("upload config");
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.wasm.component.v1+wasm",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/vnd.wasm.content.layer.v1+wasm", "digest": layer, "size": wasm.len()}]
    });
    admin
        .put_manifest(
            repo,
            "v1",
            OCI_MANIFEST,
            &serde_json::to_vec(&manifest).expect("json"),
        )
        .expect("put manifest");

    let image = registry.push_image("team/app", "v1").expect("push image");
    let config_path = landed
        .set_config(&landed_e2e::LandedConfig::with_registries(vec![
            landed_e2e::RegistryEntry::for_registry(&registry),
        ]))
        .expect("config");
    let mut yaml = std::fs::read_to_string(&config_path).expect("read config");
    yaml.push_str(&format!(
        "policies:\n  - name: require-landed\n    oci: \"{}/{repo}:v1\"\n",
        registry.host()
    ));
    std::fs::write(&config_path, yaml).expect("write config");

    let missing = format!("{}/team/app:never-pushed", registry.host());
    let review = PodReview::new("shop")
        .expect("review")
        .container("app", &image.by_tag())
        .container("worker", &missing);
    let run = landed.review(&review.to_json()).expect("run review");
    let message = run.message().expect("message");
    assert!(
        !run.allowed().expect("decision"),
        "{}",
        run.output.describe()
    );
    assert!(
        message.contains("worker") && message.contains("absent"),
        "{message}"
    );
    assert!(!message.contains("container \"app\""), "{message}");
}

#[test]
fn an_oci_policy_that_cannot_be_pulled_is_reported_by_name() {
    let (registry, mut landed) = plain_registry().expect("registry");
    let config_path = landed
        .set_config(&landed_e2e::LandedConfig::with_registries(vec![
            landed_e2e::RegistryEntry::for_registry(&registry),
        ]))
        .expect("config");
    let mut yaml = std::fs::read_to_string(&config_path).expect("read config");
    yaml.push_str(&format!(
        "policies:\n  - name: house-rules\n    oci: \"{}/policies/nothing-here:v1\"\n",
        registry.host()
    ));
    std::fs::write(&config_path, yaml).expect("write config");
    let review = PodReview::new("shop")
        .expect("review")
        .container("app", "busybox");
    let run = landed.review(&review.to_json()).expect("run review");
    let stderr = &run.output.stderr;
    assert!(
        stderr.contains("house-rules") && stderr.contains("absent"),
        "{stderr}"
    );
}
