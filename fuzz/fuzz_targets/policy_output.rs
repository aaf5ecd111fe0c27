//! A policy's JSON answer, as the WebAssembly guest returns it. What the contract accepts
//! must encode back to an answer it accepts again, and the size limit always holds.
#![no_main]

use landed::policy::{parse_output, PolicyError};
use libfuzzer_sys::fuzz_target;

/// The limit used here: small enough that fuzzed inputs cross it.
const MAX_BYTES: usize = 2048;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    match parse_output("fuzz", json, MAX_BYTES) {
        Ok(output) => {
            assert!(json.len() <= MAX_BYTES, "over the limit yet accepted");
            let encoded = serde_json::to_string(&output).expect("an output always encodes");
            let again = parse_output("fuzz", &encoded, usize::MAX)
                .unwrap_or_else(|e| panic!("{encoded} is refused after encoding: {e}"));
            assert_eq!(again.allowed, output.allowed);
            assert_eq!(again.message, output.message);
            assert_eq!(again.warnings, output.warnings);
            assert_eq!(
                again.patch.as_ref().map(|p| p.0.len()),
                output.patch.as_ref().map(|p| p.0.len())
            );
        }
        Err(PolicyError::InvalidOutput { policy, reason }) => {
            assert_eq!(policy, "fuzz");
            assert!(!reason.is_empty());
        }
        Err(PolicyError::Failed { policy, reason }) => {
            assert_eq!(policy, "fuzz");
            assert!(reason.starts_with("reported an error: "), "{reason}");
        }
        Err(err @ (PolicyError::Timeout { .. } | PolicyError::NotLoaded { .. })) => {
            panic!("parsing neither times out nor loads: {err}")
        }
    }
});
