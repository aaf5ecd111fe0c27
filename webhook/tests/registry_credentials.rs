//! Credential discovery: docker config.json `auths`, a credential helper found on PATH, and
//! pull secrets read from a fake Kubernetes API. One test in its own binary, because it sets
//! process-wide environment variables (HOME, PATH, KUBECONFIG, …).

mod registry_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use axum::extract::Path as UrlPath;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use landed::config::Config;
use landed::image::Reference;
use landed::registry::{AuthMode, RegistryConfig};
use landed::resolve::{LookupContext, Resolve, Resolver};
use landed::verdict::{Verdict, VerdictClass};
use registry_support::{Auth, Fake, LogBuffer};
use serde_json::{json, Value};

async fn basic_fake(user: &str, pass: &str, repo: &str) -> Arc<Fake> {
    let fake = Fake::start().await;
    *fake.auth.lock().expect("lock") = Auth::Basic {
        user: user.into(),
        pass: pass.into(),
    };
    fake.push_image(repo, Some("v1"), repo);
    fake
}

fn entry(host: &str, fake: &Fake) -> RegistryConfig {
    RegistryConfig {
        host: host.into(),
        endpoint: Some(fake.url()),
        insecure_http: true,
        auth: Some(AuthMode::DockerConfig),
        ..RegistryConfig::default()
    }
}

async fn resolve(resolver: &Resolver, image: &str, ctx: &LookupContext) -> Verdict {
    let reference = Reference::parse(image).expect("reference");
    resolver.resolve(&reference, ctx).await
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A fake API server with one service account (`team/builder` → `regcred`) and its secret.
async fn fake_kube(secret_config: Value) -> String {
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": "regcred", "namespace": "team"},
        "data": {".dockerconfigjson": b64(&secret_config.to_string())},
    });
    let app = Router::new()
        .route(
            "/api/v1/namespaces/{ns}/serviceaccounts/{name}",
            get(
                |UrlPath((ns, name)): UrlPath<(String, String)>| async move {
                    if ns == "team" && name == "builder" {
                        Ok(Json(json!({
                            "apiVersion": "v1", "kind": "ServiceAccount",
                            "metadata": {"name": "builder", "namespace": "team"},
                            "imagePullSecrets": [{"name": "regcred"}],
                        })))
                    } else {
                        Err(not_found(&name))
                    }
                },
            ),
        )
        .route(
            "/api/v1/namespaces/{ns}/secrets/{name}",
            get(move |UrlPath((ns, name)): UrlPath<(String, String)>| {
                let secret = secret.clone();
                async move {
                    if ns == "team" && name == "regcred" {
                        Ok(Json(secret))
                    } else {
                        Err(not_found(&name))
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

fn not_found(name: &str) -> (StatusCode, Json<Value>) {
    (
        StatusCode::NOT_FOUND,
        Json(
            json!({"apiVersion": "v1", "kind": "Status", "status": "Failure",
            "reason": "NotFound", "code": 404, "message": format!("{name} not found")}),
        ),
    )
}

fn write_kubeconfig(path: &Path, server: &str) {
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {server}\n\
         users:\n- name: u\n  user: {{}}\ncontexts:\n- name: c\n  context:\n    cluster: fake\n    user: u\n\
         current-context: c\n"
    );
    std::fs::write(path, text).expect("kubeconfig");
}

#[tokio::test]
async fn credentials_from_docker_config_helpers_and_pull_secrets() {
    let logs = LogBuffer::install();
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin");
    let helper = bin.join("docker-credential-fake");
    std::fs::write(
        &helper,
        "#!/bin/sh\nread server\nif [ \"$server\" = \"helper.test\" ]; then\n  \
         echo '{\"ServerURL\":\"helper.test\",\"Username\":\"helperuser\",\"Secret\":\"helper-pass-123\"}'\n\
         else\n  echo 'credentials not found in native keychain'\n  exit 1\nfi\n",
    )
    .expect("helper");
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let home = dir.path().join("home");
    std::fs::create_dir(&home).expect("home");
    std::env::set_var("HOME", &home);
    std::env::set_var("PATH", &bin);
    std::env::remove_var("DOCKER_CONFIG");
    std::env::remove_var("GOOGLE_APPLICATION_CREDENTIALS");
    let kubeconfig = dir.path().join("kubeconfig");
    std::env::set_var("KUBECONFIG", &kubeconfig);

    let inline = basic_fake("alice", "inline-pass-456", "inline").await;
    let helped = basic_fake("helperuser", "helper-pass-123", "helped").await;
    let secret = basic_fake("robot", "secret-pass-789", "secret").await;
    let docker_config = dir.path().join("config.json");
    std::fs::write(
        &docker_config,
        json!({
            "auths": {"basic.test": {"auth": b64("alice:inline-pass-456")},
                      "wrong.test": {"username": "alice", "password": "not-the-password"}},
            "credHelpers": {"helper.test": "fake"},
        })
        .to_string(),
    )
    .expect("config.json");
    write_kubeconfig(
        &kubeconfig,
        &fake_kube(json!({"auths": {"secret.test": {"auth": b64("robot:secret-pass-789")}}})).await,
    );

    let config = Config {
        registries: vec![
            entry("basic.test", &inline),
            entry("wrong.test", &inline),
            entry("helper.test", &helped),
            entry("secret.test", &secret),
        ],
        docker_config: Some(docker_config),
        ..Config::default()
    };
    let resolver = Resolver::new(&config).expect("resolver");
    let none = LookupContext::default();

    let v = resolve(&resolver, "basic.test/inline:v1", &none).await;
    assert_eq!(v.class, VerdictClass::Landed, "inline auths: {v:?}");
    let wrong = resolve(&resolver, "wrong.test/inline:v1", &none).await;
    assert_eq!(
        wrong.class,
        VerdictClass::Unauthorized,
        "wrong password: {wrong:?}"
    );
    let v = resolve(&resolver, "helper.test/helped:v1", &none).await;
    assert_eq!(v.class, VerdictClass::Landed, "credential helper: {v:?}");

    // Without a namespace no pull secret is looked at.
    let v = resolve(&resolver, "secret.test/secret:v1", &none).await;
    assert_eq!(v.class, VerdictClass::Unauthorized, "{v:?}");
    // The service account's imagePullSecrets count.
    let team = LookupContext {
        namespace: Some("team".into()),
        pull_secrets: vec!["missing-secret".into()],
        service_account: Some("builder".into()),
    };
    let v = resolve(&resolver, "secret.test/secret:v1", &team).await;
    assert_eq!(v.class, VerdictClass::Landed, "pull secret: {v:?}");

    let text = format!("{}{wrong:?}{v:?}", logs.text());
    for (user, pass) in [
        ("alice", "inline-pass-456"),
        ("helperuser", "helper-pass-123"),
        ("robot", "secret-pass-789"),
        ("alice", "not-the-password"),
    ] {
        assert!(!text.contains(pass), "{pass} was logged");
        assert!(
            !text.contains(&b64(&format!("{user}:{pass}"))),
            "{pass} was logged encoded"
        );
    }
}
