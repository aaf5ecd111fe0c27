//! Every registry and credential fault the reliability tests inject, set up for one `landed`
//! user: the failing parts (real registries where a real one can fail that way, protocol
//! fakes where it cannot), the `registries:` entries that reach them, and what a user must be
//! told about an image behind each.

use std::any::Any;
use std::fs;

use anyhow::{bail, Result};

use crate::config::RegistryEntry;
use crate::fakes::broken_registry::{Breakage, BrokenRegistry};
use crate::fakes::garbage::GarbageEndpoint;
use crate::fakes::google_oauth::FakeGoogleOAuth;
use crate::fakes::registries::{RateLimitedRegistry, SlowRegistry};
use crate::fakes::token_server::TokenIssuer;
use crate::gar::{GAR_HOST, GAR_PROJECT};
use crate::landed::Landed;
use crate::pki::Ca;
use crate::registry::{Registry, RegistryAuth, RegistryOptions};

/// A host name that cannot resolve anywhere (RFC 6761 reserves `.invalid`).
pub const UNRESOLVABLE_HOST: &str = "registry.landed-e2e.invalid";

/// How long the slow registry waits before answering: far past any deadline here.
pub const SLOW_DELAY: std::time::Duration = std::time::Duration::from_secs(30);

/// One kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Nothing listens on the registry's port.
    RegistryDown,
    /// The registry answers 30 s after each request.
    Slow,
    /// Every manifest request gets 429 `TOOMANYREQUESTS` with `Retry-After: 60`.
    RateLimitStorm,
    /// A real registry answering 500 (a corrupted tag link in its storage).
    ServerError,
    /// The connection is reset before any answer to a manifest request.
    ResetBeforeResponse,
    /// The manifest GET is reset halfway through its body.
    ResetMidBody,
    /// A real TLS registry whose certificate comes from a CA landed does not trust (landed's
    /// `caFile` holds a different CA).
    UntrustedCertificate,
    /// A real TLS registry whose certificate, from the trusted CA, expired in 2021.
    ExpiredCertificate,
    /// The registry's name does not resolve.
    DnsFailure,
    /// A real registry with token auth whose token server is not listening.
    TokenServerDown,
    /// A real registry with token auth whose token server answers 200 with an HTML page.
    TokenServerGarbage,
    /// GAR with a service-account key whose `token_uri` is not listening.
    OAuthDown,
    /// GAR with a service-account key whose `token_uri` answers 200 with an HTML page.
    OAuthGarbage,
}

impl FaultKind {
    /// Every kind, in the order docs/reliability.md lists them.
    pub const ALL: [FaultKind; 13] = [
        Self::RegistryDown,
        Self::Slow,
        Self::RateLimitStorm,
        Self::ServerError,
        Self::ResetBeforeResponse,
        Self::ResetMidBody,
        Self::UntrustedCertificate,
        Self::ExpiredCertificate,
        Self::DnsFailure,
        Self::TokenServerDown,
        Self::TokenServerGarbage,
        Self::OAuthDown,
        Self::OAuthGarbage,
    ];

    /// The verdict class a user must see for an image behind this fault.
    pub fn expected_verdict(self) -> &'static str {
        match self {
            Self::RateLimitStorm => "rate_limited",
            _ => "unavailable",
        }
    }

    /// Whether this fault needs `GOOGLE_APPLICATION_CREDENTIALS` (one per process).
    pub fn is_oauth(self) -> bool {
        matches!(self, Self::OAuthDown | Self::OAuthGarbage)
    }
}

/// One fault, set up.
pub struct Fault {
    /// Which fault.
    pub kind: FaultKind,
    /// The registry host as written in image references.
    pub host: String,
    /// Repository under the host.
    pub repo: String,
    /// A tag whose lookup hits the fault whatever it is (`None`: any tag does).
    fixed_tag: Option<String>,
}

impl Fault {
    /// An image reference behind this fault; `tag` makes it distinct where the fault allows.
    pub fn image(&self, tag: &str) -> String {
        let tag = self.fixed_tag.as_deref().unwrap_or(tag);
        format!("{}/{}:{tag}", self.host, self.repo)
    }
}

