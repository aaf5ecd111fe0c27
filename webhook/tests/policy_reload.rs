//! Loading from config and hot reload: a replaced policy file takes over while evaluations
//! run, a broken one leaves the old version serving, and a missing policy is reported
//! without stopping the others.
#![allow(clippy::unwrap_used)]

mod policy_support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use landed::admission::{decode, Pipeline, Route};
use landed::config::Config;
use landed::policy::{
    FetchPolicy, FetchedPolicy, PolicyConfig, PolicyHost, PolicyLoader, PolicyStore,
    OCI_RETRY_INTERVAL,
};
use landed::resolve::TableResolver;
use landed::verdict::{Verdict, VerdictClass};
use policy_support::{engine, evaluate, image, input, wat_policy_saying};

const DIGEST: &str = "sha256:4f1c0e0c9ef7d7b45e0d8e4a4e2ec13e6d4bf1d09b1f3fbe7e3c1b8f6c5b9a11";
/// A pin for `oci:` sources in these tests (the fetchers here do not check it).
const PIN: &str = "sha256:9b2a0d3a3b0f1c4e5d6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a";

/// An AdmissionReview creating a Pod that runs `image`.
fn pod_review(image: &str) -> String {
    serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "6b0c8d2e-1f0a-4e0b-9d4c-2f1e3a4b5c6d",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "shop",
            "name": "web",
            "operation": "CREATE",
            "userInfo": {"username": "alice"},
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "web", "namespace": "shop"},
                "spec": {"containers": [{"name": "app", "image": image}]}
            }
        }
    })
    .to_string()
}

