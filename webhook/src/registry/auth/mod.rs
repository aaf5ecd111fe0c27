//! Where credentials come from, in order: GCP (for Google hosts), the workload's pull
//! secrets, the server's docker config.json, then anonymous.

mod docker_config;
mod gcp;
mod pull_secrets;

use std::path::PathBuf;
use std::time::Duration;

pub use docker_config::{DockerConfig, DockerConfigSource, HelperOutput};
pub use gcp::{GcpSource, GAR_USERNAME, GCP_SCOPE};
pub use pull_secrets::PullSecretSource;

use super::config::AuthMode;
use super::errors::RegistryError;
use super::secret::Secret;
use crate::registry::LookupContext;

/// A username and password for one registry, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    /// Username (`oauth2accesstoken` for GCP).
    pub username: String,
    /// Password or access token.
    pub password: Secret,
    /// Where it came from (`gcp`, `pull-secret:ns/name`, `docker-config`, `cred-helper:x`):
    /// used in cache keys and logs instead of the secret.
    pub identity: String,
}

/// How the identity of a credential read from a namespace's pull secret begins.
pub const PULL_SECRET_IDENTITY: &str = "pull-secret:";

impl Credential {
    /// Whether it is a namespace's pull secret, whose answers belong to that namespace.
    pub fn is_namespaced(&self) -> bool {
        self.identity.starts_with(PULL_SECRET_IDENTITY)
    }
}

/// Every credential source, asked in order.
pub struct Authenticator {
    gcp: GcpSource,
    pull_secrets: PullSecretSource,
    docker: DockerConfigSource,
}

impl Authenticator {
    /// Sources reading `docker_config` (or the usual locations when `None`); fetching a
    /// Google token or reading a pull secret takes at most `token_timeout`.
    pub fn new(docker_config: Option<PathBuf>, token_timeout: Duration) -> Self {
        Self {
            gcp: GcpSource::new(token_timeout),
            pull_secrets: PullSecretSource::new(token_timeout),
            docker: DockerConfigSource::new(docker_config),
        }
    }

    /// The credential to use for registry `host` (as in references) under `ctx`; `None` is
    /// anonymous.
    pub async fn credential(
        &self,
        host: &str,
        mode: AuthMode,
        ctx: &LookupContext,
    ) -> Result<Option<Credential>, RegistryError> {
        if mode == AuthMode::None {
            return Ok(None);
        }
        if mode == AuthMode::Gcp {
            if let Some(c) = self.gcp.credential().await? {
                return Ok(Some(c));
            }
        }
        if let Some(c) = self.pull_secrets.credential(host, ctx).await {
            return Ok(Some(c));
        }
        match self.docker.credential(host).await {
            Ok(c) => Ok(c),
            // A broken config file or helper must not turn every registry into an error:
            // anonymous access still works where the registry allows it.
            Err(e) => {
                tracing::warn!(registry = %host, error = %e, "docker config credentials unusable; trying anonymous");
                Ok(None)
            }
        }
    }
}
