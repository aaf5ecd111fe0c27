//! One background tokio runtime for the whole test process.
//!
//! Fakes are spawned on it and the harness's own HTTP calls are driven with [`block_on`], so
//! tests stay plain synchronous functions that may block on child processes freely.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Runtime;

/// The shared multi-threaded runtime (built on first use).
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("landed-e2e")
            .enable_all()
            .build()
            .expect("building the harness tokio runtime")
    })
}

/// Runs `future` to completion on the shared runtime from a synchronous test.
pub fn block_on<F: Future>(future: F) -> F::Output {
    runtime().block_on(future)
}

/// Installs rustls' ring provider as the process default (reqwest is built without one).
pub fn install_crypto_provider() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // Another part of the process may have installed one first; either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
