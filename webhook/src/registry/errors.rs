//! Registry failures, their error bodies, and how each maps to a verdict class.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::StatusCode;
use serde::Deserialize;

use super::egress::Refusal;
use crate::verdict::VerdictClass;

/// Why a manifest lookup did not give a manifest. Messages never contain credentials.
#[derive(Clone, Debug, thiserror::Error)]
pub enum RegistryError {
    /// 404 / MANIFEST_UNKNOWN: the repository exists (or may) but this manifest does not.
    #[error("manifest unknown ({status}): {message}")]
    ManifestUnknown {
        /// HTTP status.
        status: u16,
        /// The registry\'s error code (`MANIFEST_UNKNOWN`…), when it sent a usable one.
        code: Option<String>,
        /// The registry's message.
        message: String,
    },
    /// NAME_UNKNOWN: the repository does not exist.
    #[error("repository unknown ({status}): {message}")]
    NameUnknown {
        /// HTTP status.
        status: u16,
        /// The registry\'s error code (`MANIFEST_UNKNOWN`…), when it sent a usable one.
        code: Option<String>,
        /// The registry's message.
        message: String,
    },
    /// Deep check: an index references a child manifest the registry does not have.
    #[error("index {index} references child manifest {child}{platform} that does not exist")]
    ChildMissing {
        /// The index digest.
        index: String,
        /// The missing child's digest.
        child: String,
        /// ` (os/arch)` when the index says which platform it is, else empty.
        platform: String,
    },
    /// 401 after the token dance: no or bad credentials.
    #[error("unauthorized ({status}): {message}")]
    Unauthorized {
        /// HTTP status.
        status: u16,
        /// The registry\'s error code (`MANIFEST_UNKNOWN`…), when it sent a usable one.
        code: Option<String>,
        /// The registry's or token server's message.
        message: String,
    },
    /// 403: credentials accepted but access denied (GAR also says this for missing repos).
    #[error("forbidden ({status}): {message}")]
    Forbidden {
        /// HTTP status.
        status: u16,
        /// The registry\'s error code (`MANIFEST_UNKNOWN`…), when it sent a usable one.
        code: Option<String>,
        /// The registry's message.
        message: String,
    },
    /// 429 / TOOMANYREQUESTS, or our own back-off after one.
    #[error("rate limited ({status}){}: {message}", retry_hint(*.retry_after))]
    RateLimited {
        /// HTTP status (429 also for our own back-off).
        status: u16,
        /// The registry's error code, when it sent a usable one (none for our back-off).
        code: Option<String>,
        /// How long the registry asked us to wait.
        retry_after: Option<Duration>,
        /// The registry's message.
        message: String,
    },
    /// Our own back-off after a 429: the registry was not asked.
    #[error("rate limited (429), retry after {}s: backing off {key} after the registry answered 429", .retry_after.as_secs_f64().ceil())]
    BackingOff {
        /// The registry (or GAR project) backed off.
        key: String,
        /// What is left of the back-off.
        retry_after: Duration,
    },
    /// 5xx: the registry failed.
    #[error("registry error ({status}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The registry\'s error code (`MANIFEST_UNKNOWN`…), when it sent a usable one.
        code: Option<String>,
        /// The registry's message.
        message: String,
    },
    /// Any other status we cannot interpret.
    #[error("unexpected status {status}: {message}")]
    UnexpectedStatus {
        /// HTTP status.
        status: u16,
        /// The registry\'s error code (`MANIFEST_UNKNOWN`…), when it sent a usable one.
        code: Option<String>,
        /// The registry's message.
        message: String,
    },
    /// The request did not complete: DNS, connect, TLS, timeout or a broken body.
    #[error("{what} failed ({kind}): {cause}")]
    Transport {
        /// What we were doing (`manifest request`, `token request`).
        what: &'static str,
        /// `timeout`, `connect`, `body` or `request`.
        kind: &'static str,
        /// The error with its causes (e.g. the certificate problem), one line.
        cause: String,
        /// The transport error (reqwest never puts credentials in its messages).
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// The egress rule kept landed from connecting (no request was sent).
    #[error("{0}")]
    NotContacted(Refusal),
    /// A 200 answer we cannot use (no digest, bad JSON for a deep check, bad token JSON).
    #[error("invalid response: {0}")]
    InvalidResponse(String),
    /// Credentials could not be obtained (credential helper, GCP provider).
    #[error("cannot obtain credentials from {source_name}: {message}")]
    Credentials {
        /// Which source failed.
        source_name: String,
        /// What went wrong (never the credential itself).
        message: String,
    },
}

fn retry_hint(after: Option<Duration>) -> String {
    after.map_or_else(String::new, |d| {
        format!(", retry after {}s", d.as_secs_f64().ceil())
    })
}

impl RegistryError {
    /// The verdict class this failure stands for.
    pub fn class(&self) -> VerdictClass {
        match self {
            Self::ManifestUnknown { .. } | Self::NameUnknown { .. } | Self::ChildMissing { .. } => {
                VerdictClass::Absent
            }
            Self::Unauthorized { .. } => VerdictClass::Unauthorized,
            Self::Forbidden { .. } => VerdictClass::Forbidden,
            Self::RateLimited { .. } | Self::BackingOff { .. } => VerdictClass::RateLimited,
            Self::Server { .. }
            | Self::UnexpectedStatus { .. }
            | Self::Transport { .. }
            | Self::InvalidResponse(_)
            | Self::Credentials { .. }
            | Self::NotContacted(_) => VerdictClass::Unavailable,
        }
    }

