//! Policies as WebAssembly through the host: the built-ins, a policy written in WAT, and
//! hostile policies that must be stopped without hurting the next evaluation.
#![allow(clippy::unwrap_used)]

mod policy_support;

use std::time::{Duration, Instant};

use landed::policy::{LoadError, PolicyEngine, PolicyError, PolicyLimits, WasmPolicy};
use landed::verdict::VerdictClass;
use policy_support::{builtin, engine, evaluate, image, input, wat_policy};
use serde_json::{json, Value};

fn load_builtin(engine: &PolicyEngine, name: &str, settings: Value) -> WasmPolicy {
    WasmPolicy::load_file(engine, name, &builtin(name), &settings).unwrap()
}

#[tokio::test]
async fn require_landed_denies_absent_with_the_native_message() {
    let engine = engine();
    let policy = load_builtin(&engine, "require-landed", Value::Null);
    let out = evaluate(
        &policy,
        &input(vec![image(0, "app:1", VerdictClass::Absent)], false),
    )
    .await
    .unwrap();
    assert!(!out.allowed);
    assert_eq!(
        out.message.as_deref(),
        Some(
            "container \"c0\" (spec.containers[0].image) image \"app:1\" is absent: test verdict absent — \
             push the image again and check that the manifest upload succeeded (`landed check IMAGE`)"
        )
    );
    let ok = evaluate(
        &policy,
        &input(vec![image(0, "app:1", VerdictClass::Landed)], false),
    )
    .await
    .unwrap();
    assert!(ok.allowed && ok.message.is_none() && ok.warnings.is_empty());
}

#[tokio::test]
async fn require_landed_follows_on_undetermined() {
    let engine = engine();
    let policy = load_builtin(&engine, "require-landed", Value::Null);
    let mut review = input(vec![image(0, "app:1", VerdictClass::Unavailable)], false);
    let out = evaluate(&policy, &review).await.unwrap();
    assert!(out.allowed);
    assert!(out.warnings[0].starts_with("could not verify: container \"c0\""));
    review.context.on_undetermined = landed::config::OnUndetermined::Deny;
    assert!(!evaluate(&policy, &review).await.unwrap().allowed);
}

#[tokio::test]
async fn pin_digest_patches_only_when_mutating() {
    let engine = engine();
    let policy = load_builtin(&engine, "pin-digest", Value::Null);
    let images = vec![
        image(0, "app:1", VerdictClass::Landed),
        image(1, "gone:1", VerdictClass::Absent),
    ];
    let out = evaluate(&policy, &input(images.clone(), true))
        .await
        .unwrap();
    let patch = serde_json::to_value(out.patch.unwrap()).unwrap();
    assert_eq!(
        patch,
        json!([{"op": "replace", "path": "/spec/containers/0/image",
                "value": "registry.example/app:1@sha256:1111111111111111111111111111111111111111111111111111111111111111"}])
    );
    let out = evaluate(&policy, &input(images, false)).await.unwrap();
    assert!(out.allowed && out.patch.is_none());
}

#[tokio::test]
async fn allowed_registries_checks_settings_at_load_and_matches_prefixes() {
    let engine = engine();
    let err = WasmPolicy::load_file(
        &engine,
        "allowed-registries",
        &builtin("allowed-registries"),
        &Value::Null,
    )
    .unwrap_err();
    assert!(
        matches!(err, LoadError::Settings(ref m) if m.contains("at least one")),
        "{err}"
    );
    let settings = json!({"registries": ["registry.example/team/"]});
    let policy = load_builtin(&engine, "allowed-registries", settings.clone());
    let mut review = input(vec![image(0, "team/app:1", VerdictClass::Landed)], false);
    review.settings = settings.clone();
    assert!(evaluate(&policy, &review).await.unwrap().allowed);
    review
        .images
        .push(image(1, "other/app:1", VerdictClass::Landed));
    let out = evaluate(&policy, &review).await.unwrap();
    assert!(!out.allowed);
    assert!(out.message.unwrap().contains("\"other/app:1\""));
}

#[tokio::test]
async fn no_latest_tag_refuses_untagged() {
    let engine = engine();
    let policy = load_builtin(&engine, "no-latest-tag", Value::Null);
    let out = evaluate(
        &policy,
        &input(vec![image(0, "app", VerdictClass::Landed)], false),
    )
    .await
    .unwrap();
    assert!(!out.allowed);
    assert!(out.message.unwrap().contains("\"latest\""));
}

#[tokio::test]
async fn a_policy_written_in_wat_follows_the_same_contract() {
    let engine = engine();
    let policy = WasmPolicy::load(&engine, "wat", &wat_policy(None, ""), &Value::Null).unwrap();
    let out = evaluate(
        &policy,
        &input(vec![image(0, "a:1", VerdictClass::Landed)], false),
    )
    .await
    .unwrap();
    assert!(out.allowed);
    assert_eq!(out.warnings, vec!["hello from WAT".to_string()]);
    let out = evaluate(
        &policy,
        &input(vec![image(0, "a:1", VerdictClass::Absent)], false),
    )
    .await
    .unwrap();
    assert!(!out.allowed);
    assert_eq!(
        out.message.as_deref(),
        Some("WAT policy: an image is absent")
    );
}

