//! Shared fixtures of the micro-benchmarks: the test corpus, a tokio runtime, and a resolver
//! warmed against an in-process registry that speaks the Distribution protocol.
#![allow(dead_code, clippy::expect_used)]

#[path = "../../tests/registry_support/mod.rs"]
pub mod registry_support;

use std::path::PathBuf;
use std::sync::Arc;

use landed::config::Config;
use registry_support::Fake;

/// The registry host the review fixtures name; benches point it at the fake.
pub const HOST: &str = "registry.example.com";

/// The three images of `pod-create.json` (init container, two containers), as pushed.
pub const POD_IMAGES: [(&str, &str); 3] = [
    ("team/migrate", "1.0"),
    ("team/app", "1.0"),
    ("team/sidecar", "2.1"),
];

/// A file under `webhook/tests/data`.
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The bytes of one AdmissionReview fixture.
pub fn review(name: &str) -> Vec<u8> {
    let path = data("reviews").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A multi-threaded runtime like the server's (two workers, as on the 2-core target).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A fake registry holding the pod fixture's images; call inside the runtime.
pub async fn registry() -> Arc<Fake> {
    let fake = Fake::start().await;
    for (seed, (repo, tag)) in POD_IMAGES.iter().enumerate() {
        fake.push_image(repo, Some(tag), &seed.to_string());
    }
    fake
}

/// landed's defaults (built-in policies, default caches) with `HOST` served by `fake`.
pub fn config(fake: &Fake) -> Config {
    registry_support::config(fake, HOST)
}
