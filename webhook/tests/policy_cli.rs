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
    assert!(stdout.contains("reuse:   qualifies"), "{stdout}");

    // A policy that imports resolve-image may answer differently to the same input.
    let dir = tempfile::tempdir().unwrap();
    let resolving = dir.path().join("resolving.wasm");
    std::fs::write(&resolving, policy_support::resolving_policy()).unwrap();
    let out = landed(&["policy", "inspect", resolving.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout.contains("reuse:   no: it imports landed:policy/host@0.1.0"),
        "{stdout}"
    );
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
    // By default the released SDK, whatever checkout (if any) the binary came from.
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let release = format!("landed-policy-sdk = \"{}\"", sdk_version());
    assert!(manifest.contains(&release), "{manifest}");
    assert!(!manifest.contains("path ="), "{manifest}");

    // --sdk-path: a local checkout instead.
    let sdk = policies_dir().join("sdk");
    let out = landed(&[
        "policy",
        "new",
        "local-sdk",
        "--dir",
        dir.path().to_str().unwrap(),
        "--sdk-path",
        sdk.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let manifest = std::fs::read_to_string(dir.path().join("local-sdk/Cargo.toml")).unwrap();
    let local = format!(
        "landed-policy-sdk = {{ path = {:?} }}",
        sdk.canonicalize().unwrap().display().to_string()
    );
    assert!(manifest.contains(&local), "{manifest}");

    let out = landed(&[
        "policy",
        "new",
        "nowhere",
        "--dir",
        dir.path().to_str().unwrap(),
        "--sdk-path",
        dir.path().join("no-such-sdk").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--sdk-path"), "{}", text(&out));
    let out = landed(&[
        "policy",
        "new",
        "Bad_Name",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
}

/// The SDK's version: `[workspace.package]` of policies/Cargo.toml, which it inherits.
fn sdk_version() -> String {
    let manifest = std::fs::read_to_string(policies_dir().join("Cargo.toml")).unwrap();
    let package = manifest.split("[workspace.package]").nth(1).unwrap();
    let line = package
        .lines()
        .find(|l| l.starts_with("version = "))
        .unwrap();
    line.trim_start_matches("version = ")
        .trim_matches('"')
        .to_owned()
}

/// The one WebAssembly build of the suite (it needs the toolchain `policies/build.sh` uses;
/// it shares `policies/target`, so the `std` built for the built-ins is reused).
#[test]
fn a_scaffolded_policy_builds_lean_with_no_wasi_imports() {
    let dir = tempfile::tempdir().unwrap();
    let sdk = policies_dir().join("sdk");
    let out = landed(&[
        "policy",
        "new",
        "lean-rule",
        "--dir",
        dir.path().to_str().unwrap(),
        "--sdk-path",
        sdk.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let root = dir.path().join("lean-rule");
    let build = Command::new("bash")
        .arg(root.join("build.sh"))
        .env("CARGO_TARGET_DIR", policies_dir().join("target"))
        .output()
        .unwrap();
    assert!(build.status.success(), "build.sh failed:\n{}", text(&build));
    let wasm = root.join("target/lean_rule.wasm");
    let log = String::from_utf8_lossy(&build.stderr);
    assert!(
        log.contains("wasm32-unknown-unknown"),
        "not the lean route:\n{log}"
    );

    let out = landed(&["policy", "inspect", wasm.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    let imports = stdout
        .split("imports:\n")
        .nth(1)
        .and_then(|rest| rest.split("reuse:").next())
        .unwrap();
    assert_eq!(imports, "", "the scaffold's component imports:\n{stdout}");
    assert!(!stdout.contains("wasi:"), "{stdout}");
    assert!(stdout.contains("reuse:   qualifies"), "{stdout}");
    assert!(stdout.contains("contract: ok"), "{stdout}");

    let cases = root.join("cases.yaml");
    let out = landed(&[
        "policy",
        "test",
        wasm.to_str().unwrap(),
        "--cases",
        cases.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("3 passed, 0 failed"), "{}", text(&out));
}
