//! Where and how to talk to each registry: the listed ones from `registries:`, made at
//! start, and the others, made when a reference first names them and kept in a bounded
//! LRU (a review names hosts at will; evicting one drops its state).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::challenge::Challenge;
use super::config::{canonical_host, host_without_port, AuthMode, RegistryConfig};
use super::egress::{Egress, Reach, Refusal};
use super::errors::RegistryError;
use super::tls::{http_client, SetupError, Timeouts};

/// One registry as landed talks to it.
pub struct Endpoint {
    /// The host as written in references.
    pub host: String,
    /// `scheme://host[:port]` requests go to.
    pub base: String,
    /// The client (pool, TLS roots, egress rule) for it.
    pub http: reqwest::Client,
    /// Where its credentials come from.
    pub auth: AuthMode,
    /// What it may reach beyond the egress rule (a listed registry's own hosts).
    pub reach: Reach,
    /// The challenge it sent last, answered up front next time.
    challenge: Mutex<Option<Challenge>>,
}

impl Endpoint {
    /// The challenge this registry sent last, if any.
    pub fn known_challenge(&self) -> Option<Challenge> {
        self.challenge
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Remembers the registry's challenge.
    pub fn remember(&self, challenge: Challenge) {
        *self.challenge.lock().unwrap_or_else(|p| p.into_inner()) = Some(challenge);
    }
}

/// Every endpoint of one client.
pub struct Endpoints {
    configured: HashMap<String, Arc<Endpoint>>,
    default_http: reqwest::Client,
    others: quick_cache::sync::Cache<String, Arc<Endpoint>>,
    egress: Arc<Egress>,
}

impl Endpoints {
    /// The listed `registries`, and room for `max_hosts` others, under `egress`.
    pub fn new(
        registries: &[RegistryConfig],
        timeouts: Timeouts,
        egress: Egress,
        max_hosts: usize,
    ) -> Result<Self, SetupError> {
        let egress = Arc::new(egress);
        let mut configured = HashMap::new();
        for entry in registries {
            let base = entry.base_url().map_err(SetupError::InvalidEntry)?;
            let reach = Reach {
                own_hosts: own_hosts(&entry.host, &base),
                insecure: entry.insecure_http,
            };
            let http = http_client(entry.ca_file.as_deref(), timeouts, &egress, reach.clone())?;
            let endpoint = Endpoint {
                host: entry.host.clone(),
                base,
                http,
                auth: entry.auth_mode(),
                reach,
                challenge: Mutex::new(None),
            };
            configured.insert(canonical_host(&entry.host), Arc::new(endpoint));
        }
        Ok(Self {
            configured,
            default_http: http_client(None, timeouts, &egress, Reach::default())?,
            others: quick_cache::sync::Cache::new(max_hosts.max(1)),
            egress,
        })
    }

    /// The egress rule every endpoint follows.
    pub fn egress(&self) -> &Egress {
        &self.egress
    }

    /// Whether landed may contact the registry a reference names; makes no state.
    pub fn admit(&self, host: &str) -> Result<(), RegistryError> {
        let key = canonical_host(host);
        if self.configured.contains_key(&key) {
            return Ok(());
        }
        self.egress.admit_registry(&key, false).map_err(refused)
    }

    /// The endpoint for a registry host as written in references, if landed may contact it.
    pub fn get(&self, host: &str) -> Result<Arc<Endpoint>, RegistryError> {
        let key = canonical_host(host);
        if let Some(ep) = self.configured.get(&key) {
            return Ok(ep.clone());
        }
        self.egress.admit_registry(&key, false).map_err(refused)?;
        if let Some(ep) = self.others.get(&key) {
            return Ok(ep);
        }
        let entry = RegistryConfig {
            host: host.to_owned(),
            ..RegistryConfig::default()
        };
        let base = entry.base_url().map_err(RegistryError::InvalidResponse)?;
        let ep = Arc::new(Endpoint {
            host: host.to_owned(),
            base,
            http: self.default_http.clone(),
            auth: entry.auth_mode(),
            reach: Reach::default(),
            challenge: Mutex::new(None),
        });
        self.others.insert(key, ep.clone());
        crate::metrics::global().registry_hosts(self.tracked());
        Ok(ep)
    }

    /// How many unlisted registries have state now (at most `max_hosts`).
    pub fn tracked(&self) -> usize {
        self.others.len()
    }
}

/// A failed request as its error; a refusal met on the way (by the resolver or a redirect)
/// is counted like any other.
pub fn transport(what: &'static str, error: reqwest::Error) -> RegistryError {
    match RegistryError::transport(what, error) {
        RegistryError::NotContacted(refusal) => refused(refusal),
        other => other,
    }
}

/// A refusal as the error the lookup ends with, counted.
pub fn refused(refusal: Refusal) -> RegistryError {
    crate::metrics::global().egress_refused(refusal.reason.as_str());
    tracing::debug!(reason = refusal.reason.as_str(), cause = %refusal.cause, "registry not contacted");
    RegistryError::NotContacted(refusal)
}

/// The host names (no port, lower case, IPv6 without brackets) of a listed registry and of
/// its endpoint.
fn own_hosts(host: &str, base: &str) -> Vec<String> {
    let endpoint = reqwest::Url::parse(base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    let mut hosts: Vec<String> = [
        Some(host_without_port(&canonical_host(host)).to_owned()),
        endpoint,
    ]
    .into_iter()
    .flatten()
    .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
    .collect();
    hosts.dedup();
    hosts
}
