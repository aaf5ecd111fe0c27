//! A policy compiled from a WebAssembly component: `InstancePre` made once, a fresh store
//! and instance per call, under the engine's limits.

use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use wasmtime::component::{ComponentExportIndex, InstancePre, TypedFunc};
use wasmtime::{Store, Trap};

use super::engine::{EngineError, PolicyEngine};
use super::host::{self, HostState, ResolveAccess};
use super::output::parse_output;
use super::prepared::PreparedInput;
use super::reuse::Answers;
use super::{ImageInput, InputScope, Policy, PolicyError, PolicyInput, PolicyOutput};
use crate::resolve::LookupContext;

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

// The input is lowered straight from the borrowed JSON: no copy per call.
type ValidateFn<'a> = TypedFunc<(&'a str,), (String,)>;
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
        let imports_nothing = component.component_type().imports(engine.wasmtime()).len() == 0;
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

    fn store(
        &self,
        lookup: Arc<LookupContext>,
        images: Arc<[ImageInput]>,
        on_worker: bool,
    ) -> Store<HostState> {
        let c = &self.inner;
        let limits = c.engine.limits();
        let mut state = HostState::new(limits, c.resolve.clone(), lookup, images);
        state.set_on_worker(on_worker);
        let mut store = Store::new(c.engine.wasmtime(), state);
        store.limiter(|s| s.limiter());
        store.set_epoch_deadline(limits.deadline_ticks());
        store.epoch_deadline_trap();
        if let Some(fuel) = limits.fuel {
            // Only fails when fuel is disabled in the engine, which `limits.fuel` enables.
            let _ = store.set_fuel(fuel);
        }
        store
    }

    /// Checks the exports' types and runs `validate-settings` on `settings` (components
    /// without `validate-settings` accept any settings).
    pub fn check_settings(&self, settings: &serde_json::Value) -> Result<(), LoadError> {
        let mut store = self.store(Arc::default(), Arc::new([]), false);
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

    /// Evaluates on the current thread (blocking; the async [`Policy::evaluate`] runs this
    /// on tokio's blocking pool).
    pub fn evaluate_blocking(&self, input: &PolicyInput) -> Result<PolicyOutput, PolicyError> {
        self.evaluate_prepared_blocking(&PreparedInput::new(input), &input.settings)
    }

    /// Evaluates an input encoded once for the whole review, with this policy's settings.
    pub fn evaluate_prepared_blocking(
        &self,
        prepared: &PreparedInput<'_>,
        settings: &serde_json::Value,
    ) -> Result<PolicyOutput, PolicyError> {
        let json = self.input_json(prepared, settings)?;
        let (lookup, images) = (prepared.lookup().clone(), prepared.images().clone());
        self.evaluate_shared(&json, lookup, images, false)
    }

    /// The input this policy reads, from the review's shared encoding.
    fn input_json(
        &self,
        prepared: &PreparedInput<'_>,
        settings: &serde_json::Value,
    ) -> Result<String, PolicyError> {
        prepared
            .json_in(self.inner.scope, settings)
            .map_err(|e| self.unencodable(e))
    }

    /// Evaluates an input already encoded as JSON.
    pub fn evaluate_json(
        &self,
        input_json: &str,
        lookup: LookupContext,
        images: Vec<ImageInput>,
    ) -> Result<PolicyOutput, PolicyError> {
        self.evaluate_shared(input_json, Arc::new(lookup), images.into(), false)
    }

    fn evaluate_shared(
        &self,
        input_json: &str,
        lookup: Arc<LookupContext>,
        images: Arc<[ImageInput]>,
        on_worker: bool,
    ) -> Result<PolicyOutput, PolicyError> {
        let started = Instant::now();
        let mut store = self.store(lookup, images, on_worker);
        let instance = self
            .inner
            .pre
            .instantiate(&mut store)
            .map_err(|e| self.failure(e, Some(store.data())))?;
        let func: ValidateFn<'_> = instance
            .get_typed_func(&mut store, self.inner.validate)
            .map_err(|e| self.contract(VALIDATE_SIG, e))?;
        let result = func.call(&mut store, (input_json,));
        let elapsed_us = started.elapsed().as_micros() as u64;
        let (output,) = result.map_err(|e| {
            let error = self.failure(e, Some(store.data()));
            tracing::warn!(policy = %self.inner.name, elapsed_us, %error, "policy failed");
            error
        })?;
        tracing::debug!(policy = %self.inner.name, elapsed_us, bytes = output.len(), "policy answered");
        parse_output(
            &self.inner.name,
            &output,
            self.inner.engine.limits().max_output_bytes,
        )
    }

    fn unencodable(&self, error: serde_json::Error) -> PolicyError {
        PolicyError::Failed {
            policy: self.inner.name.clone(),
            reason: format!("cannot encode the input: {error}"),
        }
    }

    fn contract(&self, signature: &str, error: wasmtime::Error) -> PolicyError {
        PolicyError::InvalidOutput {
            policy: self.inner.name.clone(),
            reason: format!("export must be `{signature}`: {error:#}"),
        }
    }

    fn failure(&self, error: wasmtime::Error, state: Option<&HostState>) -> PolicyError {
        let policy = self.inner.name.clone();
        let limits = self.inner.engine.limits();
        if let Some(asked) = state.and_then(HostState::memory_refused) {
            return PolicyError::Failed {
                policy,
                reason: format!(
                    "exceeded its memory limit of {} MiB (asked for {} bytes)",
                    limits.max_memory_mib, asked
                ),
            };
        }
        let reason = match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => return PolicyError::Timeout { policy },
            Some(Trap::OutOfFuel) => {
                format!("ran out of fuel ({} units)", limits.fuel.unwrap_or(0))
            }
            Some(Trap::StackOverflow) => "overflowed its stack (recursion too deep)".to_owned(),
            Some(trap) => format!("trapped: {trap}"),
            None => format!("{error:#}"),
        };
        PolicyError::Failed { policy, reason }
    }
}

