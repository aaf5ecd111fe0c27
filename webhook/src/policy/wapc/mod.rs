//! Kubewarden policies: core WebAssembly modules speaking waPC (see `protocol`), run on
//! the same engine as `landed:policy` components with the same limits (pooled instances,
//! a fresh one per call, epoch deadline, memory cap, output cap, fuel), the WASI surface a
//! pure policy needs (`wasi`), and the host capabilities of `capabilities`.

mod answer;
mod capabilities;
mod module;
mod protocol;
mod state;
mod wasi;

use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use wasmtime::{InstancePre, Linker, Store};

pub use answer::PROTOCOL_VERSION;
pub use capabilities::OFFERED as CAPABILITIES;
pub use module::{binary_kind, BinaryKind, METADATA_SECTION};
pub use state::WapcFault;
pub use wasi::OFFERED as WASI_OFFERED;

use super::engine::PolicyEngine;
use super::host::{ResolveAccess, ReviewLookups};
use super::limiter::stopped;
use super::wasm::LoadError;
use super::{ObjectText, Policy, PolicyError, PolicyOutput, PreparedInput};
use protocol::{GuestAnswer, GuestCall};
use state::WapcState;

/// The export every waPC guest has.
pub const GUEST_CALL: &str = "__guest_call";

/// Exports called once after instantiation, in order, when present: the WASI reactor's
/// and command's start, then waPC's own.
const STARTS: [&str; 3] = ["_initialize", "_start", "wapc_init"];

struct Compiled {
    name: Arc<str>,
    engine: PolicyEngine,
    pre: InstancePre<WapcState>,
    resolve: Option<ResolveAccess>,
    metadata: Option<serde_json::Value>,
}

/// A Kubewarden waPC policy, ready to evaluate. Cheap to share; each call is isolated.
#[derive(Clone)]
pub struct KubewardenPolicy {
    inner: Arc<Compiled>,
}

impl std::fmt::Debug for KubewardenPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubewardenPolicy")
            .field("name", &self.inner.name)
            .finish()
    }
}

impl KubewardenPolicy {
    /// Compiles `bytes`, checks `protocol_version` and runs `validate_settings` on
    /// `settings`, as Kubewarden's policy server does at load.
    pub fn load(
        engine: &PolicyEngine,
        name: &str,
        bytes: &[u8],
        settings: &serde_json::Value,
    ) -> Result<Self, LoadError> {
        let policy = Self::compile(engine, name, bytes)?;
        let version = policy.protocol_version()?;
        if version != PROTOCOL_VERSION {
            return Err(LoadError::Contract(format!(
                "the policy speaks Kubewarden protocol {version:?}; landed runs {PROTOCOL_VERSION:?} policies"
            )));
        }
        policy.check_settings(settings)?;
        Ok(policy)
    }

