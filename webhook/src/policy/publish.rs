//! A policy as an OCI artifact (`landed policy push`): the layout Kubewarden and `oras` use
//! for WebAssembly (one wasm layer, a wasm config, an OCI image manifest), annotated with the
//! ABI, the landed version and the source digest; pushed with the registry client and
//! confirmed by reading the tag back.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::Serialize;

use crate::image::{Digest, DigestAlgorithm, Reference};
use crate::registry::client::OCI_MANIFEST;
use crate::registry::{LookupContext, RegistryClient, RegistryError};

/// Media type of the layer holding the module or component.
pub const WASM_LAYER: &str = "application/vnd.wasm.content.layer.v1+wasm";
/// Media type of the artifact's config.
pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v1+json";
/// Annotation naming the ABI (`landed` or `kubewarden-wapc`).
pub const ABI_ANNOTATION: &str = "dev.landed.policy.abi";
/// Annotation with the version of landed that pushed it.
pub const VERSION_ANNOTATION: &str = "dev.landed.version";
/// Annotation with the sha256 of the source file.
pub const SOURCE_ANNOTATION: &str = "dev.landed.policy.source.sha256";
const TITLE: &str = "org.opencontainers.image.title";
const CREATED: &str = "org.opencontainers.image.created";

/// The calling convention of a policy module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Abi {
    /// A component of the `landed:policy` world.
    Landed,
    /// A core module speaking waPC (exports `__guest_call`), as Kubewarden's policies do.
    KubewardenWapc,
}

impl Abi {
    /// The annotation value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Landed => "landed",
            Self::KubewardenWapc => "kubewarden-wapc",
        }
    }

    /// The ABI of `bytes`, read from its header and exports (nothing is compiled).
    pub fn of(bytes: &[u8]) -> Result<Self, PublishError> {
        use wasmparser::{Encoding, Payload};
        let unreadable = |e: wasmparser::BinaryReaderError| PublishError::NotAPolicy(e.to_string());
        for payload in wasmparser::Parser::new(0).parse_all(bytes) {
            match payload.map_err(unreadable)? {
                Payload::Version {
                    encoding: Encoding::Component,
                    ..
                } => return Ok(Self::Landed),
                Payload::ExportSection(exports) => {
                    for export in exports {
                        if export.map_err(unreadable)?.name == "__guest_call" {
                            return Ok(Self::KubewardenWapc);
                        }
                    }
                }
                _ => {}
            }
        }
        Err(PublishError::NotAPolicy(
            "a core module without `__guest_call`: neither a landed component nor a \
             Kubewarden (waPC) policy"
                .into(),
        ))
    }
}

/// Why a policy was not pushed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The file is not a policy landed can run.
    #[error("not a policy: {0}")]
    NotAPolicy(String),
    /// The reference cannot be pushed to (it must name a tag, not a digest).
    #[error("{0}")]
    Reference(String),
    /// A registry step failed.
    #[error("{step}: {source}")]
    Registry {
        /// What was being done.
        step: &'static str,
        /// The registry's answer.
        #[source]
        source: RegistryError,
    },
    /// The tag, read back, is not the manifest pushed.
    #[error("the registry accepted the manifest, but {reference} now serves {found}, not the pushed {pushed}")]
    NotConfirmed {
        /// The reference pushed.
        reference: String,
        /// The digest pushed.
        pushed: Digest,
        /// The digest read back.
        found: Digest,
    },
}

