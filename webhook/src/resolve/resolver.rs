//! The production resolver: caches, singleflight, pacing and a deadline in front of the
//! registry client.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared};
use tokio::time::Instant;

use super::cache::{Caches, LookupKey, Target};
use super::limits::Limits;
use super::{LookupContext, Resolve, ResolveConfig, ResolveError, ResolverConfig};
use crate::image::{Reference, DEFAULT_TAG};
use crate::metrics::CacheResult;
use crate::registry::auth::Authenticator;
use crate::registry::config::canonical_host;
use crate::registry::{
    index, Egress, Manifest, Origin, RegistryClient, RegistryConfig, RegistryError, Timeouts,
};
use crate::verdict::{Verdict, VerdictClass};

type Answer = Result<Manifest, RegistryError>;
type Flight = Shared<BoxFuture<'static, Answer>>;

/// Resolves references against their registries; cheap to clone (shared state).
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

struct Inner {
    client: RegistryClient,
    caches: Caches,
    limits: Limits,
    config: ResolveConfig,
    // tokio's Mutex: the cache is re-checked while it is held, so a lookup finishing between
    // the first check and joining cannot cause a second request.
    flights: tokio::sync::Mutex<HashMap<(LookupKey, LookupContext), Flight>>,
}

impl Resolver {
    /// A resolver for references from reviews: `config`'s registries, budgets and caches,
    /// under the egress rule.
    pub fn new<'a>(config: impl Into<ResolverConfig<'a>>) -> Result<Self, ResolveError> {
        Self::build(config.into(), Origin::Review, &[])
    }

    /// A resolver for references the operator names (`landed check`): any registry is
    /// contacted unless `egress.denyUnlisted` says otherwise.
    pub fn for_operator<'a>(config: impl Into<ResolverConfig<'a>>) -> Result<Self, ResolveError> {
        Self::build(config.into(), Origin::Operator, &[])
    }

    /// A resolver for references of `origin`; `also_listed` are registry hosts the config
    /// names elsewhere (`oci:` policy sources), listed like `registries:` entries.
    pub fn build(
        config: ResolverConfig<'_>,
        origin: Origin,
        also_listed: &[String],
    ) -> Result<Self, ResolveError> {
        let rc = config.resolve;
        rc.validate().map_err(ResolveError::Invalid)?;
        let timeouts = Timeouts {
            connect: rc.connect_timeout,
            request: rc.request_timeout,
        };
        let auth = Authenticator::new(
            config.docker_config.map(Path::to_path_buf),
            rc.request_timeout,
        );
        let mut registries = config.registries.to_vec();
        for host in also_listed {
            let known = registries
                .iter()
                .any(|r| canonical_host(&r.host) == canonical_host(host));
            if !known {
                registries.push(RegistryConfig {
                    host: host.clone(),
                    ..RegistryConfig::default()
                });
            }
        }
        let egress = Egress::new(config.egress, origin).map_err(ResolveError::Invalid)?;
        let client = RegistryClient::new(&registries, timeouts, egress, rc.max_hosts, auth)?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                caches: Caches::new(config.cache),
                limits: Limits::new(
                    rc.max_concurrent_per_registry,
                    rc.gar_project_concurrency,
                    rc.default_retry_after,
                    rc.max_retry_after,
                    rc.max_hosts,
                ),
                config: rc.clone(),
                flights: tokio::sync::Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The registry client behind the caches (for pulls that are not lookups).
    pub fn registry(&self) -> &RegistryClient {
        &self.inner.client
    }

    /// The per-call deadline used through [`Resolve`].
    pub fn deadline(&self) -> Duration {
        self.inner.config.deadline
    }

    /// The verdict for `reference`, answered by `deadline` at the latest: whatever is not
    /// known by then is `unavailable` (or a recent `landed`, flagged stale).
    pub async fn resolve_until(
        &self,
        reference: &Reference,
        ctx: &LookupContext,
        deadline: Instant,
    ) -> Verdict {
        let started = Instant::now();
        let budget = deadline.saturating_duration_since(started);
        // A registry landed may not contact gets its answer now: no cache, flight or
        // pacing state is made for a host a review names at will.
        if let Err(e) = self.inner.client.admit(reference.registry()) {
            return from_error(&e);
        }
        let verdict = match tokio::time::timeout_at(deadline, self.verdict(reference, ctx)).await {
            Ok(v) => v,
            Err(_) => super::no_answer(budget),
        };
        let verdict = match verdict.class {
            VerdictClass::Unavailable | VerdictClass::RateLimited => {
                match self
                    .inner
                    .caches
                    .last_landed(&self.stale_key(reference), ctx)
                {
                    Some(good) => {
                        crate::metrics::global().cache(CacheResult::Stale);
                        let mut stale = Verdict::landed(good.digest);
                        stale.stale = true;
                        stale.cause = Some(format!(
                            "{}; registry failing now ({}: {}), served from cache",
                            stale.detail,
                            verdict.class,
                            verdict.operator_detail()
                        ));
                        stale.detail = format!(
                            "{}; registry failing now ({}: {}), served from cache",
                            stale.detail, verdict.class, verdict.detail
                        );
                        stale
                    }
                    None => verdict,
                }
            }
            _ => verdict,
        };
        tracing::debug!(
            registry = %reference.registry(),
            repository = %reference.repository(),
            verdict = %verdict.class,
            stale = verdict.stale,
            cause = verdict.operator_detail(),
            latency_ms = started.elapsed().as_millis() as u64,
            "resolved"
        );
        verdict
    }

    /// The lookup whose last `landed` answer stands in for `reference` when the registry
    /// fails: the pinned digest (content that existed still does), else the tag.
    fn stale_key(&self, reference: &Reference) -> LookupKey {
        let target = match (reference.digest(), reference.tag()) {
            (Some(digest), _) => Target::Digest(digest.clone()),
            (None, tag) => Target::Tag(tag.unwrap_or(DEFAULT_TAG).to_owned()),
        };
        LookupKey {
            registry: canonical_host(reference.registry()),
            repository: reference.repository().to_owned(),
            target,
        }
    }

    /// The verdict without the deadline.
    async fn verdict(&self, reference: &Reference, ctx: &LookupContext) -> Verdict {
        let registry = canonical_host(reference.registry());
        let key = |target| LookupKey {
            registry: registry.clone(),
            repository: reference.repository().to_owned(),
            target,
        };
        let pinned = reference.digest().cloned();
        let tag = reference.tag().map(str::to_owned);
        match (tag, pinned) {
            (Some(tag), Some(pinned)) => {
                let (by_digest, by_tag) = futures::join!(
                    self.lookup(key(Target::Digest(pinned.clone())), ctx),
                    self.lookup(key(Target::Tag(tag.clone())), ctx),
                );
                match (by_digest, by_tag) {
                    (Err(e), _) => from_error(&e),
                    (Ok(m), Ok(t)) if t.digest == m.digest => Verdict::landed(m.digest),
                    (Ok(m), Ok(t)) => Verdict {
                        digest: Some(t.digest.clone()),
                        ..Verdict::new(
                            VerdictClass::DigestMismatch,
                            format!(
                                "tag {tag} now points at {}, not at the pinned {}",
                                t.digest, m.digest
                            ),
                        )
                    },
                    (Ok(m), Err(e)) if e.class() == VerdictClass::Absent => Verdict {
                        detail: format!(
                            "manifest {} exists; tag {tag} no longer does ({})",
                            m.digest,
                            e.public_detail()
                        ),
                        cause: Some(format!(
                            "manifest {} exists; tag {tag} no longer does ({e})",
                            m.digest
                        )),
                        ..Verdict::landed(m.digest)
                    },
                    (Ok(_), Err(e)) => from_error(&e),
                }
            }
            (None, Some(pinned)) => {
                answer_to_verdict(self.lookup(key(Target::Digest(pinned)), ctx).await)
            }
            (tag, None) => {
                let tag = tag.unwrap_or_else(|| DEFAULT_TAG.to_owned());
                answer_to_verdict(self.lookup(key(Target::Tag(tag)), ctx).await)
            }
        }
    }

    /// One manifest lookup through cache and singleflight. A cache hit borrows the key's
    /// context; only a miss copies it into the shared flight.
    async fn lookup(&self, key: LookupKey, ctx: &LookupContext) -> Answer {
        if let Some(hit) = self.inner.caches.get(&key, ctx).await {
            crate::metrics::global().cache(CacheResult::Hit);
            return hit;
        }
        self.join_flight(key, ctx.clone()).await
    }

    /// Joins the lookup in flight for `key`, or starts one.
    fn join_flight(&self, key: LookupKey, ctx: LookupContext) -> BoxFuture<'static, Answer> {
        let this = self.clone();
        async move {
            let metrics = crate::metrics::global();
            let flight = {
                let mut flights = this.inner.flights.lock().await;
                if let Some(hit) = this.inner.caches.get(&key, &ctx).await {
                    metrics.cache(CacheResult::Hit);
                    return hit;
                }
                metrics.cache(CacheResult::Miss);
                let fkey = (key.clone(), ctx.clone());
                match flights.get(&fkey) {
                    Some(f) => f.clone(),
                    None => {
                        let f = this.start(key, ctx);
                        flights.insert(fkey, f.clone());
                        f
                    }
                }
            };
            flight.await
        }
        .boxed()
    }

    /// Starts a registry lookup in its own task, so it finishes (and fills the cache) even
    /// when the caller's deadline passes first.
    fn start(&self, key: LookupKey, ctx: LookupContext) -> Flight {
        let this = self.clone();
        let task = tokio::spawn(async move {
            let answer = this.fetch(&key, &ctx).await;
            this.inner.caches.put(&key, &ctx, &answer).await;
            this.inner.flights.lock().await.remove(&(key, ctx));
            answer
        });
        async move {
            task.await.unwrap_or_else(|e| {
                // A panic in the lookup is landed's bug: undetermined, and loud in the log.
                tracing::error!(error = %e, "registry lookup task failed");
                Err(RegistryError::Interrupted(e.to_string()))
            })
        }
        .boxed()
        .shared()
    }

    /// Asks the registry (paced), then deep-checks an index when configured.
    async fn fetch(&self, key: &LookupKey, ctx: &LookupContext) -> Answer {
        let inner = &self.inner;
        let request =
            inner
                .client
                .manifest(&key.registry, &key.repository, key.target.as_str(), ctx);
        let manifest = self.paced(key, request).await?;
        if inner.config.deep_check && manifest.is_index() {
            self.deep_check(key, &manifest, ctx).await?;
        }
        Ok(manifest)
    }

    /// Runs one registry `request` for `key`'s repository: refused while the registry asks
    /// to back off, sent under the registry's and project's permits, its answer recorded
    /// for the pacing.
    async fn paced<T>(
        &self,
        key: &LookupKey,
        request: impl Future<Output = Result<T, RegistryError>>,
    ) -> Result<T, RegistryError> {
        let limits = &self.inner.limits;
        let (host, repo) = (&key.registry, &key.repository);
        limits.check_backoff(host, repo)?;
        let answer = {
            let _permits = limits.acquire(host, repo).await;
            // Another lookup may have hit a 429 while we waited for a slot.
            limits.check_backoff(host, repo)?;
            request.await
        };
        limits.record(host, repo, &answer);
        answer
    }

    /// Every child of an index must exist; the first missing one makes the index absent.
    async fn deep_check(
        &self,
        key: &LookupKey,
        index: &Manifest,
        ctx: &LookupContext,
    ) -> Result<(), RegistryError> {
        let request =
            self.inner
                .client
                .get(&key.registry, &key.repository, index.digest.as_str(), ctx);
        let (_, body) = self.paced(key, request).await?;
        let children = index::children(&body).map_err(|e| {
            RegistryError::InvalidResponse(format!("index {} is not valid JSON: {e}", index.digest))
        })?;
        let lookups = children.iter().map(|child| {
            self.lookup(
                LookupKey {
                    target: Target::Digest(child.digest.clone()),
                    ..key.clone()
                },
                ctx,
            )
        });
        let answers = futures::future::join_all(lookups).await;
        let mut undetermined = None;
        for (child, answer) in children.into_iter().zip(answers) {
            match answer {
                Ok(_) => {}
                Err(e) if e.class() == VerdictClass::Absent => {
                    return Err(RegistryError::ChildMissing {
                        index: index.digest.clone(),
                        child: child.digest,
                        platform: child.platform,
                    })
                }
                Err(e) => undetermined = undetermined.or(Some(e)),
            }
        }
        undetermined.map_or(Ok(()), Err)
    }
}

/// The public detail for the client, the whole error for the operator.
fn from_error(e: &RegistryError) -> Verdict {
    Verdict::with_cause(e.class(), e.public_detail(), e.to_string())
}

fn answer_to_verdict(answer: Answer) -> Verdict {
    match answer {
        Ok(m) => Verdict::landed(m.digest),
        Err(e) => from_error(&e),
    }
}

impl Resolve for Resolver {
    fn resolve<'a>(
        &'a self,
        reference: &'a Reference,
        ctx: &'a LookupContext,
    ) -> BoxFuture<'a, Verdict> {
        let deadline = Instant::now() + self.inner.config.deadline;
        Box::pin(Resolver::resolve_until(self, reference, ctx, deadline))
    }

    fn resolve_until<'a>(
        &'a self,
        reference: &'a Reference,
        ctx: &'a LookupContext,
        deadline: Instant,
    ) -> BoxFuture<'a, Verdict> {
        Box::pin(Resolver::resolve_until(self, reference, ctx, deadline))
    }

    fn manifest_until<'a>(
        &'a self,
        reference: &'a Reference,
        ctx: &'a LookupContext,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<bytes::Bytes, Verdict>> {
        Box::pin(Resolver::manifest_until(self, reference, ctx, deadline))
    }
}
