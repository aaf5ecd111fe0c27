//! `egress:` in landed.yaml: the exceptions an operator makes to the address rule.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

/// `egress:` in landed.yaml.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct EgressConfig {
    /// Hosts that may be contacted although they are (or resolve to) non-public addresses:
    /// names (`registry.corp.internal`), wildcards (`*.corp.internal`), IP addresses or CIDR
    /// ranges (`10.20.0.0/16`). For registries a review may name that are not listed.
    pub allow_private_hosts: Vec<String>,
    /// Contact only registries listed under `registries:` (and Google's registry hosts);
    /// any other registry gets `unavailable` without a connection.
    pub deny_unlisted: bool,
}

/// One `allowPrivateHosts` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostPattern {
    /// One host name, lower case.
    Name(String),
    /// `*.suffix`: any name ending in `.suffix` (kept with its leading dot).
    Suffix(String),
    /// An address range (a single address is a /32 or /128).
    Net(IpNet),
}

impl HostPattern {
    /// Parses one entry; the error says what forms are accepted.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bad =
            || format!("{text:?} is not a host name, *.domain wildcard, IP address or CIDR range");
        if let Ok(net) = text.parse::<IpNet>() {
            return Ok(Self::Net(net.trunc()));
        }
        if let Ok(ip) = text
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return Ok(Self::Net(IpNet::from(ip)));
        }
        let (suffix, name) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let valid = !name.is_empty()
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !valid {
            return Err(bad());
        }
        let name = name.to_ascii_lowercase();
        Ok(if suffix {
            Self::Suffix(format!(".{name}"))
        } else {
            Self::Name(name)
        })
    }

    /// Whether a host name (no port) matches.
    pub fn matches_name(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.');
        match self {
            Self::Name(n) => n.eq_ignore_ascii_case(name),
            Self::Suffix(s) => {
                name.len() > s.len()
                    && name
                        .get(name.len() - s.len()..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(s))
            }
            Self::Net(_) => false,
        }
    }

    /// Whether an address matches.
    pub fn matches_address(&self, ip: IpAddr) -> bool {
        match self {
            Self::Net(net) => net.contains(&ip),
            _ => false,
        }
    }
}

impl EgressConfig {
    /// The `allowPrivateHosts` entries, parsed; the error names the bad entry.
    pub fn patterns(&self) -> Result<Vec<HostPattern>, String> {
        self.allow_private_hosts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                HostPattern::parse(text).map_err(|e| format!("egress.allowPrivateHosts[{i}]: {e}"))
            })
            .collect()
    }

    /// Checks the entries.
    pub fn validate(&self) -> Result<(), String> {
        self.patterns().map(|_| ())
    }
}
