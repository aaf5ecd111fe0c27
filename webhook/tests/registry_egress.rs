//! The egress rule inside the registry client, against small registries on loopback that
//! redirect, share a token realm or answer for another host: redirect chains are cut after
//! three hops, credentials never follow a redirect to another host, and a bearer token
//! fetched for one registry is never sent to another.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use landed::config::Config;
use landed::image::Reference;
use landed::registry::{AuthMode, RegistryConfig};
use landed::resolve::{LookupContext, Resolve, Resolver};
use landed::verdict::{Verdict, VerdictClass};

const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},"layers":[]}"#;

/// One request as a loopback registry saw it: its path and its Authorization header.
type SeenRequest = (String, Option<String>);

/// What one loopback registry saw.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<SeenRequest>>>);

impl Seen {
    fn all(&self) -> Vec<SeenRequest> {
        self.0.lock().expect("lock").clone()
    }

    /// Records `request`; its Authorization header.
    fn record(&self, request: &Request) -> Option<String> {
        let auth = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let path = request.uri().path().to_owned();
        self.0.lock().expect("lock").push((path, auth.clone()));
        auth
    }
}

/// Serves `app` on `127.0.0.1:0`; its port.
async fn spawn(app: Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

/// How a loopback registry answers: path → (status, headers); anything else is the manifest.
#[derive(Clone, Default)]
struct Script {
    routes: HashMap<String, (StatusCode, Vec<(header::HeaderName, String)>)>,
    seen: Seen,
}

async fn serve(State(script): State<Script>, request: Request) -> Response {
    script.seen.record(&request);
    let path = request.uri().path().to_owned();
    if let Some((status, headers)) = script.routes.get(&path) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(name.clone(), value.parse().expect("header"));
        }
        return (*status, map, "").into_response();
    }
    let digest = format!(
        "sha256:{:x}",
        <sha2::Sha256 as sha2::Digest>::digest(MANIFEST)
    );
    (
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.oci.image.manifest.v1+json".to_owned(),
            ),
            (
                header::HeaderName::from_static("docker-content-digest"),
                digest,
            ),
        ],
        MANIFEST,
    )
        .into_response()
}

/// Starts a registry answering by `script`; its port.
async fn start(script: Script) -> u16 {
    spawn(Router::new().fallback(serve).with_state(script)).await
}

fn listed(host: &str, port: u16) -> RegistryConfig {
    RegistryConfig {
        host: host.into(),
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        insecure_http: true,
        auth: Some(AuthMode::DockerConfig),
        ..RegistryConfig::default()
    }
}

fn redirect(to: String) -> (StatusCode, Vec<(header::HeaderName, String)>) {
    (StatusCode::TEMPORARY_REDIRECT, vec![(header::LOCATION, to)])
}

async fn lookup(config: &Config, image: &str) -> Verdict {
    let resolver = Resolver::new(config).expect("resolver");
    let reference = Reference::parse(image).expect("reference");
    resolver
        .resolve(&reference, &LookupContext::default())
        .await
}

#[tokio::test]
async fn redirect_chain_of_more_than_three_hops_is_cut() {
    let seen = Seen::default();
    let mut script = Script {
        seen: seen.clone(),
        ..Script::default()
    };
    let first = "/v2/team/app/manifests/1".to_owned();
    script.routes.insert(first, redirect("/hop1".into()));
    for i in 1..=3 {
        script
            .routes
            .insert(format!("/hop{i}"), redirect(format!("/hop{}", i + 1)));
    }
    let port = start(script).await;
    let config = Config {
        registries: vec![listed("chain.test", port)],
        ..Config::default()
    };
    let verdict = lookup(&config, "chain.test/team/app:1").await;
    assert_eq!(verdict.class, VerdictClass::Unavailable, "{verdict:?}");
    assert!(
        verdict.detail.contains("redirected more than 3 times"),
        "{verdict:?}"
    );
    let paths: Vec<String> = seen.all().into_iter().map(|(p, _)| p).collect();
    assert!(!paths.contains(&"/hop4".to_owned()), "{paths:?}");
    assert!(
        paths.contains(&"/hop3".to_owned()),
        "three hops are followed: {paths:?}"
    );
}

