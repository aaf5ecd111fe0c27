//! Name resolution under the egress rule, at connect time: the addresses checked are the
//! very ones the connection then uses, so a name that answers with a public address once
//! and a private one later (DNS rebinding) is refused the second time.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::{Egress, Reach, Refusal, RefusalReason};

/// A reqwest resolver for one client: getaddrinfo (as reqwest's own), then the rule.
#[derive(Clone, Debug)]
pub struct EgressResolver {
    egress: Arc<Egress>,
    reach: Reach,
}

impl EgressResolver {
    /// A resolver applying `egress` to names outside `reach`.
    pub fn new(egress: Arc<Egress>, reach: Reach) -> Self {
        Self { egress, reach }
    }
}

impl Resolve for EgressResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let exempt = self.egress.exempt_name(&host, &self.reach);
        let egress = self.egress.clone();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await;
            let addrs: Vec<SocketAddr> = match found {
                Ok(addrs) => addrs.collect(),
                Err(e) if exempt => return Err(e.into()),
                Err(e) => return Err(no_public_address(&host, format!("DNS lookup failed: {e}"))),
            };
            if !exempt {
                // Every address must pass: a client may try any of them.
                for addr in &addrs {
                    if let Err(refusal) = egress.check_address(&host, addr.ip()) {
                        return Err(no_public_address(&host, refusal.cause));
                    }
                }
            }
            if addrs.is_empty() {
                return Err(no_public_address(&host, "DNS answered no address".into()));
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The same words for "resolves to a private address" and "does not resolve", so the
/// client's message is no oracle for internal DNS; the cause says which, for the log.
fn no_public_address(host: &str, cause: String) -> Box<dyn std::error::Error + Send + Sync> {
    Box::new(Refusal {
        reason: RefusalReason::NoPublicAddress,
        public: format!("no public address found for {host}"),
        cause: format!("{host}: {cause}"),
    })
}
