//! `registries:` entries of landed.yaml and how a registry host maps to an endpoint.

use std::path::PathBuf;

use serde::Deserialize;

/// Where credentials for a registry come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AuthMode {
    /// Google Application Default Credentials as `oauth2accesstoken`, then the other sources.
    Gcp,
    /// Pull secrets, then the server's docker config.json, then anonymous.
    DockerConfig,
    /// Always anonymous.
    None,
}

/// One `registries:` entry of landed.yaml.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// Host name as written in image references (e.g. `us-docker.pkg.dev`).
    pub host: String,
    /// Base URL to connect to instead of the host, scheme included (`https://127.0.0.1:5443`).
    pub endpoint: Option<String>,
    /// PEM file of extra CA certificates trusted for this registry.
    pub ca_file: Option<PathBuf>,
    /// Speak plain HTTP; never done unless this is true.
    pub insecure_http: bool,
    /// Credential source; default `gcp` for GAR/gcr.io hosts, `dockerConfig` otherwise.
    pub auth: Option<AuthMode>,
}

/// Host of Docker Hub's registry API (references say `docker.io`).
pub const DOCKER_HUB_ENDPOINT_HOST: &str = "registry-1.docker.io";

/// Whether a registry host is Google's (Artifact Registry or Container Registry).
pub fn is_gcp_host(host: &str) -> bool {
    let host = host_without_port(host).to_ascii_lowercase();
    host.ends_with("-docker.pkg.dev") || host == "gcr.io" || host.ends_with(".gcr.io")
}

/// The host part of `host[:port]` (IPv6 literals in brackets kept whole).
pub fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.split(':').next().unwrap_or(host)
}

/// The canonical key of a registry host: lower case, Docker Hub aliases folded to `docker.io`.
pub fn canonical_host(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    let host = host
        .strip_prefix("https://")
        .or_else(|| host.strip_prefix("http://"))
        .unwrap_or(&host);
    let host = host.split('/').next().unwrap_or(host);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_owned()
        }
        other => other.to_owned(),
    }
}

/// The GAR project of a repository (its first path component) on a `*-docker.pkg.dev` host.
pub fn gar_project<'a>(host: &str, repository: &'a str) -> Option<&'a str> {
    let host = host_without_port(host).to_ascii_lowercase();
    if !host.ends_with("-docker.pkg.dev") {
        return None;
    }
    repository.split('/').next().filter(|p| !p.is_empty())
}

impl RegistryConfig {
    /// The effective credential source for this entry.
    pub fn auth_mode(&self) -> AuthMode {
        self.auth.unwrap_or_else(|| default_auth_mode(&self.host))
    }

    /// Checks the entry: its base URL, and an explicit `auth` where the default would send
    /// the server's Google token to an `endpoint` that is not Google's.
    pub fn validate(&self) -> Result<(), String> {
        self.base_url()?;
        if self.endpoint.is_some() && self.auth.is_none() && is_gcp_host(&self.host) {
            return Err(format!(
                "{} is a Google registry host with an endpoint: write `auth:` explicitly \
                 (gcp sends the server's Google access token to {}; dockerConfig or none do not)",
                self.host,
                self.endpoint.as_deref().unwrap_or_default()
            ));
        }
        Ok(())
    }

    /// The base URL (`scheme://host[:port]`, no trailing slash) requests go to.
    pub fn base_url(&self) -> Result<String, String> {
        let base = match &self.endpoint {
            Some(endpoint) => endpoint.trim_end_matches('/').to_owned(),
            None => {
                let scheme = if self.insecure_http { "http" } else { "https" };
                format!("{scheme}://{}", endpoint_host(&self.host))
            }
        };
        if base.starts_with("http://") {
            if !self.insecure_http {
                return Err(format!(
                    "registry {}: endpoint {base} is plain http but insecureHttp is not true",
                    self.host
                ));
            }
        } else if !base.starts_with("https://") {
            return Err(format!(
                "registry {}: endpoint {base} must start with https:// (or http:// with insecureHttp: true)",
                self.host
            ));
        }
        Ok(base)
    }
}

/// The default credential source for a host.
pub fn default_auth_mode(host: &str) -> AuthMode {
    if is_gcp_host(host) {
        AuthMode::Gcp
    } else {
        AuthMode::DockerConfig
    }
}

/// The host to connect to for a reference's registry (Docker Hub's API lives elsewhere).
pub fn endpoint_host(host: &str) -> &str {
    if host.eq_ignore_ascii_case("docker.io") || host.eq_ignore_ascii_case("index.docker.io") {
        DOCKER_HUB_ENDPOINT_HOST
    } else {
        host
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_hosts_default_to_gcp() {
        for host in [
            "us-docker.pkg.dev",
            "europe-west1-docker.pkg.dev",
            "gcr.io",
            "eu.gcr.io",
        ] {
            assert!(is_gcp_host(host), "{host}");
            assert_eq!(default_auth_mode(host), AuthMode::Gcp);
        }
        for host in [
            "docker.io",
            "ghcr.io",
            "notgcr.io",
            "127.0.0.1:5000",
            "pkg.dev",
        ] {
            assert!(!is_gcp_host(host), "{host}");
        }
    }

    #[test]
    fn endpoints() {
        let hub = RegistryConfig {
            host: "docker.io".into(),
            ..Default::default()
        };
        assert_eq!(
            hub.base_url().as_deref(),
            Ok("https://registry-1.docker.io")
        );
        let plain = RegistryConfig {
            host: "local:5000".into(),
            endpoint: Some("http://127.0.0.1:5000/".into()),
            ..Default::default()
        };
        assert!(plain.base_url().is_err(), "http without insecureHttp");
        let plain = RegistryConfig {
            insecure_http: true,
            ..plain
        };
        assert_eq!(plain.base_url().as_deref(), Ok("http://127.0.0.1:5000"));
    }

    #[test]
    fn canonical_hosts_and_projects() {
        assert_eq!(canonical_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(
            canonical_host("Registry.Example:5000"),
            "registry.example:5000"
        );
        assert_eq!(
            gar_project("us-docker.pkg.dev", "proj/repo/img"),
            Some("proj")
        );
        assert_eq!(gar_project("ghcr.io", "proj/repo"), None);
        assert_eq!(host_without_port("[::1]:5000"), "[::1]");
    }
}
