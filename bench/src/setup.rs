//! The benchmark's world: a real TLS `docker-registry` with token auth (the harness's token
//! server, which records every token request), a fake kube API (a webhook always has one), one
//! serving certificate shared by `landed serve` and the floor, and both servers as processes
//! (`landed serve` as the end-to-end harness runs it: [`LandedServer`]).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use landed_e2e::fakes::kube_api::FakeKubeApi;
use landed_e2e::fakes::token_server::TokenServer;
use landed_e2e::pki::Ca;
use landed_e2e::server::{free_port, LandedServer, SERVING_NAMES};
use landed_e2e::{Landed, LandedConfig, Registry, RegistryEntry, RegistryOptions};
use tempfile::TempDir;

use crate::client::ReviewClient;
use crate::floor::Decode;

/// How long the token server's tokens live (landed reuses one until shortly before).
pub const TOKEN_LIFETIME_SECS: u64 = 600;

/// Registry, token server, kube API and the serving certificate, for the whole run.
pub struct World {
    /// Issues the registry's bearer tokens and records every request.
    pub tokens: TokenServer,
    /// The real registry (TLS, token auth).
    pub registry: Registry,
    kube: FakeKubeApi,
    ca: Ca,
    dir: TempDir,
    cert: PathBuf,
    key: PathBuf,
    registry_ca: PathBuf,
}

impl World {
    /// Starts the token server, the registry and the kube API; issues the serving certificate.
    pub fn start() -> Result<Self> {
        // A TLS registry's token server speaks TLS too (landed sends no credential to an
        // http realm of an https registry); landed trusts both CAs through the entry's caFile.
        let token_ca = Ca::new("landed-bench token server CA")?;
        let token_cert = token_ca.server_cert(&["127.0.0.1"])?;
        let tokens = TokenServer::start_tls(None, TOKEN_LIFETIME_SECS, &token_cert)?;
        let registry = Registry::start(RegistryOptions {
            tls: true,
            auth: tokens.registry_auth(),
            ..RegistryOptions::default()
        })?;
        let kube = FakeKubeApi::start()?;
        let dir = tempfile::Builder::new().prefix("landed-bench-").tempdir()?;
        let ca = Ca::new("landed-bench webhook CA")?;
        let served = ca.server_cert(&SERVING_NAMES)?;
        let cert = dir.path().join("webhook.pem");
        let key = dir.path().join("webhook-key.pem");
        std::fs::write(&cert, &served.cert_pem)?;
        std::fs::write(&key, &served.key_pem)?;
        let registry_ca = registry.write_ca(dir.path())?;
        let mut bundle = std::fs::read_to_string(&registry_ca)?;
        bundle.push_str(token_ca.cert_pem());
        std::fs::write(&registry_ca, bundle)?;
        Ok(Self {
            tokens,
            registry,
            kube,
            ca,
            dir,
            cert,
            key,
            registry_ca,
        })
    }

    /// A scratch directory that lives as long as the world.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A client trusting the serving CA, one connection per concurrent request.
    pub fn client(&self) -> Result<ReviewClient> {
        ReviewClient::new(self.ca.cert_pem())
    }

    /// A fresh `landed serve` (empty caches) with the default policies and the registry;
    /// `extra_yaml` is appended to its landed.yaml (e.g. a `cache:` section).
    pub fn start_landed(&self, extra_yaml: &str) -> Result<LandedProcess> {
        // The harness's pinned user (own temp home, `PATH=/usr/bin:/bin`, an empty
        // `DOCKER_CONFIG`: no credentials) and its `landed serve`; the certificate is the
        // world's, shared with the floor.
        let mut user = Landed::new()?;
        let kubeconfig = self.kube.write_kubeconfig(user.home(), "shop")?;
        user.set_env("KUBECONFIG", kubeconfig.display().to_string());
        // The log level a deployment runs with.
        user.set_env("LANDED_LOG", "info");
        let config = LandedConfig {
            tls_cert_file: Some(self.cert.clone()),
            tls_key_file: Some(self.key.clone()),
            extra_yaml: extra_yaml.to_owned(),
            ..LandedConfig::with_registries(vec![
                RegistryEntry::for_registry(&self.registry).ca_file(self.registry_ca.clone())
            ])
        };
        let server = LandedServer::launch(&mut user, &config, &self.ca)?;
        // Measuring a landed whose policies did not load would measure the wrong thing.
        // Policies load before the socket opens, so only the TLS-up flag may still lag.
        let url = server.url();
        let client = self.client()?;
        let started = Instant::now();
        loop {
            let (ready, status) = client.ready(&url)?;
            if ready {
                break;
            }
            if started.elapsed() > Duration::from_secs(2) {
                // /readyz names no policy: the server's log says which one failed and why.
                bail!(
                    "landed serve is not ready (are the policies built? policies/build.sh): {status}\n{}",
                    server.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(LandedProcess {
            server,
            _user: user,
        })
    }

    /// A floor server reading reviews as `decode` says, on the same certificate.
    pub fn start_floor(&self, decode: Decode) -> Result<FloorProcess> {
        let binary = sibling_binary("LANDED_FLOOR_BIN", "landed-floor")?;
        FloorProcess::start(&binary, &self.cert, &self.key, decode, &self.client()?)
    }
}

/// A running `landed serve` (killed on drop) and the user whose home it runs in.
pub struct LandedProcess {
    // Declared first so that it is dropped (killed) before its home is removed.
    server: LandedServer,
    _user: Landed,
}

impl LandedProcess {
    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.server.pid()
    }
}

/// Polls `url/healthz` until it answers, failing if `child` exits or 30 s pass.
fn wait_healthy(child: &mut Child, url: &str, client: &ReviewClient, name: &str) -> Result<()> {
    let started = Instant::now();
    while !client.healthy(url) {
        if let Some(status) = child.try_wait()? {
            bail!("{name} exited ({status})");
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("{name} not healthy after 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// A running `landed-floor`; killed on drop.
pub struct FloorProcess {
    child: Child,
    port: u16,
}

impl FloorProcess {
    /// Starts `binary` serving `cert`/`key` on a free port, reading reviews as `decode` says;
    /// waits until `client` sees it healthy.
    pub fn start(
        binary: &Path,
        cert: &Path,
        key: &Path,
        decode: Decode,
        client: &ReviewClient,
    ) -> Result<Self> {
        let port = free_port()?;
        let child = Command::new(binary)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--cert")
            .arg(cert)
            .arg("--key")
            .arg(key)
            .arg("--decode")
            .arg(decode.arg())
            .stdin(Stdio::null())
            .spawn()
            .context("starting landed-floor")?;
        let mut floor = Self { child, port };
        let url = floor.url();
        wait_healthy(&mut floor.child, &url, client, "landed-floor")?;
        Ok(floor)
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for FloorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `$env_var`, else `name` beside this executable (cargo builds both into one directory).
pub fn sibling_binary(env_var: &str, name: &str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(env_var) {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let path = exe
        .parent()
        .context("this executable has no directory")?
        .join(name);
    if !path.is_file() {
        bail!(
            "{} not found: build it (cargo build -p …) or set {env_var}",
            path.display()
        );
    }
    Ok(path)
}