/// Runs a hostile policy, checks its error, then checks a good policy on the same engine.
async fn hostile(engine: &PolicyEngine, body: &str, extra: &str) -> (PolicyError, Duration) {
    let bad = WasmPolicy::load(
        engine,
        "hostile",
        &wat_policy(Some(body), extra),
        &Value::Null,
    )
    .unwrap();
    let review = input(vec![image(0, "a:1", VerdictClass::Landed)], false);
    let started = Instant::now();
    let err = evaluate(&bad, &review).await.unwrap_err();
    let took = started.elapsed();
    let good = WasmPolicy::load(engine, "good", &wat_policy(None, ""), &Value::Null).unwrap();
    assert!(
        evaluate(&good, &review).await.unwrap().allowed,
        "good policy after {err}"
    );
    (err, took)
}

#[tokio::test]
async fn infinite_loop_stops_at_the_deadline() {
    let engine = engine();
    let (err, took) = hostile(&engine, "(loop $l (br $l)) (unreachable)", "").await;
    assert!(matches!(err, PolicyError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("timed out"));
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test]
async fn fuel_limits_a_busy_policy_when_configured() {
    let limits = PolicyLimits {
        fuel: Some(100_000),
        deadline: Duration::from_secs(10),
        ..PolicyLimits::default()
    };
    let engine = PolicyEngine::new(limits).unwrap();
    let (err, _) = hostile(&engine, "(loop $l (br $l)) (unreachable)", "").await;
    assert!(err.to_string().contains("ran out of fuel"), "{err}");
}

#[tokio::test]
async fn memory_bomb_traps_at_the_limit() {
    let engine = engine();
    let body =
        "(loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) (i32.const 64)";
    let (err, _) = hostile(&engine, body, "").await;
    assert!(err.to_string().contains("memory limit of 64 MiB"), "{err}");
}

#[tokio::test]
async fn deep_recursion_traps() {
    let engine = engine();
    let extra =
        "(func $down (param i32) (result i32) (call $down (i32.add (local.get 0) (i32.const 1))))";
    let (err, _) = hostile(&engine, "(call $down (i32.const 0))", extra).await;
    assert!(err.to_string().contains("recursion too deep"), "{err}");
}

#[tokio::test]
async fn huge_output_is_rejected() {
    let engine = engine();
    // 2 MiB of spaces at 64 KiB: over the 1 MiB output limit.
    let body = "(drop (memory.grow (i32.const 40)))
                (memory.fill (i32.const 65536) (i32.const 32) (i32.const 2097152))
                (i32.store (i32.const 64) (i32.const 65536))
                (i32.store (i32.const 68) (i32.const 2097152))
                (i32.const 64)";
    let (err, _) = hostile(&engine, body, "").await;
    assert!(matches!(err, PolicyError::InvalidOutput { .. }), "{err}");
    assert!(err.to_string().contains("over the limit"), "{err}");
}

#[tokio::test]
async fn a_trap_is_an_error() {
    let engine = engine();
    let (err, _) = hostile(&engine, "(unreachable)", "").await;
    assert!(err.to_string().contains("trapped"), "{err}");
}

#[tokio::test]
async fn garbage_output_is_an_error() {
    let engine = engine();
    let body = "(i32.store (i32.const 64) (i32.const 128)) (i32.store (i32.const 68) (i32.const 9)) (i32.const 64)";
    let (err, _) = hostile(&engine, body, "").await;
    assert!(err.to_string().contains("not JSON"), "{err}");
}

#[tokio::test]
async fn wrong_export_signature_is_a_load_error_naming_it() {
    let engine = engine();
    let text = r#"(component
      (core module $m (func (export "v") (param i32) (result i32) (local.get 0)))
      (core instance $i (instantiate $m))
      (func (export "validate") (param "input" u32) (result u32) (canon lift (core func $i "v"))))"#;
    let err = WasmPolicy::load(
        &engine,
        "wrong",
        &wat::parse_str(text).unwrap(),
        &Value::Null,
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("validate: func(input: string) -> string"),
        "{msg}"
    );
    let text = r#"(component (core module $m) (core instance $i (instantiate $m)))"#;
    let err = WasmPolicy::load(
        &engine,
        "empty",
        &wat::parse_str(text).unwrap(),
        &Value::Null,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::MissingExport {
                export: "validate",
                ..
            }
        ),
        "{err}"
    );
    let err = WasmPolicy::load(&engine, "junk", b"not wasm", &Value::Null).unwrap_err();
    assert!(
        err.to_string()
            .contains("not a valid WebAssembly component"),
        "{err}"
    );
}

#[tokio::test]
async fn concurrent_evaluations_are_isolated() {
    let engine = engine();
    let policy = load_builtin(&engine, "require-landed", Value::Null);
    let mut tasks = Vec::new();
    for i in 0..32 {
        let policy = policy.clone();
        tasks.push(tokio::spawn(async move {
            let verdict = if i % 2 == 0 {
                VerdictClass::Landed
            } else {
                VerdictClass::Absent
            };
            let out = evaluate(&policy, &input(vec![image(0, "a:1", verdict)], false))
                .await
                .unwrap();
            assert_eq!(out.allowed, i % 2 == 0);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}
