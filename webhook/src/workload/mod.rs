//! Kubernetes vocabulary shared by every step: the kinds that carry a pod spec, and where
//! that spec lives in each (one arm per kind, dispatched on group and kind).

mod read;
mod spec;

use kube::core::GroupVersionKind;
use serde::de::DeserializeSeed;

pub use read::ObjectView;
pub use spec::{ContainerView, PodSpecView, Text};

/// The kinds whose pod templates landed reviews.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WorkloadKind {
    /// core/v1 Pod (also the `pods/ephemeralcontainers` subresource).
    Pod,
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// apps/v1 DaemonSet.
    DaemonSet,
    /// apps/v1 ReplicaSet.
    ReplicaSet,
    /// core/v1 ReplicationController.
    ReplicationController,
    /// batch/v1 Job.
    Job,
    /// batch/v1 CronJob.
    CronJob,
}

/// The object is of a handled kind but is not a valid one.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode {kind}: {source}")]
pub struct DecodeError {
    /// The kind that was expected.
    pub kind: &'static str,
    /// The decoder's error.
    #[source]
    pub source: serde_json::Error,
}

/// A pod spec found in an object, with the JSON path prefix that leads to it.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundSpec<'a> {
    /// Path of the pod spec, e.g. `spec.template.spec`.
    pub prefix: &'static str,
    /// The spec (None when the object has no template, e.g. an RC without one).
    pub spec: Option<PodSpecView<'a>>,
}

impl WorkloadKind {
    /// Every handled kind (the chart's webhook rules are checked against this list).
    pub const ALL: [WorkloadKind; 8] = [
        Self::Pod,
        Self::Deployment,
        Self::StatefulSet,
        Self::DaemonSet,
        Self::ReplicaSet,
        Self::ReplicationController,
        Self::Job,
        Self::CronJob,
    ];

    /// The kind for a request's group/kind, or None when landed does not handle it.
    pub fn from_gvk(gvk: &GroupVersionKind) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.group() == gvk.group && k.kind() == gvk.kind)
    }

    /// API group ("" for core).
    pub fn group(self) -> &'static str {
        match self {
            Self::Pod | Self::ReplicationController => "",
            Self::Deployment | Self::StatefulSet | Self::DaemonSet | Self::ReplicaSet => "apps",
            Self::Job | Self::CronJob => "batch",
        }
    }

    /// Kind name.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Pod => "Pod",
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
            Self::ReplicaSet => "ReplicaSet",
            Self::ReplicationController => "ReplicationController",
            Self::Job => "Job",
            Self::CronJob => "CronJob",
        }
    }

    /// Plural resource name, as in webhook rules.
    pub fn resource(self) -> &'static str {
        match self {
            Self::Pod => "pods",
            Self::Deployment => "deployments",
            Self::StatefulSet => "statefulsets",
            Self::DaemonSet => "daemonsets",
            Self::ReplicaSet => "replicasets",
            Self::ReplicationController => "replicationcontrollers",
            Self::Job => "jobs",
            Self::CronJob => "cronjobs",
        }
    }

    /// Subresources reviewed besides the main resource.
    pub fn subresources(self) -> &'static [&'static str] {
        match self {
            Self::Pod => &["ephemeralcontainers"],
            _ => &[],
        }
    }

    /// Decodes the part of `object` that leads to its pod spec and returns what landed
    /// reads of the spec, with the path leading to it.
    pub fn pod_spec<'a>(
        self,
        object: &'a (impl ObjectJson + ?Sized),
    ) -> Result<FoundSpec<'a>, DecodeError> {
        let view = self.read(object, None)?;
        Ok(FoundSpec {
            prefix: self.spec_path(),
            spec: view.spec,
        })
    }

    /// Reads, in one pass over `object`, its pod spec and its annotation `annotation`.
    pub fn read<'a>(
        self,
        object: &'a (impl ObjectJson + ?Sized),
        annotation: Option<&str>,
    ) -> Result<ObjectView<'a>, DecodeError> {
        let seed = read::ObjectSeed {
            kind: self,
            annotation,
        };
        object.decode_seed(seed).map_err(|source| DecodeError {
            kind: self.kind(),
            source,
        })
    }

    /// The JSON path of the pod spec in an object of this kind.
    pub fn spec_path(self) -> &'static str {
        match self {
            Self::Pod => "spec",
            Self::CronJob => "spec.jobTemplate.spec.template.spec",
            _ => "spec.template.spec",
        }
    }
}

