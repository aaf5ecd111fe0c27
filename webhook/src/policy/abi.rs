//! The two policy ABIs landed runs, side by side on one engine: `landed:policy` components
//! and Kubewarden's waPC modules. The kind is read from the binary (a component, or a core
//! module exporting `__guest_call`) unless the entry names it with `abi:`.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::engine::PolicyEngine;
use super::host::ResolveAccess;
use super::wapc::{binary_kind, BinaryKind, KubewardenPolicy};
use super::wasm::{LoadError, WasmPolicy};
use super::{InputScope, Policy, PolicyError, PolicyOutput, PreparedInput};

/// A policy's ABI (`abi:` of its `policies:` entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Abi {
    /// A `landed:policy` WebAssembly component.
    Landed,
    /// A Kubewarden policy: a core module speaking waPC.
    KubewardenWapc,
}

impl std::fmt::Display for Abi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Landed => "landed",
            Self::KubewardenWapc => "kubewarden-wapc",
        })
    }
}

/// The ABI `bytes` are built for, from the binary's preamble; `declared` must agree.
pub fn detect(bytes: &[u8], declared: Option<Abi>) -> Result<Abi, LoadError> {
    let found = match binary_kind(bytes) {
        BinaryKind::Component => Abi::Landed,
        BinaryKind::CoreModule => Abi::KubewardenWapc,
        BinaryKind::Other => {
            return Err(LoadError::Contract(
                "not a WebAssembly binary (no `\\0asm` preamble)".into(),
            ))
        }
    };
    match declared {
        Some(declared) if declared != found => Err(LoadError::Contract(format!(
            "the entry says `abi: {declared}` but the file is a {}",
            match found {
                Abi::Landed => "WebAssembly component (abi: landed)",
                Abi::KubewardenWapc => "core WebAssembly module (abi: kubewarden-wapc)",
            }
        ))),
        _ => Ok(found),
    }
}

/// A loaded policy of either ABI.
#[derive(Clone, Debug)]
pub enum PolicyModule {
    /// A `landed:policy` component.
    Landed(WasmPolicy),
    /// A Kubewarden waPC module.
    Kubewarden(KubewardenPolicy),
}

impl PolicyModule {
    /// Compiles `bytes` as the ABI they are built for, without running the guest.
    pub fn compile(
        engine: &PolicyEngine,
        name: &str,
        bytes: &[u8],
        abi: Option<Abi>,
    ) -> Result<Self, LoadError> {
        Ok(match detect(bytes, abi)? {
            Abi::Landed => Self::Landed(WasmPolicy::compile(engine, name, bytes)?),
            Abi::KubewardenWapc => {
                Self::Kubewarden(KubewardenPolicy::compile(engine, name, bytes)?)
            }
        })
    }

    /// Compiles `bytes` and checks them at load as their ABI does (`validate-settings`;
    /// `protocol_version` and `validate_settings`).
    pub fn load(
        engine: &PolicyEngine,
        name: &str,
        bytes: &[u8],
        settings: &serde_json::Value,
        abi: Option<Abi>,
    ) -> Result<Self, LoadError> {
        Ok(match detect(bytes, abi)? {
            Abi::Landed => Self::Landed(WasmPolicy::load(engine, name, bytes, settings)?),
            Abi::KubewardenWapc => {
                Self::Kubewarden(KubewardenPolicy::load(engine, name, bytes, settings)?)
            }
        })
    }

    /// The ABI.
    pub fn abi(&self) -> Abi {
        match self {
            Self::Landed(_) => Abi::Landed,
            Self::Kubewarden(_) => Abi::KubewardenWapc,
        }
    }

    /// Checks `settings` as the policy's load does.
    pub fn check_settings(&self, settings: &serde_json::Value) -> Result<(), LoadError> {
        match self {
            Self::Landed(p) => p.check_settings(settings),
            Self::Kubewarden(p) => p.check_settings(settings),
        }
    }

    /// The same policy looking images up through `access`.
    pub fn with_resolver(self, access: ResolveAccess) -> Self {
        match self {
            Self::Landed(p) => Self::Landed(p.with_resolver(access)),
            Self::Kubewarden(p) => Self::Kubewarden(p.with_resolver(access)),
        }
    }

    /// The same policy handed the review in `scope`. A Kubewarden policy reads the whole
    /// AdmissionRequest: `input: images` is refused for it.
    pub fn with_input_scope(self, scope: InputScope) -> Result<Self, LoadError> {
        match (self, scope) {
            (Self::Landed(p), scope) => Ok(Self::Landed(p.with_input_scope(scope))),
            (Self::Kubewarden(p), InputScope::Full) => Ok(Self::Kubewarden(p)),
            (Self::Kubewarden(p), InputScope::Images) => Err(LoadError::Source {
                policy: p.policy_name().to_owned(),
                reason: "`input: images` is for landed:policy components; a Kubewarden \
                         policy always gets the whole AdmissionRequest"
                    .into(),
            }),
        }
    }

    /// Evaluates on the current thread (blocking), for callers off the runtime.
    pub fn evaluate_blocking(
        &self,
        input: &PreparedInput<'_>,
        settings: &serde_json::Value,
    ) -> Result<PolicyOutput, PolicyError> {
        match self {
            Self::Landed(p) => p.evaluate_blocking(input, settings),
            Self::Kubewarden(p) => p.evaluate_blocking(input, settings),
        }
    }
}

impl Policy for PolicyModule {
    fn name(&self) -> &str {
        match self {
            Self::Landed(p) => p.name(),
            Self::Kubewarden(p) => p.name(),
        }
    }

    fn evaluate<'a>(
        &'a self,
        input: &'a PreparedInput<'_>,
        settings: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<PolicyOutput, PolicyError>> {
        match self {
            Self::Landed(p) => p.evaluate(input, settings),
            Self::Kubewarden(p) => p.evaluate(input, settings),
        }
    }
}
