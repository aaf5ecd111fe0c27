//! One HTTP request to a registry: what it asks for (its scope, its body), what it is
//! sent with, and the exchange itself, timed, counted and logged.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, StatusCode};

use super::endpoint::{transport, Endpoint};
use super::errors::RegistryError;
use super::token::TokenKey;

/// The Accept header: with fewer types, existing images can look missing.
const ACCEPT_ALL: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// What a request needs of the repository: the token scope asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads: `repository:R:pull`.
    Pull,
    /// Uploads: `repository:R:pull,push`.
    Push,
}

impl Access {
    /// The token scope for `repo`.
    pub fn scope(self, repo: &str) -> String {
        match self {
            Self::Pull => format!("repository:{repo}:pull"),
            Self::Push => format!("repository:{repo}:pull,push"),
        }
    }
}

/// One request to a repository, before authentication.
pub(super) struct Call<'a> {
    /// The method.
    pub method: Method,
    /// The whole URL.
    pub url: String,
    /// What is logged of it (the path under the repository).
    pub path: &'a str,
    /// The scope it needs.
    pub access: Access,
    /// A body with its media type.
    pub body: Option<(Bytes, &'a str)>,
    /// A time limit other than the endpoint's per-request one (a blob upload).
    pub timeout: Option<Duration>,
}

impl<'a> Call<'a> {
    /// A request without a body to `/v2/<repo>/<path>` of `ep`.
    pub fn under(ep: &Endpoint, repo: &str, method: Method, path: &'a str, access: Access) -> Self {
        Self {
            method,
            url: format!("{}/v2/{repo}/{path}", ep.base),
            path,
            access,
            body: None,
            timeout: None,
        }
    }
}

/// What a request is sent with.
pub(super) struct Authorization {
    /// The header value (sensitive: never printed).
    pub value: HeaderValue,
    /// The cached token it carries, to drop if the registry refuses it.
    pub token: Option<TokenKey>,
    /// The credential behind it is a namespace's pull secret.
    pub namespaced: bool,
}

/// One request to send, perhaps twice (before and after answering a challenge).
pub(super) struct Request<'a> {
    pub ep: &'a Endpoint,
    pub method: Method,
    pub url: String,
    pub repo: &'a str,
    pub path: &'a str,
    pub body: Option<(Bytes, &'a str)>,
    pub timeout: Option<Duration>,
}

impl Request<'_> {
    /// One HTTP exchange, timed, counted and logged. A 401 counts as a failure only when it
    /// is `final_answer` (no challenge will be answered after it).
    pub async fn exchange(
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
        if let Some((body, content_type)) = &self.body {
            req = req.header(CONTENT_TYPE, *content_type).body(body.clone());
        }
        if let Some(limit) = self.timeout {
            req = req.timeout(limit);
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
