//! Writing `landed.yaml` for a test: only the fields the contract documents.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use crate::registry::Registry;

/// `auth:` of a registry entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// Google Application Default Credentials.
    Gcp,
    /// Pull secrets, then docker config.json, then anonymous.
    DockerConfig,
    /// Anonymous.
    None,
}

impl AuthMode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Gcp => "gcp",
            Self::DockerConfig => "dockerConfig",
            Self::None => "none",
        }
    }
}

/// One `registries:` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistryEntry {
    /// Host as written in image references.
    pub host: String,
    /// Where to connect instead (`scheme://host:port`).
    pub endpoint: Option<String>,
    /// Extra trusted CA.
    pub ca_file: Option<PathBuf>,
    /// Allow plain HTTP.
    pub insecure_http: Option<bool>,
    /// Credential source.
    pub auth: Option<AuthMode>,
}

impl RegistryEntry {
    /// An entry for `registry` under its own host name: its endpoint, and `insecureHttp` when
    /// it serves plain HTTP. No CA (add one with [`RegistryEntry::ca_file`]).
    pub fn for_registry(registry: &Registry) -> Self {
        Self::for_endpoint(&registry.host(), &registry.endpoint())
    }

    /// An entry mapping `host` to `endpoint`, with `insecureHttp` when it is `http://`. A
    /// Google registry host gets `auth: gcp` written out, as landed requires of a Google
    /// host sent elsewhere.
    pub fn for_endpoint(host: &str, endpoint: &str) -> Self {
        let google =
            host.ends_with("-docker.pkg.dev") || host == "gcr.io" || host.ends_with(".gcr.io");
        Self {
            host: host.to_owned(),
            endpoint: Some(endpoint.to_owned()),
            insecure_http: endpoint.starts_with("http://").then_some(true),
            auth: google.then_some(AuthMode::Gcp),
            ..Self::default()
        }
    }

    /// The same entry trusting the CA at `path`.
    pub fn ca_file(mut self, path: PathBuf) -> Self {
        self.ca_file = Some(path);
        self
    }

    /// The same entry with `auth: mode`.
    pub fn auth(mut self, mode: AuthMode) -> Self {
        self.auth = Some(mode);
        self
    }
}

/// One `policies:` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyEntry {
    /// Policy name (a built-in's name when `path` is `None`).
    pub name: String,
    /// Component file, watched for changes by the server.
    pub path: Option<PathBuf>,
    /// OCI reference the component is pulled from (`oci:`).
    pub oci: Option<String>,
    /// `mode:` override for this policy's denials (`enforce`, `warn`, `audit`).
    pub mode: Option<String>,
    /// `settings:` handed to the policy.
    pub settings: Option<serde_json::Value>,
}

impl PolicyEntry {
    /// The built-in `name` with default settings.
    pub fn builtin(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ..Self::default()
        }
    }

    /// A policy `name` loaded from `path`.
    pub fn file(name: &str, path: PathBuf) -> Self {
        Self {
            name: name.to_owned(),
            path: Some(path),
            ..Self::default()
        }
    }

    /// A policy `name` pulled from the OCI artifact `reference`.
    pub fn oci(name: &str, reference: &str) -> Self {
        Self {
            name: name.to_owned(),
            oci: Some(reference.to_owned()),
            ..Self::default()
        }
    }

    /// The same entry with `mode: mode`.
    pub fn mode(mut self, mode: &str) -> Self {
        self.mode = Some(mode.to_owned());
        self
    }

    /// The same entry with these `settings:`.
    pub fn settings(mut self, settings: serde_json::Value) -> Self {
        self.settings = Some(settings);
        self
    }
}

/// `breakglass:` (fields left empty are left out of the file).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BreakglassEntry {
    /// `users:`.
    pub users: Vec<String>,
    /// `groups:`.
    pub groups: Vec<String>,
    /// `skips:` (`None`: the default).
    pub skips: Option<Vec<String>>,
}

