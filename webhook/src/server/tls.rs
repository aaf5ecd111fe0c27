//! Serving TLS from PEM files, reloaded in place when they change (cert-manager rotation).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Why a certificate/key pair cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The certificate file holds no usable certificate.
    #[error("{path} holds no PEM certificate")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no usable private key.
    #[error("{path} holds no PEM private key")]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// rustls refused the pair (e.g. the key does not match the certificate).
    #[error("certificate and key cannot serve: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The certificate and key files to serve and watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

impl TlsFiles {
    fn read(&self) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
        Ok((read(&self.cert)?, read(&self.key)?))
    }

    /// Builds a rustls server config from the files as they are now.
    pub fn load(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let (cert, key) = self.read()?;
        server_config(&cert, &key, self)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// TLS 1.2+ with the ring provider, HTTP/2 and HTTP/1.1 by ALPN.
fn server_config(cert: &[u8], key: &[u8], files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: files.cert.clone(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|_| TlsError::NoKey {
        path: files.key.clone(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn fingerprint(cert: &[u8], key: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(cert);
    hash.update([0]);
    hash.update(key);
    hash.finalize().into()
}

/// Polls the files every `interval` and swaps the serving config when their content changes.
///
/// Polling (rather than inotify) survives the symlink swaps Kubernetes uses to update
/// mounted Secrets. A pair that does not load (say, the key written before the certificate)
/// is retried on the next tick while the old pair keeps serving.
pub async fn watch(
    files: TlsFiles,
    serving: RustlsConfig,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut last = files.read().ok().map(|(c, k)| fingerprint(&c, &k));
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let Ok((cert, key)) = files.read() else {
            continue;
        };
        let now = fingerprint(&cert, &key);
        if last == Some(now) {
            continue;
        }
        match server_config(&cert, &key, &files) {
            Ok(config) => {
                serving.reload_from_config(config);
                last = Some(now);
                info!(cert = %files.cert.display(), "serving certificate reloaded");
            }
            Err(err) => {
                warn!(error = %err, "new certificate not loaded yet; still serving the previous one")
            }
        }
    }
}
