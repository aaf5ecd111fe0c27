//! Manifest requests to a registry, with the token dance in front of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, StatusCode};
use sha2::{Digest as _, Sha256};

use super::auth::{Authenticator, Credential};
use super::challenge::{self, Challenge};
use super::config::{canonical_host, host_without_port, AuthMode, RegistryConfig};
use super::errors::{parse_retry_after, RegistryError};
use super::tls::{http_client, SetupError, Timeouts};
use super::token::{TokenCache, TokenKey};
use crate::resolve::LookupContext;

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
/// Largest manifest body read (registries cap manifests at 4 MiB).
const MAX_BODY: usize = 4 << 20;

/// What a manifest lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// `sha256:…` of the manifest.
    pub digest: String,
    /// Its media type, when the registry said.
    pub media_type: Option<String>,
}

impl Manifest {
    /// Whether this is an OCI index or a Docker manifest list.
    pub fn is_index(&self) -> bool {
        matches!(self.media_type.as_deref(), Some(OCI_INDEX | DOCKER_LIST))
    }
}

/// Where and how to talk to one registry.
pub struct Endpoint {
    host: String,
    base: String,
    http: reqwest::Client,
    auth: AuthMode,
    insecure: bool,
}

/// The Distribution client: endpoints, remembered challenges, tokens and credentials.
pub struct RegistryClient {
    configured: HashMap<String, Arc<Endpoint>>,
    default_http: reqwest::Client,
    defaults: Mutex<HashMap<String, Arc<Endpoint>>>,
    challenges: Mutex<HashMap<String, Challenge>>,
    tokens: TokenCache,
    auth: Authenticator,
}

type Authorization = (HeaderValue, Option<TokenKey>);

impl RegistryClient {
    /// A client for `registries` (others use defaults) reading `auth` for credentials.
    pub fn new(
        registries: &[RegistryConfig],
        timeouts: Timeouts,
        auth: Authenticator,
    ) -> Result<Self, SetupError> {
        let mut configured = HashMap::new();
        for entry in registries {
            let base = entry.base_url().map_err(SetupError::InvalidEntry)?;
            let endpoint = Endpoint {
                host: entry.host.clone(),
                insecure: base.starts_with("http://"),
                base,
                http: http_client(entry.ca_file.as_deref(), timeouts)?,
                auth: entry.auth_mode(),
            };
            configured.insert(canonical_host(&entry.host), Arc::new(endpoint));
        }
        Ok(Self {
            configured,
            default_http: http_client(None, timeouts)?,
            defaults: Mutex::new(HashMap::new()),
            challenges: Mutex::new(HashMap::new()),
            tokens: TokenCache::default(),
            auth,
        })
    }

