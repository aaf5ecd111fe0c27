//! Shared fixtures of the micro-benchmarks: the test corpus, the load bench's corpus of
//! reviews as the API server sends them, a tokio runtime, and a resolver warmed against an
//! in-process registry that speaks the Distribution protocol.
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

/// The load bench's corpus (`bench/data/`, see its README), smallest first.
pub const CORPUS: [&str; 4] = [
    "pod-small",
    "pod-replicaset",
    "deployment-update-apply",
    "cronjob-create",
];

/// What the corpus writes for the registry host of its images.
const CORPUS_PLACEHOLDER: &str = "{{REGISTRY}}";

fn corpus_text(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../bench/data")
        .join(format!("{name}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A corpus review's bytes, its images' registry written as `HOST` (served by the fake).
pub fn corpus(name: &str) -> Vec<u8> {
    corpus_text(name)
        .replace(CORPUS_PLACEHOLDER, HOST)
        .into_bytes()
}

/// Every image the corpus names (object, oldObject, last-applied annotation), as (repository,
/// tag), each once.
fn corpus_images() -> Vec<(String, String)> {
    let prefix = format!("{CORPUS_PLACEHOLDER}/");
    let mut found = Vec::new();
    for text in CORPUS.map(corpus_text) {
        for (at, _) in text.match_indices(&prefix) {
            let rest = &text[at + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || "._-/:".contains(c)))
                .unwrap_or(rest.len());
            let (repo, tag) = rest[..end].rsplit_once(':').expect("a tagged image");
            let image = (repo.to_owned(), tag.to_owned());
            if !found.contains(&image) {
                found.push(image);
            }
        }
    }
    found
}

/// A multi-threaded runtime like the server's (two workers, as on the 2-core target).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A fake registry holding the pod fixture's images and the corpus's; call inside the runtime.
pub async fn registry() -> Arc<Fake> {
    let fake = Fake::start().await;
    let fixture = POD_IMAGES.map(|(repo, tag)| (repo.to_owned(), tag.to_owned()));
    for (seed, (repo, tag)) in fixture.into_iter().chain(corpus_images()).enumerate() {
        fake.push_image(&repo, Some(&tag), &seed.to_string());
    }
    fake
}

/// landed's defaults (built-in policies, default caches) with `HOST` served by `fake`.
pub fn config(fake: &Fake) -> Config {
    registry_support::config(fake, HOST)
}
