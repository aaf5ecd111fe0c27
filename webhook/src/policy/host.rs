//! What a guest's store holds and what the host offers it: resource limits and the
//! `resolve-image` import (its trait and linking generated from `policies/wit/landed.wit`),
//! whose calls are counted, charged to the guest's clock, and bounded by the review's lookup
//! deadline. Every other import (the WASI interfaces a wasip2 guest links against:
//! filesystem, clocks, environment, random, stdio) is defined as a trap, so a guest gets no
//! filesystem, network, clock or environment.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{ResourceLimiter, Trap, UpdateDeadline};

use super::clock::GuestClock;
use super::engine::PolicyLimits;
use super::limiter::{Limiter, Refused};
use super::lookup::Lookups;
use super::ImageInput;
use crate::resolve::{LookupContext, Resolve};
use crate::verdict::{Verdict, VerdictClass};

mod bindings {
    // Only the host's imports are generated: the exports are called through typed views
    // that read the answer in place (see `wasm`), and generated export calls hold `unsafe`
    // blocks, which this crate forbids.
    wasmtime::component::bindgen!({
        path: "../policies/wit",
        interfaces: "import landed:policy/host@0.1.0;",
        // `resolve-image` traps past the call cap or when the guest's time is spent.
        imports: { default: trappable },
    });
}

use bindings::landed::policy::host as wit;

/// The WIT interface the host implements, as `landed policy inspect` names it (a test holds
/// it to the generated bindings).
pub const HOST_INTERFACE: &str = "landed:policy/host@0.1.0";

/// How `resolve-image` answers: a resolver plus the time it may take.
#[derive(Clone)]
pub struct ResolveAccess {
    /// The webhook's resolver (cache, credentials, budgets).
    pub resolver: Arc<dyn Resolve>,
    /// Budget for all lookups of one evaluation outside a review (`landed policy run`); in a
    /// review, its policies share what is left of the review's own deadline instead.
    pub budget: Duration,
}

/// What `resolve-image` answers from in one evaluation: who is asking, the review's own
/// images, and when the review's lookups must end.
#[derive(Clone, Default)]
pub struct ReviewLookups {
    /// Who is asking (namespace, pull secrets, service account).
    pub context: Arc<LookupContext>,
    /// The review's images, answered without a lookup.
    pub images: Arc<[ImageInput]>,
    /// The review's `resolve.deadline`, shared by all its policies; `None` outside a review
    /// (each evaluation then gets [`ResolveAccess::budget`] afresh).
    pub deadline: Option<Instant>,
}

/// Why the host stopped a guest in a host call.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The guest called `resolve-image` more often than allowed.
    #[error("called resolve-image more than {limit} times in one evaluation (policyLimits.maxResolveCalls)")]
    TooManyResolveCalls {
        /// The cap.
        limit: u32,
    },
}

/// Data of one store (one call).
pub struct HostState {
    limiter: Limiter,
    lookups: Lookups,
    calls_made: u32,
    max_calls: u32,
    clock: GuestClock,
}

impl HostState {
    /// State for one call under `limits`; the guest's clock starts now.
    pub fn new(
        limits: &PolicyLimits,
        resolve: Option<ResolveAccess>,
        scope: ReviewLookups,
    ) -> Self {
        Self {
            limiter: Limiter::new(limits),
            lookups: Lookups::new(resolve, scope),
            calls_made: 0,
            max_calls: limits.max_resolve_calls,
            clock: GuestClock::start(limits.deadline),
        }
    }

    /// Marks the call as running on a multi-threaded runtime's worker thread.
    pub fn set_on_worker(&mut self, on_worker: bool) {
        self.lookups.set_on_worker(on_worker);
    }