impl PublishError {
    /// The registry's failure behind this error, if any.
    pub fn registry(&self) -> Option<&RegistryError> {
        match self {
            Self::Registry { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: &'static str,
    digest: String,
    size: usize,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ImageManifest {
    schema_version: u32,
    media_type: &'static str,
    config: Descriptor,
    layers: Vec<Descriptor>,
    annotations: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WasmConfig {
    architecture: &'static str,
    abi: &'static str,
    landed_version: &'static str,
    layer_digests: Vec<String>,
}

/// A policy laid out as an OCI artifact, ready to push.
#[derive(Debug)]
pub struct PolicyArtifact {
    /// Its ABI.
    pub abi: Abi,
    /// The module or component.
    pub layer: Bytes,
    /// `sha256:…` of the layer (the source file's digest).
    pub layer_digest: Digest,
    /// The config blob.
    pub config: Bytes,
    /// `sha256:…` of the config.
    pub config_digest: Digest,
    /// The image manifest.
    pub manifest: Bytes,
    /// `sha256:…` of the manifest: the digest to pin.
    pub digest: Digest,
}

impl PolicyArtifact {
    /// Lays out `bytes` (from the file named `title`), created at `created` (RFC 3339).
    pub fn new(bytes: Vec<u8>, title: &str, created: &str) -> Result<Self, PublishError> {
        let abi = Abi::of(&bytes)?;
        let layer_digest = Digest::compute(DigestAlgorithm::Sha256, &bytes);
        let config = WasmConfig {
            architecture: "wasm",
            abi: abi.as_str(),
            landed_version: env!("CARGO_PKG_VERSION"),
            layer_digests: vec![layer_digest.to_string()],
        };
        let config = Bytes::from(serde_json::to_vec(&config).map_err(json)?);
        let config_digest = Digest::compute(DigestAlgorithm::Sha256, &config);
        let annotations = BTreeMap::from([
            (ABI_ANNOTATION, abi.as_str().to_owned()),
            (VERSION_ANNOTATION, env!("CARGO_PKG_VERSION").to_owned()),
            (SOURCE_ANNOTATION, layer_digest.encoded().to_owned()),
            (TITLE, title.to_owned()),
            (CREATED, created.to_owned()),
        ]);
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: OCI_MANIFEST,
            config: Descriptor {
                media_type: WASM_CONFIG,
                digest: config_digest.to_string(),
                size: config.len(),
                annotations: BTreeMap::new(),
            },
            layers: vec![Descriptor {
                media_type: WASM_LAYER,
                digest: layer_digest.to_string(),
                size: bytes.len(),
                // oras names the file it pulls after the layer's title.
                annotations: BTreeMap::from([(TITLE, title.to_owned())]),
            }],
            annotations,
        };
        let manifest = Bytes::from(serde_json::to_vec(&manifest).map_err(json)?);
        Ok(Self {
            abi,
            digest: Digest::compute(DigestAlgorithm::Sha256, &manifest),
            layer: Bytes::from(bytes),
            layer_digest,
            config,
            config_digest,
            manifest,
        })
    }
}

fn json(e: serde_json::Error) -> PublishError {
    PublishError::NotAPolicy(format!("cannot encode the artifact: {e}"))
}

/// What a push left in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The manifest digest, confirmed by reading the tag back.
    pub digest: Digest,
    /// Blobs uploaded (the others were there already).
    pub uploaded: usize,
}

/// Pushes `artifact` to `reference` (`host/repo:tag`): blobs the registry lacks, then the
/// manifest; done only when the tag, read back, serves the manifest pushed.
pub async fn push(
    client: &RegistryClient,
    reference: &Reference,
    artifact: &PolicyArtifact,
) -> Result<Pushed, PublishError> {
    if reference.digest().is_some() {
        return Err(PublishError::Reference(format!(
            "{reference}: push to a tag (REGISTRY/REPO:TAG); the digest is the registry's to compute"
        )));
    }
    let tag = reference.tag().unwrap_or(crate::image::DEFAULT_TAG);
    let (host, repo) = (reference.registry(), reference.repository());
    let step = |step| move |source| PublishError::Registry { step, source };
    let mut uploaded = 0;
    for (digest, blob) in [
        (&artifact.layer_digest, &artifact.layer),
        (&artifact.config_digest, &artifact.config),
    ] {
        let sent = client
            .push_blob(host, repo, digest, blob.clone())
            .await
            .map_err(step("uploading a blob"))?;
        uploaded += usize::from(sent);
    }
    let stored = client
        .put_manifest(host, repo, tag, OCI_MANIFEST, artifact.manifest.clone())
        .await
        .map_err(step("uploading the manifest"))?;
    tracing::debug!(registry = %host, repository = %repo, tag, stored = ?stored.as_ref().map(ToString::to_string), "manifest uploaded");
    // The registry's word is not enough: the tag must serve these bytes now.
    let (_, body) = client
        .get(host, repo, tag, &LookupContext::default())
        .await
        .map_err(step("reading the pushed manifest back"))?;
    let found = Digest::compute(DigestAlgorithm::Sha256, &body);
    if found != artifact.digest {
        return Err(PublishError::NotConfirmed {
            reference: reference.to_string(),
            pushed: artifact.digest.clone(),
            found,
        });
    }
    Ok(Pushed {
        digest: found,
        uploaded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_is_read_from_the_module() {
        let component = wat::parse_str("(component)").expect("component");
        assert_eq!(Abi::of(&component).ok(), Some(Abi::Landed));
        let wapc = wat::parse_str(
            r#"(module (func (export "__guest_call") (param i32 i32) (result i32) i32.const 1))"#,
        )
        .expect("module");
        assert_eq!(Abi::of(&wapc).ok(), Some(Abi::KubewardenWapc));
        let plain = wat::parse_str(r#"(module (func (export "run")))"#).expect("module");
        assert!(Abi::of(&plain).is_err());
        let err = Abi::of(b"#!/bin/sh\necho not wasm\n").expect_err("not wasm");
        assert!(err.to_string().starts_with("not a policy"), "{err}");
    }

    #[test]
    fn artifact_has_the_wasm_layout_and_annotations() {
        let bytes = wat::parse_str("(component)").expect("component");
        let artifact =
            PolicyArtifact::new(bytes.clone(), "p.wasm", "2026-01-02T03:04:05Z").expect("artifact");
        let manifest: serde_json::Value = serde_json::from_slice(&artifact.manifest).expect("json");
        assert_eq!(manifest["mediaType"], OCI_MANIFEST);
        assert_eq!(manifest["config"]["mediaType"], WASM_CONFIG);
        assert_eq!(manifest["layers"][0]["mediaType"], WASM_LAYER);
        assert_eq!(manifest["layers"][0]["size"], bytes.len());
        let sha = Digest::compute(DigestAlgorithm::Sha256, &bytes);
        assert_eq!(manifest["layers"][0]["digest"], sha.to_string());
        let notes = &manifest["annotations"];
        assert_eq!(notes[ABI_ANNOTATION], "landed");
        assert_eq!(notes[SOURCE_ANNOTATION], sha.encoded());
        assert_eq!(notes[VERSION_ANNOTATION], env!("CARGO_PKG_VERSION"));
        assert_eq!(notes[TITLE], "p.wasm");
        assert_eq!(notes[CREATED], "2026-01-02T03:04:05Z");
        assert_eq!(
            artifact.digest,
            Digest::compute(DigestAlgorithm::Sha256, &artifact.manifest)
        );
    }
}
