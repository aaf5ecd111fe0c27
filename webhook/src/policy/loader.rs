//! From `policies:` in landed.yaml to loaded policies: where each comes from, the built-in
//! defaults, and the policy directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::Deserialize;

use super::abi::{Abi, PolicyModule};
use super::engine::PolicyEngine;
use super::host::ResolveAccess;
use super::wasm::LoadError;
use super::{FailurePolicy, InputScope, Loaded, Policy, RunsOn};
use crate::image::{Reference, ReferenceError};
use crate::mode::Mode;

/// Env var naming the directory of built-in policy components.
pub const POLICY_DIR_ENV: &str = "LANDED_POLICY_DIR";

/// Where packaged built-ins live.
pub const SYSTEM_POLICY_DIR: &str = "/usr/lib/landed/policies";

/// Where `policies/build.sh` puts components, relative to the workspace root.
pub const DEV_POLICY_DIR: &str = "policies/target/components";

/// The built-in policies, in evaluation order.
pub const BUILTINS: [&str; 4] = [
    "require-landed",
    "pin-digest",
    "allowed-registries",
    "no-latest-tag",
];

/// Where a built-in runs when its entry has no `runsOn`: `pin-digest` only patches, the
/// others only allow, deny or warn.
pub fn builtin_runs_on(name: &str) -> Option<RunsOn> {
    match name {
        "pin-digest" => Some(RunsOn::Mutate),
        "require-landed" | "allowed-registries" | "no-latest-tag" => Some(RunsOn::Validate),
        _ => None,
    }
}

/// One entry of `policies:` in landed.yaml.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyConfig {
    /// Name used in messages, status and metrics.
    pub name: String,
    /// Component file. With neither `path` nor `oci`, `name` must be a built-in, loaded
    /// from the policy directory.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// OCI artifact reference holding the component, pinned by digest
    /// (`registry/repo@sha256:…` or `registry/repo:tag@sha256:…`).
    #[serde(default)]
    pub oci: Option<String>,
    /// Accept an `oci:` reference without a digest (whatever its tag points to when fetched).
    #[serde(default)]
    pub allow_unpinned: bool,
    /// Settings handed to the policy (checked at load by `validate-settings`).
    #[serde(default)]
    pub settings: serde_json::Value,
    /// Overrides the namespace's mode for this policy's denials.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Deny (`Fail`, default) or allow with a warning (`Ignore`) when the policy errs.
    #[serde(default)]
    pub failure_policy: Option<FailurePolicy>,
    /// The webhook paths it runs on: `validate`, `mutate` or `both` (built-ins: where their
    /// answer is used; other policies: both).
    #[serde(default)]
    pub runs_on: Option<RunsOn>,
    /// What of the review it is handed: `full` or `images` (built-ins: `images`; other
    /// policies: `full`).
    #[serde(default)]
    pub input: Option<InputScope>,
    /// `landed` (a component) or `kubewarden-wapc` (a Kubewarden waPC module); read from
    /// the file when absent.
    #[serde(default)]
    pub abi: Option<Abi>,
}

impl PolicyConfig {
    /// A built-in with default settings.
    pub fn builtin(name: &str, failure_policy: FailurePolicy) -> Self {
        Self {
            name: name.to_owned(),
            path: None,
            oci: None,
            allow_unpinned: false,
            settings: serde_json::Value::Null,
            mode: None,
            failure_policy: Some(failure_policy),
            runs_on: None,
            input: None,
            abi: None,
        }
    }

    /// The paths this entry runs on: `runsOn`, else a built-in's own, else both.
    pub fn runs_on(&self) -> RunsOn {
        let builtin = self.is_builtin().then(|| builtin_runs_on(&self.name));
        self.runs_on.or(builtin.flatten()).unwrap_or_default()
    }

    /// Whether this entry is a built-in (a built-in's name and no source of its own).
    fn is_builtin(&self) -> bool {
        matches!((&self.path, &self.oci), (None, None)) && BUILTINS.contains(&self.name.as_str())
    }

    /// What of the review this entry is handed: `input`, else `images` for a built-in
    /// (none reads the object), else the whole request.
    pub fn input_scope(&self) -> InputScope {
        self.input.unwrap_or(match self.is_builtin() {
            true => InputScope::Images,
            false => InputScope::Full,
        })
    }
}

