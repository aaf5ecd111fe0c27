//! The corpus stays what it stands for: every review is an AdmissionReview the API server's
//! own types read, of its documented size, and the realistic ones carry what real reviews
//! carry (managedFields, owner references, a full pod spec, last-applied annotations).

use std::collections::BTreeSet;

use kube::core::admission::{AdmissionRequest, AdmissionReview, Operation};
use kube::core::DynamicObject;
use landed_bench::corpus::{data_dir, Review};
use serde_json::Value;

/// The longest host the harness substitutes (`127.0.0.1:PORT`).
const HOST: &str = "127.0.0.1:65535";

fn request(review: Review) -> AdmissionRequest<DynamicObject> {
    let body = review.body(HOST);
    let decoded: AdmissionReview<DynamicObject> = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", review.name()));
    decoded
        .try_into()
        .unwrap_or_else(|e| panic!("{} has no request: {e}", review.name()))
}

fn json(review: Review) -> Value {
    serde_json::from_str(&review.body(HOST)).expect("JSON")
}

/// `managedFields` of `object`, with each entry's manager and its fields' text.
fn managers(object: &Value) -> Vec<(String, String)> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    let manager = e["manager"].as_str().unwrap_or_default().to_owned();
                    (manager, e["fieldsV1"].to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn images(pod_spec: &Value) -> Vec<String> {
    ["initContainers", "containers"]
        .iter()
        .flat_map(|list| pod_spec[list].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["image"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn every_review_decodes_with_kube_types_at_its_documented_size() {
    let mut uids = BTreeSet::new();
    for review in Review::ALL {
        let req = request(review);
        let size = review.body(HOST).len();
        assert!(
            review.size_range().contains(&size),
            "{}: {size} bytes, documented {:?}",
            review.name(),
            review.size_range()
        );
        assert!(
            uids.insert(req.uid.clone()),
            "{}: uid reused",
            review.name()
        );
        let object = req.object.as_ref().expect("object");
        if let Some(uid) = &object.metadata.uid {
            assert!(
                uids.insert(uid.clone()),
                "{}: object uid reused",
                review.name()
            );
        }
        assert!(
            !review.text().contains('\n'),
            "{}: not compact",
            review.name()
        );
    }
}

#[test]
fn the_data_directory_holds_the_corpus_and_its_generator() {
    let mut on_disk: Vec<String> = std::fs::read_dir(data_dir())
        .expect("bench/data")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut corpus: Vec<String> = Review::ALL
        .iter()
        .map(|r| format!("{}.json", r.name()))
        .collect();
    corpus.sort();
    assert_eq!(on_disk, corpus);
    assert!(data_dir().join("generate.py").is_file());
    assert!(data_dir().join("README.md").is_file());
}

#[test]
fn the_replicaset_pod_is_what_the_controller_creates_after_admission() {
    let req = request(Review::PodReplicaset);
    assert_eq!(req.operation, Operation::Create);
    assert_eq!(
        req.user_info.username.as_deref(),
        Some("system:serviceaccount:kube-system:replicaset-controller")
    );
    let review = json(Review::PodReplicaset);
    let pod = &review["request"]["object"];
    let meta = &pod["metadata"];
    assert!(meta["generateName"].is_string() && meta["labels"]["pod-template-hash"].is_string());
    assert_eq!(meta["ownerReferences"][0]["kind"], "ReplicaSet");
    assert!(meta["annotations"]
        .as_object()
        .is_some_and(|a| !a.is_empty()));
    let managed = managers(pod);
    assert_eq!(managed.len(), 1);
    assert_eq!(managed[0].0, "kube-controller-manager");
    assert!(
        managed[0].1.contains(r#"k:{\"name\":\"checkout\"}"#),
        "{}",
        managed[0].1
    );

    let spec = &pod["spec"];
    assert_eq!(
        images(spec).len(),
        3,
        "an init container and two containers"
    );
    let checkout = &spec["containers"][0];
    for field in [
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "lifecycle",
        "env",
        "envFrom",
        "volumeMounts",
        "resources",
        "securityContext",
        "ports",
    ] {
        assert!(!checkout[field].is_null(), "checkout has no {field}");
    }
    assert!(checkout["env"]
        .as_array()
        .is_some_and(|env| env.iter().any(|e| e["valueFrom"].is_object())));
    let volumes = spec["volumes"].as_array().expect("volumes");
    assert!(volumes.iter().any(|v| v["name"]
        .as_str()
        .is_some_and(|n| n.starts_with("kube-api-access-"))
        && v["projected"].is_object()));
    assert!(volumes.iter().any(|v| v["configMap"].is_object()));
    assert!(volumes.iter().any(|v| v["emptyDir"].is_object()));
    let tolerations = spec["tolerations"].to_string();
    assert!(tolerations.contains("not-ready") && tolerations.contains("unreachable"));
    for field in [
        "affinity",
        "dnsPolicy",
        "schedulerName",
        "priority",
        "enableServiceLinks",
        "preemptionPolicy",
        "serviceAccountName",
        "imagePullSecrets",
    ] {
        assert!(!spec[field].is_null(), "spec has no {field}");
    }
    assert_eq!(pod["status"]["phase"], "Pending");
    assert!(pod["status"]["qosClass"].is_string());
}

#[test]
fn the_deployment_update_is_a_kubectl_apply_rollout_of_one_image() {
    let req = request(Review::DeploymentUpdateApply);
    assert_eq!(req.operation, Operation::Update);
    assert!(req.old_object.is_some());
    let review = json(Review::DeploymentUpdateApply);
    let request = &review["request"];
    assert_eq!(request["options"]["kind"], "UpdateOptions");
    assert_eq!(
        request["options"]["fieldManager"],
        "kubectl-client-side-apply"
    );
    assert!(!request["userInfo"]["username"]
        .as_str()
        .is_some_and(|u| u.starts_with("system:")));
    let (new, old) = (&request["object"], &request["oldObject"]);
    for object in [new, old] {
        let applied = object["metadata"]["annotations"]
            ["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .expect("last-applied annotation");
        let applied: Value = serde_json::from_str(applied).expect("last-applied is JSON");
        assert_eq!(applied["kind"], "Deployment");
        let managed: Vec<String> = managers(object).into_iter().map(|(m, _)| m).collect();
        assert!(managed.contains(&"kubectl-client-side-apply".to_owned()));
        assert!(managed.contains(&"kube-controller-manager".to_owned()));
        assert!(object["status"]["conditions"]
            .as_array()
            .is_some_and(|c| !c.is_empty()));
    }
    let (new_images, old_images) = (
        images(&new["spec"]["template"]["spec"]),
        images(&old["spec"]["template"]["spec"]),
    );
    assert_eq!(new_images.len(), old_images.len());
    let changed = new_images
        .iter()
        .zip(&old_images)
        .filter(|(n, o)| n != o)
        .count();
    assert_eq!(changed, 1, "{new_images:?} against {old_images:?}");
}

#[test]
fn the_cronjob_is_a_batch_v1_create_with_a_job_template() {
    let req = request(Review::CronjobCreate);
    assert_eq!(req.operation, Operation::Create);
    assert_eq!(
        (req.kind.group.as_str(), req.kind.kind.as_str()),
        ("batch", "CronJob")
    );
    let review = json(Review::CronjobCreate);
    let cronjob = &review["request"]["object"];
    assert_eq!(cronjob["apiVersion"], "batch/v1");
    let pod_spec = &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert!(!images(pod_spec).is_empty());
    assert!(!managers(cronjob).is_empty());
}