/// The parts of landed.yaml the tests set; `None` fields are left out of the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LandedConfig {
    /// `registries:`.
    pub registries: Vec<RegistryEntry>,
    /// `dockerConfig:`.
    pub docker_config: Option<PathBuf>,
    /// `namespaces.<name>.onUndetermined` (`allow` or `deny`), per namespace.
    pub namespace_on_undetermined: Vec<(String, String)>,
    /// `resolve.requestTimeout`.
    pub request_timeout: Option<Duration>,
    /// `resolve.connectTimeout`.
    pub connect_timeout: Option<Duration>,
    /// `resolve.deadline`.
    pub deadline: Option<Duration>,
    /// `resolve.deepCheck`.
    pub deep_check: Option<bool>,
    /// `server.webhookTimeout`.
    pub webhook_timeout: Option<Duration>,
    /// `server.tlsCertFile`.
    pub tls_cert_file: Option<PathBuf>,
    /// `server.tlsKeyFile`.
    pub tls_key_file: Option<PathBuf>,
    /// `server.certReloadInterval`.
    pub cert_reload_interval: Option<Duration>,
    /// `server.shutdownGrace`.
    pub shutdown_grace: Option<Duration>,
    /// `server.maxConnections`.
    pub max_connections: Option<usize>,
    /// `policies:` (empty: the built-in defaults).
    pub policies: Vec<PolicyEntry>,
    /// `cache.absentTtl`.
    pub absent_ttl: Option<Duration>,
    /// `egress.allowPrivateHosts`.
    pub allow_private_hosts: Vec<String>,
    /// `egress.denyUnlisted`.
    pub deny_unlisted: Option<bool>,
    /// `resolve.maxHosts`.
    pub max_hosts: Option<usize>,
    /// `breakglass:`.
    pub breakglass: Option<BreakglassEntry>,
    /// YAML appended verbatim, for sections the fields above do not model (e.g. a `cache:`
    /// section with `tagTtl`); it must not repeat a section they write.
    pub extra_yaml: String,
}

impl LandedConfig {
    /// A config with these registry entries.
    pub fn with_registries(registries: Vec<RegistryEntry>) -> Self {
        Self {
            registries,
            ..Self::default()
        }
    }

    /// The YAML text. Strings are written double-quoted.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        if !self.registries.is_empty() {
            out.push_str("registries:\n");
            for entry in &self.registries {
                let _ = writeln!(out, "  - host: {}", quote(&entry.host));
                if let Some(endpoint) = &entry.endpoint {
                    let _ = writeln!(out, "    endpoint: {}", quote(endpoint));
                }
                if let Some(ca) = &entry.ca_file {
                    let _ = writeln!(out, "    caFile: {}", quote(&ca.display().to_string()));
                }
                if let Some(insecure) = entry.insecure_http {
                    let _ = writeln!(out, "    insecureHttp: {insecure}");
                }
                if let Some(auth) = entry.auth {
                    let _ = writeln!(out, "    auth: {}", auth.as_str());
                }
            }
        }
        if let Some(path) = &self.docker_config {
            let _ = writeln!(out, "dockerConfig: {}", quote(&path.display().to_string()));
        }
        if !self.namespace_on_undetermined.is_empty() {
            out.push_str("namespaces:\n");
            for (namespace, on) in &self.namespace_on_undetermined {
                let _ = writeln!(out, "  {}:\n    onUndetermined: {on}", quote(namespace));
            }
        }
        let resolve = [
            self.deadline
                .map(|t| format!("deadline: {}ms", t.as_millis())),
            self.request_timeout
                .map(|t| format!("requestTimeout: {}ms", t.as_millis())),
            self.connect_timeout
                .map(|t| format!("connectTimeout: {}ms", t.as_millis())),
            self.deep_check.map(|deep| format!("deepCheck: {deep}")),
            self.max_hosts.map(|n| format!("maxHosts: {n}")),
        ];
        if resolve.iter().any(Option::is_some) {
            out.push_str("resolve:\n");
            for line in resolve.iter().flatten() {
                let _ = writeln!(out, "  {line}");
            }
        }
        let server = [
            self.webhook_timeout
                .map(|t| format!("webhookTimeout: {}ms", t.as_millis())),
            self.tls_cert_file
                .as_ref()
                .map(|p| format!("tlsCertFile: {}", quote_path(p))),
            self.tls_key_file
                .as_ref()
                .map(|p| format!("tlsKeyFile: {}", quote_path(p))),
            self.cert_reload_interval
                .map(|t| format!("certReloadInterval: {}ms", t.as_millis())),
            self.shutdown_grace
                .map(|t| format!("shutdownGrace: {}ms", t.as_millis())),
            self.max_connections.map(|n| format!("maxConnections: {n}")),
        ];
        if server.iter().any(Option::is_some) {
            out.push_str("server:\n");
            for line in server.iter().flatten() {
                let _ = writeln!(out, "  {line}");
            }
        }
        if !self.allow_private_hosts.is_empty() || self.deny_unlisted.is_some() {
            out.push_str("egress:\n");
            if !self.allow_private_hosts.is_empty() {
                out.push_str("  allowPrivateHosts:\n");
                for host in &self.allow_private_hosts {
                    let _ = writeln!(out, "    - {}", quote(host));
                }
            }
            if let Some(deny) = self.deny_unlisted {
                let _ = writeln!(out, "  denyUnlisted: {deny}");
            }
        }
        if let Some(ttl) = self.absent_ttl {
            let _ = writeln!(out, "cache:\n  absentTtl: {}ms", ttl.as_millis());
        }
        if !self.policies.is_empty() {
            out.push_str("policies:\n");
            for entry in &self.policies {
                let _ = writeln!(out, "  - name: {}", quote(&entry.name));
                if let Some(path) = &entry.path {
                    let _ = writeln!(out, "    path: {}", quote_path(path));
                }
                if let Some(reference) = &entry.oci {
                    let _ = writeln!(out, "    oci: {}", quote(reference));
                }
                if let Some(mode) = &entry.mode {
                    let _ = writeln!(out, "    mode: {mode}");
                }
                if let Some(settings) = &entry.settings {
                    // JSON is YAML: the settings go as one flow mapping.
                    let _ = writeln!(out, "    settings: {settings}");
                }
            }
        }
        if let Some(breakglass) = &self.breakglass {
            out.push_str("breakglass:\n  enabled: true\n");
            let lists = [
                ("users", Some(&breakglass.users)),
                ("groups", Some(&breakglass.groups)),
                ("skips", breakglass.skips.as_ref()),
            ];
            for (key, list) in lists {
                if let Some(list) = list.filter(|l| !l.is_empty() || key == "skips") {
                    let items: Vec<String> = list.iter().map(|s| quote(s)).collect();
                    let _ = writeln!(out, "  {key}: [{}]", items.join(", "));
                }
            }
        }
        out.push_str(&self.extra_yaml);
        if out.is_empty() {
            out.push_str("{}\n");
        }
        out
    }
}

