//! Real images pushed without a daemon: blobs and manifests made here, an OCI layout on disk,
//! `skopeo copy` to the registry; plus the broken states a real push can leave behind.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::registry::Registry;
use crate::tarball::layer_with_file;
use crate::tools::Tool;

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest v2 schema 2 media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list media type.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Which manifest format an image is pushed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// OCI image manifest (skopeo's default from an OCI layout).
    Oci,
    /// Docker v2 schema 2 (`skopeo copy --format v2s2`).
    Docker,
}

/// A content-addressed blob.
#[derive(Clone, Debug)]
pub struct Blob {
    /// Its media type.
    pub media_type: String,
    /// `sha256:…` of the bytes.
    pub digest: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl Blob {
    fn new(media_type: &str, bytes: Vec<u8>) -> Self {
        Self {
            media_type: media_type.to_owned(),
            digest: crate::sha256_digest(&bytes),
            bytes,
        }
    }

    /// Its OCI descriptor.
    pub fn descriptor(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.bytes.len()})
    }
}

/// One single-platform image: manifest, config and one layer of random content.
#[derive(Clone, Debug)]
pub struct BuiltImage {
    /// The manifest.
    pub manifest: Blob,
    /// The image config.
    pub config: Blob,
    /// The only layer (gzip tar).
    pub layer: Blob,
}

/// A fresh image for `arch` in `format`, unique by its random file content.
pub fn build_image(format: Format, arch: &str) -> Result<BuiltImage> {
    let content = format!("landed-e2e {arch} {}\n", crate::random_hex(16));
    let layer = layer_with_file("landed-e2e.txt", content.as_bytes());
    let diff_id = crate::sha256_digest(&layer.tar);
    let config_json = json!({
        "architecture": arch,
        "os": "linux",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    });
    let (config_type, layer_type, manifest_type) = match format {
        Format::Oci => (
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.oci.image.layer.v1.tar+gzip",
            OCI_MANIFEST,
        ),
        Format::Docker => (
            "application/vnd.docker.container.image.v1+json",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            DOCKER_MANIFEST,
        ),
    };
    let config = Blob::new(config_type, serde_json::to_vec(&config_json)?);
    let layer = Blob::new(layer_type, layer.gzip);
    let manifest_json = json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": config.descriptor(),
        "layers": [layer.descriptor()],
    });
    let manifest = Blob::new(manifest_type, serde_json::to_vec(&manifest_json)?);
    Ok(BuiltImage {
        manifest,
        config,
        layer,
    })
}

/// An index (OCI) or manifest list (Docker) over `children`, with their platforms.
fn build_index(media_type: &str, children: &[(&BuiltImage, &str)]) -> Result<Blob> {
    let manifests: Vec<Value> = children
        .iter()
        .map(|(image, arch)| {
            let mut descriptor = image.manifest.descriptor();
            descriptor["platform"] = json!({"architecture": arch, "os": "linux"});
            descriptor
        })
        .collect();
    let index = json!({"schemaVersion": 2, "mediaType": media_type, "manifests": manifests});
    Ok(Blob::new(media_type, serde_json::to_vec(&index)?))
}

/// What was pushed, and how to name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedImage {
    /// Registry host as written in references (`127.0.0.1:PORT`).
    pub host: String,
    /// Repository name.
    pub repo: String,
    /// Tag.
    pub tag: String,
    /// Digest of the top manifest (index or image) the registry stores (or, for a partial
    /// push, would have stored).
    pub digest: String,
    /// Digests of an index's children (empty for a single image).
    pub children: Vec<String>,
}

impl PushedImage {
    /// `host/repo:tag`.
    pub fn by_tag(&self) -> String {
        format!("{}/{}:{}", self.host, self.repo, self.tag)
    }

    /// `host/repo@digest`.
    pub fn by_digest(&self) -> String {
        format!("{}/{}@{}", self.host, self.repo, self.digest)
    }

    /// `host/repo:tag@digest`.
    pub fn pinned(&self) -> String {
        format!("{}/{}:{}@{}", self.host, self.repo, self.tag, self.digest)
    }

    /// The same image named under another registry host (e.g. a GAR host mapped by config).
    pub fn with_host(&self, host: &str) -> Self {
        Self {
            host: host.to_owned(),
            ..self.clone()
        }
    }
}

/// Writes an OCI image layout into `dir` with `blobs` and `top` tagged `tag`.
fn write_layout(dir: &Path, tag: &str, top: &Blob, blobs: &[&Blob]) -> Result<()> {
    let blob_dir = dir.join("blobs/sha256");
    fs::create_dir_all(&blob_dir)?;
    for blob in blobs.iter().copied().chain([top]) {
        let hex = blob.digest.trim_start_matches("sha256:");
        fs::write(blob_dir.join(hex), &blob.bytes)?;
    }
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut descriptor = top.descriptor();
    descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [descriptor]});
    fs::write(dir.join("index.json"), serde_json::to_vec(&index)?)?;
    Ok(())
}

impl Registry {
    /// Pushes a fresh Docker v2 image to `repo:tag` with skopeo.
    pub fn push_image(&self, repo: &str, tag: &str) -> Result<PushedImage> {
        self.push_image_as(repo, tag, Format::Docker)
    }

