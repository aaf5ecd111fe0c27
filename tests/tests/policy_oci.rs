//! Policies pulled from a real registry as OCI artifacts, with the webhook's own client:
//! pinned by digest, the pin verified against the manifest bytes served; unpinned sources
//! only with `allowUnpinned: true`.

use std::path::{Path, PathBuf};

use landed_e2e::admin::AdminClient;
use landed_e2e::registry::Registry;
use landed_e2e::review::PodReview;
use landed_e2e::scenario::plain_registry;
use landed_e2e::Landed;
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

/// The manifest `oras push` writes for one WebAssembly layer.
fn artifact_manifest(config: &str, layer: &str, size: usize) -> Vec<u8> {
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.wasm.component.v1+wasm",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/vnd.wasm.content.layer.v1+wasm", "digest": layer, "size": size}]
    });
    serde_json::to_vec(&manifest).expect("json")
}

/// Pushes the built-in `crate_name` to `repo:tag` as an artifact; returns the manifest digest.
fn push_policy(admin: &AdminClient, repo: &str, tag: &str, crate_name: &str) -> String {
    let wasm = built_policy(crate_name);
    let layer = admin.upload_blob(repo, &wasm).expect("upload wasm");
    let config = admin.upload_blob(repo, b"{}").expect("upload config");
    let manifest = artifact_manifest(&config, &layer, wasm.len());
    admin
        .put_manifest(repo, tag, OCI_MANIFEST, &manifest)
        .expect("put manifest")
}

/// Writes a config listing `registry` with `policies` (YAML list items, indented by two).
fn configure(landed: &mut Landed, registry: &Registry, policies: &str) {
    let config_path = landed
        .set_config(&landed_e2e::LandedConfig::with_registries(vec![
            landed_e2e::RegistryEntry::for_registry(registry),
        ]))
        .expect("config");
    let mut yaml = std::fs::read_to_string(&config_path).expect("read config");
    yaml.push_str("policies:\n");
    yaml.push_str(policies);
    std::fs::write(&config_path, yaml).expect("write config");
}

/// Where Distribution's filesystem driver keeps the bytes of blob (or manifest) `digest`.
fn stored_blob(storage_root: &Path, digest: &str) -> PathBuf {
    let hex = digest.trim_start_matches("sha256:");
    storage_root
        .join("docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data")
}

#[test]
fn require_landed_pulled_from_a_registry_by_digest_denies_a_missing_image() {
    let (registry, mut landed) = plain_registry().expect("registry");
    let admin = registry.admin().expect("admin client");
    let repo = "policies/require-landed";
    let digest = push_policy(&admin, repo, "v1", "require_landed");
    let image = registry.push_image("team/app", "v1").expect("push image");
    let host = registry.host();
    configure(
        &mut landed,
        &registry,
        &format!("  - name: require-landed\n    oci: \"{host}/{repo}:v1@{digest}\"\n"),
    );

    let missing = format!("{host}/team/app:never-pushed");
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
    let stderr = &run.output.stderr;
    assert!(
        stderr.contains("policy artifact resolved") && stderr.contains(&digest),
        "{stderr}"
    );
}

