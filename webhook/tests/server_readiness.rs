//! `/readyz` over real TLS says ready or not and nothing more: anyone who reaches the port may
//! ask, so a policy's source path and load error go to the log and to `landed_policy_loaded`.

mod server_support;

use std::sync::Arc;

use landed::policy::{PolicySet, PolicyStatus, PolicyStore};
use landed::resolve::TableResolver;
use landed::server::ServerLimits;
use reqwest::StatusCode;
use server_support::{client, start_with, tls_config};

const SECRET_PATH: &str = "/etc/landed/team-policies/fraud-rules.wasm";

#[tokio::test]
async fn a_policy_that_failed_to_load_makes_readyz_503_without_naming_its_source_or_error() {
    let store = Arc::new(PolicyStore::new(PolicySet::default()));
    store.replace(
        PolicySet::default(),
        vec![
            PolicyStatus {
                name: "require-landed".into(),
                loaded: true,
                error: None,
                source: Some("/usr/lib/landed/policies/require_landed.wasm".into()),
                digest: Some(format!("sha256:{}", "0".repeat(64))),
            },
            PolicyStatus {
                name: "fraud-rules".into(),
                loaded: false,
                error: Some(format!("cannot read {SECRET_PATH}: permission denied")),
                source: Some(SECRET_PATH.into()),
                digest: None,
            },
        ],
    );
    let server = start_with(
        ServerLimits::default(),
        false,
        Arc::new(TableResolver::new()),
        store.clone(),
    )
    .await;
    let http = client(tls_config(&server.ca, None));
    let base = format!("https://localhost:{}", server.addr.port());

    let ready = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("send");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = ready.text().await.expect("body");
    assert_eq!(body, r#"{"ready":false}"#);

    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("send");
    let text = metrics.text().await.expect("body");
    assert!(
        text.contains("landed_policy_loaded{policy=\"fraud-rules\"} 0")
            && text.contains("landed_policy_loaded{policy=\"require-landed\"} 1"),
        "the load state is on /metrics"
    );
    assert!(!text.contains(SECRET_PATH), "no source path on /metrics");

    // Once every policy serves, ready again.
    store.replace(PolicySet::default(), vec![]);
    let ready = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("send");
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.text().await.expect("body"), r#"{"ready":true}"#);
}
