//! From an image reference to a [`Verdict`]: caches, singleflight, budgets and concurrency
//! limits in front of the registry client.

mod cache;
mod limits;
mod manifest;
mod resolver;
mod table;

use std::path::Path;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Deserialize;

use crate::image::Reference;
pub use crate::registry::LookupContext;
use crate::registry::{EgressConfig, RegistryConfig};
use crate::verdict::Verdict;

pub use cache::CacheConfig;
pub use limits::Aimd;
pub use resolver::Resolver;
pub use table::TableResolver;

/// The sections of landed.yaml a [`Resolver`] is built from (`Config` converts into it).
#[derive(Clone, Copy, Debug)]
pub struct ResolverConfig<'a> {
    /// Lookup budgets (`resolve:`).
    pub resolve: &'a ResolveConfig,
    /// Answer cache lifetimes (`cache:`).
    pub cache: &'a CacheConfig,
    /// Per-registry overrides (`registries:`).
    pub registries: &'a [RegistryConfig],
    /// Which unlisted registries may be contacted (`egress:`).
    pub egress: &'a EgressConfig,
    /// The server's docker config.json (`dockerConfig:`).
    pub docker_config: Option<&'a Path>,
}

/// Why a [`Resolver`] cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// `resolve:` budgets contradict each other.
    #[error("invalid resolve config: {0}")]
    Invalid(String),
    /// A `registries:` entry cannot be turned into a client.
    #[error("invalid registries config: {0}")]
    Registry(#[from] crate::registry::SetupError),
}

/// Anything that can give a verdict for an image.
///
/// Implementations must answer by themselves in bounded time.
pub trait Resolve: Send + Sync {
    /// The verdict for `reference` as seen with `ctx`'s credentials.
    fn resolve<'a>(
        &'a self,
        reference: &'a Reference,
        ctx: &'a LookupContext,
    ) -> BoxFuture<'a, Verdict>;

    /// The verdict, answered by `deadline` at the latest: what is not known by then is
    /// `unavailable`. Implementations that can do better (a stale cached answer) override it.
    fn resolve_until<'a>(
        &'a self,
        reference: &'a Reference,
        ctx: &'a LookupContext,
        deadline: tokio::time::Instant,
    ) -> BoxFuture<'a, Verdict> {
        let budget = deadline.saturating_duration_since(tokio::time::Instant::now());
        Box::pin(async move {
            tokio::time::timeout_at(deadline, self.resolve(reference, ctx))
                .await
                .unwrap_or_else(|_| no_answer(budget))
        })
    }

    /// The manifest body `reference` resolves to, by `deadline`, or the verdict that says
    /// why not; resolvers that fetch no manifests (test tables) answer `unavailable`.
    fn manifest_until<'a>(
        &'a self,
        _reference: &'a Reference,
        _ctx: &'a LookupContext,
        _deadline: tokio::time::Instant,
    ) -> BoxFuture<'a, Result<bytes::Bytes, Verdict>> {
        Box::pin(std::future::ready(Err(Verdict::new(
            crate::verdict::VerdictClass::Unavailable,
            "manifests are not fetched here (no registry client)",
        ))))
    }
}

/// The verdict for a lookup cut off by its deadline.
pub fn no_answer(budget: Duration) -> Verdict {
    // Rounded to the millisecond: the budget is measured a moment after the deadline was set.
    let millis = (budget + Duration::from_micros(500)).as_millis();
    Verdict::new(
        crate::verdict::VerdictClass::Unavailable,
        format!(
            "no answer from the registry within {}s",
            millis as f64 / 1000.0
        ),
    )
}

/// Budgets for one review's lookups (`resolve:` in landed.yaml).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ResolveConfig {
    /// Deadline for resolving all images of one review; must stay below the webhook timeout.
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
    /// TCP + TLS connect timeout for one registry connection (default 1s).
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Timeout of one whole registry request (default 2s); below the deadline.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// For an index or manifest list, check that every child manifest exists too.
    pub deep_check: bool,
    /// Most concurrent requests to one registry (default 32).
    pub max_concurrent_per_registry: usize,
    /// Largest (and starting) AIMD window per GAR project (default 16).
    pub gar_project_concurrency: usize,
    /// Most registries (hosts, GAR projects) other than the listed ones whose state
    /// (connection defaults, challenge, concurrency limit, back-off) is kept; the least
    /// recently used is dropped beyond it (default 1024). A review can name any host.
    pub max_hosts: usize,
    /// Back-off after a 429 without Retry-After (default 1s).
    #[serde(with = "humantime_serde")]
    pub default_retry_after: Duration,
    /// Longest back-off, whatever Retry-After says (default 60s).
    #[serde(with = "humantime_serde")]
    pub max_retry_after: Duration,
}

impl Default for ResolveConfig {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(2),
            deep_check: false,
            max_concurrent_per_registry: 32,
            gar_project_concurrency: 16,
            max_hosts: 1024,
            default_retry_after: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl ResolveConfig {
    /// Checks that the budgets fit inside each other.
    pub fn validate(&self) -> Result<(), String> {
        if self.deadline.is_zero() {
            return Err("resolve.deadline must be above zero".into());
        }
        if self.request_timeout.is_zero() || self.request_timeout > self.deadline {
            return Err(format!(
                "resolve.requestTimeout ({:?}) must be above zero and at most resolve.deadline ({:?})",
                self.request_timeout, self.deadline
            ));
        }
        if self.connect_timeout.is_zero() || self.connect_timeout > self.request_timeout {
            return Err(format!(
                "resolve.connectTimeout ({:?}) must be above zero and at most resolve.requestTimeout ({:?})",
                self.connect_timeout, self.request_timeout
            ));
        }
        if self.max_concurrent_per_registry == 0 || self.gar_project_concurrency == 0 {
            return Err("resolve.maxConcurrentPerRegistry and resolve.garProjectConcurrency must be at least 1".into());
        }
        if self.max_hosts == 0 {
            return Err("resolve.maxHosts must be at least 1".into());
        }
        Ok(())
    }
}
