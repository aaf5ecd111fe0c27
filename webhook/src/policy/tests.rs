use std::time::Duration;

use super::*;

#[test]
fn output_must_follow_the_contract() {
    let ok = parse_output(
        "p",
        r#"{"allowed":false,"message":"no","warnings":["w"]}"#,
        1000,
    );
    let ok = ok.unwrap_or_else(|e| panic!("{e}"));
    assert!(!ok.allowed);
    assert_eq!(ok.warnings, ["w"]);
    let cases = [
        ("nope", "not JSON"),
        (r#"{"message":"x"}"#, "expected {\"allowed\""),
        (r#"{"allowed":"yes"}"#, "expected {\"allowed\""),
        (
            r#"{"error":"cannot read input"}"#,
            "reported an error: cannot read input",
        ),
        (
            r#"{"allowed":true,"patch":[{"op":"jump"}]}"#,
            "expected {\"allowed\"",
        ),
    ];
    for (json, want) in cases {
        let err = parse_output("p", json, 1000)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(want), "{json}: {err}");
    }
    let big = format!(r#"{{"allowed":true,"message":"{}"}}"#, "x".repeat(100));
    let err = parse_output("p", &big, 50)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("over the limit of 50"), "{err}");
}

#[test]
fn deadline_is_whole_epoch_ticks() {
    let limits = PolicyLimits::default();
    assert_eq!(limits.deadline_ticks(), 100);
    let tiny = PolicyLimits {
        deadline: Duration::from_micros(1),
        ..limits
    };
    assert_eq!(tiny.deadline_ticks(), 1);
    assert_eq!(tiny.max_memory_bytes(), 64 << 20);
}

#[test]
fn defaults_are_require_landed_and_pin_digest() {
    let names: Vec<String> = default_entries().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["require-landed", "pin-digest"]);
    let engine = PolicyEngine::new(PolicyLimits::default()).unwrap_or_else(|e| panic!("{e}"));
    let loader =
        PolicyLoader::new(engine, "/builtins".into()).with_base_dir(Some("/etc/landed".into()));
    let entry = |path: Option<&str>, oci: Option<&str>, name: &str| PolicyConfig {
        name: name.into(),
        path: path.map(Into::into),
        oci: oci.map(Into::into),
        allow_unpinned: false,
        settings: serde_json::Value::Null,
        mode: None,
        failure_policy: None,
        runs_on: None,
        input: None,
        abi: None,
    };
    let src = |e: PolicyConfig| {
        loader
            .source(&e)
            .map(|s| s.to_string())
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        src(entry(None, None, "no-latest-tag")),
        Ok("/builtins/no_latest_tag.wasm".into())
    );
    assert_eq!(
        src(entry(Some("p.wasm"), None, "x")),
        Ok("/etc/landed/p.wasm".into())
    );
    let pinned = format!("r.example/p:1@sha256:{}", "a".repeat(64));
    assert_eq!(
        src(entry(None, Some(&pinned), "x")),
        Ok(format!("oci://{pinned}"))
    );
    let unpinned = src(entry(None, Some("r.example/p:1"), "x")).expect_err("unpinned");
    assert!(
        unpinned.contains("policy \"x\": `oci: r.example/p:1` is not pinned by digest")
            && unpinned.contains("allowUnpinned: true"),
        "{unpinned}"
    );
    let allowed = PolicyConfig {
        allow_unpinned: true,
        ..entry(None, Some("r.example/p:1"), "x")
    };
    assert_eq!(src(allowed), Ok("oci://r.example/p:1".into()));
    let invalid = src(entry(None, Some("R.example/UPPER:1"), "x")).expect_err("invalid");
    assert!(invalid.contains("is not a valid reference"), "{invalid}");
    assert!(src(entry(Some("a"), Some("b"), "x"))
        .expect_err("path and oci together")
        .contains("not both"));
    assert!(src(entry(None, None, "x"))
        .expect_err("no source for a non-built-in")
        .contains("not a built-in"));
}

#[test]
fn built_ins_run_where_their_answer_is_used_and_others_on_both_paths() {
    let parse = |yaml: &str| -> PolicyConfig {
        serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
    };
    let on = |yaml: &str| parse(yaml).runs_on();
    assert_eq!(on("name: pin-digest"), RunsOn::Mutate);
    assert_eq!(on("name: require-landed"), RunsOn::Validate);
    assert_eq!(on("name: no-latest-tag"), RunsOn::Validate);
    // A policy of the user's own, even under a built-in's name, runs on both.
    assert_eq!(on("{name: pin-digest, path: mine.wasm}"), RunsOn::Both);
    assert_eq!(on("{name: mine, oci: r.example/p:1}"), RunsOn::Both);
    assert_eq!(on("{name: pin-digest, runsOn: both}"), RunsOn::Both);
    assert_eq!(
        on("{name: mine, path: m.wasm, runsOn: validate}"),
        RunsOn::Validate
    );
    assert!(RunsOn::Mutate.includes(true) && !RunsOn::Mutate.includes(false));
    assert!(RunsOn::Validate.includes(false) && !RunsOn::Validate.includes(true));
    let bad = serde_saphyr::from_str::<PolicyConfig>("{name: x, runsOn: sometimes}");
    assert!(bad.is_err(), "an unknown runsOn is refused");
}

#[test]
fn built_ins_read_images_and_others_the_whole_request() {
    let scope = |yaml: &str| -> InputScope {
        serde_saphyr::from_str::<PolicyConfig>(yaml)
            .unwrap_or_else(|e| panic!("{yaml}: {e}"))
            .input_scope()
    };
    for name in BUILTINS {
        assert_eq!(
            scope(&format!("name: {name}")),
            InputScope::Images,
            "{name}"
        );
    }
    // A policy of the user's own, even under a built-in's name, reads everything unless told.
    assert_eq!(
        scope("{name: require-landed, path: mine.wasm}"),
        InputScope::Full
    );
    assert_eq!(scope("{name: mine, oci: r.example/p:1}"), InputScope::Full);
    assert_eq!(
        scope("{name: mine, path: m.wasm, input: images}"),
        InputScope::Images
    );
    assert_eq!(
        scope("{name: require-landed, input: full}"),
        InputScope::Full
    );
    let bad = serde_saphyr::from_str::<PolicyConfig>("{name: x, path: m.wasm, input: object}");
    assert!(bad.is_err(), "an unknown input scope is refused");
}

/// A document of `contract/golden/`: the text, and its JSON.
fn golden(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("golden file: {e}"))
}

#[test]
fn the_golden_input_reads_and_writes_back_unchanged() {
    let text = include_str!("../../../contract/golden/input.json");
    let input: PolicyInput = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
    let written = serde_json::to_value(&input).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(written, golden(text));
    // What a guest is handed: the review's shared encoding, spliced.
    let prepared = PreparedInput::with_lookup(&input, Default::default());
    let handed = prepared
        .json(&input.settings)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(golden(&handed), golden(text));
}

#[test]
fn the_golden_output_reads_and_writes_back_unchanged() {
    let text = include_str!("../../../contract/golden/output.json");
    let output = parse_output("p", text, 1 << 20).unwrap_or_else(|e| panic!("{e}"));
    let written = serde_json::to_value(&output).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(written, golden(text));
}