/// The policies that run when landed.yaml has no `policies:` key: `require-landed`
/// (fail closed) and `pin-digest` (patches on `/mutate` only; fail open).
/// `allowed-registries` needs settings and `no-latest-tag` is opt-in: list them to use them.
pub fn default_entries() -> Vec<PolicyConfig> {
    vec![
        PolicyConfig::builtin("require-landed", FailurePolicy::Fail),
        PolicyConfig::builtin("pin-digest", FailurePolicy::Ignore),
    ]
}

/// The configured entries, or the defaults.
pub fn entries(configured: Option<&[PolicyConfig]>) -> Vec<PolicyConfig> {
    configured.map_or_else(default_entries, <[PolicyConfig]>::to_vec)
}

/// The directory of built-in components: `configured` (`policyDir`), then `$LANDED_POLICY_DIR`, then
/// `/usr/lib/landed/policies`, then a dev checkout's `policies/target/components`
/// (searched upwards from the current directory and the executable, and beside this
/// crate's source). The first existing one wins; the system path when none exists.
pub fn policy_dir(configured: Option<&Path>) -> PathBuf {
    if let Some(dir) = configured {
        return dir.to_path_buf();
    }
    if let Some(dir) = std::env::var_os(POLICY_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let system = PathBuf::from(SYSTEM_POLICY_DIR);
    if system.is_dir() {
        return system;
    }
    let mut starts: Vec<PathBuf> = Vec::new();
    starts.extend(std::env::current_dir().ok());
    starts.extend(std::env::current_exe().ok());
    starts.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    starts
        .iter()
        .flat_map(|s| s.ancestors())
        .map(|a| a.join(DEV_POLICY_DIR))
        .find(|d| d.is_dir())
        .unwrap_or(system)
}

/// The component file of a built-in in `dir` (`name.wasm`, or cargo's `name_with_underscores.wasm`).
pub fn builtin_file(dir: &Path, name: &str) -> PathBuf {
    let plain = dir.join(format!("{name}.wasm"));
    if plain.exists() {
        return plain;
    }
    dir.join(format!("{}.wasm", name.replace('-', "_")))
}

/// Fetches a policy component from an OCI registry.
///
/// This is the hook for the registry client: until one is attached with
/// [`PolicyLoader::with_fetcher`], `oci:` entries fail to load with a clear message and
/// the other policies keep working.
pub trait FetchPolicy: Send + Sync {
    /// The component stored at `reference`; a pinned reference's manifest must match its pin.
    fn fetch<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, Result<FetchedPolicy, String>>;
}

/// A policy component's bytes and, from a registry, the manifest digest they came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedPolicy {
    /// The component.
    pub bytes: Vec<u8>,
    /// The digest of the manifest as received (`oci:` sources).
    pub manifest_digest: Option<String>,
}

/// The reference of an `oci:` source (a leading `oci://` is allowed).
pub fn oci_reference(text: &str) -> Result<Reference, ReferenceError> {
    Reference::parse(text.trim_start_matches("oci://"))
}

/// Where one entry's component comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A file (watched for changes).
    File(PathBuf),
    /// An OCI artifact.
    Oci(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(p) => write!(f, "{}", p.display()),
            Self::Oci(r) => write!(f, "oci://{r}"),
        }
    }
}

/// Turns config entries into policies.
#[derive(Clone)]
pub struct PolicyLoader {
    engine: PolicyEngine,
    dir: PathBuf,
    base: Option<PathBuf>,
    resolve: Option<ResolveAccess>,
    fetcher: Option<Arc<dyn FetchPolicy>>,
}

impl PolicyLoader {
    /// A loader with `engine`, built-ins from `dir`.
    pub fn new(engine: PolicyEngine, dir: PathBuf) -> Self {
        Self {
            engine,
            dir,
            base: None,
            resolve: None,
            fetcher: None,
        }
    }

    /// Relative `path:` entries are resolved against `base` (the config file's directory).
    pub fn with_base_dir(mut self, base: Option<PathBuf>) -> Self {
        self.base = base;
        self
    }

    /// Policies answer `resolve-image` through `access`.
    pub fn with_resolver(mut self, access: ResolveAccess) -> Self {
        self.resolve = Some(access);
        self
    }

    /// `oci:` entries are fetched with `fetcher`.
    pub fn with_fetcher(mut self, fetcher: Arc<dyn FetchPolicy>) -> Self {
        self.fetcher = Some(fetcher);
        self
    }

    /// The engine.
    pub fn engine(&self) -> &PolicyEngine {
        &self.engine
    }