/// A set of faults for one user, kept running until dropped.
pub struct FaultSet {
    /// The faults, in the order asked for.
    pub faults: Vec<Fault>,
    entries: Vec<RegistryEntry>,
    // Fakes and registries that must outlive the lookups.
    _parts: Vec<Box<dyn Any + Send + Sync>>,
}

impl FaultSet {
    /// Sets up `kinds` for `landed`'s user (writing CA files and, for an OAuth fault, the
    /// service-account key into its home and `GOOGLE_APPLICATION_CREDENTIALS`).
    pub fn start(kinds: &[FaultKind], landed: &mut Landed) -> Result<Self> {
        if kinds.iter().filter(|k| k.is_oauth()).count() > 1 {
            bail!("one process has one GOOGLE_APPLICATION_CREDENTIALS: one OAuth fault per set");
        }
        let mut set = Self {
            faults: Vec::new(),
            entries: Vec::new(),
            _parts: Vec::new(),
        };
        for &kind in kinds {
            set.add(kind, landed)?;
        }
        Ok(set)
    }

    /// The fault of `kind`.
    pub fn get(&self, kind: FaultKind) -> Option<&Fault> {
        self.faults.iter().find(|f| f.kind == kind)
    }

    /// The `registries:` entries that reach the faulty parts.
    pub fn registry_entries(&self) -> Vec<RegistryEntry> {
        self.entries.clone()
    }

    fn push(&mut self, kind: FaultKind, host: String, entry: Option<RegistryEntry>) -> &mut Fault {
        self.entries.extend(entry);
        self.faults.push(Fault {
            kind,
            host,
            repo: "team/app".to_owned(),
            fixed_tag: None,
        });
        self.faults.last_mut().expect("just pushed")
    }

    fn keep(&mut self, part: impl Any + Send + Sync) {
        self._parts.push(Box::new(part));
    }

    fn add(&mut self, kind: FaultKind, landed: &mut Landed) -> Result<()> {
        match kind {
            FaultKind::RegistryDown => {
                let host = format!("127.0.0.1:{}", closed_port()?);
                let entry = RegistryEntry::for_endpoint(&host, &format!("http://{host}"));
                self.push(kind, host, Some(entry));
            }
            FaultKind::Slow => {
                let fake = SlowRegistry::start(SLOW_DELAY)?;
                let entry = RegistryEntry::for_endpoint(&fake.host(), &fake.endpoint());
                self.push(kind, fake.host(), Some(entry));
                self.keep(fake);
            }
            FaultKind::RateLimitStorm => {
                let fake = RateLimitedRegistry::start(60)?;
                let entry = RegistryEntry::for_endpoint(&fake.host(), &fake.endpoint());
                self.push(kind, fake.host(), Some(entry));
                self.keep(fake);
            }
            FaultKind::ServerError => {
                let registry = Registry::start(RegistryOptions::default())?;
                registry.push_image("team/app", "v1")?;
                registry.corrupt_tag("team/app", "v1")?;
                let entry = RegistryEntry::for_registry(&registry);
                self.push(kind, registry.host(), Some(entry)).fixed_tag = Some("v1".to_owned());
                self.keep(registry);
            }
            FaultKind::ResetBeforeResponse | FaultKind::ResetMidBody => {
                let breakage = if kind == FaultKind::ResetMidBody {
                    Breakage::ResetMidBody
                } else {
                    Breakage::ResetBeforeResponse
                };
                let fake = BrokenRegistry::start(breakage)?;
                let entry = RegistryEntry::for_endpoint(&fake.host(), &fake.endpoint());
                self.push(kind, fake.host(), Some(entry));
                self.keep(fake);
            }
            FaultKind::UntrustedCertificate => {
                let registry = Registry::start(RegistryOptions {
                    tls: true,
                    ..RegistryOptions::default()
                })?;
                let other = Ca::new("landed-e2e some other CA")?;
                let ca = other.write_cert(
                    &landed
                        .home()
                        .join(format!("other-ca-{}.pem", crate::random_hex(4))),
                )?;
                let entry = RegistryEntry::for_registry(&registry).ca_file(ca);
                self.push(kind, registry.host(), Some(entry));
                self.keep(registry);
            }
            FaultKind::ExpiredCertificate => {
                let registry = Registry::start_with_expired_cert(RegistryOptions::default())?;
                let dir = landed
                    .home()
                    .join(format!("expired-{}", crate::random_hex(4)));
                fs::create_dir_all(&dir)?;
                let entry =
                    RegistryEntry::for_registry(&registry).ca_file(registry.write_ca(&dir)?);
                self.push(kind, registry.host(), Some(entry));
                self.keep(registry);
            }
            FaultKind::DnsFailure => {
                // No entry: the default endpoint (https on 443) for a name nobody can resolve.
                self.push(kind, UNRESOLVABLE_HOST.to_owned(), None);
            }
            FaultKind::TokenServerDown | FaultKind::TokenServerGarbage => {
                let realm = if kind == FaultKind::TokenServerDown {
                    format!("http://127.0.0.1:{}/token", closed_port()?)
                } else {
                    let garbage = GarbageEndpoint::start()?;
                    let realm = garbage.token_url();
                    self.keep(garbage);
                    realm
                };
                let issuer = TokenIssuer::new("landed-e2e-token-issuer", "landed-e2e-registry")?;
                let registry = Registry::start(RegistryOptions {
                    auth: RegistryAuth::Token {
                        issuer: std::sync::Arc::new(issuer),
                        realm,
                        credentials: None,
                    },
                    ..RegistryOptions::default()
                })?;
                let entry = RegistryEntry::for_registry(&registry);
                self.push(kind, registry.host(), Some(entry));
                self.keep(registry);
            }
            FaultKind::OAuthDown | FaultKind::OAuthGarbage => self.add_oauth(kind, landed)?,
        }
        Ok(())
    }

