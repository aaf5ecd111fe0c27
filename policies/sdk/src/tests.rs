use super::*;
use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Limits {
    max: u32,
}

impl Settings for Limits {
    fn check(&self) -> Result<(), String> {
        if self.max > 10 {
            return Err("max must be at most 10".into());
        }
        Ok(())
    }
}

fn count(input: &Input, settings: &Limits) -> Output {
    if input.images.len() as u32 > settings.max {
        Output::deny("too many images")
    } else {
        Output::allow()
    }
}

const INPUT: &str = r#"{"request":{"uid":"u","group":"","kind":"Pod","operation":"CREATE",
 "name":"p","userInfo":{"username":"me"},"dryRun":false,"object":{}},
 "images":[{"path":"spec.containers[0].image","container":"a","containerType":"container",
 "reference":"nginx","verdict":"landed","detail":"ok"}],
 "settings":{"max":0},"context":{"mode":"enforce","onUndetermined":"allow","mutating":false}}"#;

#[test]
fn run_validate_parses_input_and_settings() {
    let out: Output = serde_json::from_str(&run_validate::<Limits>(INPUT, count)).unwrap();
    assert_eq!(out, Output::deny("too many images"));
}

#[test]
fn unreadable_input_is_an_error_answer_not_a_decision() {
    let out: serde_json::Value = serde_json::from_str(&run_validate::<Limits>("{", count)).unwrap();
    assert!(out["error"].as_str().unwrap().contains("cannot read"));
}

#[test]
fn settings_default_from_null_and_are_checked() {
    assert!(run_validate_settings::<Limits>("null").is_ok());
    assert!(run_validate_settings::<Limits>("").is_ok());
    assert!(run_validate_settings::<Limits>(r#"{"max": 3}"#).is_ok());
    let err = run_validate_settings::<Limits>(r#"{"max": 30}"#).unwrap_err();
    assert!(err.contains("at most 10"));
    let err = run_validate_settings::<Limits>(r#"{"mx": 3}"#).unwrap_err();
    assert!(err.contains("unknown field"), "{err}");
}

#[test]
fn patch_ops_serialize_as_rfc6902() {
    let op = PatchOp::Replace {
        path: "/spec/containers/0/image".into(),
        value: "x@sha256:1".into(),
    };
    assert_eq!(
        serde_json::to_value(&op).unwrap(),
        serde_json::json!({"op":"replace","path":"/spec/containers/0/image","value":"x@sha256:1"})
    );
}

#[test]
fn the_object_is_kept_as_text_and_parsed_on_demand() {
    let input: Input = serde_json::from_str(
        r#"{"request":{"kind":"Pod","object":{"metadata":{"name":"p","labels":{"team":"a"}}}},
            "context":{}}"#,
    )
    .unwrap();
    let object = &input.request.object;
    assert_eq!(
        object.json(),
        r#"{"metadata":{"name":"p","labels":{"team":"a"}}}"#
    );
    assert_eq!(object.value()["metadata"]["labels"]["team"], "a");

    #[derive(Deserialize)]
    struct Meta {
        metadata: Name,
    }
    #[derive(Deserialize)]
    struct Name {
        name: String,
    }
    assert_eq!(object.parse::<Meta>().unwrap().metadata.name, "p");
    // Written back unchanged, e.g. by a policy that logs its input.
    let again = serde_json::to_value(&input).unwrap();
    assert_eq!(again["request"]["object"]["metadata"]["name"], "p");
    // No object: `null`, as before.
    let bare: Input = serde_json::from_str(r#"{"request":{},"context":{}}"#).unwrap();
    assert_eq!(bare.request.object.value(), serde_json::Value::Null);
}

/// A document of `contract/golden/`, read into `T` and written back: the same JSON as the
/// host writes (see `webhook/src/policy/tests.rs`).
fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(text: &str) {
    let golden: serde_json::Value = serde_json::from_str(text).unwrap();
    let read: T = serde_json::from_str(text).unwrap();
    assert_eq!(serde_json::to_value(&read).unwrap(), golden);
}

#[test]
fn the_golden_contract_documents_read_and_write_back_unchanged() {
    round_trip::<Input>(include_str!("../../../contract/golden/input.json"));
    round_trip::<Output>(include_str!("../../../contract/golden/output.json"));
    round_trip::<Resolved>(include_str!("../../../contract/golden/resolved.json"));
}
