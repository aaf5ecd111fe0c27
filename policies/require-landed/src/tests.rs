use super::*;
use landed_policy_sdk::{ContainerType, Context, Request};

fn image(reference: &str, verdict: Verdict) -> Image {
    Image {
        path: "spec.containers[0].image".into(),
        container: "app".into(),
        container_type: ContainerType::Container,
        reference: reference.into(),
        normalized: Some(format!("docker.io/library/{reference}")),
        verdict,
        digest: None,
        detail: "HEAD 404 MANIFEST_UNKNOWN".into(),
        stale: false,
    }
}

fn input(images: Vec<Image>, on_undetermined: OnUndetermined) -> Input {
    Input {
        request: Request::default(),
        images,
        settings: serde_json::Value::Null,
        context: Context {
            on_undetermined,
            ..Context::default()
        },
    }
}

#[test]
fn all_landed_allows_silently() {
    let out = validate(
        &input(vec![image("a:1", Verdict::Landed)], OnUndetermined::Allow),
        &serde_json::Value::Null,
    );
    assert_eq!(out, Output::allow());
}

#[test]
fn definite_failures_deny_with_container_path_image_verdict_detail_and_remedy() {
    for verdict in [
        Verdict::Absent,
        Verdict::DigestMismatch,
        Verdict::InvalidReference,
    ] {
        let out = validate(
            &input(vec![image("a:1", verdict)], OnUndetermined::Allow),
            &serde_json::Value::Null,
        );
        assert!(!out.allowed, "{verdict}");
        let msg = out.message.unwrap();
        assert!(msg.contains("container \"app\""), "{msg}");
        assert!(msg.contains("spec.containers[0].image"), "{msg}");
        assert!(msg.contains("image \"a:1\""), "{msg}");
        assert!(msg.contains(verdict.as_str()), "{msg}");
        assert!(msg.contains("MANIFEST_UNKNOWN"), "{msg}");
        assert!(msg.contains(verdict.remedy()), "{msg}");
    }
}

#[test]
fn absent_message_says_push_again() {
    let out = validate(
        &input(vec![image("a:1", Verdict::Absent)], OnUndetermined::Allow),
        &serde_json::Value::Null,
    );
    assert_eq!(
        out.message.as_deref(),
        Some("container \"app\" (spec.containers[0].image) image \"a:1\" is absent: HEAD 404 MANIFEST_UNKNOWN — push the image again and check that the manifest upload succeeded (`landed check IMAGE`)")
    );
}

#[test]
fn undetermined_warns_or_denies_per_context() {
    let images = vec![image("a:1", Verdict::Unavailable)];
    let out = validate(
        &input(images.clone(), OnUndetermined::Allow),
        &serde_json::Value::Null,
    );
    assert!(out.allowed);
    assert_eq!(out.warnings.len(), 1);
    assert!(out.warnings[0].starts_with("could not verify: container \"app\""));
    let out = validate(
        &input(images, OnUndetermined::Deny),
        &serde_json::Value::Null,
    );
    assert!(!out.allowed);
    assert!(out.message.unwrap().contains("unavailable"));
}

#[test]
fn stale_landed_warns() {
    let mut img = image("a:1", Verdict::Landed);
    img.stale = true;
    let out = validate(
        &input(vec![img], OnUndetermined::Allow),
        &serde_json::Value::Null,
    );
    assert!(out.allowed);
    assert_eq!(
        out.warnings,
        vec!["image \"a:1\" verified from cache only (registry unreachable now)".to_string()]
    );
}

#[test]
fn several_denials_join_with_semicolons() {
    let out = validate(
        &input(
            vec![image("a:1", Verdict::Absent), image("b:2", Verdict::Absent)],
            OnUndetermined::Allow,
        ),
        &serde_json::Value::Null,
    );
    assert_eq!(out.message.unwrap().matches("; ").count(), 1);
}
