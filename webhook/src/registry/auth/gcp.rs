//! Google Application Default Credentials through gcp_auth, sent as `oauth2accesstoken`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gcp_auth::TokenProvider;
use tokio::sync::Mutex;

use super::Credential;
use crate::registry::errors::RegistryError;
use crate::registry::secret::Secret;

/// The OAuth scope GAR and gcr.io accept.
pub const GCP_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// The username registries expect with a Google access token as password.
pub const GAR_USERNAME: &str = "oauth2accesstoken";
/// How long a failed provider discovery is remembered before trying again.
const RETRY_DISCOVERY_AFTER: Duration = Duration::from_secs(60);

enum State {
    Found(Arc<dyn TokenProvider>),
    Missing { since: Instant, reason: String },
}

/// The GCP token provider, discovered on first use; gcp_auth refreshes its tokens itself
/// (20 s before expiry), so every call asks it rather than keeping a token.
pub struct GcpSource {
    state: Mutex<Option<State>>,
    timeout: Duration,
}

impl GcpSource {
    /// A source whose every credential request (discovery and token fetch) ends within
    /// `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            state: Mutex::new(None),
            timeout,
        }
    }

    async fn provider(&self) -> Option<Arc<dyn TokenProvider>> {
        let mut state = self.state.lock().await;
        match &*state {
            Some(State::Found(p)) => return Some(p.clone()),
            Some(State::Missing { since, reason }) if since.elapsed() < RETRY_DISCOVERY_AFTER => {
                tracing::debug!(%reason, "no Google credentials (cached)");
                return None;
            }
            _ => {}
        }
        match gcp_auth::provider().await {
            Ok(p) => {
                *state = Some(State::Found(p.clone()));
                Some(p)
            }
            Err(e) => {
                let reason = e.to_string();
                tracing::debug!(%reason, "no Google credentials; trying other sources");
                *state = Some(State::Missing {
                    since: Instant::now(),
                    reason,
                });
                None
            }
        }
    }

    /// `oauth2accesstoken:<fresh token>`, or `None` when no Google credentials exist here.
    ///
    /// gcp_auth sets no timeout and holds its token lock while it fetches: an OAuth endpoint
    /// that accepts the connection and never answers would otherwise keep this lookup, and
    /// every later one waiting on that lock, hanging for good.
    pub async fn credential(&self) -> Result<Option<Credential>, RegistryError> {
        tokio::time::timeout(self.timeout, self.fetch_credential())
            .await
            .unwrap_or_else(|_| {
                Err(RegistryError::Credentials {
                    source_name: "gcp".into(),
                    message: format!(
                        "no token within {}s (token endpoint or metadata server not answering)",
                        self.timeout.as_secs_f64()
                    ),
                })
            })
    }

    async fn fetch_credential(&self) -> Result<Option<Credential>, RegistryError> {
        let Some(provider) = self.provider().await else {
            return Ok(None);
        };
        let token = provider
            .token(&[GCP_SCOPE])
            .await
            .map_err(|e| RegistryError::Credentials {
                source_name: "gcp".into(),
                message: e.to_string(),
            })?;
        Ok(Some(Credential {
            username: GAR_USERNAME.into(),
            password: Secret::new(token.as_str()),
            identity: "gcp".into(),
        }))
    }
}