    /// Compiles and links `bytes` without calling the guest.
    pub fn compile(engine: &PolicyEngine, name: &str, bytes: &[u8]) -> Result<Self, LoadError> {
        let metadata = module::metadata(bytes).map_err(LoadError::Contract)?;
        if let Some(mode) = module::unsupported_mode(metadata.as_ref()) {
            return Err(LoadError::Contract(format!(
                "the policy's metadata says executionMode {mode:?}: landed runs only \
                 kubewarden-wapc policies (Rego and WASI-CLI policies are not supported yet)"
            )));
        }
        let module = engine.compile_module(bytes)?;
        if module.get_export(GUEST_CALL).is_none() {
            return Err(LoadError::MissingExport {
                export: GUEST_CALL,
                signature: "__guest_call(operation_len: i32, payload_len: i32) -> i32 (waPC)",
            });
        }
        let mut linker = Linker::new(engine.wasmtime());
        let link = |e: wasmtime::Error| LoadError::Contract(format!("{e:#}"));
        protocol::add_to_linker(&mut linker).map_err(link)?;
        wasi::add_to_linker(&mut linker).map_err(link)?;
        wasi::trap_the_rest(&mut linker, &module).map_err(LoadError::Contract)?;
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| LoadError::Contract(format!("imports: {e:#}")))?;
        Ok(Self {
            inner: Arc::new(Compiled {
                name: name.into(),
                engine: engine.clone(),
                pre,
                resolve: None,
                metadata,
            }),
        })
    }

    /// The same policy answering `oci` host calls through `access`.
    pub fn with_resolver(self, access: ResolveAccess) -> Self {
        let c = &self.inner;
        Self {
            inner: Arc::new(Compiled {
                name: c.name.clone(),
                engine: c.engine.clone(),
                pre: c.pre.clone(),
                resolve: Some(access),
                metadata: c.metadata.clone(),
            }),
        }
    }

    /// The policy's name.
    pub fn policy_name(&self) -> &str {
        &self.inner.name
    }

    /// The `io.kubewarden.metadata` section, when the module has one.
    pub fn metadata(&self) -> Option<&serde_json::Value> {
        self.inner.metadata.as_ref()
    }

    /// What `protocol_version` answers.
    pub fn protocol_version(&self) -> Result<String, LoadError> {
        let answer = self.load_call("protocol_version", b"{}".to_vec())?;
        let bytes = answer.map_err(|e| {
            LoadError::Contract(format!(
                "protocol_version failed: {e} (not a Kubewarden policy?)"
            ))
        })?;
        answer::protocol_version(&bytes).map_err(LoadError::Contract)
    }

    /// Runs `validate_settings` on `settings` (`{}` when there are none, as Kubewarden).
    pub fn check_settings(&self, settings: &serde_json::Value) -> Result<(), LoadError> {
        let payload = settings_json(settings)
            .map_err(|e| LoadError::Contract(format!("cannot encode the settings: {e}")))?;
        let answer = self.load_call("validate_settings", payload)?;
        let bytes =
            answer.map_err(|e| LoadError::Contract(format!("validate_settings failed: {e}")))?;
        match answer::settings(&bytes).map_err(LoadError::Contract)? {
            Ok(()) => Ok(()),
            Err(message) => Err(LoadError::Settings(format!(
                "policy {}: {message}",
                self.inner.name
            ))),
        }
    }

    fn load_call(&self, operation: &str, payload: Vec<u8>) -> Result<GuestAnswer, LoadError> {
        self.call_guest(operation, payload, ReviewLookups::default(), false)
            .map_err(|e| LoadError::Contract(format!("{operation}: {e}")))
    }

    /// Evaluates on the current thread (blocking), for callers off the runtime.
    pub fn evaluate_blocking(
        &self,
        input: &PreparedInput<'_>,
        settings: &serde_json::Value,
    ) -> Result<PolicyOutput, PolicyError> {
        self.validate(input, settings, false)
    }

    /// `validate` on the request as sent, its answer mapped onto landed's.
    fn validate(
        &self,
        input: &PreparedInput<'_>,
        settings: &serde_json::Value,
        on_worker: bool,
    ) -> Result<PolicyOutput, PolicyError> {
        let call = Validation {
            payload: validate_json(input, settings),
            scope: input.lookups(),
            object: &input.input().request.object,
            mutating: input.input().context.mutating,
        };
        self.run_validation(call, on_worker)
    }

    /// One `validate` call from its encoded input.
    fn run_validation(
        &self,
        call: Validation<'_>,
        on_worker: bool,
    ) -> Result<PolicyOutput, PolicyError> {
        let name = &self.inner.name;
        let failed = |reason: String| PolicyError::Failed {
            policy: name.to_string(),
            reason,
        };
        let payload = call
            .payload
            .map_err(|e| failed(format!("cannot encode the input: {e}")))?;
        let started = Instant::now();
        let answer = self.call_guest("validate", payload, call.scope, on_worker);
        let elapsed_us = started.elapsed().as_micros() as u64;
        let bytes = answer
            .and_then(|answer| answer.map_err(|e| failed(format!("reported an error: {e}"))))
            .inspect_err(|error| {
                tracing::warn!(policy = %name, elapsed_us, %error, "policy failed");
            })?;
        tracing::debug!(policy = %name, elapsed_us, bytes = bytes.len(), "policy answered");
        answer::validation(name, &bytes, call.object, call.mutating)
    }

    /// A fresh store and instance, its start functions, then one `__guest_call`.
    fn call_guest(
        &self,
        operation: &str,
        payload: Vec<u8>,
        scope: ReviewLookups,
        on_worker: bool,
    ) -> Result<GuestAnswer, PolicyError> {
        let c = &self.inner;
        let limits = c.engine.limits();
        let mut state = WapcState::new(c.name.clone(), limits, c.resolve.clone(), scope);
        state.lookups.set_on_worker(on_worker);
        let mut store = Store::new(c.engine.wasmtime(), state);
        store.limiter(|s| s.limiter());
        store.set_epoch_deadline(limits.deadline_ticks());
        store.epoch_deadline_callback(|mut store| Ok(store.data_mut().epoch_deadline()));
        if let Some(fuel) = limits.fuel {
            // Only fails when fuel is disabled in the engine, which `limits.fuel` enables.
            let _ = store.set_fuel(fuel);
        }
        let fail = |e: wasmtime::Error, store: &Store<WapcState>| self.failure(e, store.data());
        let instance = c.pre.instantiate(&mut store).map_err(|e| fail(e, &store))?;
        for start in STARTS {
            let Ok(func) = instance.get_typed_func::<(), ()>(&mut store, start) else {
                continue;
            };
            match func.call(&mut store, ()) {
                Ok(()) => {}
                // A command's `_start` may exit 0 once `main` has registered the handlers.
                Err(e) if matches!(e.downcast_ref(), Some(WapcFault::Exit { code: 0 })) => {}
                Err(e) => return Err(fail(e, &store)),
            }
        }
        let func: GuestCall = instance
            .get_typed_func(&mut store, GUEST_CALL)
            .map_err(|e| PolicyError::InvalidOutput {
                policy: c.name.to_string(),
                reason: format!("`{GUEST_CALL}` must be (i32, i32) -> i32: {e:#}"),
            })?;
        protocol::guest_call(&mut store, &func, operation, payload).map_err(|e| fail(e, &store))
    }

    /// What a failed call is reported as: a limit named when one stopped it.
    fn failure(&self, error: wasmtime::Error, state: &WapcState) -> PolicyError {
        let policy = self.inner.name.to_string();
        let limits = self.inner.engine.limits();
        if let Some(refused) = state.memory_refused() {
            return PolicyError::Failed {
                policy,
                reason: format!(
                    "exceeded its memory limit of {} MiB ({} bytes held, {} more asked for)",
                    limits.max_memory_mib, refused.in_use, refused.asked
                ),
            };
        }
        if let Some(fault) = error.downcast_ref::<WapcFault>() {
            let reason = fault.to_string();
            return match fault {
                WapcFault::OutputTooLarge { .. } => PolicyError::InvalidOutput { policy, reason },
                _ => PolicyError::Failed { policy, reason },
            };
        }
        stopped(policy, &error, limits)
    }

    /// One evaluation, recorded in the policy metrics; runs where the component path does
    /// (see `WasmPolicy::call`). Answers are never reused: the policy reads the whole request.
    async fn call(
        &self,
        prepared: &PreparedInput<'_>,
        settings: &serde_json::Value,
    ) -> Result<PolicyOutput, PolicyError> {
        let started = Instant::now();
        let on_worker = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let result = if on_worker {
            let result = self.validate(prepared, settings, true);
            tokio::task::consume_budget().await;
            result
        } else {
            // The blocking pool cannot borrow the review: the input is encoded first.
            let payload = validate_json(prepared, settings);
            let (policy, scope) = (self.clone(), prepared.lookups());
            let object = prepared.input().request.object.clone();
            let mutating = prepared.input().context.mutating;
            tokio::task::spawn_blocking(move || {
                let call = Validation {
                    payload,
                    scope,
                    object: &object,
                    mutating,
                };
                policy.run_validation(call, false)
            })
            .await
            .unwrap_or_else(|e| {
                Err(PolicyError::Failed {
                    policy: self.inner.name.to_string(),
                    reason: format!("evaluation thread failed: {e}"),
                })
            })
        };
        let failure = result.as_ref().err().map(PolicyError::failure);
        crate::metrics::global().policy_call(&self.inner.name, started.elapsed(), failure);
        result
    }
}

