//! The AdmissionReview landed answers with, written the way the API server reads it.
//!
//! `response.patch` is a Go `[]byte`: the API documents it, and webhooks send it, as base64
//! text. kube-core writes it as an array of numbers (kube-rs issue #1781), which Go happens to
//! accept but nothing promises; landed writes the documented form.

use std::collections::HashMap;

use base64::Engine;
use kube::core::admission::AdmissionResponse;
use kube::core::Status;
use serde::{Serialize, Serializer};

use super::review::{API_VERSION, KIND};

/// A response wrapped in its AdmissionReview envelope, ready to encode.
pub struct Answer(pub AdmissionResponse);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    api_version: &'static str,
    kind: &'static str,
    response: Body<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    uid: &'a str,
    allowed: bool,
    status: &'a Status,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "base64")]
    patch: Option<&'a [u8]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    audit_annotations: &'a HashMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    warnings: Option<&'a [String]>,
}

fn base64<S: Serializer>(bytes: &Option<&[u8]>, serializer: S) -> Result<S::Ok, S::Error> {
    let text = bytes.map(|b| base64::engine::general_purpose::STANDARD.encode(b));
    text.serialize(serializer)
}

impl Serialize for Answer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = &self.0;
        let patch = r.patch.as_deref();
        Envelope {
            api_version: API_VERSION,
            kind: KIND,
            response: Body {
                uid: &r.uid,
                allowed: r.allowed,
                status: &r.result,
                patch,
                // landed only ever answers JSON Patch, and a type without a patch is refused
                // by the API server.
                patch_type: patch.map(|_| "JSONPatch"),
                audit_annotations: &r.audit_annotations,
                warnings: r.warnings.as_deref(),
            },
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use json_patch::{AddOperation, Patch, PatchOperation};
    use serde_json::json;

    fn patched() -> AdmissionResponse {
        let op = PatchOperation::Add(AddOperation {
            path: "/metadata/labels/team".parse().expect("pointer"),
            value: json!("a"),
        });
        let mut response = AdmissionResponse::invalid("x")
            .with_patch(Patch(vec![op]))
            .expect("patch encodes");
        response.uid = "u-1".into();
        response.allowed = true;
        response.warnings = Some(vec!["w".into()]);
        response.audit_annotations.insert("k".into(), "v".into());
        response
    }

    #[test]
    fn the_patch_is_base64_text_and_everything_else_is_what_kube_writes() {
        let response = patched();
        let ours = serde_json::to_value(Answer(response.clone())).expect("encodes");
        let mut kube = serde_json::to_value(response.clone().into_review()).expect("encodes");
        let text = ours["response"]["patch"]
            .as_str()
            .expect("patch is a string");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .expect("base64");
        assert_eq!(Some(bytes), response.patch);
        // The same document as kube's once the patch is written kube's way: no field lost.
        let mut ours = ours;
        ours["response"]["patch"] = kube["response"]["patch"].take();
        kube["response"]["patch"] = ours["response"]["patch"].clone();
        assert_eq!(ours, kube);
        assert_eq!(ours["response"]["patchType"], "JSONPatch");
        assert_eq!(ours["apiVersion"], API_VERSION);
    }

    #[test]
    fn no_patch_means_no_patch_type() {
        let mut response = AdmissionResponse::invalid("bad");
        response.uid = "u-2".into();
        let ours = serde_json::to_value(Answer(response.clone())).expect("encodes");
        let kube = serde_json::to_value(response.into_review()).expect("encodes");
        assert_eq!(ours, kube);
        assert!(ours["response"].get("patch").is_none());
        assert!(ours["response"].get("patchType").is_none());
    }
}
