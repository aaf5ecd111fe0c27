//! The admission pipeline over the AdmissionReview corpus in `tests/data/reviews/`: kinds,
//! paths, operations, namespaces, modes, failure policies and the deadline (breakglass:
//! admission_breakglass.rs).
//!
//! The rule used here is a minimal policy double ("deny anything not landed") so these tests
//! exercise the pipeline's plumbing; the real rules are WebAssembly and tested in policy_*.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use kube::core::admission::AdmissionResponse;
use landed::admission::{decode, Pipeline, Request, Route};
use landed::config::{Config, Mode, NamespaceConfig};
use landed::image::Reference;
use landed::policy::{
    FailurePolicy, Loaded, Policy, PolicyError, PolicyOutput, PolicySet, PolicyStore, PreparedInput,
};
use landed::resolve::{LookupContext, Resolve, TableResolver};
use landed::verdict::{Verdict, VerdictClass};
use rstest::rstest;

mod policy_doubles;
use policy_doubles::DenyUnlanded;

const APP: &str = "registry.example.com/team/app:1.0";
const SIDECAR: &str = "registry.example.com/team/sidecar:2.1";
const MIGRATE: &str = "registry.example.com/team/migrate:1.0";
const DIGEST: &str = "sha256:4f1c0e0c9ef7d7b45e0d8e4a4e2ec13e6d4bf1d09b1f3fbe7e3c1b8f6c5b9a11";

fn request(name: &str) -> Request {
    let path = format!("{}/tests/data/reviews/{name}", env!("CARGO_MANIFEST_DIR"));
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    decode(&body).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Counts lookups so tests can prove that skipped reviews do no registry work.
struct Counting<R> {
    inner: R,
    calls: AtomicUsize,
}

impl<R: Resolve> Resolve for Counting<R> {
    fn resolve<'a>(&'a self, r: &'a Reference, c: &'a LookupContext) -> BoxFuture<'a, Verdict> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.resolve(r, c)
    }
}

/// Never answers: the pipeline's deadline must cut it off.
struct Hanging;

impl Resolve for Hanging {
    fn resolve<'a>(&'a self, _: &'a Reference, _: &'a LookupContext) -> BoxFuture<'a, Verdict> {
        Box::pin(futures::future::pending())
    }
}

/// Always errs, to exercise failurePolicy.
struct Broken;

impl Policy for Broken {
    fn name(&self) -> &str {
        "broken"
    }
    fn evaluate<'a>(
        &'a self,
        _: &'a PreparedInput<'_>,
        _: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<PolicyOutput, PolicyError>> {
        Box::pin(async {
            Err(PolicyError::Failed {
                policy: "broken".into(),
                reason: "wasm trap: unreachable".into(),
            })
        })
    }
}

fn loaded(policy: impl Policy + 'static, failure_policy: FailurePolicy) -> Loaded {
    Loaded::new(policy, failure_policy)
}

fn table(absent: &[&str]) -> TableResolver {
    let mut table = TableResolver::new();
    for image in [
        APP,
        SIDECAR,
        MIGRATE,
        "registry.example.com/team/app:1.1",
        "registry.example.com/tools/debug:1",
    ] {
        if !absent.contains(&image) {
            table = table.with(image, Verdict::landed(DIGEST.parse().expect("digest")));
        }
    }
    table
}

struct Harness {
    pipeline: Pipeline,
    resolver: Arc<Counting<TableResolver>>,
}

fn harness(config: Config, absent: &[&str], policies: Vec<Loaded>) -> Harness {
    let resolver = Arc::new(Counting {
        inner: table(absent),
        calls: AtomicUsize::new(0),
    });
    let store = Arc::new(PolicyStore::new(PolicySet { policies }));
    let pipeline = Pipeline::new(
        config.review_settings(Some("landed".into())),
        resolver.clone(),
        store,
    );
    Harness { pipeline, resolver }
}

