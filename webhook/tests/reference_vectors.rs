//! Table-driven checks of `landed::image::Reference` against `tests/data/references.json`.
//!
//! Each vector is `{input, normalized}` (must parse to exactly that `Display` form; optional
//! `registry`, `repository`, `tag` — `null` meaning "no tag" — are checked too) or
//! `{input, error, message?}` where `error` is the `ReferenceError` variant name and
//! `message` a substring of its text. `note` is for readers only.

use landed::image::{Reference, ReferenceError};
use serde_json::{Map, Value};

fn vectors() -> Vec<Map<String, Value>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/references.json");
    let text = std::fs::read_to_string(path).expect("read references.json");
    serde_json::from_str(&text).expect("references.json is a list of objects")
}

fn variant(err: &ReferenceError) -> String {
    format!("{err:?}")
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn field<'a>(vector: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    vector.get(key).and_then(Value::as_str)
}

/// Returns a description of what is wrong with this vector's outcome, if anything.
fn check(vector: &Map<String, Value>) -> Option<String> {
    let input = field(vector, "input").expect("every vector has an input");
    let result = Reference::parse(input);
    match (field(vector, "normalized"), field(vector, "error"), result) {
        (Some(normalized), None, Ok(reference)) => {
            let mut problems = Vec::new();
            if reference.to_string() != normalized {
                problems.push(format!("normalized to {reference}, want {normalized}"));
            }
            for (key, actual) in [
                ("registry", Some(reference.registry())),
                ("repository", Some(reference.repository())),
                ("tag", reference.tag()),
            ] {
                if let Some(want) = vector.get(key) {
                    if want.as_str() != actual {
                        problems.push(format!("{key} is {actual:?}, want {want}"));
                    }
                }
            }
            match Reference::parse(&reference.to_string()) {
                Ok(again) if again == reference => {}
                other => problems.push(format!("Display does not round-trip: {other:?}")),
            }
            (!problems.is_empty()).then(|| problems.join("; "))
        }
        (Some(_), None, Err(err)) => Some(format!("rejected: {err:?}")),
        (None, Some(want), Ok(reference)) => Some(format!("accepted as {reference}, want {want}")),
        (None, Some(want), Err(err)) => {
            let message = err.to_string();
            if variant(&err) != want {
                Some(format!("error {err:?}, want {want}"))
            } else if !field(vector, "message").is_none_or(|m| message.contains(m)) {
                Some(format!("message {message:?} lacks {:?}", vector["message"]))
            } else {
                None
            }
        }
        _ => Some("vector needs exactly one of normalized / error".to_owned()),
    }
}

#[test]
fn reference_vectors() {
    let vectors = vectors();
    assert!(vectors.len() >= 60, "only {} vectors", vectors.len());
    let failures: Vec<String> = vectors
        .iter()
        .filter_map(|v| check(v).map(|why| format!("{:?}: {why}", v["input"])))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
}

#[test]
fn every_error_variant_has_a_vector() {
    let covered: Vec<String> = vectors()
        .iter()
        .filter_map(|v| field(v, "error").map(str::to_owned))
        .collect();
    for variant in [
        "Empty",
        "ContainsWhitespace",
        "MissingName",
        "HexIdentifier",
        "InvalidDomain",
        "NameContainsUppercase",
        "EmptyPathComponent",
        "InvalidPathComponent",
        "NameTooLong",
        "EmptyTag",
        "TagTooLong",
        "InvalidTag",
        "EmptyDigest",
        "InvalidDigestFormat",
        "UnsupportedDigestAlgorithm",
        "InvalidDigestEncoding",
    ] {
        assert!(
            covered.iter().any(|c| c == variant),
            "no vector for {variant}"
        );
    }
}
