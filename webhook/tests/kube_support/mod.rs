//! A fake kube API server for the audit tests: real REST paths and JSON for listing
//! workloads (cluster-wide and per namespace), reading single objects, and creating and
//! replacing objects (PolicyReports, Events), on 127.0.0.1:0. Records every request.
//! Depends only on axum, serde_json and tokio, so the end-to-end crate can include it too.

#![allow(dead_code, missing_docs)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};

/// (API prefix `api/v1` or `apis/GROUP/VERSION`, resource, namespace, name).
type Key = (String, String, String, String);

#[derive(Default)]
pub struct Cluster {
    objects: BTreeMap<Key, Value>,
    pub requests: Vec<(String, String)>,
    version: u64,
    /// Namespaces where every write is refused with 403 (as an exceeded quota is).
    refuse_writes: Vec<String>,
}

#[derive(Clone, Default)]
pub struct FakeKube {
    state: Arc<Mutex<Cluster>>,
    addr: Arc<Mutex<Option<SocketAddr>>>,
}

/// The API prefix and plural resource of an apiVersion/kind.
fn prefix_of(api_version: &str) -> String {
    if api_version.contains('/') {
        format!("apis/{api_version}")
    } else {
        format!("api/{api_version}")
    }
}

fn plural(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.ends_with('y') {
        format!("{}ies", &lower[..lower.len() - 1])
    } else {
        format!("{lower}s")
    }
}

impl FakeKube {
    pub async fn start() -> FakeKube {
        let fake = FakeKube::default();
        let app = Router::new().fallback(handle).with_state(fake.clone());
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

    fn lock(&self) -> MutexGuard<'_, Cluster> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an object (apiVersion, kind, metadata.namespace and metadata.name required); a
    /// uid and resourceVersion are filled in when missing.
    pub fn add(&self, mut object: Value) -> Value {
        let mut cluster = self.lock();
        cluster.version += 1;
        let version = cluster.version;
        let key = key_of(&object).expect("object with apiVersion, kind, namespace and name");
        let meta = object["metadata"].as_object_mut().expect("metadata");
        meta.entry("uid")
            .or_insert_with(|| json!(format!("uid-{}-{}", key.3, version)));
        meta.insert("resourceVersion".into(), json!(version.to_string()));
        cluster.objects.insert(key, object.clone());
        object
    }

    /// Every stored object of a resource (e.g. `apis/wgpolicyk8s.io/v1alpha2`, `policyreports`).
    pub fn objects(&self, prefix: &str, resource: &str) -> Vec<Value> {
        self.lock()
            .objects
            .iter()
            .filter(|(k, _)| k.0 == prefix && k.1 == resource)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Refuses every create and replace in `namespace` from now on (403 Forbidden, the
    /// answer to an exceeded ResourceQuota).
    pub fn refuse_writes_in(&self, namespace: &str) {
        self.lock().refuse_writes.push(namespace.to_owned());
    }

    /// Every (method, path) received.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.lock().requests.clone()
    }

    /// A kubeconfig pointing at this server.
    pub fn write_kubeconfig(&self, path: &Path) {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\n\
             users:\n- name: fake\n  user:\n    token: fake-token\ncontexts:\n- name: fake\n  \
             context:\n    cluster: fake\n    user: fake\ncurrent-context: fake\n",
            self.url()
        );
        std::fs::write(path, text).expect("kubeconfig");
    }
}

fn key_of(object: &Value) -> Option<Key> {
    Some((
        prefix_of(object["apiVersion"].as_str()?),
        plural(object["kind"].as_str()?),
        object["metadata"]["namespace"].as_str()?.to_owned(),
        object["metadata"]["name"].as_str()?.to_owned(),
    ))
}

fn status(code: StatusCode, reason: &str, message: String) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16()});
    (code, Json(body)).into_response()
}

/// Splits `/api/v1/...` or `/apis/g/v/...` into (prefix, rest).
fn split(path: &str) -> Option<(String, Vec<String>)> {
    let parts: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(str::to_owned)
        .collect();
    match parts.first()?.as_str() {
        "api" if parts.len() >= 2 => Some((parts[..2].join("/"), parts[2..].to_vec())),
        "apis" if parts.len() >= 3 => Some((parts[..3].join("/"), parts[3..].to_vec())),
        _ => None,
    }
}