fn standard(absent: &[&str]) -> Harness {
    harness(
        Config::default(),
        absent,
        vec![loaded(DenyUnlanded("deny-unlanded"), FailurePolicy::Fail)],
    )
}

impl Harness {
    async fn review(&self, file: &str) -> (Request, AdmissionResponse) {
        let req = request(file);
        let resp = self.pipeline.review(&req, Route::Validate).await;
        assert_eq!(resp.uid, req.uid, "response.uid must equal request.uid");
        (req, resp)
    }
    fn lookups(&self) -> usize {
        self.resolver.calls.load(Ordering::SeqCst)
    }
}

#[rstest]
#[case("pod-create.json", "spec")]
#[case("deployment-create.json", "spec.template.spec")]
#[case("statefulset-create.json", "spec.template.spec")]
#[case("daemonset-create.json", "spec.template.spec")]
#[case("replicaset-create.json", "spec.template.spec")]
#[case("replicationcontroller-create.json", "spec.template.spec")]
#[case("job-create.json", "spec.template.spec")]
#[case("cronjob-create.json", "spec.jobTemplate.spec.template.spec")]
#[tokio::test]
async fn every_kind_is_checked_and_the_denial_points_at_the_init_container(
    #[case] file: &str,
    #[case] prefix: &str,
) {
    let landed = standard(&[]);
    let (_, resp) = landed.review(file).await;
    assert!(
        resp.allowed,
        "{file}: all landed must be allowed: {:?}",
        resp.result.message
    );
    assert_eq!(
        landed.lookups(),
        3,
        "three distinct images resolved once each"
    );

    let (_, resp) = standard(&[MIGRATE]).review(file).await;
    assert!(!resp.allowed, "{file}: an absent init image must deny");
    let message = &resp.result.message;
    assert!(message.starts_with("landed: "), "{message}");
    assert!(message.contains("container migrate"), "{message}");
    assert!(
        message.contains(&format!("({prefix}.initContainers[0].image)")),
        "{message}"
    );
    assert!(message.contains("is absent"), "{message}");
}

#[tokio::test]
async fn dry_run_is_answered_like_a_real_request() {
    let (req, resp) = standard(&[APP]).review("pod-create-dryrun.json").await;
    assert!(req.dry_run);
    assert!(!resp.allowed);
    assert!(resp
        .result
        .message
        .contains("container app (spec.containers[0].image)"));
}

#[rstest]
#[case::delete("pod-delete.json")]
#[case::connect("pod-connect-exec.json")]
#[case::unhandled_kind("configmap-create.json")]
#[case::excluded_namespace("pod-create-kube-system.json")]
#[case::update_without_image_change("deployment-update-scale.json")]
#[tokio::test]
async fn skipped_reviews_are_allowed_without_registry_work(#[case] file: &str) {
    let landed = standard(&[APP, SIDECAR, MIGRATE]);
    let (_, resp) = landed.review(file).await;
    assert!(resp.allowed, "{file}");
    assert_eq!(resp.warnings, None, "{file}");
    assert_eq!(
        landed.lookups(),
        0,
        "{file}: no lookups for a skipped review"
    );
}

#[tokio::test]
async fn the_webhooks_own_namespace_is_excluded() {
    let mut req = request("pod-create.json");
    req.namespace = Some("landed".into());
    let landed = standard(&[APP]);
    let resp = landed.pipeline.review(&req, Route::Validate).await;
    assert!(resp.allowed);
    assert_eq!(landed.lookups(), 0);
}

#[tokio::test]
async fn update_checks_only_the_changed_image() {
    let landed = standard(&["registry.example.com/team/app:1.1"]);
    let (_, resp) = landed.review("deployment-update-image.json").await;
    assert!(!resp.allowed);
    assert!(resp
        .result
        .message
        .contains("container app (spec.template.spec.containers[0].image)"));
    assert_eq!(
        landed.lookups(),
        1,
        "unchanged sidecar and init images are not looked up"
    );

    let config = Config {
        check_unchanged_images: true,
        ..Config::default()
    };
    let all = harness(
        config,
        &[],
        vec![loaded(DenyUnlanded("deny-unlanded"), FailurePolicy::Fail)],
    );
    let (_, resp) = all.review("deployment-update-scale.json").await;
    assert!(resp.allowed);
    assert_eq!(
        all.lookups(),
        3,
        "checkUnchangedImages re-checks every image"
    );
}

