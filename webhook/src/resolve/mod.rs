//! From an image reference to a [`Verdict`]: caches, singleflight, budgets and concurrency
//! limits in front of the registry client.

mod table;

use std::time::Duration;

use futures::future::BoxFuture;
use serde::Deserialize;

use crate::image::Reference;
use crate::verdict::Verdict;

pub use table::TableResolver;

/// Who is asking: the workload's namespace and the pull secrets it can use.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LookupContext {
    /// Namespace of the workload, if namespaced.
    pub namespace: Option<String>,
    /// Names of the pod's `imagePullSecrets`.
    pub pull_secrets: Vec<String>,
    /// The pod's service account (its `imagePullSecrets` count too).
    pub service_account: Option<String>,
}

/// Anything that can give a verdict for an image.
///
/// Implementations must answer by themselves in bounded time; the admission pipeline also
/// wraps every call in the review's deadline.
pub trait Resolve: Send + Sync {
    /// The verdict for `reference` as seen with `ctx`'s credentials.
    fn resolve<'a>(
        &'a self,
        reference: &'a Reference,
        ctx: &'a LookupContext,
    ) -> BoxFuture<'a, Verdict>;
}

/// Budgets for one review's lookups (`resolve:` in landed.yaml).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ResolveConfig {
    /// Deadline for resolving all images of one review; must stay below the webhook timeout.
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
}

impl Default for ResolveConfig {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(3),
        }
    }
}
