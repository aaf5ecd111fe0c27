//! Attacks by a Kubewarden waPC policy on its host: lying lengths, pointers outside its
//! memory, runaway loops and growth, unoffered WASI, wrong protocol, garbage answers. Each
//! ends as a clear error for that call, and the host keeps serving the next one.
#![allow(clippy::unwrap_used)]

mod policy_support;
mod wapc_support;

use std::time::{Duration, Instant};

use landed::policy::{KubewardenPolicy, PolicyEngine, PolicyError, PolicyLimits};
use policy_support::input;
use wapc_support::{host_call, load, run, Guest};

fn engine_with(limits: PolicyLimits) -> PolicyEngine {
    PolicyEngine::new(limits).unwrap()
}

fn validating(validate: &str) -> KubewardenPolicy {
    let bytes = Guest {
        validate,
        ..Guest::default()
    }
    .build();
    load(&policy_support::engine(), &bytes).unwrap()
}

async fn failure(policy: &KubewardenPolicy) -> PolicyError {
    run(policy, &input(vec![], false), None).await.unwrap_err()
}

fn failed_with(error: &PolicyError, text: &str) -> bool {
    matches!(error, PolicyError::Failed { reason, .. } if reason.contains(text))
}

#[tokio::test]
async fn attack_guest_claims_a_huge_response_length() {
    let policy =
        validating("(call $guest_response (i32.const 0) (i32.const 0x7fffffff)) (i32.const 1)");
    let started = Instant::now();
    let err = failure(&policy).await;
    assert!(
        matches!(&err, PolicyError::InvalidOutput { reason, .. } if reason.contains("2147483647 bytes, over the output limit")),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "nothing was copied"
    );
    // A negative length is a huge unsigned one, refused the same way.
    let err = failure(&validating(
        "(call $guest_error (i32.const 0) (i32.const -1)) (i32.const 0)",
    ))
    .await;
    assert!(matches!(err, PolicyError::InvalidOutput { .. }), "{err}");
}

#[tokio::test]
async fn attack_guest_response_points_outside_its_memory() {
    // Within the output cap, but past the end of its 4 pages.
    let policy =
        validating("(call $guest_response (i32.const 262100) (i32.const 1000)) (i32.const 1)");
    let err = failure(&policy).await;
    assert!(
        failed_with(&err, "passed `__guest_response` a range outside its memory"),
        "{err}"
    );
}

#[tokio::test]
async fn attack_host_call_with_out_of_bounds_pointers_and_lengths() {
    for (args, text) in [
        ("(i32.const -16) (i32.const 10) (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 1)",
            "`__host_call binding` a range outside its memory"),
        ("(i32.const 0) (i32.const 10) (i32.const 0) (i32.const 100000) (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 1)",
            "`__host_call namespace` 100000 bytes, over the limit of 256"),
        ("(i32.const 0) (i32.const 10) (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 3) (i32.const 0) (i32.const -1)",
            "`__host_call payload` 4294967295 bytes"),
    ] {
        let policy = validating(&format!("(drop (call $host_call {args})) (i32.const 0)"));
        let err = failure(&policy).await;
        assert!(failed_with(&err, text), "{err}");
    }
    // Reading the host's answer back into memory it does not have.
    let policy = validating("(call $host_error (i32.const -4)) (i32.const 0)");
    let err = failure(&policy).await;
    assert!(
        failed_with(&err, "passed `__host_error` a range outside its memory"),
        "{err}"
    );
    let (data, _) = host_call("kubewarden", "kubernetes", "x", "{}");
    let calls = Guest {
        extra: &data,
        validate: "(drop (call $host_call (i32.const 2048) (i32.const 10) (i32.const 2304) (i32.const 10) (i32.const 2560) (i32.const 1) (i32.const 2816) (i32.const 2))) (call $host_error (i32.const 262140)) (i32.const 0)",
        ..Guest::default()
    };
    let err2 = failure(&load(&policy_support::engine(), &calls.build()).unwrap()).await;
    assert!(
        failed_with(&err2, "passed `__host_error` a range outside its memory"),
        "{err} / {err2}"
    );
}

