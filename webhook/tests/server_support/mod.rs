//! Starting the real server in-process over real TLS, and clients for it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use landed::admission::Pipeline;
use landed::config::Config;
use landed::policy::{PolicySet, PolicyStore};
use landed::resolve::{Resolve, TableResolver};
use landed::server::certs::CertAuthority;
use landed::server::{serve, ServeOptions, ServerLimits, TlsFiles};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reviews");

/// A server running on a free loopback port until dropped.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The CA that signed its certificate (and client certificates, for mTLS tests).
    pub ca: CertAuthority,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Running {
    /// The directory holding `tls.crt`, `tls.key` and `ca.crt` (write there to rotate).
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// `https://localhost:PORT/validate`.
    pub fn validate_url(&self) -> String {
        format!("https://localhost:{}/validate", self.addr.port())
    }
}

/// A server with no policies and every image absent from its table.
pub async fn start(limits: ServerLimits, client_ca: bool) -> Running {
    let store = Arc::new(PolicyStore::new(PolicySet::default()));
    start_with(limits, client_ca, Arc::new(TableResolver::new()), store).await
}

/// A server over the given resolver and policies.
pub async fn start_with(
    limits: ServerLimits,
    client_ca: bool,
    resolver: Arc<dyn Resolve>,
    store: Arc<PolicyStore>,
) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = CertAuthority::generate(2).expect("ca");
    let paths = ca
        .issue(&["localhost".into(), "127.0.0.1".into()], 1)
        .expect("leaf")
        .write(dir.path())
        .expect("write certs");
    let mut config = Config::default();
    config.resolve.deadline = Duration::from_secs(3);
    let pipeline = Arc::new(Pipeline::new(config.review_settings(None), resolver, store));
    let options = ServeOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        tls: TlsFiles {
            cert: paths.cert,
            key: paths.key,
            client_ca: client_ca.then_some(paths.ca),
        },
        reload_interval: Duration::from_millis(100),
        shutdown_grace: Duration::from_secs(1),
        limits,
    };
    let shutdown = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let token = shutdown.clone();
    tokio::spawn(async move {
        serve(pipeline, options, token, move |addr| {
            let _ = tx.send(addr);
        })
        .await
        .expect("server runs");
    });
    let addr = rx.await.expect("server listening");
    Running {
        addr,
        ca,
        shutdown,
        _dir: dir,
    }
}

/// A rustls client config trusting `ca`, presenting `identity` (cert PEM, key PEM) if given.
pub fn tls_config(ca: &CertAuthority, identity: Option<(&str, &str)>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca.pem().as_bytes()) {
        roots.add(cert.expect("ca pem")).expect("add root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    match identity {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .expect("client chain");
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("client key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client identity")
        }
        None => builder.with_no_client_auth(),
    }
}

/// A reqwest client over `tls`, one connection per request.
pub fn client(tls: rustls::ClientConfig) -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// A review from the test corpus.
pub fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(format!("{CORPUS}/{name}")).expect("fixture")
}

/// A TLS stream to the server that has finished its handshake and sent nothing.
pub async fn tls_stream(
    server: &Running,
    tls: rustls::ClientConfig,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    connector.connect(name, tcp).await.expect("handshake")
}
