//! A real Distribution registry: Debian's `docker-registry`, started with its own config in a
//! temp dir, on a free loopback port, killed on drop.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tempfile::TempDir;

use crate::admin::AdminClient;
use crate::fakes::token_server::TokenIssuer;
use crate::pki::Ca;
use crate::tools::Tool;

/// How clients authenticate to the registry.
#[derive(Clone, Default)]
pub enum RegistryAuth {
    /// Anonymous pull and push.
    #[default]
    None,
    /// Basic auth against an htpasswd file with one bcrypt entry.
    Htpasswd {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// Bearer tokens from a token server (see [`crate::fakes::token_server`]).
    Token {
        /// Signs tokens; the registry trusts its certificate.
        issuer: Arc<TokenIssuer>,
        /// The token server's URL (`realm` of the challenge).
        realm: String,
        /// Credentials the token server wants, if any (used by pushes).
        credentials: Option<(String, String)>,
    },
}

/// How to start a registry.
#[derive(Clone, Default)]
pub struct RegistryOptions {
    /// Serve HTTPS with a certificate from a fresh private CA.
    pub tls: bool,
    /// Authentication.
    pub auth: RegistryAuth,
    /// Extra names for the TLS certificate besides `127.0.0.1` and `localhost`.
    pub extra_names: Vec<String>,
}

/// One line of the registry's access log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessEntry {
    /// HTTP method.
    pub method: String,
    /// Request path with query.
    pub path: String,
    /// Response status.
    pub status: u16,
    /// The client's User-Agent.
    pub user_agent: String,
}

impl AccessEntry {
    /// Whether this is a request for a manifest of `repo` (HEAD or GET).
    pub fn is_manifest_of(&self, repo: &str) -> bool {
        self.path.starts_with(&format!("/v2/{repo}/manifests/"))
    }
}

/// A running `docker-registry`.
pub struct Registry {
    dir: TempDir,
    child: Child,
    port: u16,
    ca: Option<Ca>,
    auth: RegistryAuth,
}

impl Registry {
    /// Starts a registry as described by `options` and waits until it listens.
    pub fn start(options: RegistryOptions) -> Result<Self> {
        Self::start_with(options, false)
    }

    /// Starts an HTTPS registry (whatever `options.tls` says) whose certificate, from its
    /// private CA, expired in 2021. The Go server serves it anyway, as a real one left
    /// unrenewed does.
    pub fn start_with_expired_cert(options: RegistryOptions) -> Result<Self> {
        Self::start_with(
            RegistryOptions {
                tls: true,
                ..options
            },
            true,
        )
    }

