//! Every image of a pod spec, with the JSON path that points at it, and who looks them up:
//! the one extraction path of the webhook, the audit scan and the author kit.

use crate::policy::ContainerType;
use crate::resolve::LookupContext;
use crate::workload::{ContainerView, DecodeError, ObjectJson, PodSpecView, WorkloadKind};

/// One image field found in an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundImage {
    /// Dotted JSON path, e.g. `spec.template.spec.initContainers[0].image`.
    pub path: String,
    /// Container name.
    pub container: String,
    /// Which container list it is in.
    pub container_type: ContainerType,
    /// The image reference as written (empty when the field is missing).
    pub image: String,
}

/// The images of an object's pod spec and who looks them up.
#[derive(Clone, Debug, PartialEq)]
pub struct PodImages {
    /// Every image, in the order of [`images`].
    pub images: Vec<FoundImage>,
    /// The namespace, pull secrets and service account of the pod spec.
    pub lookup: LookupContext,
}

/// Decodes `object` of `kind` down to its pod spec and lists its images; `Ok(None)` when the
/// object has no pod spec (an RC without a template).
pub fn pod_images(
    kind: WorkloadKind,
    namespace: Option<&str>,
    object: &(impl ObjectJson + ?Sized),
) -> Result<Option<PodImages>, DecodeError> {
    let found = kind.pod_spec(object)?;
    Ok(found.spec.map(|spec| found_images(kind, namespace, &spec)))
}

/// The images of a pod spec read from an object of `kind`, and who looks them up.
pub fn found_images(
    kind: WorkloadKind,
    namespace: Option<&str>,
    spec: &PodSpecView<'_>,
) -> PodImages {
    PodImages {
        images: images(kind.spec_path(), spec),
        lookup: lookup_context(namespace.map(str::to_owned), spec),
    }
}

/// All images of `spec` in order: init containers, containers, ephemeral containers.
pub fn images(prefix: &str, spec: &PodSpecView<'_>) -> Vec<FoundImage> {
    let lists: [(ContainerType, &mut dyn Iterator<Item = &ContainerView<'_>>); 3] = [
        (ContainerType::InitContainer, &mut spec.init_containers()),
        (ContainerType::Container, &mut spec.containers()),
        (
            ContainerType::EphemeralContainer,
            &mut spec.ephemeral_containers(),
        ),
    ];
    let mut found = Vec::new();
    for (container_type, list) in lists {
        for (index, container) in list.enumerate() {
            found.push(FoundImage {
                path: format!("{prefix}.{}[{index}].image", container_type.field()),
                container: container.name().to_owned(),
                container_type,
                image: container.image().to_owned(),
            });
        }
    }
    found
}

/// The context a pod spec's images are looked up with: its pull secrets and its service
/// account (`default` when unset, as the API server would fill it in).
pub fn lookup_context(namespace: Option<String>, spec: &PodSpecView<'_>) -> LookupContext {
    LookupContext {
        namespace,
        pull_secrets: spec.pull_secrets().map(str::to_owned).collect(),
        service_account: Some(spec.service_account_name().unwrap_or("default").to_owned()),
    }
}

/// Keeps the images that are new or changed against `old` (same container list and name).
pub fn changed(new: Vec<FoundImage>, old: &[FoundImage]) -> Vec<FoundImage> {
    new.into_iter()
        .filter(|n| {
            !old.iter().any(|o| {
                o.container_type == n.container_type
                    && o.container == n.container
                    && o.image == n.image
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn spec(json: serde_json::Value) -> PodSpecView<'static> {
        PodSpecView::deserialize(json).expect("valid pod spec")
    }

    #[test]
    fn paths_point_at_each_list_and_index() {
        let spec = spec(serde_json::json!({
            "initContainers": [{"name": "init", "image": "busybox:1"}],
            "containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "redis"}],
            "ephemeralContainers": [{"name": "debug", "image": "alpine"}]
        }));
        let found = images("spec.template.spec", &spec);
        let paths: Vec<_> = found.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.template.spec.initContainers[0].image",
                "spec.template.spec.containers[0].image",
                "spec.template.spec.containers[1].image",
                "spec.template.spec.ephemeralContainers[0].image",
            ]
        );
        assert_eq!(found[2].container, "b");
        assert_eq!(found[2].image, "redis");
        assert_eq!(found[3].container_type, ContainerType::EphemeralContainer);
    }

    #[test]
    fn update_keeps_only_new_or_changed_images() {
        let old = images(
            "spec",
            &spec(serde_json::json!({"containers": [
                {"name": "a", "image": "nginx:1"}, {"name": "b", "image": "redis:7"}]})),
        );
        let new = images(
            "spec",
            &spec(serde_json::json!({"containers": [
                {"name": "a", "image": "nginx:2"}, {"name": "b", "image": "redis:7"},
                {"name": "c", "image": "redis:7"}]})),
        );
        let kept: Vec<_> = changed(new, &old)
            .into_iter()
            .map(|f| f.container)
            .collect();
        assert_eq!(kept, ["a", "c"]);
    }

    #[test]
    fn lookups_use_the_pod_templates_credentials() {
        let object = serde_json::json!({"spec": {"template": {"spec": {
            "serviceAccountName": "builder",
            "imagePullSecrets": [{"name": "regcred"}],
            "containers": [{"name": "app", "image": "app:1"}]}}}});
        let found = pod_images(WorkloadKind::Deployment, Some("shop"), &object)
            .expect("decodes")
            .expect("has a pod spec");
        assert_eq!(
            found.lookup,
            LookupContext {
                namespace: Some("shop".into()),
                pull_secrets: vec!["regcred".into()],
                service_account: Some("builder".into()),
            }
        );
        assert_eq!(
            found.images[0].path,
            "spec.template.spec.containers[0].image"
        );
        let bare = serde_json::json!({"spec": {"containers": [{"name": "a", "image": "a"}]}});
        let found = pod_images(WorkloadKind::Pod, None, &bare)
            .expect("decodes")
            .expect("spec");
        assert_eq!(found.lookup.service_account.as_deref(), Some("default"));
    }
}
