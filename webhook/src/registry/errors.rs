//! Registry failures, their error bodies, and how each maps to a verdict class.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use super::egress::Refusal;
use super::error_body::{error_code, summary};
pub use super::error_body::{parse_error_body, parse_retry_after, ErrorEntry};
use crate::image::Digest;
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
        index: Digest,
        /// The missing child's digest.
        child: Digest,
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
    /// The lookup stopped inside landed before it had an answer (a bug, not the registry).
    #[error("lookup interrupted inside landed: {0}")]
    Interrupted(String),
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
            | Self::Interrupted(_)
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
    fn rate_limit_message_has_hint() {
        let err = RegistryError::from_response(
            StatusCode::TOO_MANY_REQUESTS,
            b"",
            Some(Duration::from_secs(5)),
        );
        assert!(err.to_string().contains("retry after 5s"), "{err}");
    }
}
