//! `landed serve` as a child process with real TLS: a private CA, a serving certificate, a
//! free loopback port, and an HTTPS client that trusts only that CA.

use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use reqwest::Client;
use serde_json::Value;

use crate::config::LandedConfig;
use crate::landed::{landed_binary, Landed};
use crate::pki::Ca;
use crate::runtime::{block_on, install_crypto_provider};

/// A running `landed serve`; killed on drop.
pub struct LandedServer {
    child: Child,
    port: u16,
    client: Client,
    log_path: std::path::PathBuf,
    secrets: Vec<String>,
}

/// The names the serving certificate is issued for.
pub const SERVING_NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

/// A free loopback port (bound, read, released: a tiny race is accepted).
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl LandedServer {
    /// Starts `landed serve --config … --listen 127.0.0.1:PORT` for `landed`'s user, with
    /// `config` plus a fresh serving certificate, and waits until `/healthz` answers.
    pub fn start(landed: &mut Landed, config: &LandedConfig) -> Result<Self> {
        install_crypto_provider();
        let ca = Ca::new("landed-e2e webhook CA")?;
        let server = ca.server_cert(&SERVING_NAMES)?;
        let cert = landed.home().join("webhook.pem");
        let key = landed.home().join("webhook-key.pem");
        fs::write(&cert, &server.cert_pem)?;
        fs::write(&key, &server.key_pem)?;
        let mut config = config.clone();
        config.tls_cert_file = Some(cert);
        config.tls_key_file = Some(key);
        Self::launch(landed, &config, &ca)
    }

    /// Starts `landed serve` with `config` as it is (its `tlsCertFile`/`tlsKeyFile` set by the
    /// caller, issued by `ca`), and waits until `/healthz` answers.
    pub fn launch(landed: &mut Landed, config: &LandedConfig, ca: &Ca) -> Result<Self> {
        install_crypto_provider();
        let config_path = landed.set_config(config)?;
        let port = free_port()?;
        let log_path = landed.home().join("serve.log");
        let log = fs::File::create(&log_path)?;
        let child = Command::new(landed_binary()?)
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .current_dir(landed.home())
            .env_clear()
            .envs(landed.env())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting landed serve")?;
        let client = Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(ca.cert_pem().as_bytes())?])
            .timeout(Duration::from_secs(30))
            .build()?;
        let mut server = Self {
            child,
            port,
            client,
            log_path,
            secrets: landed.secrets().to_vec(),
        };
        server.wait_healthy()?;
        Ok(server)
    }

    fn wait_healthy(&mut self) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Some(status) = self.child.try_wait()? {
                bail!("landed serve exited ({status}):\n{}", self.log());
            }
            let url = format!("{}/healthz", self.url());
            let healthy = block_on(async { self.client.get(&url).send().await })
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if healthy {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("landed serve not healthy after 30 s:\n{}", self.log())
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Sends SIGTERM, as the kubelet does when the pod is deleted.
    pub fn terminate(&self) -> Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill -TERM {} failed ({status})", self.child.id());
        }
        Ok(())
    }

    /// Waits up to `limit` for the process to exit; its exit code (`None`: killed by a signal)
    /// and when it was seen gone. Fails if it is still running at `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Result<(Option<i32>, Instant)> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok((status.code(), Instant::now()));
            }
            if started.elapsed() > limit {
                bail!("landed serve still running {limit:?} after being asked to stop");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// POSTs an AdmissionReview to `path` (`/validate`, `/mutate`) and returns the HTTP
    /// status and the body as JSON.
    pub fn post(&self, path: &str, review: &Value) -> Result<(u16, Value)> {
        let url = format!("{}{path}", self.url());
        block_on(async {
            let response = self.client.post(&url).json(review).send().await?;
            let status = response.status().as_u16();
            let text = response.text().await?;
            let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
            Ok((status, body))
        })
    }

    /// The server's process id (its memory is in `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// GETs `path` (`/healthz`, `/readyz`) and returns the HTTP status and the body.
    pub fn get(&self, path: &str) -> Result<(u16, String)> {
        let url = format!("{}{path}", self.url());
        block_on(async {
            let response = self.client.get(&url).send().await?;
            let status = response.status().as_u16();
            Ok((status, response.text().await?))
        })
    }

    /// Everything the server printed so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Stops the server and fails if its output contains a registered secret.
    pub fn stop_and_check_logs(mut self) -> Result<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let log = self.log();
        for (i, secret) in self.secrets.iter().enumerate() {
            if log.contains(secret.as_str()) {
                bail!(
                    "credential leak: registered secret #{i} ({} chars) appears in the output of \
                     landed serve",
                    secret.len()
                );
            }
        }
        Ok(log)
    }
}

impl Drop for LandedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
