//! The egress rule: which hosts landed may connect to, decided before every connection.
//!
//! A reference in an AdmissionReview is attacker-controlled, so by default landed connects
//! to (a) the registries listed under `registries:` (their host and `endpoint`), Google's
//! registry hosts and the `oci:` policy sources of the config, and (b) any other host only
//! when every address it resolves to is public unicast ([`address`]). The rule is checked on
//! the request URL (IP literals never reach a resolver), on every redirect hop and token
//! realm, and on the resolved addresses at connect time ([`resolver`]), so a name that
//! re-resolves to a private address later (DNS rebinding) is still refused.
//!
//! `landed check` is run by whoever names the images: it contacts what it is asked unless
//! `egress.denyUnlisted` is set ([`Origin::Operator`]).

pub mod address;
mod config;
pub mod resolver;

use std::net::IpAddr;

pub use address::{classify, AddressClass};
pub use config::{EgressConfig, HostPattern};

use super::config::is_gcp_host;

/// Where the references landed is asked about come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Origin {
    /// From AdmissionReviews (`serve`, `review`, `audit`): the egress rule applies.
    #[default]
    Review,
    /// From the operator (`landed check`): any host, unless `denyUnlisted`.
    Operator,
}

/// Why landed did not connect, as a metrics label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    /// An IP literal (or a redirect/realm to one) that is not public.
    PrivateAddress,
    /// A name that resolves to a non-public address, or to nothing.
    NoPublicAddress,
    /// A registry not listed while `egress.denyUnlisted` is set.
    Unlisted,
    /// Plain HTTP where only HTTPS is allowed (realm, or a redirect downgrade).
    InsecureScheme,
    /// More redirects than allowed.
    TooManyRedirects,
    /// A Google registry host on a port other than 443.
    Port,
}

impl RefusalReason {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PrivateAddress => "private_address",
            Self::NoPublicAddress => "no_public_address",
            Self::Unlisted => "unlisted",
            Self::InsecureScheme => "insecure_scheme",
            Self::TooManyRedirects => "too_many_redirects",
            Self::Port => "port",
        }
    }
}

/// A connection landed refused to make: a short reason safe to show the client, and the
/// whole story for the operator's log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not contacted: {cause}")]
pub struct Refusal {
    /// For the metrics.
    pub reason: RefusalReason,
    /// What the client may read (names only what the reference or the rule already says).
    pub public: String,
    /// What the operator reads (resolved addresses, DNS errors, the redirect target).
    pub cause: String,
}

impl Refusal {
    fn new(reason: RefusalReason, public: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            reason,
            public: public.into(),
            cause: cause.into(),
        }
    }

    /// The verdict detail a client sees.
    pub fn client_detail(&self) -> String {
        format!(
            "not contacted: {}; list the registry under registries: to allow it",
            self.public
        )
    }
}

/// Most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 3;

/// The egress rule of one registry client.
#[derive(Clone, Debug, Default)]
pub struct Egress {
    origin: Origin,
    deny_unlisted: bool,
    private_ok: Vec<HostPattern>,
}

/// What one endpoint (one reqwest client) may reach beyond the rule: the listed registry's
/// own host names, on any port, and whether it speaks plain HTTP.
#[derive(Clone, Debug, Default)]
pub struct Reach {
    /// Lower-case host names (no port) of a listed registry and its endpoint.
    pub own_hosts: Vec<String>,
    /// The listed registry has `insecureHttp: true`.
    pub insecure: bool,
}

impl Reach {
    fn owns(&self, host: &str) -> bool {
        self.own_hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }
}

impl Egress {
    /// The rule from `egress:` for references of `origin`; the error names a bad entry.
    pub fn new(config: &EgressConfig, origin: Origin) -> Result<Self, String> {
        Ok(Self {
            origin,
            deny_unlisted: config.deny_unlisted,
            private_ok: config.patterns()?,
        })
    }

