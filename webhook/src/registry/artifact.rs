//! Pulling a WebAssembly module stored as an OCI artifact (policies from registries).

use serde::Deserialize;

use super::client::RegistryClient;
use super::errors::RegistryError;
use crate::image::Reference;
use crate::resolve::LookupContext;

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

/// The module in the artifact at `reference`: the layer with a WebAssembly media type, or
/// the only layer. Its digest is verified.
pub async fn fetch_wasm(
    client: &RegistryClient,
    reference: &Reference,
) -> Result<Vec<u8>, RegistryError> {
    let target = match (reference.digest(), reference.tag()) {
        (Some(digest), _) => digest.to_string(),
        (None, Some(tag)) => tag.to_owned(),
        (None, None) => "latest".to_owned(),
    };
    let ctx = LookupContext::default();
    let (repo, host) = (reference.repository(), reference.registry());
    let (_, body) = client.get(host, repo, &target, &ctx).await?;
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
    Ok(bytes.to_vec())
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
