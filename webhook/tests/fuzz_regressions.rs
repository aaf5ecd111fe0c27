//! Inputs found by the fuzz targets in `fuzz/`, kept as ordinary tests so the behaviour they
//! pinned down cannot change unnoticed.

use landed::admission::{decode, extract};
use landed::workload::WorkloadKind;

/// fuzz/admission_review: a Deployment whose first container has neither name nor image.
/// A mutating webhook sees objects before the API server validates them, so this reaches
/// landed; the container must still be found at its own path, reported with an empty name
/// and an empty image, and the named container after it must keep its index.
#[test]
fn a_container_without_name_or_image_keeps_its_path() {
    let body = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
        "uid":"00000000-0000-4000-8000-000000000101",
        "kind":{"group":"apps","version":"v1","kind":"Deployment"},
        "resource":{"group":"apps","version":"v1","resource":"deployments"},
        "name":"web","namespace":"shop","operation":"CREATE",
        "userInfo":{"username":"dev"},
        "object":{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
            "spec":{"selector":{},"template":{"spec":{"containers":[
                {"imagePullPolicy":"IfNotPresent"},
                {"name":"sidecar","image":"registry.example.com/team/sidecar:2.1"}]}}}}}}"#;
    let request = decode(body).expect("a v1 review");
    let kind = WorkloadKind::from_gvk(&request.kind).expect("a handled kind");
    let object = request.object.expect("an object");
    let found = kind.pod_spec(object.json()).expect("decodes");
    let images = extract::images(found.prefix, &found.spec.expect("a pod spec"));
    let seen: Vec<_> = images
        .iter()
        .map(|i| (i.path.as_str(), i.container.as_str(), i.image.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("spec.template.spec.containers[0].image", "", ""),
            (
                "spec.template.spec.containers[1].image",
                "sidecar",
                "registry.example.com/team/sidecar:2.1"
            ),
        ]
    );
}
