//! One evaluation: a fresh store under the engine's limits, the guest's clock and lookup
//! deadline, and the answer read straight out of the guest's memory.

use std::time::Instant;

use futures::future::BoxFuture;
use wasmtime::Store;

use super::{ValidateFn, WasmPolicy, VALIDATE_SIG};
use crate::policy::host::{HostError, HostState, ReviewLookups};
use crate::policy::limiter::stopped;
use crate::policy::output::parse_output;
use crate::policy::prepared::PreparedInput;
use crate::policy::{Policy, PolicyError, PolicyOutput};

impl WasmPolicy {
    /// A store for one call: its limiter, its guest clock and first epoch deadline, fuel.
    pub(super) fn store(&self, scope: ReviewLookups, on_worker: bool) -> Store<HostState> {
        let c = &self.inner;
        let limits = c.engine.limits();
        let mut state = HostState::new(limits, c.resolve.clone(), scope);
        state.set_on_worker(on_worker);
        let mut store = Store::new(c.engine.wasmtime(), state);
        store.limiter(|s| s.limiter());
        store.set_epoch_deadline(limits.deadline_ticks());
        store.epoch_deadline_callback(|mut store| Ok(store.data_mut().epoch_deadline()));
        if let Some(fuel) = limits.fuel {
            // Only fails when fuel is disabled in the engine, which `limits.fuel` enables.
            let _ = store.set_fuel(fuel);
        }
        store
    }

    /// Evaluates on the current thread (blocking), for callers off the runtime (benchmarks,
    /// `landed policy bench`): the async [`Policy::evaluate`] runs the same call. Lookups
    /// end at the input's deadline, or get a fresh budget without one.
    pub fn evaluate_blocking(
        &self,
        input: &PreparedInput<'_>,
        settings: &serde_json::Value,
    ) -> Result<PolicyOutput, PolicyError> {
        let json = self.input_json(input, settings)?;
        self.run(&json, input.lookups(), false)
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

    /// The call itself: a fresh store and instance, `validate` on the encoded input, and the
    /// answer checked against the contract.
    fn run(
        &self,
        input_json: &str,
        scope: ReviewLookups,
        on_worker: bool,
    ) -> Result<PolicyOutput, PolicyError> {
        let started = Instant::now();
        let mut store = self.store(scope, on_worker);
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
        // A UTF-8 string is borrowed from the guest's memory (a UTF-16 one is transcoded):
        // an answer over the size limit is refused without being copied.
        let text = output
            .to_str(&store)
            .map_err(|e| PolicyError::InvalidOutput {
                policy: self.inner.name.clone(),
                reason: format!("output is not a valid string: {e:#}"),
            })?;
        tracing::debug!(policy = %self.inner.name, elapsed_us, bytes = text.len(), "policy answered");
        parse_output(
            &self.inner.name,
            &text,
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

    /// What a failed call is reported as: a limit named when one stopped it.
    pub(super) fn failure(&self, error: wasmtime::Error, state: Option<&HostState>) -> PolicyError {
        let policy = self.inner.name.clone();
        let limits = self.inner.engine.limits();
        if let Some(refused) = state.and_then(HostState::memory_refused) {
            return PolicyError::Failed {
                policy,
                reason: format!(
                    "exceeded its memory limit of {} MiB (memories and tables together: \
                     {} bytes held, {} more asked for)",
                    limits.max_memory_mib, refused.in_use, refused.asked
                ),
            };
        }
        if let Some(host) = error.downcast_ref::<HostError>() {
            let reason = host.to_string();
            return PolicyError::Failed { policy, reason };
        }
        stopped(policy, &error, limits)
    }
}

impl Policy for WasmPolicy {
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

impl WasmPolicy {
    /// One evaluation, recorded in the policy metrics.
    ///
    /// On a multi-threaded runtime (the server's) the guest runs right here on the worker:
    /// a call takes microseconds, and handing it to the blocking pool cost more in thread
    /// wake-ups than the call itself. The guest's clock bounds how long a runaway guest can
    /// hold the worker (time in `resolve-image` is spent in `block_in_place`, which hands the
    /// worker's other tasks to another thread). Elsewhere (a current-thread runtime) it runs
    /// on the blocking pool, since `resolve-image` blocks on the runtime.
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
        let scope = prepared.lookups();
        let name = self.inner.name.clone();
        let started = Instant::now();
        let on_worker = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let result = if on_worker {
            let result = self.run(&json, scope, true);
            // Nothing above awaited: count the call against the task's cooperative budget so a
            // task evaluating in a loop still lets the worker's other tasks and timers run.
            tokio::task::consume_budget().await;
            result
        } else {
            let (policy, json) = (self.clone(), json.clone());
            tokio::task::spawn_blocking(move || policy.run(&json, scope, false))
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
