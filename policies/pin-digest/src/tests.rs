use super::*;
use landed_policy_sdk::{ContainerType, Context, Request};

const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn image(path: &str, reference: &str, normalized: &str, verdict: Verdict) -> Image {
    Image {
        path: path.into(),
        container: "app".into(),
        container_type: ContainerType::Container,
        reference: reference.into(),
        normalized: Some(normalized.into()),
        verdict,
        digest: (verdict == Verdict::Landed).then(|| D.to_string()),
        detail: String::new(),
        stale: false,
    }
}

fn input(images: Vec<Image>, mutating: bool) -> Input {
    Input {
        request: Request::default(),
        images,
        settings: serde_json::Value::Null,
        context: Context {
            mutating,
            ..Context::default()
        },
    }
}

#[test]
fn pointers() {
    assert_eq!(
        json_pointer("spec.containers[0].image").unwrap(),
        "/spec/containers/0/image"
    );
    assert_eq!(
        json_pointer("spec.template.spec.initContainers[12].image").unwrap(),
        "/spec/template/spec/initContainers/12/image"
    );
    assert_eq!(json_pointer("a/b.c~d").unwrap(), "/a~1b/c~0d");
    assert!(json_pointer("spec.containers[x].image").is_err());
    assert!(json_pointer("spec.containers[0.image").is_err());
}

#[test]
fn pinned_forms() {
    assert_eq!(
        pinned("docker.io/library/nginx:1.25", D, true),
        format!("docker.io/library/nginx:1.25@{D}")
    );
    assert_eq!(
        pinned("docker.io/library/nginx:1.25", D, false),
        format!("docker.io/library/nginx@{D}")
    );
    assert_eq!(
        pinned("localhost:5000/app:v1", D, false),
        format!("localhost:5000/app@{D}")
    );
    assert_eq!(
        pinned("localhost:5000/app", D, false),
        format!("localhost:5000/app@{D}")
    );
    assert_eq!(
        pinned(&format!("gcr.io/p/a:v1@{D}"), D, true),
        format!("gcr.io/p/a:v1@{D}")
    );
}

#[test]
fn mutating_request_replaces_landed_images_only() {
    let out = validate(
        &input(
            vec![
                image(
                    "spec.containers[0].image",
                    "nginx:1.25",
                    "docker.io/library/nginx:1.25",
                    Verdict::Landed,
                ),
                image(
                    "spec.containers[1].image",
                    "gone:1",
                    "docker.io/library/gone:1",
                    Verdict::Absent,
                ),
            ],
            true,
        ),
        &PinSettings::default(),
    );
    assert!(out.allowed);
    assert_eq!(
        out.patch,
        Some(vec![PatchOp::Replace {
            path: "/spec/containers/0/image".into(),
            value: format!("docker.io/library/nginx:1.25@{D}").into(),
        }])
    );
}

#[test]
fn validating_request_never_patches() {
    let out = validate(
        &input(
            vec![image(
                "spec.containers[0].image",
                "nginx",
                "docker.io/library/nginx:latest",
                Verdict::Landed,
            )],
            false,
        ),
        &PinSettings::default(),
    );
    assert_eq!(out, Output::allow());
}

#[test]
fn already_pinned_is_left_alone() {
    let r = format!("docker.io/library/nginx:1.25@{D}");
    let out = validate(
        &input(
            vec![image("spec.containers[0].image", &r, &r, Verdict::Landed)],
            true,
        ),
        &PinSettings::default(),
    );
    assert_eq!(out.patch, None);
}
