//! The workload's pull secrets: the pod's `imagePullSecrets`, then its service account's, read
//! through the Kubernetes API and cached briefly.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Secret as KubeSecret, ServiceAccount};
use kube::Api;
use tokio::sync::OnceCell;

use super::docker_config::{parse_failure, DockerConfig};
use super::{Credential, PULL_SECRET_IDENTITY};
use crate::registry::LookupContext;

/// How long secrets and service accounts read from the API are reused.
const CACHE_FOR: Duration = Duration::from_secs(30);

/// Reads pull secrets through kube; without a reachable cluster it gives nothing.
pub struct PullSecretSource {
    client: OnceCell<Option<kube::Client>>,
    /// Bounds each API read: kube's own read timeout is minutes, and a hung API server would
    /// otherwise hold the lookup task (and everyone waiting on the same cache key) that long.
    timeout: Duration,
    secrets: moka::future::Cache<(String, String), Arc<Option<DockerConfig>>>,
    accounts: moka::future::Cache<(String, String), Arc<Vec<String>>>,
}

/// An API read that did not answer in time; not cached, so the next lookup asks again.
#[derive(Clone, Copy, Debug)]
struct TimedOut;

impl PullSecretSource {
    /// A source whose API reads each end within `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            client: OnceCell::new(),
            timeout,
            secrets: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CACHE_FOR)
                .build(),
            accounts: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CACHE_FOR)
                .build(),
        }
    }

    async fn client(&self) -> Option<kube::Client> {
        self.client
            .get_or_init(|| async {
                match kube::Client::try_default().await {
                    Ok(c) => Some(c),
                    Err(e) => {
                        tracing::debug!(error = %e, "no Kubernetes API; pull secrets are skipped");
                        None
                    }
                }
            })
            .await
            .clone()
    }

    /// The first pull secret of the workload with an entry for `host`.
    pub async fn credential(&self, host: &str, ctx: &LookupContext) -> Option<Credential> {
        let ns = ctx.namespace.as_deref()?;
        let mut names = ctx.pull_secrets.clone();
        let client = self.client().await?;
        // Every pod runs as some service account; its pull secrets count after the pod's own.
        let sa = ctx.service_account.as_deref().unwrap_or("default");
        names.extend(self.account_secrets(&client, ns, sa).await.iter().cloned());
        for name in names {
            let Some(config) = self.secret(&client, ns, &name).await.as_ref().clone() else {
                continue;
            };
            let identity = format!("{PULL_SECRET_IDENTITY}{ns}/{name}");
            if let Some(c) = config.inline_for(host, &identity) {
                return Some(c);
            }
        }
        None
    }

    async fn account_secrets(&self, client: &kube::Client, ns: &str, sa: &str) -> Arc<Vec<String>> {
        let key = (ns.to_owned(), sa.to_owned());
        let read = self.accounts.try_get_with(key, async {
            let api: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
            let answer = tokio::time::timeout(self.timeout, api.get_opt(sa))
                .await
                .map_err(|_| TimedOut)?;
            Ok::<_, TimedOut>(match answer {
                    Ok(Some(account)) => Arc::new(
                        account
                            .image_pull_secrets
                            .unwrap_or_default()
                            .into_iter()
                            .map(|r| r.name)
                            .filter(|n| !n.is_empty())
                            .collect(),
                    ),
                    Ok(None) => Arc::new(Vec::new()),
                    Err(e) => {
                        tracing::debug!(namespace = %ns, service_account = %sa, error = %e, "cannot read service account");
                        Arc::new(Vec::new())
                    }
            })
        });
        read.await.unwrap_or_else(|_| {
            tracing::debug!(namespace = %ns, service_account = %sa, "reading the service account timed out");
            Arc::new(Vec::new())
        })
    }

    async fn secret(
        &self,
        client: &kube::Client,
        ns: &str,
        name: &str,
    ) -> Arc<Option<DockerConfig>> {
        let key = (ns.to_owned(), name.to_owned());
        let read = self.secrets.try_get_with(key, async {
            let api: Api<KubeSecret> = Api::namespaced(client.clone(), ns);
            let answer = tokio::time::timeout(self.timeout, api.get_opt(name))
                .await
                .map_err(|_| TimedOut)?;
            Ok::<_, TimedOut>(match answer {
                    Ok(Some(secret)) => Arc::new(parse_secret(&secret)),
                    Ok(None) => {
                        tracing::debug!(namespace = %ns, secret = %name, "pull secret not found");
                        Arc::new(None)
                    }
                    Err(e) => {
                        tracing::debug!(namespace = %ns, secret = %name, error = %e, "cannot read pull secret");
                        Arc::new(None)
                    }
            })
        });
        read.await.unwrap_or_else(|_| {
            tracing::debug!(namespace = %ns, secret = %name, "reading the pull secret timed out");
            Arc::new(None)
        })
    }
}

/// The docker config inside a `kubernetes.io/dockerconfigjson` or `dockercfg` secret.
pub fn parse_secret(secret: &KubeSecret) -> Option<DockerConfig> {
    let data = secret.data.as_ref()?;
    let parsed = match secret.type_.as_deref() {
        Some("kubernetes.io/dockerconfigjson") => {
            DockerConfig::parse(&data.get(".dockerconfigjson")?.0)
        }
        Some("kubernetes.io/dockercfg") => DockerConfig::parse_legacy(&data.get(".dockercfg")?.0),
        _ => return None,
    };
    parsed
        .map_err(|e| {
            tracing::warn!(
                namespace = secret.metadata.namespace.as_deref().unwrap_or(""),
                secret = secret.metadata.name.as_deref().unwrap_or(""),
                error = %parse_failure(&e),
                "pull secret is not a docker config; skipped"
            );
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;

    fn secret(kind: &str, key: &str, json: &str) -> KubeSecret {
        KubeSecret {
            type_: Some(kind.into()),
            data: Some(BTreeMap::from([(
                key.into(),
                ByteString(json.as_bytes().to_vec()),
            )])),
            ..Default::default()
        }
    }

    #[test]
    fn secret_types() {
        let json = secret(
            "kubernetes.io/dockerconfigjson",
            ".dockerconfigjson",
            r#"{"auths":{"reg.example":{"username":"u","password":"p"}}}"#,
        );
        let cfg = parse_secret(&json).expect("json");
        assert!(cfg.inline_for("reg.example", "x").is_some());
        let legacy = secret(
            "kubernetes.io/dockercfg",
            ".dockercfg",
            r#"{"reg.example":{"auth":"dTpw"}}"#,
        );
        assert!(parse_secret(&legacy)
            .expect("cfg")
            .inline_for("reg.example", "x")
            .is_some());
        let opaque = secret("Opaque", ".dockerconfigjson", "{}");
        assert!(parse_secret(&opaque).is_none());
    }
}