impl Policy for KubewardenPolicy {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn evaluate<'a>(
        &'a self,
        input: &'a PreparedInput<'_>,
        settings: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<PolicyOutput, PolicyError>> {
        Box::pin(self.call(input, settings))
    }
}

/// One `validate` call: its encoded input, what its lookups answer from, and what its
/// answer is mapped against.
struct Validation<'a> {
    payload: Result<Vec<u8>, serde_json::Error>,
    scope: ReviewLookups,
    object: &'a ObjectText,
    mutating: bool,
}

/// The settings as a Kubewarden policy reads them: an object, `{}` when there are none.
fn settings_json(settings: &serde_json::Value) -> Result<Vec<u8>, serde_json::Error> {
    match settings {
        serde_json::Value::Null => Ok(b"{}".to_vec()),
        other => serde_json::to_vec(other),
    }
}

/// `{"request": <the AdmissionRequest as sent>, "settings": …}`.
fn validate_json(
    input: &PreparedInput<'_>,
    settings: &serde_json::Value,
) -> Result<Vec<u8>, serde_json::Error> {
    let request = input.request_as_sent()?;
    let settings = settings_json(settings)?;
    let mut json = Vec::with_capacity(request.len() + settings.len() + 26);
    json.extend_from_slice(b"{\"request\":");
    json.extend_from_slice(request.as_bytes());
    json.extend_from_slice(b",\"settings\":");
    json.extend_from_slice(&settings);
    json.push(b'}');
    Ok(json)
}
