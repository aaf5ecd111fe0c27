//! Policies pulled from OCI registries with the webhook's own registry client.

use futures::future::BoxFuture;

use super::loader::{oci_reference, FetchPolicy, FetchedPolicy};
use crate::registry::artifact::{fetch_wasm, ArtifactError};
use crate::resolve::Resolver;

/// Fetches `oci:` policy sources through the resolver's registry client (same credentials,
/// CAs and endpoint overrides as image lookups); a pinned source's manifest is verified
/// against its pin.
pub struct OciFetcher {
    resolver: Resolver,
}

impl OciFetcher {
    /// A fetcher using `resolver`'s registry client.
    pub fn new(resolver: Resolver) -> Self {
        Self { resolver }
    }
}

impl FetchPolicy for OciFetcher {
    fn fetch<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, Result<FetchedPolicy, String>> {
        Box::pin(async move {
            let reference = oci_reference(reference).map_err(|e| e.to_string())?;
            let artifact = fetch_wasm(self.resolver.registry(), &reference)
                .await
                .map_err(|e| match e {
                    ArtifactError::Registry(e) => format!("{} ({})", e, e.class()),
                    pin => pin.to_string(),
                })?;
            Ok(FetchedPolicy {
                bytes: artifact.bytes,
                manifest_digest: Some(artifact.manifest_digest.to_string()),
            })
        })
    }
}
