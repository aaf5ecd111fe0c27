//! References parsed once per distinct text: a cluster's workloads name the same images over
//! and over, and every review would otherwise parse and re-print each of them.

use std::sync::Arc;

use super::{Reference, ReferenceError};

/// A parsed reference with its normalized text, the key its lookups are shared under.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The reference.
    pub reference: Reference,
    /// Its normalized form, as [`Reference`]'s `Display` writes it.
    pub normalized: String,
}

/// A bounded memo of parsed references, keyed by the text as written in the pod spec.
///
/// Only references that parse are kept: an invalid one costs its parse each time, which
/// keeps input nobody can pull from taking the room of images that run.
pub struct ParsedReferences {
    kept: quick_cache::sync::Cache<Box<str>, Arc<Parsed>>,
}

impl ParsedReferences {
    /// A memo holding up to `capacity` distinct reference texts.
    pub fn new(capacity: usize) -> Self {
        Self {
            kept: quick_cache::sync::Cache::new(capacity.max(1)),
        }
    }

    /// The reference `text` names, parsed now or the last time it was seen.
    pub fn parse(&self, text: &str) -> Result<Arc<Parsed>, ReferenceError> {
        if let Some(parsed) = self.kept.get(text) {
            return Ok(parsed);
        }
        let reference = Reference::parse(text)?;
        let parsed = Arc::new(Parsed {
            normalized: reference.to_string(),
            reference,
        });
        self.kept.insert(text.into(), Arc::clone(&parsed));
        Ok(parsed)
    }
}

impl Default for ParsedReferences {
    /// Room for a large cluster's distinct images, well under a megabyte.
    fn default() -> Self {
        Self::new(2048)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_reference_is_the_one_parsed_first() {
        let memo = ParsedReferences::new(16);
        let first = memo.parse("nginx").expect("valid");
        assert_eq!(first.normalized, "docker.io/library/nginx:latest");
        assert_eq!(first.reference, Reference::parse("nginx").expect("valid"));
        let again = memo.parse("nginx").expect("valid");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second parse is the kept one"
        );
        // Another spelling of the same image is its own entry with the same meaning.
        let spelled = memo.parse("docker.io/library/nginx").expect("valid");
        assert!(!Arc::ptr_eq(&first, &spelled));
        assert_eq!(spelled.normalized, first.normalized);
    }

    #[test]
    fn invalid_references_are_refused_every_time() {
        let memo = ParsedReferences::new(16);
        for _ in 0..2 {
            let err = memo.parse("Nginx:Latest:x").expect_err("invalid");
            assert_eq!(
                err.to_string(),
                Reference::parse("Nginx:Latest:x")
                    .expect_err("invalid")
                    .to_string()
            );
        }
    }

    #[test]
    fn the_memo_stays_within_its_capacity() {
        let memo = ParsedReferences::new(64);
        for n in 0..10_000 {
            let parsed = memo
                .parse(&format!("registry.example/app:v{n}"))
                .expect("valid");
            assert_eq!(parsed.normalized, format!("registry.example/app:v{n}"));
        }
        // quick_cache rounds the capacity up to a whole number per shard.
        let (kept, capacity) = (memo.kept.len() as u64, memo.kept.capacity());
        assert!(
            kept <= capacity && capacity < 2 * 64,
            "kept {kept} of {capacity}"
        );
    }
}
