//! The floors: servers that answer "allowed" with the request's uid over the same stack as
//! `landed serve` (axum on rustls with ring, TLS 1.2/1.3, ALPN h2 and http/1.1). `kube` is the
//! least a kube-rs validating webhook does: it decodes the review with `kube::core::admission`
//! types. `value` parses the body into a `serde_json::Value` and echoes the uid. `uid` is the
//! strictest floor: it checks the body is JSON and reads only `request.uid`, skipping the rest
//! unread (nothing allocated for it), the lower bound for TLS + HTTP + JSON.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_server::tls_rustls::RustlsConfig;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};
use kube::core::DynamicObject;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};

/// How a floor reads the review.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Decode {
    /// Into kube's `AdmissionReview<DynamicObject>`, answered with kube's response type.
    #[default]
    Kube,
    /// Into a `serde_json::Value`; the answer is the uid in a minimal allowed response.
    Value,
    /// Only `request.uid`, everything else checked to be JSON and skipped; answered like
    /// `value`.
    Uid,
}

impl Decode {
    /// Every floor, in the order the report lists them.
    pub const ALL: [Decode; 3] = [Decode::Kube, Decode::Value, Decode::Uid];

    /// How the report names the floor.
    pub fn floor_name(self) -> &'static str {
        match self {
            Decode::Kube => "floor-kube",
            Decode::Value => "floor-value",
            Decode::Uid => "floor-uid",
        }
    }

    /// As `--decode` spells it.
    pub fn arg(self) -> &'static str {
        match self {
            Decode::Kube => "kube",
            Decode::Value => "value",
            Decode::Uid => "uid",
        }
    }
}

/// `POST /validate` and `GET /healthz`.
pub fn router(decode: Decode) -> Router {
    let validate = match decode {
        Decode::Kube => post(validate_kube),
        Decode::Value => post(validate_value),
        Decode::Uid => post(validate_uid),
    };
    Router::new()
        .route("/validate", validate)
        .route("/healthz", get(|| async { "ok" }))
}

async fn validate_value(body: Bytes) -> Response {
    // serde_json itself: axum's `Json` extractor goes through serde_path_to_error, which
    // allocates a path segment per key (most of a floor's CPU on a 13 KB review).
    let review: Value = match serde_json::from_slice(&body) {
        Ok(review) => review,
        Err(err) => return (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
    };
    match review.pointer("/request/uid").and_then(Value::as_str) {
        Some(uid) => allowed(uid),
        None => (StatusCode::BAD_REQUEST, "no request.uid").into_response(),
    }
}

/// `{"request": {"uid": …}}` and nothing else of the review.
#[derive(serde::Deserialize)]
struct UidOnly<'a> {
    #[serde(borrow)]
    request: Option<RequestUid<'a>>,
}

#[derive(serde::Deserialize)]
struct RequestUid<'a> {
    #[serde(borrow)]
    uid: Option<std::borrow::Cow<'a, str>>,
}

async fn validate_uid(body: Bytes) -> Response {
    let review: UidOnly<'_> = match serde_json::from_slice(&body) {
        Ok(review) => review,
        Err(err) => return (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
    };
    match review.request.and_then(|r| r.uid) {
        Some(uid) => allowed(&uid),
        None => (StatusCode::BAD_REQUEST, "no request.uid").into_response(),
    }
}

/// The minimal allowed answer for `uid`.
fn allowed(uid: &str) -> Response {
    Json(json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": uid, "allowed": true},
    }))
    .into_response()
}

async fn validate_kube(Json(review): Json<AdmissionReview<DynamicObject>>) -> Response {
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
pub async fn serve(listen: SocketAddr, cert: &Path, key: &Path, decode: Decode) -> Result<()> {
    let tls = RustlsConfig::from_config(Arc::new(tls_config(cert, key)?));
    axum_server::bind_rustls(listen, tls)
        .serve(router(decode).into_make_service())
        .await
        .with_context(|| format!("serving on {listen}"))
}