    /// Wraps a reqwest error, naming its kind; an egress refusal met on the way (by the
    /// resolver or the redirect policy) comes back as [`RegistryError::NotContacted`].
    pub fn transport(what: &'static str, source: reqwest::Error) -> Self {
        if let Some(refusal) = refusal_in(&source) {
            return Self::NotContacted(refusal);
        }
        let kind = if source.is_timeout() {
            "timeout"
        } else if source.is_connect() {
            "connect"
        } else if source.is_body() || source.is_decode() {
            "body"
        } else {
            "request"
        };
        // reqwest's own message stops at "error sending request"; the useful part (refused,
        // unknown issuer, DNS) is further down the chain.
        let mut cause = source.to_string();
        let mut next = std::error::Error::source(&source);
        while let Some(e) = next {
            let text = e.to_string();
            if !cause.contains(&text) {
                cause.push_str(": ");
                cause.push_str(&text);
            }
            next = e.source();
        }
        Self::Transport {
            what,
            kind,
            cause,
            source: Arc::new(source),
        }
    }

    /// The error for a non-success answer, from its status, error body and Retry-After.
    pub fn from_response(status: StatusCode, body: &[u8], retry_after: Option<Duration>) -> Self {
        let errors = parse_error_body(body);
        let has = |code: &str| errors.iter().any(|e| e.code.eq_ignore_ascii_case(code));
        let message = summary(&errors, status);
        let code = errors.iter().find_map(|e| error_code(&e.code));
        let status_code = status.as_u16();
        if status == StatusCode::TOO_MANY_REQUESTS || has("TOOMANYREQUESTS") {
            return Self::RateLimited {
                status: status_code,
                code,
                retry_after,
                message,
            };
        }
        let status = status_code;
        let s = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match s {
            StatusCode::UNAUTHORIZED => Self::Unauthorized {
                status,
                code,
                message,
            },
            StatusCode::FORBIDDEN => Self::Forbidden {
                status,
                code,
                message,
            },
            s if s.is_server_error() => Self::Server {
                status,
                code,
                message,
            },
            _ if has("NAME_UNKNOWN") => Self::NameUnknown {
                status,
                code,
                message,
            },
            StatusCode::NOT_FOUND => Self::ManifestUnknown {
                status,
                code,
                message,
            },
            s if s.is_client_error() && has("MANIFEST_UNKNOWN") => Self::ManifestUnknown {
                status,
                code,
                message,
            },
            _ => Self::UnexpectedStatus {
                status,
                code,
                message,
            },
        }
    }
}

/// The egress refusal somewhere in a transport error's chain, if any.
fn refusal_in(error: &reqwest::Error) -> Option<Refusal> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(refusal) = e.downcast_ref::<Refusal>() {
            return Some(refusal.clone());
        }
        next = e.source();
    }
    None
}

/// A registry's error code as landed repeats it: upper-case letters, digits and `_`, short;
/// anything else is the registry's free text and is not kept as a code.
fn error_code(code: &str) -> Option<String> {
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
fn summary(errors: &[ErrorEntry], status: StatusCode) -> String {
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

    fn class_of(status: u16, body: &str) -> VerdictClass {
        let status = StatusCode::from_u16(status).expect("status");
        RegistryError::from_response(status, body.as_bytes(), None).class()
    }

    #[test]
    fn classification_table() {
        use VerdictClass::*;
        let cases = [
            (404, "", Absent),
            (
                404,
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
                Absent,
            ),
            (
                404,
                r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#,
                Absent,
            ),
            (400, r#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#, Absent),
            (
                401,
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
                Unauthorized,
            ),
            (
                403,
                r#"{"errors":[{"code":"DENIED","message":"Permission \"artifactregistry.repositories.downloadArtifacts\" denied on resource (or it may not exist)"}]}"#,
                Forbidden,
            ),
            (
                429,
                r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#,
                RateLimited,
            ),
            (
                503,
                r#"{"errors":[{"code":"TOOMANYREQUESTS"}]}"#,
                RateLimited,
            ),
            (500, "oops", Unavailable),
            (502, "", Unavailable),
            (503, "", Unavailable),
            (400, r#"{"errors":[{"code":"NAME_INVALID"}]}"#, Unavailable),
            (405, "", Unavailable),
        ];
        for (status, body, want) in cases {
            assert_eq!(class_of(status, body), want, "{status} {body}");
        }
    }

    #[test]
    fn gar_ambiguous_403_stays_forbidden() {
        let body = r#"{"errors":[{"code":"DENIED","message":"Unauthenticated request. Unauthenticated requests do not have permission \"artifactregistry.repositories.downloadArtifacts\" on resource \"projects/p/locations/us/repositories/r\" (or it may not exist)"}]}"#;
        let err = RegistryError::from_response(StatusCode::FORBIDDEN, body.as_bytes(), None);
        assert_eq!(err.class(), VerdictClass::Forbidden);
        assert!(err.to_string().contains("may not exist"), "{err}");
    }

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

    #[test]
    fn rate_limit_message_has_hint() {
        let err = RegistryError::from_response(
            StatusCode::TOO_MANY_REQUESTS,
            b"",
            Some(Duration::from_secs(5)),
        );
        assert!(err.to_string().contains("retry after 5s"), "{err}");
    }
}
