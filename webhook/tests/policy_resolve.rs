//! The `resolve-image` import: a WAT policy asks the host about an image that is not in
//! the review, and the answer comes from the resolver handed to the policy.
#![allow(clippy::unwrap_used)]

mod policy_support;

use std::sync::Arc;
use std::time::Duration;

use landed::policy::{ResolveAccess, WasmPolicy};
use landed::resolve::TableResolver;
use landed::verdict::{Verdict, VerdictClass};
use policy_support::{engine, evaluate, image, input, resolving_policy, ASKED};

fn with_table(policy: &WasmPolicy, class: VerdictClass) -> WasmPolicy {
    let normalized = landed::image::Reference::parse(ASKED).unwrap().to_string();
    let table = TableResolver::new().with(normalized, Verdict::new(class, "from the table"));
    policy.clone().with_resolver(ResolveAccess {
        resolver: Arc::new(table),
        budget: Duration::from_secs(1),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_image_goes_through_the_resolver() {
    let engine = engine();
    let policy = WasmPolicy::load(
        &engine,
        "resolving",
        &resolving_policy(),
        &serde_json::Value::Null,
    )
    .unwrap();
    let review = input(vec![image(0, "app:1", VerdictClass::Landed)], false);
    let out = evaluate(&with_table(&policy, VerdictClass::Absent), &review)
        .await
        .unwrap();
    assert!(!out.allowed);
    assert_eq!(out.message.as_deref(), Some("base image absent"));
    let out = evaluate(&with_table(&policy, VerdictClass::Landed), &review)
        .await
        .unwrap();
    assert!(out.allowed);
    // Without a resolver the host answers `unavailable`, never an error.
    assert!(evaluate(&policy, &review).await.unwrap().allowed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_image_answers_from_the_review_first() {
    let engine = engine();
    let policy = WasmPolicy::load(
        &engine,
        "resolving",
        &resolving_policy(),
        &serde_json::Value::Null,
    )
    .unwrap();
    let policy = with_table(&policy, VerdictClass::Landed);
    let mut review = input(vec![image(0, "app:1", VerdictClass::Landed)], false);
    let mut base = image(1, ASKED, VerdictClass::Absent);
    base.reference = ASKED.into();
    review.images.push(base);
    assert!(!evaluate(&policy, &review).await.unwrap().allowed);
}
