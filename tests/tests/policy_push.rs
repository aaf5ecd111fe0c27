//! `landed policy push` / `pull` against a real docker-registry behind token auth: the
//! artifact layout on the wire, a byte-identical round trip, `landed serve` loading the pushed
//! policy by the printed digest, and clear refusals (no credentials, a read-only account, a
//! wrong pin, the egress rule), and a lying registry caught (an upload sent elsewhere, a
//! manifest that is not the one pushed).

use std::path::PathBuf;

use landed_e2e::config::PolicyEntry;
use landed_e2e::docker_config::{pull_secret_config, Login};
use landed_e2e::fakes::hostile::TcpService;
use landed_e2e::fakes::lying_upload::{LyingUploadRegistry, UploadLie};
use landed_e2e::fakes::token_server::TokenServer;
use landed_e2e::gar::{Gar, GAR_HOST, GAR_PROJECT};
use landed_e2e::review::PodReview;
use landed_e2e::scenario::{token_registry, TokenRegistry};
use landed_e2e::server::LandedServer;
use landed_e2e::{sha256_digest, Landed, LandedConfig, Registry, RegistryEntry, RegistryOptions};
use serde_json::Value;

const REPO: &str = "policies/require-landed";

fn built_policy(crate_name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../policies/target/components")
        .join(format!("{crate_name}.wasm"));
    assert!(
        path.is_file(),
        "{}: build the policies with policies/build.sh",
        path.display()
    );
    path
}

/// The `oci:` line push printed, without the `oci: ` prefix.
fn pasted_reference(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("oci: "))
        .unwrap_or_else(|| panic!("no `oci:` line in {stdout}"))
        .to_owned()
}

fn push(landed: &Landed, wasm: &std::path::Path, target: &str) -> landed_e2e::RunOutput {
    landed
        .policy("push", &[wasm.to_str().expect("utf-8"), target])
        .expect("run push")
}

#[test]
fn push_then_pull_is_byte_identical_in_the_wasm_artifact_layout() {
    let TokenRegistry {
        tokens,
        registry,
        landed,
    } = token_registry("author", "s3cret-push-pw", "s3cret-push-pw").expect("registry");
    let wasm = built_policy("require_landed");
    let source = std::fs::read(&wasm).expect("read policy");
    let target = format!("{}/{REPO}:v1", registry.host());

    let run = push(&landed, &wasm, &target);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let pinned = pasted_reference(&run.stdout);
    let digest = pinned
        .strip_prefix(&format!("{target}@"))
        .unwrap_or_else(|| panic!("{pinned} is not {target}@…"))
        .to_owned();
    assert!(
        run.stdout.contains(&format!("digest: {digest}")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("2 of 2 blobs uploaded"),
        "{}",
        run.stdout
    );
    assert!(
        tokens.requests().iter().any(|r| r
            .query
            .contains("repository%3Apolicies%2Frequire-landed%3Apull%2Cpush")),
        "no push-scoped token was asked for: {:?}",
        tokens
            .requests()
            .iter()
            .map(|r| &r.query)
            .collect::<Vec<_>>()
    );

    // What the registry serves, read raw: the media types Kubewarden and oras use.
    let admin = registry.admin().expect("admin");
    let (status, header, body) = admin.get_manifest(REPO, "v1").expect("GET manifest");
    assert_eq!(status, 200);
    assert_eq!(header.as_deref(), Some(digest.as_str()));
    assert_eq!(sha256_digest(&body), digest);
    let manifest: Value = serde_json::from_slice(&body).expect("manifest JSON");
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v1+json"
    );
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1, "{manifest}");
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.wasm.content.layer.v1+wasm"
    );
    assert_eq!(layers[0]["digest"], sha256_digest(&source));
    assert_eq!(layers[0]["size"], source.len());
    let notes = &manifest["annotations"];
    assert_eq!(notes["dev.landed.policy.abi"], "landed");
    assert_eq!(
        notes["dev.landed.policy.source.sha256"],
        sha256_digest(&source).trim_start_matches("sha256:")
    );
    assert_eq!(
        notes["org.opencontainers.image.title"],
        "require_landed.wasm"
    );
    assert!(notes["dev.landed.version"].is_string(), "{notes}");
    assert!(notes["org.opencontainers.image.created"]
        .as_str()
        .is_some_and(|t| t.len() == 20 && t.ends_with('Z')));

    // Pulled back by the pasted, pinned reference: the same bytes.
    let out = landed.home().join("pulled.wasm");
    let run = landed
        .policy("pull", &[&pinned, "-o", out.to_str().expect("utf-8")])
        .expect("run pull");
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert_eq!(std::fs::read(&out).expect("pulled file"), source);

    // `inspect` takes the reference too, and says the lean built-in qualifies for reuse.
    let run = landed
        .policy("inspect", &[&format!("oci://{pinned}")])
        .expect("run inspect");
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(run.stdout.contains("contract: ok"), "{}", run.stdout);
    assert!(run.stdout.contains("reuse:   qualifies"), "{}", run.stdout);

    // A second push finds both blobs there (HEAD) and sends none.
    let run = push(&landed, &wasm, &target);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(
        run.stdout.contains("0 of 2 blobs uploaded"),
        "{}",
        run.stdout
    );
}

