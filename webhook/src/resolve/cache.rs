//! The answer caches of DESIGN.md: tag → digest (minutes), digest → exists (long), absent
//! (seconds); a `landed` answer is kept past its lifetime for stale-if-error.
//!
//! Sharing across credentials: a `landed` answer obtained anonymously or with the server's
//! own identity (GCP, its docker config) is shared by every workload: it says what landed
//! itself can see. One obtained with a namespace's pull secret is kept under the caller's
//! [`LookupContext`], so another namespace never learns from it what that secret reaches.
//! An `absent` answer is always keyed by the caller's context, because some registries
//! answer 404 to callers who may not see a repository; it lives only seconds anyway. Errors
//! (unauthorized, forbidden, rate_limited, unavailable) are never cached.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::LookupContext;
use crate::image::Digest;
use crate::registry::client::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use crate::registry::{Manifest, RegistryError};

/// Cache lifetimes (`cache:` in landed.yaml).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct CacheConfig {
    /// How long a tag → digest answer is reused.
    #[serde(with = "humantime_serde")]
    pub tag_ttl: Duration,
    /// How long a digest → exists answer is reused (content-addressed, so long).
    #[serde(with = "humantime_serde")]
    pub digest_ttl: Duration,
    /// How long an `absent` answer is reused (short, so a re-push is seen quickly).
    #[serde(with = "humantime_serde")]
    pub absent_ttl: Duration,
    /// How long after a `landed` answer went out of date it may still be served, flagged
    /// stale, while the registry fails (can't tell: unavailable or rate limited).
    #[serde(with = "humantime_serde")]
    pub stale_if_error: Duration,
    /// Most entries per cache (the `landed` answers' cache may hold up to an eighth more:
    /// its shards fill unevenly).
    pub max_entries: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            tag_ttl: Duration::from_secs(300),
            digest_ttl: Duration::from_secs(3600),
            absent_ttl: Duration::from_secs(10),
            stale_if_error: Duration::from_secs(3600),
            max_entries: 100_000,
        }
    }
}

/// What one registry lookup asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// A tag.
    Tag(String),
    /// A digest (`sha256:…`).
    Digest(Digest),
}

impl Target {
    /// The manifest path component.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Tag(tag) => tag,
            Self::Digest(digest) => digest.as_str(),
        }
    }
}

/// One manifest lookup: registry (canonical), repository and tag or digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LookupKey {
    /// Registry host, canonical.
    pub registry: String,
    /// Repository.
    pub repository: String,
    /// Tag or digest.
    pub target: Target,
}

/// A `landed` answer as kept: the digest, the media type as a constant,
/// fresh until `fresh_until`, then only good for stale-if-error until `expires`.
#[derive(Clone)]
struct Landed {
    digest: Digest,
    media_type: Option<&'static str>,
    namespaced: bool,
    fresh_until: Instant,
    expires: Instant,
}

impl Landed {
    fn manifest(&self) -> Manifest {
        Manifest {
            digest: self.digest.clone(),
            media_type: self.media_type.map(str::to_owned),
            namespaced: self.namespaced,
        }
    }
}

/// The four manifest media types the client asks for; any other is not kept (only
/// [`Manifest::is_index`] reads it, and an unknown type is not an index).
fn known_media_type(media_type: Option<&str>) -> Option<&'static str> {
    [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST]
        .into_iter()
        .find(|known| media_type == Some(*known))
}

/// The caches one resolver keeps.
///
/// `landed` answers, the ones a busy cluster holds by the hundred thousand, live in a
/// quick_cache keyed by one packed string: ~200 bytes per tag where a moka entry of the same
/// data took ~500 (measured), and one entry serves both the fresh answer and stale-if-error.
/// Their lifetimes are checked on read. The short-lived, per-caller `absent` answers stay in
/// moka for its time-to-live.
pub struct Caches {
    config: CacheConfig,
    landed: quick_cache::sync::Cache<Box<str>, Landed>,
    absent: moka::future::Cache<(LookupKey, LookupContext), RegistryError>,
}

/// The key of an answer only `ctx` may reuse: the `shared` packed key, a NUL (which neither
/// a reference nor a Kubernetes name contains), then who asked.
fn scoped(shared: &str, ctx: &LookupContext) -> Box<str> {
    let mut packed = String::from(shared);
    packed.push('\0');
    packed.push_str(ctx.namespace.as_deref().unwrap_or(""));
    packed.push('/');
    packed.push_str(ctx.service_account.as_deref().unwrap_or(""));
    for secret in &ctx.pull_secrets {
        packed.push('/');
        packed.push_str(secret);
    }
    packed.into_boxed_str()
}

