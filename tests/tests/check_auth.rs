//! Credentials: htpasswd over TLS with a private CA, and a registry token server of our own.

use landed_e2e::docker_config::Login;
use landed_e2e::fakes::form_values;
use landed_e2e::scenario::{
    tls_basic_registry, token_registry, TokenRegistry, EXIT_LANDED, EXIT_UNDETERMINED,
};
use landed_e2e::{LandedConfig, RegistryEntry};

#[test]
fn right_credentials_in_docker_config_are_landed() {
    let (registry, mut landed) = tls_basic_registry("ci", "pa55-right-4e1c").expect("registry");
    let image = registry.push_image("team/app", "v1").expect("push");
    landed
        .write_docker_config(&[Login::new(&registry.host(), "ci", "pa55-right-4e1c")])
        .expect("docker config");

    let run = landed.check(&[&image.by_tag()]).expect("run");
    assert_eq!(run.code(), Some(EXIT_LANDED), "{}", run.output.describe());
    let result = run.assert_single_verdict("landed");
    assert_eq!(result.digest.as_deref(), Some(image.digest.as_str()));
}

#[test]
fn docker_config_named_in_landed_yaml_is_used() {
    let (registry, mut landed) = tls_basic_registry("ci", "pa55-yaml-77ab").expect("registry");
    let image = registry.push_image("team/app", "v1").expect("push");
    // DOCKER_CONFIG points at an empty dir; the file named by `dockerConfig:` has the login.
    let elsewhere = landed.home().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    let path = elsewhere.join("auth.json");
    let login = Login::new(&registry.host(), "ci", "pa55-yaml-77ab");
    std::fs::write(
        &path,
        landed_e2e::docker_config::docker_config(std::slice::from_ref(&login)).to_string(),
    )
    .expect("write");
    landed.add_secret(login.encoded());
    let ca = registry.write_ca(landed.home()).expect("ca");
    landed
        .set_config(&LandedConfig {
            registries: vec![RegistryEntry::for_registry(&registry).ca_file(ca)],
            docker_config: Some(path),
            ..LandedConfig::default()
        })
        .expect("config");

    let run = landed.check(&[&image.by_tag()]).expect("run");
    assert_eq!(run.code(), Some(EXIT_LANDED), "{}", run.output.describe());
    run.assert_single_verdict("landed");
}

#[test]
fn wrong_or_missing_credentials_are_unauthorized() {
    let (registry, mut landed) = tls_basic_registry("ci", "pa55-real-9d2f").expect("registry");
    let image = registry.push_image("team/app", "v1").expect("push");

    let run = landed
        .check(&[&image.by_tag()])
        .expect("run without credentials");
    assert_eq!(
        run.code(),
        Some(EXIT_UNDETERMINED),
        "{}",
        run.output.describe()
    );
    run.assert_single_verdict("unauthorized");

    landed
        .write_docker_config(&[Login::new(&registry.host(), "ci", "wrong-pa55-31c0")])
        .expect("docker config");
    let run = landed
        .check(&[&image.by_tag()])
        .expect("run with wrong password");
    assert_eq!(
        run.code(),
        Some(EXIT_UNDETERMINED),
        "{}",
        run.output.describe()
    );
    run.assert_single_verdict("unauthorized");

    // Never absent: a repository we cannot read is not a repository that is empty.
    let missing = format!("{}/team/app:never-pushed", registry.host());
    let run = landed.check(&[&missing]).expect("run");
    run.assert_single_verdict("unauthorized");
}

#[test]
fn untrusted_private_ca_is_unavailable() {
    let (registry, mut landed) = tls_basic_registry("ci", "pa55-ca-1b7e").expect("registry");
    let image = registry.push_image("team/app", "v1").expect("push");
    landed
        .write_docker_config(&[Login::new(&registry.host(), "ci", "pa55-ca-1b7e")])
        .expect("docker config");
    // Same registry, no caFile: the certificate chains to nothing we trust.
    landed
        .set_config(&LandedConfig::with_registries(vec![
            RegistryEntry::for_registry(&registry),
        ]))
        .expect("config");

    let run = landed.check(&[&image.by_tag()]).expect("run");
    assert_eq!(
        run.code(),
        Some(EXIT_UNDETERMINED),
        "{}",
        run.output.describe()
    );
    run.assert_single_verdict("unavailable");
}

#[test]
fn token_auth_is_landed_and_one_token_serves_a_repository() {
    let TokenRegistry {
        tokens,
        registry,
        landed,
    } = token_registry("reader", "tok-pa55-5a0d", "tok-pa55-5a0d").expect("token registry");
    let v1 = registry.push_image("team/app", "v1").expect("push");
    let v2 = registry.push_image("team/app", "v2").expect("push");
    let v3 = registry.push_image("team/app", "v3").expect("push");
    let other = registry.push_image("team/other", "v1").expect("push");

    let before = tokens.request_count();
    let run = landed
        .check(&[&v1.by_tag(), &v2.by_tag(), &v3.by_digest()])
        .expect("run");
    assert_eq!(run.code(), Some(EXIT_LANDED), "{}", run.output.describe());
    for image in [&v1, &v2] {
        let result = run.result_for(&image.by_tag()).expect("result");
        assert_eq!(result.verdict, "landed", "{:?}", result.raw);
        assert_eq!(result.digest.as_deref(), Some(image.digest.as_str()));
    }
    let requests = &tokens.requests()[before..];
    assert_eq!(
        requests.len(),
        1,
        "three lookups in one repository should share one pull token; token requests: {:?}",
        requests.iter().map(|r| &r.query).collect::<Vec<_>>()
    );
    let scopes = form_values(&requests[0].query, "scope");
    assert!(
        scopes.iter().any(|s| s == "repository:team/app:pull"),
        "scope of the token request: {scopes:?}"
    );

    // A second repository needs its own scope, so one more token, still landed.
    let before = tokens.request_count();
    let run = landed.check(&[&other.by_tag()]).expect("run");
    assert_eq!(run.code(), Some(EXIT_LANDED), "{}", run.output.describe());
    assert_eq!(tokens.request_count() - before, 1);
}

#[test]
fn token_server_refusing_the_credentials_is_unauthorized() {
    // The token server knows `tok-pa55-e19b`; the docker config logs in with another password.
    let TokenRegistry {
        tokens: _tokens,
        registry,
        landed,
    } = token_registry("reader", "tok-pa55-e19b", "not-the-pa55").expect("token registry");
    let image = registry.push_image("team/app", "v1").expect("push");

    let run = landed.check(&[&image.by_tag()]).expect("run");
    assert_eq!(
        run.code(),
        Some(EXIT_UNDETERMINED),
        "{}",
        run.output.describe()
    );
    run.assert_single_verdict("unauthorized");
}
