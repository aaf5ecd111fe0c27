//! Uploads (`landed policy push`): blobs in one monolithic PUT and a manifest, under a
//! push-scoped token (`repository:R:pull,push`), with the same endpoints, credentials and
//! egress rule as lookups.

use std::time::Duration;

use bytes::Bytes;
use http::header::LOCATION;
use http::{Method, StatusCode};

use super::client::RegistryClient;
use super::endpoint::Endpoint;
use super::errors::RegistryError;
use super::request::{Access, Call};
use super::wire::{content_digest, header, read_body, retry_after, MAX_BODY};
use super::LookupContext;
use crate::image::Digest;

/// Media type of a blob sent in one PUT.
const OCTET_STREAM: &str = "application/octet-stream";

/// Time for one blob upload: the lookups' per-request limit (2 s by default) is sized for
/// manifests, not for megabytes sent over an operator's uplink.
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);

impl RegistryClient {
    /// Uploads `bytes` as blob `digest` of `repo` unless the registry has it already (HEAD
    /// first); returns whether it was sent.
    pub async fn push_blob(
        &self,
        host: &str,
        repo: &str,
        digest: &Digest,
        bytes: Bytes,
    ) -> Result<bool, RegistryError> {
        let ep = self.endpoint(host)?;
        let ctx = LookupContext::default();
        let path = format!("blobs/{digest}");
        let head = Call::under(&ep, repo, Method::HEAD, &path, Access::Push);
        // Anything but a 200 (404, or a refusal HEAD cannot explain: it has no body) goes on
        // to the upload, whose answer says why.
        if self.send_call(&ep, repo, head, &ctx).await?.resp.status() == StatusCode::OK {
            return Ok(false);
        }
        let start_path = "blobs/uploads/";
        let start = Call::under(&ep, repo, Method::POST, start_path, Access::Push);
        let resp = self.send_call(&ep, repo, start, &ctx).await?.resp;
        let status = resp.status();
        let location = header(&resp, LOCATION.as_str());
        if status != StatusCode::ACCEPTED {
            return Err(failure(resp).await);
        }
        let location = location.ok_or_else(|| {
            RegistryError::InvalidResponse("the upload was started without a Location".into())
        })?;
        let mut url = upload_url(&ep, &location)?;
        url.query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let put = Call {
            method: Method::PUT,
            url: url.to_string(),
            path: "blobs/uploads/…",
            access: Access::Push,
            body: Some((bytes, OCTET_STREAM)),
            timeout: Some(UPLOAD_TIMEOUT),
        };
        let resp = self.send_call(&ep, repo, put, &ctx).await?.resp;
        if resp.status() != StatusCode::CREATED {
            return Err(failure(resp).await);
        }
        match content_digest(&resp) {
            Some(stored) if stored != *digest => Err(RegistryError::InvalidResponse(format!(
                "the registry stored blob {digest} as {stored}"
            ))),
            _ => Ok(true),
        }
    }

    /// PUTs `manifest` (of `media_type`) as `repo:tag`; returns the digest the registry
    /// says it stored, when it says.
    pub async fn put_manifest(
        &self,
        host: &str,
        repo: &str,
        tag: &str,
        media_type: &str,
        manifest: Bytes,
    ) -> Result<Option<Digest>, RegistryError> {
        let ep = self.endpoint(host)?;
        let path = format!("manifests/{tag}");
        let mut put = Call::under(&ep, repo, Method::PUT, &path, Access::Push);
        put.body = Some((manifest, media_type));
        let resp = self
            .send_call(&ep, repo, put, &LookupContext::default())
            .await?
            .resp;
        if resp.status() != StatusCode::CREATED {
            return Err(failure(resp).await);
        }
        Ok(content_digest(&resp))
    }
}

/// The error a refused upload step stands for, with the registry's code and message.
async fn failure(resp: reqwest::Response) -> RegistryError {
    let status = resp.status();
    let after = retry_after(&resp);
    match read_body(resp, MAX_BODY, "upload request").await {
        Ok(body) => RegistryError::from_response(status, &body, after),
        Err(e) => e,
    }
}

/// Where the registry said to send the blob (`Location`, relative or absolute), held to the
/// registry's own origin: the PUT carries its credentials, so an answer naming another host
/// (or scheme, or port) is refused rather than followed.
pub fn upload_url(ep: &Endpoint, location: &str) -> Result<reqwest::Url, RegistryError> {
    let base = reqwest::Url::parse(&ep.base)
        .map_err(|e| RegistryError::InvalidResponse(format!("endpoint {}: {e}", ep.base)))?;
    let url = base.join(location).map_err(|e| {
        RegistryError::InvalidResponse(format!("upload Location {location:?} is not a URL: {e}"))
    })?;
    if url.origin() != base.origin() {
        return Err(RegistryError::InvalidResponse(format!(
            "the registry sent the upload to {}, not to {}; landed sends credentials only to \
             the registry itself",
            url.origin().ascii_serialization(),
            base.origin().ascii_serialization()
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::egress::{Egress, EgressConfig, Origin};
    use crate::registry::endpoint::Endpoints;
    use crate::registry::{RegistryConfig, Timeouts};

    fn endpoint(host: &str) -> std::sync::Arc<Endpoint> {
        let registries = [RegistryConfig {
            host: host.to_owned(),
            ..RegistryConfig::default()
        }];
        let timeouts = Timeouts {
            connect: Duration::from_secs(1),
            request: Duration::from_secs(1),
        };
        let egress = Egress::new(&EgressConfig::default(), Origin::Operator).expect("egress");
        let endpoints = Endpoints::new(&registries, timeouts, egress, 4).expect("endpoints");
        endpoints.get(host).expect("endpoint")
    }

    #[test]
    fn upload_location_is_resolved_against_the_registry() {
        let ep = endpoint("registry.example:5000");
        let relative = upload_url(&ep, "/v2/p/blobs/uploads/abc?_state=x").expect("relative");
        assert_eq!(
            relative.as_str(),
            "https://registry.example:5000/v2/p/blobs/uploads/abc?_state=x"
        );
        let absolute = upload_url(&ep, "https://registry.example:5000/v2/p/blobs/uploads/d")
            .expect("absolute");
        assert_eq!(absolute.path(), "/v2/p/blobs/uploads/d");
    }

    #[test]
    fn upload_location_on_another_host_gets_no_credentials() {
        let ep = endpoint("registry.example");
        for hostile in [
            "https://collector.example/v2/p/blobs/uploads/abc",
            "http://registry.example/v2/p/blobs/uploads/abc",
            "https://registry.example:8443/v2/p/blobs/uploads/abc",
            "//collector.example/steal",
            "https://169.254.169.254/latest/meta-data/",
        ] {
            let err = upload_url(&ep, hostile).expect_err(hostile);
            assert!(
                err.to_string()
                    .contains("landed sends credentials only to the registry itself"),
                "{hostile}: {err}"
            );
        }
    }
}
