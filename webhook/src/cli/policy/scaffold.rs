//! `landed policy new NAME`: a Rust policy crate on the SDK, with a unit test, a case file
//! and a build script.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The SDK release a new crate depends on: the version of `policies/sdk` in this checkout
/// (a unit test keeps them equal).
pub const SDK_VERSION: &str = "0.1.0";

/// Where the SDK comes from in the new crate's Cargo.toml: the released crate, or the
/// checkout at `sdk_path` (`--sdk-path`).
fn sdk_dependency(sdk_path: Option<&Path>) -> anyhow::Result<String> {
    let Some(path) = sdk_path else {
        return Ok(format!("landed-policy-sdk = \"{SDK_VERSION}\""));
    };
    let dir = path
        .canonicalize()
        .with_context(|| format!("--sdk-path {}", path.display()))?;
    anyhow::ensure!(
        dir.join("Cargo.toml").is_file(),
        "--sdk-path {}: no Cargo.toml there (give the SDK crate's directory, policies/sdk)",
        path.display()
    );
    Ok(format!(
        "landed-policy-sdk = {{ path = {:?} }}",
        dir.display().to_string()
    ))
}

fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

/// Writes the crate into `dir/NAME` on the released SDK, or the one at `sdk_path`; returns
/// its path.
pub fn create(name: &str, dir: &Path, sdk_path: Option<&Path>) -> anyhow::Result<PathBuf> {
    anyhow::ensure!(
        valid_name(name),
        "policy name {name:?} must be lowercase letters, digits and dashes, starting with a letter"
    );
    let root = dir.join(name);
    anyhow::ensure!(!root.exists(), "{} already exists", root.display());
    let sdk = sdk_dependency(sdk_path)?;
    std::fs::create_dir_all(root.join("src"))
        .with_context(|| format!("cannot create {}", root.display()))?;
    let crate_name = name.replace('-', "_");
    let files = [
        ("Cargo.toml", cargo_toml(name, &sdk)),
        ("src/lib.rs", LIB_RS.to_owned()),
        ("cases.yaml", CASES_YAML.replace("{crate}", &crate_name)),
        ("build.sh", BUILD_SH.replace("{crate}", &crate_name)),
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

const CASES_YAML: &str = r#"# Run with: landed policy test target/{crate}.wasm --cases cases.yaml
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

/// The lean build (the built-ins' recipe, `policies/build.sh`): a component that imports
/// nothing, copied to `target/{crate}.wasm`.
const BUILD_SH: &str = include_str!("scaffold_build.sh");

const README: &str = r#"# {name}

A [landed](https://github.com/landed-dev/landed) admission policy on
[landed-policy-sdk](https://docs.rs/landed-policy-sdk).

    cargo test                                   # the policy logic, natively
    ./build.sh                                   # → target/{crate}.wasm
    landed policy inspect target/{crate}.wasm    # imports nothing: answers can be reused
    landed policy test target/{crate}.wasm --cases cases.yaml
    landed policy run target/{crate}.wasm --request review.json
    landed policy bench target/{crate}.wasm

`build.sh` builds the way landed builds its own policies: for `wasm32-unknown-unknown`,
linked into a component by rustc's `wasm-component-ld` without a WASI adapter, so the
component imports nothing (landed reuses the answers of such a policy for identical input when
its entry reads `input: images`). It takes Debian's `rustc-web` toolchain when installed, else
rustup's (`rustup target add wasm32-unknown-unknown`), else `wasm32-wasip2` (WASI imports,
which trap in landed and rule out reused answers).

Publish it and use it from landed.yaml:

    landed policy push target/{crate}.wasm registry.example/policies/{name}:0.1.0
    # prints the line to paste, pinned by digest:
    policies:
      - name: {name}
        oci: registry.example/policies/{name}:0.1.0@sha256:…
        settings: {maxImages: 5}

or from a file: `path: /etc/landed/policies/{crate}.wasm`.
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// The `[workspace.package]` version of policies/Cargo.toml (the SDK inherits it).
    fn policies_workspace_version() -> String {
        let manifest = include_str!("../../../../policies/Cargo.toml");
        let package = manifest
            .split("[workspace.package]")
            .nth(1)
            .expect("[workspace.package]");
        package
            .lines()
            .find_map(|l| l.strip_prefix("version = "))
            .expect("version")
            .trim_matches('"')
            .to_owned()
    }

    #[test]
    fn the_scaffold_depends_on_the_sdk_version_of_this_checkout() {
        assert_eq!(SDK_VERSION, policies_workspace_version());
        let sdk = include_str!("../../../../policies/sdk/Cargo.toml");
        assert!(sdk.contains("version.workspace = true"), "{sdk}");
    }

    /// The function body of `name()` in a shell script.
    fn shell_function<'a>(script: &'a str, name: &str) -> &'a str {
        let start = script
            .find(&format!("\n{name}() {{"))
            .unwrap_or_else(|| panic!("{name}() not found"));
        let body = &script[start..];
        &body[..body.find("\n}\n").expect("function end")]
    }

    #[test]
    fn the_scaffold_builds_with_the_built_ins_flags() {
        let built_ins = include_str!("../../../../policies/build.sh");
        for function in ["lean_flags", "component_linker", "debian_ready"] {
            assert_eq!(
                shell_function(BUILD_SH, function),
                shell_function(built_ins, function),
                "{function}() differs between the scaffold's build.sh and policies/build.sh"
            );
        }
    }
}