impl LookupKey {
    /// `registry/repository:tag` or `registry/repository@digest`: unambiguous, since a
    /// registry host and a repository contain neither `:`-then-tag nor `@`.
    fn packed(&self) -> Box<str> {
        let separator = match self.target {
            Target::Tag(_) => ':',
            Target::Digest(_) => '@',
        };
        let target = self.target.as_str();
        let mut packed =
            String::with_capacity(self.registry.len() + self.repository.len() + target.len() + 2);
        packed.push_str(&self.registry);
        packed.push('/');
        packed.push_str(&self.repository);
        packed.push(separator);
        packed.push_str(target);
        packed.into_boxed_str()
    }
}

impl Caches {
    /// Empty caches with these lifetimes.
    pub fn new(config: &CacheConfig) -> Self {
        // quick_cache splits its capacity evenly over shards and a key's shard is its hash,
        // so shards fill unevenly: an eighth more room lets `max_entries` answers all stay.
        let entries = usize::try_from(config.max_entries).unwrap_or(usize::MAX);
        let capacity = entries.saturating_add(entries / 8).max(1);
        Self {
            config: config.clone(),
            landed: quick_cache::sync::Cache::new(capacity),
            absent: moka::future::Cache::builder()
                .max_capacity(config.max_entries)
                .time_to_live(config.absent_ttl.max(Duration::from_millis(1)))
                .build(),
        }
    }

    /// A fresh cached answer for `key` as seen by `ctx`.
    pub async fn get(
        &self,
        key: &LookupKey,
        ctx: &LookupContext,
    ) -> Option<Result<Manifest, RegistryError>> {
        let fresh = self.find_landed(key, ctx, |_, landed| {
            (Instant::now() < landed.fresh_until).then(|| landed.manifest())
        });
        if let Some(manifest) = fresh {
            return Some(Ok(manifest));
        }
        if self.config.absent_ttl.is_zero() {
            return None;
        }
        self.absent.get(&(key.clone(), ctx.clone())).await.map(Err)
    }

    /// Records a fresh answer; only `landed` and `absent` are kept.
    pub async fn put(
        &self,
        key: &LookupKey,
        ctx: &LookupContext,
        answer: &Result<Manifest, RegistryError>,
    ) {
        match answer {
            Ok(manifest) => {
                let ttl = match key.target {
                    Target::Tag(_) => self.config.tag_ttl,
                    Target::Digest(_) => self.config.digest_ttl,
                };
                let kept = ttl.saturating_add(self.config.stale_if_error);
                if kept.is_zero() {
                    return;
                }
                let now = Instant::now();
                let landed = Landed {
                    digest: manifest.digest.clone(),
                    media_type: known_media_type(manifest.media_type.as_deref()),
                    namespaced: manifest.namespaced,
                    fresh_until: now + ttl,
                    expires: now + kept,
                };
                let packed = match manifest.namespaced {
                    true => scoped(&key.packed(), ctx),
                    false => key.packed(),
                };
                self.landed.insert(packed, landed);
            }
            Err(e) if e.class() == crate::verdict::VerdictClass::Absent => {
                // A landed answer for the key is now wrong, even as a stale fallback.
                let shared = key.packed();
                self.landed.remove(&*scoped(&shared, ctx));
                self.landed.remove(&*shared);
                if !self.config.absent_ttl.is_zero() {
                    self.absent
                        .insert((key.clone(), ctx.clone()), e.clone())
                        .await;
                }
            }
            Err(_) => {}
        }
    }

    /// The last `landed` answer for `key` that `ctx` may see, fresh or not, if the registry
    /// confirmed it less than `staleIfError` after it went out of date: what stale-if-error
    /// may serve.
    pub fn last_landed(&self, key: &LookupKey, ctx: &LookupContext) -> Option<Manifest> {
        self.find_landed(key, ctx, |packed, landed| {
            if Instant::now() < landed.expires {
                Some(landed.manifest())
            } else {
                self.landed.remove(packed);
                None
            }
        })
    }

    /// What `take` makes of the `landed` entry for `key`: the shared one first, then, only
    /// when that gives nothing, the one kept for `ctx` (so a shared hit builds one key).
    fn find_landed<T>(
        &self,
        key: &LookupKey,
        ctx: &LookupContext,
        mut take: impl FnMut(&str, &Landed) -> Option<T>,
    ) -> Option<T> {
        let shared = key.packed();
        let mut try_key = |packed: &str| {
            let landed = self.landed.get(packed)?;
            take(packed, &landed)
        };
        try_key(&shared).or_else(|| try_key(&scoped(&shared, ctx)))
    }
}
