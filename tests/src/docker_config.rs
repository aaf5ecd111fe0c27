//! Docker `config.json` content: the `auths` map that both `$DOCKER_CONFIG/config.json` and a
//! `kubernetes.io/dockerconfigjson` pull secret hold.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};

/// One `auths` entry: registry host as written in references, user, password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login {
    /// Registry host (`127.0.0.1:PORT`, `us-docker.pkg.dev`).
    pub host: String,
    /// User name.
    pub user: String,
    /// Password or token.
    pub password: String,
}

impl Login {
    /// A login for `host`.
    pub fn new(host: &str, user: &str, password: &str) -> Self {
        Self {
            host: host.to_owned(),
            user: user.to_owned(),
            password: password.to_owned(),
        }
    }

    /// `base64(user:password)`, the `auth` field (and a Basic header's value).
    pub fn encoded(&self) -> String {
        STANDARD.encode(format!("{}:{}", self.user, self.password))
    }
}

/// `{"auths": {HOST: {"auth": base64(user:password)}}}`, as `docker login` writes it.
pub fn docker_config(logins: &[Login]) -> Value {
    auths(logins, |login| json!({ "auth": login.encoded() }))
}

/// `{"auths": {HOST: {"username", "password", "auth"}}}`, as
/// `kubectl create secret docker-registry` writes `.dockerconfigjson`.
pub fn pull_secret_config(logins: &[Login]) -> Value {
    auths(
        logins,
        |login| json!({"username": login.user, "password": login.password, "auth": login.encoded()}),
    )
}

fn auths(logins: &[Login], entry: impl Fn(&Login) -> Value) -> Value {
    let mut map = Map::new();
    for login in logins {
        map.insert(login.host.clone(), entry(login));
    }
    json!({ "auths": map })
}
