//! Bearer tokens from a registry's token server, cached per (realm, service, scope, identity)
//! until shortly before they expire; concurrent requests for one key share one fetch.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use serde::Deserialize;

use super::auth::Credential;
use super::endpoint::transport;
use super::errors::RegistryError;
use super::secret::Secret;
use super::wire::{read_body, retry_after, MAX_BODY};

/// Lifetime assumed when the token server does not say (distribution token spec: 60 s).
pub const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(60);
/// Longest margin kept before a token's expiry.
const MAX_MARGIN: Duration = Duration::from_secs(30);

/// What identifies a cached token; the credential's identity, never its secret. The
/// registry is part of it, so a token fetched for one registry is never sent to another,
/// whatever realm they share.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenKey {
    /// The registry the token is for (its base URL).
    pub registry: String,
    /// Token endpoint.
    pub realm: reqwest::Url,
    /// `service` parameter.
    pub service: Option<String>,
    /// `scope` parameter.
    pub scope: String,
    /// Whose credentials fetched it (`anonymous`, `gcp`, `pull-secret:ns/name`, …).
    pub identity: String,
}

/// A token with the time it may be used for.
#[derive(Clone, Debug)]
pub struct CachedToken {
    /// The bearer token.
    pub token: Secret,
    /// How long the cache may keep it.
    pub usable_for: Duration,
}

struct TokenExpiry;

impl Expiry<TokenKey, CachedToken> for TokenExpiry {
    fn expire_after_create(
        &self,
        _key: &TokenKey,
        value: &CachedToken,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.usable_for)
    }
}

/// Cache of bearer tokens.
#[derive(Clone)]
pub struct TokenCache {
    cache: moka::future::Cache<TokenKey, CachedToken>,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self {
            cache: moka::future::Cache::builder()
                .max_capacity(10_000)
                .expire_after(TokenExpiry)
                .build(),
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenCache {
    /// A cached token for `key`, without fetching.
    pub async fn cached(&self, key: &TokenKey) -> Option<Secret> {
        self.cache.get(key).await.map(|t| t.token)
    }

    /// Drops a token the registry refused.
    pub async fn invalidate(&self, key: &TokenKey) {
        self.cache.invalidate(key).await;
    }

    /// The token for `key`, fetched with `credential` (Basic to the realm) when not cached.
    pub async fn get(
        &self,
        http: &reqwest::Client,
        key: &TokenKey,
        credential: Option<&Credential>,
    ) -> Result<Secret, RegistryError> {
        let fetch = async {
            let fetched = fetch(http, key, credential).await;
            let host = key.realm.host_str().unwrap_or("unknown");
            crate::metrics::global().token_fetch(host, fetched.is_ok());
            fetched
        };
        self.cache
            .try_get_with(key.clone(), fetch)
            .await
            .map(|t| t.token)
            .map_err(|e| (*e).clone())
    }
}

/// How long a token with this lifetime stays cached: its lifetime less a margin.
pub fn usable_for(expires_in: Duration) -> Duration {
    let margin = (expires_in / 2).min(MAX_MARGIN);
    expires_in.saturating_sub(margin)
}

async fn fetch(
    http: &reqwest::Client,
    key: &TokenKey,
    credential: Option<&Credential>,
) -> Result<CachedToken, RegistryError> {
    let mut url = key.realm.clone();
    {
        let mut pairs = url.query_pairs_mut();
        if let Some(service) = &key.service {
            pairs.append_pair("service", service);
        }
        pairs.append_pair("scope", &key.scope);
    }
    let mut req = http.get(url);
    if let Some(c) = credential {
        req = req.basic_auth(&c.username, Some(c.password.expose()));
    }
    let started = Instant::now();
    let resp = req
        .send()
        .await
        .map_err(|e| transport("token request", e))?;
    let status = resp.status();
    tracing::debug!(
        realm = %key.realm,
        scope = %key.scope,
        identity = %key.identity,
        status = status.as_u16(),
        latency_ms = started.elapsed().as_millis() as u64,
        "token request"
    );
    let retry_after = retry_after(&resp);
    let body = read_body(resp, MAX_BODY, "token request").await?;
    if !status.is_success() {
        // A 404 from a token server is not a missing image: keep it undetermined.
        let err = RegistryError::from_response(status, &body, retry_after);
        return Err(match err {
            RegistryError::ManifestUnknown {
                status,
                code,
                message,
            }
            | RegistryError::NameUnknown {
                status,
                code,
                message,
            } => RegistryError::UnexpectedStatus {
                status,
                code,
                message,
            },
            other => other,
        });
    }
    let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
        RegistryError::InvalidResponse(format!("token server answer is not token JSON: {e}"))
    })?;
    let token = parsed
        .token
        .or(parsed.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| RegistryError::InvalidResponse("token server sent no token".into()))?;
    let expires_in = parsed
        .expires_in
        .filter(|s| *s > 0)
        .map_or(DEFAULT_EXPIRES_IN, Duration::from_secs);
    Ok(CachedToken {
        token: Secret::new(token),
        usable_for: usable_for(expires_in),
    })
}

/// Shared handle to the token cache.
pub type SharedTokens = Arc<TokenCache>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins() {
        assert_eq!(usable_for(Duration::from_secs(60)), Duration::from_secs(30));
        assert_eq!(
            usable_for(Duration::from_secs(300)),
            Duration::from_secs(270)
        );
        assert_eq!(usable_for(Duration::from_secs(2)), Duration::from_secs(1));
        assert_eq!(usable_for(Duration::ZERO), Duration::ZERO);
    }
}
