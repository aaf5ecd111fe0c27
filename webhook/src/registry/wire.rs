//! Reading a registry's answer: bounded bodies, the headers the client uses, and the
//! Authorization values it sends (marked sensitive so they never print).

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::header::RETRY_AFTER;
use http::HeaderValue;

use super::auth::Credential;
use super::errors::{parse_retry_after, RegistryError};
use crate::image::Digest;

/// Largest manifest or token-server body read (registries cap manifests at 4 MiB).
pub const MAX_BODY: usize = 4 << 20;

/// A header value that is never printed (hyper and reqwest redact sensitive values).
pub fn sensitive(value: &str) -> Result<HeaderValue, RegistryError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        RegistryError::InvalidResponse("credential has characters not allowed in a header".into())
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// `Basic base64(user:password)`.
pub fn basic(c: &Credential) -> Result<HeaderValue, RegistryError> {
    let raw = format!("{}:{}", c.username, c.password.expose());
    sensitive(&format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    ))
}

/// A header as trimmed text, when present and not empty.
pub fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// `Docker-Content-Digest`, only when it is a well-formed digest: the value is the
/// registry's to choose, and it is cached, shown and patched into pods.
pub fn content_digest(resp: &reqwest::Response) -> Option<Digest> {
    header(resp, "docker-content-digest").and_then(|d| Digest::parse(&d).ok())
}

/// The media type of a `Content-Type` value (parameters dropped).
pub fn media_type(content_type: String) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// `Retry-After`, when present and readable.
pub fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
}

/// The body, refused once it passes `limit` bytes (never buffered past it).
pub async fn read_body(
    mut resp: reqwest::Response,
    limit: usize,
    what: &'static str,
) -> Result<Bytes, RegistryError> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| RegistryError::transport(what, e))?
    {
        if buf.len() + chunk.len() > limit {
            return Err(RegistryError::InvalidResponse(format!(
                "{what}: body larger than {} KiB",
                limit / 1024
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_is_sensitive_and_redacted() {
        let c = Credential {
            username: "u".into(),
            password: super::super::secret::Secret::new("pw-123"),
            identity: "test".into(),
        };
        let h = basic(&c).expect("header");
        assert!(h.is_sensitive());
        assert!(!format!("{h:?}").contains("dTpwdy0xMjM"));
    }
}
