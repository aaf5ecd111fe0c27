//! Manifest requests to a registry, with the token dance in front of them.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, StatusCode};
use sha2::{Digest as _, Sha256};

use super::auth::Authenticator;
use super::challenge::{self, Challenge};
use super::config::RegistryConfig;
use super::egress::Egress;
use super::endpoint::{refused, transport, Endpoint, Endpoints};
use super::errors::RegistryError;
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
/// The Accept header: with fewer types, existing images can look missing.
const ACCEPT_ALL: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";
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
struct Sent {
    resp: reqwest::Response,
    /// A namespace's pull secret authenticated the request.
    namespaced: bool,
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

    /// One request under `/v2/<repo>/` (`manifests/<ref>` or `blobs/<digest>`),
    /// authenticating as the registry asks (at most one retry).
    async fn send(
        &self,
        ep: &Endpoint,
        repo: &str,
        method: Method,
        path: &str,
        ctx: &LookupContext,
    ) -> Result<Sent, RegistryError> {
        let request = Request {
            ep,
            method,
            url: format!("{}/v2/{repo}/{path}", ep.base),
            repo,
            path,
        };
        let scope = format!("repository:{repo}:pull");
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
        let scope = match &ch {
            Challenge::Bearer { scope: Some(s), .. } if !s.is_empty() => s.clone(),
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

/// What a request is sent with.
struct Authorization {
    /// The header value (sensitive: never printed).
    value: HeaderValue,
    /// The cached token it carries, to drop if the registry refuses it.
    token: Option<TokenKey>,
    /// The credential behind it is a namespace's pull secret.
    namespaced: bool,
}

/// One request to send, perhaps twice (before and after answering a challenge).
struct Request<'a> {
    ep: &'a Endpoint,
    method: Method,
    url: String,
    repo: &'a str,
    path: &'a str,
}

impl Request<'_> {
    /// One HTTP exchange, timed, counted and logged. A 401 counts as a failure only when it
    /// is `final_answer` (no challenge will be answered after it).
    async fn exchange(
        &self,
        auth: Option<&Authorization>,
        final_answer: bool,
    ) -> Result<reqwest::Response, RegistryError> {
        let mut req = self
            .ep
            .http
            .request(self.method.clone(), &self.url)
            .header(ACCEPT, ACCEPT_ALL);
        if let Some(a) = auth {
            req = req.header(AUTHORIZATION, a.value.clone());
        }
        let started = Instant::now();
        let metrics = crate::metrics::global();
        let resp = match req.send().await {
            Ok(resp) => resp,
            Err(e) => {
                let err = transport("registry request", e);
                metrics.registry_request(&self.ep.host, started.elapsed(), Some(err.class()));
                return Err(err);
            }
        };
        let status = resp.status();
        let answered = final_answer || status != StatusCode::UNAUTHORIZED;
        let failed = (answered && !status.is_success())
            .then(|| RegistryError::from_response(status, b"", None).class());
        metrics.registry_request(&self.ep.host, started.elapsed(), failed);
        tracing::debug!(
            registry = %self.ep.host,
            repository = %self.repo,
            path = %self.path,
            method = %self.method,
            status = status.as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            "registry request"
        );
        Ok(resp)
    }
}
