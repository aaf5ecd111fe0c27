//! `landed.yaml`: every field optional, unknown fields refused with their line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use crate::admission::{BreakglassConfig, BREAKGLASS_ANNOTATION};
use crate::audit::AuditConfig;
pub use crate::mode::{Mode, OnUndetermined};
use crate::policy::{PolicyConfig, PolicyLimits};
use crate::registry::{EgressConfig, RegistryConfig};
use crate::resolve::{CacheConfig, ResolveConfig};
pub use crate::server::ServerConfig;

/// Namespaces never reviewed unless the config says otherwise.
pub const DEFAULT_EXCLUDED_NAMESPACES: [&str; 3] =
    ["kube-system", "kube-public", "kube-node-lease"];

/// Overrides for one namespace (`namespaces.<name>` in landed.yaml).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceConfig {
    /// Mode for this namespace.
    pub mode: Option<Mode>,
    /// Undetermined handling for this namespace.
    pub on_undetermined: Option<OnUndetermined>,
}

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

    fn validate(&self) -> Result<(), String> {
        self.server.validate()?;
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

    /// Mode and undetermined handling for a namespace (cluster-scoped objects use the globals).
    pub fn effective(&self, namespace: Option<&str>) -> (Mode, OnUndetermined) {
        let over = namespace.and_then(|ns| self.namespaces.get(ns));
        (
            over.and_then(|o| o.mode).unwrap_or(self.mode),
            over.and_then(|o| o.on_undetermined)
                .unwrap_or(self.on_undetermined),
        )
    }

    /// Whether reviews in this namespace are skipped without work.
    pub fn is_excluded(&self, namespace: Option<&str>, own_namespace: Option<&str>) -> bool {
        match namespace {
            Some(ns) => {
                own_namespace == Some(ns) || self.excluded_namespaces.iter().any(|e| e == ns)
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_yaml(text, Path::new("landed.yaml"))
    }

    #[test]
    fn empty_file_is_the_default_config() {
        assert_eq!(parse("# nothing\n").expect("empty"), Config::default());
        assert_eq!(parse("").expect("empty"), Config::default());
    }

    #[test]
    fn unknown_field_is_refused_with_its_line() {
        let err = parse("mode: warn\nserver:\n  listen: 127.0.0.1:9443\n  tlsCert: /x\n")
            .expect_err("unknown field");
        let text = err.to_string();
        assert!(text.contains("tlsCert"), "{text}");
        assert!(text.contains("line 4"), "{text}");
    }

    #[test]
    fn misspelled_enum_value_is_refused() {
        let err = parse("mode: enforcing\n").expect_err("bad mode");
        assert!(err.to_string().contains("enforcing"), "{err}");
    }

    #[test]
    fn deadline_must_stay_below_the_webhook_timeout() {
        let err = parse("resolve:\n  deadline: 10s\nserver:\n  webhookTimeout: 5s\n")
            .expect_err("deadline too long");
        assert!(err.to_string().contains("resolve.deadline"), "{err}");
        parse("resolve:\n  deadline: 2s\nserver:\n  webhookTimeout: 5s\n").expect("valid budgets");
    }

    #[test]
    fn breakglass_skips_must_name_configured_policies() {
        let err = parse("breakglass:\n  skips: [require-landd]\n").expect_err("typo");
        let text = err.to_string();
        assert!(
            text.contains("breakglass.skips") && text.contains("require-landd"),
            "{text}"
        );
        let config = parse(
            "breakglass:\n  groups: [oncall@example.com]\n  skips: [require-landed, custom]\npolicies:\n  - name: require-landed\n  - name: custom\n    path: custom.wasm\n",
        )
        .expect("valid");
        assert_eq!(config.breakglass.groups, ["oncall@example.com"]);
        assert!(config.breakglass.skips("custom"));
        // The default skip names a built-in this config does not run: nothing to skip, no error.
        parse("policies:\n  - name: no-latest-tag\n").expect("default skips");
    }

    #[test]
    fn namespace_overrides_win_over_globals() {
        let config = parse(
            "mode: enforce\nonUndetermined: allow\nnamespaces:\n  staging: {mode: audit}\n  pay: {onUndetermined: deny}\n",
        )
        .expect("valid");
        assert_eq!(
            config.effective(Some("staging")),
            (Mode::Audit, OnUndetermined::Allow)
        );
        assert_eq!(
            config.effective(Some("pay")),
            (Mode::Enforce, OnUndetermined::Deny)
        );
        assert_eq!(
            config.effective(None),
            (Mode::Enforce, OnUndetermined::Allow)
        );
    }

    #[test]
    fn excluded_namespaces_include_the_defaults_and_our_own() {
        let config = Config::default();
        assert!(config.is_excluded(Some("kube-system"), None));
        assert!(config.is_excluded(Some("landed"), Some("landed")));
        assert!(!config.is_excluded(Some("shop"), Some("landed")));
        assert!(!config.is_excluded(None, Some("landed")));
    }

    #[test]
    fn yaml_fields() {
        let yaml = r#"
registries:
  - host: us-docker.pkg.dev
    endpoint: http://127.0.0.1:5000
    insecureHttp: true
    auth: gcp
  - host: reg.example
    caFile: /etc/ca.pem
    auth: none
dockerConfig: /etc/docker/config.json
resolve:
  deadline: 2s
  requestTimeout: 1500ms
  deepCheck: true
cache:
  tagTtl: 1m
  absentTtl: 5s
"#;
        let config = Config::from_yaml(yaml, Path::new("t.yaml")).expect("parse");
        assert_eq!(
            config.registries[0].auth_mode(),
            crate::registry::AuthMode::Gcp
        );
        assert_eq!(
            config.registries[1].auth_mode(),
            crate::registry::AuthMode::None
        );
        assert!(config.resolve.deep_check);
        assert_eq!(config.cache.tag_ttl, std::time::Duration::from_secs(60));
        assert_eq!(
            config.cache.digest_ttl,
            std::time::Duration::from_secs(3600)
        );
        assert!(config.resolve.validate().is_ok());
        let bad = crate::resolve::ResolveConfig {
            request_timeout: std::time::Duration::from_secs(5),
            ..Default::default()
        };
        assert!(
            bad.validate().is_err(),
            "request timeout above the deadline"
        );
    }

    #[test]
    fn a_google_host_with_an_endpoint_must_say_where_its_token_goes() {
        let yaml =
            "registries:\n  - host: us-docker.pkg.dev\n    endpoint: https://mirror.example\n";
        let err = Config::from_yaml(yaml, Path::new("l.yaml"))
            .expect_err("implicit gcp auth towards another endpoint");
        let text = err.to_string();
        assert!(
            text.contains("registries[0]") && text.contains("auth:"),
            "{text}"
        );
        for auth in ["gcp", "none", "dockerConfig"] {
            let yaml = format!("{yaml}    auth: {auth}\n");
            Config::from_yaml(&yaml, Path::new("l.yaml")).expect("explicit auth");
        }
        let plain = "registries:\n  - host: reg.example\n    endpoint: https://127.0.0.1:5000\n";
        Config::from_yaml(plain, Path::new("l.yaml")).expect("not a Google host");
    }
}
