//! Google's OAuth token endpoint, faked: what a service-account key's `token_uri` points at.
//!
//! It takes the JWT-bearer grant (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`,
//! `assertion=<JWT>`) and answers `{"access_token", "expires_in", "token_type": "Bearer"}`,
//! recording every grant's claims. The access token is fixed for the fake's lifetime, so a
//! registry's htpasswd entry for `oauth2accesstoken` can accept it.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Result;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use super::{form_values, record, HttpFake, Recorded, Recorder, Shutdown, StallFirst};
use crate::pki::rsa_pkcs8_pem;

/// The grant type of a service-account token request.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

#[derive(Clone)]
struct OAuthState {
    access_token: String,
    expires_in: u64,
    recorder: Recorder,
    /// How many more requests get no answer at all (held until the fake stops).
    stalls: StallFirst,
    shutdown: Shutdown,
}

/// A running fake OAuth endpoint with its service-account key.
pub struct FakeGoogleOAuth {
    http: HttpFake,
    recorder: Recorder,
    access_token: String,
    private_key_pem: String,
    client_email: String,
}

impl FakeGoogleOAuth {
    /// Starts it; every grant gets a fresh random, fixed-for-the-fake access token valid
    /// `expires_in` seconds.
    pub fn start(expires_in: u64) -> Result<Self> {
        Self::start_stalling_first(expires_in, 0)
    }

    /// Like [`Self::start`], but the first `stalls` requests are accepted and never answered
    /// (an endpoint that hangs, then recovers).
    pub fn start_stalling_first(expires_in: u64, stalls: usize) -> Result<Self> {
        let access_token = format!("ya29.landed-e2e-{}", crate::random_hex(24));
        let recorder = Recorder::default();
        let (token_for_state, recorder_for_state) = (access_token.clone(), recorder.clone());
        let http = HttpFake::start(move |shutdown| {
            let state = OAuthState {
                access_token: token_for_state,
                expires_in,
                recorder: recorder_for_state,
                stalls: StallFirst::new(stalls),
                shutdown,
            };
            Router::new().fallback(token).with_state(state)
        })?;
        Ok(Self {
            http,
            recorder,
            access_token,
            private_key_pem: rsa_pkcs8_pem()?,
            client_email: "landed-e2e@landed-e2e-project.iam.gserviceaccount.com".to_owned(),
        })
    }

    /// `http://127.0.0.1:PORT/token`.
    pub fn token_uri(&self) -> String {
        format!("{}/token", self.http.url())
    }

    /// The access token it hands out (the registry password for `oauth2accesstoken`).
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// The service-account private key (PEM), a secret that must never be printed.
    pub fn private_key_pem(&self) -> &str {
        &self.private_key_pem
    }

    /// A service-account key file as `gcloud iam service-accounts keys create` writes it,
    /// with `token_uri` pointing here.
    pub fn service_account_key(&self) -> Value {
        json!({
            "type": "service_account",
            "project_id": "landed-e2e-project",
            "private_key_id": crate::random_hex(20),
            "private_key": self.private_key_pem,
            "client_email": self.client_email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri(),
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/landed-e2e",
        })
    }

    /// Writes [`Self::service_account_key`] to `dir/key.json` (for
    /// `GOOGLE_APPLICATION_CREDENTIALS`).
    pub fn write_service_account_key(&self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join("service-account-key.json");
        fs::write(
            &path,
            serde_json::to_vec_pretty(&self.service_account_key())?,
        )?;
        Ok(path)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.recorder.all()
    }

    /// How many token requests so far.
    pub fn request_count(&self) -> usize {
        self.recorder.count()
    }

    /// The claims of every well-formed grant's assertion, in order.
    pub fn grant_claims(&self) -> Vec<Value> {
        self.recorder
            .all()
            .iter()
            .filter_map(|r| form_values(&r.body, "assertion").into_iter().next())
            .filter_map(|jwt| decode_jwt_claims(&jwt))
            .collect()
    }
}

/// The claims (middle part) of a JWT, without checking its signature. Padded base64url (as
/// gcp_auth writes it) is accepted too.
pub fn decode_jwt_claims(jwt: &str) -> Option<Value> {
    let payload = jwt.split('.').nth(1)?.trim_end_matches('=');
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

async fn token(State(state): State<OAuthState>, request: Request) -> Response {
    let recorded = record(request).await;
    state.recorder.push(recorded.clone());
    if state.stalls.take() {
        state.shutdown.wait().await;
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let grant = form_values(&recorded.body, "grant_type");
    let assertion = form_values(&recorded.body, "assertion");
    let well_formed = recorded.method == "POST"
        && recorded.path == "/token"
        && grant.iter().any(|g| g == JWT_BEARER_GRANT)
        && assertion
            .first()
            .is_some_and(|jwt| decode_jwt_claims(jwt).is_some());
    if !well_formed {
        let body = json!({"error": "invalid_grant", "error_description": "bad request"});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    Json(json!({
        "access_token": state.access_token,
        "expires_in": state.expires_in,
        "token_type": "Bearer",
    }))
    .into_response()
}
