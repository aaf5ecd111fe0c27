//! Policies pulled from OCI registries with the webhook's own registry client.

use futures::future::BoxFuture;

use super::loader::FetchPolicy;
use crate::image::Reference;
use crate::registry::artifact::fetch_wasm;
use crate::resolve::Resolver;

/// Fetches `oci:` policy sources through the resolver's registry client (same credentials,
/// CAs and endpoint overrides as image lookups).
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
    fn fetch<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, Result<Vec<u8>, String>> {
        Box::pin(async move {
            let reference = Reference::parse(reference.trim_start_matches("oci://"))
                .map_err(|e| e.to_string())?;
            fetch_wasm(self.resolver.registry(), &reference)
                .await
                .map_err(|e| format!("{} ({})", e, e.class()))
        })
    }
}
