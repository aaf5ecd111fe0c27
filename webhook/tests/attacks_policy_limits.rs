//! Attacks on the policy sandbox's resource limits: memory spread over several memories and
//! tables so that each stays under the cap, and an answer far over the output limit.
#![allow(clippy::unwrap_used)]

mod policy_support;

use std::time::{Duration, Instant};

use landed::policy::{PolicyEngine, PolicyError, PolicyLimits, WasmPolicy};
use landed::verdict::VerdictClass;
use policy_support::hostile::{
    output_of, resolve_image_loop_spinning, resolve_image_of_length, two_memories_and_a_table,
};
use policy_support::{evaluate, image, input, wat_policy};
use serde_json::Value;

/// 64 KiB pages in `mib` MiB.
const fn pages(mib: u32) -> u32 {
    mib * 16
}

async fn run(limits: PolicyLimits, wasm: &[u8]) -> Result<bool, PolicyError> {
    let engine = PolicyEngine::new(limits).unwrap();
    let policy = WasmPolicy::load(&engine, "hostile", wasm, &Value::Null).unwrap();
    let review = input(vec![image(0, "a:1", VerdictClass::Landed)], false);
    evaluate(&policy, &review).await.map(|out| out.allowed)
}

#[tokio::test]
async fn two_memories_each_under_the_cap_but_over_it_together_are_refused() {
    // 40 MiB + 40 MiB: each under the 64 MiB cap, 80 MiB together.
    let wasm = two_memories_and_a_table(pages(40), pages(40), 0);
    let err = run(PolicyLimits::default(), &wasm).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, PolicyError::Failed { .. }), "{text}");
    assert!(
        text.contains("exceeded its memory limit of 64 MiB")
            && text.contains("memories and tables together"),
        "{text}"
    );
    // The same component within the cap runs: the refusal is the sum, not the shape.
    let small = two_memories_and_a_table(pages(20), pages(20), 0);
    assert!(run(PolicyLimits::default(), &small).await.unwrap());
}

#[tokio::test]
async fn a_table_filling_what_memory_left_is_refused() {
    // A 2 MiB cap: two memories of 1 MiB less two pages (plus their first page each), then
    // 20,000 table elements (156 KiB) on top.
    let limits = PolicyLimits {
        max_memory_mib: 2,
        ..PolicyLimits::default()
    };
    let wasm = two_memories_and_a_table(pages(1) - 2, pages(1) - 2, 20_000);
    let err = run(limits.clone(), &wasm).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("exceeded its memory limit of 2 MiB")
            && text.contains("memories and tables together"),
        "{text}"
    );
    let fits = two_memories_and_a_table(pages(1) - 4, pages(1) - 4, 1_000);
    assert!(run(limits, &fits).await.unwrap());
}

#[tokio::test]
async fn an_output_over_max_output_bytes_is_refused_naming_the_limit() {
    // 32 MiB of answer against the 1 MiB limit; it is never copied out of the guest.
    let wasm = wat_policy(Some(&output_of(32 << 20)), "");
    let err = run(PolicyLimits::default(), &wasm).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, PolicyError::InvalidOutput { .. }), "{text}");
    assert!(
        text.contains("output is 33554432 bytes, over the limit of 1048576"),
        "{text}"
    );
    // At the limit exactly it is read (and refused only for not being JSON).
    let at_limit = wat_policy(Some(&output_of(1 << 20)), "");
    let text = run(PolicyLimits::default(), &at_limit)
        .await
        .unwrap_err()
        .to_string();
    assert!(text.contains("not JSON"), "{text}");
}

#[tokio::test]
async fn guest_time_is_charged_across_host_calls_not_reset_by_them() {
    // A guest that works a few milliseconds between host calls: each call used to give it a
    // fresh deadline, so it ran until the call cap (100,000 calls here). Its time adds up.
    let limits = PolicyLimits {
        deadline: Duration::from_millis(200),
        max_resolve_calls: 100_000,
        ..PolicyLimits::default()
    };
    let wasm = resolve_image_loop_spinning("\"kind\":\"Pod\"", "x/y:1", 2_000_000);
    let started = Instant::now();
    let err = run(limits, &wasm).await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, PolicyError::Timeout { .. }), "{err}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn a_reference_longer_than_any_valid_one_is_answered_without_a_lookup() {
    // 8 MiB of reference: answered invalid_reference, and the guest goes on to decide.
    let longer = "\"verdict\":\"invalid_reference\",\"detail\":\"a reference of 8388608 bytes is longer than any valid one\"";
    let wasm = resolve_image_of_length(8 << 20, longer);
    assert!(run(PolicyLimits::default(), &wasm).await.unwrap());
    // A short one is looked up (no resolver here: unavailable).
    let short = resolve_image_of_length(100, "\"verdict\":\"unavailable\"");
    assert!(run(PolicyLimits::default(), &short).await.unwrap());
}
