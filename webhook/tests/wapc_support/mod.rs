//! waPC guests written in WAT that speak the protocol exactly as wapc-guest does: the guest
//! asks for its operation and payload with `__guest_request`, answers `protocol_version`
//! and `validate_settings`, and runs a test's own `validate` body.
#![allow(dead_code, clippy::unwrap_used)]

use landed::policy::{
    KubewardenPolicy, LoadError, PolicyEngine, PolicyError, PolicyInput, PolicyOutput,
    PreparedInput,
};

/// A WAT string literal holding `bytes`.
pub fn wat_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// The parts of a guest a test may change.
pub struct Guest<'a> {
    /// What `protocol_version` answers.
    pub version: &'a str,
    /// What `validate_settings` answers.
    pub settings: &'a str,
    /// The `validate` answer stored at offset 512 (see [`ANSWER`]).
    pub answer: &'a str,
    /// The body of `validate` (returns i32: 1 success, 0 error).
    pub validate: &'a str,
    /// More imports (before any definition).
    pub imports: &'a str,
    /// More definitions.
    pub extra: &'a str,
}

/// The body that answers the stored `answer`.
pub const ANSWER: &str =
    "(call $guest_response (i32.const 512) (global.get $answer_len)) (i32.const 1)";

/// The body that echoes the payload back as the guest's error.
pub const ECHO: &str = "(call $guest_error (i32.const 65536) (global.get $len)) (i32.const 0)";

impl Default for Guest<'_> {
    fn default() -> Self {
        Self {
            version: r#""v1""#,
            settings: r#"{"valid":true}"#,
            answer: r#"{"accepted":true}"#,
            validate: ANSWER,
            imports: "",
            extra: "",
        }
    }
}

impl Guest<'_> {
    /// The module's binary.
    pub fn build(&self) -> Vec<u8> {
        let wat = format!(
            r#"(module
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (import "wapc" "__guest_error" (func $guest_error (param i32 i32)))
  (import "wapc" "__host_call" (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wapc" "__host_response_len" (func $host_response_len (result i32)))
  (import "wapc" "__host_response" (func $host_response (param i32)))
  (import "wapc" "__host_error_len" (func $host_error_len (result i32)))
  (import "wapc" "__host_error" (func $host_error (param i32)))
  (import "wapc" "__console_log" (func $console_log (param i32 i32)))
  {imports}
  (memory (export "memory") 4)
  (global $len (mut i32) (i32.const 0))
  (global $answer_len i32 (i32.const {answer_len}))
  (data (i32.const 128) "{version}")
  (data (i32.const 256) "{settings}")
  (data (i32.const 512) "{answer}")
  (data (i32.const 8189) "ok:")
  (data (i32.const 16380) "err:")
  {extra}
  (func $validate (result i32) {validate})
  (func (export "__guest_call") (param $op_len i32) (param $len i32) (result i32)
    (global.set $len (local.get $len))
    (call $guest_request (i32.const 1024) (i32.const 65536))
    (if (i32.eq (local.get $op_len) (i32.const 16))
      (then (call $guest_response (i32.const 128) (i32.const {version_len})) (return (i32.const 1))))
    (if (i32.eq (local.get $op_len) (i32.const 17))
      (then (call $guest_response (i32.const 256) (i32.const {settings_len})) (return (i32.const 1))))
    (call $validate))
  (func (export "wapc_init")))"#,
            imports = self.imports,
            extra = self.extra,
            validate = self.validate,
            version = wat_bytes(self.version.as_bytes()),
            version_len = self.version.len(),
            settings = wat_bytes(self.settings.as_bytes()),
            settings_len = self.settings.len(),
            answer = wat_bytes(self.answer.as_bytes()),
            answer_len = self.answer.len(),
        );
        wat::parse_str(wat).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Data segments and a `validate` body calling `__host_call("kubewarden", ns, op,
/// payload)`; the guest reports `ok:<response>` or `err:<error>` as its error text.
pub fn host_call(binding: &str, ns: &str, op: &str, payload: &str) -> (String, String) {
    let data = format!(
        r#"(data (i32.const 2048) "{}") (data (i32.const 2304) "{}") (data (i32.const 2560) "{}") (data (i32.const 2816) "{}")"#,
        wat_bytes(binding.as_bytes()),
        wat_bytes(ns.as_bytes()),
        wat_bytes(op.as_bytes()),
        wat_bytes(payload.as_bytes()),
    );
    let body = format!(
        r#"(local $n i32)
    (if (result i32) (call $host_call (i32.const 2048) (i32.const {}) (i32.const 2304) (i32.const {})
          (i32.const 2560) (i32.const {}) (i32.const 2816) (i32.const {}))
      (then
        (local.set $n (call $host_response_len))
        (call $host_response (i32.const 8192))
        (call $guest_error (i32.const 8189) (i32.add (local.get $n) (i32.const 3)))
        (i32.const 0))
      (else
        (local.set $n (call $host_error_len))
        (call $host_error (i32.const 16384))
        (call $guest_error (i32.const 16380) (i32.add (local.get $n) (i32.const 4)))
        (i32.const 0)))"#,
        binding.len(),
        ns.len(),
        op.len(),
        payload.len()
    );
    (data, body)
}

/// Loads `bytes` as a Kubewarden policy with no settings.
pub fn load(engine: &PolicyEngine, bytes: &[u8]) -> Result<KubewardenPolicy, LoadError> {
    KubewardenPolicy::load(engine, "kw-test", bytes, &serde_json::Value::Null)
}

/// Evaluates `policy` on `input`, the request read from `body` when given.
pub async fn run(
    policy: &KubewardenPolicy,
    input: &PolicyInput,
    body: Option<&[u8]>,
) -> Result<PolicyOutput, PolicyError> {
    use landed::policy::Policy;
    let mut prepared = PreparedInput::with_lookup(input, Default::default());
    if let Some(body) = body {
        prepared = prepared.with_review_body(body);
    }
    policy.evaluate(&prepared, &input.settings).await
}

/// What the guest reported as its error, or a panic.
pub fn reported(result: Result<PolicyOutput, PolicyError>) -> String {
    match result {
        Err(PolicyError::Failed { reason, .. }) => reason
            .strip_prefix("reported an error: ")
            .unwrap_or_else(|| panic!("not a guest error: {reason}"))
            .to_owned(),
        other => panic!("expected a guest error, got {other:?}"),
    }
}