    /// The resource limiter of this store.
    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limiter
    }

    /// The growth refused for passing the memory cap, if any.
    pub fn memory_refused(&self) -> Option<Refused> {
        self.limiter.refused()
    }

    /// The guest enters a host call: its time so far is charged and the call counted. A
    /// guest whose time is spent stops as at its deadline; one over the call cap traps.
    fn enter_host(&mut self) -> wasmtime::Result<()> {
        if !self.clock.pause() {
            return Err(Trap::Interrupt.into());
        }
        self.calls_made = self.calls_made.saturating_add(1);
        if self.calls_made > self.max_calls {
            return Err(wasmtime::Error::new(HostError::TooManyResolveCalls {
                limit: self.max_calls,
            }));
        }
        Ok(())
    }

    /// The store's epoch deadline came. Host calls moved it without refilling the guest's
    /// budget (time in the host is not the guest's), so the guest runs on for the whole
    /// ticks it has left and stops when less than one is.
    pub fn epoch_deadline(&mut self) -> UpdateDeadline {
        match self.clock.lap() {
            Some(ticks) => UpdateDeadline::Continue(ticks),
            None => UpdateDeadline::Interrupt,
        }
    }
}

impl wit::Host for HostState {
    // The bindings lift the reference out of the guest before this runs: a copy bounded by
    // the guest's memory cap, its time charged to the guest's clock by `enter_host`.
    fn resolve_image(&mut self, reference: String) -> wasmtime::Result<String> {
        self.enter_host()?;
        let json = if reference.len() > MAX_REFERENCE_BYTES {
            let len = reference.len();
            let detail = format!("a reference of {len} bytes is longer than any valid one");
            answer(
                "",
                None,
                Verdict::new(VerdictClass::InvalidReference, detail),
            )
        } else {
            resolve_image(self, &reference)
        };
        self.clock.resume();
        Ok(json)
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
    digest: Option<crate::image::Digest>,
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

/// Longest reference text `resolve-image` reads out of the guest: a valid reference is at
/// most a 255-character name, a 128-character tag and a digest.
pub const MAX_REFERENCE_BYTES: usize = 1024;

/// Answers one `resolve-image` call: from the review's own images first, then the
/// resolver until the lookup deadline.
fn resolve_image(state: &mut HostState, reference: &str) -> String {
    let (normalized, verdict) = state.lookups.verdict(reference);
    tracing::debug!(reference, verdict = %verdict.class, "policy resolve-image");
    answer(reference, normalized, verdict)
}

/// A linker offering `resolve-image` and trapping on every other import of `component`.
pub fn linker(
    engine: &wasmtime::Engine,
    component: &Component,
) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = host_linker(engine)?;
    linker.define_unknown_imports_as_traps(component)?;
    Ok(linker)
}

/// A linker offering the host interface only.
fn host_linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wit::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)?;
    Ok(linker)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> wasmtime::Engine {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        wasmtime::Engine::new(&config).unwrap_or_else(|e| panic!("{e:#}"))
    }

    fn importing(interface: &str) -> Vec<u8> {
        let wat = format!(
            r#"(component (import "{interface}" (instance
                (export "resolve-image" (func (param "reference" string) (result string))))))"#
        );
        wat::parse_str(wat).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn resolve_image_answers_in_the_golden_shape() {
        let text = include_str!("../../../contract/golden/resolved.json");
        let golden: serde_json::Value =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        let evidence = serde_json::json!({"class": golden["verdict"], "digest": golden["digest"],
            "detail": golden["detail"], "stale": golden["stale"]});
        let verdict: Verdict = serde_json::from_value(evidence).unwrap_or_else(|e| panic!("{e}"));
        let reference = golden["reference"].as_str().unwrap_or_default();
        let normalized = golden["normalized"].as_str().map(str::to_owned);
        let json = answer(reference, normalized, verdict);
        let written: serde_json::Value =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written, golden);
    }

    #[test]
    fn the_generated_bindings_provide_the_named_host_interface() {
        let engine = engine();
        let linker = host_linker(&engine).unwrap_or_else(|e| panic!("{e:#}"));
        let ours = Component::new(&engine, importing(HOST_INTERFACE));
        let ours = ours.unwrap_or_else(|e| panic!("{e:#}"));
        assert!(linker.instantiate_pre(&ours).is_ok());
        // Without the traps, any other name is left undefined.
        let other = Component::new(&engine, importing("landed:policy/host@0.2.0"));
        let other = other.unwrap_or_else(|e| panic!("{e:#}"));
        assert!(linker.instantiate_pre(&other).is_err());
    }
}
