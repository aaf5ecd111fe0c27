//! Decoding the AdmissionReview envelope: only `admission.k8s.io/v1` is accepted.

use kube::core::admission::{AdmissionRequest, AdmissionReview};
use kube::core::DynamicObject;

/// The only review version landed speaks.
pub const API_VERSION: &str = "admission.k8s.io/v1";
/// The envelope's kind.
pub const KIND: &str = "AdmissionReview";

/// Why a body is not a usable AdmissionReview (answered with HTTP 400).
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// The body is not JSON of the AdmissionReview shape.
    #[error("malformed AdmissionReview: {0}")]
    Malformed(#[source] serde_json::Error),
    /// The envelope is of another version or kind.
    #[error("unsupported review {api_version}/{kind}: landed accepts only {API_VERSION} {KIND}")]
    Unsupported {
        /// The apiVersion sent.
        api_version: String,
        /// The kind sent.
        kind: String,
    },
    /// The envelope has no `request`.
    #[error("AdmissionReview has no request")]
    NoRequest,
}

/// Decodes a request body into the admission request it carries.
pub fn decode(body: &[u8]) -> Result<AdmissionRequest<DynamicObject>, ReviewError> {
    let review: AdmissionReview<DynamicObject> =
        serde_json::from_slice(body).map_err(ReviewError::Malformed)?;
    if review.types.api_version != API_VERSION || review.types.kind != KIND {
        return Err(ReviewError::Unsupported {
            api_version: review.types.api_version,
            kind: review.types.kind,
        });
    }
    review.try_into().map_err(|_| ReviewError::NoRequest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_other_versions_naming_them() {
        let body =
            br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":null}"#;
        let err = decode(body).expect_err("v1beta1 is refused");
        assert!(
            err.to_string().contains("admission.k8s.io/v1beta1"),
            "{err}"
        );
    }

    #[test]
    fn rejects_garbage_and_missing_request() {
        assert!(matches!(
            decode(b"{not json"),
            Err(ReviewError::Malformed(_))
        ));
        let body = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#;
        assert!(matches!(decode(body), Err(ReviewError::NoRequest)));
    }

    #[test]
    fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
        let mut body = String::from(
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":"#,
        );
        body.push_str(&"[".repeat(100_000));
        assert!(matches!(
            decode(body.as_bytes()),
            Err(ReviewError::Malformed(_))
        ));
    }
}
