//! Shared helpers for the policy tests: built-in components, inputs, and WAT policies.
#![allow(dead_code, clippy::unwrap_used)]

pub mod hostile;

use std::path::PathBuf;

use landed::config::{Mode, OnUndetermined};
use landed::policy::{
    builtin_file, policy_dir, ContainerType, ImageInput, Policy, PolicyContext, PolicyEngine,
    PolicyError, PolicyInput, PolicyLimits, PolicyOutput, PreparedInput, RequestInfo,
};
use landed::verdict::VerdictClass;

/// The built-in component `name`, or a panic telling how to build it.
pub fn builtin(name: &str) -> PathBuf {
    let dir = policy_dir(None);
    let file = builtin_file(&dir, name);
    assert!(
        file.is_file(),
        "built-in policy {name} not found at {} — run policies/build.sh first \
         (or set LANDED_POLICY_DIR)",
        file.display()
    );
    file
}

/// An engine with default limits.
pub fn engine() -> PolicyEngine {
    PolicyEngine::new(PolicyLimits::default()).unwrap()
}

/// One image in a pod's first container list.
pub fn image(index: usize, reference: &str, verdict: VerdictClass) -> ImageInput {
    ImageInput {
        path: format!("spec.containers[{index}].image"),
        container: format!("c{index}"),
        container_type: ContainerType::Container,
        reference: reference.to_owned(),
        normalized: Some(format!("registry.example/{reference}")),
        verdict,
        digest: (verdict == VerdictClass::Landed).then(|| {
            "sha256:1111111111111111111111111111111111111111111111111111111111111111".to_owned()
        }),
        detail: format!("test verdict {verdict}"),
        stale: false,
    }
}

/// A Pod review with `images`.
pub fn input(images: Vec<ImageInput>, mutating: bool) -> PolicyInput {
    PolicyInput {
        request: RequestInfo {
            uid: "uid-1".into(),
            group: String::new(),
            kind: "Pod".into(),
            sub_resource: None,
            operation: "CREATE".into(),
            namespace: Some("default".into()),
            name: "web".into(),
            user_info: Default::default(),
            dry_run: false,
            object: landed::policy::ObjectText::from_value(
                &serde_json::json!({"spec": {"containers": []}}),
            ),
        },
        images,
        settings: serde_json::Value::Null,
        context: PolicyContext {
            mode: Mode::Enforce,
            on_undetermined: OnUndetermined::Allow,
            mutating,
        },
    }
}

/// Evaluates `review` with its own settings, as the only policy of a review.
pub async fn evaluate(
    policy: &dyn Policy,
    review: &PolicyInput,
) -> Result<PolicyOutput, PolicyError> {
    policy
        .evaluate(&PreparedInput::new(review), &review.settings)
        .await
}

/// Escapes bytes for a WAT data string.
fn wat_data(text: &str) -> String {
    text.bytes().map(|b| format!("\\{b:02x}")).collect()
}

/// A policy component written by hand in WAT (no SDK, no Rust): it denies when the input
/// contains `"verdict":"absent"` and allows with a warning otherwise. `validate_body`
/// replaces the body of the core `validate` function when given (for hostile policies;
/// it receives the input as `(param $ptr i32) (param $len i32)` and returns a pointer to
/// the (ptr, len) pair of the output string), and `extra` adds core functions.
pub fn wat_policy(validate_body: Option<&str>, extra: &str) -> Vec<u8> {
    wat_policy_saying("hello from WAT", validate_body, extra)
}

/// [`wat_policy`] whose allow carries the warning `warning` (plain ASCII, no quotes).
pub fn wat_policy_saying(warning: &str, validate_body: Option<&str>, extra: &str) -> Vec<u8> {
    let allow = format!(r#"{{"allowed":true,"warnings":["{warning}"]}}"#);
    let deny = r#"{"allowed":false,"message":"WAT policy: an image is absent"}"#;
    let pattern = r#""verdict":"absent""#;
    let default_body = format!(
        "(if (result i32) (call $contains (local.get $ptr) (local.get $len) (i32.const 512) (i32.const {pl}))
           (then (call $answer (i32.const 256) (i32.const {dl})))
           (else (call $answer (i32.const 128) (i32.const {al}))))",
        pl = pattern.len(),
        dl = deny.len(),
        al = allow.len()
    );
    let body = validate_body.map_or(default_body, str::to_owned);
    let text = format!(
        r#"(component
  (core module $m
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const 4096))
    (data (i32.const 128) "{allow}")
    (data (i32.const 256) "{deny}")
    (data (i32.const 512) "{pattern}")
    {realloc}
    (func $answer (param $p i32) (param $n i32) (result i32)
      (i32.store (i32.const 64) (local.get $p))
      (i32.store (i32.const 68) (local.get $n))
      (i32.const 64))
    {contains}
    {extra}
    (func (export "validate") (param $ptr i32) (param $len i32) (result i32)
      {body})
    (func (export "validate-settings") (param i32 i32) (result i32)
      (i32.store8 (i32.const 80) (i32.const 0))
      (i32.const 80))
  )
  (core instance $i (instantiate $m))
  (func (export "validate") (param "input" string) (result string)
    (canon lift (core func $i "validate") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (func (export "validate-settings") (param "settings" string) (result (result (error string)))
    (canon lift (core func $i "validate-settings") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
)"#,
        contains = WAT_CONTAINS,
        realloc = WAT_REALLOC,
        allow = wat_data(&allow),
        deny = wat_data(deny),
        pattern = wat_data(pattern),
    );
    wat::parse_str(&text).unwrap_or_else(|e| panic!("bad WAT: {e}\n{text}"))
}

/// A core-wasm bump allocator `$realloc` (exported as `realloc`) over the global `$heap`,
/// growing memory as needed. Shared by the WAT test policies.
pub const WAT_REALLOC: &str = r#"(func $realloc (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $ret i32) (local $end i32)
      (local.set $ret (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                               (i32.sub (i32.const 0) (local.get 2))))
      (local.set $end (i32.add (local.get $ret) (local.get 3)))
      (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
        (then (drop (memory.grow (i32.add (i32.shr_u (i32.sub (local.get $end) (i32.mul (memory.size) (i32.const 65536))) (i32.const 16)) (i32.const 1))))))
      (global.set $heap (local.get $end))
      (local.get $ret))"#;

