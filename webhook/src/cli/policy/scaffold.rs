//! `landed policy new NAME`: a Rust policy crate on the SDK, with a unit test, a case file
//! and a build script.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Where the SDK comes from in the new crate's Cargo.toml.
fn sdk_dependency(sdk: Option<&Path>) -> String {
    let found = sdk.map(Path::to_path_buf).or_else(|| {
        let mut starts: Vec<PathBuf> = Vec::new();
        starts.extend(std::env::current_dir().ok());
        starts.extend(std::env::current_exe().ok());
        starts.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        starts
            .iter()
            .flat_map(|s| s.ancestors())
            .map(|a| a.join("policies/sdk"))
            .find(|d| d.join("Cargo.toml").is_file())
    });
    match found.and_then(|p| p.canonicalize().ok()) {
        Some(path) => format!(
            "landed-policy-sdk = {{ path = {:?} }}",
            path.display().to_string()
        ),
        None => {
            "# The SDK lives in the landed repository under policies/sdk: point `path` at it.\n\
                 landed-policy-sdk = { git = \"https://github.com/landed-dev/landed\" }"
                .to_owned()
        }
    }
}

fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

/// Writes the crate into `dir/NAME`; returns its path.
pub fn create(name: &str, dir: &Path, sdk: Option<&Path>) -> anyhow::Result<PathBuf> {
    anyhow::ensure!(
        valid_name(name),
        "policy name {name:?} must be lowercase letters, digits and dashes, starting with a letter"
    );
    let root = dir.join(name);
    anyhow::ensure!(!root.exists(), "{} already exists", root.display());
    std::fs::create_dir_all(root.join("src"))
        .with_context(|| format!("cannot create {}", root.display()))?;
    let crate_name = name.replace('-', "_");
    let files = [
        ("Cargo.toml", cargo_toml(name, &sdk_dependency(sdk))),
        ("src/lib.rs", LIB_RS.to_owned()),
        ("cases.yaml", CASES_YAML.replace("{crate}", &crate_name)),
        ("build.sh", BUILD_SH.to_owned()),
        (".gitignore", "/target\n*.wasm\n".to_owned()),
        (
            "README.md",
            README
                .replace("{name}", name)
                .replace("{crate}", &crate_name),
        ),
    ];
    for (file, text) in files {
        let path = root.join(file);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    set_executable(&root.join("build.sh"))?;
    Ok(root)
}

#[cfg(unix)]
fn set_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot chmod {}", path.display()))
}

#[cfg(not(unix))]
fn set_executable(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

fn cargo_toml(name: &str, sdk: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
{sdk}
serde = {{ version = "1", features = ["derive"] }}
serde_json = "1"

[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
strip = true

# A crate of its own, not part of an enclosing workspace.
[workspace]
"#
    )
}

const LIB_RS: &str = r#"//! A landed policy: refuses reviews with more images than `settings.maxImages`.

use landed_policy_sdk::{Input, Output, Settings};
use serde::Deserialize;

/// This policy's settings (`settings:` of its entry in landed.yaml).
#[derive(Debug, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct MySettings {
    /// Most images one workload may have.
    pub max_images: usize,
}

impl Default for MySettings {
    fn default() -> Self {
        Self { max_images: 10 }
    }
}

impl Settings for MySettings {
    fn check(&self) -> Result<(), String> {
        if self.max_images == 0 {
            return Err("maxImages must be at least 1".into());
        }
        Ok(())
    }
}

/// Decides one review.
pub fn validate(input: &Input, settings: &MySettings) -> Output {
    if input.images.len() > settings.max_images {
        return Output::deny(format!(
            "{} {:?} has {} images, more than the {} allowed",
            input.request.kind,
            input.request.name,
            input.images.len(),
            settings.max_images
        ));
    }
    Output::allow()
}

landed_policy_sdk::export_policy!(validate, MySettings);

#[cfg(test)]
mod tests {
    use super::*;

    fn input(images: usize) -> Input {
        let images: Vec<_> = (0..images)
            .map(|i| {
                serde_json::json!({"path": format!("spec.containers[{i}].image"), "container": "c",
                    "containerType": "container", "reference": "nginx:1", "verdict": "landed"})
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "request": {"kind": "Pod", "name": "web"}, "images": images, "context": {}
        }))
        .unwrap()
    }

    #[test]
    fn denies_too_many_images() {
        let settings = MySettings { max_images: 1 };
        assert!(validate(&input(1), &settings).allowed);
        let out = validate(&input(2), &settings);
        assert!(!out.allowed);
        assert!(out.message.unwrap().contains("2 images"));
    }
}
"#;

const CASES_YAML: &str = r#"# Run with: landed policy test target/wasm32-wasip2/release/{crate}.wasm --cases cases.yaml
cases:
  - name: one image is allowed
    settings: {maxImages: 1}
    input:
      request: {uid: u1, group: "", kind: Pod, operation: CREATE, namespace: default, name: web,
                userInfo: {username: dev}, dryRun: false, object: {}}
      images:
        - {path: "spec.containers[0].image", container: app, containerType: container,
           reference: "nginx:1", verdict: landed, detail: ok}
      context: {mode: enforce, onUndetermined: allow, mutating: false}
    expect: {allowed: true}
  - name: two images are too many
    settings: {maxImages: 1}
    input:
      request: {uid: u2, group: "", kind: Pod, operation: CREATE, namespace: default, name: web,
                userInfo: {username: dev}, dryRun: false, object: {}}
      images:
        - {path: "spec.containers[0].image", container: a, containerType: container,
           reference: "nginx:1", verdict: landed, detail: ok}
        - {path: "spec.containers[1].image", container: b, containerType: container,
           reference: "redis:7", verdict: landed, detail: ok}
      context: {mode: enforce, onUndetermined: allow, mutating: false}
    expect: {allowed: false, message: "more than the 1 allowed"}
  - name: zero is refused at load
    settings: {maxImages: 0}
    expect: {settingsError: "at least 1"}
"#;

const BUILD_SH: &str = r#"#!/usr/bin/env bash
# Builds target/wasm32-wasip2/release/<crate>.wasm with Debian's rustc-web when present,
# else a rustup toolchain with the wasm32-wasip2 target.
set -euo pipefail
cd "$(dirname "$0")"
if [ -x /usr/bin/rustc ] && [ -d /usr/lib/wasm32-wasi ]; then
    RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc RUSTFLAGS="-L native=/usr/lib/wasm32-wasi" \
        /usr/bin/cargo build --release --target wasm32-wasip2 -Zbuild-std=std,panic_abort "$@"
else
    cargo build --release --target wasm32-wasip2 "$@"
fi
"#;

const README: &str = r#"# {name}

A [landed](https://github.com/landed-dev/landed) admission policy.

    cargo test                                   # the policy logic, natively
    ./build.sh                                   # → target/wasm32-wasip2/release/{crate}.wasm
    landed policy test target/wasm32-wasip2/release/{crate}.wasm --cases cases.yaml
    landed policy run target/wasm32-wasip2/release/{crate}.wasm --request review.json
    landed policy bench target/wasm32-wasip2/release/{crate}.wasm

Use it from landed.yaml:

    policies:
      - name: {name}
        path: /etc/landed/policies/{crate}.wasm
        settings: {maxImages: 5}
"#;
