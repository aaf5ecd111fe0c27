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
    /// The client CA file holds no usable CA certificate.
    #[error("{path} holds no usable client CA certificate: {source}")]
    ClientCa {
        /// The file.
        path: PathBuf,
        /// Why the verifier could not be built.
        #[source]
        source: rustls::server::VerifierBuilderError,
    },
}

/// The certificate and key files to serve and watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// PEM CA bundle for client certificates (mTLS); `None` serves any client.
    pub client_ca: Option<PathBuf>,
}

/// The files' contents at one moment.
struct Pems {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

impl Pems {
    fn fingerprint(&self) -> [u8; 32] {
        let mut hash = Sha256::new();
        for part in [&self.cert, &self.key] {
            hash.update(part);
            hash.update([0]);
        }
        if let Some(ca) = &self.client_ca {
            hash.update(ca);
        }
        hash.finalize().into()
    }
}

impl TlsFiles {
    fn read(&self) -> Result<Pems, TlsError> {
        Ok(Pems {
            cert: read(&self.cert)?,
            key: read(&self.key)?,
            client_ca: self.client_ca.as_deref().map(read).transpose()?,
        })
    }

    /// Builds a rustls server config from the files as they are now, and records the
    /// certificate's expiry.
    pub fn load(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let pems = self.read()?;
        let config = server_config(&pems, self)?;
        record_expiry(&pems.cert, &self.cert);
        Ok(config)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Sets `landed_tls_certificate_not_after_seconds` from the leaf (first) certificate.
fn record_expiry(cert_pem: &[u8], path: &Path) {
    let expiry = CertificateDer::pem_slice_iter(cert_pem)
        .next()
        .and_then(Result::ok)
        .and_then(|leaf| super::cert_expiry::not_after(&leaf));
    match expiry {
        Some(unix) => crate::metrics::global().serving_certificate(unix),
        None => warn!(cert = %path.display(), "cannot read the serving certificate's expiry"),
    }
}

/// The TLS versions served: 1.3 and 1.2, nothing older.
pub const PROTOCOL_VERSIONS: [&rustls::SupportedProtocolVersion; 2] =
    [&rustls::version::TLS13, &rustls::version::TLS12];

/// TLS 1.2+ with the ring provider, HTTP/2 and HTTP/1.1 by ALPN, client certificates if asked.
fn server_config(pems: &Pems, files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pems.cert)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: files.cert.clone(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&pems.key).map_err(|_| TlsError::NoKey {
        path: files.key.clone(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&PROTOCOL_VERSIONS)?;
    let builder = match (&files.client_ca, &pems.client_ca) {
        (Some(path), Some(pem)) => {
            let verifier = client_verifier(pem, provider).map_err(|source| TlsError::ClientCa {
                path: path.clone(),
                source,
            })?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Requires a client certificate signed by one of the CAs in `pem`.
fn client_verifier(
    pem: &[u8],
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, rustls::server::VerifierBuilderError>
{
    let mut roots = rustls::RootCertStore::empty();
    // Unparsable entries are skipped; an empty store is refused by the builder below.
    for cert in CertificateDer::pem_slice_iter(pem).filter_map(Result::ok) {
        let _ = roots.add(cert);
    }
    rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build()
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
    let mut last = files.read().ok().map(|p| p.fingerprint());
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let Ok(pems) = files.read() else {
            continue;
        };
        let now = pems.fingerprint();
        if last == Some(now) {
            continue;
        }
        match server_config(&pems, &files) {
            Ok(config) => {
                serving.reload_from_config(config);
                record_expiry(&pems.cert, &files.cert);
                last = Some(now);
                info!(cert = %files.cert.display(), "serving certificate reloaded");
            }
            Err(err) => {
                warn!(error = %err, "new certificate not loaded yet; still serving the previous one")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::certs::CertBundle;

    fn files(dir: &Path, client_ca: bool) -> TlsFiles {
        let bundle = CertBundle::generate(&["localhost".into()], 1).expect("certs");
        let paths = bundle.write(dir).expect("write");
        TlsFiles {
            cert: paths.cert,
            key: paths.key,
            client_ca: client_ca.then_some(paths.ca),
        }
    }

    #[test]
    fn serves_tls_1_2_and_1_3_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = files(dir.path(), false).load().expect("load");
        let versions = [
            rustls::ProtocolVersion::TLSv1_3,
            rustls::ProtocolVersion::TLSv1_2,
        ];
        for version in PROTOCOL_VERSIONS {
            assert!(versions.contains(&version.version), "{:?}", version.version);
        }
        assert!(config.alpn_protocols.contains(&b"h2".to_vec()));
    }

    #[test]
    fn client_ca_without_a_certificate_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut tls = files(dir.path(), true);
        tls.load().expect("valid client CA");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        tls.client_ca = Some(empty);
        assert!(matches!(tls.load(), Err(TlsError::ClientCa { .. })));
    }
}
