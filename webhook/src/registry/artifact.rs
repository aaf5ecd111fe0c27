//! Pulling a WebAssembly module stored as an OCI artifact (policies from registries).

use serde::Deserialize;

use super::client::RegistryClient;
use super::errors::RegistryError;
use super::LookupContext;
use crate::image::{Digest, DigestAlgorithm, Reference};

/// Layer media types that hold a WebAssembly module or component.
pub const WASM_LAYER_TYPES: [&str; 3] = [
    "application/vnd.wasm.content.layer.v1+wasm",
    "application/vnd.module.wasm.content.layer.v1+wasm",
    "application/wasm",
];

/// Largest module accepted (policies are ~100 KB; this leaves room and bounds memory).
pub const MAX_WASM_BYTES: usize = 32 << 20;

#[derive(Deserialize)]
struct ArtifactManifest {
    #[serde(default)]
    layers: Vec<Layer>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Layer {
    media_type: String,
    digest: String,
}

/// Why a policy artifact was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The registry refused or failed (its verdict class tells which).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The manifest served for a pinned reference is not the one pinned: the registry (or
    /// its storage) serves other content under that digest.
    #[error("the manifest served for {reference} has digest {actual}, not the pinned {pinned}; refusing it")]
    PinMismatch {
        /// The reference as configured.
        reference: String,
        /// The digest pinned in the reference.
        pinned: Digest,
        /// The digest of the manifest bytes received.
        actual: Digest,
    },
}

/// A policy module pulled from a registry, with the digest of the manifest it came from.
#[derive(Debug)]
pub struct WasmArtifact {
    /// The module's bytes (their layer digest verified).
    pub bytes: Vec<u8>,
    /// The digest of the manifest bytes as received (computed here, never taken from the
    /// registry's `Docker-Content-Digest` header).
    pub manifest_digest: Digest,
}

/// The module in the artifact at `reference`: the layer with a WebAssembly media type, or
/// the only layer. The layer's digest is verified against the manifest, and when
/// `reference` is pinned (`repo@sha256:…`, `repo:tag@sha256:…`) the manifest's own digest
/// against the pin, so the bytes are exactly what the pin names.
pub async fn fetch_wasm(
    client: &RegistryClient,
    reference: &Reference,
) -> Result<WasmArtifact, ArtifactError> {
    let target = match (reference.digest(), reference.tag()) {
        (Some(digest), _) => digest.to_string(),
        (None, Some(tag)) => tag.to_owned(),
        (None, None) => "latest".to_owned(),
    };
    let ctx = LookupContext::default();
    let (repo, host) = (reference.repository(), reference.registry());
    // The digest `get` returns may be the registry's own header: only the body is trusted.
    let (_, body) = client.get(host, repo, &target, &ctx).await?;
    let manifest_digest = verify_pin(reference, &body)?;
    let manifest: ArtifactManifest = serde_json::from_slice(&body).map_err(|e| {
        RegistryError::InvalidResponse(format!("{reference} is not an OCI artifact manifest: {e}"))
    })?;
    let layer = pick_layer(&manifest.layers).ok_or_else(|| {
        RegistryError::InvalidResponse(format!(
            "{reference} has no WebAssembly layer (media types: {})",
            manifest
                .layers
                .iter()
                .map(|l| l.media_type.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let bytes = client
        .blob(host, repo, &layer.digest, MAX_WASM_BYTES, &ctx)
        .await?;
    Ok(WasmArtifact {
        bytes: bytes.to_vec(),
        manifest_digest,
    })
}

/// The digest of `manifest` (under the pin's algorithm when pinned, else sha256), refused
/// when it is not the digest `reference` pins.
fn verify_pin(reference: &Reference, manifest: &[u8]) -> Result<Digest, ArtifactError> {
    let Some(pinned) = reference.digest() else {
        return Ok(Digest::compute(DigestAlgorithm::Sha256, manifest));
    };
    let actual = Digest::compute(pinned.algorithm(), manifest);
    if &actual != pinned {
        return Err(ArtifactError::PinMismatch {
            reference: reference.to_string(),
            pinned: pinned.clone(),
            actual,
        });
    }
    Ok(actual)
}

fn pick_layer(layers: &[Layer]) -> Option<&Layer> {
    layers
        .iter()
        .find(|l| WASM_LAYER_TYPES.contains(&l.media_type.as_str()))
        .or(match layers {
            [only] => Some(only),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(media_type: &str, digest: &str) -> Layer {
        Layer {
            media_type: media_type.into(),
            digest: digest.into(),
        }
    }

    #[test]
    fn a_manifest_must_match_its_pin() {
        let manifest = br#"{"schemaVersion":2,"layers":[]}"#;
        let digest = Digest::compute(DigestAlgorithm::Sha256, manifest);
        let pinned = Reference::parse(&format!("r.example/p:1@{digest}")).expect("reference");
        assert_eq!(verify_pin(&pinned, manifest).ok(), Some(digest.clone()));
        let tampered = br#"{"schemaVersion":2,"layers":[ ]}"#;
        let err = verify_pin(&pinned, tampered).expect_err("tampered");
        assert!(err.to_string().contains("not the pinned"), "{err}");
        let unpinned = Reference::parse("r.example/p:1").expect("reference");
        assert_eq!(verify_pin(&unpinned, manifest).ok(), Some(digest));
    }

    #[test]
    fn picks_the_wasm_layer_or_the_only_layer() {
        let layers = [
            layer("application/vnd.oci.image.layer.v1.tar", "sha256:a"),
            layer("application/vnd.wasm.content.layer.v1+wasm", "sha256:b"),
        ];
        assert_eq!(
            pick_layer(&layers).map(|l| l.digest.as_str()),
            Some("sha256:b")
        );
        let only = [layer("application/octet-stream", "sha256:c")];
        assert_eq!(
            pick_layer(&only).map(|l| l.digest.as_str()),
            Some("sha256:c")
        );
        let two = [layer("x/a", "sha256:d"), layer("x/b", "sha256:e")];
        assert!(pick_layer(&two).is_none());
    }
}
