//! The floor: the least a kube-rs validating webhook can do. It decodes the AdmissionReview
//! with `kube::core::admission` types and answers "allowed" with the request's uid, over the
//! same stack as `landed serve` (axum on rustls with ring, TLS 1.2/1.3, ALPN h2 and http/1.1).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_server::tls_rustls::RustlsConfig;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};
use kube::core::DynamicObject;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// `POST /validate` and `GET /healthz`.
pub fn router() -> Router {
    Router::new()
        .route("/validate", post(validate))
        .route("/healthz", get(|| async { "ok" }))
}

async fn validate(Json(review): Json<AdmissionReview<DynamicObject>>) -> Response {
    let request: Result<AdmissionRequest<DynamicObject>, _> = review.try_into();
    match request {
        Ok(request) => Json(AdmissionResponse::from(&request).into_review()).into_response(),
        Err(err) => (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
    }
}

/// The same rustls settings as `landed serve`: ring, TLS 1.3 and 1.2, h2 then http/1.1.
pub fn tls_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing {}", cert.display()))?;
    let key =
        PrivateKeyDer::from_pem_file(key).with_context(|| format!("reading {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Serves the floor on `listen` until the process is killed.
pub async fn serve(listen: SocketAddr, cert: &Path, key: &Path) -> Result<()> {
    let tls = RustlsConfig::from_config(Arc::new(tls_config(cert, key)?));
    axum_server::bind_rustls(listen, tls)
        .serve(router().into_make_service())
        .await
        .with_context(|| format!("serving on {listen}"))
}