    /// GAR (a TLS registry taking `oauth2accesstoken`) with a service-account key whose
    /// `token_uri` is broken.
    fn add_oauth(&mut self, kind: FaultKind, landed: &mut Landed) -> Result<()> {
        // The working fake only provides the key material and a password nobody will get.
        let oauth = FakeGoogleOAuth::start(3600)?;
        let registry = Registry::start(RegistryOptions {
            tls: true,
            auth: RegistryAuth::Htpasswd {
                user: "oauth2accesstoken".to_owned(),
                password: oauth.access_token().to_owned(),
            },
            extra_names: vec![GAR_HOST.to_owned()],
        })?;
        let token_uri = if kind == FaultKind::OAuthDown {
            format!("http://127.0.0.1:{}/token", closed_port()?)
        } else {
            let garbage = GarbageEndpoint::start()?;
            let uri = garbage.token_url();
            self.keep(garbage);
            uri
        };
        let mut key = oauth.service_account_key();
        key["token_uri"] = serde_json::Value::String(token_uri);
        let key_path = landed.home().join("broken-service-account-key.json");
        fs::write(&key_path, serde_json::to_vec_pretty(&key)?)?;
        landed.set_env(
            "GOOGLE_APPLICATION_CREDENTIALS",
            key_path.display().to_string(),
        );
        for line in oauth.private_key_pem().lines() {
            if line.len() >= 40 && !line.starts_with("-----") {
                landed.add_secret(line);
            }
        }
        let dir = landed.home().join(format!("gar-{}", crate::random_hex(4)));
        fs::create_dir_all(&dir)?;
        let entry = RegistryEntry::for_endpoint(GAR_HOST, &registry.endpoint())
            .ca_file(registry.write_ca(&dir)?);
        self.push(kind, GAR_HOST.to_owned(), Some(entry)).repo =
            format!("{GAR_PROJECT}/images/app");
        self.keep(registry);
        self.keep(oauth);
        Ok(())
    }
}

/// A loopback port nothing listens on (bound, read, released: a tiny race is accepted).
pub fn closed_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
