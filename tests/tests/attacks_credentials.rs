//! Attacks on the credentials landed holds: making it print one it failed to parse, and
//! learning through its cache what another namespace's pull secret can see.

use landed_e2e::review::PodReview;
use landed_e2e::scenario::{registry_with_pull_secret, tls_basic_registry};
use landed_e2e::server::LandedServer;
use landed_e2e::{LandedConfig, RegistryEntry};

const USER: &str = "puller";
const PASSWORD: &str = "pull-pa55-attack-9d41";

#[test]
fn malformed_docker_config_never_prints_the_credential_it_failed_to_parse() {
    let (registry, mut landed) = tls_basic_registry(USER, PASSWORD).expect("registry");
    let image = registry.push_image("team/app", "v1").expect("push");
    // A common mistake: the entry is the bare `user:password` instead of {"auth": …}.
    let docker = landed.home().join(".docker");
    std::fs::write(
        docker.join("config.json"),
        format!(
            r#"{{"auths": {{"{}": "{USER}:{PASSWORD}"}}}}"#,
            registry.host()
        ),
    )
    .expect("config.json");
    landed.set_env("LANDED_LOG", "debug");

    // The harness fails any run whose output contains the password.
    let check = landed.check(&[&image.by_tag()]).expect("landed check");
    assert_eq!(check.output.code, Some(3), "{}", check.output.describe());
    assert!(
        check
            .output
            .stderr
            .contains("valid JSON but not a docker config (line 1"),
        "the operator is told where the file is wrong: {}",
        check.output.describe()
    );

    let ca = registry.write_ca(landed.home()).expect("ca");
    let config =
        LandedConfig::with_registries(vec![RegistryEntry::for_registry(&registry).ca_file(ca)]);
    let server = LandedServer::start(&mut landed, &config).expect("serve");
    let review = PodReview::new("shop")
        .expect("fixture")
        .container("app", &image.by_tag());
    let (status, body) = server.post("/validate", &review.to_json()).expect("POST");
    assert_eq!(status, 200, "{body}");
    assert!(!body.to_string().contains(PASSWORD), "{body}");
    let log = server
        .stop_and_check_logs()
        .expect("no credential in the log");
    assert!(log.contains("not a docker config"), "{log}");
}

#[test]
fn answer_seen_with_a_namespaces_pull_secret_is_not_shared_with_another_namespace() {
    let (registry, _kube, mut landed, image) =
        registry_with_pull_secret(USER, PASSWORD, "team/private").expect("setup");
    let ca = registry.write_ca(landed.home()).expect("ca");
    let config =
        LandedConfig::with_registries(vec![RegistryEntry::for_registry(&registry).ca_file(ca)]);
    let server = LandedServer::start(&mut landed, &config).expect("serve");

    let owner = PodReview::new("shop")
        .expect("fixture")
        .container("app", &image)
        .pull_secret("regcred");
    let (_, body) = server.post("/validate", &owner.to_json()).expect("POST");
    assert_eq!(body["response"]["allowed"], true, "{body}");
    assert!(body["response"]["warnings"].is_null(), "landed: {body}");

    // Another namespace, no credentials of its own: the registry's answer to it, not the
    // cached answer the other namespace's secret got.
    let prober = PodReview::new("attacker")
        .expect("fixture")
        .container("probe", &image);
    let (_, body) = server.post("/validate", &prober.to_json()).expect("POST");
    let warnings = body["response"]["warnings"].to_string();
    assert!(
        warnings.contains("is unauthorized"),
        "the prober learnt the image exists: {body}"
    );

    // The owner's answer is still served from the cache: one registry round for it.
    let before = registry_manifest_gets(&server);
    let (_, body) = server.post("/validate", &owner.to_json()).expect("POST");
    assert_eq!(body["response"]["allowed"], true, "{body}");
    assert!(body["response"]["warnings"].is_null(), "{body}");
    assert_eq!(
        registry_manifest_gets(&server),
        before,
        "not cached for its owner"
    );
    server.stop_and_check_logs().expect("logs");
}

/// Manifest requests landed has made so far, from its own metrics.
fn registry_manifest_gets(server: &LandedServer) -> u64 {
    let (_, metrics) = server.get("/metrics").expect("metrics");
    metrics
        .lines()
        .filter(|l| l.starts_with("landed_registry_request_duration_seconds_count"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}
