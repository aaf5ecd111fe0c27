//! `kw-add-label`: a mutating Kubewarden policy (waPC, protocol v1) that adds the labels its
//! settings name to every object it reviews, answering with `mutated_object`.
//!
//! It edits the object as JSON, not through a typed Kubernetes struct, so that everything it
//! does not touch comes back exactly as sent and the host's diff is the labels alone. A label
//! already set to another value rejects the object unless `overwrite` is set.

use guest::prelude::*;
use kubewarden_policy_sdk::wapc_guest as guest;

extern crate kubewarden_policy_sdk as kubewarden;
use kubewarden::{protocol_version_guest, request::ValidationRequest, validate_settings};

use serde_json::{Map, Value};

mod settings;
use settings::Settings;

/// Registers the waPC operations; the host calls this once after instantiation.
#[no_mangle]
pub extern "C" fn wapc_init() {
    register_function("validate", validate);
    register_function("validate_settings", validate_settings::<Settings>);
    register_function("protocol_version", protocol_version_guest);
}

/// What labelling one object came to.
#[derive(Debug, PartialEq)]
enum Labelled {
    /// Every label was already there with its value.
    Unchanged,
    /// Labels were added (or replaced): the object to answer with.
    Changed,
    /// Labels set to another value, with `overwrite` off: `key`, existing value, wanted value.
    Conflicts(Vec<(String, String, String)>),
    /// `metadata` or `metadata.labels` is not a JSON object.
    Malformed(&'static str),
}

/// Sets the settings' labels on `object` in place.
fn label(object: &mut Value, settings: &Settings) -> Labelled {
    let Some(object) = object.as_object_mut() else {
        return Labelled::Malformed("the object");
    };
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(metadata) = metadata.as_object_mut() else {
        return Labelled::Malformed("metadata");
    };
    let labels = metadata
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(labels) = labels.as_object_mut() else {
        return Labelled::Malformed("metadata.labels");
    };
    let mut changed = false;
    let mut conflicts = Vec::new();
    for (key, wanted) in &settings.labels {
        match labels.get(key) {
            Some(Value::String(have)) if have == wanted => {}
            Some(have) if !settings.overwrite => {
                let have = have
                    .as_str()
                    .map_or_else(|| have.to_string(), str::to_owned);
                conflicts.push((key.clone(), have, wanted.clone()));
            }
            _ => {
                labels.insert(key.clone(), Value::String(wanted.clone()));
                changed = true;
            }
        }
    }
    match (conflicts.is_empty(), changed) {
        (false, _) => Labelled::Conflicts(conflicts),
        (true, true) => Labelled::Changed,
        (true, false) => Labelled::Unchanged,
    }
}

/// The `validate` operation.
pub fn validate(payload: &[u8]) -> CallResult {
    let validation_request: ValidationRequest<Settings> = ValidationRequest::new(payload)?;
    let request = validation_request.request;
    // DELETE and CONNECT reviews carry no object: nothing to label.
    if request.object.is_null() {
        return kubewarden::accept_request();
    }
    let mut object = request.object;
    match label(&mut object, &validation_request.settings) {
        Labelled::Unchanged => kubewarden::accept_request(),
        Labelled::Changed => kubewarden::mutate_request(object),
        Labelled::Conflicts(conflicts) => {
            let list: Vec<String> = conflicts
                .iter()
                .map(|(key, have, wanted)| format!("label {key:?} is {have:?}, must be {wanted:?}"))
                .collect();
            kubewarden::reject_request(
                Some(format!(
                    "{} {:?}: {} (or let the policy overwrite it: overwrite: true)",
                    request.kind.kind,
                    request.name,
                    list.join("; ")
                )),
                None,
                None,
                None,
            )
        }
        Labelled::Malformed(what) => kubewarden::reject_request(
            Some(format!("{what} is not a JSON object: cannot label it")),
            Some(400),
            None,
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubewarden::response::ValidationResponse;
    use serde_json::json;

    /// The validate payload for an AdmissionReview fixture (the same files the case file uses).
    fn payload(fixture: &str, settings: Value) -> Vec<u8> {
        let path = format!("{}/../{fixture}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect(&path);
        let review: Value = serde_json::from_str(&text).expect(&path);
        serde_json::to_vec(&json!({"request": review["request"], "settings": settings}))
            .expect("encode")
    }

    fn run(fixture: &str, settings: Value) -> ValidationResponse {
        let answer = validate(&payload(fixture, settings)).expect("validate");
        serde_json::from_slice(&answer).expect("a ValidationResponse")
    }

    fn checked() -> Value {
        json!({"labels": {"landed.dev/checked": "true"}})
    }

    #[test]
    fn an_object_without_labels_gets_them_and_nothing_else_changes() {
        let answer = run("../testdata/pod-review.json", checked());
        assert!(answer.accepted);
        let mutated = answer.mutated_object.expect("mutated");
        let review: Value = serde_json::from_str(include_str!("../../../testdata/pod-review.json"))
            .expect("fixture");
        let mut expected = review["request"]["object"].clone();
        expected["metadata"]["labels"] = json!({"landed.dev/checked": "true"});
        assert_eq!(mutated, expected);
    }

    #[test]
    fn existing_labels_are_kept_beside_the_new_one() {
        let answer = run("testdata/privileged-deployment.json", checked());
        let mutated = answer.mutated_object.expect("mutated");
        assert_eq!(
            mutated["metadata"]["labels"],
            json!({"app": "web", "landed.dev/checked": "true"})
        );
        assert_eq!(mutated["spec"]["replicas"], 2, "the rest is untouched");
    }

    #[test]
    fn an_object_already_labelled_is_accepted_without_mutation() {
        let answer = run(
            "testdata/privileged-deployment.json",
            json!({"labels": {"app": "web"}}),
        );
        assert!(answer.accepted);
        assert!(answer.mutated_object.is_none());
    }

    #[test]
    fn a_label_with_another_value_is_rejected_unless_overwrite() {
        let settings = json!({"labels": {"team": "payments"}});
        let answer = run("testdata/ephemeral-debug-pod.json", settings);
        assert!(!answer.accepted);
        assert_eq!(
            answer.message.as_deref(),
            Some(
                r#"Pod "web": label "team" is "shop", must be "payments" (or let the policy overwrite it: overwrite: true)"#
            )
        );
        let settings = json!({"labels": {"team": "payments"}, "overwrite": true});
        let answer = run("testdata/ephemeral-debug-pod.json", settings);
        assert!(answer.accepted);
        let mutated = answer.mutated_object.expect("mutated");
        assert_eq!(mutated["metadata"]["labels"]["team"], "payments");
    }

    #[test]
    fn labels_that_are_not_a_map_are_rejected_not_replaced() {
        let mut object = json!({"metadata": {"labels": ["a"]}});
        let settings: Settings = serde_json::from_value(checked()).expect("settings");
        assert_eq!(
            label(&mut object, &settings),
            Labelled::Malformed("metadata.labels")
        );
        assert_eq!(object, json!({"metadata": {"labels": ["a"]}}));
    }

    #[test]
    fn a_delete_review_without_object_is_accepted_unchanged() {
        let payload = json!({"request": {"operation": "DELETE", "kind": {"kind": "Pod"}},
                             "settings": checked()});
        let answer = validate(&serde_json::to_vec(&payload).expect("encode")).expect("answer");
        let answer: ValidationResponse = serde_json::from_slice(&answer).expect("response");
        assert!(answer.accepted);
        assert!(answer.mutated_object.is_none());
    }
}
