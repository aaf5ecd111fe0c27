//! Kubewarden waPC policies on landed's engine: load checks, the request as sent, answers
//! mapped onto landed's, and the `kubewarden` host capabilities through a resolver.
#![allow(clippy::unwrap_used)]

mod policy_support;
mod wapc_support;

use std::sync::Arc;
use std::time::Duration;

use landed::policy::{detect_abi, Abi, LoadError, PolicyModule, ResolveAccess};
use landed::resolve::TableResolver;
use landed::verdict::{Verdict, VerdictClass};
use policy_support::{engine, image, input};
use wapc_support::{host_call, load, reported, run, Guest, ECHO};

const DIGEST: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn answering(answer: &str) -> Vec<u8> {
    Guest {
        answer,
        ..Guest::default()
    }
    .build()
}

#[tokio::test]
async fn an_accepting_answer_allows_and_a_refusal_denies_with_message_code_and_warnings() {
    let engine = engine();
    let review = input(vec![image(0, "app:1", VerdictClass::Landed)], false);
    let allow = load(&engine, &answering(r#"{"accepted":true}"#)).unwrap();
    let out = run(&allow, &review, None).await.unwrap();
    assert!(out.allowed && out.message.is_none() && out.patch.is_none());
    let deny = answering(
        r#"{"accepted":false,"message":"no privileged containers","code":403,"warnings":["w1"]}"#,
    );
    let out = run(&load(&engine, &deny).unwrap(), &review, None)
        .await
        .unwrap();
    assert!(!out.allowed);
    assert_eq!(
        out.message.as_deref(),
        Some("no privileged containers (code 403)")
    );
    assert_eq!(out.warnings, ["w1"]);
}

#[tokio::test]
async fn a_mutated_object_is_a_patch_on_mutate_only() {
    let engine = engine();
    let mutated = r#"{"accepted":true,"mutated_object":{"metadata":{"labels":{"team":"x"}},"spec":{"containers":[]}}}"#;
    let policy = load(&engine, &answering(mutated)).unwrap();
    let on_mutate = input(vec![image(0, "app:1", VerdictClass::Landed)], true);
    let out = run(&policy, &on_mutate, None).await.unwrap();
    let patch = serde_json::to_value(out.patch.unwrap()).unwrap();
    assert_eq!(
        patch,
        serde_json::json!([{"op": "add", "path": "/metadata", "value": {"labels": {"team": "x"}}}])
    );
    let on_validate = input(vec![image(0, "app:1", VerdictClass::Landed)], false);
    assert!(run(&policy, &on_validate, None)
        .await
        .unwrap()
        .patch
        .is_none());
}

#[tokio::test]
async fn validate_gets_the_request_exactly_as_sent_and_the_settings() {
    let engine = engine();
    let policy = load(
        &engine,
        &Guest {
            validate: ECHO,
            ..Guest::default()
        }
        .build(),
    )
    .unwrap();
    // Fields landed itself never reads, spacing and key order must all reach the policy.
    let request = r#"{"uid":"u-7","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"requestKind":{"group":"","version":"v1","kind":"Pod"},"options":{"fieldManager":"kubectl"},"operation":"CREATE","userInfo":{"username":"alice"},"object":{"metadata":{"name":"p"},  "spec":{"containers":[]}},"futureField":[1,2]}"#;
    let body = format!(
        r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{request}}}"#
    );
    let mut review = input(vec![], false);
    review.settings = serde_json::json!({"allowed": ["a"]});
    let seen = reported(run(&policy, &review, Some(body.as_bytes())).await);
    assert_eq!(
        seen,
        format!(r#"{{"request":{request},"settings":{{"allowed":["a"]}}}}"#)
    );
    // Without a body (a PolicyInput file) the request is rebuilt, settings default to {}.
    review.settings = serde_json::Value::Null;
    let rebuilt: serde_json::Value =
        serde_json::from_str(&reported(run(&policy, &review, None).await)).unwrap();
    assert_eq!(rebuilt["request"]["kind"]["kind"], "Pod");
    assert_eq!(rebuilt["request"]["uid"], "uid-1");
    assert_eq!(rebuilt["settings"], serde_json::json!({}));
}

#[test]
fn settings_refused_at_load_name_the_policy_and_the_message() {
    let bytes = Guest {
        settings: r#"{"valid":false,"message":"allowedRegistries must not be empty"}"#,
        ..Guest::default()
    }
    .build();
    let err = load(&engine(), &bytes).unwrap_err();
    assert!(matches!(err, LoadError::Settings(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("kw-test") && text.contains("allowedRegistries must not be empty"),
        "{text}"
    );
}

#[test]
fn the_abi_is_read_from_the_binary_and_a_wrong_declaration_is_refused() {
    let module = Guest::default().build();
    assert_eq!(detect_abi(&module, None).unwrap(), Abi::KubewardenWapc);
    let err = detect_abi(&module, Some(Abi::Landed))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("abi: landed") && err.contains("core WebAssembly module"),
        "{err}"
    );
    let component = policy_support::wat_policy(None, "");
    assert_eq!(detect_abi(&component, None).unwrap(), Abi::Landed);
    let engine = engine();
    let loaded = PolicyModule::load(&engine, "kw", &module, &serde_json::Value::Null, None);
    assert_eq!(loaded.unwrap().abi(), Abi::KubewardenWapc);
    let plain = wat::parse_str(r#"(module (memory (export "memory") 1))"#).unwrap();
    let err = PolicyModule::load(&engine, "kw", &plain, &serde_json::Value::Null, None);
    assert!(err.unwrap_err().to_string().contains("__guest_call"));
}

fn resolving(class: VerdictClass) -> ResolveAccess {
    let normalized = landed::image::Reference::parse("ghcr.io/acme/base:1")
        .unwrap()
        .to_string();
    let mut verdict = Verdict::new(class, "from the table");
    if class == VerdictClass::Landed {
        verdict.digest = Some(DIGEST.parse().unwrap());
    }
    ResolveAccess {
        resolver: Arc::new(TableResolver::new().with(normalized, verdict)),
        budget: Duration::from_secs(1),
    }
}

fn calling(ns: &str, op: &str, payload: &str) -> Vec<u8> {
    let (data, body) = host_call("kubewarden", ns, op, payload);
    Guest {
        validate: &body,
        extra: &data,
        ..Guest::default()
    }
    .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_digest_answers_the_digest_of_a_landed_image_and_the_class_of_one_that_did_not() {
    let engine = engine();
    let review = input(vec![], false);
    let bytes = calling("oci", "v1/manifest_digest", r#""ghcr.io/acme/base:1""#);
    let policy = load(&engine, &bytes).unwrap();
    let landed = policy
        .clone()
        .with_resolver(resolving(VerdictClass::Landed));
    let seen = reported(run(&landed, &review, None).await);
    assert_eq!(seen, format!(r#"ok:{{"digest":"{DIGEST}"}}"#));
    let absent = policy
        .clone()
        .with_resolver(resolving(VerdictClass::Absent));
    let seen = reported(run(&absent, &review, None).await);
    assert_eq!(seen, "err:absent: from the table");
    // The review's own images answer without a lookup.
    let own = input(
        vec![image(0, "ghcr.io/acme/base:1", VerdictClass::Absent)],
        false,
    );
    let seen = reported(run(&policy, &own, None).await);
    assert!(seen.starts_with("err:absent: "), "{seen}");
    let bad = load(
        &engine,
        &calling("oci", "v1/manifest_digest", "ghcr.io/not-json"),
    )
    .unwrap();
    let seen = reported(run(&bad, &review, None).await);
    assert!(
        seen.starts_with("err:the payload must be a JSON string"),
        "{seen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolver_without_a_registry_answers_oci_manifest_as_unavailable() {
    let policy = load(
        &engine(),
        &calling("oci", "v1/oci_manifest", r#""ghcr.io/acme/base:1""#),
    )
    .unwrap()
    .with_resolver(resolving(VerdictClass::Landed));
    let seen = reported(run(&policy, &input(vec![], false), None).await);
    assert!(seen.starts_with("err:unavailable: "), "{seen}");
}

#[tokio::test]
async fn tracing_log_is_taken_and_unoffered_capabilities_are_named() {
    let engine = engine();
    let review = input(vec![], false);
    let log = load(
        &engine,
        &calling("tracing", "log", r#"{"level":"info","message":"hi"}"#),
    )
    .unwrap();
    assert_eq!(reported(run(&log, &review, None).await), "ok:");
    for (ns, op, named) in [
        (
            "kubernetes",
            "list_resources_by_namespace",
            "Kubernetes lookups",
        ),
        ("net", "v1/dns_lookup_host", "DNS lookups"),
        (
            "crypto",
            "v1/is_certificate_trusted",
            "certificate verification",
        ),
        ("oci", "v1/oci_manifest_config", "this OCI operation"),
        ("oci", "v2/verify", "sigstore verification"),
    ] {
        let policy = load(&engine, &calling(ns, op, "{}")).unwrap();
        let seen = reported(run(&policy, &review, None).await);
        assert!(
            seen.starts_with(&format!(
                "err:capability kubewarden/{ns}/{op} is not offered by landed"
            )) && seen.contains(named),
            "{seen}"
        );
    }
    let (data, body) = host_call("other", "oci", "v1/manifest_digest", r#""a:1""#);
    let other = Guest {
        validate: &body,
        extra: &data,
        ..Guest::default()
    }
    .build();
    let seen = reported(run(&load(&engine, &other).unwrap(), &review, None).await);
    assert!(
        seen.starts_with("err:binding `other` is not offered"),
        "{seen}"
    );
}

#[tokio::test]
async fn the_wasi_clock_and_randomness_work_and_the_environment_is_empty() {
    let imports = r#"(import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env (param i32 i32) (result i32)))"#;
    // Answers denied unless the clock is past 2020, 32 random bytes are not all zero, and
    // the environment has no variables.
    let validate = r#"(local $i i32) (local $any i32)
    (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 3000)))
    (drop (call $random (i32.const 3100) (i32.const 32)))
    (i32.store (i32.const 3200) (i32.const 99))
    (drop (call $env (i32.const 3200) (i32.const 3204)))
    (loop $l
      (local.set $any (i32.or (local.get $any) (i32.load8_u (i32.add (i32.const 3100) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 32))))
    (if (result i32) (i32.and (i32.and
          (i64.gt_u (i64.load (i32.const 3000)) (i64.const 1577836800000000000))
          (i32.ne (local.get $any) (i32.const 0)))
          (i32.eqz (i32.load (i32.const 3200))))
      (then (call $guest_response (i32.const 512) (global.get $answer_len)) (i32.const 1))
      (else (i32.const 0)))"#;
    let bytes = Guest {
        imports,
        validate,
        ..Guest::default()
    }
    .build();
    let out = run(
        &load(&engine(), &bytes).unwrap(),
        &input(vec![], false),
        None,
    )
    .await;
    assert!(out.unwrap().allowed);
}

#[tokio::test]
async fn a_module_looking_for_preopened_directories_finds_none_without_trapping() {
    let imports = r#"(import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))"#;
    // EBADF (8) for descriptor 3 is "no preopens": the guest answers only then.
    let validate = r#"(if (result i32) (i32.eq (call $prestat (i32.const 3) (i32.const 3000)) (i32.const 8))
      (then (call $guest_response (i32.const 512) (global.get $answer_len)) (i32.const 1))
      (else (i32.const 0)))"#;
    let bytes = Guest {
        imports,
        validate,
        ..Guest::default()
    }
    .build();
    let out = run(
        &load(&engine(), &bytes).unwrap(),
        &input(vec![], false),
        None,
    )
    .await;
    assert!(out.unwrap().allowed);
}

#[test]
fn metadata_is_read_and_a_rego_or_wasi_execution_mode_is_refused_by_name() {
    let engine = engine();
    let section = |mode: &str| {
        let json =
            format!(r#"{{"protocolVersion":"v1","executionMode":"{mode}","mutating":false}}"#);
        format!(
            r#"(@custom "io.kubewarden.metadata" "{}")"#,
            wapc_support::wat_bytes(json.as_bytes())
        )
    };
    let wapc = section("kubewarden-wapc");
    let policy = load(
        &engine,
        &Guest {
            extra: &wapc,
            ..Guest::default()
        }
        .build(),
    )
    .unwrap();
    let metadata = policy.metadata().unwrap();
    assert_eq!(metadata["executionMode"], "kubewarden-wapc");
    assert!(load(&engine, &Guest::default().build())
        .unwrap()
        .metadata()
        .is_none());
    for mode in ["opa", "gatekeeper", "wasi"] {
        let meta = section(mode);
        let err = load(
            &engine,
            &Guest {
                extra: &meta,
                ..Guest::default()
            }
            .build(),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("executionMode \"{mode}\"")) && text.contains("Rego"),
            "{text}"
        );
    }
}