    /// Pushes a fresh image in `format` to `repo:tag` with skopeo. The layout on disk is
    /// always OCI; for [`Format::Docker`] skopeo converts it (`--format v2s2`), so the digest
    /// comes from skopeo's `--digestfile`.
    pub fn push_image_as(&self, repo: &str, tag: &str, format: Format) -> Result<PushedImage> {
        let image = build_image(Format::Oci, "amd64")?;
        let dir = tempfile::tempdir()?;
        write_layout(
            dir.path(),
            tag,
            &image.manifest,
            &[&image.config, &image.layer],
        )?;
        let digest = self.skopeo_copy(dir.path(), repo, tag, format, false)?;
        if format == Format::Oci && digest != image.manifest.digest {
            bail!(
                "skopeo pushed {digest}, expected the built manifest {}",
                image.manifest.digest
            );
        }
        Ok(self.pushed(repo, tag, digest, Vec::new()))
    }

    /// Pushes a fresh two-platform OCI index (amd64, arm64) to `repo:tag` with `skopeo --all`.
    pub fn push_index(&self, repo: &str, tag: &str) -> Result<PushedImage> {
        let amd64 = build_image(Format::Oci, "amd64")?;
        let arm64 = build_image(Format::Oci, "arm64")?;
        let index = build_index(OCI_INDEX, &[(&amd64, "amd64"), (&arm64, "arm64")])?;
        let dir = tempfile::tempdir()?;
        let mut blobs = Vec::new();
        for image in [&amd64, &arm64] {
            blobs.extend([&image.manifest, &image.config, &image.layer]);
        }
        write_layout(dir.path(), tag, &index, &blobs)?;
        let digest = self.skopeo_copy(dir.path(), repo, tag, Format::Oci, true)?;
        let children = vec![amd64.manifest.digest, arm64.manifest.digest];
        Ok(self.pushed(repo, tag, digest, children))
    }

    /// Pushes a fresh two-platform Docker manifest list through the API: blobs, both child
    /// manifests by digest, then the list under `tag`.
    pub fn push_docker_manifest_list(&self, repo: &str, tag: &str) -> Result<PushedImage> {
        let admin = self.admin()?;
        let amd64 = build_image(Format::Docker, "amd64")?;
        let arm64 = build_image(Format::Docker, "arm64")?;
        for image in [&amd64, &arm64] {
            admin.upload_blob(repo, &image.config.bytes)?;
            admin.upload_blob(repo, &image.layer.bytes)?;
            admin.put_manifest(
                repo,
                &image.manifest.digest,
                DOCKER_MANIFEST,
                &image.manifest.bytes,
            )?;
        }
        let list = build_index(DOCKER_LIST, &[(&amd64, "amd64"), (&arm64, "arm64")])?;
        let digest = admin.put_manifest(repo, tag, DOCKER_LIST, &list.bytes)?;
        let children = vec![amd64.manifest.digest, arm64.manifest.digest];
        Ok(self.pushed(repo, tag, digest, children))
    }

    /// The seed's failure: a push that uploaded every blob and stopped before the manifest
    /// PUT. The returned digest is the manifest's that never landed.
    pub fn push_partial(&self, repo: &str, tag: &str) -> Result<PushedImage> {
        let admin = self.admin()?;
        let image = build_image(Format::Docker, "amd64")?;
        admin.upload_blob(repo, &image.config.bytes)?;
        admin.upload_blob(repo, &image.layer.bytes)?;
        Ok(self.pushed(repo, tag, image.manifest.digest, Vec::new()))
    }

    /// Deletes the manifest `digest` from `repo` (e.g. an index's child).
    pub fn delete_manifest(&self, repo: &str, digest: &str) -> Result<()> {
        self.admin()?.delete_manifest(repo, digest)
    }

    fn pushed(&self, repo: &str, tag: &str, digest: String, children: Vec<String>) -> PushedImage {
        PushedImage {
            host: self.host(),
            repo: repo.to_owned(),
            tag: tag.to_owned(),
            digest,
            children,
        }
    }

    /// `skopeo copy oci:DIR:tag docker://HOST/repo:tag`; returns the pushed manifest digest.
    fn skopeo_copy(
        &self,
        layout: &Path,
        repo: &str,
        tag: &str,
        format: Format,
        all: bool,
    ) -> Result<String> {
        let skopeo = Tool::Skopeo.require()?;
        let home = tempfile::tempdir()?;
        let digest_file = home.path().join("digest");
        let mut command = Command::new(skopeo);
        command
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", "/usr/bin:/bin")
            .args([
                "copy",
                "--quiet",
                "--insecure-policy",
                "--dest-tls-verify=false",
            ])
            .arg("--digestfile")
            .arg(&digest_file);
        if all {
            command.arg("--all");
        }
        if format == Format::Docker {
            command.args(["--format", "v2s2"]);
        }
        if let Some((user, password)) = self.push_credentials() {
            command
                .arg("--dest-creds")
                .arg(format!("{user}:{password}"));
        }
        command
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}/{repo}:{tag}", self.host()));
        let out = command.output().context("running skopeo copy")?;
        if !out.status.success() {
            bail!(
                "skopeo copy to {}/{repo}:{tag} failed: {}\nregistry log:\n{}",
                self.host(),
                String::from_utf8_lossy(&out.stderr),
                tail(&self.server_log(), 15)
            );
        }
        let digest = fs::read_to_string(&digest_file).context("reading skopeo's digest file")?;
        Ok(digest.trim().to_owned())
    }
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
