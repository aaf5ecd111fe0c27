//! What a guest's store holds and what the host offers it: resource limits and the
//! `resolve-image` import. Every other import (the WASI interfaces a wasip2 guest links
//! against: filesystem, clocks, environment, random, stdio) is defined as a trap, so a
//! guest gets no filesystem, network, clock or environment.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use wasmtime::component::{Component, Linker};
use wasmtime::{ResourceLimiter, StoreContextMut, StoreLimits, StoreLimitsBuilder};

use super::engine::PolicyLimits;
use super::ImageInput;
use crate::image::Reference;
use crate::resolve::{LookupContext, Resolve};
use crate::verdict::{Verdict, VerdictClass};

/// The WIT interface the host implements.
pub const HOST_INTERFACE: &str = "landed:policy/host@0.1.0";

/// How `resolve-image` answers: a resolver plus the time it may take.
#[derive(Clone)]
pub struct ResolveAccess {
    /// The webhook's resolver (cache, credentials, budgets).
    pub resolver: Arc<dyn Resolve>,
    /// Budget for all lookups of one evaluation (the review's remaining deadline).
    pub budget: Duration,
}

/// Data of one store (one call).
pub struct HostState {
    limiter: Limiter,
    resolve: Option<ResolveAccess>,
    runtime: Option<tokio::runtime::Handle>,
    lookup: Arc<LookupContext>,
    images: Arc<[ImageInput]>,
    deadline: Instant,
    calls_left: u32,
    deadline_ticks: u64,
    // Whether the guest runs on a tokio worker thread, where blocking on the resolver must
    // hand the worker's other tasks over first (`block_in_place`).
    on_worker: bool,
}

impl HostState {
    /// State for one call under `limits`.
    pub fn new(
        limits: &PolicyLimits,
        resolve: Option<ResolveAccess>,
        lookup: Arc<LookupContext>,
        images: Arc<[ImageInput]>,
    ) -> Self {
        let budget = resolve.as_ref().map_or(Duration::ZERO, |r| r.budget);
        Self {
            limiter: Limiter::new(limits),
            resolve,
            runtime: tokio::runtime::Handle::try_current().ok(),
            lookup,
            images,
            deadline: Instant::now() + budget,
            calls_left: limits.max_resolve_calls,
            deadline_ticks: limits.deadline_ticks(),
            on_worker: false,
        }
    }

    /// Marks the call as running on a multi-threaded runtime's worker thread.
    pub fn set_on_worker(&mut self, on_worker: bool) {
        self.on_worker = on_worker;
    }

    /// The resource limiter of this store.
    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limiter
    }

    /// The memory growth that was refused, if any (bytes asked for).
    pub fn memory_refused(&self) -> Option<usize> {
        self.limiter.memory_refused
    }
}

/// `StoreLimits` plus a record of refused memory growth, for clear error messages.
struct Limiter {
    limits: StoreLimits,
    memory_refused: Option<usize>,
}

impl Limiter {
    fn new(limits: &PolicyLimits) -> Self {
        Self {
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.max_memory_bytes())
                .table_elements(limits.max_table_elements as usize)
                .instances(32)
                .tables(32)
                .memories(4)
                .trap_on_grow_failure(true)
                .build(),
            memory_refused: None,
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let answer = self.limits.memory_growing(current, desired, maximum);
        if !matches!(answer, Ok(true)) {
            self.memory_refused = Some(desired);
        }
        answer
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// The JSON verdict `resolve-image` returns.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResolvedJson<'a> {
    reference: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    normalized: Option<String>,
    verdict: VerdictClass,
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<String>,
    detail: String,
    stale: bool,
}

fn answer(reference: &str, normalized: Option<String>, verdict: Verdict) -> String {
    let json = ResolvedJson {
        reference,
        normalized,
        verdict: verdict.class,
        digest: verdict.digest,
        detail: verdict.detail,
        stale: verdict.stale,
    };
    serde_json::to_string(&json).unwrap_or_else(|_| String::from("{}"))
}

/// Answers one `resolve-image` call: from the review's own images first, then the
/// resolver under the remaining budget.
fn resolve_image(state: &mut HostState, reference: &str) -> String {
    if let Some(image) = state
        .images
        .iter()
        .find(|i| i.reference == reference || i.normalized.as_deref() == Some(reference))
    {
        let verdict = Verdict {
            class: image.verdict,
            digest: image.digest.clone(),
            detail: image.detail.clone(),
            cause: None,
            stale: image.stale,
        };
        return answer(reference, image.normalized.clone(), verdict);
    }
    let parsed = match Reference::parse(reference) {
        Ok(parsed) => parsed,
        Err(e) => {
            let verdict = Verdict::new(VerdictClass::InvalidReference, e.to_string());
            return answer(reference, None, verdict);
        }
    };
    let normalized = Some(parsed.to_string());
    let unavailable = |detail: &str| Verdict::new(VerdictClass::Unavailable, detail);
    if state.calls_left == 0 {
        let verdict = unavailable("resolve-image call limit of this evaluation reached");
        return answer(reference, normalized, verdict);
    }
    state.calls_left -= 1;
    let (Some(access), Some(runtime)) = (state.resolve.clone(), state.runtime.clone()) else {
        let verdict = unavailable("no resolver is available to this policy here");
        return answer(reference, normalized, verdict);
    };
    let remaining = state.deadline.saturating_duration_since(Instant::now());
    let lookup = &state.lookup;
    let lookup = async {
        tokio::time::timeout(remaining, access.resolver.resolve(&parsed, lookup))
            .await
            .unwrap_or_else(|_| unavailable("the review's lookup deadline passed"))
    };
    let verdict = if state.on_worker {
        tokio::task::block_in_place(|| runtime.block_on(lookup))
    } else {
        runtime.block_on(lookup)
    };
    tracing::debug!(reference, verdict = %verdict.class, "policy resolve-image");
    answer(reference, normalized, verdict)
}

/// A linker offering `resolve-image` and trapping on every other import of `component`.
pub fn linker(
    engine: &wasmtime::Engine,
    component: &Component,
) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    linker.instance(HOST_INTERFACE)?.func_wrap(
        "resolve-image",
        |mut store: StoreContextMut<'_, HostState>, (reference,): (String,)| {
            let json = resolve_image(store.data_mut(), &reference);
            // Time spent waiting on the registry is not guest time: restart the guest's
            // deadline (the lookups themselves are bounded by the review's budget).
            let ticks = store.data().deadline_ticks;
            store.set_epoch_deadline(ticks);
            Ok((json,))
        },
    )?;
    linker.define_unknown_imports_as_traps(component)?;
    Ok(linker)
}