#[test]
fn landed_serve_loads_the_pushed_policy_by_the_printed_digest() {
    let TokenRegistry {
        tokens: _tokens,
        registry,
        mut landed,
    } = token_registry("author", "s3cret-push-pw", "s3cret-push-pw").expect("registry");
    let target = format!("{}/{REPO}:v1", registry.host());
    let run = push(&landed, &built_policy("require_landed"), &target);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let pinned = pasted_reference(&run.stdout);

    let config = LandedConfig {
        policies: vec![PolicyEntry::oci("require-landed", &pinned)],
        ..LandedConfig::with_registries(vec![RegistryEntry::for_registry(&registry)])
    };
    let server = LandedServer::start(&mut landed, &config).expect("landed serve");
    let missing = format!("{}/team/app:never-pushed", registry.host());
    let review = PodReview::new("shop")
        .expect("review")
        .container("worker", &missing);
    let (status, body) = server.post("/validate", &review.to_json()).expect("POST");
    assert_eq!(status, 200, "{body}");
    let response = &body["response"];
    assert_eq!(response["allowed"], false, "{body}");
    let message = response["status"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("worker") && message.contains("absent"),
        "{body}"
    );
    let digest = pinned.rsplit('@').next().expect("digest");
    let log = server.stop_and_check_logs().expect("logs");
    assert!(
        log.lines()
            .any(|l| l.contains("policy artifact resolved") && l.contains(digest)),
        "{log}"
    );
}

#[test]
fn push_without_credentials_is_refused_clearly_and_leaves_no_tag() {
    let TokenRegistry {
        tokens: _tokens,
        registry,
        landed,
    } = token_registry("author", "s3cret-push-pw", "s3cret-push-pw").expect("registry");
    std::fs::remove_file(landed.home().join(".docker/config.json")).expect("log out");
    let target = format!("{}/{REPO}:v1", registry.host());
    let run = push(&landed, &built_policy("require_landed"), &target);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(
        run.stderr.contains(&format!("push to {target} failed"))
            && run.stderr.contains("unauthorized")
            && run.stderr.contains("landed found no credentials"),
        "{}",
        run.describe()
    );
    assert!(!run.stdout.contains("oci:"), "{}", run.stdout);
    let admin = registry.admin().expect("admin");
    assert_eq!(admin.head_manifest(REPO, "v1").expect("HEAD").0, 404);
}

#[test]
fn push_with_a_read_only_account_is_refused_clearly_and_leaves_no_tag() {
    let tokens =
        TokenServer::start_read_only(Some(("reader", "s3cret-read-pw")), 300).expect("tokens");
    let registry = Registry::start(RegistryOptions {
        auth: tokens.registry_auth(),
        ..RegistryOptions::default()
    })
    .expect("registry");
    let mut landed = Landed::new().expect("landed");
    landed
        .set_config(&LandedConfig::with_registries(vec![
            RegistryEntry::for_registry(&registry),
        ]))
        .expect("config");
    landed
        .write_docker_config(&[Login::new(&registry.host(), "reader", "s3cret-read-pw")])
        .expect("docker config");
    let target = format!("{}/{REPO}:v1", registry.host());
    let run = push(&landed, &built_policy("require_landed"), &target);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(
        run.stderr.contains("unauthorized")
            && run.stderr.contains("the credentials from docker-config")
            && run.stderr.contains("must allow push"),
        "{}",
        run.describe()
    );
    let granted: Vec<String> = tokens.requests().iter().map(|r| r.query.clone()).collect();
    assert!(
        granted.iter().any(|q| q.contains("pull%2Cpush")),
        "push scope never asked: {granted:?}"
    );
    let (status, _) = registry
        .admin()
        .expect("admin")
        .head_manifest(REPO, "v1")
        .expect("HEAD");
    assert_eq!(status, 404, "a read-only account created the tag");
}