    /// The built-in directory in use.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `entry` comes from.
    pub fn source(&self, entry: &PolicyConfig) -> Result<Source, LoadError> {
        match (&entry.path, &entry.oci) {
            (Some(_), Some(_)) => Err(LoadError::Contract(format!(
                "policy {:?}: give `path` or `oci`, not both",
                entry.name
            ))),
            (Some(path), None) => Ok(Source::File(match &self.base {
                Some(base) if path.is_relative() => base.join(path),
                _ => path.clone(),
            })),
            (None, Some(reference)) => {
                let parsed = oci_reference(reference).map_err(|e| LoadError::Source {
                    policy: entry.name.clone(),
                    reason: format!("`oci: {reference}` is not a valid reference: {e}"),
                })?;
                if parsed.digest().is_none() && !entry.allow_unpinned {
                    return Err(LoadError::Source {
                        policy: entry.name.clone(),
                        reason: format!(
                            "`oci: {reference}` is not pinned by digest: pin it \
                             ({reference}@sha256:…, the digest of the manifest you reviewed) \
                             or set `allowUnpinned: true` to run whatever the tag points to"
                        ),
                    });
                }
                Ok(Source::Oci(reference.clone()))
            }
            (None, None) if BUILTINS.contains(&entry.name.as_str()) => {
                Ok(Source::File(builtin_file(&self.dir, &entry.name)))
            }
            (None, None) => Err(LoadError::Contract(format!(
                "policy {:?} is not a built-in ({}); give it a `path` or `oci` source",
                entry.name,
                BUILTINS.join(", ")
            ))),
        }
    }

    /// The bytes of `source` (with the manifest digest for `oci:` sources).
    pub async fn fetch(&self, source: &Source) -> Result<FetchedPolicy, LoadError> {
        match source {
            Source::File(path) => match tokio::fs::read(path).await {
                Ok(bytes) => Ok(FetchedPolicy {
                    bytes,
                    manifest_digest: None,
                }),
                Err(e) => Err(self.unreadable(path, e)),
            },
            Source::Oci(reference) => match &self.fetcher {
                Some(fetcher) => {
                    fetcher
                        .fetch(reference)
                        .await
                        .map_err(|reason| LoadError::Fetch {
                            source_ref: reference.clone(),
                            reason,
                        })
                }
                None => Err(LoadError::Fetch {
                    source_ref: reference.clone(),
                    reason:
                        "loading policies from OCI registries is not available in this build yet"
                            .into(),
                }),
            },
        }
    }

    fn unreadable(&self, path: &Path, e: std::io::Error) -> LoadError {
        match e.kind() {
            std::io::ErrorKind::NotFound if path.starts_with(&self.dir) => LoadError::Fetch {
                source_ref: path.display().to_string(),
                reason: "built-in policy not found: build them with policies/build.sh \
                         or set policyDir / LANDED_POLICY_DIR"
                    .into(),
            },
            _ => LoadError::Read {
                path: path.to_owned(),
                source: e,
            },
        }
    }

    /// Compiles `bytes` for `entry` (CPU-heavy: runs on the blocking pool).
    pub async fn build(
        &self,
        entry: &PolicyConfig,
        bytes: Vec<u8>,
    ) -> Result<PolicyModule, LoadError> {
        let engine = self.engine.clone();
        let name = entry.name.clone();
        let settings = entry.settings.clone();
        let resolve = self.resolve.clone();
        let (scope, abi) = (entry.input, entry.abi);
        let builtin = entry.input_scope();
        tokio::task::spawn_blocking(move || {
            let policy = PolicyModule::load(&engine, &name, &bytes, &settings, abi)?;
            let policy = match resolve {
                Some(access) => policy.with_resolver(access),
                None => policy,
            };
            // A Kubewarden policy reads the whole request unless its entry says otherwise.
            let scope = match &policy {
                PolicyModule::Kubewarden(_) => scope.unwrap_or(InputScope::Full),
                PolicyModule::Landed(_) => builtin,
            };
            policy.with_input_scope(scope)
        })
        .await
        .map_err(|e| LoadError::Contract(format!("compile task failed: {e}")))?
    }
}

/// `policy` under `entry`'s settings, failure policy, mode and paths, as the pipeline runs it.
pub fn to_loaded(entry: &PolicyConfig, policy: Box<dyn Policy>) -> Loaded {
    Loaded {
        policy,
        settings: entry.settings.clone(),
        failure_policy: entry.failure_policy.unwrap_or_default(),
        mode: entry.mode,
        runs_on: entry.runs_on(),
    }
}
