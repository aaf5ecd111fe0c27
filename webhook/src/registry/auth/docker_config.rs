//! The server's docker config.json: `auths`, `credHelpers`, `credsStore`; also the parser for
//! pull secrets, which carry the same format.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use super::Credential;
use crate::registry::config::canonical_host;
use crate::registry::errors::RegistryError;
use crate::registry::secret::Secret;

/// How long credentials read from the file or a helper are reused (they can rotate).
const CACHE_FOR: Duration = Duration::from_secs(30);
/// How long a credential helper may run.
const HELPER_TIMEOUT: Duration = Duration::from_secs(10);

/// One `auths` entry.
#[derive(Clone, Default, Deserialize)]
pub struct AuthEntry {
    /// base64 of `user:password`.
    #[serde(default)]
    auth: Option<Secret>,
    /// Username, when given separately.
    #[serde(default)]
    username: Option<String>,
    /// Password, when given separately.
    #[serde(default)]
    password: Option<Secret>,
}

/// The parts of a docker config.json landed reads.
#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerConfig {
    /// Inline credentials by registry key (`https://index.docker.io/v1/`, `host:port`, …).
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    /// Credential helper per registry.
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    /// Credential helper for every registry.
    #[serde(default)]
    creds_store: Option<String>,
}

/// What a `docker-credential-* get` prints.
#[derive(Deserialize)]
pub struct HelperOutput {
    /// Username (`<token>` marks an identity token, which landed does not use).
    #[serde(rename = "Username", default)]
    pub username: String,
    /// Password or token.
    #[serde(rename = "Secret")]
    pub secret: Secret,
}

impl DockerConfig {
    /// Parses config.json text (`{"auths": …}`).
    pub fn parse(json: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json)
    }

    /// Parses a legacy `.dockercfg` (a bare map of registry → entry).
    pub fn parse_legacy(json: &[u8]) -> Result<Self, serde_json::Error> {
        Ok(Self {
            auths: serde_json::from_slice(json)?,
            ..Self::default()
        })
    }

    /// The helper to ask for `host`, if any (`credHelpers` first, then `credsStore`).
    pub fn helper_for(&self, host: &str) -> Option<&str> {
        let want = canonical_host(host);
        self.cred_helpers
            .iter()
            .find(|(k, _)| canonical_host(k) == want)
            .map(|(_, v)| v.as_str())
            .or(self.creds_store.as_deref())
            .filter(|h| !h.is_empty())
    }

    /// The inline credential for `host`, labelled with `identity`.
    pub fn inline_for(&self, host: &str, identity: &str) -> Option<Credential> {
        let want = canonical_host(host);
        let entry = self
            .auths
            .iter()
            .find(|(k, _)| canonical_host(k) == want)
            .map(|(_, v)| v)?;
        let (username, password) = match (&entry.username, &entry.password, &entry.auth) {
            (Some(u), Some(p), _) if !u.is_empty() => (u.clone(), p.clone()),
            (_, _, Some(auth)) if !auth.is_empty() => {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth.expose().trim())
                    .ok()?;
                let decoded = String::from_utf8(decoded).ok()?;
                let (u, p) = decoded.split_once(':')?;
                (u.to_owned(), Secret::new(p))
            }
            _ => return None,
        };
        Some(Credential {
            username,
            password,
            identity: identity.to_owned(),
        })
    }
}

/// The server URL a helper is asked about (Docker Hub's historical key for docker.io).
fn helper_server(host: &str) -> String {
    if canonical_host(host) == "docker.io" {
        "https://index.docker.io/v1/".to_owned()
    } else {
        host.to_owned()
    }
}

/// Runs `docker-credential-<helper> get` for `host`; `None` when it has nothing for it.
pub async fn run_helper(helper: &str, host: &str) -> Result<Option<Credential>, RegistryError> {
    let program = format!("docker-credential-{helper}");
    let fail = |message: String| RegistryError::Credentials {
        source_name: program.clone(),
        message,
    };
    let mut child = tokio::process::Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(format!("cannot run: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(helper_server(host).as_bytes())
            .await
            .map_err(|e| fail(format!("cannot write to it: {e}")))?;
    }
    let out = tokio::time::timeout(HELPER_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| fail("timed out".into()))?
        .map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        // The helpers' convention for "no entry"; anything else is a real failure. Their
        // stderr/stdout are not echoed: some print what they were given.
        let text = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase()
            + &String::from_utf8_lossy(&out.stderr).to_ascii_lowercase();
        if text.contains("credentials not found") {
            return Ok(None);
        }
        return Err(fail(format!("exited with {}", out.status)));
    }
    let parsed: HelperOutput = serde_json::from_slice(&out.stdout)
        .map_err(|_| fail("printed something that is not credential JSON".into()))?;
    if parsed.username == "<token>" || parsed.secret.is_empty() {
        tracing::debug!(helper = %program, "helper gave an identity token; not supported, skipping");
        return Ok(None);
    }
    Ok(Some(Credential {
        username: parsed.username,
        password: parsed.secret,
        identity: format!("cred-helper:{helper}"),
    }))
}

