//! Loading every configured policy into the store, and reloading changed files: a new
//! version is built fully before it replaces the old one, and a failed reload leaves the
//! old version serving with the error in the store's status.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use super::abi::PolicyModule;
use super::engine::{EngineError, PolicyEngine};
use super::host::ResolveAccess;
use super::loader::{self, FetchPolicy, PolicyConfig, PolicyLoader, Source};
use super::section::PoliciesConfig;
use super::wasm::LoadError;
use super::{NotLoaded, Policy, PolicySet, PolicyStatus, PolicyStore};

/// How often policy files are checked for changes.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// How long after a failed fetch an `oci:` policy that never loaded is fetched again (a
/// registry outage at start must not leave its rule failing reviews until a restart).
pub const OCI_RETRY_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fingerprint {
    modified: Option<SystemTime>,
    len: u64,
}

struct Slot {
    entry: PolicyConfig,
    source: Result<Source, String>,
    policy: Option<PolicyModule>,
    digest: Option<String>,
    fingerprint: Option<Fingerprint>,
    error: Option<String>,
    // When an `oci:` source was last fetched (tokio's clock, so tests can advance it).
    fetched_at: Option<tokio::time::Instant>,
}

impl Slot {
    fn status(&self) -> PolicyStatus {
        PolicyStatus {
            name: self.entry.name.clone(),
            loaded: self.policy.is_some(),
            error: self.error.clone(),
            source: self.source.as_ref().ok().map(ToString::to_string),
            digest: self.digest.clone(),
        }
    }
}

/// The configured policies, their store, and their reloading.
pub struct PolicyHost {
    loader: PolicyLoader,
    store: Arc<PolicyStore>,
    slots: tokio::sync::Mutex<Vec<Slot>>,
}

async fn fingerprint(path: &Path) -> Option<Fingerprint> {
    let meta = tokio::fs::metadata(path).await.ok()?;
    Some(Fingerprint {
        modified: meta.modified().ok(),
        len: meta.len(),
    })
}

/// Which manifest an `oci:` source was resolved to, pinned or not: the record of what ran.
fn log_resolved(entry: &PolicyConfig, source: &Source, manifest_digest: &str) {
    let pinned = entry
        .oci
        .as_deref()
        .and_then(|r| loader::oci_reference(r).ok())
        .is_some_and(|r| r.digest().is_some());
    tracing::info!(policy = %entry.name, reference = %source, %manifest_digest, pinned, "policy artifact resolved");
}

fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

impl PolicyHost {
    /// Builds the engine from `config`, loads every configured policy (or the defaults),
    /// and records failures in the store's status without stopping the others.
    /// `config_path` anchors relative `path:` entries; `resolve` serves `resolve-image`;
    /// `fetcher` pulls `oci:` sources.
    pub async fn from_config(
        config: impl Into<PoliciesConfig<'_>>,
        config_path: Option<&Path>,
        resolve: Option<ResolveAccess>,
        fetcher: Option<Arc<dyn FetchPolicy>>,
    ) -> Result<Self, EngineError> {
        let config = config.into();
        let engine = PolicyEngine::new(config.limits.clone())?;
        let base = config_path.and_then(Path::parent).map(Path::to_path_buf);
        let mut loader =
            PolicyLoader::new(engine, loader::policy_dir(config.dir)).with_base_dir(base);
        if let Some(access) = resolve {
            loader = loader.with_resolver(access);
        }
        if let Some(fetcher) = fetcher {
            loader = loader.with_fetcher(fetcher);
        }
        Ok(Self::load(loader, loader::entries(config.entries)).await)
    }

    /// Loads `entries` with `loader`.
    pub async fn load(loader: PolicyLoader, entries: Vec<PolicyConfig>) -> Self {
        let mut slots: Vec<Slot> = Vec::with_capacity(entries.len());
        for entry in entries {
            let duplicate = slots.iter().any(|s| s.entry.name == entry.name);
            let source = if duplicate {
                Err(format!("duplicate policy name {:?}", entry.name))
            } else {
                loader.source(&entry).map_err(|e| e.to_string())
            };
            slots.push(Slot {
                entry,
                source,
                policy: None,
                digest: None,
                fingerprint: None,
                error: None,
                fetched_at: None,
            });
        }
        let host = Self {
            loader,
            store: Arc::new(PolicyStore::new(PolicySet::default())),
            slots: tokio::sync::Mutex::new(slots),
        };
        {
            let mut slots = host.slots.lock().await;
            for slot in slots.iter_mut() {
                host.refresh(slot, true).await;
            }
            host.publish(&slots);
        }
        host
    }

