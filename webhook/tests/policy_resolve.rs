//! The `resolve-image` import: a WAT policy asks the host about an image that is not in
//! the review, and the answer comes from the resolver handed to the policy.
#![allow(clippy::unwrap_used)]

mod policy_support;

use std::sync::Arc;
use std::time::Duration;

use landed::policy::{Policy, ResolveAccess, WasmPolicy};
use landed::resolve::TableResolver;
use landed::verdict::{Verdict, VerdictClass};
use policy_support::{engine, image, input};

const ASKED: &str = "registry.example/base/runtime:3";

/// Allows unless `resolve-image(ASKED)` answers `"verdict":"absent"`.
fn resolving_policy() -> Vec<u8> {
    let hex = |s: &str| s.bytes().map(|b| format!("\\{b:02x}")).collect::<String>();
    let allow = r#"{"allowed":true}"#;
    let deny = r#"{"allowed":false,"message":"base image absent"}"#;
    let pattern = r#""verdict":"absent""#;
    let text = format!(
        r#"(component
  (import "landed:policy/host@0.1.0" (instance $h
    (export "resolve-image" (func (param "reference" string) (result string)))))
  (alias export $h "resolve-image" (func $resolve_image))
  (core module $mem
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const 4096))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $ret i32) (local $end i32)
      (local.set $ret (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                               (i32.sub (i32.const 0) (local.get 2))))
      (local.set $end (i32.add (local.get $ret) (local.get 3)))
      (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
        (then (drop (memory.grow (i32.add (i32.shr_u (i32.sub (local.get $end) (i32.mul (memory.size) (i32.const 65536))) (i32.const 16)) (i32.const 1))))))
      (global.set $heap (local.get $end))
      (local.get $ret)))
  (core instance $mi (instantiate $mem))
  (core func $resolve (canon lower (func $resolve_image)
    (memory (core memory $mi "memory")) (realloc (core func $mi "realloc"))))
  (core module $m
    (import "mem" "memory" (memory 1))
    (import "host" "resolve-image" (func $resolve (param i32 i32 i32)))
    (data (i32.const 128) "{allow}")
    (data (i32.const 256) "{deny}")
    (data (i32.const 512) "{pattern}")
    (data (i32.const 768) "{asked}")
    {contains}
    (func (export "validate") (param i32 i32) (result i32)
      (call $resolve (i32.const 768) (i32.const {asked_len}) (i32.const 32))
      (if (call $contains (i32.load (i32.const 32)) (i32.load (i32.const 36)) (i32.const 512) (i32.const {pattern_len}))
        (then (i32.store (i32.const 64) (i32.const 256)) (i32.store (i32.const 68) (i32.const {deny_len})))
        (else (i32.store (i32.const 64) (i32.const 128)) (i32.store (i32.const 68) (i32.const {allow_len}))))
      (i32.const 64)))
  (core instance $i (instantiate $m
    (with "mem" (instance $mi))
    (with "host" (instance (export "resolve-image" (func $resolve))))))
  (func (export "validate") (param "input" string) (result string)
    (canon lift (core func $i "validate") (memory (core memory $mi "memory")) (realloc (core func $mi "realloc")))))"#,
        contains = policy_support::WAT_CONTAINS,
        allow = hex(allow),
        deny = hex(deny),
        pattern = hex(pattern),
        asked = hex(ASKED),
        asked_len = ASKED.len(),
        pattern_len = pattern.len(),
        deny_len = deny.len(),
        allow_len = allow.len(),
    );
    wat::parse_str(&text).unwrap_or_else(|e| panic!("bad WAT: {e}"))
}

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
    let out = with_table(&policy, VerdictClass::Absent)
        .evaluate(&review)
        .await
        .unwrap();
    assert!(!out.allowed);
    assert_eq!(out.message.as_deref(), Some("base image absent"));
    let out = with_table(&policy, VerdictClass::Landed)
        .evaluate(&review)
        .await
        .unwrap();
    assert!(out.allowed);
    // Without a resolver the host answers `unavailable`, never an error.
    assert!(policy.evaluate(&review).await.unwrap().allowed);
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
    assert!(!policy.evaluate(&review).await.unwrap().allowed);
}
