//! The HTTPS server: axum on rustls, certificate reload, health endpoints, connection
//! lifetimes (idle timeout, maximum age) and graceful shutdown.

mod body;
mod cert_expiry;
pub mod certs;
mod config;
mod connection;
pub mod limits;
pub mod open_files;
mod routes;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum_server::accept::Accept;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info};

use crate::admission::Pipeline;
pub use body::{ReviewBody, DRAIN_BYTES, DRAIN_TIME, MAX_BODY_BYTES};
pub use config::ServerConfig;
pub use limits::ServerLimits;
pub use routes::{router, AppState, Readiness};
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
    let io_error = |source| ServerError::Io {
        addr: options.listen,
        source,
    };
    let listener = TcpListener::bind(options.listen).await.map_err(io_error)?;
    let addr = listener.local_addr().map_err(io_error)?;
    tokio::spawn(tls::watch(
        options.tls.clone(),
        rustls.clone(),
        options.reload_interval,
        shutdown.clone(),
    ));
    let limits = options.limits;
    let app = router(AppState {
        pipeline,
        readiness: readiness.clone(),
    })
    .layer(axum::middleware::from_fn_with_state(
        limits.request_timeout,
        limits::request_timeout,
    ));
    let connections = Connections {
        acceptor: RustlsAcceptor::new(rustls)
            .handshake_timeout(limits.tls_handshake_timeout)
            .acceptor(limits::ConnectionCap::new(limits.max_connections)),
        app,
        builder: Arc::new(http_builder(&limits)),
        lifetime: connection::Lifetime::new(&limits),
        tracker: TaskTracker::new(),
        force: CancellationToken::new(),
    };
    readiness.set_tls_up();
    info!(%addr, "serving HTTPS");
    on_listening(addr);
    connections.accept_until(&listener, &shutdown).await;
    // New connections are refused from here on; open ones get GOAWAY or `Connection: close`.
    drop(listener);
    readiness.set_draining();
    connections.drain(options.shutdown_grace).await;
    Ok(())
}

/// What every accepted connection is served with, and the connections in flight.
struct Connections {
    acceptor: RustlsAcceptor<limits::ConnectionCap>,
    app: axum::Router,
    builder: Arc<Builder<TokioExecutor>>,
    lifetime: connection::Lifetime,
    tracker: TaskTracker,
    /// Cancelled when the shutdown grace is over: closes what is still open.
    force: CancellationToken,
}

impl Connections {
    /// Accepts connections until `shutdown`, each served on its own task.
    async fn accept_until(&self, listener: &TcpListener, shutdown: &CancellationToken) {
        loop {
            let (tcp, peer) = tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // EMFILE and the like: back off instead of spinning.
                        debug!(error = %err, "accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                },
            };
            let (acceptor, app, builder) = (
                self.acceptor.clone(),
                self.app.clone(),
                self.builder.clone(),
            );
            let (shutdown, force, lifetime) = (shutdown.clone(), self.force.clone(), self.lifetime);
            self.tracker.spawn(async move {
                // The connection cap and the TLS handshake (with its timeout) come first.
                let accepted = tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => return,
                    accepted = acceptor.accept(tcp, ()) => accepted,
                };
                match accepted {
                    Ok((tls, _)) => {
                        connection::serve(tls, app, &builder, lifetime, &shutdown, &force).await;
                    }
                    Err(err) => debug!(%peer, error = %err, "connection refused"),
                }
            });
        }
    }

    /// Waits up to `grace` for open connections to finish, then closes the rest.
    async fn drain(self, grace: Duration) {
        info!(
            grace_s = grace.as_secs_f64(),
            "shutting down: draining in-flight reviews"
        );
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            info!("shutdown grace over: closing the remaining connections");
            self.force.cancel();
            self.tracker.wait().await;
        }
    }
}

/// hyper's protocol settings: HTTP/1.1 and HTTP/2 by what the client speaks.
fn http_builder(limits: &ServerLimits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    // hyper's header timer also runs while a keep-alive connection waits for its next
    // request, so it is the idle timeout there; the first request is bounded by `connection`.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout.max(limits.header_read_timeout));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams);
    builder
}

/// Pause after a failed accept (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
