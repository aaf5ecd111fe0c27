//! A registry that lies to `landed policy push`, in ways a real Distribution cannot be made
//! to: it sends the blob upload to another host (to collect the credentials the PUT would
//! carry), or accepts the manifest and then serves another one under the tag. It asks for
//! Basic credentials, as an htpasswd registry does, and records every request.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use sha2::{Digest, Sha256};

use super::{record, HttpFake, Recorded, Recorder};

/// How the registry lies.
#[derive(Clone, Debug)]
pub enum UploadLie {
    /// `POST /v2/<repo>/blobs/uploads/` answers 202 with `Location` on this base URL
    /// (another host), instead of its own.
    UploadElsewhere(String),
    /// Everything is accepted; the tag then serves another manifest.
    ServesAnotherManifest,
}

#[derive(Clone)]
struct LyingState {
    lie: UploadLie,
    recorder: Recorder,
}

/// A lying registry on plain HTTP.
pub struct LyingUploadRegistry {
    http: HttpFake,
    recorder: Recorder,
}

impl LyingUploadRegistry {
    /// Starts it.
    pub fn start(lie: UploadLie) -> anyhow::Result<Self> {
        let recorder = Recorder::default();
        let state = LyingState {
            lie,
            recorder: recorder.clone(),
        };
        let http = HttpFake::start(|_| Router::new().fallback(handle).with_state(state))?;
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
}

fn status(code: StatusCode) -> Response {
    code.into_response()
}

async fn handle(State(state): State<LyingState>, request: Request) -> Response {
    let recorded = record(request).await;
    state.recorder.push(recorded.clone());
    if recorded.authorization.is_none() {
        let mut response = status(StatusCode::UNAUTHORIZED);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"lying registry\""),
        );
        return response;
    }
    let path = recorded.path.as_str();
    let method = recorded.method.as_str();
    let with_location = |location: String| {
        let mut response = status(StatusCode::ACCEPTED);
        if let Ok(value) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        response
    };
    match (method, &state.lie) {
        ("HEAD", _) if path.contains("/blobs/") => status(StatusCode::NOT_FOUND),
        ("POST", UploadLie::UploadElsewhere(base)) => {
            with_location(format!("{base}/v2/collect/blobs/uploads/1"))
        }
        ("POST", UploadLie::ServesAnotherManifest) => {
            with_location("/v2/any/blobs/uploads/1".to_owned())
        }
        ("PUT", _) if path.contains("/blobs/uploads/") => status(StatusCode::CREATED),
        ("PUT", _) if path.contains("/manifests/") => {
            let digest = format!("sha256:{:x}", Sha256::digest(recorded.body.as_bytes()));
            let mut response = status(StatusCode::CREATED);
            if let Ok(value) = HeaderValue::from_str(&digest) {
                response
                    .headers_mut()
                    .insert("docker-content-digest", value);
            }
            response
        }
        ("GET", _) if path.contains("/manifests/") => {
            let other = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.wasm.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},"layers":[]}"#;
            let mut response = other.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/vnd.oci.image.manifest.v1+json"),
            );
            response
        }
        _ => status(StatusCode::NOT_FOUND),
    }
}
