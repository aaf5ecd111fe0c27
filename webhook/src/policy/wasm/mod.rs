//! A policy compiled from a WebAssembly component: `InstancePre` made once, a fresh store
//! and instance per call (see `call`), under the engine's limits.

mod call;

use std::sync::Arc;

use wasmtime::component::{ComponentExportIndex, InstancePre, TypedFunc, WasmStr};

use super::engine::{EngineError, PolicyEngine};
use super::host::{self, HostState, ResolveAccess, ReviewLookups};
use super::reuse::Answers;
use super::InputScope;

/// Why a component cannot serve as a policy.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The policy file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a component wasmtime accepts.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The component lacks an export of the contract.
    #[error("missing export `{export}` (the world landed:policy/policy requires `{signature}`)")]
    MissingExport {
        /// The export's name.
        export: &'static str,
        /// Its WIT signature.
        signature: &'static str,
    },
    /// An export or import does not match the contract.
    #[error("does not match the landed:policy contract: {0}")]
    Contract(String),
    /// `validate-settings` refused the settings.
    #[error("settings refused by the policy: {0}")]
    Settings(String),
    /// The entry's source is refused as configured (e.g. an unpinned `oci:` reference).
    #[error("policy {policy:?}: {reason}")]
    Source {
        /// The policy's name.
        policy: String,
        /// Why.
        reason: String,
    },
    /// The policy could not be fetched from its source.
    #[error("cannot fetch {source_ref}: {reason}")]
    Fetch {
        /// Where it was to come from.
        source_ref: String,
        /// Why not.
        reason: String,
    },
}

const VALIDATE_SIG: &str = "validate: func(input: string) -> string";
const SETTINGS_SIG: &str = "validate-settings: func(settings: string) -> result<_, string>";

// The input is lowered straight from the borrowed JSON: no copy per call. The output is
// lifted as a view into the guest's memory, so its size is checked before anything is copied.
type ValidateFn<'a> = TypedFunc<(&'a str,), (WasmStr,)>;
type SettingsFn = TypedFunc<(String,), (Result<(), String>,)>;

struct Compiled {
    name: String,
    engine: PolicyEngine,
    pre: InstancePre<HostState>,
    validate: ComponentExportIndex,
    validate_settings: Option<ComponentExportIndex>,
    resolve: Option<ResolveAccess>,
    /// The component imports nothing: its answer depends on its input alone.
    imports_nothing: bool,
    scope: InputScope,
    /// Answers kept for identical input (an import-free policy reading `images` only).
    answers: Option<Answers>,
}

/// A WebAssembly policy, ready to evaluate. Cheap to share; each call is isolated.
#[derive(Clone)]
pub struct WasmPolicy {
    inner: Arc<Compiled>,
}

impl std::fmt::Debug for WasmPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmPolicy")
            .field("name", &self.inner.name)
            .finish()
    }
}

impl WasmPolicy {
    /// Compiles `bytes`, checks the contract, and runs `validate-settings` on `settings`.
    pub fn load(
        engine: &PolicyEngine,
        name: &str,
        bytes: &[u8],
        settings: &serde_json::Value,
    ) -> Result<Self, LoadError> {
        let policy = Self::compile(engine, name, bytes)?;
        policy.check_settings(settings)?;
        Ok(policy)
    }