    /// Whether a registry a reference names may be asked at all. `host` is as written in the
    /// reference (`name[:port]`, `[v6]:port`), `listed` says it is under `registries:`.
    pub fn admit_registry(&self, host: &str, listed: bool) -> Result<(), Refusal> {
        if listed {
            return Ok(());
        }
        let (name, port) = split_host_port(host);
        if is_gcp_host(name) {
            return match port {
                None | Some(443) => Ok(()),
                Some(_) => Err(Refusal::new(
                    RefusalReason::Port,
                    format!("{host} is a Google registry host on a port other than 443"),
                    format!("{host}: Google registry hosts are only contacted on port 443"),
                )),
            };
        }
        if self.deny_unlisted {
            return Err(Refusal::new(
                RefusalReason::Unlisted,
                format!("{host} is not a listed registry (egress.denyUnlisted)"),
                format!("{host} is not under registries: and egress.denyUnlisted is true"),
            ));
        }
        self.check_host(name)
    }

    /// Whether a URL a registry sent us to (token realm, redirect hop) may be contacted
    /// from an endpoint with `reach`.
    pub fn check_url(&self, url: &reqwest::Url, reach: &Reach) -> Result<(), Refusal> {
        let host = url.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        match url.scheme() {
            "https" => {}
            "http" if reach.insecure && reach.owns(host) => {}
            scheme => {
                return Err(Refusal::new(
                    RefusalReason::InsecureScheme,
                    "the registry sent landed to a plain-HTTP or non-HTTPS address",
                    format!("{scheme}:// target {url} refused: only https (or http on a listed insecureHttp registry's own host)"),
                ))
            }
        }
        if reach.owns(host) {
            return Ok(());
        }
        if is_gcp_host(host) {
            return match url.port() {
                None | Some(443) => Ok(()),
                Some(_) => Err(Refusal::new(
                    RefusalReason::Port,
                    "the registry sent landed to a Google host on a port other than 443",
                    format!("{url}: Google registry hosts are only contacted on port 443"),
                )),
            };
        }
        self.check_host(host).map_err(|r| Refusal {
            public: format!(
                "the registry sent landed to an address outside the egress rule ({})",
                r.public
            ),
            cause: format!("{url}: {}", r.cause),
            ..r
        })
    }

    /// The address rule for a host that is not listed: IP literals must be public (or
    /// allowed); names pass here and are checked on their addresses when resolved.
    fn check_host(&self, host: &str) -> Result<(), Refusal> {
        if self.origin == Origin::Operator {
            return Ok(());
        }
        match host.parse::<IpAddr>() {
            Ok(ip) => self.check_address(host, ip),
            Err(_) => Ok(()),
        }
    }

    /// Whether `ip` (which `host` is or resolved to) may be contacted.
    fn check_address(&self, host: &str, ip: IpAddr) -> Result<(), Refusal> {
        let class = classify(ip);
        if class == AddressClass::Public || self.allows_address(ip) {
            return Ok(());
        }
        Err(Refusal::new(
            RefusalReason::PrivateAddress,
            format!("{host} is {}", class.describe()),
            format!("{host} is {} ({ip})", class.describe()),
        ))
    }

    /// Whether a name is exempt from the address rule: Google's registry hosts and
    /// `allowPrivateHosts` names; `reach`'s own hosts too.
    fn exempt_name(&self, name: &str, reach: &Reach) -> bool {
        self.origin == Origin::Operator
            || reach.owns(name)
            || is_gcp_host(name)
            || self.private_ok.iter().any(|p| p.matches_name(name))
    }

    fn allows_address(&self, ip: IpAddr) -> bool {
        self.private_ok.iter().any(|p| p.matches_address(ip))
    }
}

/// `name[:port]` or `[v6][:port]` into the bare host and its port.
fn split_host_port(host: &str) -> (&str, Option<u16>) {
    if let Some(rest) = host.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((ip, tail)) => (ip, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (rest, None),
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => (name, port.parse().ok()),
        _ => (host, None),
    }
}

#[cfg(test)]
mod tests;