#[tokio::test]
async fn attack_infinite_loop_in_validate_stops_at_the_deadline_and_the_host_serves_on() {
    let engine = engine_with(PolicyLimits {
        deadline: Duration::from_millis(50),
        ..PolicyLimits::default()
    });
    let spin = Guest {
        validate: "(loop $l (br $l)) (i32.const 1)",
        ..Guest::default()
    }
    .build();
    let policy = load(&engine, &spin).unwrap();
    let started = Instant::now();
    let err = failure(&policy).await;
    assert!(matches!(err, PolicyError::Timeout { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let fine = load(&engine, &Guest::default().build()).unwrap();
    assert!(
        run(&fine, &input(vec![], false), None)
            .await
            .unwrap()
            .allowed
    );
}

#[tokio::test]
async fn attack_memory_growth_past_the_cap_traps() {
    let engine = engine_with(PolicyLimits {
        max_memory_mib: 8,
        ..PolicyLimits::default()
    });
    let grow = Guest {
        validate: "(loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) (i32.const 1)",
        ..Guest::default()
    };
    let err = failure(&load(&engine, &grow.build()).unwrap()).await;
    assert!(
        failed_with(&err, "exceeded its memory limit of 8 MiB"),
        "{err}"
    );
}

#[tokio::test]
async fn attack_guest_error_path_is_a_failure_with_the_guests_text() {
    let policy = Guest {
        answer: "handler blew up",
        validate: "(call $guest_error (i32.const 512) (global.get $answer_len)) (i32.const 0)",
        ..Guest::default()
    };
    let err = failure(&load(&policy_support::engine(), &policy.build()).unwrap()).await;
    assert!(
        failed_with(&err, "reported an error: handler blew up"),
        "{err}"
    );
    let silent = validating("(i32.const 0)");
    assert!(failed_with(
        &failure(&silent).await,
        "without calling __guest_error"
    ));
    let liar = validating("(i32.const 1)");
    assert!(failed_with(
        &failure(&liar).await,
        "without calling __guest_response"
    ));
}

#[test]
fn attack_wrong_protocol_version_is_a_load_error() {
    let engine = policy_support::engine();
    for version in [r#""v2""#, "v1", r#"{"v":1}"#] {
        let bytes = Guest {
            version,
            ..Guest::default()
        }
        .build();
        let err = load(&engine, &bytes).unwrap_err().to_string();
        assert!(err.contains("protocol"), "{version}: {err}");
    }
}

#[tokio::test]
async fn attack_garbage_json_answers_are_invalid_output() {
    for answer in [
        "{not json",
        r#"{"allowed":true}"#,
        r#"{"accepted":1}"#,
        "\u{0}\u{1}",
    ] {
        let bytes = Guest {
            answer,
            ..Guest::default()
        }
        .build();
        let policy = load(&policy_support::engine(), &bytes).unwrap();
        let err = failure(&policy).await;
        assert!(
            matches!(err, PolicyError::InvalidOutput { .. }),
            "{answer:?}: {err}"
        );
    }
    let bad_settings = Guest {
        settings: "garbage",
        ..Guest::default()
    }
    .build();
    let err = load(&policy_support::engine(), &bad_settings)
        .unwrap_err()
        .to_string();
    assert!(err.contains("validate_settings must answer"), "{err}");
}

#[tokio::test]
async fn attack_guest_calls_wasi_filesystem_sockets_and_exit() {
    let engine = policy_support::engine();
    for (import, call, text) in [
        (r#"(import "wasi_snapshot_preview1" "path_open" (func $f (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))"#,
            "(drop (call $f (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 4) (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 0)))",
            "`wasi_snapshot_preview1.path_open`, which landed does not offer to policies (no filesystem)"),
        (r#"(import "wasi_snapshot_preview1" "sock_accept" (func $f (param i32 i32 i32) (result i32)))"#,
            "(drop (call $f (i32.const 3) (i32.const 0) (i32.const 0)))",
            "(no sockets)"),
        (r#"(import "env" "system" (func $f (param i32) (result i32)))"#,
            "(drop (call $f (i32.const 0)))",
            "`env.system`"),
        (r#"(import "wasi_snapshot_preview1" "proc_exit" (func $f (param i32)))"#,
            "(call $f (i32.const 3))",
            "exited (WASI proc_exit with code 3)"),
    ] {
        let validate = format!("{call} (i32.const 1)");
        let bytes = Guest { imports: import, validate: &validate, ..Guest::default() }.build();
        let err = failure(&load(&engine, &bytes).unwrap()).await;
        assert!(failed_with(&err, text), "{err}");
    }
    let imports_memory = wat::parse_str(
        r#"(module (import "env" "mem" (memory 1)) (func (export "__guest_call") (param i32 i32) (result i32) (i32.const 0)))"#,
    )
    .unwrap();
    let err = load(&engine, &imports_memory).unwrap_err().to_string();
    assert!(err.contains("`env.mem` (not a function)"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_guest_calls_oci_capabilities_in_a_loop() {
    let (data, _) = host_call("kubewarden", "oci", "v1/manifest_digest", r#""a:1""#);
    let validate = "(loop $l (drop (call $host_call (i32.const 2048) (i32.const 10) (i32.const 2304) (i32.const 3) (i32.const 2560) (i32.const 18) (i32.const 2816) (i32.const 5))) (br $l)) (i32.const 1)";
    let bytes = Guest {
        extra: &data,
        validate,
        ..Guest::default()
    }
    .build();
    let err = failure(&load(&policy_support::engine(), &bytes).unwrap()).await;
    assert!(
        failed_with(&err, "called host capabilities more than 16 times"),
        "{err}"
    );
}

#[tokio::test]
async fn attack_guest_floods_the_log_with_a_lying_length() {
    // A claimed 2 GiB console message and stdout write: the host logs a bounded prefix,
    // never reads past it, and the call answers.
    let imports = r#"(import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))"#;
    let validate = "(call $console_log (i32.const 0) (i32.const 0x7fffffff))
        (i32.store (i32.const 3000) (i32.const 0)) (i32.store (i32.const 3004) (i32.const 200000))
        (drop (call $w (i32.const 1) (i32.const 3000) (i32.const 1) (i32.const 3008)))
        (if (result i32) (i32.eq (call $w (i32.const 1) (i32.const 3000) (i32.const 100000) (i32.const 3008)) (i32.const 28))
          (then (call $guest_response (i32.const 512) (global.get $answer_len)) (i32.const 1))
          (else (i32.const 0)))";
    let bytes = Guest {
        imports,
        validate,
        ..Guest::default()
    }
    .build();
    let policy = load(&policy_support::engine(), &bytes).unwrap();
    assert!(
        run(&policy, &input(vec![], false), None)
            .await
            .unwrap()
            .allowed
    );
}
