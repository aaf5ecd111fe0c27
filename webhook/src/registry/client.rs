//! Manifest requests to a registry, with the token dance in front of them.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Method, StatusCode};
use sha2::{Digest as _, Sha256};

use super::auth::Authenticator;
use super::challenge::{self, Challenge};
use super::config::RegistryConfig;
use super::egress::Egress;
use super::endpoint::{refused, Endpoint, Endpoints};
use super::errors::RegistryError;
pub use super::request::Access;
use super::request::{Authorization, Call, Request};
use super::tls::{SetupError, Timeouts};
use super::token::{TokenCache, TokenKey};
use super::wire::{
    basic, content_digest, header, media_type, read_body, retry_after, sensitive, MAX_BODY,
};
use super::LookupContext;
use crate::image::{Digest, DigestAlgorithm};

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema 2 manifest media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list media type.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// What a manifest lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// `sha256:…` of the manifest.
    pub digest: Digest,
    /// Its media type, when the registry said.
    pub media_type: Option<String>,
    /// Asked with a namespace's pull secret: the answer is that namespace's to know, not
    /// every workload's (the cache keeps it under the lookup context).
    pub namespaced: bool,
}

impl Manifest {
    /// Whether this is an OCI index or a Docker manifest list.
    pub fn is_index(&self) -> bool {
        matches!(self.media_type.as_deref(), Some(OCI_INDEX | DOCKER_LIST))
    }
}

/// The Distribution client: endpoints, tokens and credentials.
pub struct RegistryClient {
    endpoints: Endpoints,
    tokens: TokenCache,
    auth: Authenticator,
}

/// A registry's answer with what it was asked under.
pub(super) struct Sent {
    /// The answer.
    pub resp: reqwest::Response,
    /// A namespace's pull secret authenticated the request.
    pub namespaced: bool,
}

impl RegistryClient {
    /// A client for `registries` (others made on first use, at most `max_hosts` kept) under
    /// the `egress` rule, reading `auth` for credentials.
    pub fn new(
        registries: &[RegistryConfig],
        timeouts: Timeouts,
        egress: Egress,
        max_hosts: usize,
        auth: Authenticator,
    ) -> Result<Self, SetupError> {
        Ok(Self {
            endpoints: Endpoints::new(registries, timeouts, egress, max_hosts)?,
            tokens: TokenCache::default(),
            auth,
        })
    }

    /// The endpoint for a registry host as written in references; refused (without any
    /// connection or state) when the egress rule does not let landed contact it.
    pub fn endpoint(&self, host: &str) -> Result<Arc<Endpoint>, RegistryError> {
        self.endpoints.get(host)
    }

    /// Whether landed may contact the registry `host` (as in references) at all; a refusal
    /// is the error the lookup ends with. Makes no state for the host.
    pub fn admit(&self, host: &str) -> Result<(), RegistryError> {
        self.endpoints.admit(host)
    }

    /// HEADs (or GETs) `repo`'s manifest `reference` (tag or digest) under `ctx`'s credentials.
    pub async fn manifest(
        &self,
        host: &str,
        repo: &str,
        reference: &str,
        ctx: &LookupContext,
    ) -> Result<Manifest, RegistryError> {
        let ep = self.endpoint(host)?;
        let path = format!("manifests/{reference}");
        let Sent { resp, namespaced } = self.send(&ep, repo, Method::HEAD, &path, ctx).await?;
        let status = resp.status();
        if status.is_success() {
            if let Some(digest) = content_digest(&resp) {
                answers(reference, &digest)?;
                return Ok(Manifest {
                    digest,
                    media_type: header(&resp, CONTENT_TYPE.as_str()).map(media_type),
                    namespaced,
                });
            }
            return self.get(host, repo, reference, ctx).await.map(|(m, _)| m);
        }
        let retry_after = retry_after(&resp);
        let wants_body = status.is_client_error()
            && !matches!(
                status,
                StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS
            );
        if wants_body {
            // HEAD has no body: GET again for the registry's error code and message.
            return self.get(host, repo, reference, ctx).await.map(|(m, _)| m);
        }
        Err(RegistryError::from_response(status, b"", retry_after))
    }

    /// GETs `repo`'s manifest `reference`, returning it with its body.
    pub async fn get(
        &self,
        host: &str,
        repo: &str,
        reference: &str,
        ctx: &LookupContext,
    ) -> Result<(Manifest, Bytes), RegistryError> {
        let ep = self.endpoint(host)?;
        let path = format!("manifests/{reference}");
        let Sent { resp, namespaced } = self.send(&ep, repo, Method::GET, &path, ctx).await?;
        let status = resp.status();
        let retry_after = retry_after(&resp);
        let digest = content_digest(&resp);
        let media = header(&resp, CONTENT_TYPE.as_str()).map(media_type);
        let body = read_body(resp, MAX_BODY, "manifest request").await?;
        if !status.is_success() {
            return Err(RegistryError::from_response(status, &body, retry_after));
        }
        // Asked by digest, the body is what counts: it must hash to what was asked.
        let digest = match Digest::parse(reference) {
            Ok(asked) => Digest::compute(asked.algorithm(), &body),
            Err(_) => digest.unwrap_or_else(|| Digest::compute(DigestAlgorithm::Sha256, &body)),
        };
        answers(reference, &digest)?;
        let manifest = Manifest {
            digest,
            media_type: media,
            namespaced,
        };
        Ok((manifest, body))
    }

