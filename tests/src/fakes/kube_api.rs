//! A kube API server, faked: the real REST paths and JSON for the two reads `landed` makes
//! for pull secrets, plus a kubeconfig that points `kube::Client::try_default()` at it.
//!
//! - `GET /api/v1/namespaces/{ns}/secrets/{name}`
//! - `GET /api/v1/namespaces/{ns}/serviceaccounts/{name}` (every namespace has `default`,
//!   without pull secrets unless set, as in a real cluster)
//!
//! Anything else answers a 404 `Status` like the real API server. It can also hang its first
//! requests (accepted, never answered), like an overloaded or partitioned API server.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use super::{record, HttpFake, Recorded, Recorder, Shutdown, StallFirst};

type Objects = Arc<Mutex<BTreeMap<(String, String, String), Value>>>;

#[derive(Clone)]
struct KubeState {
    objects: Objects,
    recorder: Recorder,
    stalls: StallFirst,
    shutdown: Shutdown,
}

/// A running fake API server.
pub struct FakeKubeApi {
    http: HttpFake,
    objects: Objects,
    recorder: Recorder,
}

impl FakeKubeApi {
    /// Starts it with no objects.
    pub fn start() -> Result<Self> {
        Self::start_stalling_first(0)
    }

    /// Like [`Self::start`], but the first `stalls` requests are accepted and never answered
    /// (an API server that hangs, then recovers).
    pub fn start_stalling_first(stalls: usize) -> Result<Self> {
        let objects = Objects::default();
        let recorder = Recorder::default();
        let (objects_for_state, recorder_for_state) = (objects.clone(), recorder.clone());
        let http = HttpFake::start(move |shutdown| {
            let state = KubeState {
                objects: objects_for_state,
                recorder: recorder_for_state,
                stalls: StallFirst::new(stalls),
                shutdown,
            };
            Router::new().fallback(handle).with_state(state)
        })?;
        Ok(Self {
            http,
            objects,
            recorder,
        })
    }

    fn insert(&self, resource: &str, namespace: &str, name: &str, object: Value) {
        let mut objects = self
            .objects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        objects.insert(
            (resource.to_owned(), namespace.to_owned(), name.to_owned()),
            object,
        );
    }

    /// Adds a Secret of type `kubernetes.io/dockerconfigjson` holding `docker_config`.
    pub fn add_pull_secret(&self, namespace: &str, name: &str, docker_config: &Value) {
        let encoded = STANDARD.encode(docker_config.to_string());
        let secret = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": object_meta(namespace, name),
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": encoded},
        });
        self.insert("secrets", namespace, name, secret);
    }

    /// Adds (or replaces) a ServiceAccount whose `imagePullSecrets` are `pull_secrets`.
    pub fn add_service_account(&self, namespace: &str, name: &str, pull_secrets: &[&str]) {
        let refs: Vec<Value> = pull_secrets.iter().map(|s| json!({"name": s})).collect();
        let account = json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": object_meta(namespace, name),
            "imagePullSecrets": refs,
        });
        self.insert("serviceaccounts", namespace, name, account);
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.http.url()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.recorder.all()
    }

    /// Writes a kubeconfig pointing at this server over plain HTTP, with `namespace` as the
    /// context's default, to `dir/kubeconfig`.
    pub fn write_kubeconfig(&self, dir: &Path, namespace: &str) -> Result<PathBuf> {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\n\
             kind: Config\n\
             clusters:\n\
             - name: landed-e2e\n  cluster:\n    server: {server:?}\n\
             users:\n\
             - name: landed-e2e\n  user:\n    token: landed-e2e-kube-token\n\
             contexts:\n\
             - name: landed-e2e\n  context:\n    cluster: landed-e2e\n    user: landed-e2e\n    \
             namespace: {namespace:?}\n\
             current-context: landed-e2e\n",
            server = self.url(),
        );
        fs::write(&path, text)?;
        Ok(path)
    }
}

fn object_meta(namespace: &str, name: &str) -> Value {
    json!({
        "name": name,
        "namespace": namespace,
        "uid": format!("{}-{}", crate::random_hex(4), crate::random_hex(6)),
        "resourceVersion": "1",
        "creationTimestamp": "2026-01-01T00:00:00Z",
    })
}

/// The `Status` the API server answers for a missing object.
fn not_found(resource: &str, name: &str) -> Response {
    let status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": format!("{resource} \"{name}\" not found"),
        "reason": "NotFound",
        "details": {"name": name, "kind": resource},
        "code": 404,
    });
    (StatusCode::NOT_FOUND, Json(status)).into_response()
}

async fn handle(State(state): State<KubeState>, request: Request) -> Response {
    let recorded = record(request).await;
    state.recorder.push(recorded.clone());
    if state.stalls.take() {
        state.shutdown.wait().await;
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let segments: Vec<&str> = recorded.path.trim_matches('/').split('/').collect();
    let ["api", "v1", "namespaces", namespace, resource, name] = segments.as_slice() else {
        return not_found("resource", &recorded.path);
    };
    if recorded.method != "GET" {
        return (StatusCode::METHOD_NOT_ALLOWED, "read-only fake").into_response();
    }
    let key = (
        (*resource).to_owned(),
        (*namespace).to_owned(),
        (*name).to_owned(),
    );
    let found = state
        .objects
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
        .cloned();
    match found {
        Some(object) => Json(object).into_response(),
        None if *resource == "serviceaccounts" && *name == "default" => Json(json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": object_meta(namespace, name),
        }))
        .into_response(),
        None => not_found(resource, name),
    }
}