/// A core-wasm function `$contains(p, n, pat, m) -> i32`: whether bytes [p, p+n) contain the
/// m bytes at pat. Shared by the WAT test policies that inspect their JSON input.
pub const WAT_CONTAINS: &str = r#"(func $contains (param $p i32) (param $n i32) (param $pat i32) (param $m i32) (result i32)
      (local $i i32) (local $j i32)
      (block $notfound
        (loop $outer
          (br_if $notfound (i32.gt_u (i32.add (local.get $i) (local.get $m)) (local.get $n)))
          (local.set $j (i32.const 0))
          (block $mismatch
            (loop $inner
              (if (i32.eq (local.get $j) (local.get $m)) (then (return (i32.const 1))))
              (br_if $mismatch (i32.ne
                (i32.load8_u (i32.add (local.get $p) (i32.add (local.get $i) (local.get $j))))
                (i32.load8_u (i32.add (local.get $pat) (local.get $j)))))
              (local.set $j (i32.add (local.get $j) (i32.const 1)))
              (br $inner)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $outer)))
      (i32.const 0))"#;

/// The image the resolving WAT policy asks the host about.
pub const ASKED: &str = "registry.example/base/runtime:3";

/// A component importing `resolve-image` around `core`: the data and functions of a core
/// module that sees the component's memory as `mem`, `$resolve` (reference pointer and
/// length, result pointer) and exports `validate`.
pub fn resolving_component(core: &str) -> Vec<u8> {
    let text = format!(
        r#"(component
  (import "landed:policy/host@0.1.0" (instance $h
    (export "resolve-image" (func (param "reference" string) (result string)))))
  (alias export $h "resolve-image" (func $resolve_image))
  (core module $mem
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const 4096))
    {WAT_REALLOC})
  (core instance $mi (instantiate $mem))
  (core func $resolve (canon lower (func $resolve_image)
    (memory (core memory $mi "memory")) (realloc (core func $mi "realloc"))))
  (core module $m
    (import "mem" "memory" (memory 1))
    (import "host" "resolve-image" (func $resolve (param i32 i32 i32)))
    {core})
  (core instance $i (instantiate $m
    (with "mem" (instance $mi))
    (with "host" (instance (export "resolve-image" (func $resolve))))))
  (func (export "validate") (param "input" string) (result string)
    (canon lift (core func $i "validate") (memory (core memory $mi "memory")) (realloc (core func $mi "realloc")))))"#
    );
    wat::parse_str(&text).unwrap_or_else(|e| panic!("bad WAT: {e}\n{text}"))
}

/// A WAT policy importing `resolve-image`: allows unless `resolve-image(ASKED)` answers `"verdict":"absent"`.
pub fn resolving_policy() -> Vec<u8> {
    let allow = r#"{"allowed":true}"#;
    let deny = r#"{"allowed":false,"message":"base image absent"}"#;
    let pattern = r#""verdict":"absent""#;
    resolving_component(&format!(
        r#"(data (i32.const 128) "{allow}")
    (data (i32.const 256) "{deny}")
    (data (i32.const 512) "{pattern}")
    (data (i32.const 768) "{asked}")
    {contains}
    (func (export "validate") (param i32 i32) (result i32)
      (call $resolve (i32.const 768) (i32.const {asked_len}) (i32.const 32))
      (if (call $contains (i32.load (i32.const 32)) (i32.load (i32.const 36)) (i32.const 512) (i32.const {pattern_len}))
        (then (i32.store (i32.const 64) (i32.const 256)) (i32.store (i32.const 68) (i32.const {deny_len})))
        (else (i32.store (i32.const 64) (i32.const 128)) (i32.store (i32.const 68) (i32.const {allow_len}))))
      (i32.const 64))"#,
        contains = WAT_CONTAINS,
        allow = wat_data(allow),
        deny = wat_data(deny),
        pattern = wat_data(pattern),
        asked = wat_data(ASKED),
        asked_len = ASKED.len(),
        pattern_len = pattern.len(),
        deny_len = deny.len(),
        allow_len = allow.len(),
    ))
}
