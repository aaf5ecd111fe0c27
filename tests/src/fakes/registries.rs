//! Registries that misbehave in ways a real one cannot be made to: rate limiting and stalling.
//! Both answer `GET /v2/` normally so clients get as far as the manifest request.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;

use super::{record, HttpFake, Recorded, Recorder, Shutdown};

/// The answer a Distribution registry gives to `GET /v2/`.
fn api_base() -> Response {
    let mut response = Json(json!({})).into_response();
    response.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    response
}

fn is_api_base(recorded: &Recorded) -> bool {
    recorded.path == "/v2/" || recorded.path == "/v2"
}

/// A registry whose every manifest or blob request answers 429 `TOOMANYREQUESTS` with a
/// `Retry-After`, like Docker Hub's pull limit.
pub struct RateLimitedRegistry {
    http: HttpFake,
    recorder: Recorder,
}

#[derive(Clone)]
struct RateLimitState {
    retry_after_secs: u64,
    recorder: Recorder,
}

impl RateLimitedRegistry {
    /// Starts it; every 429 carries `Retry-After: retry_after_secs`.
    pub fn start(retry_after_secs: u64) -> anyhow::Result<Self> {
        let recorder = Recorder::default();
        let state = RateLimitState {
            retry_after_secs,
            recorder: recorder.clone(),
        };
        let http = HttpFake::start(|_| Router::new().fallback(rate_limited).with_state(state))?;
        Ok(Self { http, recorder })
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.http.host()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.http.url()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.recorder.all()
    }

    /// Manifest requests so far.
    pub fn manifest_requests(&self) -> usize {
        self.recorder
            .count_where(|r| r.path.contains("/manifests/"))
    }
}

async fn rate_limited(State(state): State<RateLimitState>, request: Request) -> Response {
    let recorded = record(request).await;
    state.recorder.push(recorded.clone());
    if is_api_base(&recorded) {
        return api_base();
    }
    let body = json!({"errors": [{
        "code": "TOOMANYREQUESTS",
        "message": "You have reached your pull rate limit. You may increase the limit by \
                    authenticating and upgrading.",
    }]});
    let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&state.retry_after_secs.to_string()) {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

/// A registry that answers every request only after a delay (or never, if the delay is longer
/// than the test).
pub struct SlowRegistry {
    http: HttpFake,
    recorder: Recorder,
}

#[derive(Clone)]
struct SlowState {
    delay: Duration,
    recorder: Recorder,
    shutdown: Shutdown,
}

impl SlowRegistry {
    /// Starts it; each answer comes `delay` after the request. `GET /v2/` is slow too.
    pub fn start(delay: Duration) -> anyhow::Result<Self> {
        let recorder = Recorder::default();
        let recorder_for_state = recorder.clone();
        let http = HttpFake::start(move |shutdown| {
            let state = SlowState {
                delay,
                recorder: recorder_for_state,
                shutdown,
            };
            Router::new().fallback(slow).with_state(state)
        })?;
        Ok(Self { http, recorder })
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.http.host()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.http.url()
    }

    /// How many requests arrived so far.
    pub fn request_count(&self) -> usize {
        self.recorder.count()
    }
}

async fn slow(State(state): State<SlowState>, request: Request) -> Response {
    let recorded = record(request).await;
    state.recorder.push(recorded.clone());
    tokio::select! {
        () = tokio::time::sleep(state.delay) => {}
        () = state.shutdown.wait() => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
    if is_api_base(&recorded) {
        return api_base();
    }
    let body = json!({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]});
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}