async fn handle(State(fake): State<FakeKube>, method: Method, uri: Uri, body: Bytes) -> Response {
    let path = uri.path().to_owned();
    fake.lock()
        .requests
        .push((method.to_string(), path.clone()));
    let Some((prefix, rest)) = split(&path) else {
        return status(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("no route {path}"),
        );
    };
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let (ns, resource, name) = match rest.as_slice() {
        [resource] => (None, *resource, None),
        ["namespaces", ns, resource] => (Some(*ns), *resource, None),
        ["namespaces", ns, resource, name] => (Some(*ns), *resource, Some(*name)),
        _ => {
            return status(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("no route {path}"),
            )
        }
    };
    let mut cluster = fake.lock();
    match (method, name) {
        (Method::GET, None) => {
            let items: Vec<Value> = cluster
                .objects
                .iter()
                .filter(|(k, _)| k.0 == prefix && k.1 == resource && ns.is_none_or(|n| k.2 == n))
                .map(|(_, v)| {
                    // The real API server leaves apiVersion and kind out of list items.
                    let mut v = v.clone();
                    if let Some(m) = v.as_object_mut() {
                        m.remove("apiVersion");
                        m.remove("kind");
                    }
                    v
                })
                .collect();
            let api_version = prefix
                .trim_start_matches("apis/")
                .trim_start_matches("api/");
            Json(json!({"apiVersion": api_version, "kind": "List",
                "metadata": {"resourceVersion": cluster.version.to_string()}, "items": items}))
            .into_response()
        }
        (Method::GET, Some(name)) => {
            let key = (
                prefix.clone(),
                resource.to_owned(),
                ns.unwrap_or("").to_owned(),
                name.to_owned(),
            );
            match cluster.objects.get(&key) {
                Some(v) => Json(v.clone()).into_response(),
                None if resource == "serviceaccounts" && name == "default" => Json(json!({
                    "apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": {"name": "default", "namespace": ns}}))
                .into_response(),
                None => status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    format!("{resource} \"{name}\" not found"),
                ),
            }
        }
        (Method::POST, None) | (Method::PUT, Some(_))
            if ns.is_some_and(|n| cluster.refuse_writes.iter().any(|r| r == n)) =>
        {
            status(
                StatusCode::FORBIDDEN,
                "Forbidden",
                format!("{resource} is forbidden: exceeded quota"),
            )
        }
        (Method::POST, None) | (Method::PUT, Some(_)) => {
            let Ok(mut object) = serde_json::from_slice::<Value>(&body) else {
                return status(StatusCode::BAD_REQUEST, "BadRequest", "not JSON".into());
            };
            if object["metadata"]["name"].is_null() && name.is_none() {
                // generateName: the API server appends a random suffix.
                if let Some(prefix) = object["metadata"]["generateName"].as_str() {
                    let generated = format!("{prefix}{:05x}", cluster.version + 1);
                    object["metadata"]["name"] = generated.into();
                }
            }
            let Some(obj_name) = object["metadata"]["name"].as_str().map(str::to_owned) else {
                return status(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid",
                    "metadata.name required".into(),
                );
            };
            let key = (
                prefix.clone(),
                resource.to_owned(),
                ns.unwrap_or("").to_owned(),
                obj_name.clone(),
            );
            let existing = cluster.objects.get(&key).cloned();
            match (&existing, name) {
                (Some(_), None) => {
                    return status(
                        StatusCode::CONFLICT,
                        "AlreadyExists",
                        format!("{resource} \"{obj_name}\" already exists"),
                    )
                }
                (None, Some(_)) => {
                    return status(
                        StatusCode::NOT_FOUND,
                        "NotFound",
                        format!("{resource} \"{obj_name}\" not found"),
                    )
                }
                (Some(old), Some(_)) => {
                    if old["metadata"]["resourceVersion"] != object["metadata"]["resourceVersion"] {
                        return status(
                            StatusCode::CONFLICT,
                            "Conflict",
                            "the object has been modified".into(),
                        );
                    }
                }
                (None, None) => {}
            }
            cluster.version += 1;
            let version = cluster.version;
            if let Some(meta) = object["metadata"].as_object_mut() {
                meta.insert("resourceVersion".into(), json!(version.to_string()));
                meta.entry("uid")
                    .or_insert_with(|| json!(format!("uid-{version}")));
            }
            cluster.objects.insert(key, object.clone());
            let code = if name.is_some() {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            (code, Json(object)).into_response()
        }
        _ => status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "not supported by the fake".into(),
        ),
    }
}

/// A Deployment with its ReplicaSet and `pods` pods, owned as the controllers would.
pub fn deployment(fake: &FakeKube, ns: &str, name: &str, image: &str, pods: usize) {
    let spec = json!({"containers": [{"name": name, "image": image}]});
    let d = fake.add(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}));
    let rs_name = format!("{name}-5d9c7");
    let rs = fake.add(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": rs_name, "namespace": ns, "ownerReferences": [owner(&d)]},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}));
    for i in 0..pods {
        fake.add(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("{rs_name}-{i}"), "namespace": ns, "ownerReferences": [owner(&rs)]},
            "spec": spec}));
    }
}

/// A bare Pod.
pub fn pod(fake: &FakeKube, ns: &str, name: &str, image: &str) {
    fake.add(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"containers": [{"name": name, "image": image}]}}));
}

/// The controller ownerReference pointing at `owner`.
pub fn owner(owner: &Value) -> Value {
    json!({"apiVersion": owner["apiVersion"], "kind": owner["kind"],
        "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
        "controller": true, "blockOwnerDeletion": true})
}