/// A path as a YAML double-quoted scalar.
fn quote_path(path: &std::path::Path) -> String {
    quote(&path.display().to_string())
}

/// A YAML double-quoted scalar (JSON string escaping is valid YAML).
fn quote(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_fault_budgets_and_fail_closed_namespaces() {
        let config = LandedConfig {
            namespace_on_undetermined: vec![("pay".to_owned(), "deny".to_owned())],
            deadline: Some(Duration::from_secs(1)),
            request_timeout: Some(Duration::from_secs(1)),
            connect_timeout: Some(Duration::from_millis(500)),
            ..LandedConfig::default()
        };
        assert_eq!(
            config.to_yaml(),
            "namespaces:\n  \"pay\":\n    onUndetermined: deny\nresolve:\n  deadline: 1000ms\n  \
             requestTimeout: 1000ms\n  connectTimeout: 500ms\n"
        );
    }

    #[test]
    fn writes_breakglass_and_policy_settings() {
        let config = LandedConfig {
            policies: vec![PolicyEntry::builtin("allowed-registries")
                .settings(serde_json::json!({"registries": ["127.0.0.1:5000"]}))],
            breakglass: Some(BreakglassEntry {
                groups: vec!["oncall@example.com".to_owned()],
                ..BreakglassEntry::default()
            }),
            ..LandedConfig::default()
        };
        assert_eq!(
            config.to_yaml(),
            "policies:\n  - name: \"allowed-registries\"\n    settings: \
             {\"registries\":[\"127.0.0.1:5000\"]}\nbreakglass:\n  enabled: true\n  \
             groups: [\"oncall@example.com\"]\n"
        );
    }

    #[test]
    fn writes_the_documented_fields() {
        let config = LandedConfig {
            registries: vec![RegistryEntry::for_endpoint(
                "us-docker.pkg.dev",
                "http://127.0.0.1:5000",
            )
            .auth(AuthMode::Gcp)],
            deadline: Some(Duration::from_secs(2)),
            deep_check: Some(true),
            ..LandedConfig::default()
        };
        assert_eq!(
            config.to_yaml(),
            "registries:\n  - host: \"us-docker.pkg.dev\"\n    endpoint: \
             \"http://127.0.0.1:5000\"\n    insecureHttp: true\n    auth: gcp\n\
             resolve:\n  deadline: 2000ms\n  deepCheck: true\n"
        );
    }
}
