//! Kubewarden policies in landed's policy host and pipeline, as landed.yaml configures
//! them: detection and `abi:`, `input:` refused, `/readyz` state, failurePolicy, metrics per
//! policy, hot reload, and the request handed verbatim through `Pipeline::review_sent`.
#![allow(clippy::unwrap_used)]

mod policy_support;
mod wapc_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use landed::admission::{decode, Pipeline, Route};
use landed::config::Config;
use landed::policy::PolicyHost;
use landed::resolve::TableResolver;
use landed::verdict::Verdict;
use wapc_support::{Guest, ANSWER};

const DIGEST: &str = "sha256:4f1c0e0c9ef7d7b45e0d8e4a4e2ec13e6d4bf1d09b1f3fbe7e3c1b8f6c5b9a11";
const IMAGE: &str = "registry.example.com/team/app:1.0";

fn body(extra: &str) -> String {
    format!(
        r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"u-1","kind":{{"group":"","version":"v1","kind":"Pod"}},"resource":{{"group":"","version":"v1","resource":"pods"}},"namespace":"shop","name":"web","operation":"CREATE","userInfo":{{"username":"alice"}},"object":{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"web"}},"spec":{{"containers":[{{"name":"app","image":"{IMAGE}"}}]}}}}{extra}}}}}"#
    )
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    let tmp = dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

async fn host_from(dir: &Path, policies: &str) -> (Arc<Config>, PolicyHost) {
    let yaml = format!("policyDir: {}\npolicies:\n{policies}", dir.display());
    let config_path = dir.join("landed.yaml");
    let config = Config::from_yaml(&yaml, &config_path).unwrap();
    let host = PolicyHost::from_config(&config, Some(&config_path), None, None)
        .await
        .unwrap();
    (Arc::new(config), host)
}

fn pipeline(config: &Config, host: &PolicyHost) -> Pipeline {
    let resolver = TableResolver::new().with(IMAGE, Verdict::landed(DIGEST.parse().unwrap()));
    Pipeline::new(
        config.review_settings(None),
        Arc::new(resolver),
        host.store(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubewarden_entries_load_beside_components_with_their_state_on_readyz() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "kw.wasm", &Guest::default().build());
    write(
        dir.path(),
        "component.wasm",
        &policy_support::wat_policy(None, ""),
    );
    let policies = "  - name: kw\n    path: kw.wasm\n  - name: kw-declared\n    path: kw.wasm\n    abi: kubewarden-wapc\n  - name: kw-images\n    path: kw.wasm\n    input: images\n  - name: wrong-abi\n    path: component.wasm\n    abi: kubewarden-wapc\n  - name: component\n    path: component.wasm\n";
    let (_, host) = host_from(dir.path(), policies).await;
    let status = host.store().status();
    let by_name = |name: &str| status.iter().find(|s| s.name == name).unwrap().clone();
    assert!(by_name("kw").loaded && by_name("kw-declared").loaded && by_name("component").loaded);
    let images = by_name("kw-images").error.unwrap_or_default();
    assert!(
        !by_name("kw-images").loaded && images.contains("always gets the whole AdmissionRequest"),
        "{images}"
    );
    let wrong = by_name("wrong-abi").error.unwrap_or_default();
    assert!(
        wrong.contains("`abi: kubewarden-wapc` but the file is a WebAssembly component"),
        "{wrong}"
    );
    assert!(
        !host.store().all_loaded(),
        "/readyz stays 503 while one is not loaded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_reaches_the_policy_verbatim_its_failure_follows_failure_policy_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "echo.wasm",
        &Guest {
            validate: wapc_support::ECHO,
            ..Guest::default()
        }
        .build(),
    );
    let policies = "  - name: kw-echo\n    path: echo.wasm\n    failurePolicy: Ignore\n    settings: {team: shop}\n";
    let (config, host) = host_from(dir.path(), policies).await;
    let pipeline = pipeline(&config, &host);
    let sent = body(r#","options":{"apiVersion":"meta.k8s.io/v1","kind":"CreateOptions"}"#);
    let request = decode(sent.as_bytes()).unwrap();
    let response = pipeline
        .review_sent(&request, Some(sent.as_bytes()), Route::Validate)
        .await;
    assert!(response.allowed, "failurePolicy: Ignore allows");
    let warnings = response.warnings.unwrap_or_default().join("\n");
    let request_text = &sent[sent.find(r#"{"uid""#).unwrap()..sent.len() - 1];
    assert!(
        warnings.contains(&format!(
            r#"{{"request":{request_text},"settings":{{"team":"shop"}}}}"#
        )),
        "{warnings}"
    );
    let metrics = landed::metrics::global().encode();
    assert!(
        metrics.contains(r#"landed_policy_failures_total{policy="kw-echo",reason="trap"} 1"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_kubewarden_file_is_reloaded_and_a_broken_one_keeps_the_old_serving() {
    let dir = tempfile::tempdir().unwrap();
    let allow = Guest::default().build();
    write(dir.path(), "kw.wasm", &allow);
    let (config, host) = host_from(dir.path(), "  - name: kw\n    path: kw.wasm\n").await;
    let pipeline = pipeline(&config, &host);
    let sent = body("");
    let request = decode(sent.as_bytes()).unwrap();
    assert!(pipeline.review(&request, Route::Validate).await.allowed);

    let deny = Guest {
        answer: r#"{"accepted":false,"message":"v2 says no"}"#,
        validate: ANSWER,
        ..Guest::default()
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    write(dir.path(), "kw.wasm", &deny.build());
    assert_eq!(host.poll().await, 1);
    let response = pipeline.review(&request, Route::Validate).await;
    assert!(
        !response.allowed && response.result.message.contains("v2 says no"),
        "{}",
        response.result.message
    );

    // A new version whose settings check fails: the old one keeps serving, the error is shown.
    let refusing = Guest {
        settings: r#"{"valid":false,"message":"bad settings"}"#,
        ..Guest::default()
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    write(dir.path(), "kw.wasm", &refusing.build());
    assert_eq!(host.poll().await, 0);
    let status = host.store().status();
    let error = status[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("previous version still serving") && error.contains("bad settings"),
        "{error}"
    );
    assert!(!pipeline.review(&request, Route::Validate).await.allowed);
}
