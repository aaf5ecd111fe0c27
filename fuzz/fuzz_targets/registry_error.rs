//! A registry's answer to a failed manifest request: the error body as bytes, and the same
//! bytes as a `Retry-After` value. Classification follows the status first, messages stay
//! bounded whatever the body says, and the client's detail carries no registry text.
#![no_main]

use std::time::Duration;

use http::StatusCode;
use landed::registry::errors::{parse_error_body, parse_retry_after};
use landed::registry::RegistryError;
use landed::verdict::VerdictClass;
use libfuzzer_sys::fuzz_target;

/// The statuses a manifest request meets in practice, each classified differently.
const STATUSES: [u16; 7] = [400, 401, 403, 404, 429, 500, 503];

fuzz_target!(|data: &[u8]| {
    let entries = parse_error_body(data);
    let rate_limited_body = entries
        .iter()
        .any(|e| e.code.eq_ignore_ascii_case("TOOMANYREQUESTS"));
    for status in STATUSES {
        let status = StatusCode::from_u16(status).expect("a valid status");
        let error = RegistryError::from_response(status, data, Some(Duration::from_secs(1)));
        let class = error.class();
        let expected = match status.as_u16() {
            _ if rate_limited_body => Some(VerdictClass::RateLimited),
            429 => Some(VerdictClass::RateLimited),
            401 => Some(VerdictClass::Unauthorized),
            403 => Some(VerdictClass::Forbidden),
            404 => Some(VerdictClass::Absent),
            500 | 503 => Some(VerdictClass::Unavailable),
            _ => None,
        };
        if let Some(expected) = expected {
            assert_eq!(class, expected, "{status} with {entries:?}");
        }
        // The message quotes at most three entries, each message cut at 200 characters.
        let message = error.to_string();
        let bound: usize = entries
            .iter()
            .take(3)
            .map(|e| e.code.chars().count() + 204)
            .sum::<usize>()
            + 100;
        assert!(
            message.chars().count() <= bound,
            "{} characters for {} entries",
            message.chars().count(),
            entries.len()
        );
        // What the client who sent the review reads: the status and a code-shaped word at
        // most, never the registry's free text.
        let public = error.public_detail();
        assert!(
            public.len() <= 80
                && public
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || " _(),".contains(c)),
            "{public:?}"
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let parsed = parse_retry_after(text);
        if let Ok(secs) = text.trim().parse::<u64>() {
            assert_eq!(parsed, Some(Duration::from_secs(secs)));
        }
        if let Some(after) = parsed {
            let error =
                RegistryError::from_response(StatusCode::TOO_MANY_REQUESTS, b"", Some(after));
            assert!(error.to_string().contains("retry after"), "{error}");
        }
    }
});
