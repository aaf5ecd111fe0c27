//! An endpoint that answers 200 with something that is not what was asked for: the captive
//! portal, proxy login page or misrouted load balancer a token request can end up at.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::{record, HttpFake, Recorded, Recorder};

/// The page every request gets.
pub const GARBAGE_PAGE: &str = "<!DOCTYPE html><html><head><title>Sign in to continue</title>\
     </head><body><form action=\"/login\"><input name=\"user\"></form></body></html>";

/// A running garbage endpoint.
pub struct GarbageEndpoint {
    http: HttpFake,
    recorder: Recorder,
}

impl GarbageEndpoint {
    /// Starts it.
    pub fn start() -> anyhow::Result<Self> {
        let recorder = Recorder::default();
        let state = recorder.clone();
        let http = HttpFake::start(|_| Router::new().fallback(garbage).with_state(state))?;
        Ok(Self { http, recorder })
    }

    /// `http://127.0.0.1:PORT/token`: where to point a token realm or a `token_uri`.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.http.url())
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.recorder.all()
    }

    /// How many requests so far.
    pub fn request_count(&self) -> usize {
        self.recorder.count()
    }
}

async fn garbage(State(recorder): State<Recorder>, request: Request) -> Response {
    recorder.push(record(request).await);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        GARBAGE_PAGE,
    )
        .into_response()
}