#[test]
fn an_oci_policy_whose_stored_manifest_no_longer_matches_its_pin_is_refused_at_load() {
    let (registry, mut landed) = plain_registry().expect("registry");
    let admin = registry.admin().expect("admin client");
    let repo = "policies/house-rules";
    let pinned = push_policy(&admin, repo, "v1", "no_latest_tag");

    // The attacker (with write access to the registry's storage) swaps the manifest bytes
    // behind the pinned digest for a manifest naming another component of the repository.
    let swapped_in = built_policy("require_landed");
    let layer = admin.upload_blob(repo, &swapped_in).expect("upload");
    let config = admin.upload_blob(repo, b"{}").expect("upload config");
    let forged = artifact_manifest(&config, &layer, swapped_in.len());
    std::fs::write(stored_blob(&registry.storage_root(), &pinned), &forged).expect("tamper");
    // Distribution serves the forged bytes under the pinned digest, and says they are it.
    let (status, header, body) = admin.get_manifest(repo, &pinned).expect("get");
    assert_eq!((status, header.as_deref()), (200, Some(pinned.as_str())));
    assert_eq!(
        body, forged,
        "the registry re-verified on read: this test proves nothing"
    );

    // The pinned policy is refused; the built-in beside it keeps serving.
    let host = registry.host();
    configure(
        &mut landed,
        &registry,
        &format!(
            "  - name: require-landed\n  - name: house-rules\n    oci: \"{host}/{repo}@{pinned}\"\n    failurePolicy: Ignore\n"
        ),
    );
    let missing = format!("{host}/team/app:never-pushed");
    let review = PodReview::new("shop")
        .expect("review")
        .container("worker", &missing);
    let run = landed.review(&review.to_json()).expect("run review");
    assert!(
        !run.allowed().expect("decision"),
        "{}",
        run.output.describe()
    );
    let message = run.message().expect("message");
    assert!(
        message.contains("worker") && message.contains("absent"),
        "{message}"
    );
    let warnings = run.warnings().expect("warnings").join("\n");
    // The registry client refuses a body that does not hash to the digest asked for
    // (artifact.rs checks the pin again, for clients that hand it other bytes).
    assert!(
        warnings.contains("policy house-rules is not loaded")
            && warnings.contains(&format!(
                "asked for manifest {pinned}, the registry answered"
            )),
        "{warnings}"
    );
    let stderr = &run.output.stderr;
    assert!(
        stderr.contains("policy failed to load") && stderr.contains("house-rules"),
        "{stderr}"
    );
}

#[test]
fn an_unpinned_oci_policy_is_refused_unless_allow_unpinned_and_its_digest_is_logged() {
    let (registry, mut landed) = plain_registry().expect("registry");
    let admin = registry.admin().expect("admin client");
    let repo = "policies/require-landed";
    let digest = push_policy(&admin, repo, "v1", "require_landed");
    let host = registry.host();
    let missing = format!("{host}/team/app:never-pushed");
    let review = PodReview::new("shop")
        .expect("review")
        .container("worker", &missing);

    let entry = format!(
        "  - name: require-landed\n    oci: \"{host}/{repo}:v1\"\n    failurePolicy: Ignore\n"
    );
    configure(&mut landed, &registry, &entry);
    let mark = registry.access_mark();
    let run = landed.review(&review.to_json()).expect("run review");
    assert!(
        run.allowed().expect("decision"),
        "{}",
        run.output.describe()
    );
    let warnings = run.warnings().expect("warnings").join("\n");
    assert!(
        warnings.contains("is not pinned by digest") && warnings.contains("allowUnpinned: true"),
        "{warnings}"
    );
    assert_eq!(
        registry.manifest_requests_since(mark, repo),
        0,
        "the unpinned source was fetched"
    );

    configure(
        &mut landed,
        &registry,
        &format!("{entry}    allowUnpinned: true\n"),
    );
    let run = landed.review(&review.to_json()).expect("run review");
    assert!(
        !run.allowed().expect("decision"),
        "{}",
        run.output.describe()
    );
    let stderr = &run.output.stderr;
    let resolved = stderr
        .lines()
        .find(|l| l.contains("policy artifact resolved"))
        .unwrap_or_else(|| panic!("no resolved digest logged: {stderr}"));
    assert!(
        resolved.contains(&digest)
            && resolved.contains("require-landed")
            && resolved.contains(&format!("{repo}:v1")),
        "{resolved}"
    );
}

#[test]
fn an_oci_policy_that_cannot_be_pulled_is_reported_by_name() {
    let (registry, mut landed) = plain_registry().expect("registry");
    let pin = format!("sha256:{}", "0".repeat(64));
    configure(
        &mut landed,
        &registry,
        &format!(
            "  - name: house-rules\n    oci: \"{}/policies/nothing-here:v1@{pin}\"\n",
            registry.host()
        ),
    );
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