#[test]
fn pull_of_a_wrong_pin_is_refused_and_writes_nothing() {
    let TokenRegistry {
        tokens: _tokens,
        registry,
        landed,
    } = token_registry("author", "s3cret-push-pw", "s3cret-push-pw").expect("registry");
    let target = format!("{}/{REPO}:v1", registry.host());
    let run = push(&landed, &built_policy("no_latest_tag"), &target);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let wrong = format!("{target}@sha256:{}", "0".repeat(64));
    let out = landed.home().join("pulled.wasm");
    let run = landed
        .policy("pull", &[&wrong, "-o", out.to_str().expect("utf-8")])
        .expect("run pull");
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(run.stderr.contains("cannot pull"), "{}", run.describe());
    assert!(!out.exists(), "a refused pull wrote {}", out.display());
}

#[test]
fn push_to_a_registry_the_egress_rule_refuses_says_so() {
    let mut landed = Landed::new().expect("landed");
    landed
        .set_config(&LandedConfig {
            deny_unlisted: Some(true),
            ..LandedConfig::default()
        })
        .expect("config");
    let run = push(
        &landed,
        &built_policy("require_landed"),
        "registry.invalid/policies/x:v1",
    );
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(
        run.stderr.contains("not contacted") && run.stderr.contains("egress rule"),
        "{}",
        run.describe()
    );
}

/// A user logged in to `registry` (plain HTTP) with a config listing it.
fn logged_in_to(host: &str, endpoint: &str) -> Landed {
    let mut landed = Landed::new().expect("landed");
    landed
        .set_config(&LandedConfig::with_registries(vec![
            RegistryEntry::for_endpoint(host, endpoint),
        ]))
        .expect("config");
    landed
        .write_docker_config(&[Login::new(host, "author", "s3cret-lied-to-pw")])
        .expect("docker config");
    landed
}

#[test]
fn a_registry_sending_the_upload_to_another_host_gets_no_credentials_there() {
    let collector = TcpService::start("127.0.0.1").expect("collector");
    let liar = LyingUploadRegistry::start(UploadLie::UploadElsewhere(format!(
        "http://{}",
        collector.host()
    )))
    .expect("registry");
    let landed = logged_in_to(&liar.host(), &liar.endpoint());
    let target = format!("{}/{REPO}:v1", liar.host());
    let run = push(&landed, &built_policy("require_landed"), &target);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(
        run.stderr
            .contains("landed sends credentials only to the registry itself"),
        "{}",
        run.describe()
    );
    assert!(
        liar.requests()
            .iter()
            .any(|r| r.method == "POST" && r.authorization.is_some()),
        "the upload was never started with credentials: the test proves nothing"
    );
    assert_eq!(
        collector.connections(),
        0,
        "landed connected to the collector"
    );
}

#[test]
fn a_registry_serving_another_manifest_after_the_push_is_not_taken_at_its_word() {
    let liar = LyingUploadRegistry::start(UploadLie::ServesAnotherManifest).expect("registry");
    let landed = logged_in_to(&liar.host(), &liar.endpoint());
    let target = format!("{}/{REPO}:v1", liar.host());
    let run = push(&landed, &built_policy("require_landed"), &target);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(
        run.stderr.contains("the registry accepted the manifest")
            && run.stderr.contains("not the pushed"),
        "{}",
        run.describe()
    );
    assert!(!run.stdout.contains("oci:"), "{}", run.stdout);
}

