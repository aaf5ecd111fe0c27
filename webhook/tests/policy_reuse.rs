//! `input: images`: the policy is handed no object, and a policy that imports nothing is not
//! called again for an input it has answered. Real components: the built-in
//! `require-landed`, a WAT policy reading its input, and a WAT policy importing
//! `resolve-image`.
#![allow(clippy::unwrap_used)]

mod policy_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use landed::image::Reference;
use landed::policy::{
    InputScope, ObjectText, Policy, PolicyInput, PreparedInput, ResolveAccess, WasmPolicy,
};
use landed::resolve::{LookupContext, Resolve};
use landed::verdict::{Verdict, VerdictClass};
use policy_support::{builtin, engine, image, input, resolving_policy, wat_policy};

/// How often the metrics say `policy`'s answer was reused.
fn reused(policy: &str) -> u64 {
    let text = landed::metrics::global().encode();
    let series = format!("landed_policy_answers_reused_total{{policy=\"{policy}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// `review` as the pipeline hands it to its policies.
async fn evaluate(policy: &WasmPolicy, review: &PolicyInput) -> landed::policy::PolicyOutput {
    let prepared = PreparedInput::with_lookup(review, LookupContext::default());
    policy.evaluate(&prepared, &review.settings).await.unwrap()
}

fn named(mut review: PolicyInput, name: &str) -> PolicyInput {
    review.request.name = name.into();
    review.request.uid = format!("uid-{name}");
    review
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_landed_answers_pods_of_one_template_once_and_sees_a_changed_verdict() {
    let name = "require-landed-reuse-test";
    let bytes = std::fs::read(builtin("require-landed")).unwrap();
    let policy = WasmPolicy::load(&engine(), name, &bytes, &serde_json::Value::Null)
        .unwrap()
        .with_input_scope(InputScope::Images);
    assert!(policy.reuses_answers(), "the built-in imports nothing");
    let landed = input(vec![image(0, "app:1", VerdictClass::Landed)], false);

    assert!(
        evaluate(&policy, &named(landed.clone(), "web-a"))
            .await
            .allowed
    );
    assert_eq!(reused(name), 0);
    // Another pod of the same template: same images, same namespace, another name and uid.
    assert!(
        evaluate(&policy, &named(landed.clone(), "web-b"))
            .await
            .allowed
    );
    assert_eq!(reused(name), 1);

    // The registry now says absent: a different input, so the policy runs and denies.
    let absent = input(vec![image(0, "app:1", VerdictClass::Absent)], false);
    let out = evaluate(&policy, &named(absent, "web-c")).await;
    assert!(!out.allowed);
    assert!(out.message.unwrap().contains("absent"));
    assert_eq!(reused(name), 1);

    // Another namespace is another input too.
    let mut elsewhere = named(landed, "web-d");
    elsewhere.request.namespace = Some("staging".into());
    assert!(evaluate(&policy, &elsewhere).await.allowed);
    assert_eq!(reused(name), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_images_scope_hands_no_object() {
    // The WAT policy denies when its input text contains `"verdict":"absent"`; here only the
    // object does, every image has landed.
    let mut review = input(vec![image(0, "app:1", VerdictClass::Landed)], false);
    review.request.object = ObjectText::from_value(
        &serde_json::json!({"spec": {"containers": [{"name": "x", "verdict": "absent"}]}}),
    );
    let bytes = wat_policy(None, "");
    let full = WasmPolicy::load(&engine(), "reads-input", &bytes, &serde_json::Value::Null)
        .unwrap()
        .with_input_scope(InputScope::Full);
    assert!(!full.reuses_answers(), "full input is never reused");
    assert!(
        !evaluate(&full, &review).await.allowed,
        "with the object it sees the text"
    );
    let images = full.clone().with_input_scope(InputScope::Images);
    assert!(evaluate(&images, &review).await.allowed);
    // One review's input shared by both, as the pipeline shares it: each sees its own scope.
    let prepared = PreparedInput::with_lookup(&review, LookupContext::default());
    let shared = [&images, &full, &images].map(|p| p.evaluate(&prepared, &review.settings));
    let answers: Vec<bool> = futures::future::join_all(shared)
        .await
        .into_iter()
        .map(|out| out.unwrap().allowed)
        .collect();
    assert_eq!(answers, [true, false, true]);
}

/// Answers `landed` until switched to `absent`.
struct Switch(AtomicBool);

impl Resolve for Switch {
    fn resolve<'a>(&'a self, _: &'a Reference, _: &'a LookupContext) -> BoxFuture<'a, Verdict> {
        let class = match self.0.load(Ordering::SeqCst) {
            true => VerdictClass::Absent,
            false => VerdictClass::Landed,
        };
        Box::pin(async move { Verdict::new(class, "from the switch") })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_asking_the_registry_is_asked_again() {
    let name = "resolving-reuse-test";
    let switch = Arc::new(Switch(AtomicBool::new(false)));
    let bytes = resolving_policy();
    let policy = WasmPolicy::load(&engine(), name, &bytes, &serde_json::Value::Null)
        .unwrap()
        .with_resolver(ResolveAccess {
            resolver: switch.clone(),
            budget: Duration::from_secs(1),
        })
        .with_input_scope(InputScope::Images);
    assert!(!policy.reuses_answers(), "it imports resolve-image");
    let review = input(vec![image(0, "app:1", VerdictClass::Landed)], false);
    assert!(evaluate(&policy, &review).await.allowed);
    switch.0.store(true, Ordering::SeqCst);
    // The same input, but the registry's answer changed: only a fresh call can see it.
    assert!(!evaluate(&policy, &review).await.allowed);
    assert_eq!(reused(name), 0);
}