#[tokio::test]
async fn credentials_do_not_follow_a_redirect_to_another_host() {
    let other_seen = Seen::default();
    let other = start(Script {
        seen: other_seen.clone(),
        ..Script::default()
    })
    .await;
    // Asks for Basic credentials, then sends the authenticated request to the other port.
    let seen = Seen::default();
    let app = {
        let seen = seen.clone();
        Router::new().fallback(move |request: Request| {
            let seen = seen.clone();
            async move {
                let path = request.uri().path().to_owned();
                match seen.record(&request) {
                    None => (
                        StatusCode::UNAUTHORIZED,
                        [(header::WWW_AUTHENTICATE, r#"Basic realm="r""#.to_owned())],
                    )
                        .into_response(),
                    Some(_) => (
                        StatusCode::TEMPORARY_REDIRECT,
                        [(header::LOCATION, format!("http://127.0.0.1:{other}{path}"))],
                    )
                        .into_response(),
                }
            }
        })
    };
    let port = spawn(app).await;
    let dir = tempfile::tempdir().expect("tmp");
    let docker = dir.path().join("config.json");
    std::fs::write(
        &docker,
        r#"{"auths":{"basic.test":{"username":"u","password":"redirect-secret"}}}"#,
    )
    .expect("config.json");
    let config = Config {
        registries: vec![listed("basic.test", port), listed("other.test", other)],
        docker_config: Some(docker),
        ..Config::default()
    };
    let verdict = lookup(&config, "basic.test/team/app:1").await;
    assert_eq!(verdict.class, VerdictClass::Landed, "{verdict:?}");
    assert!(
        seen.all().iter().any(|(_, auth)| auth.is_some()),
        "the registry got its credentials: the redirect came after them"
    );
    let followed = other_seen.all();
    assert!(!followed.is_empty(), "the redirect was followed");
    for (path, auth) in followed {
        assert!(auth.is_none(), "{path} got credentials: {auth:?}");
    }
}

#[tokio::test]
async fn bearer_token_fetched_for_one_registry_is_never_sent_to_another() {
    // One token server for two registries, each demanding a Bearer token.
    let tokens = Seen::default();
    let issued = Arc::new(Mutex::new(0u32));
    let token_port = {
        let tokens = tokens.clone();
        spawn(Router::new().fallback(move |request: Request| {
            let (tokens, issued) = (tokens.clone(), issued.clone());
            async move {
                tokens.record(&request);
                let mut n = issued.lock().expect("lock");
                *n += 1;
                format!(r#"{{"token":"tok-{n}","expires_in":300}}"#)
            }
        }))
        .await
    };
    let challenge = format!(
        r#"Bearer realm="http://127.0.0.1:{token_port}/token",service="shared",scope="repository:team/app:pull""#
    );
    let registry = |seen: Seen| {
        let challenge = challenge.clone();
        spawn(Router::new().fallback(move |request: Request| {
            let (seen, challenge) = (seen.clone(), challenge.clone());
            async move {
                match seen.record(&request) {
                    Some(_) => serve(State(Script::default()), request).await,
                    None => (
                        StatusCode::UNAUTHORIZED,
                        [(header::WWW_AUTHENTICATE, challenge)],
                        "",
                    )
                        .into_response(),
                }
            }
        }))
    };
    let (seen_a, seen_b) = (Seen::default(), Seen::default());
    let a = registry(seen_a.clone()).await;
    let b = registry(seen_b.clone()).await;
    let config = Config {
        registries: vec![listed("a.test", a), listed("b.test", b)],
        ..Config::default()
    };
    let resolver = Resolver::new(&config).expect("resolver");
    let ctx = LookupContext::default();
    for image in ["a.test/team/app:1", "b.test/team/app:1"] {
        let reference = Reference::parse(image).expect("reference");
        let verdict = resolver.resolve(&reference, &ctx).await;
        assert_eq!(verdict.class, VerdictClass::Landed, "{image}: {verdict:?}");
    }
    let bearer =
        |seen: &Seen| -> Vec<String> { seen.all().into_iter().filter_map(|(_, a)| a).collect() };
    let (got_a, got_b) = (bearer(&seen_a), bearer(&seen_b));
    assert!(!got_a.is_empty() && !got_b.is_empty());
    for token in &got_b {
        assert!(
            !got_a.contains(token),
            "registry b was sent a's token {token}"
        );
    }
    assert_eq!(tokens.all().len(), 2, "one token per registry");
}