    fn start_with(options: RegistryOptions, expired_cert: bool) -> Result<Self> {
        let binary = Tool::DockerRegistry.require()?;
        let dir = tempfile::Builder::new()
            .prefix("landed-e2e-registry-")
            .tempdir()?;
        let ca = if options.tls {
            Some(Ca::new("landed-e2e registry CA")?)
        } else {
            None
        };
        let config = write_config(dir.path(), ca.as_ref(), &options, expired_cert)?;
        let stdout = fs::File::create(dir.path().join("access.log"))?;
        let stderr = fs::File::create(dir.path().join("registry.log"))?;
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config)
            .current_dir(dir.path())
            .env_clear()
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .context("starting docker-registry")?;
        let mut registry = Self {
            dir,
            child,
            port: 0,
            ca,
            auth: options.auth,
        };
        registry.port = registry.wait_for_port()?;
        Ok(registry)
    }

    /// Reads "listening on 127.0.0.1:PORT" from the log.
    fn wait_for_port(&mut self) -> Result<u16> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            let log = self.server_log();
            if let Some(port) = parse_listening_port(&log) {
                return Ok(port);
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("docker-registry exited ({status}) before listening:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        bail!(
            "docker-registry did not report its port in 20 s:\n{}",
            self.server_log()
        )
    }

    /// `127.0.0.1:PORT`: the registry host as written in image references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Whether it serves HTTPS.
    pub fn is_tls(&self) -> bool {
        self.ca.is_some()
    }

    /// The private CA that signed its certificate, if TLS.
    pub fn ca(&self) -> Option<&Ca> {
        self.ca.as_ref()
    }

    /// Writes the CA certificate into `dir` as `ca.pem` (TLS registries only).
    pub fn write_ca(&self, dir: &Path) -> Result<PathBuf> {
        match &self.ca {
            Some(ca) => ca.write_cert(&dir.join("ca.pem")),
            None => bail!("this registry serves plain HTTP"),
        }
    }

    /// How the registry authenticates.
    pub fn auth(&self) -> &RegistryAuth {
        &self.auth
    }

    /// Basic credentials for pushes (htpasswd user, or the token server's), if any.
    pub fn push_credentials(&self) -> Option<(String, String)> {
        match &self.auth {
            RegistryAuth::None => None,
            RegistryAuth::Htpasswd { user, password } => Some((user.clone(), password.clone())),
            RegistryAuth::Token { credentials, .. } => credentials.clone(),
        }
    }

    /// The storage root (`rootdirectory` of the filesystem driver).
    pub fn storage_root(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A client for direct API calls (blob uploads, manifest PUT and DELETE).
    pub fn admin(&self) -> Result<AdminClient> {
        AdminClient::new(
            self.endpoint(),
            self.ca.as_ref().map(|ca| ca.cert_pem().to_owned()),
            self.auth.clone(),
        )
    }

    /// The registry's own log (stderr): startup lines and one line per response.
    pub fn server_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Every access-log line so far, in order. Waits briefly first: the registry writes a line
    /// just after it answers.
    pub fn access_log(&self) -> Vec<AccessEntry> {
        std::thread::sleep(Duration::from_millis(150));
        let text = fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
        text.lines().filter_map(parse_access_line).collect()
    }

    /// Number of access-log lines so far (a mark for [`Registry::access_log_since`]).
    pub fn access_mark(&self) -> usize {
        self.access_log().len()
    }

    /// Access-log lines after `mark`.
    pub fn access_log_since(&self, mark: usize) -> Vec<AccessEntry> {
        self.access_log().into_iter().skip(mark).collect()
    }

    /// Manifest requests (HEAD or GET) for `repo` after `mark`.
    pub fn manifest_requests_since(&self, mark: usize, repo: &str) -> usize {
        self.access_log_since(mark)
            .iter()
            .filter(|e| e.is_manifest_of(repo))
            .count()
    }

    /// Overwrites the tag's `current/link` under the storage root with garbage, so that every
    /// lookup of the tag answers 500.
    pub fn corrupt_tag(&self, repo: &str, tag: &str) -> Result<()> {
        let link = self
            .storage_root()
            .join("docker/registry/v2/repositories")
            .join(repo)
            .join("_manifests/tags")
            .join(tag)
            .join("current/link");
        if !link.is_file() {
            bail!("no tag link at {}", link.display());
        }
        fs::write(&link, "this is not a digest")
            .with_context(|| format!("corrupting {}", link.display()))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port from the "listening on 127.0.0.1:PORT" log line.
fn parse_listening_port(log: &str) -> Option<u16> {
    let marker = "listening on 127.0.0.1:";
    let start = log.find(marker)? + marker.len();
    let digits: String = log[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Parses a combined-log-format line: `ip - user [date] "METHOD PATH PROTO" STATUS SIZE "ref" "ua"`.
fn parse_access_line(line: &str) -> Option<AccessEntry> {
    let mut quoted = line.split('"');
    let _prefix = quoted.next()?;
    let request = quoted.next()?;
    let status_part = quoted.next()?;
    let _referer = quoted.next()?;
    let _between = quoted.next()?;
    let user_agent = quoted.next().unwrap_or_default().to_owned();
    let mut request_parts = request.split(' ');
    let method = request_parts.next()?.to_owned();
    let path = request_parts.next()?.to_owned();
    let status = status_part.split_whitespace().next()?.parse().ok()?;
    Some(AccessEntry {
        method,
        path,
        status,
        user_agent,
    })
}

/// Writes the registry's YAML config (and its htpasswd, TLS and token files) into `dir`;
/// `expired_cert` gives it a certificate that expired.
fn write_config(
    dir: &Path,
    ca: Option<&Ca>,
    options: &RegistryOptions,
    expired_cert: bool,
) -> Result<PathBuf> {
    let data = dir.join("data");
    fs::create_dir_all(&data)?;
    let mut yaml = format!(
        "version: 0.1\n\
         log:\n  level: info\n  formatter: text\n  accesslog:\n    disabled: false\n\
         storage:\n  filesystem:\n    rootdirectory: {data:?}\n  delete:\n    enabled: true\n\
         \x20 maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: 127.0.0.1:0\n  secret: {secret:?}\n",
        data = data.display().to_string(),
        secret = crate::random_hex(16),
    );
    if let Some(ca) = ca {
        let mut names: Vec<&str> = vec!["127.0.0.1", "localhost"];
        names.extend(options.extra_names.iter().map(String::as_str));
        let server = if expired_cert {
            ca.expired_server_cert(&names)?
        } else {
            ca.server_cert(&names)?
        };
        let cert = dir.join("server.pem");
        let key = dir.join("server-key.pem");
        fs::write(&cert, &server.cert_pem)?;
        fs::write(&key, &server.key_pem)?;
        yaml.push_str(&format!(
            "  tls:\n    certificate: {:?}\n    key: {:?}\n",
            cert.display().to_string(),
            key.display().to_string()
        ));
    }
    match &options.auth {
        RegistryAuth::None => {}
        RegistryAuth::Htpasswd { user, password } => {
            let path = dir.join("htpasswd");
            fs::write(&path, htpasswd_line(user, password)?)?;
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: landed-e2e\n    path: {:?}\n",
                path.display().to_string()
            ));
        }
        RegistryAuth::Token { issuer, realm, .. } => {
            let path = dir.join("token-root.pem");
            fs::write(&path, issuer.cert_pem())?;
            yaml.push_str(&format!(
                "auth:\n  token:\n    realm: {realm:?}\n    service: {:?}\n    issuer: {:?}\n    \
                 rootcertbundle: {:?}\n",
                issuer.service(),
                issuer.issuer(),
                path.display().to_string()
            ));
        }
    }
    let path = dir.join("config.yml");
    fs::write(&path, yaml)?;
    Ok(path)
}

/// One bcrypt htpasswd line from `htpasswd -Bbn`.
pub fn htpasswd_line(user: &str, password: &str) -> Result<String> {
    let out = Command::new(Tool::Htpasswd.require()?)
        .args(["-Bbn", user, password])
        .env_clear()
        .output()
        .context("running htpasswd")?;
    if !out.status.success() {
        bail!("htpasswd failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8(out.stdout).context("htpasswd printed non-UTF-8")?;
    Ok(format!("{}\n", text.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_listening_line() {
        let log = "time=x level=info msg=\"listening on 127.0.0.1:36099\" go.version=go1.19";
        assert_eq!(parse_listening_port(log), Some(36099));
        let tls = "msg=\"listening on 127.0.0.1:4443, tls\"";
        assert_eq!(parse_listening_port(tls), Some(4443));
    }

    #[test]
    fn parses_an_access_line() {
        let line = r#"127.0.0.1 - - [23/Nov/2026:16:49:19 +0000] "HEAD /v2/foo/manifests/bar HTTP/1.1" 404 93 "" "curl/7.88.1""#;
        let entry = parse_access_line(line).expect("parses");
        assert_eq!(entry.method, "HEAD");
        assert_eq!(entry.path, "/v2/foo/manifests/bar");
        assert_eq!(entry.status, 404);
        assert_eq!(entry.user_agent, "curl/7.88.1");
        assert!(entry.is_manifest_of("foo"));
    }
}