fn write_atomically(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn entry(name: &str, path: &Path) -> PolicyConfig {
    PolicyConfig {
        name: name.into(),
        path: Some(path.to_owned()),
        oci: None,
        allow_unpinned: false,
        settings: serde_json::Value::Null,
        mode: None,
        failure_policy: None,
        runs_on: None,
        input: None,
        abi: None,
    }
}

async fn warnings_of(store: &PolicyStore) -> Vec<String> {
    let set = store.current();
    let review = input(vec![image(0, "a:1", VerdictClass::Landed)], false);
    let mut all = Vec::new();
    for loaded in &set.policies {
        all.extend(evaluate(&*loaded.policy, &review).await.unwrap().warnings);
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_file_under_load_swaps_versions_without_a_failed_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.wasm");
    write_atomically(&file, &wat_policy_saying("v1", None, ""));
    let loader = PolicyLoader::new(engine(), dir.path().to_owned());
    let host = Arc::new(PolicyHost::load(loader, vec![entry("p", &file)]).await);
    let store = host.store();
    assert_eq!(warnings_of(&store).await, vec!["v1"]);
    let watch = host.spawn_watch(Duration::from_millis(50));

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed, seen_v2) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (store, stop, ok, failed, seen_v2) = (
            store.clone(),
            stop.clone(),
            ok.clone(),
            failed.clone(),
            seen_v2.clone(),
        );
        workers.push(tokio::spawn(async move {
            let review = input(vec![image(0, "a:1", VerdictClass::Landed)], false);
            while !stop.load(Ordering::Relaxed) {
                let set = store.current();
                for loaded in &set.policies {
                    match evaluate(&*loaded.policy, &review).await {
                        Ok(out) if out.allowed => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            if out.warnings == ["v2"] {
                                seen_v2.store(true, Ordering::Relaxed);
                            }
                        }
                        _ => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    write_atomically(&file, &wat_policy_saying("v2", None, ""));
    for _ in 0..200 {
        if seen_v2.load(Ordering::Relaxed) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    watch.abort();
    assert!(seen_v2.load(Ordering::Relaxed), "v2 never took over");
    assert_eq!(failed.load(Ordering::Relaxed), 0);
    assert!(ok.load(Ordering::Relaxed) > 10);
    assert_eq!(warnings_of(&store).await, vec!["v2"]);
    let status = store.status();
    assert!(status[0].loaded && status[0].error.is_none(), "{status:?}");
}

#[tokio::test]
async fn a_broken_reload_keeps_the_old_version_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.wasm");
    write_atomically(&file, &wat_policy_saying("v1", None, ""));
    let loader = PolicyLoader::new(engine(), dir.path().to_owned());
    let host = PolicyHost::load(loader, vec![entry("p", &file)]).await;
    let store = host.store();
    write_atomically(&file, b"\0asm garbage");
    host.poll().await;
    assert_eq!(
        warnings_of(&store).await,
        vec!["v1"],
        "old version keeps serving"
    );
    let status = store.status();
    assert!(status[0].loaded);
    let error = status[0].error.clone().unwrap();
    assert!(error.contains("previous version still serving"), "{error}");
    assert!(store.all_loaded());
    // Fixing the file clears the error.
    write_atomically(&file, &wat_policy_saying("v3", None, ""));
    assert_eq!(host.poll().await, 1);
    assert_eq!(warnings_of(&store).await, vec!["v3"]);
    assert!(store.status()[0].error.is_none());
}

/// The config `policyDir: dir` with `policies` (YAML list items), and its policies loaded.
async fn host_from(dir: &Path, policies: &str) -> (Arc<Config>, PolicyHost) {
    let yaml = format!("policyDir: {}\npolicies:\n{policies}", dir.display());
    let config_path = dir.join("landed.yaml");
    let config = Config::from_yaml(&yaml, &config_path).unwrap();
    let host = PolicyHost::from_config(&config, Some(&config_path), None, None)
        .await
        .unwrap();
    (Arc::new(config), host)
}

/// Each serving policy's name and warnings, or the error it answers with.
async fn answers_of(store: &PolicyStore) -> Vec<(String, Result<Vec<String>, String>)> {
    let set = store.current();
    let review = input(vec![image(0, "a:1", VerdictClass::Landed)], false);
    let mut all = Vec::new();
    for loaded in &set.policies {
        let answer = evaluate(&*loaded.policy, &review).await;
        let answer = answer.map(|o| o.warnings).map_err(|e| e.to_string());
        all.push((loaded.policy.name().to_owned(), answer));
    }
    all
}

#[tokio::test]
async fn a_policy_that_fails_to_load_is_reported_and_the_others_serve() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.wasm");
    write_atomically(&good, &wat_policy_saying("good", None, ""));
    let policies = format!("  - name: good\n    path: good.wasm\n  - name: missing\n    path: nope.wasm\n  - name: require-landed\n  - name: mystery\n  - name: remote\n    oci: registry.example/policies/x:1@{PIN}\n  - name: unpinned\n    oci: registry.example/policies/x:1\n");
    let (_, host) = host_from(dir.path(), &policies).await;
    let store = host.store();
    let answers = answers_of(&store).await;
    assert_eq!(answers[0], ("good".to_owned(), Ok(vec!["good".to_owned()])));
    // The others answer with their load error, so their failurePolicy decides reviews.
    let names: Vec<&str> = answers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "good",
            "missing",
            "require-landed",
            "mystery",
            "remote",
            "unpinned"
        ]
    );
    for (name, answer) in &answers[1..] {
        let err = answer.clone().unwrap_err();
        assert!(
            err.starts_with(&format!("policy {name} is not loaded: ")),
            "{err}"
        );
    }
    let status = store.status();
    let by_name = |n: &str| status.iter().find(|s| s.name == n).unwrap().clone();
    assert!(by_name("good").loaded);
    assert!(!store.all_loaded());
    let missing = by_name("missing");
    assert!(!missing.loaded && missing.error.unwrap().contains("nope.wasm"));
    let builtin = by_name("require-landed").error.unwrap();
    assert!(builtin.contains("policies/build.sh"), "{builtin}");
    assert!(by_name("mystery").error.unwrap().contains("not a built-in"));
    assert!(by_name("remote").error.unwrap().contains("OCI"));
    let unpinned = by_name("unpinned").error.unwrap();
    assert!(
        unpinned.contains("is not pinned by digest") && unpinned.contains("allowUnpinned: true"),
        "{unpinned}"
    );
    let json = serde_json::to_value(&*status).unwrap();
    assert_eq!(json[0]["name"], "good");
    assert!(json[0]["digest"].as_str().unwrap().starts_with("sha256:"));
}

#[tokio::test]
async fn a_review_meeting_a_policy_that_never_loaded_follows_its_failure_policy() {
    let dir = tempfile::tempdir().unwrap();
    let policies = "  - name: gate\n    path: gate.wasm\n  - name: advisory\n    path: advisory.wasm\n    failurePolicy: Ignore\n";
    let (config, host) = host_from(dir.path(), policies).await;
    let image = "registry.example.com/team/app:1.0";
    let resolver =
        TableResolver::new().with(image, Verdict::landed(DIGEST.parse().expect("digest")));
    let pipeline = Pipeline::new(
        config.review_settings(None),
        Arc::new(resolver),
        host.store(),
    );
    let body = pod_review(image);
    let request = decode(body.as_bytes()).unwrap();
    let response = pipeline.review(&request, Route::Validate).await;
    assert!(
        !response.allowed,
        "a required rule that is not running denies"
    );
    let message = &response.result.message;
    assert!(message.contains("policy gate is not loaded"), "{message}");
    assert!(message.contains("gate.wasm"), "{message}");
    assert!(message.contains("failurePolicy: Fail"), "{message}");
    let warnings = response.warnings.unwrap_or_default().join("\n");
    assert!(
        warnings.contains("policy advisory is not loaded"),
        "{warnings}"
    );
    assert!(warnings.contains("failurePolicy: Ignore"), "{warnings}");
    let metrics = landed::metrics::global().encode();
    assert!(
        metrics.contains(r#"landed_policy_failures_total{policy="gate",reason="not_loaded"} 1"#),
        "{metrics}"
    );

    // Once the file is there, the next poll loads it and reviews pass.
    write_atomically(
        &dir.path().join("gate.wasm"),
        &wat_policy_saying("gate up", None, ""),
    );
    assert_eq!(host.poll().await, 1);
    let response = pipeline.review(&request, Route::Validate).await;
    assert!(response.allowed, "{}", response.result.message);
}

/// Fails until `ready` is set, then serves `bytes`.
struct Flaky {
    ready: AtomicBool,
    fetches: AtomicUsize,
    bytes: Vec<u8>,
}

impl FetchPolicy for Flaky {
    fn fetch<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<FetchedPolicy, String>> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let answer = if self.ready.load(Ordering::SeqCst) {
            Ok(FetchedPolicy {
                bytes: self.bytes.clone(),
                manifest_digest: Some(PIN.into()),
            })
        } else {
            Err("registry unavailable (503)".to_owned())
        };
        Box::pin(std::future::ready(answer))
    }
}

#[tokio::test(start_paused = true)]
async fn an_oci_policy_that_failed_at_start_is_fetched_again_until_it_loads() {
    let flaky = Arc::new(Flaky {
        ready: AtomicBool::new(false),
        fetches: AtomicUsize::new(0),
        bytes: wat_policy_saying("remote", None, ""),
    });
    let dir = tempfile::tempdir().unwrap();
    let loader = PolicyLoader::new(engine(), dir.path().to_owned()).with_fetcher(flaky.clone());
    let mut remote = entry("remote", Path::new("unused"));
    (remote.path, remote.oci) = (
        None,
        Some(format!("registry.example/policies/remote:1@{PIN}")),
    );
    let host = PolicyHost::load(loader, vec![remote]).await;
    let store = host.store();
    assert!(!store.all_loaded());
    assert_eq!(flaky.fetches.load(Ordering::SeqCst), 1);

    // Polls before the retry interval do not hammer the registry.
    host.poll().await;
    assert_eq!(flaky.fetches.load(Ordering::SeqCst), 1);
    tokio::time::advance(OCI_RETRY_INTERVAL).await;
    host.poll().await;
    assert_eq!(
        flaky.fetches.load(Ordering::SeqCst),
        2,
        "retried after the interval"
    );
    assert!(store.status()[0].error.clone().unwrap().contains("503"));

    flaky.ready.store(true, Ordering::SeqCst);
    tokio::time::advance(OCI_RETRY_INTERVAL).await;
    assert_eq!(host.poll().await, 1);
    assert!(store.all_loaded());
    assert_eq!(warnings_of(&store).await, vec!["remote"]);
    // A loaded tag is not fetched again.
    tokio::time::advance(OCI_RETRY_INTERVAL * 4).await;
    host.poll().await;
    assert_eq!(flaky.fetches.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn default_config_loads_the_built_ins_from_the_dev_checkout() {
    policy_support::builtin("require-landed");
    let host = PolicyHost::from_config(&Config::default(), None, None, None)
        .await
        .unwrap();
    let status = host.store().status();
    let names: Vec<&str> = status.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["require-landed", "pin-digest"]);
    assert!(host.store().all_loaded(), "{status:?}");
}