    /// The endpoint for a registry host as written in references.
    pub fn endpoint(&self, host: &str) -> Result<Arc<Endpoint>, RegistryError> {
        let key = canonical_host(host);
        if let Some(ep) = self.configured.get(&key) {
            return Ok(ep.clone());
        }
        let mut defaults = self.defaults.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ep) = defaults.get(&key) {
            return Ok(ep.clone());
        }
        let entry = RegistryConfig {
            host: host.to_owned(),
            ..RegistryConfig::default()
        };
        let base = entry.base_url().map_err(RegistryError::InvalidResponse)?;
        let ep = Arc::new(Endpoint {
            host: host.to_owned(),
            base,
            http: self.default_http.clone(),
            auth: entry.auth_mode(),
            insecure: false,
        });
        defaults.insert(key, ep.clone());
        Ok(ep)
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
        let resp = self.send(&ep, repo, Method::HEAD, &path, ctx).await?;
        let status = resp.status();
        if status.is_success() {
            if let Some(digest) = header(&resp, "docker-content-digest") {
                return Ok(Manifest {
                    digest,
                    media_type: header(&resp, CONTENT_TYPE.as_str()).map(media_type),
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
        let resp = self.send(&ep, repo, Method::GET, &path, ctx).await?;
        let status = resp.status();
        let retry_after = retry_after(&resp);
        let digest = header(&resp, "docker-content-digest");
        let media = header(&resp, CONTENT_TYPE.as_str()).map(media_type);
        let body = read_body(resp, MAX_BODY, "manifest").await?;
        if !status.is_success() {
            return Err(RegistryError::from_response(status, &body, retry_after));
        }
        let digest = digest.unwrap_or_else(|| format!("sha256:{:x}", Sha256::digest(&body)));
        Ok((
            Manifest {
                digest,
                media_type: media,
            },
            body,
        ))
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
        let resp = self.send(&ep, repo, Method::GET, &path, ctx).await?;
        let status = resp.status();
        let retry_after = retry_after(&resp);
        let body = read_body(resp, limit, "blob").await?;
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
    ) -> Result<reqwest::Response, RegistryError> {
        let url = format!("{}/v2/{repo}/{path}", ep.base);
        let scope = format!("repository:{repo}:pull");
        let known = self.known_challenge(&ep.base);
        let mut auth = match &known {
            Some(ch) => self.authorization(ep, ch, &scope, ctx).await?,
            None => None,
        };
        let mut retried = false;
        loop {
            let mut req = ep
                .http
                .request(method.clone(), &url)
                .header(ACCEPT, ACCEPT_ALL);
            if let Some((value, _)) = &auth {
                req = req.header(AUTHORIZATION, value.clone());
            }
            let started = Instant::now();
            let metrics = crate::metrics::global();
            let resp = match req.send().await {
                Ok(resp) => resp,
                Err(e) => {
                    let err = RegistryError::transport("registry request", e);
                    metrics.registry_request(&ep.host, started.elapsed(), Some(err.class()));
                    return Err(err);
                }
            };
            let last = resp.status() != StatusCode::UNAUTHORIZED || retried;
            let failed = (last && !resp.status().is_success())
                .then(|| RegistryError::from_response(resp.status(), b"", None).class());
            metrics.registry_request(&ep.host, started.elapsed(), failed);
            tracing::debug!(
                registry = %ep.host,
                repository = %repo,
                path = %path,
                method = %method,
                status = resp.status().as_u16(),
                latency_ms = started.elapsed().as_millis() as u64,
                "registry request"
            );
            if resp.status() != StatusCode::UNAUTHORIZED || retried {
                return Ok(resp);
            }
            retried = true;
            let values = resp.headers().get_all(WWW_AUTHENTICATE);
            let Some(ch) = challenge::parse_all(values.iter().filter_map(|v| v.to_str().ok()))
                .into_iter()
                .next()
            else {
                return Ok(resp);
            };
            if let Some((_, Some(key))) = &auth {
                // The registry refused a cached token (revoked or expired early).
                self.tokens.invalidate(key).await;
            }
            self.challenges
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(ep.base.clone(), ch.clone());
            let scope = match &ch {
                Challenge::Bearer { scope: Some(s), .. } if !s.is_empty() => s.clone(),
                _ => scope.clone(),
            };
            match self.authorization(ep, &ch, &scope, ctx).await? {
                Some(a) => auth = Some(a),
                None => return Ok(resp),
            }
        }
    }

    fn known_challenge(&self, base: &str) -> Option<Challenge> {
        self.challenges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(base)
            .cloned()
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
        match ch {
            Challenge::Bearer { realm, service, .. } => {
                if !realm_allowed(realm, ep.insecure) {
                    return Err(RegistryError::InvalidResponse(format!(
                        "token realm {realm} is plain http; refusing to send credentials there"
                    )));
                }
                let key = TokenKey {
                    realm: realm.clone(),
                    service: service.clone(),
                    scope: scope.to_owned(),
                    identity: credential
                        .as_ref()
                        .map_or_else(|| "anonymous".to_owned(), |c| c.identity.clone()),
                };
                let token = self.tokens.get(&ep.http, &key, credential.as_ref()).await?;
                Ok(Some((
                    sensitive(&format!("Bearer {}", token.expose()))?,
                    Some(key),
                )))
            }
            Challenge::Basic { .. } => match credential {
                Some(c) => Ok(Some((basic(&c)?, None))),
                None => Ok(None),
            },
        }
    }
}

fn sensitive(value: &str) -> Result<HeaderValue, RegistryError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        RegistryError::InvalidResponse("credential has characters not allowed in a header".into())
    })?;
    v.set_sensitive(true);
    Ok(v)
}

fn basic(c: &Credential) -> Result<HeaderValue, RegistryError> {
    let raw = format!("{}:{}", c.username, c.password.expose());
    sensitive(&format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    ))
}

/// Plain-http token realms get credentials only for insecure registries or loopback.
fn realm_allowed(realm: &str, insecure: bool) -> bool {
    let Some(rest) = realm.strip_prefix("http://") else {
        return realm.starts_with("https://");
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = host_without_port(authority);
    insecure || matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn media_type(content_type: String) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
}

async fn read_body(
    mut resp: reqwest::Response,
    limit: usize,
    what: &str,
) -> Result<Bytes, RegistryError> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| RegistryError::transport("registry request", e))?
    {
        if buf.len() + chunk.len() > limit {
            return Err(RegistryError::InvalidResponse(format!(
                "{what} body larger than {} KiB",
                limit / 1024
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realms() {
        assert!(realm_allowed("https://auth.example/token", false));
        assert!(realm_allowed("http://127.0.0.1:9000/token", false));
        assert!(!realm_allowed("http://auth.example/token", false));
        assert!(realm_allowed("http://auth.example/token", true));
        assert!(!realm_allowed("ftp://x", true));
    }

    #[test]
    fn basic_header_is_sensitive_and_redacted() {
        let c = Credential {
            username: "u".into(),
            password: super::super::secret::Secret::new("pw-123"),
            identity: "test".into(),
        };
        let h = basic(&c).expect("header");
        assert!(h.is_sensitive());
        assert!(!format!("{h:?}").contains("dTpwdy0xMjM"));
    }
}
