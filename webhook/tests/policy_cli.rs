//! The author kit through the real binary: `landed policy test` on every built-in's case
//! file, and `run`, `bench`, `inspect`, `new`.
#![allow(clippy::unwrap_used)]

mod policy_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use policy_support::builtin;

fn landed(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_landed"))
        .args(args)
        .output()
        .unwrap()
}

fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn built_in_case_files_pass() {
    for name in [
        "require-landed",
        "pin-digest",
        "allowed-registries",
        "no-latest-tag",
    ] {
        let wasm = builtin(name);
        let cases = policies_dir().join(name).join("cases.yaml");
        let out = landed(&[
            "policy",
            "test",
            wasm.to_str().unwrap(),
            "--cases",
            cases.to_str().unwrap(),
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name}: {}", text(&out));
        let summary = stdout.lines().last().unwrap();
        assert!(summary.ends_with(" passed, 0 failed"), "{summary}");
        assert!(!stdout.contains("FAIL"), "{stdout}");
    }
}

#[test]
fn a_failing_case_prints_fail_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let review = policies_dir().join("testdata/pod-review.json");
    let cases = dir.path().join("cases.yaml");
    std::fs::write(
        &cases,
        format!(
            "cases:\n  - name: wrong on purpose\n    input: {}\n    expect: {{allowed: false}}\n  - name: right\n    input: {}\n    expect: {{allowed: true}}\n",
            review.display(),
            review.display()
        ),
    )
    .unwrap();
    let wasm = builtin("require-landed");
    let out = landed(&[
        "policy",
        "test",
        wasm.to_str().unwrap(),
        "--cases",
        cases.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAIL wrong on purpose: allowed is true, expected false"),
        "{stdout}"
    );
    assert!(stdout.contains("PASS right"));
    assert_eq!(stdout.lines().last(), Some("1 passed, 1 failed"));
}

#[test]
fn run_prints_the_output_json() {
    let wasm = builtin("require-landed");
    let review = policies_dir().join("testdata/pod-review.json");
    let out = landed(&[
        "policy",
        "run",
        wasm.to_str().unwrap(),
        "--request",
        review.to_str().unwrap(),
        "--verdict",
        "nginx=absent",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["allowed"], false);
    assert!(json["message"]
        .as_str()
        .unwrap()
        .contains("image \"nginx\" is absent"));
}

#[test]
fn bench_and_inspect_report() {
    let wasm = builtin("no-latest-tag");
    let out = landed(&[
        "policy",
        "bench",
        wasm.to_str().unwrap(),
        "--duration",
        "200ms",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("calls/s") && stdout.contains("µs/call"),
        "{stdout}"
    );
    let out = landed(&["policy", "inspect", wasm.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout.contains("validate: func(input: string) -> string"),
        "{stdout}"
    );
    assert!(stdout.contains("validate-settings: func(settings: string) -> result<_, string>"));
    assert!(stdout.contains("contract: ok"));
    assert!(stdout.contains("size:"));
}

#[test]
fn new_scaffolds_a_crate_on_the_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let out = landed(&[
        "policy",
        "new",
        "max-images",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let root = dir.path().join("max-images");
    for file in [
        "Cargo.toml",
        "src/lib.rs",
        "cases.yaml",
        "build.sh",
        "README.md",
    ] {
        assert!(root.join(file).is_file(), "{file}");
    }
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("landed-policy-sdk = { path = "),
        "{manifest}"
    );
    assert!(manifest.contains("policies/sdk"), "{manifest}");
    let out = landed(&[
        "policy",
        "new",
        "Bad_Name",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
}
