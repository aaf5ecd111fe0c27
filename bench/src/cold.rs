//! Cold path: a fresh `landed serve` (empty caches, no tokens) gets N concurrent reviews of
//! one tag it has never seen. Every client first opens its own connection, then all send at
//! once; the registry's access log and the token server's record say how many requests
//! reached them.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use landed_e2e::fakes::form_values;
use landed_e2e::review::PodReview;
use landed_e2e::runtime::block_on;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::client::{post_review, Batch};
use crate::setup::World;

/// The repository the cold tag is pushed to.
pub const REPO: &str = "bench/cold";

/// What the registry and the token server saw.
#[derive(Clone, Debug)]
pub struct ColdResult {
    /// The reviewed image.
    pub image: String,
    /// The reviews' answers.
    pub batch: Batch,
    /// Manifest requests for the tag, by (method, status).
    pub manifest_requests: BTreeMap<(String, u16), usize>,
    /// Token requests, by scope.
    pub token_requests: BTreeMap<String, usize>,
}

impl ColdResult {
    /// Manifest requests of any kind.
    pub fn manifest_total(&self) -> usize {
        self.manifest_requests.values().sum()
    }

    /// Manifest requests answered 401: the token challenge a fresh client must meet once.
    pub fn manifest_challenges(&self) -> usize {
        self.manifest_requests
            .iter()
            .filter(|((_, status), _)| *status == 401)
            .map(|(_, n)| n)
            .sum()
    }

    /// The most token requests for any one scope.
    pub fn max_tokens_per_scope(&self) -> usize {
        self.token_requests.values().copied().max().unwrap_or(0)
    }
}

/// Runs `reviews` concurrent reviews of a freshly pushed tag against a fresh landed.
pub fn run(world: &World, reviews: usize) -> Result<ColdResult> {
    let tag = format!("cold-{}", landed_e2e::random_hex(4));
    let image = world.registry.push_image(REPO, &tag)?.by_tag();
    let landed = world.start_landed("")?;
    let registry_mark = world.registry.access_mark();
    let token_mark = world.tokens.request_count();

    let client = world.client()?;
    let url = landed.url();
    let review = PodReview::new("shop")?.container("app", &image).to_json();
    let started = std::time::Instant::now();
    let mut batch = block_on(async {
        let barrier = Arc::new(Barrier::new(reviews));
        let mut tasks = JoinSet::new();
        for _ in 0..reviews {
            let connection = client.fresh()?;
            let (barrier, url, review) = (barrier.clone(), url.clone(), review.clone());
            tasks.spawn(async move {
                // Open the connection (TLS handshake) first, so the reviews go out together.
                // Hundreds of handshakes at once can time out on a slow (debug) server: retry.
                let mut opened = connection.get(format!("{url}/healthz")).send().await;
                for _ in 0..3 {
                    if opened.is_ok() {
                        break;
                    }
                    opened = connection.get(format!("{url}/healthz")).send().await;
                }
                barrier.wait().await;
                opened.context("opening a connection")?;
                post_review(&connection, &url, &review).await
            });
        }
        let mut batch = Batch::default();
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Ok(answer)) => {
                    batch.allowed += usize::from(answer.allowed);
                    batch.denied += usize::from(!answer.allowed);
                    batch.latencies.push(answer.latency);
                }
                Ok(Err(e)) => {
                    batch.failed += 1;
                    batch.first_error.get_or_insert_with(|| format!("{e:#}"));
                }
                Err(e) => return Err(e).context("a review task panicked"),
            }
        }
        anyhow::Ok(batch)
    })?;
    batch.elapsed = started.elapsed();
    batch.latencies.sort();

    let path = format!("/v2/{REPO}/manifests/{tag}");
    let mut manifest_requests = BTreeMap::new();
    for entry in world.registry.access_log_since(registry_mark) {
        if entry.path == path {
            *manifest_requests
                .entry((entry.method, entry.status))
                .or_insert(0) += 1;
        }
    }
    let mut token_requests = BTreeMap::new();
    for request in world.tokens.requests().into_iter().skip(token_mark) {
        for scope in form_values(&request.query, "scope") {
            *token_requests.entry(scope).or_insert(0) += 1;
        }
    }
    drop(landed);
    Ok(ColdResult {
        image,
        batch,
        manifest_requests,
        token_requests,
    })
}
