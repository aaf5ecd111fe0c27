//! In-process fakes that speak real protocols, for what cannot run on a test machine.
//!
//! Each fake listens on its own `127.0.0.1:0` port on the shared [`crate::runtime`], records
//! every request it receives (so tests can count them), and stops on drop.

pub mod broken_registry;
pub mod garbage;
pub mod google_oauth;
pub mod hostile;
pub mod kube_api;
pub mod lying_upload;
pub mod registries;
pub mod token_server;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Context, Result};
use axum::Router;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::runtime::{block_on, runtime};

/// One request as a fake saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query string (empty when none).
    pub query: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The request body as text (lossy).
    pub body: String,
}

/// A shared, append-only list of the requests a fake received.
#[derive(Clone, Debug, Default)]
pub struct Recorder(Arc<Mutex<Vec<Recorded>>>);

impl Recorder {
    fn lock(&self) -> MutexGuard<'_, Vec<Recorded>> {
        // A panic in a handler poisons nothing we care about: the list is append-only.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Appends one request.
    pub fn push(&self, request: Recorded) {
        self.lock().push(request);
    }

    /// Every request so far.
    pub fn all(&self) -> Vec<Recorded> {
        self.lock().clone()
    }

    /// How many requests so far.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// How many requests so far satisfy `pred`.
    pub fn count_where(&self, pred: impl Fn(&Recorded) -> bool) -> usize {
        self.lock().iter().filter(|r| pred(r)).count()
    }
}

/// Reads the parts of a request a fake records, consuming the body.
pub async fn record(request: axum::extract::Request) -> Recorded {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    Recorded {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        authorization: parts
            .headers
            .get(http_header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Header names used by the fakes.
pub mod http_header {
    pub use axum::http::header::*;
}

/// The values of `key` in a query or form-encoded string, percent-decoded.
pub fn form_values(encoded: &str, key: &str) -> Vec<String> {
    encoded
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .filter(|(k, _)| percent_decode(k) == key)
        .map(|(_, v)| percent_decode(v))
        .collect()
}

/// Decodes `%XX` escapes and `+` (form encoding's space).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A signal handlers can wait on so that long waits end when the fake is dropped.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Completes when the fake is being dropped.
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// The first N requests a fake accepts and never answers (an endpoint that hangs, then
/// recovers).
#[derive(Clone, Debug)]
pub struct StallFirst(Arc<std::sync::atomic::AtomicUsize>);

impl StallFirst {
    /// Stalls the first `n` requests.
    pub fn new(n: usize) -> Self {
        Self(Arc::new(std::sync::atomic::AtomicUsize::new(n)))
    }

    /// Whether this request is one of the stalled ones (counts it if so).
    pub fn take(&self) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        self.0
            .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// An HTTP or HTTPS server on `127.0.0.1:0` running an axum router; stops on drop.
pub struct HttpFake {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    tls: bool,
}

impl HttpFake {
    /// Binds a free loopback port and serves the router `make` builds (it gets the shutdown
    /// signal for handlers that wait).
    pub fn start(make: impl FnOnce(Shutdown) -> Router) -> Result<Self> {
        let (stop, stopped) = watch::channel(false);
        let router = make(Shutdown(stopped.clone()));
        let listener = block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .context("binding a loopback port for a fake")?;
        let addr = listener.local_addr()?;
        let shutdown = Shutdown(stopped);
        let task = runtime().spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown.wait())
                .await;
        });
        Ok(Self {
            addr,
            stop,
            task,
            tls: false,
        })
    }

    /// The same over HTTPS with `cert` (a registry or token server as real ones are).
    pub fn start_tls(
        cert: &crate::pki::CertifiedKey,
        make: impl FnOnce(Shutdown) -> Router,
    ) -> Result<Self> {
        crate::runtime::install_crypto_provider();
        let (stop, stopped) = watch::channel(false);
        let router = make(Shutdown(stopped.clone()));
        let tls = block_on(axum_server::tls_rustls::RustlsConfig::from_pem(
            cert.cert_pem.clone().into_bytes(),
            cert.key_pem.clone().into_bytes(),
        ))
        .context("TLS config of a fake")?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        // Turning the listener into tokio's needs the runtime it will be served on.
        let server = {
            let _runtime = runtime().enter();
            axum_server::from_tcp_rustls(listener, tls)?
        };
        let shutdown = Shutdown(stopped);
        let task = runtime().spawn(async move {
            let handle = axum_server::Handle::new();
            let serving = server
                .handle(handle.clone())
                .serve(router.into_make_service());
            tokio::select! {
                _ = serving => {}
                () = shutdown.wait() => handle.shutdown(),
            }
        });
        Ok(Self {
            addr,
            stop,
            task,
            tls: true,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (`https://` when serving TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for HttpFake {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_form_values() {
        let body =
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c";
        assert_eq!(
            form_values(body, "grant_type"),
            vec!["urn:ietf:params:oauth:grant-type:jwt-bearer"]
        );
        assert_eq!(form_values(body, "assertion"), vec!["a.b.c"]);
        assert_eq!(
            form_values("scope=repository%3Aa%3Apull&scope=x", "scope"),
            vec!["repository:a:pull", "x"]
        );
    }
}
