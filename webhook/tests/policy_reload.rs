//! Loading from config and hot reload: a replaced policy file takes over while evaluations
//! run, a broken one leaves the old version serving, and a missing policy is reported
//! without stopping the others.
#![allow(clippy::unwrap_used)]

mod policy_support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use landed::config::Config;
use landed::policy::{PolicyConfig, PolicyHost, PolicyLoader, PolicyStore};
use landed::verdict::VerdictClass;
use policy_support::{engine, image, input, wat_policy_saying};

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
        settings: serde_json::Value::Null,
        mode: None,
        failure_policy: None,
        runs_on: None,
    }
}

async fn warnings_of(store: &PolicyStore) -> Vec<String> {
    let set = store.current();
    let review = input(vec![image(0, "a:1", VerdictClass::Landed)], false);
    let mut all = Vec::new();
    for loaded in &set.policies {
        all.extend(loaded.policy.evaluate(&review).await.unwrap().warnings);
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
                    match loaded.policy.evaluate(&review).await {
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

#[tokio::test]
async fn a_policy_that_fails_to_load_is_reported_and_the_others_serve() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.wasm");
    write_atomically(&good, &wat_policy_saying("good", None, ""));
    let yaml = format!(
        "policyDir: {dir}\npolicies:\n  - name: good\n    path: good.wasm\n  - name: missing\n    path: nope.wasm\n  - name: require-landed\n  - name: mystery\n  - name: remote\n    oci: registry.example/policies/x:1\n",
        dir = dir.path().display()
    );
    let config_path = dir.path().join("landed.yaml");
    let config = Config::from_yaml(&yaml, &config_path).unwrap();
    let host = PolicyHost::from_config(&config, Some(&config_path), None, None)
        .await
        .unwrap();
    let store = host.store();
    assert_eq!(warnings_of(&store).await, vec!["good"]);
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
    let json = serde_json::to_value(&*status).unwrap();
    assert_eq!(json[0]["name"], "good");
    assert!(json[0]["digest"].as_str().unwrap().starts_with("sha256:"));
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
