//! Answers kept for policies that cannot tell two identical inputs apart.
//!
//! A component that imports nothing runs in a sandbox with no clock, no randomness and no
//! I/O: its answer is a function of its input alone. When it also reads only the
//! [`InputScope::Images`] input, which names no single object, pods of one template in one
//! namespace give it the same input byte for byte, and it is asked again for an answer it
//! already gave. Only answers are kept: a failed call (trap, timeout, bad output) runs again.
//! The key is the whole input text, so any change of verdict, digest, stale flag, settings
//! or context is a different key.
//!
//! [`InputScope::Images`]: super::InputScope::Images

use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::Weighter;

use super::PolicyOutput;

/// Bytes of inputs and answers kept per policy.
pub const ANSWER_BYTES: u64 = 1 << 20;

/// Inputs larger than this are not kept (a workload with very many images).
const MAX_INPUT_BYTES: usize = 64 << 10;

/// A policy's kept answers, by input text.
pub struct Answers {
    cache: Cache<Box<str>, Arc<Kept>, ByBytes>,
}

struct Kept {
    output: PolicyOutput,
    bytes: u64,
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<Box<str>, Arc<Kept>> for ByBytes {
    fn weight(&self, key: &Box<str>, val: &Arc<Kept>) -> u64 {
        key.len() as u64 + val.bytes
    }
}

impl Answers {
    /// No answers yet; room for [`ANSWER_BYTES`].
    pub fn new() -> Self {
        // About 1 KiB per entry for a pod of a few images.
        let estimated = usize::try_from(ANSWER_BYTES / 1024).unwrap_or(1024);
        Self {
            cache: Cache::with_weighter(estimated, ANSWER_BYTES, ByBytes),
        }
    }

    /// The answer given to exactly `input` before, if kept.
    pub fn get(&self, input: &str) -> Option<PolicyOutput> {
        self.cache.get(input).map(|kept| kept.output.clone())
    }

    /// Keeps `output` as the answer to `input`.
    pub fn keep(&self, input: &str, output: &PolicyOutput) {
        if input.len() > MAX_INPUT_BYTES {
            return;
        }
        let bytes = output_bytes(output);
        let kept = Arc::new(Kept {
            output: output.clone(),
            bytes,
        });
        self.cache.insert(input.into(), kept);
    }
}

impl Default for Answers {
    fn default() -> Self {
        Self::new()
    }
}

/// Roughly what an answer holds on the heap (its patch counted as its JSON).
fn output_bytes(output: &PolicyOutput) -> u64 {
    let text = output.message.as_ref().map_or(0, String::len)
        + output.warnings.iter().map(String::len).sum::<usize>();
    let patch = output
        .patch
        .as_ref()
        .and_then(|p| serde_json::to_string(p).ok())
        .map_or(0, |p| p.len());
    (std::mem::size_of::<PolicyOutput>() + text + patch) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deny(message: &str) -> PolicyOutput {
        PolicyOutput {
            allowed: false,
            message: Some(message.into()),
            ..PolicyOutput::default()
        }
    }

    #[test]
    fn answers_only_the_same_input() {
        let answers = Answers::new();
        answers.keep(r#"{"images":[{"verdict":"absent"}]}"#, &deny("absent"));
        assert_eq!(
            answers.get(r#"{"images":[{"verdict":"absent"}]}"#),
            Some(deny("absent"))
        );
        assert_eq!(answers.get(r#"{"images":[{"verdict":"landed"}]}"#), None);
    }

    #[test]
    fn holds_no_more_than_its_room() {
        let answers = Answers::new();
        let entries = 20_000;
        for i in 0..entries {
            answers.keep(&format!("{i:0>1000}"), &PolicyOutput::allow());
        }
        let kept = (0..entries)
            .filter(|i| answers.get(&format!("{i:0>1000}")).is_some())
            .count();
        assert!(kept > 0, "keeps recent answers");
        assert!(
            (kept as u64) * 1000 <= ANSWER_BYTES,
            "{kept} answers of 1000 bytes kept in {ANSWER_BYTES} bytes"
        );
    }

    #[test]
    fn does_not_keep_huge_inputs() {
        let answers = Answers::new();
        let input = "x".repeat(MAX_INPUT_BYTES + 1);
        answers.keep(&input, &PolicyOutput::allow());
        assert_eq!(answers.get(&input), None);
    }
}
