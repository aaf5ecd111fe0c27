//! The breakglass annotation through the pipeline: it skips only the policies listed under
//! `breakglass.skips`, only for the users and groups allowed to use it, and says so to the
//! client. The fixture is a Deployment by alice@example.com (groups: system:authenticated,
//! devs) annotated `landed.dev/breakglass: INC-4321 …`, whose three images are all absent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use kube::core::admission::AdmissionResponse;
use landed::admission::{decode, Pipeline, Route};
use landed::config::Config;
use landed::image::Reference;
use landed::policy::{FailurePolicy, Loaded, PolicySet, PolicyStore};
use landed::resolve::{LookupContext, Resolve, TableResolver};
use landed::verdict::Verdict;

mod policy_doubles;
use policy_doubles::DenyUnlanded;

const REASON: &str = "INC-4321 registry outage, approved by on-call";

/// Every image absent; counts lookups.
#[derive(Default)]
struct Counting {
    calls: AtomicUsize,
    inner: TableResolver,
}

impl Resolve for Counting {
    fn resolve<'a>(&'a self, r: &'a Reference, c: &'a LookupContext) -> BoxFuture<'a, Verdict> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.resolve(r, c)
    }
}

struct Landed {
    pipeline: Pipeline,
    resolver: Arc<Counting>,
}

/// A pipeline running the doubles `names` (each denies what did not land) under `config`.
fn landed(config: Config, names: &[&'static str]) -> Landed {
    let policies = names
        .iter()
        .map(|name| Loaded::new(DenyUnlanded(name), FailurePolicy::Fail))
        .collect();
    let resolver = Arc::new(Counting::default());
    let store = Arc::new(PolicyStore::new(PolicySet { policies }));
    Landed {
        pipeline: Pipeline::new(config.review_settings(None), resolver.clone(), store),
        resolver,
    }
}

impl Landed {
    async fn review(&self) -> AdmissionResponse {
        let path = format!(
            "{}/tests/data/reviews/deployment-create-breakglass.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let req = decode(&std::fs::read(&path).expect("fixture")).expect("review");
        self.pipeline.review(&req, Route::Validate).await
    }

    fn lookups(&self) -> usize {
        self.resolver.calls.load(Ordering::SeqCst)
    }
}

fn restricted(users: &[&str], groups: &[&str]) -> Config {
    let mut config = Config::default();
    config.breakglass.users = users.iter().map(|s| (*s).to_owned()).collect();
    config.breakglass.groups = groups.iter().map(|s| (*s).to_owned()).collect();
    config
}

#[tokio::test]
async fn breakglass_skips_require_landed_with_a_warning_naming_reason_and_skipped_policies() {
    let landed = landed(Config::default(), &["require-landed"]);
    let resp = landed.review().await;
    assert!(resp.allowed, "{}", resp.result.message);
    let warnings = resp.warnings.expect("a breakglass warning");
    assert!(
        warnings[0].contains(REASON) && warnings[0].contains("skipped policies: require-landed"),
        "{warnings:?}"
    );
    assert_eq!(
        resp.audit_annotations.get("breakglass").map(String::as_str),
        Some(REASON)
    );
    assert_eq!(
        resp.audit_annotations
            .get("breakglass-skipped")
            .map(String::as_str),
        Some("require-landed")
    );
    // Every policy of the endpoint was skipped: nothing needed a verdict.
    assert_eq!(landed.lookups(), 0);
}

#[tokio::test]
async fn breakglass_cannot_skip_a_policy_missing_from_breakglass_skips() {
    let landed = landed(Config::default(), &["require-landed", "house-rule"]);
    let resp = landed.review().await;
    assert!(!resp.allowed, "house-rule still runs and denies");
    assert!(
        resp.result.message.contains("is absent"),
        "{:?}",
        resp.result
    );
    let warnings = resp.warnings.expect("warnings");
    assert!(
        warnings[0].contains("skipped policies: require-landed"),
        "{warnings:?}"
    );
    assert_eq!(
        landed.lookups(),
        3,
        "the images are resolved for house-rule"
    );

    let mut config = Config::default();
    config.breakglass.skips = Some(vec!["require-landed".into(), "house-rule".into()]);
    let resp = self::landed(config, &["require-landed", "house-rule"])
        .review()
        .await;
    assert!(resp.allowed, "both listed: both skipped");
}

#[tokio::test]
async fn breakglass_by_a_requester_outside_users_and_groups_is_ignored_with_a_warning() {
    let landed = landed(
        restricted(&["bob@example.com"], &["oncall@example.com"]),
        &["require-landed"],
    );
    let resp = landed.review().await;
    assert!(!resp.allowed, "reviewed as if the annotation were absent");
    assert!(
        resp.result.message.contains("is absent"),
        "{:?}",
        resp.result
    );
    let warnings = resp.warnings.expect("warnings");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("breakglass is not permitted for alice@example.com")),
        "{warnings:?}"
    );
    assert_eq!(
        resp.audit_annotations
            .get("breakglass-refused")
            .map(String::as_str),
        Some(REASON)
    );
    assert!(!resp.audit_annotations.contains_key("breakglass"));
    assert_eq!(landed.lookups(), 3);
}

#[tokio::test]
async fn breakglass_by_a_listed_user_or_group_member_is_honoured() {
    for config in [
        restricted(&[], &["devs"]),
        restricted(&["alice@example.com"], &["oncall@example.com"]),
    ] {
        let resp = landed(config, &["require-landed"]).review().await;
        assert!(resp.allowed, "{}", resp.result.message);
    }
}

#[tokio::test]
async fn breakglass_disabled_is_no_breakglass_at_all() {
    let mut config = Config::default();
    config.breakglass.enabled = false;
    let resp = landed(config, &["require-landed"]).review().await;
    assert!(!resp.allowed);
    assert_eq!(resp.warnings, None);
}
