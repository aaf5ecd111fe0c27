//! Decoding the AdmissionReview envelope: only `admission.k8s.io/v1` is accepted.

use kube::core::admission::{AdmissionRequest, Operation};
use kube::core::TypeMeta;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::object::ReviewObject;

/// An admission request as landed reviews it: objects kept as the JSON text they came in.
pub type Request = AdmissionRequest<ReviewObject>;

/// The only review version landed speaks.
pub const API_VERSION: &str = "admission.k8s.io/v1";
/// The envelope's kind.
pub const KIND: &str = "AdmissionReview";

/// The operation as the API server spells it (log fields, metric labels, policy input).
pub fn operation_name(operation: &Operation) -> &'static str {
    match operation {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Connect => "CONNECT",
    }
}

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

/// The envelope with its request: kube's `AdmissionReview` flattens its type fields, which
/// makes serde buffer the whole review as a generic tree first.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Review {
    api_version: String,
    kind: String,
    #[serde(default)]
    request: Option<Request>,
}

/// The envelope read with `request` left as text, for reasons about the envelope alone.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    api_version: String,
    kind: String,
    #[serde(borrow, default)]
    request: Option<&'a RawValue>,
}

/// Decodes a request body into the admission request it carries.
pub fn decode(body: &[u8]) -> Result<Request, ReviewError> {
    match serde_json::from_slice::<Review>(body) {
        Ok(review) => accept(review.api_version, review.kind, || {
            review.request.ok_or(ReviewError::NoRequest)
        }),
        // Read again in two passes, envelope first: a review of another version is refused
        // as that rather than as a request of the wrong shape.
        Err(_) => decode_envelope_first(body),
    }
}

fn decode_envelope_first(body: &[u8]) -> Result<Request, ReviewError> {
    let review: Envelope<'_> = serde_json::from_slice(body).map_err(ReviewError::Malformed)?;
    accept(review.api_version, review.kind, || {
        let raw = review.request.ok_or(ReviewError::NoRequest)?;
        serde_json::from_str(raw.get()).map_err(ReviewError::Malformed)
    })
}

/// The request of a v1 review, typed with the envelope's version and kind.
fn accept(
    api_version: String,
    kind: String,
    request: impl FnOnce() -> Result<Request, ReviewError>,
) -> Result<Request, ReviewError> {
    if api_version != API_VERSION || kind != KIND {
        return Err(ReviewError::Unsupported { api_version, kind });
    }
    let mut request = request()?;
    request.types = TypeMeta { api_version, kind };
    Ok(request)
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
    fn other_versions_are_named_even_when_their_request_does_not_read_as_v1() {
        // A v1beta1 request shaped unlike v1 (no uid) fails the one-pass read.
        let body = br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"kind":{}}}"#;
        let err = decode(body).expect_err("v1beta1 is refused");
        assert!(matches!(err, ReviewError::Unsupported { .. }), "{err}");
    }

    #[test]
    fn a_v1_request_of_the_wrong_shape_is_malformed() {
        let body =
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":7}}"#;
        assert!(matches!(decode(body), Err(ReviewError::Malformed(_))));
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
