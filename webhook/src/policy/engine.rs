//! One wasmtime engine for every policy: epoch interruption for per-call deadlines, the
//! pooling allocator for cheap fresh instances, and a ticker thread advancing the epoch.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde::Deserialize;
use wasmtime::component::Component;

/// How often the epoch advances; deadlines are whole ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Per-call limits for every policy (`policyLimits:` in landed.yaml).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PolicyLimits {
    /// Wall-clock budget of guest code per call, across all its `resolve-image` calls (time
    /// inside them is not counted; the lookups have the review's deadline). A backstop against runaway guests, not a
    /// CPU meter: built-ins take microseconds, but a CPU-throttled container (CFS quota) can
    /// be paused for 100 ms periods, and a tight wall clock would turn that into denials.
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
    /// Memory per instance, in MiB: all its linear memories and tables together (a table
    /// element counts as 8 bytes).
    pub max_memory_mib: u32,
    /// Table elements per table.
    pub max_table_elements: u32,
    /// Fuel (roughly, wasm instructions) per call; unlimited when absent.
    pub fuel: Option<u64>,
    /// Largest accepted output JSON, in bytes.
    pub max_output_bytes: usize,
    /// Most `resolve-image` calls one evaluation may make (answered from the review or not);
    /// one more traps the guest.
    pub max_resolve_calls: u32,
    /// Instances that may run at once (sizes the pooling allocator).
    pub max_concurrent: u32,
}

impl Default for PolicyLimits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_millis(500),
            max_memory_mib: 64,
            max_table_elements: 20_000,
            fuel: None,
            max_output_bytes: 1 << 20,
            max_resolve_calls: 16,
            max_concurrent: 64,
        }
    }
}

impl PolicyLimits {
    /// The memory cap in bytes.
    pub fn max_memory_bytes(&self) -> usize {
        (self.max_memory_mib as usize) << 20
    }

    /// The deadline in epoch ticks (at least one).
    pub fn deadline_ticks(&self) -> u64 {
        super::clock::ticks(self.deadline)
    }
}

/// Why the engine or a component could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// wasmtime refused the configuration.
    #[error("cannot create the WebAssembly engine: {0}")]
    Create(String),
    /// The bytes are not a valid WebAssembly component.
    #[error("not a valid WebAssembly component: {0}")]
    Compile(String),
    /// The bytes are not a valid WebAssembly core module.
    #[error("not a valid WebAssembly module: {0}")]
    CompileModule(String),
}

struct Shared {
    engine: wasmtime::Engine,
    limits: PolicyLimits,
    pooling: bool,
}

/// The shared engine; clones are cheap and share one ticker thread, which stops when the
/// last clone is dropped.
#[derive(Clone)]
pub struct PolicyEngine {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("limits", &self.shared.limits)
            .field("pooling", &self.shared.pooling)
            .finish()
    }
}

fn base_config(limits: &PolicyLimits) -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.consume_fuel(limits.fuel.is_some());
    config
}

fn pooling_config(limits: &PolicyLimits) -> wasmtime::PoolingAllocationConfig {
    let concurrent = limits.max_concurrent.max(1);
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    // A Rust wasip2 component has a handful of core instances (the program plus adapter
    // shims) and one or two memories and tables; size the pool for `concurrent` of them.
    pool.total_component_instances(concurrent)
        .total_core_instances(concurrent * 8)
        .total_memories(concurrent * 2)
        .total_tables(concurrent * 8)
        .max_memories_per_component(4)
        .max_tables_per_component(16)
        .max_memory_size(limits.max_memory_bytes())
        .table_elements(limits.max_table_elements as usize)
        // A freed slot keeps the pages a call dirtied and resets just those (found with the
        // PAGEMAP_SCAN ioctl on Linux ≥ 6.7) instead of an madvise per call and a page fault
        // per touched page in the next one.
        .pagemap_scan(wasmtime::Enabled::Auto)
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(KEEP_RESIDENT_BYTES);
    pool
}

/// How much of each pooled memory and table stays resident between calls: a wasip2 Rust
/// guest's 1 MiB stack sits below its data and heap (the built-ins' is 256 KiB), so this
/// covers the stack top and a first heap.
const KEEP_RESIDENT_BYTES: usize = 2 << 20;

impl PolicyEngine {
    /// An engine with `limits`; falls back to on-demand allocation (logged) when the
    /// pooling allocator cannot reserve its address space.
    pub fn new(limits: PolicyLimits) -> Result<Self, EngineError> {
        let mut config = base_config(&limits);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(
            pooling_config(&limits),
        ));
        let (engine, pooling) = match wasmtime::Engine::new(&config) {
            Ok(engine) => (engine, true),
            Err(error) => {
                tracing::warn!(%error, "pooling allocator unavailable; using on-demand instance allocation");
                let engine = wasmtime::Engine::new(&base_config(&limits))
                    .map_err(|e| EngineError::Create(format!("{e:#}")))?;
                (engine, false)
            }
        };
        let shared = Arc::new(Shared {
            engine,
            limits,
            pooling,
        });
        spawn_ticker(Arc::downgrade(&shared))?;
        Ok(Self { shared })
    }

    /// The wasmtime engine.
    pub fn wasmtime(&self) -> &wasmtime::Engine {
        &self.shared.engine
    }

    /// The per-call limits.
    pub fn limits(&self) -> &PolicyLimits {
        &self.shared.limits
    }

    /// Whether the pooling allocator is in use.
    pub fn is_pooling(&self) -> bool {
        self.shared.pooling
    }

    /// Compiles a component from its binary bytes.
    pub fn compile(&self, bytes: &[u8]) -> Result<Component, EngineError> {
        Component::new(&self.shared.engine, bytes)
            .map_err(|e| EngineError::Compile(format!("{e:#}")))
    }

    /// Compiles a core module (a Kubewarden waPC policy) from its binary bytes.
    pub fn compile_module(&self, bytes: &[u8]) -> Result<wasmtime::Module, EngineError> {
        wasmtime::Module::new(&self.shared.engine, bytes)
            .map_err(|e| EngineError::CompileModule(format!("{e:#}")))
    }
}

fn spawn_ticker(shared: Weak<Shared>) -> Result<(), EngineError> {
    std::thread::Builder::new()
        .name("landed-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match shared.upgrade() {
                Some(s) => s.engine.increment_epoch(),
                None => break,
            }
        })
        .map(|_| ())
        .map_err(|e| EngineError::Create(format!("cannot start the epoch thread: {e}")))
}
