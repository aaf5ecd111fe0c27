//! What an attacker points landed at: internal services that must never see a connection
//! from it (each counts every connection it accepts), and a registry on HTTPS that sends
//! landed elsewhere (a manifest redirect, a token realm).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{record, HttpFake, Recorder};
use crate::pki::CertifiedKey;
use crate::runtime::{block_on, runtime};
use anyhow::{Context, Result};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

/// A TCP service that is not a registry (a Redis, a kubelet port): it accepts connections,
/// counts them, writes a line and closes.
pub struct TcpService {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpService {
    /// Listens on `ip:0` (any loopback address: `127.0.0.1`, `127.0.0.2`, `::1`).
    pub fn start(ip: &str) -> Result<Self> {
        let listener = block_on(tokio::net::TcpListener::bind((ip, 0)))
            .with_context(|| format!("binding {ip}:0"))?;
        let addr = listener.local_addr()?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = runtime().spawn(async move {
            use tokio::io::AsyncWriteExt;
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let _ = stream.write_all(b"-ERR unknown command\r\n").await;
            }
        });
        Ok(Self {
            addr,
            accepted,
            task,
        })
    }

    /// `ip:port` (IPv6 in brackets), as an image reference's registry part.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for TcpService {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How a [`HostileRegistry`] answers a manifest request.
#[derive(Clone, Debug)]
pub enum Hostility {
    /// `307 Temporary Redirect` to this URL.
    Redirect(String),
    /// `401` with `WWW-Authenticate: Bearer realm="<this>"`.
    Realm(String),
}

#[derive(Clone)]
struct HostileState {
    hostility: Hostility,
    recorder: Recorder,
}

/// A registry on HTTPS (certificate from the test's CA) that answers every manifest request
/// by sending the client elsewhere.
pub struct HostileRegistry {
    https: HttpFake,
    recorder: Recorder,
}

impl HostileRegistry {
    /// Serves on `127.0.0.1:0` with `cert`.
    pub fn start(cert: &CertifiedKey, hostility: Hostility) -> Result<Self> {
        let recorder = Recorder::default();
        let state = HostileState {
            hostility,
            recorder: recorder.clone(),
        };
        let https =
            HttpFake::start_tls(cert, |_| Router::new().fallback(answer).with_state(state))?;
        Ok(Self { https, recorder })
    }

    /// The port it serves on.
    pub fn port(&self) -> u16 {
        self.https.addr().port()
    }

    /// Manifest requests it answered.
    pub fn manifest_requests(&self) -> usize {
        self.recorder
            .count_where(|r| r.path.contains("/manifests/"))
    }
}

async fn answer(State(state): State<HostileState>, request: Request) -> Response {
    let recorded = record(request).await;
    state.recorder.push(recorded);
    match &state.hostility {
        Hostility::Redirect(to) => {
            let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
            if let Ok(location) = HeaderValue::from_str(to) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
        Hostility::Realm(realm) => {
            let mut response = (
                StatusCode::UNAUTHORIZED,
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            )
                .into_response();
            let challenge = format!(
                r#"Bearer realm="{realm}",service="hostile",scope="repository:team/app:pull""#
            );
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
            response
        }
    }
}
