//! The HTTPS server: axum on rustls, certificate reload, health endpoints, graceful shutdown.

pub mod certs;
pub mod limits;
pub mod open_files;
mod routes;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use axum_server::Handle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::admission::Pipeline;
pub use limits::ServerLimits;
pub use routes::{router, AppState, Readiness, MAX_BODY_BYTES};
pub use tls::{TlsError, TlsFiles};

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The certificate or key is unusable at start.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Binding or serving failed.
    #[error("cannot serve on {addr}: {source}")]
    Io {
        /// The listen address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Listen address (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Certificate and key files.
    pub tls: TlsFiles,
    /// How often the files are checked for rotation.
    pub reload_interval: Duration,
    /// How long in-flight reviews may run after shutdown begins.
    pub shutdown_grace: Duration,
    /// Timeouts and caps against slow or hostile clients.
    pub limits: ServerLimits,
}

/// Serves until `shutdown` is cancelled, then stops accepting and drains in-flight reviews.
///
/// `on_listening` receives the bound address once the socket is up.
pub async fn serve(
    pipeline: Arc<Pipeline>,
    options: ServeOptions,
    shutdown: CancellationToken,
    on_listening: impl FnOnce(SocketAddr) + Send + 'static,
) -> Result<(), ServerError> {
    let rustls = RustlsConfig::from_config(options.tls.load()?);
    let readiness = Arc::new(Readiness::default());
    let handle: Handle<SocketAddr> = Handle::new();

    tokio::spawn(tls::watch(
        options.tls.clone(),
        rustls.clone(),
        options.reload_interval,
        shutdown.clone(),
    ));
    {
        let (handle, readiness, shutdown) = (handle.clone(), readiness.clone(), shutdown.clone());
        let grace = options.shutdown_grace;
        tokio::spawn(async move {
            shutdown.cancelled().await;
            info!(
                grace_s = grace.as_secs_f64(),
                "shutting down: draining in-flight reviews"
            );
            readiness.set_draining();
            handle.graceful_shutdown(Some(grace));
        });
    }
    {
        let (handle, readiness) = (handle.clone(), readiness.clone());
        tokio::spawn(async move {
            if let Some(addr) = handle.listening().await {
                readiness.set_tls_up();
                info!(%addr, "serving HTTPS");
                on_listening(addr);
            }
        });
    }
    if let Some(interval) = pipeline.config().audit.background_scan.interval {
        crate::audit::background::spawn(pipeline.clone(), interval, shutdown.clone());
    }
    let limits = options.limits;
    let app = router(AppState {
        pipeline,
        readiness,
    })
    .layer(axum::middleware::from_fn_with_state(
        limits.request_timeout,
        limits::request_timeout,
    ));
    let acceptor = RustlsAcceptor::new(rustls)
        .handshake_timeout(limits.tls_handshake_timeout)
        .acceptor(limits::ConnectionCap::new(limits.max_connections));
    let mut server = axum_server::bind(options.listen)
        .acceptor(acceptor)
        .handle(handle)
        // Bounds a new connection up to its first request (hyper's protocol detection has
        // no timer of its own), so slow or silent clients are dropped quickly.
        .first_request_timeout(limits.header_read_timeout)
        .accept_error_handler(|peer, err| debug!(?peer, error = %err, "connection refused"));
    let builder = server.http_builder();
    // hyper's header timer also runs while a keep-alive connection waits for its next
    // request, so it is the idle timeout there; the first request stays bounded above.
    builder
        .http1()
        .header_read_timeout(limits.idle_timeout.max(limits.header_read_timeout));
    builder
        .http2()
        .max_concurrent_streams(limits.max_concurrent_streams);
    server
        .serve(app.into_make_service())
        .await
        .map_err(|source| ServerError::Io {
            addr: options.listen,
            source,
        })
}
