//! Hostile policy components written in WAT, for the attack tests: each does one thing a
//! policy must not be able to turn into a stall or an outsized allocation.

use super::{resolving_component, wat_data, WAT_CONTAINS, WAT_REALLOC};

/// A `realloc` that hands out the same block every time (growing memory when needed): a guest
/// that calls the host forever then runs in constant memory, so only the host's limits can
/// stop it.
const WAT_REUSING_REALLOC: &str = r#"(func $realloc (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $end i32)
      (local.set $end (i32.add (i32.const 4096) (local.get 3)))
      (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
        (then (drop (memory.grow (i32.add (i32.shr_u (i32.sub (local.get $end) (i32.mul (memory.size) (i32.const 65536))) (i32.const 16)) (i32.const 1))))))
      (i32.const 4096))"#;

/// A policy that, when its input contains `marker`, calls `resolve-image(asked)` forever;
/// otherwise it allows.
pub fn resolve_image_loop(marker: &str, asked: &str) -> Vec<u8> {
    resolve_image_loop_spinning(marker, asked, 0)
}

/// [`resolve_image_loop`] counting down from `spin` between calls (guest work).
pub fn resolve_image_loop_spinning(marker: &str, asked: &str, spin: u32) -> Vec<u8> {
    let allow = r#"{"allowed":true}"#;
    let text = format!(
        r#"(component
  (import "landed:policy/host@0.1.0" (instance $h
    (export "resolve-image" (func (param "reference" string) (result string)))))
  (alias export $h "resolve-image" (func $resolve_image))
  (core module $mem
    (memory (export "memory") 1)
    {realloc})
  (core instance $mi (instantiate $mem))
  (core func $resolve (canon lower (func $resolve_image)
    (memory (core memory $mi "memory")) (realloc (core func $mi "realloc"))))
  (core module $m
    (import "mem" "memory" (memory 1))
    (import "host" "resolve-image" (func $resolve (param i32 i32 i32)))
    (data (i32.const 128) "{allow}")
    (data (i32.const 768) "{asked}")
    (data (i32.const 1024) "{marker}")
    {contains}
    (func (export "validate") (param $ptr i32) (param $len i32) (result i32)
      (local $n i32)
      (if (call $contains (local.get $ptr) (local.get $len) (i32.const 1024) (i32.const {marker_len}))
        (then (loop $again
          (local.set $n (i32.const {spin}))
          (block $spun (loop $spin
            (br_if $spun (i32.eqz (local.get $n)))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br $spin)))
          (call $resolve (i32.const 768) (i32.const {asked_len}) (i32.const 32))
          (br $again))))
      (i32.store (i32.const 64) (i32.const 128))
      (i32.store (i32.const 68) (i32.const {allow_len}))
      (i32.const 64)))
  (core instance $i (instantiate $m
    (with "mem" (instance $mi))
    (with "host" (instance (export "resolve-image" (func $resolve))))))
  (func (export "validate") (param "input" string) (result string)
    (canon lift (core func $i "validate") (memory (core memory $mi "memory")) (realloc (core func $mi "realloc")))))"#,
        realloc = WAT_REUSING_REALLOC,
        contains = WAT_CONTAINS,
        allow = wat_data(allow),
        asked = wat_data(asked),
        marker = wat_data(marker),
        marker_len = marker.len(),
        asked_len = asked.len(),
        allow_len = allow.len(),
    );
    wat::parse_str(&text).unwrap_or_else(|e| panic!("bad WAT: {e}\n{text}"))
}

/// A policy with two core instances, each with its own linear memory: `validate` grows the
/// first by `first_pages` and the second by `second_pages` (64 KiB pages), grows a table by
/// `table_elements`, then allows. A refused growth traps (`unreachable`).
pub fn two_memories_and_a_table(
    first_pages: u32,
    second_pages: u32,
    table_elements: u32,
) -> Vec<u8> {
    let allow = r#"{"allowed":true}"#;
    let text = format!(
        r#"(component
  (core module $other
    (memory (export "memory") 1)
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))
  (core instance $o (instantiate $other))
  (core module $m
    (import "other" "grow" (func $grow_other (param i32) (result i32)))
    (memory (export "memory") 1)
    (table $t 0 funcref)
    (global $heap (mut i32) (i32.const 4096))
    (data (i32.const 128) "{allow}")
    {realloc}
    (func (export "validate") (param i32 i32) (result i32)
      (if (i32.eq (memory.grow (i32.const {first_pages})) (i32.const -1)) (then (unreachable)))
      (if (i32.eq (call $grow_other (i32.const {second_pages})) (i32.const -1)) (then (unreachable)))
      (if (i32.eq (table.grow $t (ref.null func) (i32.const {table_elements})) (i32.const -1)) (then (unreachable)))
      (i32.store (i32.const 64) (i32.const 128))
      (i32.store (i32.const 68) (i32.const {allow_len}))
      (i32.const 64)))
  (core instance $i (instantiate $m (with "other" (instance $o))))
  (func (export "validate") (param "input" string) (result string)
    (canon lift (core func $i "validate") (memory (core memory $i "memory")) (realloc (core func $i "realloc")))))"#,
        realloc = WAT_REALLOC,
        allow = wat_data(allow),
        allow_len = allow.len(),
    );
    wat::parse_str(&text).unwrap_or_else(|e| panic!("bad WAT: {e}\n{text}"))
}

/// The `validate` body (for [`super::wat_policy`]) of a policy answering `bytes` spaces:
/// valid UTF-8 of any size, placed at 64 KiB.
pub fn output_of(bytes: u32) -> String {
    let pages = bytes / 65536 + 2;
    format!(
        "(drop (memory.grow (i32.const {pages})))
         (memory.fill (i32.const 65536) (i32.const 32) (i32.const {bytes}))
         (i32.store (i32.const 64) (i32.const 65536))
         (i32.store (i32.const 68) (i32.const {bytes}))
         (i32.const 64)"
    )
}

/// A policy asking `resolve-image` about a reference of `bytes` letters (placed at 64 KiB):
/// it allows when the host's answer contains `expected`, and denies otherwise.
pub fn resolve_image_of_length(bytes: u32, expected: &str) -> Vec<u8> {
    let allow = r#"{"allowed":true}"#;
    let deny = r#"{"allowed":false,"message":"unexpected answer"}"#;
    let pages = bytes / 65536 + 2;
    resolving_component(&format!(
        r#"(data (i32.const 128) "{allow}")
    (data (i32.const 256) "{deny}")
    (data (i32.const 512) "{expected}")
    {contains}
    (func (export "validate") (param i32 i32) (result i32)
      (drop (memory.grow (i32.const {pages})))
      (memory.fill (i32.const 65536) (i32.const 97) (i32.const {bytes}))
      (call $resolve (i32.const 65536) (i32.const {bytes}) (i32.const 32))
      (if (call $contains (i32.load (i32.const 32)) (i32.load (i32.const 36)) (i32.const 512) (i32.const {expected_len}))
        (then (i32.store (i32.const 64) (i32.const 128)) (i32.store (i32.const 68) (i32.const {allow_len})))
        (else (i32.store (i32.const 64) (i32.const 256)) (i32.store (i32.const 68) (i32.const {deny_len}))))
      (i32.const 64))"#,
        contains = WAT_CONTAINS,
        allow = wat_data(allow),
        deny = wat_data(deny),
        expected = wat_data(expected),
        expected_len = expected.len(),
        allow_len = allow.len(),
        deny_len = deny.len(),
    ))
}
