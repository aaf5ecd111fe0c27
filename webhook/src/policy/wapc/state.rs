//! What a waPC guest's store holds for one call: the limits it runs under, the request it
//! is handed, and what it answered or was answered by the host.

use std::sync::Arc;

use wasmtime::{ResourceLimiter, Trap, UpdateDeadline};

use crate::policy::clock::GuestClock;
use crate::policy::engine::PolicyLimits;
use crate::policy::host::{ResolveAccess, ReviewLookups};
use crate::policy::limiter::{Limiter, Refused};
use crate::policy::lookup::Lookups;

/// Bytes a guest may log (console, stdout, stderr, `tracing/log`) per call; more is dropped.
pub const LOG_BYTES: usize = 16 << 10;

/// Why the host stopped a waPC guest: each is a trap whose message names the broken rule.
#[derive(Debug, thiserror::Error)]
pub enum WapcFault {
    /// A pointer and length the guest passed do not lie inside its memory.
    #[error("passed `{what}` a range outside its memory ({len} bytes at offset {offset})")]
    OutOfBounds {
        /// The import or argument.
        what: &'static str,
        /// The guest's pointer.
        offset: u32,
        /// The length asked for.
        len: u64,
    },
    /// A length the guest passed is over what the host copies.
    #[error("passed `{what}` {len} bytes, over the limit of {limit}")]
    TooLarge {
        /// The import or argument.
        what: &'static str,
        /// The length claimed.
        len: u64,
        /// The limit.
        limit: usize,
    },
    /// The guest's answer is over `policyLimits.maxOutputBytes` (never copied).
    #[error(
        "answered {len} bytes, over the output limit of {limit} (policyLimits.maxOutputBytes)"
    )]
    OutputTooLarge {
        /// The length claimed.
        len: u64,
        /// The limit.
        limit: usize,
    },
    /// The module exports no linear memory to exchange data through.
    #[error("exports no `memory`, which the waPC protocol needs")]
    NoMemory,
    /// The guest asked the host for images more often than allowed.
    #[error("called host capabilities more than {limit} times in one evaluation (policyLimits.maxResolveCalls)")]
    TooManyHostCalls {
        /// The cap.
        limit: u32,
    },
    /// The guest called WASI `proc_exit`.
    #[error("exited (WASI proc_exit with code {code})")]
    Exit {
        /// The exit code.
        code: i32,
    },
    /// The guest called an import landed does not offer.
    #[error("called `{import}`, which landed does not offer to policies ({why})")]
    NotOffered {
        /// `module.name` of the import.
        import: String,
        /// What kind of access it is.
        why: &'static str,
    },
}

/// Data of one waPC store (one call).
pub struct WapcState {
    limiter: Limiter,
    pub(super) clock: GuestClock,
    pub(super) lookups: Lookups,
    /// The policy's name, for its log lines.
    pub(super) policy: Arc<str>,
    pub(super) max_output: usize,
    host_calls: u32,
    max_host_calls: u32,
    /// The operation and payload of the current `__guest_call`.
    pub(super) operation: Vec<u8>,
    pub(super) payload: Vec<u8>,
    /// `__guest_response` / `__guest_error` of the current call.
    pub(super) response: Option<Vec<u8>>,
    pub(super) guest_error: Option<Vec<u8>>,
    /// The answer of the last `__host_call`, read back by the guest.
    pub(super) host_response: Vec<u8>,
    pub(super) host_error: Vec<u8>,
    log_left: usize,
}

impl WapcState {
    /// State for one call of `policy` under `limits`; the guest's clock starts now.
    pub fn new(
        policy: Arc<str>,
        limits: &PolicyLimits,
        resolve: Option<ResolveAccess>,
        scope: ReviewLookups,
    ) -> Self {
        Self {
            limiter: Limiter::new(limits),
            clock: GuestClock::start(limits.deadline),
            lookups: Lookups::new(resolve, scope),
            policy,
            max_output: limits.max_output_bytes,
            host_calls: 0,
            max_host_calls: limits.max_resolve_calls,
            operation: Vec::new(),
            payload: Vec::new(),
            response: None,
            guest_error: None,
            host_response: Vec::new(),
            host_error: Vec::new(),
            log_left: LOG_BYTES,
        }
    }

    /// The resource limiter of this store.
    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limiter
    }

    /// The growth refused for passing the memory cap, if any.
    pub fn memory_refused(&self) -> Option<Refused> {
        self.limiter.refused()
    }

    /// The guest enters the host: its time so far is charged; a spent budget stops it as at
    /// its deadline.
    pub(super) fn pause(&mut self) -> wasmtime::Result<()> {
        if !self.clock.pause() {
            return Err(Trap::Interrupt.into());
        }
        Ok(())
    }

    /// Counts one image lookup; past the cap the guest traps.
    pub(super) fn count_lookup(&mut self) -> wasmtime::Result<()> {
        self.host_calls = self.host_calls.saturating_add(1);
        if self.host_calls > self.max_host_calls {
            return Err(wasmtime::Error::new(WapcFault::TooManyHostCalls {
                limit: self.max_host_calls,
            }));
        }
        Ok(())
    }

    /// Takes up to `len` bytes of the call's log budget; how many may be logged.
    pub(super) fn log_budget(&mut self, len: usize) -> usize {
        let granted = len.min(self.log_left);
        self.log_left -= granted;
        granted
    }

    /// The store's epoch deadline came: the guest runs on for the whole ticks left.
    pub fn epoch_deadline(&mut self) -> UpdateDeadline {
        match self.clock.lap() {
            Some(ticks) => UpdateDeadline::Continue(ticks),
            None => UpdateDeadline::Interrupt,
        }
    }
}
