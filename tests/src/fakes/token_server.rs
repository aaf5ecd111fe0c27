//! A Docker registry token server of our own (the `auth.token` protocol of Distribution).
//!
//! `GET /token?service=S&scope=repository:NAME:ACTIONS` answers `{"token", "access_token",
//! "expires_in"}` with an RS256 JWT whose header carries the signing certificate in `x5c`, and
//! whose claims are `iss`, `sub`, `aud` = service, `exp`/`nbf`/`iat`, `jti` and `access`.
//! The registry trusts the certificate through its `rootcertbundle`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rcgen::{CertificateParams, DnType, KeyPair};
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde_json::{json, Value};

use super::{form_values, record, HttpFake, Recorded, Recorder};
use crate::pki::{rsa_pkcs8_pem, CertifiedKey};
use crate::registry::RegistryAuth;

/// Signs registry tokens: an RSA key and its self-signed certificate.
pub struct TokenIssuer {
    key: RsaKeyPair,
    cert_der: Vec<u8>,
    cert_pem: String,
    issuer: String,
    service: String,
}

impl TokenIssuer {
    /// A fresh issuer named `issuer` for the registry service `service`.
    pub fn new(issuer: &str, service: &str) -> Result<Self> {
        let pem = rsa_pkcs8_pem()?;
        let cert_key = KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256)
            .context("loading the RSA key into rcgen")?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "landed-e2e token issuer");
        let cert = params
            .self_signed(&cert_key)
            .context("self-signing the token certificate")?;
        let key = RsaKeyPair::from_pkcs8(&cert_key.serialize_der())
            .map_err(|e| anyhow!("ring refused the RSA key: {e}"))?;
        Ok(Self {
            key,
            cert_der: cert.der().to_vec(),
            cert_pem: cert.pem(),
            issuer: issuer.to_owned(),
            service: service.to_owned(),
        })
    }

    /// The certificate the registry must trust (`rootcertbundle`), PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The `iss` claim.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `aud` claim: the registry's service name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// A signed token for `subject` granting `access` (`[(repository, [actions])]`) for
    /// `lifetime_secs`.
    pub fn mint(
        &self,
        subject: &str,
        access: &[(String, Vec<String>)],
        lifetime_secs: u64,
    ) -> Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let header = json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5c": [STANDARD.encode(&self.cert_der)],
        });
        let access: Vec<Value> = access
            .iter()
            .map(|(name, actions)| json!({"type": "repository", "name": name, "actions": actions}))
            .collect();
        let claims = json!({
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + lifetime_secs,
            "nbf": now.saturating_sub(30),
            "iat": now,
            "jti": crate::random_hex(12),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims)?)
        );
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|e| anyhow!("signing a token: {e}"))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

/// Parses `repository:NAME:a,b` scopes into `(NAME, [a, b])`; other scope types are dropped.
pub fn parse_scopes(scopes: &[String]) -> Vec<(String, Vec<String>)> {
    scopes
        .iter()
        .flat_map(|s| s.split(' '))
        .filter_map(|scope| {
            let rest = scope.strip_prefix("repository:")?;
            let (name, actions) = rest.rsplit_once(':')?;
            Some((
                name.to_owned(),
                actions.split(',').map(str::to_owned).collect(),
            ))
        })
        .collect()
}

#[derive(Clone)]
struct TokenState {
    issuer: Arc<TokenIssuer>,
    credentials: Option<(String, String)>,
    lifetime_secs: u64,
    /// Grant only `pull`, whatever is asked (a read-only account).
    read_only: bool,
    recorder: Recorder,
}

/// A running token server.
pub struct TokenServer {
    http: HttpFake,
    issuer: Arc<TokenIssuer>,
    credentials: Option<(String, String)>,
    recorder: Recorder,
}

impl TokenServer {
    /// Starts a token server on plain HTTP (for plain-HTTP registries: landed sends
    /// credentials to an http realm only on a listed `insecureHttp` registry's own host).
    /// With `credentials`, requests must carry them as Basic auth (else 401); without, anyone
    /// gets a token. Tokens live `lifetime_secs`.
    pub fn start(credentials: Option<(&str, &str)>, lifetime_secs: u64) -> Result<Self> {
        Self::serve(credentials, lifetime_secs, None, false)
    }

