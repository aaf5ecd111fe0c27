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

    /// An entry mapping `host` to `endpoint`, with `insecureHttp` when it is `http://`.
    pub fn for_endpoint(host: &str, endpoint: &str) -> Self {
        Self {
            host: host.to_owned(),
            endpoint: Some(endpoint.to_owned()),
            insecure_http: endpoint.starts_with("http://").then_some(true),
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

/// The parts of landed.yaml the tests set; `None` fields are left out of the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LandedConfig {
    /// `registries:`.
    pub registries: Vec<RegistryEntry>,
    /// `dockerConfig:`.
    pub docker_config: Option<PathBuf>,
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
        if self.deadline.is_some() || self.deep_check.is_some() {
            out.push_str("resolve:\n");
            if let Some(deadline) = self.deadline {
                let _ = writeln!(out, "  deadline: {}ms", deadline.as_millis());
            }
            if let Some(deep) = self.deep_check {
                let _ = writeln!(out, "  deepCheck: {deep}");
            }
        }
        if self.webhook_timeout.is_some()
            || self.tls_cert_file.is_some()
            || self.tls_key_file.is_some()
        {
            out.push_str("server:\n");
            if let Some(timeout) = self.webhook_timeout {
                let _ = writeln!(out, "  webhookTimeout: {}ms", timeout.as_millis());
            }
            if let Some(path) = &self.tls_cert_file {
                let _ = writeln!(out, "  tlsCertFile: {}", quote(&path.display().to_string()));
            }
            if let Some(path) = &self.tls_key_file {
                let _ = writeln!(out, "  tlsKeyFile: {}", quote(&path.display().to_string()));
            }
        }
        if out.is_empty() {
            out.push_str("{}\n");
        }
        out
    }
}

/// A YAML double-quoted scalar (JSON string escaping is valid YAML).
fn quote(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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