    /// GETs the blob `digest` of `repo` (at most `limit` bytes) and checks its sha256.
    pub async fn blob(
        &self,
        host: &str,
        repo: &str,
        digest: &str,
        limit: usize,
        ctx: &LookupContext,
    ) -> Result<Bytes, RegistryError> {
        let ep = self.endpoint(host)?;
        let path = format!("blobs/{digest}");
        let Sent { resp, .. } = self.send(&ep, repo, Method::GET, &path, ctx).await?;
        let status = resp.status();
        let retry_after = retry_after(&resp);
        let body = read_body(resp, limit, "blob request").await?;
        if !status.is_success() {
            return Err(RegistryError::from_response(status, &body, retry_after));
        }
        let actual = format!("sha256:{:x}", Sha256::digest(&body));
        if actual != digest {
            return Err(RegistryError::InvalidResponse(format!(
                "blob {digest} has content {actual}"
            )));
        }
        Ok(body)
    }

    /// One read under `/v2/<repo>/` (`manifests/<ref>` or `blobs/<digest>`).
    async fn send(
        &self,
        ep: &Endpoint,
        repo: &str,
        method: Method,
        path: &str,
        ctx: &LookupContext,
    ) -> Result<Sent, RegistryError> {
        let call = Call::under(ep, repo, method, path, Access::Pull);
        self.send_call(ep, repo, call, ctx).await
    }

    /// The identity (never the secret) of the credential landed would send to `host`
    /// with no workload context: `docker-config`, `gcp`, …; `None` is anonymous.
    pub async fn credential_identity(&self, host: &str) -> Result<Option<String>, RegistryError> {
        let ep = self.endpoint(host)?;
        let found = self
            .auth
            .credential(&ep.host, ep.auth, &LookupContext::default())
            .await?;
        Ok(found.map(|c| c.identity))
    }

    /// One request to `repo` (`call`), authenticating as the registry asks (at most one
    /// retry).
    pub(super) async fn send_call(
        &self,
        ep: &Endpoint,
        repo: &str,
        call: Call<'_>,
        ctx: &LookupContext,
    ) -> Result<Sent, RegistryError> {
        let access = call.access;
        let request = Request {
            ep,
            method: call.method,
            url: call.url,
            repo,
            path: call.path,
            body: call.body,
            timeout: call.timeout,
        };
        let scope = access.scope(repo);
        // A challenge met before on this endpoint is answered up front: no 401 round trip.
        let auth = match ep.known_challenge() {
            Some(ch) => self.authorization(ep, &ch, &scope, ctx).await?,
            None => None,
        };
        let namespaced = auth.as_ref().is_some_and(|a| a.namespaced);
        // A 401 here is not yet an answer: it is counted as a failure only if not retried.
        let resp = request.exchange(auth.as_ref(), false).await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(Sent { resp, namespaced });
        }
        let values = resp.headers().get_all(WWW_AUTHENTICATE);
        let Some(ch) = challenge::parse_all(values.iter().filter_map(|v| v.to_str().ok()))
            .into_iter()
            .next()
        else {
            return Ok(Sent { resp, namespaced });
        };
        if let Some(key) = auth.as_ref().and_then(|a| a.token.as_ref()) {
            // The registry refused a cached token (revoked or expired early).
            self.tokens.invalidate(key).await;
        }
        ep.remember(ch.clone());
        // A read takes the scope the registry asks for; an upload needs push whatever the
        // first request of it was challenged with.
        let scope = match &ch {
            Challenge::Bearer { scope: Some(s), .. } if !s.is_empty() && access == Access::Pull => {
                s.clone()
            }
            _ => scope,
        };
        let Some(auth) = self.authorization(ep, &ch, &scope, ctx).await? else {
            return Ok(Sent { resp, namespaced });
        };
        let resp = request.exchange(Some(&auth), true).await?;
        Ok(Sent {
            resp,
            namespaced: auth.namespaced,
        })
    }

    /// The Authorization header answering `ch`; `None` when we have nothing to send.
    async fn authorization(
        &self,
        ep: &Endpoint,
        ch: &Challenge,
        scope: &str,
        ctx: &LookupContext,
    ) -> Result<Option<Authorization>, RegistryError> {
        let credential = self.auth.credential(&ep.host, ep.auth, ctx).await?;
        let namespaced = credential.as_ref().is_some_and(|c| c.is_namespaced());
        match ch {
            Challenge::Bearer { realm, service, .. } => {
                let url = reqwest::Url::parse(realm).map_err(|e| {
                    RegistryError::InvalidResponse(format!(
                        "token realm {realm:?} is not a URL: {e}"
                    ))
                })?;
                // The realm is the registry's to name: credentials and our connection go
                // there only under the same egress rule as the registry itself.
                self.endpoints
                    .egress()
                    .check_url(&url, &ep.reach)
                    .map_err(refused)?;
                let key = TokenKey {
                    registry: ep.base.clone(),
                    realm: url,
                    service: service.clone(),
                    scope: scope.to_owned(),
                    identity: credential
                        .as_ref()
                        .map_or_else(|| "anonymous".to_owned(), |c| c.identity.clone()),
                };
                let token = self.tokens.get(&ep.http, &key, credential.as_ref()).await?;
                Ok(Some(Authorization {
                    value: sensitive(&format!("Bearer {}", token.expose()))?,
                    token: Some(key),
                    namespaced,
                }))
            }
            Challenge::Basic { .. } => match credential {
                Some(c) => Ok(Some(Authorization {
                    value: basic(&c)?,
                    token: None,
                    namespaced,
                })),
                None => Ok(None),
            },
        }
    }
}

/// A lookup by digest must be answered with that digest (a tag's is the registry's to say).
fn answers(reference: &str, digest: &Digest) -> Result<(), RegistryError> {
    match Digest::parse(reference) {
        Ok(asked) if asked != *digest => Err(RegistryError::InvalidResponse(format!(
            "asked for manifest {asked}, the registry answered {digest}"
        ))),
        _ => Ok(()),
    }
}
