//! Image references and digests as a pod spec writes them: whatever parses must print in
//! its normalized form and parse back to the same value.
#![no_main]

use landed::image::{Digest, Reference, NAME_TOTAL_LENGTH_MAX};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(reference) = Reference::parse(text) {
        check_reference(&reference);
    }
    if let Ok(digest) = Digest::parse(text) {
        let printed = digest.to_string();
        assert_eq!(printed, text, "a digest is kept exactly as written");
        assert_eq!(digest.encoded().len(), digest.algorithm().encoded_len());
        assert_eq!(Digest::parse(&printed).as_ref(), Ok(&digest));
    }
});

fn check_reference(reference: &Reference) {
    let printed = reference.to_string();
    let again = Reference::parse(&printed)
        .unwrap_or_else(|e| panic!("normalized {printed:?} does not re-parse: {e}"));
    assert_eq!(
        &again, reference,
        "{printed:?} re-parses to another reference"
    );
    assert_eq!(again.to_string(), printed, "normalizing is idempotent");
    assert!(
        reference.tag().is_some() || reference.digest().is_some(),
        "{printed:?}: normalization leaves a tag or a digest"
    );
    assert!(
        reference.repository().len() <= NAME_TOTAL_LENGTH_MAX,
        "{printed:?}: the path is at most 255 characters"
    );
    let untagged = reference.without_digest();
    assert_eq!(
        Reference::parse(&untagged.to_string()).as_ref(),
        Ok(&untagged)
    );
    if let Some(digest) = reference.digest() {
        assert_eq!(
            &untagged.with_digest(digest.clone()).name(),
            &reference.name()
        );
    }
}
