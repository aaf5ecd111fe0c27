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
#[derive(Default)]
pub struct GcpSource {
    state: Mutex<Option<State>>,
}

impl GcpSource {
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
    pub async fn credential(&self) -> Result<Option<Credential>, RegistryError> {
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