    /// The store the admission pipeline reads.
    pub fn store(&self) -> Arc<PolicyStore> {
        self.store.clone()
    }

    /// The loader (engine, policy directory).
    pub fn loader(&self) -> &PolicyLoader {
        &self.loader
    }

    /// Checks every file source once; returns how many policies were replaced.
    pub async fn poll(&self) -> usize {
        let mut slots = self.slots.lock().await;
        let mut replaced = 0;
        let mut changed = false;
        for slot in slots.iter_mut() {
            let before = (slot.digest.clone(), slot.error.clone());
            if self.refresh(slot, false).await {
                replaced += 1;
            }
            changed |= before != (slot.digest.clone(), slot.error.clone());
        }
        if changed {
            self.publish(&slots);
        }
        replaced
    }

    /// Polls every `interval` for as long as the runtime runs (abort the handle to stop).
    pub fn spawn_watch(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let host = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                host.poll().await;
            }
        })
    }

    /// Loads `slot` when forced or when its file changed; true when a new version serves.
    async fn refresh(&self, slot: &mut Slot, force: bool) -> bool {
        let source = match &slot.source {
            Ok(source) => source.clone(),
            Err(error) => {
                if force {
                    tracing::error!(policy = %slot.entry.name, %error, "policy not loaded");
                    slot.error = Some(error.clone());
                }
                return false;
            }
        };
        let path: Option<PathBuf> = match &source {
            Source::File(path) => Some(path.clone()),
            Source::Oci(_) => None,
        };
        if let Some(path) = &path {
            let now = fingerprint(path).await;
            if !force && now == slot.fingerprint {
                return false;
            }
            slot.fingerprint = now;
        } else {
            // An `oci:` tag is fetched once; again only while no version of it has loaded.
            let due = slot
                .fetched_at
                .is_none_or(|at| at.elapsed() >= OCI_RETRY_INTERVAL);
            if !force && (slot.policy.is_some() || !due) {
                return false;
            }
            slot.fetched_at = Some(tokio::time::Instant::now());
        }
        let started = Instant::now();
        let result = match self.loader.fetch(&source).await {
            Ok(fetched) => {
                if let Some(manifest_digest) = &fetched.manifest_digest {
                    log_resolved(&slot.entry, &source, manifest_digest);
                }
                let bytes = fetched.bytes;
                let digest = sha256(&bytes);
                if slot.policy.is_some() && slot.digest.as_deref() == Some(digest.as_str()) {
                    return false;
                }
                self.loader
                    .build(&slot.entry, bytes)
                    .await
                    .map(|policy| (policy, digest))
            }
            Err(error) => Err(error),
        };
        self.record(slot, &source, result, started)
    }

    fn record(
        &self,
        slot: &mut Slot,
        source: &Source,
        result: Result<(PolicyModule, String), LoadError>,
        started: Instant,
    ) -> bool {
        let name = &slot.entry.name;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok((policy, digest)) => {
                let reloaded = slot.policy.is_some();
                tracing::info!(policy = %name, %source, %digest, elapsed_ms, reloaded, "policy loaded");
                slot.policy = Some(policy);
                slot.digest = Some(digest);
                slot.error = None;
                true
            }
            Err(error) => {
                let serving = slot.policy.is_some();
                tracing::error!(policy = %name, %source, %error, keeps_serving_old = serving, "policy failed to load");
                slot.error = Some(if serving {
                    format!("reload failed, previous version still serving: {error}")
                } else {
                    error.to_string()
                });
                false
            }
        }
    }

    fn publish(&self, slots: &[Slot]) {
        let policies = slots
            .iter()
            .map(|s| {
                let policy: Box<dyn Policy> = match &s.policy {
                    Some(policy) => Box::new(policy.clone()),
                    None => Box::new(NotLoaded::new(
                        s.entry.name.clone(),
                        s.error.clone().unwrap_or_else(|| "not loaded yet".into()),
                    )),
                };
                loader::to_loaded(&s.entry, policy)
            })
            .collect();
        let status = slots.iter().map(Slot::status).collect();
        self.store.replace(PolicySet { policies }, status);
    }
}