    /// Compiles `bytes` and links it, without checking export types or settings (see
    /// [`WasmPolicy::check_settings`]); for tools that try several settings.
    pub fn compile(engine: &PolicyEngine, name: &str, bytes: &[u8]) -> Result<Self, LoadError> {
        let component = engine.compile(bytes)?;
        let linker = host::linker(engine.wasmtime(), &component)
            .map_err(|e| LoadError::Contract(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Contract(format!("imports: {e:#}")))?;
        let validate =
            component
                .get_export_index(None, "validate")
                .ok_or(LoadError::MissingExport {
                    export: "validate",
                    signature: VALIDATE_SIG,
                })?;
        let validate_settings = component.get_export_index(None, "validate-settings");
        let ty = component.component_type();
        let imports: Vec<&str> = ty
            .imports(engine.wasmtime())
            .map(|(name, _)| name)
            .collect();
        let imports_nothing = super::reuse::reuse_blocker(&imports).is_none();
        Ok(Self {
            inner: Arc::new(Compiled {
                name: name.to_owned(),
                engine: engine.clone(),
                pre,
                validate,
                validate_settings,
                resolve: None,
                imports_nothing,
                scope: InputScope::Full,
                answers: None,
            }),
        })
    }

    /// Reads a component file and loads it (see [`WasmPolicy::load`]).
    pub fn load_file(
        engine: &PolicyEngine,
        name: &str,
        path: &std::path::Path,
        settings: &serde_json::Value,
    ) -> Result<Self, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::load(engine, name, &bytes, settings)
    }

    /// The same policy answering `resolve-image` through `access`.
    pub fn with_resolver(self, access: ResolveAccess) -> Self {
        self.rebuilt(Some(access), self.inner.scope)
    }

    /// The same policy handed the review in `scope`; with [`InputScope::Images`] and no
    /// imports its answers are reused for identical input (see `policy::reuse`).
    pub fn with_input_scope(self, scope: InputScope) -> Self {
        self.rebuilt(self.inner.resolve.clone(), scope)
    }

    /// Whether answers are reused for identical input.
    pub fn reuses_answers(&self) -> bool {
        self.inner.answers.is_some()
    }

    fn rebuilt(&self, resolve: Option<ResolveAccess>, scope: InputScope) -> Self {
        let c = &self.inner;
        let reuse = scope == InputScope::Images && c.imports_nothing;
        Self {
            inner: Arc::new(Compiled {
                name: c.name.clone(),
                engine: c.engine.clone(),
                pre: c.pre.clone(),
                validate: c.validate,
                validate_settings: c.validate_settings,
                resolve,
                imports_nothing: c.imports_nothing,
                scope,
                answers: reuse.then(Answers::new),
            }),
        }
    }

    /// The policy's name.
    pub fn policy_name(&self) -> &str {
        &self.inner.name
    }

    /// Checks the exports' types and runs `validate-settings` on `settings` (components
    /// without `validate-settings` accept any settings).
    pub fn check_settings(&self, settings: &serde_json::Value) -> Result<(), LoadError> {
        let mut store = self.store(ReviewLookups::default(), false);
        let instance = self.inner.pre.instantiate(&mut store).map_err(|e| {
            LoadError::Contract(format!(
                "cannot instantiate: {}",
                self.failure(e, Some(store.data()))
            ))
        })?;
        let signature = |sig: &str, e: wasmtime::Error| {
            LoadError::Contract(format!("export must be `{sig}`: {e:#}"))
        };
        let _: ValidateFn<'_> = instance
            .get_typed_func(&mut store, self.inner.validate)
            .map_err(|e| signature(VALIDATE_SIG, e))?;
        let Some(index) = self.inner.validate_settings else {
            return Ok(());
        };
        let func: SettingsFn = instance
            .get_typed_func(&mut store, index)
            .map_err(|e| signature(SETTINGS_SIG, e))?;
        match func.call(&mut store, (settings.to_string(),)) {
            Ok((Ok(()),)) => Ok(()),
            Ok((Err(message),)) => Err(LoadError::Settings(message)),
            Err(e) => Err(LoadError::Contract(format!(
                "validate-settings failed: {}",
                self.failure(e, Some(store.data()))
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_exports_checked_are_the_ones_the_wit_declares() {
        // The exports are looked up by hand (see `ValidateFn`): their types come from here.
        let wit = include_str!("../../../../policies/wit/landed.wit");
        for signature in [super::VALIDATE_SIG, super::SETTINGS_SIG] {
            assert!(wit.contains(&format!("export {signature};")), "{signature}");
        }
    }
}
