//! The `landed` binary under test: built once per test process with
//! `cargo build -p landed --bin landed` (same target dir and profile as the tests; cargo's own
//! lock serialises it with other builds), so `cargo test -p landed-e2e` alone is enough.
//! `LANDED_BIN=/path/to/landed` skips the build and tests that binary instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

/// The `landed` binary, built on first use (or `LANDED_BIN`).
pub fn landed_binary() -> Result<PathBuf> {
    static BINARY: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| build_landed().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

fn build_landed() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("LANDED_BIN") {
        return Ok(PathBuf::from(path));
    }
    let cargo = std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(Into::into))
        .unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the tests crate has no parent directory")?;
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "-p", "landed", "--bin", "landed"])
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit());
    // cargo sets per-crate variables for the test process; build scripts that track them
    // (ring tracks CARGO_MANIFEST_DIR) would otherwise rebuild at every switch between this
    // build and the outer `cargo test`.
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if is_per_crate_cargo_var(key) {
            command.env_remove(key);
        }
    }
    // Build with the profile the tests were built with (target/<profile>/deps/<test>).
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .unwrap_or("debug");
    match profile_dir {
        "debug" => {}
        "release" => {
            command.arg("--release");
        }
        other => {
            command.args(["--profile", other]);
        }
    }
    let out = command.output().context("running cargo build for landed")?;
    if !out.status.success() {
        bail!("cargo build -p landed failed ({})", out.status);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout.lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let is_landed_bin = message["reason"] == "compiler-artifact"
            && message["target"]["name"] == "landed"
            && message["target"]["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "bin"));
        if let (true, Some(path)) = (is_landed_bin, message["executable"].as_str()) {
            return Ok(PathBuf::from(path));
        }
    }
    bail!("cargo build did not report the landed executable")
}

/// Variables cargo sets for one crate's processes, not for the user's cargo invocations.
fn is_per_crate_cargo_var(key: &str) -> bool {
    const EXACT: [&str; 8] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "OUT_DIR",
    ];
    EXACT.contains(&key) || key.starts_with("CARGO_PKG_") || key.starts_with("CARGO_BIN_EXE_")
}