#[test]
fn push_to_artifact_registry_uses_application_default_credentials_over_tls() {
    let gar = Gar::start(3600).expect("gar");
    let repo = format!("{GAR_PROJECT}/policies/no-latest-tag");
    let target = format!("{GAR_HOST}/{repo}:1.0");
    let wasm = built_policy("no_latest_tag");
    let run = push(&gar.landed, &wasm, &target);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let pinned = pasted_reference(&run.stdout);
    assert!(pinned.starts_with(&format!("{target}@sha256:")), "{pinned}");
    assert_eq!(
        gar.oauth.request_count(),
        1,
        "one Google token for the push"
    );
    let (status, header, _) = gar
        .registry
        .admin()
        .expect("admin")
        .get_manifest(&repo, "1.0")
        .expect("GET");
    assert_eq!(status, 200);
    assert_eq!(header.as_deref(), pinned.rsplit('@').next());

    let out = gar.landed.home().join("pulled.wasm");
    let run = gar
        .landed
        .policy("pull", &[&pinned, "-o", out.to_str().expect("utf-8")])
        .expect("run pull");
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert_eq!(
        std::fs::read(&out).expect("pulled"),
        std::fs::read(&wasm).expect("source")
    );
}

#[test]
fn push_of_a_file_that_is_not_a_policy_is_a_usage_error() {
    let landed = Landed::new().expect("landed");
    let file = landed.home().join("notes.wasm");
    std::fs::write(&file, "#!/bin/sh\necho not wasm\n").expect("write");
    let run = push(&landed, &file, "127.0.0.1:9/policies/notes:v1");
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert!(
        run.stderr.contains("cannot be pushed") && run.stderr.contains("not a policy"),
        "{}",
        run.describe()
    );
}

#[test]
fn push_with_a_pull_secret_file_as_docker_config() {
    let TokenRegistry {
        tokens: _tokens,
        registry,
        mut landed,
    } = token_registry("author", "s3cret-push-pw", "s3cret-push-pw").expect("registry");
    std::fs::remove_file(landed.home().join(".docker/config.json")).expect("log out");
    // A mounted `kubernetes.io/dockerconfigjson` secret, named by `dockerConfig:`.
    let secret = landed.home().join("regcred.dockerconfigjson");
    let login = Login::new(&registry.host(), "author", "s3cret-push-pw");
    std::fs::write(
        &secret,
        serde_json::to_vec(&pull_secret_config(std::slice::from_ref(&login))).expect("json"),
    )
    .expect("write secret");
    landed.add_secret(login.encoded());
    landed
        .set_config(&LandedConfig {
            docker_config: Some(secret),
            ..LandedConfig::with_registries(vec![RegistryEntry::for_registry(&registry)])
        })
        .expect("config");
    let target = format!("{}/{REPO}:v1", registry.host());
    let run = push(&landed, &built_policy("require_landed"), &target);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let digest = pasted_reference(&run.stdout)
        .rsplit('@')
        .next()
        .expect("digest")
        .to_owned();
    let (status, header) = registry
        .admin()
        .expect("admin")
        .head_manifest(REPO, "v1")
        .expect("HEAD");
    assert_eq!((status, header.as_deref()), (200, Some(digest.as_str())));
}

/// The smallest waPC guest: a core module exporting `__guest_call(i32, i32) -> i32`.
const WAPC_MODULE: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // \0asm, version 1
    0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, // type: (i32, i32) -> i32
    0x03, 0x02, 0x01, 0x00, // one function of that type
    0x07, 0x10, 0x01, 0x0c, b'_', b'_', b'g', b'u', b'e', b's', b't', b'_', b'c', b'a', b'l', b'l',
    0x00, 0x00, // export "__guest_call" = func 0
    0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x01, 0x0b, // body: i32.const 1
];

#[test]
fn a_kubewarden_module_is_pushed_with_its_abi_named() {
    let TokenRegistry {
        tokens: _tokens,
        registry,
        landed,
    } = token_registry("author", "s3cret-push-pw", "s3cret-push-pw").expect("registry");
    let wasm = landed.home().join("kw_policy.wasm");
    std::fs::write(&wasm, WAPC_MODULE).expect("write module");
    let repo = "policies/kw-policy";
    let run = push(&landed, &wasm, &format!("{}/{repo}:v1", registry.host()));
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(run.stdout.contains("kubewarden-wapc ABI"), "{}", run.stdout);
    let (_, _, body) = registry
        .admin()
        .expect("admin")
        .get_manifest(repo, "v1")
        .expect("GET");
    let manifest: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        manifest["annotations"]["dev.landed.policy.abi"], "kubewarden-wapc",
        "{manifest}"
    );
}