/// An object's JSON, as a review carries it (text) or as the audit lists it (a value).
pub trait ObjectJson {
    /// Decodes with `seed`, borrowing what it can.
    fn decode_seed<'a, S: DeserializeSeed<'a>>(
        &'a self,
        seed: S,
    ) -> Result<S::Value, serde_json::Error>;
}

impl ObjectJson for serde_json::Value {
    fn decode_seed<'a, S: DeserializeSeed<'a>>(
        &'a self,
        seed: S,
    ) -> Result<S::Value, serde_json::Error> {
        // From the borrowed Value: no copy of the whole object.
        seed.deserialize(self)
    }
}

impl ObjectJson for serde_json::value::RawValue {
    fn decode_seed<'a, S: DeserializeSeed<'a>>(
        &'a self,
        seed: S,
    ) -> Result<S::Value, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(self.get());
        let value = seed.deserialize(&mut de)?;
        de.end()?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gvk(group: &str, version: &str, kind: &str) -> GroupVersionKind {
        GroupVersionKind::gvk(group, version, kind)
    }

    #[test]
    fn dispatches_on_group_and_kind() {
        assert_eq!(
            WorkloadKind::from_gvk(&gvk("apps", "v1", "Deployment")),
            Some(WorkloadKind::Deployment)
        );
        assert_eq!(
            WorkloadKind::from_gvk(&gvk("", "v1", "Pod")),
            Some(WorkloadKind::Pod)
        );
        // Same kind name in another group is not ours.
        assert_eq!(
            WorkloadKind::from_gvk(&gvk("example.com", "v1", "Deployment")),
            None
        );
        assert_eq!(WorkloadKind::from_gvk(&gvk("", "v1", "ConfigMap")), None);
    }

    #[test]
    fn cronjob_spec_is_under_job_template() {
        let object = serde_json::json!({
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "a", "image": "busybox"}]}}}}}
        });
        let found = WorkloadKind::CronJob.pod_spec(&object).expect("decodes");
        assert_eq!(found.prefix, "spec.jobTemplate.spec.template.spec");
        assert_eq!(
            found
                .spec
                .expect("spec")
                .containers()
                .next()
                .map(|c| c.image()),
            Some("busybox")
        );
    }

    #[test]
    fn only_the_path_to_the_pod_spec_is_decoded() {
        // Metadata and status are not read: a shape kube would refuse there does not matter.
        let object = serde_json::json!({
            "metadata": {"managedFields": "not a list"}, "status": 7,
            "spec": {"replicas": 2, "template": {"metadata": [], "spec": {
                "containers": [{"name": "a", "image": "busybox"}]}}}
        });
        let found = WorkloadKind::Deployment.pod_spec(&object).expect("decodes");
        assert_eq!(found.prefix, "spec.template.spec");
        assert_eq!(
            found
                .spec
                .expect("spec")
                .containers()
                .next()
                .map(|c| c.name()),
            Some("a")
        );
        let bare = serde_json::json!({"spec": {"replicas": 1}});
        let found = WorkloadKind::ReplicaSet.pod_spec(&bare).expect("decodes");
        assert!(found.spec.is_none(), "no template, no pod spec");
    }

    #[test]
    fn a_mistyped_object_is_a_decode_error_naming_the_kind() {
        let object = serde_json::json!({"spec": {"template": {"spec": {"containers": "nope"}}}});
        let err = WorkloadKind::Deployment
            .pod_spec(&object)
            .expect_err("must fail");
        assert!(
            err.to_string().starts_with("cannot decode Deployment:"),
            "{err}"
        );
    }
}