    /// The same for a read-only account: its tokens grant `pull` only, whatever the scope
    /// asks (as a token server does for a user without write access).
    pub fn start_read_only(credentials: Option<(&str, &str)>, lifetime_secs: u64) -> Result<Self> {
        Self::serve(credentials, lifetime_secs, None, true)
    }

    /// The same on HTTPS with `cert`, as a TLS registry's token server must be.
    pub fn start_tls(
        credentials: Option<(&str, &str)>,
        lifetime_secs: u64,
        cert: &CertifiedKey,
    ) -> Result<Self> {
        Self::serve(credentials, lifetime_secs, Some(cert), false)
    }

    fn serve(
        credentials: Option<(&str, &str)>,
        lifetime_secs: u64,
        tls: Option<&CertifiedKey>,
        read_only: bool,
    ) -> Result<Self> {
        let issuer = Arc::new(TokenIssuer::new(
            "landed-e2e-token-issuer",
            "landed-e2e-registry",
        )?);
        let credentials = credentials.map(|(u, p)| (u.to_owned(), p.to_owned()));
        let recorder = Recorder::default();
        let state = TokenState {
            issuer: issuer.clone(),
            credentials: credentials.clone(),
            lifetime_secs,
            read_only,
            recorder: recorder.clone(),
        };
        let router = |_| Router::new().fallback(handle).with_state(state);
        let http = match tls {
            Some(cert) => HttpFake::start_tls(cert, router)?,
            None => HttpFake::start(router)?,
        };
        Ok(Self {
            http,
            issuer,
            credentials,
            recorder,
        })
    }

    /// The realm URL for the registry's challenge.
    pub fn realm(&self) -> String {
        format!("{}/token", self.http.url())
    }

    /// The signer (the registry trusts its certificate).
    pub fn issuer(&self) -> Arc<TokenIssuer> {
        self.issuer.clone()
    }

    /// Registry options that send clients to this token server.
    pub fn registry_auth(&self) -> RegistryAuth {
        RegistryAuth::Token {
            issuer: self.issuer.clone(),
            realm: self.realm(),
            credentials: self.credentials.clone(),
        }
    }

    /// Every token request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.recorder.all()
    }

    /// How many token requests so far.
    pub fn request_count(&self) -> usize {
        self.recorder.count()
    }
}

async fn handle(State(state): State<TokenState>, request: Request) -> Response {
    let recorded = record(request).await;
    state.recorder.push(recorded.clone());
    if recorded.path != "/token" {
        return StatusCode::NOT_FOUND.into_response();
    }
    let subject = match (&state.credentials, basic_credentials(&recorded)) {
        (None, Some((user, _))) => user,
        (None, None) => "anonymous".to_owned(),
        (Some(expected), Some(given)) if *expected == given => given.0,
        (Some(_), _) => {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]})),
            )
                .into_response()
        }
    };
    let mut access = parse_scopes(&form_values(&recorded.query, "scope"));
    if state.read_only {
        for (_, actions) in &mut access {
            actions.retain(|a| a == "pull");
        }
    }
    match state.issuer.mint(&subject, &access, state.lifetime_secs) {
        Ok(token) => Json(json!({
            "token": token,
            "access_token": token,
            "expires_in": state.lifetime_secs,
        }))
        .into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

/// The user and password of a Basic `Authorization` header.
fn basic_credentials(recorded: &Recorded) -> Option<(String, String)> {
    let encoded = recorded.authorization.as_deref()?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_repository_scopes() {
        let scopes = vec![
            "repository:team/app:pull,push".to_owned(),
            "registry:catalog:*".to_owned(),
        ];
        assert_eq!(
            parse_scopes(&scopes),
            vec![(
                "team/app".to_owned(),
                vec!["pull".to_owned(), "push".to_owned()]
            )]
        );
    }
}
