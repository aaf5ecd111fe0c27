//! `server:` in landed.yaml: where and how to serve, and the limits against hostile clients.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// HTTPS server settings (`server:`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// PEM certificate chain file.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key file.
    pub tls_key_file: Option<PathBuf>,
    /// How often the certificate files are checked for changes.
    #[serde(with = "humantime_serde")]
    pub cert_reload_interval: Duration,
    /// The `timeoutSeconds` of the webhook configuration; every budget stays below it.
    #[serde(with = "humantime_serde")]
    pub webhook_timeout: Duration,
    /// How long in-flight reviews may take to finish after SIGTERM.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// PEM CA bundle; when set, clients (the API server) must present a certificate it signed.
    pub client_ca_file: Option<PathBuf>,
    /// Time for a client to send a request's headers (slow clients are disconnected).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Time for a client to complete the TLS handshake.
    #[serde(with = "humantime_serde")]
    pub tls_handshake_timeout: Duration,
    /// How long an HTTP/1.1 keep-alive connection may wait for its next request. Longer than
    /// the API server's own idle timeout (Go's 90 s), so the client closes idle connections:
    /// a server-side close races the client's next request, which then fails as a reset.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Time for a whole request, body included (default: webhookTimeout + 2s).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Option<Duration>,
    /// How long an HTTP/2 connection may stay without a request in flight before it is closed
    /// with GOAWAY. Longer than the API server's own idle close (Go's 90 s), for the same
    /// reason as `idleTimeout`; client pings do not count as activity.
    #[serde(with = "humantime_serde")]
    pub http2_idle_timeout: Duration,
    /// Age at which any connection is closed gracefully (GOAWAY on HTTP/2, `Connection:
    /// close` on HTTP/1.1): in-flight requests finish, new ones go to a new connection.
    #[serde(with = "humantime_serde")]
    pub max_connection_age: Duration,
    /// Concurrent HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// Connections open at once; more are closed when accepted.
    pub max_connections: usize,
}

impl ServerConfig {
    /// The whole-request timeout: as configured, else a little above `webhookTimeout`.
    pub fn effective_request_timeout(&self) -> Duration {
        self.request_timeout
            .unwrap_or(self.webhook_timeout + Duration::from_secs(2))
    }

    /// Checks the section on its own (the root config checks it against `resolve:`).
    pub fn validate(&self) -> Result<(), String> {
        let timeout = self.webhook_timeout;
        if timeout.is_zero() || timeout > Duration::from_secs(30) {
            return Err(format!(
                "server.webhookTimeout must be between 1s and 30s (the API server's limit), got {timeout:?}"
            ));
        }
        if self.header_read_timeout.is_zero() || self.tls_handshake_timeout.is_zero() {
            return Err(
                "server.headerReadTimeout and server.tlsHandshakeTimeout must be above zero".into(),
            );
        }
        for (name, idle) in [
            ("idleTimeout", self.idle_timeout),
            ("http2IdleTimeout", self.http2_idle_timeout),
        ] {
            if idle < self.header_read_timeout {
                return Err(format!(
                    "server.{name} ({idle:?}) must be at least server.headerReadTimeout ({:?})",
                    self.header_read_timeout
                ));
            }
        }
        if self.max_connection_age < self.header_read_timeout {
            return Err(format!(
                "server.maxConnectionAge ({:?}) must be at least server.headerReadTimeout ({:?})",
                self.max_connection_age, self.header_read_timeout
            ));
        }
        if self.max_concurrent_streams == 0 || self.max_connections == 0 {
            return Err(
                "server.maxConcurrentStreams and server.maxConnections must be above zero".into(),
            );
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return Err("server.tlsCertFile and server.tlsKeyFile must be given together".into());
        }
        Ok(())
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8443)),
            tls_cert_file: None,
            tls_key_file: None,
            cert_reload_interval: Duration::from_secs(10),
            webhook_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(20),
            client_ca_file: None,
            header_read_timeout: Duration::from_secs(5),
            tls_handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(120),
            http2_idle_timeout: Duration::from_secs(120),
            max_connection_age: Duration::from_secs(5 * 60),
            request_timeout: None,
            max_concurrent_streams: 100,
            max_connections: 1024,
        }
    }
}