#[tokio::test]
async fn ephemeral_container_subresource_checks_the_new_debug_image() {
    let landed = standard(&["registry.example.com/tools/debug:1"]);
    let (req, resp) = landed.review("pod-ephemeralcontainers.json").await;
    assert_eq!(req.sub_resource.as_deref(), Some("ephemeralcontainers"));
    assert!(!resp.allowed);
    let message = &resp.result.message;
    assert!(
        message.contains("container debugger-x7k2p (spec.ephemeralContainers[0].image)"),
        "{message}"
    );
    assert_eq!(landed.lookups(), 1);
}

#[tokio::test]
async fn an_invalid_reference_is_denied_naming_the_container() {
    let landed = standard(&[]);
    let (_, resp) = landed.review("pod-create-invalid-image.json").await;
    assert!(!resp.allowed);
    let message = &resp.result.message;
    assert!(
        message.contains("container app (spec.containers[0].image) is invalid_reference"),
        "{message}"
    );
    assert_eq!(
        landed.lookups(),
        1,
        "only the valid sidecar reference is looked up"
    );
}

#[tokio::test]
async fn an_undecodable_object_of_a_handled_kind_is_denied_with_the_decode_error() {
    let (_, resp) = standard(&[])
        .review("deployment-create-undecodable.json")
        .await;
    assert!(!resp.allowed);
    assert!(
        resp.result.message.contains("cannot decode Deployment"),
        "{}",
        resp.result.message
    );
}

#[tokio::test]
async fn warn_mode_turns_the_denial_into_a_warning() {
    let config = Config {
        mode: Mode::Warn,
        ..Config::default()
    };
    let landed = harness(
        config,
        &[APP],
        vec![loaded(DenyUnlanded("deny-unlanded"), FailurePolicy::Fail)],
    );
    let (_, resp) = landed.review("pod-create.json").await;
    assert!(resp.allowed);
    let warnings = resp.warnings.expect("warning");
    assert!(
        warnings[0].starts_with("landed (warn mode) would deny: container app"),
        "{warnings:?}"
    );
}

#[tokio::test]
async fn audit_mode_per_namespace_never_denies_and_records_the_would_be_denial() {
    let mut config = Config::default();
    config.namespaces.insert(
        "shop".into(),
        NamespaceConfig {
            mode: Some(Mode::Audit),
            on_undetermined: None,
        },
    );
    let landed = harness(
        config,
        &[APP],
        vec![loaded(DenyUnlanded("deny-unlanded"), FailurePolicy::Fail)],
    );
    let (_, resp) = landed.review("pod-create.json").await;
    assert!(resp.allowed);
    assert_eq!(resp.warnings, None, "audit is silent towards the client");
    let recorded = resp
        .audit_annotations
        .get("would-deny")
        .expect("audit annotation");
    assert!(recorded.contains("container app"), "{recorded}");

    let req = request("pod-create.json");
    let resp = landed.pipeline.review(&req, Route::Mutate).await;
    assert!(resp.patch.is_none(), "audit never mutates");
}

#[tokio::test]
async fn failure_policy_fail_denies_and_ignore_warns() {
    let closed = harness(
        Config::default(),
        &[],
        vec![loaded(Broken, FailurePolicy::Fail)],
    );
    let (_, resp) = closed.review("pod-create.json").await;
    assert!(!resp.allowed);
    assert!(
        resp.result
            .message
            .contains("policy broken failed: wasm trap: unreachable"),
        "{}",
        resp.result.message
    );

    let open = harness(
        Config::default(),
        &[],
        vec![loaded(Broken, FailurePolicy::Ignore)],
    );
    let (_, resp) = open.review("pod-create.json").await;
    assert!(resp.allowed);
    assert!(resp.warnings.expect("warning")[0].contains("ignored (failurePolicy: Ignore)"));
}