/// The server's docker config: `dockerConfig` from landed.yaml, else `$DOCKER_CONFIG/config.json`,
/// else `$HOME/.docker/config.json`; read again every 30 s.
pub struct DockerConfigSource {
    path: Option<PathBuf>,
    cache: moka::future::Cache<String, Option<Credential>>,
}

impl DockerConfigSource {
    /// A source reading `path`, or the usual locations when `None`.
    pub fn new(path: Option<PathBuf>) -> Self {
        Self {
            path,
            cache: moka::future::Cache::builder()
                .max_capacity(1_000)
                .time_to_live(CACHE_FOR)
                .build(),
        }
    }

    fn config_path(&self) -> Option<PathBuf> {
        if let Some(p) = &self.path {
            return Some(p.clone());
        }
        if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
            return Some(PathBuf::from(dir).join("config.json"));
        }
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".docker").join("config.json"))
    }

    /// The credential for `host` from the config file or its helpers.
    pub async fn credential(&self, host: &str) -> Result<Option<Credential>, RegistryError> {
        let key = canonical_host(host);
        self.cache
            .try_get_with(key, self.read(host))
            .await
            .map_err(|e| (*e).clone())
    }

    async fn read(&self, host: &str) -> Result<Option<Credential>, RegistryError> {
        let Some(path) = self.config_path() else {
            return Ok(None);
        };
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(RegistryError::Credentials {
                    source_name: path.display().to_string(),
                    message: e.to_string(),
                })
            }
        };
        let config = DockerConfig::parse(&bytes).map_err(|e| RegistryError::Credentials {
            source_name: path.display().to_string(),
            message: parse_failure(&e),
        })?;
        if let Some(helper) = config.helper_for(host) {
            if let Some(c) = run_helper(helper, host).await? {
                return Ok(Some(c));
            }
        }
        Ok(config.inline_for(host, "docker-config"))
    }
}

/// Why a docker config does not parse, by position and category only: serde_json's own
/// message quotes the value it choked on, and in this file the values are credentials
/// (`"auths": {"host": "user:password"}` is a common mistake).
pub fn parse_failure(error: &serde_json::Error) -> String {
    let category = match error.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "valid JSON but not a docker config",
        serde_json::error::Category::Eof => "cut short",
    };
    format!(
        "{category} (line {}, column {})",
        error.line(),
        error.column()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_auths() {
        let json = br#"{"auths":{
            "https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNzOndpdGg6Y29sb25z"},
            "reg.example:5000":{"username":"bob","password":"s3cret"},
            "empty.example":{}
        }}"#;
        let cfg = DockerConfig::parse(json).expect("parse");
        let hub = cfg.inline_for("docker.io", "docker-config").expect("hub");
        assert_eq!(hub.username, "user");
        assert_eq!(hub.password.expose(), "pass:with:colons");
        let reg = cfg.inline_for("reg.example:5000", "x").expect("reg");
        assert_eq!(
            (reg.username.as_str(), reg.password.expose()),
            ("bob", "s3cret")
        );
        assert!(cfg.inline_for("empty.example", "x").is_none());
        assert!(cfg.inline_for("other.example", "x").is_none());
        assert!(!format!("{reg:?}").contains("s3cret"));
    }

    #[test]
    fn helpers_and_legacy() {
        let cfg = DockerConfig::parse(
            br#"{"credHelpers":{"gcr.io":"gcloud"},"credsStore":"desktop","auths":{}}"#,
        )
        .expect("parse");
        assert_eq!(cfg.helper_for("gcr.io"), Some("gcloud"));
        assert_eq!(cfg.helper_for("ghcr.io"), Some("desktop"));
        let legacy =
            DockerConfig::parse_legacy(br#"{"reg.example":{"auth":"YTpi"}}"#).expect("legacy");
        let c = legacy
            .inline_for("reg.example", "pull-secret:ns/s")
            .expect("entry");
        assert_eq!((c.username.as_str(), c.password.expose()), ("a", "b"));
        assert!(DockerConfig::parse(b"not json").is_err());
    }

    #[test]
    fn a_malformed_entry_is_reported_without_its_value() {
        let json = br#"{"auths": {"reg.example": "bob:hunter2-secret"}}"#;
        let error = DockerConfig::parse(json)
            .err()
            .expect("a bare string entry");
        assert!(
            error.to_string().contains("hunter2-secret"),
            "serde quotes the value, which is why it is not shown"
        );
        let shown = parse_failure(&error);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("line 1"), "{shown}");
    }
}
