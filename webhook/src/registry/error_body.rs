//! A registry's error answer as landed reads it: the Distribution error body (`{"errors":
//! [{code, message}]}`), the code-shaped part of it, and `Retry-After`.

use std::time::{Duration, SystemTime};

use http::StatusCode;
use serde::Deserialize;

/// A registry's error code as landed repeats it: upper-case letters, digits and `_`, short;
/// anything else is the registry's free text and is not kept as a code.
pub(super) fn error_code(code: &str) -> Option<String> {
    let usable = !code.is_empty()
        && code.len() <= 40
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    usable.then(|| code.to_owned())
}

/// One entry of a Distribution error body.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ErrorEntry {
    /// `MANIFEST_UNKNOWN`, `NAME_UNKNOWN`, `DENIED`, `UNAUTHORIZED`, `TOOMANYREQUESTS`, …
    #[serde(default)]
    pub code: String,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

/// The entries of a Distribution error body; empty when the body is not one.
pub fn parse_error_body(body: &[u8]) -> Vec<ErrorEntry> {
    serde_json::from_slice::<ErrorBody>(body)
        .map(|b| b.errors)
        .unwrap_or_default()
}

/// `CODE: message; CODE: message`, or the status reason when the body had none.
pub(super) fn summary(errors: &[ErrorEntry], status: StatusCode) -> String {
    if errors.is_empty() {
        return status
            .canonical_reason()
            .unwrap_or("no error body")
            .to_owned();
    }
    let mut parts: Vec<String> = errors
        .iter()
        .take(3)
        .map(|e| {
            // Keep registry messages short: they end up in deny messages.
            let msg: String = e.message.chars().take(200).collect();
            if msg.is_empty() {
                e.code.clone()
            } else {
                format!("{}: {msg}", e.code)
            }
        })
        .collect();
    parts.dedup();
    parts.join("; ")
}

/// Parses `Retry-After`: delta-seconds or an HTTP date (clamped at zero).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let entries = parse_error_body(
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"m","detail":{"Tag":"x"}},{"code":"DENIED"}]}"#,
        );
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].code, "MANIFEST_UNKNOWN");
        assert_eq!(entries[1].message, "");
        assert!(parse_error_body(b"<html>").is_empty());
        assert!(parse_error_body(b"").is_empty());
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let got = parse_retry_after(&later).expect("date");
        assert!(
            got > Duration::from_secs(25) && got <= Duration::from_secs(30),
            "{got:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
