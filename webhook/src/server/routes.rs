//! HTTP routes: thin handlers that decode, call the pipeline and encode.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tracing::warn;

use super::body::ReviewBody;
use crate::admission::{self, Pipeline, Route};

/// Whether the server should receive traffic, beyond the policies' own state.
#[derive(Debug, Default)]
pub struct Readiness {
    tls_up: AtomicBool,
    draining: AtomicBool,
}

impl Readiness {
    /// Marks TLS as serving.
    pub fn set_tls_up(&self) {
        self.tls_up.store(true, Ordering::SeqCst);
    }

    /// Marks the server as draining (after SIGTERM): not ready any more.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The review pipeline.
    pub pipeline: Arc<Pipeline>,
    /// Server readiness flags.
    pub readiness: Arc<Readiness>,
}

/// The webhook's router: `/validate`, `/mutate`, `/healthz`, `/readyz`, `/metrics`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .route("/mutate", post(mutate))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn validate(State(state): State<AppState>, ReviewBody(body): ReviewBody) -> Response {
    review(&state, &body, Route::Validate).await
}

async fn mutate(State(state): State<AppState>, ReviewBody(body): ReviewBody) -> Response {
    review(&state, &body, Route::Mutate).await
}

async fn review(state: &AppState, body: &[u8], route: Route) -> Response {
    match admission::decode(body) {
        Ok(request) => {
            let _inflight = crate::metrics::global().inflight();
            let response = state
                .pipeline
                .review_sent(&request, Some(body), route)
                .await;
            Json(admission::Answer(response)).into_response()
        }
        Err(err) => {
            warn!(error = %err, "bad AdmissionReview");
            (StatusCode::BAD_REQUEST, err.to_string()).into_response()
        }
    }
}

/// The process's metrics in the text exposition format; the policies' load state is read at
/// scrape time, so the gauge is never older than the scrape.
async fn metrics(State(state): State<AppState>) -> Response {
    let metrics = crate::metrics::global();
    let status = state.pipeline.policies().status();
    metrics.set_policy_status(status.iter().map(|s| (s.name.as_str(), s.loaded)));
    let body = metrics.encode();
    let content_type = [(
        axum::http::header::CONTENT_TYPE,
        crate::metrics::CONTENT_TYPE,
    )];
    (content_type, body).into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready or not, and nothing else: whoever reaches the port may ask, so policy sources, paths
/// and load errors stay in the log and in `landed_policy_loaded`.
async fn readyz(State(state): State<AppState>) -> Response {
    let tls = state.readiness.tls_up.load(Ordering::SeqCst);
    let draining = state.readiness.draining.load(Ordering::SeqCst);
    let ready = tls && !draining && state.pipeline.policies().all_loaded();
    let body = json!({ "ready": ready });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}
