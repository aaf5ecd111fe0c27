//! An in-process fake registry speaking the Distribution wire protocol (manifests, token
//! server, and a Google-style OAuth token endpoint), counting what it is asked, for what a
//! real registry cannot do on demand: 429s, slow answers, request counting.

#![allow(dead_code, missing_docs)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::{any, get, post};
use axum::Router;
use base64::Engine as _;
use landed::config::Config;
use landed::registry::{AuthMode, RegistryConfig};
use landed::resolve::ResolveConfig;
use sha2::{Digest as _, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const ALL_TYPES: [&str; 4] = [
    OCI_MANIFEST,
    OCI_INDEX,
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// How the fake wants callers to authenticate.
#[derive(Clone, Debug, Default)]
pub enum Auth {
    #[default]
    Anonymous,
    /// Bearer via /token; the token server wants Basic `user:pass` when given.
    Bearer {
        expires_in: u64,
        basic: Option<(String, String)>,
    },
    /// Basic `user:pass` on every manifest request.
    Basic { user: String, pass: String },
}

/// (repository, tag or digest) → (media type, body).
type Store = HashMap<(String, String), (String, Vec<u8>)>;

#[derive(Default)]
pub struct Fake {
    pub addr: Mutex<Option<SocketAddr>>,
    manifests: Mutex<Store>,
    pub auth: Mutex<Auth>,
    pub rate_limit: Mutex<Option<u64>>,
    pub fail_status: Mutex<Option<u16>>,
    pub delay: Mutex<Duration>,
    pub omit_digest_header: Mutex<bool>,
    pub manifest_requests: AtomicUsize,
    pub token_requests: AtomicUsize,
    pub oauth_requests: AtomicUsize,
    /// Seconds the fake OAuth endpoint's access tokens live.
    pub oauth_expires_in: Mutex<u64>,
    issued: Mutex<HashMap<String, Instant>>,
    /// The passwords the token server accepts as they come from the fake OAuth endpoint.
    pub latest_oauth_token: Mutex<Option<String>>,
    pub seen_basic_users: Mutex<Vec<String>>,
}

/// landed's defaults (built-in policies, default caches) with one registry entry: `host` served
/// by `fake` over plain HTTP, anonymously (`auth: none`), and a 3 s resolve deadline. Callers
/// change what their test is about on the returned value.
pub fn config(fake: &Fake, host: &str) -> Config {
    Config {
        registries: vec![RegistryConfig {
            host: host.into(),
            endpoint: Some(fake.url()),
            insecure_http: true,
            auth: Some(AuthMode::None),
            ..RegistryConfig::default()
        }],
        resolve: ResolveConfig {
            deadline: Duration::from_secs(3),
            ..ResolveConfig::default()
        },
        ..Config::default()
    }
}

pub fn digest_of(body: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(body))
}

impl Fake {
    pub async fn start() -> Arc<Fake> {
        let fake = Arc::new(Fake {
            oauth_expires_in: Mutex::new(3600),
            ..Fake::default()
        });
        let app = Router::new()
            .route("/v2/{*rest}", any(manifest))
            .route("/token", get(token))
            .route("/oauth/token", post(oauth))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        *fake.addr.lock().expect("lock") = Some(listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    pub fn url(&self) -> String {
        format!(
            "http://{}",
            self.addr.lock().expect("lock").expect("started")
        )
    }

    /// Stores a manifest under its digest and, if given, a tag; returns the digest.
    pub fn push(&self, repo: &str, tag: Option<&str>, media_type: &str, body: &[u8]) -> String {
        let digest = digest_of(body);
        let mut m = self.manifests.lock().expect("lock");
        m.insert(
            (repo.into(), digest.clone()),
            (media_type.into(), body.to_vec()),
        );
        if let Some(tag) = tag {
            m.insert(
                (repo.into(), tag.into()),
                (media_type.into(), body.to_vec()),
            );
        }
        digest
    }

    /// Pushes a small distinct image manifest.
    pub fn push_image(&self, repo: &str, tag: Option<&str>, seed: &str) -> String {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{}","size":2}},"layers":[],"annotations":{{"seed":"{seed}"}}}}"#,
            "0".repeat(64)
        );
        self.push(repo, tag, OCI_MANIFEST, body.as_bytes())
    }

    pub fn delete(&self, repo: &str, reference: &str) {
        self.manifests
            .lock()
            .expect("lock")
            .remove(&(repo.to_owned(), reference.to_owned()));
    }

    pub fn manifests(&self) -> usize {
        self.manifest_requests.load(Ordering::SeqCst)
    }

    pub fn tokens(&self) -> usize {
        self.token_requests.load(Ordering::SeqCst)
    }

    pub fn oauths(&self) -> usize {
        self.oauth_requests.load(Ordering::SeqCst)
    }
}

fn error_body(code: &str, message: &str) -> String {
    format!(r#"{{"errors":[{{"code":"{code}","message":"{message}"}}]}}"#)
}

fn respond(status: StatusCode, headers: &[(&str, String)], body: String, head: bool) -> Response {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, v);
    }
    let body = if head {
        Body::empty()
    } else {
        Body::from(body)
    };
    b.body(body).expect("response")
}

fn basic_of(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

async fn manifest(
    State(fake): State<Arc<Fake>>,
    method: Method,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> Response {
    let head = method == Method::HEAD;
    let Some((repo, reference)) = rest.rsplit_once("/manifests/") else {
        return respond(StatusCode::NOT_FOUND, &[], String::new(), head);
    };
    fake.manifest_requests.fetch_add(1, Ordering::SeqCst);
    let delay = *fake.delay.lock().expect("lock");
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let auth = fake.auth.lock().expect("lock").clone();
    match auth {
        Auth::Anonymous => {}
        Auth::Bearer { .. } => {
            let ok = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .and_then(|t| fake.issued.lock().expect("lock").get(t).copied())
                .is_some_and(|exp| exp > Instant::now());
            if !ok {
                let challenge = format!(
                    r#"Bearer realm="{}/token",service="fake-registry",scope="repository:{repo}:pull""#,
                    fake.url()
                );
                return respond(
                    StatusCode::UNAUTHORIZED,
                    &[("www-authenticate", challenge)],
                    error_body("UNAUTHORIZED", "authentication required"),
                    head,
                );
            }
        }
        Auth::Basic { user, pass } => {
            if basic_of(&headers) != Some((user, pass)) {
                return respond(
                    StatusCode::UNAUTHORIZED,
                    &[("www-authenticate", r#"Basic realm="fake""#.to_owned())],
                    error_body("UNAUTHORIZED", "authentication required"),
                    head,
                );
            }
        }
    }
    if let Some(status) = *fake.fail_status.lock().expect("lock") {
        let status = StatusCode::from_u16(status).expect("status");
        let body = match status {
            StatusCode::FORBIDDEN => error_body("DENIED", "denied (or it may not exist)"),
            _ => error_body("UNKNOWN", "storage failure"),
        };
        return respond(status, &[], body, head);
    }
    if let Some(secs) = *fake.rate_limit.lock().expect("lock") {
        return respond(
            StatusCode::TOO_MANY_REQUESTS,
            &[("retry-after", secs.to_string())],
            error_body("TOOMANYREQUESTS", "slow down"),
            head,
        );
    }
    let accept = headers
        .get_all("accept")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let found = fake
        .manifests
        .lock()
        .expect("lock")
        .get(&(repo.to_owned(), reference.to_owned()))
        .cloned();
    match found {
        // Like Distribution: a manifest whose type was not accepted is reported missing.
        Some((media, body)) if ALL_TYPES.iter().all(|t| accept.contains(t)) => {
            let mut hs = vec![
                ("content-type", media),
                ("content-length", body.len().to_string()),
            ];
            if !*fake.omit_digest_header.lock().expect("lock") {
                hs.push(("docker-content-digest", digest_of(&body)));
            }
            respond(
                StatusCode::OK,
                &hs,
                String::from_utf8(body).expect("utf8"),
                head,
            )
        }
        _ => respond(
            StatusCode::NOT_FOUND,
            &[("content-type", "application/json".into())],
            error_body("MANIFEST_UNKNOWN", "manifest unknown"),
            head,
        ),
    }
}

async fn token(State(fake): State<Arc<Fake>>, headers: HeaderMap) -> Response {
    let n = fake.token_requests.fetch_add(1, Ordering::SeqCst) + 1;
    let auth = fake.auth.lock().expect("lock").clone();
    let Auth::Bearer { expires_in, basic } = auth else {
        return respond(StatusCode::NOT_FOUND, &[], String::new(), false);
    };
    let given = basic_of(&headers);
    if let Some((u, _)) = &given {
        fake.seen_basic_users.lock().expect("lock").push(u.clone());
    }
    let oauth = fake.latest_oauth_token.lock().expect("lock").clone();
    let allowed = match (&basic, &given) {
        (None, _) => true,
        (Some((u, p)), Some((gu, gp))) if p == "<oauth>" => {
            u == gu && oauth.as_deref() == Some(gp.as_str())
        }
        (Some(want), Some(got)) => want == got,
        (Some(_), None) => false,
    };
    if !allowed {
        return respond(
            StatusCode::UNAUTHORIZED,
            &[],
            error_body("UNAUTHORIZED", "bad credentials"),
            false,
        );
    }
    let token = format!("registry-token-{n}");
    fake.issued.lock().expect("lock").insert(
        token.clone(),
        Instant::now() + Duration::from_secs(expires_in),
    );
    respond(
        StatusCode::OK,
        &[("content-type", "application/json".into())],
        format!(r#"{{"token":"{token}","expires_in":{expires_in}}}"#),
        false,
    )
}

async fn oauth(State(fake): State<Arc<Fake>>, body: String) -> Response {
    let n = fake.oauth_requests.fetch_add(1, Ordering::SeqCst) + 1;
    if !body.contains("grant_type=urn") || !body.contains("assertion=") {
        return respond(StatusCode::BAD_REQUEST, &[], "{}".into(), false);
    }
    let token = format!("ya29.fake-access-token-{n}");
    *fake.latest_oauth_token.lock().expect("lock") = Some(token.clone());
    let expires_in = *fake.oauth_expires_in.lock().expect("lock");
    respond(
        StatusCode::OK,
        &[("content-type", "application/json".into())],
        format!(r#"{{"access_token":"{token}","expires_in":{expires_in},"token_type":"Bearer"}}"#),
        false,
    )
}

/// A log sink for asserting that no secret was ever logged.
#[derive(Clone, Default)]
pub struct LogBuffer(pub Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    /// Installs a debug-level subscriber writing here (once per test binary).
    pub fn install() -> LogBuffer {
        static LOGS: std::sync::OnceLock<LogBuffer> = std::sync::OnceLock::new();
        LOGS.get_or_init(|| {
            let buf = LogBuffer::default();
            let writer = buf.clone();
            let _ = tracing_subscriber::fmt()
                .with_env_filter("debug")
                .with_writer(move || writer.clone())
                .try_init();
            buf
        })
        .clone()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}
