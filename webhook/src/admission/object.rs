//! The reviewed object as the API server sent it: its JSON text, kept verbatim for the
//! policies (never re-encoded), and the few metadata fields the webhook itself reads.

use std::borrow::Cow;
use std::collections::BTreeMap;

use kube::core::{ApiResource, DynamicResourceScope, ObjectMeta, Resource};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// An object of an AdmissionReview (`request.object` or `request.oldObject`).
///
/// Decoding only checks that the text is JSON and reads `metadata`'s name, generateName,
/// namespace, uid, labels and annotations; the pod spec is decoded from [`ReviewObject::json`]
/// by the kind that carries it, and policies receive the text as it came.
#[derive(Clone, Debug)]
pub struct ReviewObject {
    metadata: ObjectMeta,
    json: Box<RawValue>,
}

impl ReviewObject {
    /// The object's JSON text, as sent.
    pub fn json(&self) -> &RawValue {
        &self.json
    }

    /// Parses `json` (an object with optional `metadata`) the way a review decodes it.
    fn from_json(json: Box<RawValue>) -> Result<Self, serde_json::Error> {
        let head: Head = serde_json::from_str(json.get())?;
        let meta = head.metadata;
        Ok(Self {
            metadata: ObjectMeta {
                name: meta.name,
                generate_name: meta.generate_name,
                namespace: meta.namespace,
                uid: meta.uid,
                labels: meta.labels,
                annotations: meta.annotations,
                ..ObjectMeta::default()
            },
            json,
        })
    }
}

/// What decoding reads of an object; everything else is skipped unread.
#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    metadata: Meta,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    name: Option<String>,
    generate_name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
}

impl<'de> Deserialize<'de> for ReviewObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Box::<RawValue>::deserialize(deserializer)?;
        Self::from_json(json).map_err(serde::de::Error::custom)
    }
}

impl Serialize for ReviewObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(serializer)
    }
}

impl Resource for ReviewObject {
    type DynamicType = ApiResource;
    type Scope = DynamicResourceScope;

    fn group(dt: &ApiResource) -> Cow<'_, str> {
        dt.group.as_str().into()
    }

    fn version(dt: &ApiResource) -> Cow<'_, str> {
        dt.version.as_str().into()
    }

    fn kind(dt: &ApiResource) -> Cow<'_, str> {
        dt.kind.as_str().into()
    }

    fn api_version(dt: &ApiResource) -> Cow<'_, str> {
        dt.api_version.as_str().into()
    }

    fn plural(dt: &ApiResource) -> Cow<'_, str> {
        dt.plural.as_str().into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(json: &str) -> Result<ReviewObject, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn keeps_the_text_and_reads_the_metadata_it_uses() {
        let text = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"web-","namespace":"shop","uid":"u1","annotations":{"a":"b"},"managedFields":[{"manager":"kubectl"}]},"spec":{"containers":[]}}"#;
        let object = object(text).expect("decodes");
        assert_eq!(object.json().get(), text);
        assert_eq!(object.meta().generate_name.as_deref(), Some("web-"));
        assert_eq!(object.meta().uid.as_deref(), Some("u1"));
        assert_eq!(
            object.meta().annotations.as_ref().and_then(|a| a.get("a")),
            Some(&"b".to_owned())
        );
        assert_eq!(serde_json::to_string(&object).expect("encodes"), text);
    }

    #[test]
    fn refuses_what_is_not_an_object_or_has_mistyped_metadata() {
        assert!(object("5").is_err());
        assert!(object(r#"{"metadata":{"name":7}}"#).is_err());
        assert!(object(r#"{"metadata":{"annotations":{"a":1}}}"#).is_err());
        assert!(object("{}").is_ok());
    }

    #[test]
    fn deep_nesting_is_skipped_without_recursion() {
        // Unread parts are skipped iteratively: no stack overflow at any depth. The typed
        // pod spec decode has serde_json's recursion limit (see kinds).
        let (open, close) = ("[".repeat(100_000), "]".repeat(100_000));
        assert!(object(&format!(r#"{{"status":{open}}}"#)).is_err());
        let text = format!(r#"{{"status":{open}{close}}}"#);
        assert_eq!(object(&text).expect("valid JSON").json().get(), text);
    }
}
