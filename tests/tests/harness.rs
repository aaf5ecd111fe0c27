//! The harness checks itself against the real registry, without `landed`: if these fail, the
//! end-to-end tests' failures say nothing about `landed`.

use landed_e2e::fakes::token_server::TokenServer;
use landed_e2e::images::Format;
use landed_e2e::{Registry, RegistryAuth, RegistryOptions};

#[test]
fn pushed_image_is_served_by_tag_and_digest() {
    let registry = Registry::start(RegistryOptions::default()).expect("registry starts");
    let image = registry.push_image("team/app", "v1").expect("push");
    let admin = registry.admin().expect("admin client");
    let (status, digest) = admin.head_manifest("team/app", "v1").expect("HEAD");
    assert_eq!(status, 200);
    assert_eq!(digest.as_deref(), Some(image.digest.as_str()));
    let (status, _) = admin
        .head_manifest("team/app", &image.digest)
        .expect("HEAD");
    assert_eq!(status, 200);
}

#[test]
fn oci_image_and_both_index_flavours_push() {
    let registry = Registry::start(RegistryOptions::default()).expect("registry starts");
    let admin = registry.admin().expect("admin client");
    let oci = registry
        .push_image_as("oci", "v1", Format::Oci)
        .expect("push OCI");
    let index = registry.push_index("multi", "v1").expect("push index");
    let list = registry
        .push_docker_manifest_list("list", "v1")
        .expect("push list");
    for (repo, image) in [("oci", &oci), ("multi", &index), ("list", &list)] {
        let (status, digest) = admin.head_manifest(repo, "v1").expect("HEAD");
        assert_eq!(status, 200, "{repo}");
        assert_eq!(digest.as_deref(), Some(image.digest.as_str()), "{repo}");
    }
    for child in &index.children {
        assert_eq!(admin.head_manifest("multi", child).expect("HEAD").0, 200);
    }
}

#[test]
fn broken_states_look_broken_to_a_plain_client() {
    let registry = Registry::start(RegistryOptions::default()).expect("registry starts");
    let admin = registry.admin().expect("admin client");

    let partial = registry.push_partial("half", "v1").expect("partial push");
    assert_eq!(admin.head_manifest("half", "v1").expect("HEAD").0, 404);
    assert_eq!(
        admin
            .head_manifest("half", &partial.digest)
            .expect("HEAD")
            .0,
        404
    );

    let index = registry.push_index("multi", "v1").expect("push index");
    registry
        .delete_manifest("multi", &index.children[1])
        .expect("delete child");
    assert_eq!(admin.head_manifest("multi", "v1").expect("HEAD").0, 200);
    assert_eq!(
        admin
            .head_manifest("multi", &index.children[1])
            .expect("HEAD")
            .0,
        404
    );

    registry.push_image("broken", "v1").expect("push");
    registry.corrupt_tag("broken", "v1").expect("corrupt");
    assert_eq!(admin.head_manifest("broken", "v1").expect("HEAD").0, 500);

    let old = registry.push_image("moving", "v1").expect("push");
    let new = registry.push_image("moving", "v1").expect("push again");
    assert_ne!(old.digest, new.digest);
    let (_, digest) = admin.head_manifest("moving", "v1").expect("HEAD");
    assert_eq!(digest.as_deref(), Some(new.digest.as_str()));
}

#[test]
fn tls_htpasswd_and_token_registries_accept_pushes() {
    let basic = Registry::start(RegistryOptions {
        tls: true,
        auth: RegistryAuth::Htpasswd {
            user: "pusher".to_owned(),
            password: "s3cret-pass".to_owned(),
        },
        ..RegistryOptions::default()
    })
    .expect("TLS htpasswd registry starts");
    assert!(basic.endpoint().starts_with("https://"));
    basic.push_image("app", "v1").expect("push with basic auth");
    assert_eq!(
        basic
            .admin()
            .expect("admin")
            .head_manifest("app", "v1")
            .expect("HEAD")
            .0,
        200
    );

    let tokens = TokenServer::start(Some(("pusher", "tok-pass")), 300).expect("token server");
    let registry = Registry::start(RegistryOptions {
        auth: tokens.registry_auth(),
        ..RegistryOptions::default()
    })
    .expect("token registry starts");
    registry.push_image("app", "v1").expect("push with tokens");
    assert!(tokens.request_count() >= 1, "skopeo asked for a token");
    // Without a token the registry challenges with our realm.
    let anonymous =
        landed_e2e::admin::AdminClient::new(registry.endpoint(), None, RegistryAuth::None)
            .expect("client");
    assert_eq!(anonymous.head_manifest("app", "v1").expect("HEAD").0, 401);
}
