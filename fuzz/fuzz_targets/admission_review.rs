//! An AdmissionReview body, driven the way the pipeline reads it: decode the envelope, pick
//! the workload kind, find the pod spec, list the images and parse their references. Every
//! image found must point, by its path, at the container it names in the object; a decode
//! failure must still answer the request's uid with a denial.
#![no_main]

use landed::admission::extract::{self, FoundImage};
use landed::admission::{decode, Outcome, Route};
use landed::config::Mode;
use landed::image::Reference;
use landed::workload::WorkloadKind;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = decode(data) else {
        return;
    };
    let Some(kind) = WorkloadKind::from_gvk(&request.kind) else {
        return;
    };
    let Some(object) = &request.object else {
        return;
    };
    let found = match kind.pod_spec(object.json()) {
        Ok(found) => found,
        Err(err) => {
            let response = Outcome::decode_failure(Mode::Enforce, err.to_string())
                .respond(&request, Route::Validate);
            assert!(!response.allowed, "an undecodable object is denied");
            assert_eq!(
                response.uid, request.uid,
                "the answer carries the request's uid"
            );
            let review =
                serde_json::to_value(landed::admission::Answer(response)).expect("encodes");
            assert_eq!(
                review["response"]["uid"].as_str(),
                Some(request.uid.as_str())
            );
            return;
        }
    };
    let Some(spec) = found.spec else {
        return;
    };
    let images = extract::images(found.prefix, &spec);
    // The object's text is kept as sent; as a value it may nest past serde_json's recursion
    // limit outside the pod spec (skipped unread by the pipeline), then no path is walked.
    let value: Option<Value> = serde_json::from_str(object.json().get()).ok();
    if let Some(value) = &value {
        check_complete(value, found.prefix, &images);
    }
    for image in &images {
        if let Some(value) = &value {
            check_path(value, image);
        }
        // The pipeline parses every reference; errors become verdicts, never panics.
        let _ = Reference::parse(&image.image);
    }
    let old = request
        .old_object
        .as_ref()
        .and_then(|old| kind.pod_spec(old.json()).ok())
        .and_then(|found| Some(extract::images(found.prefix, found.spec.as_ref()?)))
        .unwrap_or_default();
    let changed = extract::changed(images.clone(), &old);
    assert!(
        changed.iter().all(|c| images.contains(c)),
        "changed images are a subset of the object's"
    );
});

/// Every container of the three lists under `prefix` is found, none twice: the lean decoder
/// skips the rest of the spec, never a container.
fn check_complete(object: &Value, prefix: &str, images: &[FoundImage]) {
    let spec = prefix.split('.').fold(object, |at, field| &at[field]);
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        let written = spec[list].as_array().map_or(0, Vec::len);
        let found = images
            .iter()
            .filter(|i| i.container_type.field() == list)
            .count();
        assert_eq!(found, written, "{prefix}.{list}");
    }
}

/// Follows `image.path` (`a.b.list[3].image`) in the object and checks that it leads to the
/// named container's image field.
fn check_path(object: &Value, image: &FoundImage) {
    let container_path = image
        .path
        .strip_suffix(".image")
        .unwrap_or_else(|| panic!("{} does not end in .image", image.path));
    let mut at = object;
    for segment in container_path.split('.') {
        at = match segment.split_once('[') {
            Some((field, index)) => {
                let index: usize = index
                    .strip_suffix(']')
                    .and_then(|i| i.parse().ok())
                    .unwrap_or_else(|| panic!("bad index in {}", image.path));
                &at[field][index]
            }
            None => &at[segment],
        };
    }
    assert!(
        at.is_object(),
        "{} leads to {at}, not a container",
        image.path
    );
    // The API server has not validated the object yet when a mutating webhook sees it, so a
    // container may lack its name; the decoder then reports it as "".
    assert_eq!(
        at["name"].as_str().unwrap_or_default(),
        image.container,
        "{} does not lead to container {:?}",
        image.path,
        image.container
    );
    match &at["image"] {
        Value::String(written) => assert_eq!(written, &image.image, "{}", image.path),
        Value::Null => assert_eq!(image.image, "", "{}", image.path),
        other => panic!("{} holds {other}", image.path),
    }
}
