//! Common starting points: a registry and a `landed` user already configured to reach it.

use anyhow::Result;

use crate::config::{LandedConfig, RegistryEntry};
use crate::docker_config::{pull_secret_config, Login};
use crate::fakes::kube_api::FakeKubeApi;
use crate::fakes::token_server::TokenServer;
use crate::landed::Landed;
use crate::registry::{Registry, RegistryAuth, RegistryOptions};

/// Exit code: every image landed.
pub const EXIT_LANDED: i32 = 0;
/// Exit code: some image absent or digest_mismatch.
pub const EXIT_ABSENT: i32 = 1;
/// Exit code: usage error or invalid_reference.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: some image undetermined (unauthorized, forbidden, rate_limited, unavailable).
pub const EXIT_UNDETERMINED: i32 = 3;

/// An anonymous plain-HTTP registry, and a user whose landed.yaml maps its host to it with
/// `insecureHttp: true`.
pub fn plain_registry() -> Result<(Registry, Landed)> {
    let registry = Registry::start(RegistryOptions::default())?;
    let mut landed = Landed::new()?;
    landed.set_config(&LandedConfig::with_registries(vec![
        RegistryEntry::for_registry(&registry),
    ]))?;
    Ok((registry, landed))
}

/// An HTTPS registry (private CA) with one htpasswd user, and a user whose landed.yaml trusts
/// the CA (`caFile`) but who has no credentials yet.
pub fn tls_basic_registry(user: &str, password: &str) -> Result<(Registry, Landed)> {
    let registry = Registry::start(RegistryOptions {
        tls: true,
        auth: RegistryAuth::Htpasswd {
            user: user.to_owned(),
            password: password.to_owned(),
        },
        ..RegistryOptions::default()
    })?;
    let mut landed = Landed::new()?;
    let ca = registry.write_ca(landed.home())?;
    landed.set_config(&LandedConfig::with_registries(vec![
        RegistryEntry::for_registry(&registry).ca_file(ca),
    ]))?;
    landed.add_secret(password);
    Ok((registry, landed))
}

/// A plain-HTTP registry with token auth, its token server, and a user configured for it.
pub struct TokenRegistry {
    /// Issues the registry's bearer tokens to one user and records every request (keep it
    /// alive: the registry's challenges send clients to it).
    pub tokens: TokenServer,
    /// The real registry; nothing pushed yet.
    pub registry: Registry,
    /// A user whose landed.yaml maps the registry's host to it and whose docker config logs in.
    pub landed: Landed,
}

/// A plain-HTTP registry whose token server (tokens live 300 s) issues tokens to
/// `user`/`password`, and a user whose landed.yaml maps its host to it and whose docker config
/// logs in as `user` with `login_password` (the right password or a wrong one). Both
/// passwords are registered as secrets.
pub fn token_registry(user: &str, password: &str, login_password: &str) -> Result<TokenRegistry> {
    let tokens = TokenServer::start(Some((user, password)), 300)?;
    let registry = Registry::start(RegistryOptions {
        auth: tokens.registry_auth(),
        ..RegistryOptions::default()
    })?;
    let mut landed = Landed::new()?;
    landed.set_config(&LandedConfig::with_registries(vec![
        RegistryEntry::for_registry(&registry),
    ]))?;
    landed.write_docker_config(&[Login::new(&registry.host(), user, login_password)])?;
    landed.add_secret(password);
    Ok(TokenRegistry {
        tokens,
        registry,
        landed,
    })
}

/// A TLS htpasswd registry holding `repo:v1`, a fake API server with a pull secret `regcred`
/// for it in namespace `shop`, and a user whose KUBECONFIG points at that server; the image
/// pushed, by tag.
pub fn registry_with_pull_secret(
    user: &str,
    password: &str,
    repo: &str,
) -> Result<(Registry, FakeKubeApi, Landed, String)> {
    let (registry, mut landed) = tls_basic_registry(user, password)?;
    let image = registry.push_image(repo, "v1")?;
    let kube = FakeKubeApi::start()?;
    let login = Login::new(&registry.host(), user, password);
    kube.add_pull_secret(
        "shop",
        "regcred",
        &pull_secret_config(std::slice::from_ref(&login)),
    );
    landed.add_secret(login.encoded());
    let kubeconfig = kube.write_kubeconfig(landed.home(), "shop")?;
    landed.set_env("KUBECONFIG", kubeconfig.display().to_string());
    Ok((registry, kube, landed, image.by_tag()))
}
