//! How a guest's image questions are answered in one evaluation, whatever its ABI: from the
//! review's own images first, then the resolver (its cache, credentials and egress rule)
//! until the review's lookup deadline. The guest's own clock is paused by the caller.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::host::{ResolveAccess, ReviewLookups};
use super::ImageInput;
use crate::image::Reference;
use crate::resolve::LookupContext;
use crate::verdict::{Verdict, VerdictClass};

/// What one evaluation's lookups answer from.
pub(super) struct Lookups {
    resolve: Option<ResolveAccess>,
    runtime: Option<tokio::runtime::Handle>,
    context: Arc<LookupContext>,
    images: Arc<[ImageInput]>,
    /// When this evaluation's lookups must end.
    deadline: Instant,
    // Whether the guest runs on a tokio worker thread, where blocking on the resolver must
    // hand the worker's other tasks over first (`block_in_place`).
    on_worker: bool,
}

impl Lookups {
    /// Lookups through `resolve` for a review's `scope`; outside a review the budget of
    /// `resolve` starts now.
    pub(super) fn new(resolve: Option<ResolveAccess>, scope: ReviewLookups) -> Self {
        let budget = resolve.as_ref().map_or(Duration::ZERO, |r| r.budget);
        Self {
            deadline: scope.deadline.unwrap_or_else(|| Instant::now() + budget),
            resolve,
            runtime: tokio::runtime::Handle::try_current().ok(),
            context: scope.context,
            images: scope.images,
            on_worker: false,
        }
    }

    /// Marks the call as running on a multi-threaded runtime's worker thread.
    pub(super) fn set_on_worker(&mut self, on_worker: bool) {
        self.on_worker = on_worker;
    }

    /// The verdict for `reference` with its normalized form (when it parses).
    pub(super) fn verdict(&self, reference: &str) -> (Option<String>, Verdict) {
        if let Some(image) = self
            .images
            .iter()
            .find(|i| i.reference == reference || i.normalized.as_deref() == Some(reference))
        {
            let verdict = Verdict {
                class: image.verdict,
                digest: image.digest.as_deref().and_then(|d| d.parse().ok()),
                detail: image.detail.clone(),
                cause: None,
                stale: image.stale,
            };
            return (image.normalized.clone(), verdict);
        }
        let parsed = match Reference::parse(reference) {
            Ok(parsed) => parsed,
            Err(e) => {
                let verdict = Verdict::new(VerdictClass::InvalidReference, e.to_string());
                return (None, verdict);
            }
        };
        let normalized = Some(parsed.to_string());
        let verdict = self.block_on(|access, ctx, deadline| async move {
            access.resolver.resolve_until(&parsed, ctx, deadline).await
        });
        (normalized, verdict.unwrap_or_else(|v| v))
    }

    /// The manifest body `reference` resolves to, or the verdict saying why there is none.
    pub(super) fn manifest(&self, reference: &str) -> Result<bytes::Bytes, Verdict> {
        let parsed = Reference::parse(reference)
            .map_err(|e| Verdict::new(VerdictClass::InvalidReference, e.to_string()))?;
        self.block_on(|access, ctx, deadline| async move {
            access.resolver.manifest_until(&parsed, ctx, deadline).await
        })
        .and_then(|answer| answer)
    }

    /// Runs one lookup to completion by the deadline, from a thread that may be a worker.
    fn block_on<'s, F, T>(
        &'s self,
        lookup: impl FnOnce(&'s ResolveAccess, &'s LookupContext, tokio::time::Instant) -> F,
    ) -> Result<T, Verdict>
    where
        F: Future<Output = T> + 's,
    {
        let unavailable = |detail: &str| Verdict::new(VerdictClass::Unavailable, detail);
        let (Some(access), Some(runtime)) = (&self.resolve, &self.runtime) else {
            return Err(unavailable("no resolver is available to this policy here"));
        };
        if self.deadline <= Instant::now() {
            return Err(unavailable("the review's lookup deadline passed"));
        }
        let deadline = tokio::time::Instant::from_std(self.deadline);
        let work = lookup(access, &self.context, deadline);
        // The resolver answers by the deadline itself; the timeout holds one that does not,
        // since nothing else bounds the time a guest spends in the host.
        let bounded = async {
            tokio::time::timeout_at(deadline, work)
                .await
                .map_err(|_| unavailable("the review's lookup deadline passed"))
        };
        if self.on_worker {
            tokio::task::block_in_place(|| runtime.block_on(bounded))
        } else {
            runtime.block_on(bounded)
        }
    }
}
