//! What of a registry failure the client that sent a review may read.
//!
//! A review names registries at will, so the verdict detail that reaches its sender says the
//! class, the registry's HTTP status and its error code, and nothing a registry or the
//! network chose: no transport error chain (it tells a closed port from a filtered one),
//! no certificate names, no registry free text. The whole error is for the operator's log
//! and `landed check`.

use super::errors::RegistryError;

impl RegistryError {
    /// The short detail safe to show whoever sent the review.
    pub fn public_detail(&self) -> String {
        match self {
            Self::ManifestUnknown { status, code, .. }
            | Self::NameUnknown { status, code, .. }
            | Self::Unauthorized { status, code, .. }
            | Self::Forbidden { status, code, .. }
            | Self::Server { status, code, .. }
            | Self::UnexpectedStatus { status, code, .. } => status_detail(*status, code),
            Self::RateLimited {
                status,
                code,
                retry_after,
                ..
            } => {
                let mut detail = status_detail(*status, code);
                if let Some(after) = retry_after {
                    detail.push_str(&format!(", retry after {}s", after.as_secs_f64().ceil()));
                }
                detail
            }
            Self::BackingOff { retry_after, .. } => format!(
                "backing off after HTTP 429, retry after {}s",
                retry_after.as_secs_f64().ceil()
            ),
            Self::ChildMissing {
                child, platform, ..
            } => format!("index references child manifest {child}{platform} that does not exist"),
            Self::Transport { kind, .. } => match *kind {
                "timeout" => "request timed out".to_owned(),
                "connect" => "connection failed".to_owned(),
                _ => "request failed".to_owned(),
            },
            Self::NotContacted(refusal) => refusal.client_detail(),
            Self::InvalidResponse(_) => "the registry's answer was not usable".to_owned(),
            Self::Interrupted(_) => "the lookup was interrupted inside landed".to_owned(),
            Self::Credentials { .. } => {
                "landed could not obtain its registry credentials".to_owned()
            }
        }
    }
}

/// `CODE (status)`, or `HTTP status` when the registry sent no usable code.
fn status_detail(status: u16, code: &Option<String>) -> String {
    match code {
        Some(code) => format!("{code} ({status})"),
        None => format!("HTTP {status}"),
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;

    fn public(status: u16, body: &str) -> String {
        let status = StatusCode::from_u16(status).expect("status");
        RegistryError::from_response(status, body.as_bytes(), None).public_detail()
    }

    #[test]
    fn status_answers_show_code_and_status_only() {
        let cases = [
            (
                404,
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
                "MANIFEST_UNKNOWN (404)",
            ),
            (404, "", "HTTP 404"),
            (
                403,
                r#"{"errors":[{"code":"DENIED","message":"Permission denied on resource projects/secret-project (or it may not exist)"}]}"#,
                "DENIED (403)",
            ),
            (
                401,
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"internal realm http://10.0.0.3/"}]}"#,
                "UNAUTHORIZED (401)",
            ),
            (500, "<html>redis: -ERR unknown command</html>", "HTTP 500"),
            (
                400,
                r#"{"errors":[{"code":"lowercase free text is not a code","message":"x"}]}"#,
                "HTTP 400",
            ),
        ];
        for (status, body, want) in cases {
            assert_eq!(public(status, body), want, "{status} {body}");
        }
    }
}
