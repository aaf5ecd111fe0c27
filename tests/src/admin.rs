//! Direct Distribution API calls the harness needs beyond what skopeo does: uploading blobs
//! without a manifest (a partial push), putting hand-made manifests, deleting by digest.

use anyhow::{bail, Context, Result};
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use reqwest::{Client, Method, RequestBuilder, StatusCode};

use crate::registry::RegistryAuth;
use crate::runtime::{block_on, install_crypto_provider};

/// The four manifest media types a client must accept.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

/// An API client for one registry, authenticated as the pusher.
pub struct AdminClient {
    endpoint: String,
    http: Client,
    auth: RegistryAuth,
}

impl AdminClient {
    /// A client for `endpoint`, trusting `ca_pem` when given.
    pub fn new(endpoint: String, ca_pem: Option<String>, auth: RegistryAuth) -> Result<Self> {
        install_crypto_provider();
        let mut builder = Client::builder().user_agent("landed-e2e-harness");
        if let Some(pem) = ca_pem {
            let cert = reqwest::Certificate::from_pem(pem.as_bytes())?;
            builder = builder.tls_certs_only([cert]);
        }
        Ok(Self {
            endpoint,
            http: builder
                .build()
                .context("building the harness HTTP client")?,
            auth,
        })
    }

    fn request(&self, method: Method, url: &str, repo: &str) -> Result<RequestBuilder> {
        let builder = self.http.request(method, url);
        Ok(match &self.auth {
            RegistryAuth::None => builder,
            RegistryAuth::Htpasswd { user, password } => builder.basic_auth(user, Some(password)),
            RegistryAuth::Token { issuer, .. } => {
                let actions = ["pull", "push", "delete"].map(str::to_owned).to_vec();
                let token =
                    issuer.mint("landed-e2e-harness", &[(repo.to_owned(), actions)], 300)?;
                builder.bearer_auth(token)
            }
        })
    }

    /// Uploads `bytes` as a blob of `repo` (POST then monolithic PUT) and returns its digest.
    pub fn upload_blob(&self, repo: &str, bytes: &[u8]) -> Result<String> {
        let digest = crate::sha256_digest(bytes);
        block_on(async {
            let start = self
                .request(
                    Method::POST,
                    &format!("{}/v2/{repo}/blobs/uploads/", self.endpoint),
                    repo,
                )?
                .send()
                .await?;
            if start.status() != StatusCode::ACCEPTED {
                bail!("starting a blob upload: {}", start.status());
            }
            let location = start
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .context("blob upload answered without Location")?
                .to_owned();
            let mut url = if location.starts_with('/') {
                format!("{}{location}", self.endpoint)
            } else {
                location
            };
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&format!("digest={digest}"));
            let put = self
                .request(Method::PUT, &url, repo)?
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(bytes.to_vec())
                .send()
                .await?;
            if put.status() != StatusCode::CREATED {
                let status = put.status();
                bail!("finishing a blob upload: {status}: {}", put.text().await?);
            }
            Ok(digest.clone())
        })
    }

    /// PUTs a manifest under `reference` (tag or digest) and returns its digest.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String> {
        block_on(async {
            let response = self
                .request(
                    Method::PUT,
                    &format!("{}/v2/{repo}/manifests/{reference}", self.endpoint),
                    repo,
                )?
                .header(CONTENT_TYPE, media_type)
                .body(bytes.to_vec())
                .send()
                .await?;
            if response.status() != StatusCode::CREATED {
                let status = response.status();
                bail!(
                    "PUT manifest {repo}:{reference}: {status}: {}",
                    response.text().await?
                );
            }
            Ok(crate::sha256_digest(bytes))
        })
    }

    /// Deletes the manifest `digest` of `repo` (the registry must allow deletes).
    pub fn delete_manifest(&self, repo: &str, digest: &str) -> Result<()> {
        block_on(async {
            let response = self
                .request(
                    Method::DELETE,
                    &format!("{}/v2/{repo}/manifests/{digest}", self.endpoint),
                    repo,
                )?
                .send()
                .await?;
            if response.status() != StatusCode::ACCEPTED {
                let status = response.status();
                bail!(
                    "DELETE {repo}@{digest}: {status}: {}",
                    response.text().await?
                );
            }
            Ok(())
        })
    }

    /// A manifest GET with all four Accept types: its status, digest header and body as served.
    pub fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<(u16, Option<String>, Vec<u8>)> {
        block_on(async {
            let response = self
                .request(
                    Method::GET,
                    &format!("{}/v2/{repo}/manifests/{reference}", self.endpoint),
                    repo,
                )?
                .header(ACCEPT, MANIFEST_ACCEPT)
                .send()
                .await?;
            let status = response.status().as_u16();
            let digest = response
                .headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            Ok((status, digest, response.bytes().await?.to_vec()))
        })
    }

    /// The status of a manifest HEAD with all four Accept types, and its digest header.
    pub fn head_manifest(&self, repo: &str, reference: &str) -> Result<(u16, Option<String>)> {
        block_on(async {
            let response = self
                .request(
                    Method::HEAD,
                    &format!("{}/v2/{repo}/manifests/{reference}", self.endpoint),
                    repo,
                )?
                .header(ACCEPT, MANIFEST_ACCEPT)
                .send()
                .await?;
            let digest = response
                .headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            Ok((response.status().as_u16(), digest))
        })
    }
}
