//! `landed policy inspect` of a Kubewarden waPC module: its ABI, protocol version,
//! metadata, and what of its imports landed offers.

use std::process::ExitCode;

use crate::policy::{
    KubewardenPolicy, LoadError, PolicyEngine, KUBEWARDEN_CAPABILITIES, KUBEWARDEN_PROTOCOL,
    METADATA_SECTION, WASI_OFFERED,
};

/// What a waPC import is given by landed.
fn note(module: &str, name: &str) -> &'static str {
    match module {
        "wapc" => "provided by landed (waPC)",
        "wasi_snapshot_preview1" if WASI_OFFERED.contains(&name) => {
            "provided by landed (see docs/kubewarden.md)"
        }
        "wasi_snapshot_preview1" => "traps if called (no filesystem, sockets or other WASI)",
        _ => "traps if called (not offered by landed)",
    }
}

/// Prints the ABI, imports, exports, protocol version and metadata; exit 1 when the module
/// cannot run in landed.
pub fn kubewarden(engine: &PolicyEngine, bytes: &[u8]) -> anyhow::Result<ExitCode> {
    println!("abi:     kubewarden-wapc (a Kubewarden waPC policy, core module)");
    let module = engine.compile_module(bytes)?;
    println!("exports:");
    for export in module.exports() {
        println!("  {}", export.name());
    }
    println!("imports:");
    for import in module.imports() {
        let (from, name) = (import.module(), import.name());
        println!("  {from}.{name} — {}", note(from, name));
    }
    println!(
        "host capabilities offered: {}",
        KUBEWARDEN_CAPABILITIES.join(", ")
    );
    println!(
        "reuse:   no: a Kubewarden policy reads the whole request, so its answers are never reused"
    );
    let policy = match KubewardenPolicy::compile(engine, "inspect", bytes) {
        Ok(policy) => policy,
        Err(e) => {
            println!("contract: NOT OK: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    match policy.metadata() {
        Some(meta) => println!(
            "metadata ({METADATA_SECTION}):\n{}",
            serde_json::to_string_pretty(meta)?
        ),
        None => println!("metadata: none (no {METADATA_SECTION} section)"),
    }
    let version = match policy.protocol_version() {
        Ok(version) => version,
        Err(e) => {
            println!("contract: NOT OK: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    println!("protocol version: {version}");
    if version != KUBEWARDEN_PROTOCOL {
        println!("contract: NOT OK: landed runs protocol {KUBEWARDEN_PROTOCOL} policies");
        return Ok(ExitCode::from(1));
    }
    match policy.check_settings(&serde_json::Value::Null) {
        Ok(()) => println!("contract: ok (Kubewarden waPC, protocol {version})"),
        Err(LoadError::Settings(m)) => {
            println!(
                "contract: ok (Kubewarden waPC, protocol {version}); empty settings refused: {m}"
            )
        }
        Err(e) => {
            println!("contract: NOT OK: {e}");
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}
