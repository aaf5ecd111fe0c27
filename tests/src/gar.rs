//! The Google Artifact Registry path, run unchanged against local parts: a
//! `us-docker.pkg.dev` host mapped to a local TLS registry whose htpasswd user is
//! `oauth2accesstoken`, and Application Default Credentials from a service-account key whose
//! `token_uri` is the fake OAuth endpoint.

use anyhow::Result;

use crate::config::{LandedConfig, RegistryEntry};
use crate::fakes::google_oauth::FakeGoogleOAuth;
use crate::images::PushedImage;
use crate::landed::Landed;
use crate::registry::{Registry, RegistryAuth, RegistryOptions};

/// The GAR host the tests use.
pub const GAR_HOST: &str = "us-docker.pkg.dev";
/// The GAR project (first path component of repositories).
pub const GAR_PROJECT: &str = "landed-e2e-project";

/// A fake OAuth endpoint, the registry that accepts its token, and a user whose
/// `GOOGLE_APPLICATION_CREDENTIALS` names a key for it and whose landed.yaml maps
/// [`GAR_HOST`] to the registry (auth left to its default, which is `gcp` for this host).
pub struct Gar {
    /// The fake token endpoint.
    pub oauth: FakeGoogleOAuth,
    /// The registry standing in for GAR.
    pub registry: Registry,
    /// The configured user.
    pub landed: Landed,
}

impl Gar {
    /// Sets everything up; tokens live `expires_in` seconds.
    pub fn start(expires_in: u64) -> Result<Self> {
        Self::with_oauth(FakeGoogleOAuth::start(expires_in)?)
    }

    /// Sets everything up around `oauth` (e.g. one that stalls).
    pub fn with_oauth(oauth: FakeGoogleOAuth) -> Result<Self> {
        let registry = Registry::start(RegistryOptions {
            tls: true,
            auth: RegistryAuth::Htpasswd {
                user: "oauth2accesstoken".to_owned(),
                password: oauth.access_token().to_owned(),
            },
            extra_names: vec![GAR_HOST.to_owned()],
        })?;
        let mut landed = Landed::new()?;
        let ca = registry.write_ca(landed.home())?;
        landed.set_config(&LandedConfig::with_registries(vec![
            RegistryEntry::for_endpoint(GAR_HOST, &registry.endpoint()).ca_file(ca),
        ]))?;
        let key = oauth.write_service_account_key(landed.home())?;
        landed.set_env("GOOGLE_APPLICATION_CREDENTIALS", key.display().to_string());
        landed.add_secret(oauth.access_token());
        for line in oauth.private_key_pem().lines() {
            if line.len() >= 40 && !line.starts_with("-----") {
                landed.add_secret(line);
            }
        }
        Ok(Self {
            oauth,
            registry,
            landed,
        })
    }

    /// Pushes `repo` (under the project, e.g. `images/app`) and names it by the GAR host.
    pub fn push(&self, repo: &str, tag: &str) -> Result<PushedImage> {
        let image = self
            .registry
            .push_image(&format!("{GAR_PROJECT}/{repo}"), tag)?;
        Ok(image.with_host(GAR_HOST))
    }
}
