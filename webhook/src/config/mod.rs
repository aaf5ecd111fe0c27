//! `landed.yaml`: every field optional, unknown fields refused with their line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::admission::ReviewSettings;
pub use crate::admission::{BreakglassConfig, BREAKGLASS_ANNOTATION};
use crate::audit::AuditConfig;
pub use crate::mode::{Mode, NamespaceConfig, OnUndetermined};
use crate::policy::{PoliciesConfig, PolicyConfig, PolicyLimits};
use crate::registry::{EgressConfig, RegistryConfig};
use crate::resolve::{CacheConfig, ResolveConfig, ResolverConfig};
pub use crate::server::ServerConfig;

/// Namespaces never reviewed unless the config says otherwise.
pub const DEFAULT_EXCLUDED_NAMESPACES: [&str; 3] =
    ["kube-system", "kube-public", "kube-node-lease"];

/// The whole of landed.yaml.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Config {
    /// Mode for every namespace without an override.
    pub mode: Mode,
    /// Undetermined handling for every namespace without an override.
    pub on_undetermined: OnUndetermined,
    /// Namespaces never reviewed (the webhook's own is added from `POD_NAMESPACE`).
    pub excluded_namespaces: Vec<String>,
    /// Per-namespace overrides.
    pub namespaces: BTreeMap<String, NamespaceConfig>,
    /// Breakglass annotation handling.
    pub breakglass: BreakglassConfig,
    /// On UPDATE, also check images that did not change against the old object.
    pub check_unchanged_images: bool,
    /// HTTPS server.
    pub server: ServerConfig,
    /// Lookup budgets.
    pub resolve: ResolveConfig,
    /// Per-registry overrides; listed registries are contacted whatever they resolve to.
    pub registries: Vec<RegistryConfig>,
    /// Which unlisted registries a review may make landed contact.
    pub egress: EgressConfig,
    /// Policies to run, in order; absent = the default built-ins (see `policy::default_entries`).
    pub policies: Option<Vec<PolicyConfig>>,
    /// Directory of the built-in policy components (else `$LANDED_POLICY_DIR`, the system
    /// directory, or a dev checkout's build output).
    pub policy_dir: Option<PathBuf>,
    /// Per-call limits of every policy (deadline, memory, fuel, output size).
    pub policy_limits: PolicyLimits,
    /// Answer cache lifetimes.
    pub cache: CacheConfig,
    /// The server's docker config.json (default `$DOCKER_CONFIG/config.json`, then
    /// `$HOME/.docker/config.json`).
    pub docker_config: Option<PathBuf>,
    /// In-server audit: Events for would-be denials, background scan, PolicyReports.
    pub audit: AuditConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mode: Mode::default(),
            on_undetermined: OnUndetermined::default(),
            excluded_namespaces: DEFAULT_EXCLUDED_NAMESPACES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            namespaces: BTreeMap::new(),
            breakglass: BreakglassConfig::default(),
            check_unchanged_images: false,
            server: ServerConfig::default(),
            resolve: ResolveConfig::default(),
            registries: Vec::new(),
            egress: EgressConfig::default(),
            policies: None,
            policy_dir: None,
            policy_limits: PolicyLimits::default(),
            cache: CacheConfig::default(),
            docker_config: None,
            audit: AuditConfig::default(),
        }
    }
}

/// Why a config cannot be used; the server refuses to start with it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed or has an unknown or mistyped field (the message has the line).
    #[error("invalid config {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// Fields parse but contradict each other.
    #[error("invalid config {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml(&text, path)
    }

    /// Parses and validates config text; `origin` names it in errors.
    pub fn from_yaml(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        // An empty file (or one with only comments) is the default config.
        let config: Config = if text.lines().all(|l| {
            let l = l.trim();
            l.is_empty() || l.starts_with('#') || l == "---"
        }) {
            Config::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| ConfigError::Parse {
                path: origin.to_owned(),
                message: e.to_string(),
            })?
        };
        config.validate().map_err(|message| ConfigError::Invalid {
            path: origin.to_owned(),
            message,
        })?;
        Ok(config)
    }

    /// Every section's own checks, then the budgets that span sections.
    fn validate(&self) -> Result<(), String> {
        self.server.validate()?;
        self.resolve.validate()?;
        self.policy_limits.validate()?;
        let timeout = self.server.webhook_timeout;
        if self.resolve.deadline.is_zero() || self.resolve.deadline >= timeout {
            return Err(format!(
                "resolve.deadline ({:?}) must be above zero and below server.webhookTimeout ({timeout:?}) so the webhook always answers in time",
                self.resolve.deadline
            ));
        }
        let request = self.server.effective_request_timeout();
        if request <= self.resolve.deadline {
            return Err(format!(
                "server.requestTimeout ({request:?}) must be above resolve.deadline ({:?}); set it a little above server.webhookTimeout",
                self.resolve.deadline
            ));
        }
        self.egress.validate()?;
        for (i, entry) in self.registries.iter().enumerate() {
            entry
                .validate()
                .map_err(|e| format!("registries[{i}] ({}): {e}", entry.host))?;
        }
        self.breakglass
            .validate(self.policy_names().iter().map(String::as_str))
    }

    /// The names of the configured policies (or of the defaults).
    fn policy_names(&self) -> Vec<String> {
        match &self.policies {
            Some(entries) => entries.iter().map(|p| p.name.clone()).collect(),
            None => crate::policy::default_entries()
                .into_iter()
                .map(|p| p.name)
                .collect(),
        }
    }

    /// What the admission pipeline reviews with; `own_namespace` is the webhook's own
    /// (`POD_NAMESPACE`), never reviewed.
    pub fn review_settings(&self, own_namespace: Option<String>) -> ReviewSettings {
        ReviewSettings {
            mode: self.mode,
            on_undetermined: self.on_undetermined,
            namespaces: self.namespaces.clone(),
            excluded_namespaces: self.excluded_namespaces.clone(),
            own_namespace: own_namespace.filter(|ns| !ns.is_empty()),
            breakglass: self.breakglass.clone(),
            check_unchanged_images: self.check_unchanged_images,
            lookup_deadline: self.resolve.deadline,
        }
    }
}

impl<'a> From<&'a Config> for ResolverConfig<'a> {
    fn from(config: &'a Config) -> Self {
        Self {
            resolve: &config.resolve,
            cache: &config.cache,
            registries: &config.registries,
            egress: &config.egress,
            docker_config: config.docker_config.as_deref(),
        }
    }
}

impl<'a> From<&'a Config> for PoliciesConfig<'a> {
    fn from(config: &'a Config) -> Self {
        Self {
            entries: config.policies.as_deref(),
            dir: config.policy_dir.as_deref(),
            limits: &config.policy_limits,
        }
    }
}

#[cfg(test)]
mod tests;
