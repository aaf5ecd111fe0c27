//! Credentials never appear in what `landed` prints, even with debug logging and on the
//! failure paths where an error message is most tempted to include them.
//!
//! (Every run of every test is also searched for the secrets it registered; this test turns
//! logging up and walks the failure paths on purpose.)

use landed_e2e::docker_config::Login;
use landed_e2e::gar::Gar;
use landed_e2e::scenario::{tls_basic_registry, token_registry, TokenRegistry};
use landed_e2e::{LandedConfig, Registry, RegistryEntry, RegistryOptions};

const DEBUG_LOGS: &str = "debug";

#[test]
fn basic_credentials_are_not_printed_on_success_or_failure() {
    let (registry, mut landed) = tls_basic_registry("ci", "leak-me-not-8f3a").expect("registry");
    landed.set_env("RUST_LOG", DEBUG_LOGS);
    let image = registry.push_image("team/app", "v1").expect("push");
    landed
        .write_docker_config(&[Login::new(&registry.host(), "ci", "leak-me-not-8f3a")])
        .expect("docker config");
    let run = landed
        .check(&[&image.by_tag()])
        .expect("no leak with the right password");
    run.assert_single_verdict("landed");

    landed
        .write_docker_config(&[Login::new(&registry.host(), "ci", "wrong-leak-me-not-2b9c")])
        .expect("docker config");
    let run = landed
        .check(&[&image.by_tag()])
        .expect("no leak with a wrong password");
    run.assert_single_verdict("unauthorized");
}

#[test]
fn registry_bearer_tokens_are_not_printed() {
    let TokenRegistry {
        tokens,
        registry,
        mut landed,
    } = token_registry("reader", "leak-tok-pa55-41d0", "leak-tok-pa55-41d0")
        .expect("token registry");
    let image = registry.push_image("team/app", "v1").expect("push");
    landed.set_env("RUST_LOG", DEBUG_LOGS);
    let before = tokens.request_count();
    let run = landed.check(&[&image.by_tag()]).expect("run");
    run.assert_single_verdict("landed");

    // The JWTs the token server handed to landed in this run: their signatures are secret.
    let issued = tokens.requests().len() - before;
    assert!(issued >= 1);
    let output = format!("{}{}", run.output.stdout, run.output.stderr);
    assert!(
        !output.contains("eyJ"),
        "something that looks like a JWT was printed:\n{}",
        run.output.describe()
    );
}

#[test]
fn google_access_token_and_private_key_are_not_printed() {
    let mut gar = Gar::start(3600).expect("gar");
    gar.landed.set_env("RUST_LOG", DEBUG_LOGS);
    let image = gar.push("images/app", "v1").expect("push");
    let run = gar
        .landed
        .check(&[&image.by_tag()])
        .expect("no leak on success");
    run.assert_single_verdict("landed");

    // A registry that refuses the token: the failure path must not print it either.
    let refused = Registry::start(RegistryOptions {
        tls: true,
        auth: landed_e2e::RegistryAuth::Htpasswd {
            user: "oauth2accesstoken".to_owned(),
            password: "some-other-token".to_owned(),
        },
        extra_names: vec![landed_e2e::gar::GAR_HOST.to_owned()],
    })
    .expect("registry");
    let ca = refused.write_ca(gar.landed.home()).expect("ca");
    gar.landed
        .set_config(&LandedConfig::with_registries(vec![
            RegistryEntry::for_endpoint(landed_e2e::gar::GAR_HOST, &refused.endpoint()).ca_file(ca),
        ]))
        .expect("config");
    let run = gar
        .landed
        .check(&[&image.by_tag()])
        .expect("no leak on refusal");
    run.assert_single_verdict("unauthorized");
}
