//! `landed check` against a real registry: what landed, what did not, and what moved.

use landed_e2e::images::Format;
use landed_e2e::scenario::{plain_registry, EXIT_ABSENT, EXIT_LANDED, EXIT_USAGE};
use landed_e2e::{LandedConfig, RegistryEntry};

#[test]
fn complete_image_is_landed_by_tag_and_by_digest() {
    let (registry, landed) = plain_registry().expect("registry");
    let image = registry.push_image("team/app", "v1").expect("push");

    let run = landed
        .check(&[&image.by_tag(), &image.by_digest()])
        .expect("run");
    assert_eq!(run.code(), Some(EXIT_LANDED), "{}", run.output.describe());
    for reference in [image.by_tag(), image.by_digest()] {
        let result = run.result_for(&reference).expect("result");
        assert_eq!(result.verdict, "landed", "{reference}: {:?}", result.raw);
        assert_eq!(result.digest.as_deref(), Some(image.digest.as_str()));
    }
}

#[test]
fn every_manifest_media_type_is_landed() {
    // An OCI image, an OCI index and a Docker manifest list answer 404 to a client that does
    // not accept their media types: landed must send all four.
    let (registry, landed) = plain_registry().expect("registry");
    let oci = registry
        .push_image_as("oci-image", "v1", Format::Oci)
        .expect("push OCI image");
    let docker = registry
        .push_image_as("docker-image", "v1", Format::Docker)
        .expect("push Docker image");
    let index = registry.push_index("oci-index", "v1").expect("push index");
    let list = registry
        .push_docker_manifest_list("docker-list", "v1")
        .expect("push manifest list");

    let images = [&oci, &docker, &index, &list];
    let references: Vec<String> = images.iter().map(|i| i.by_tag()).collect();
    let refs: Vec<&str> = references.iter().map(String::as_str).collect();
    let run = landed.check(&refs).expect("run");
    assert_eq!(run.code(), Some(EXIT_LANDED), "{}", run.output.describe());
    for image in images {
        let result = run.result_for(&image.by_tag()).expect("result");
        assert_eq!(result.verdict, "landed", "{}: {:?}", image.repo, result.raw);
        assert_eq!(result.digest.as_deref(), Some(image.digest.as_str()));
    }
}

#[test]
fn tag_or_repository_never_pushed_is_absent() {
    let (registry, landed) = plain_registry().expect("registry");
    let image = registry.push_image("team/app", "v1").expect("push");
    let missing_tag = format!("{}/team/app:never-pushed", image.host);
    let missing_repo = format!("{}/team/nothing-here:v1", image.host);

    let run = landed.check(&[&missing_tag, &missing_repo]).expect("run");
    assert_eq!(run.code(), Some(EXIT_ABSENT), "{}", run.output.describe());
    for reference in [&missing_tag, &missing_repo] {
        let result = run.result_for(reference).expect("result");
        assert_eq!(result.verdict, "absent", "{reference}: {:?}", result.raw);
        assert_eq!(result.digest, None, "an absent image has no digest");
    }
}

#[test]
fn partial_push_is_absent_by_tag_and_by_digest() {
    // The seed's failure: every layer uploaded, the manifest never PUT.
    let (registry, landed) = plain_registry().expect("registry");
    let partial = registry
        .push_partial("team/app", "v2")
        .expect("partial push");

    let run = landed
        .check(&[&partial.by_tag(), &partial.by_digest()])
        .expect("run");
    assert_eq!(run.code(), Some(EXIT_ABSENT), "{}", run.output.describe());
    for reference in [partial.by_tag(), partial.by_digest()] {
        let result = run.result_for(&reference).expect("result");
        assert_eq!(result.verdict, "absent", "{reference}: {:?}", result.raw);
    }
}

#[test]
fn one_absent_image_among_landed_ones_exits_1() {
    let (registry, landed) = plain_registry().expect("registry");
    let good = registry.push_image("team/app", "v1").expect("push");
    let partial = registry.push_partial("team/app", "v2").expect("partial");

    let run = landed
        .check(&[&good.by_tag(), &partial.by_tag()])
        .expect("run");
    assert_eq!(run.code(), Some(EXIT_ABSENT), "{}", run.output.describe());
    assert_eq!(
        run.result_for(&good.by_tag()).expect("good").verdict,
        "landed"
    );
    assert_eq!(
        run.result_for(&partial.by_tag()).expect("partial").verdict,
        "absent"
    );
}