#[tokio::test]
async fn mutate_returns_the_patch_and_never_denies() {
    let landed = standard(&[APP]);
    let req = request("pod-create.json");
    let resp = landed.pipeline.review(&req, Route::Mutate).await;
    assert!(resp.allowed, "denials belong to /validate");
    let patch: serde_json::Value =
        serde_json::from_slice(resp.patch.as_deref().expect("patch")).expect("json");
    assert_eq!(patch[0]["path"], "/metadata/labels/checked");
}

#[tokio::test]
async fn a_registry_that_never_answers_is_cut_off_at_the_deadline() {
    let mut config = Config::default();
    config.resolve.deadline = Duration::from_millis(200);
    let store = Arc::new(PolicyStore::new(PolicySet {
        policies: vec![loaded(DenyUnlanded("deny-unlanded"), FailurePolicy::Fail)],
    }));
    let pipeline = Pipeline::new(config.review_settings(None), Arc::new(Hanging), store);
    let req = request("pod-create.json");
    let started = std::time::Instant::now();
    let resp = pipeline.review(&req, Route::Validate).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered in {:?}",
        started.elapsed()
    );
    // The budget named is what was left of the 200 ms when the lookup started (0.2s, or a
    // little less on a loaded machine).
    let message = &resp.result.message;
    for container in ["migrate", "app", "sidecar"] {
        assert!(
            message.contains(&format!("container {container} (")),
            "{message}"
        );
    }
    assert_eq!(
        message
            .matches("is unavailable: no answer from the registry within 0.")
            .count(),
        3,
        "{message}"
    );
}

/// Warns about undetermined images, as require-landed does with `onUndetermined: allow`.
struct WarnUndetermined;

impl Policy for WarnUndetermined {
    fn name(&self) -> &str {
        "warn-undetermined"
    }
    fn evaluate<'a>(
        &'a self,
        input: &'a PreparedInput<'_>,
        _: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<PolicyOutput, PolicyError>> {
        let warnings = input
            .input()
            .images
            .iter()
            .filter(|i| i.verdict.is_undetermined())
            .map(|i| format!("could not verify {}: {}", i.container, i.verdict))
            .collect();
        Box::pin(async move {
            Ok(PolicyOutput {
                allowed: true,
                warnings,
                ..PolicyOutput::default()
            })
        })
    }
}

#[tokio::test]
async fn audit_mode_still_warns_about_images_it_could_not_verify() {
    let config = Config {
        mode: Mode::Audit,
        ..Config::default()
    };
    let resolver = TableResolver::new()
        .with(
            APP,
            Verdict::new(VerdictClass::Unavailable, "registry timed out"),
        )
        .with(MIGRATE, Verdict::landed(DIGEST.parse().expect("digest")));
    let store = Arc::new(PolicyStore::new(PolicySet {
        policies: vec![
            loaded(DenyUnlanded("deny-unlanded"), FailurePolicy::Fail),
            loaded(WarnUndetermined, FailurePolicy::Fail),
        ],
    }));
    let pipeline = Pipeline::new(config.review_settings(None), Arc::new(resolver), store);
    // SIDECAR is absent (not in the table): an audit denial, silent to the client.
    let resp = pipeline
        .review(&request("pod-create.json"), Route::Validate)
        .await;
    assert!(resp.allowed);
    assert_eq!(
        resp.warnings,
        Some(vec!["landed: could not verify app: unavailable".to_owned()])
    );
    let recorded = resp
        .audit_annotations
        .get("would-deny")
        .expect("audit annotation");
    assert!(recorded.contains("container sidecar"), "{recorded}");
}
