//! `GET /metrics` after a run of reviews through the real router: the exposition is parsed
//! (not grepped) and the admission-path families carry the expected counts and only bounded
//! label values (no image tags, repositories or user names).

mod metrics_support;
mod policy_doubles;

use policy_doubles::DenyUnlanded;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use landed::admission::Pipeline;
use landed::config::{Config, Mode, NamespaceConfig};
use landed::policy::{FailurePolicy, Loaded, PolicySet, PolicyStore};
use landed::resolve::TableResolver;
use landed::server::{router, AppState, Readiness};
use landed::verdict::Verdict;
use metrics_support::{parse, value};
use tower::ServiceExt;

const DIGEST: &str = "sha256:4f1c0e0c9ef7d7b45e0d8e4a4e2ec13e6d4bf1d09b1f3fbe7e3c1b8f6c5b9a11";

fn review(name: &str, namespace: Option<&str>) -> Vec<u8> {
    let path = format!("{}/tests/data/reviews/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut json: serde_json::Value = serde_json::from_str(&text).expect("json");
    if let Some(ns) = namespace {
        json["request"]["namespace"] = ns.into();
        json["request"]["object"]["metadata"]["namespace"] = ns.into();
    }
    serde_json::to_vec(&json).expect("encode")
}

async fn call(app: &axum::Router, request: Request<Body>) -> (StatusCode, String, String) {
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        content_type,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[tokio::test]
async fn metrics_after_a_run_of_reviews() {
    let mut config = Config::default();
    config.namespaces.insert(
        "staging".into(),
        NamespaceConfig {
            mode: Some(Mode::Audit),
            on_undetermined: None,
        },
    );
    // migrate:1.0 never landed; the invalid-image review's reference does not parse.
    let resolver = TableResolver::new()
        .with(
            "registry.example.com/team/app:1.0",
            Verdict::landed(DIGEST.parse().expect("digest")),
        )
        .with(
            "registry.example.com/team/sidecar:2.1",
            Verdict::landed(DIGEST.parse().expect("digest")),
        );
    let policies = PolicyStore::new(PolicySet {
        policies: vec![Loaded::new(
            DenyUnlanded("require-landed"),
            FailurePolicy::Fail,
        )],
    });
    let pipeline = Pipeline::new(
        config.review_settings(None),
        Arc::new(resolver),
        Arc::new(policies),
    );
    let app = router(AppState {
        pipeline: Arc::new(pipeline),
        readiness: Arc::new(Readiness::default()),
    });
    let reviews = [
        ("pod-create.json", None),               // deny: migrate absent
        ("pod-create.json", Some("staging")),    // audit-deny
        ("deployment-create.json", None),        // deny: migrate absent
        ("pod-delete.json", None),               // skip
        ("configmap-create.json", None),         // skip, kind other
        ("pod-create-invalid-image.json", None), // deny: invalid reference
    ];
    for (name, ns) in reviews {
        let request = Request::post("/validate")
            .header("content-type", "application/json")
            .body(Body::from(review(name, ns)))
            .expect("request");
        let (status, _, body) = call(&app, request).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
    }
    let (status, content_type, text) = call(
        &app,
        Request::get("/metrics").body(Body::empty()).expect("get"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.contains("openmetrics-text"), "{content_type}");
    let samples = parse(&text);

    let reviews = "landed_reviews_total";
    let labels = |kind, op, mode, decision| {
        [
            ("kind", kind),
            ("operation", op),
            ("mode", mode),
            ("decision", decision),
        ]
    };
    assert_eq!(
        value(
            &samples,
            reviews,
            &labels("Pod", "CREATE", "enforce", "deny")
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &samples,
            reviews,
            &labels("Pod", "CREATE", "audit", "audit-deny")
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &samples,
            reviews,
            &labels("Deployment", "CREATE", "enforce", "deny")
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &samples,
            reviews,
            &labels("Pod", "DELETE", "enforce", "skip")
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &samples,
            reviews,
            &labels("other", "CREATE", "enforce", "skip")
        ),
        Some(1.0)
    );

    let verdicts = "landed_verdicts_total";
    let host = "registry.example.com";
    assert_eq!(
        value(
            &samples,
            verdicts,
            &[("class", "absent"), ("registry", host)]
        ),
        Some(3.0)
    );
    // pod-create ×2 (app, sidecar), deployment (app, sidecar), invalid-image (sidecar).
    assert_eq!(
        value(
            &samples,
            verdicts,
            &[("class", "landed"), ("registry", host)]
        ),
        Some(7.0)
    );
    assert_eq!(
        value(
            &samples,
            verdicts,
            &[("class", "invalid_reference"), ("registry", "none")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &samples,
            "landed_audit_would_deny_total",
            &[("kind", "Pod"), ("policy", "require-landed")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &samples,
            "landed_admission_duration_seconds_count",
            &[("endpoint", "validate")]
        ),
        Some(6.0)
    );
    assert_eq!(value(&samples, "landed_inflight_reviews", &[]), Some(0.0));
    let build = samples
        .iter()
        .find(|s| s.name == "landed_build_info")
        .expect("build info");
    assert_eq!(
        build.labels.get("version").map(String::as_str),
        Some(env!("CARGO_PKG_VERSION"))
    );

    // Admission-path families: bounded label values only.
    for s in samples.iter().filter(|s| {
        [
            "landed_reviews",
            "landed_verdicts",
            "landed_admission",
            "landed_audit_would_deny",
        ]
        .iter()
        .any(|p| s.name.starts_with(p))
    }) {
        for value in s.labels.values() {
            for forbidden in ["team/", ":1.0", ":2.1", "alice", "App"] {
                assert!(!value.contains(forbidden), "{s:?} carries {forbidden}");
            }
        }
    }
}
