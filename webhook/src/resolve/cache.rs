//! The answer caches of DESIGN.md: tag → digest (minutes), digest → exists (long), absent
//! (seconds), and a longer-lived last-known-good map for stale-if-error.
//!
//! Sharing across credentials: a `landed` answer describes the registry's content, not the
//! caller, so it is shared by every workload. An `absent` answer is keyed by the caller's
//! [`LookupContext`] too, because some registries answer 404 to callers who may not see a
//! repository; it lives only seconds anyway. Errors (unauthorized, forbidden, rate_limited,
//! unavailable) are never cached.

use std::time::{Duration, Instant};

use moka::Expiry;
use serde::Deserialize;

use super::LookupContext;
use crate::registry::{Manifest, RegistryError};
use crate::verdict::Verdict;

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
    /// How long a `landed` answer may be served, flagged stale, while the registry fails.
    #[serde(with = "humantime_serde")]
    pub stale_if_error: Duration,
    /// Most entries per cache.
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
    Digest(String),
}

impl Target {
    /// The manifest path component.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Tag(s) | Self::Digest(s) => s,
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

#[derive(Clone)]
struct Found {
    manifest: Manifest,
    ttl: Duration,
}

struct FoundExpiry;

impl Expiry<LookupKey, Found> for FoundExpiry {
    fn expire_after_create(&self, _: &LookupKey, v: &Found, _: Instant) -> Option<Duration> {
        Some(v.ttl)
    }
}

/// The caches one resolver keeps.
pub struct Caches {
    config: CacheConfig,
    found: moka::future::Cache<LookupKey, Found>,
    absent: moka::future::Cache<(LookupKey, LookupContext), RegistryError>,
    last_good: moka::future::Cache<String, Verdict>,
}

impl Caches {
    /// Empty caches with these lifetimes.
    pub fn new(config: &CacheConfig) -> Self {
        Self {
            config: config.clone(),
            found: moka::future::Cache::builder()
                .max_capacity(config.max_entries)
                .expire_after(FoundExpiry)
                .build(),
            absent: moka::future::Cache::builder()
                .max_capacity(config.max_entries)
                .time_to_live(config.absent_ttl.max(Duration::from_millis(1)))
                .build(),
            last_good: moka::future::Cache::builder()
                .max_capacity(config.max_entries)
                .time_to_live(config.stale_if_error.max(Duration::from_millis(1)))
                .build(),
        }
    }

    /// A cached answer for `key` as seen by `ctx`.
    pub async fn get(
        &self,
        key: &LookupKey,
        ctx: &LookupContext,
    ) -> Option<Result<Manifest, RegistryError>> {
        if let Some(found) = self.found.get(key).await {
            return Some(Ok(found.manifest));
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
                if !ttl.is_zero() {
                    let found = Found {
                        manifest: manifest.clone(),
                        ttl,
                    };
                    self.found.insert(key.clone(), found).await;
                }
            }
            Err(e) if e.class() == crate::verdict::VerdictClass::Absent => {
                if !self.config.absent_ttl.is_zero() {
                    self.absent
                        .insert((key.clone(), ctx.clone()), e.clone())
                        .await;
                }
            }
            Err(_) => {}
        }
    }

    /// Remembers a `landed` verdict for stale-if-error.
    pub async fn remember_landed(&self, normalized: String, verdict: &Verdict) {
        if !self.config.stale_if_error.is_zero() {
            self.last_good.insert(normalized, verdict.clone()).await;
        }
    }

    /// The last `landed` verdict for a reference, if recent enough.
    pub async fn last_landed(&self, normalized: &str) -> Option<Verdict> {
        self.last_good.get(normalized).await
    }
}