impl Policy for WasmPolicy {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn evaluate<'a>(
        &'a self,
        input: &'a PolicyInput,
    ) -> BoxFuture<'a, Result<PolicyOutput, PolicyError>> {
        Box::pin(async move { self.call(&PreparedInput::new(input), &input.settings).await })
    }

    fn evaluate_prepared<'a>(
        &'a self,
        prepared: &'a PreparedInput<'_>,
        settings: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<PolicyOutput, PolicyError>> {
        Box::pin(self.call(prepared, settings))
    }
}

impl WasmPolicy {
    /// One evaluation, recorded in the policy metrics.
    ///
    /// On a multi-threaded runtime (the server's) the guest runs right here on the worker:
    /// a call takes microseconds, and handing it to the blocking pool cost more in thread
    /// wake-ups than the call itself. The policy deadline bounds how long a runaway guest can
    /// hold the worker; the other workers keep serving. Elsewhere (a current-thread runtime)
    /// it runs on the blocking pool, since `resolve-image` blocks on the runtime.
    ///
    /// A policy that reuses answers is not called (and its input not encoded) for a question
    /// it has answered.
    async fn call(
        &self,
        prepared: &PreparedInput<'_>,
        settings: &serde_json::Value,
    ) -> Result<PolicyOutput, PolicyError> {
        // Answers are kept only for the images scope, which is what a question asks.
        let reuse = self.inner.answers.as_ref();
        let question = reuse.map(|answers| (answers, prepared.question(settings)));
        if let Some(output) = question.as_ref().and_then(|(a, q)| a.get(q)) {
            crate::metrics::global().policy_answer_reused(&self.inner.name);
            tracing::debug!(policy = %self.inner.name, "policy answer reused");
            return Ok(output);
        }
        let json = self.input_json(prepared, settings)?;
        let (lookup, images) = (prepared.lookup().clone(), prepared.images().clone());
        let name = self.inner.name.clone();
        let started = Instant::now();
        let on_worker = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let result = if on_worker {
            let result = self.evaluate_shared(&json, lookup, images, true);
            // Nothing above awaited: count the call against the task's cooperative budget so a
            // task evaluating in a loop still lets the worker's other tasks and timers run.
            tokio::task::consume_budget().await;
            result
        } else {
            let (policy, json) = (self.clone(), json.clone());
            tokio::task::spawn_blocking(move || {
                policy.evaluate_shared(&json, lookup, images, false)
            })
            .await
            .unwrap_or_else(|e| {
                Err(PolicyError::Failed {
                    policy: name.clone(),
                    reason: format!("evaluation thread failed: {e}"),
                })
            })
        };
        let failure = result.as_ref().err().map(PolicyError::failure);
        crate::metrics::global().policy_call(&name, started.elapsed(), failure);
        if let (Some((answers, question)), Ok(output)) = (&question, &result) {
            answers.keep(question, prepared.images().clone(), json.len(), output);
        }
        result
    }
}