#[test]
fn index_with_a_deleted_child_is_absent_with_deep_check() {
    let (registry, mut landed) = plain_registry().expect("registry");
    let index = registry.push_index("team/multi", "v1").expect("push index");
    let complete = registry.push_index("team/multi", "v2").expect("push index");
    registry
        .delete_manifest("team/multi", &index.children[1])
        .expect("delete the arm64 child");
    landed
        .set_config(&LandedConfig {
            registries: vec![RegistryEntry::for_registry(&registry)],
            deep_check: Some(true),
            ..LandedConfig::default()
        })
        .expect("config");

    let run = landed.check(&[&index.by_tag()]).expect("run");
    assert_eq!(run.code(), Some(EXIT_ABSENT), "{}", run.output.describe());
    let result = run.assert_single_verdict("absent");
    let detail = result.detail.unwrap_or_default();
    assert!(
        detail.contains(&index.children[1]),
        "the detail should name the missing child {}: {detail:?}",
        index.children[1]
    );

    let run = landed.check(&[&complete.by_tag()]).expect("run");
    assert_eq!(run.code(), Some(EXIT_LANDED), "{}", run.output.describe());
    run.assert_single_verdict("landed");
}

#[test]
fn moved_tag_with_the_old_digest_pinned_is_digest_mismatch() {
    let (registry, landed) = plain_registry().expect("registry");
    let old = registry.push_image("team/app", "v1").expect("push");
    let new = registry.push_image("team/app", "v1").expect("push again");
    assert_ne!(old.digest, new.digest);

    let run = landed.check(&[&old.pinned()]).expect("run");
    assert_eq!(run.code(), Some(EXIT_ABSENT), "{}", run.output.describe());
    run.assert_single_verdict("digest_mismatch");

    // The tag pinned to its current digest is fine.
    let run = landed.check(&[&new.pinned()]).expect("run");
    assert_eq!(run.code(), Some(EXIT_LANDED), "{}", run.output.describe());
    run.assert_single_verdict("landed");
}

#[test]
fn expect_digest_compares_with_what_the_tag_points_at() {
    let (registry, landed) = plain_registry().expect("registry");
    let old = registry.push_image("team/app", "v1").expect("push");
    let new = registry.push_image("team/app", "v1").expect("push again");

    let run = landed
        .check_with(&["--expect-digest", &old.digest], &[&new.by_tag()])
        .expect("run");
    assert_eq!(run.code(), Some(EXIT_ABSENT), "{}", run.output.describe());
    run.assert_single_verdict("digest_mismatch");

    let run = landed
        .check_with(&["--expect-digest", &new.digest], &[&new.by_tag()])
        .expect("run");
    assert_eq!(run.code(), Some(EXIT_LANDED), "{}", run.output.describe());
    let result = run.assert_single_verdict("landed");
    assert_eq!(result.digest.as_deref(), Some(new.digest.as_str()));
}

#[test]
fn invalid_reference_exits_2() {
    let (_registry, landed) = plain_registry().expect("registry");
    let bad = "Not A Valid//Reference:::";
    let run = landed.check(&[bad]).expect("run");
    assert_eq!(run.code(), Some(EXIT_USAGE), "{}", run.output.describe());
    let result = run.assert_single_verdict("invalid_reference");
    assert_eq!(result.reference, bad);
}

#[test]
fn no_image_at_all_is_a_usage_error() {
    let (_registry, landed) = plain_registry().expect("registry");
    let out = landed.run("check", &[], None).expect("run");
    assert_eq!(out.code, Some(EXIT_USAGE), "{}", out.describe());
}

#[test]
fn table_output_names_the_image_and_its_verdict() {
    let (registry, landed) = plain_registry().expect("registry");
    let image = registry.push_image("team/app", "v1").expect("push");
    let out = landed
        .run("check", &["--output", "table", &image.by_tag()], None)
        .expect("run");
    assert_eq!(out.code, Some(EXIT_LANDED), "{}", out.describe());
    assert!(out.stdout.contains("team/app"), "{}", out.describe());
    assert!(out.stdout.contains("landed"), "{}", out.describe());
}
