//! The reviewed object as the API server sent it: its JSON text, kept verbatim for the
//! policies (never re-encoded), and the few metadata fields the webhook itself reads.

use std::borrow::Cow;
use std::sync::OnceLock;

use kube::core::{ApiResource, DynamicResourceScope, ObjectMeta, Resource};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::policy::ObjectText;

/// An object of an AdmissionReview (`request.object` or `request.oldObject`).
///
/// Decoding only checks that the text is a JSON object: the pipeline reads the pod spec and
/// the breakglass annotation from [`ReviewObject::json`] in one pass by the kind that carries
/// them, and policies receive the text as it came. [`Resource::meta`] (name, generateName,
/// namespace, uid; no labels or annotations) is read from the text when first asked for.
#[derive(Clone, Debug)]
pub struct ReviewObject {
    metadata: OnceLock<ObjectMeta>,
    text: ObjectText,
}

impl ReviewObject {
    /// The object's JSON text, as sent.
    pub fn json(&self) -> &RawValue {
        self.text.json()
    }

    /// The object's JSON text, shared with whoever else holds it (policy inputs).
    pub fn text(&self) -> &ObjectText {
        &self.text
    }

    fn from_json(json: Box<RawValue>) -> Result<Self, String> {
        // serde_json keeps a raw value's text without the whitespace around it.
        if !json.get().starts_with('{') {
            return Err("an object must be a JSON object".into());
        }
        Ok(Self {
            metadata: OnceLock::new(),
            text: ObjectText::new(json),
        })
    }

    fn read_meta(&self) -> ObjectMeta {
        // Metadata of the wrong shape reads as none: it only names the object in Events.
        let meta = serde_json::from_str::<Head>(self.json().get())
            .map(|head| head.metadata)
            .unwrap_or_default();
        ObjectMeta {
            name: meta.name,
            generate_name: meta.generate_name,
            namespace: meta.namespace,
            uid: meta.uid,
            ..ObjectMeta::default()
        }
    }
}

/// What [`Resource::meta`] reads of an object; everything else is skipped unread.
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
}

impl<'de> Deserialize<'de> for ReviewObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Box::<RawValue>::deserialize(deserializer)?;
        Self::from_json(json).map_err(serde::de::Error::custom)
    }
}

impl Serialize for ReviewObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json().serialize(serializer)
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
        self.metadata.get_or_init(|| self.read_meta())
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.meta();
        self.metadata
            .get_mut()
            .unwrap_or_else(|| unreachable!("initialized by meta()"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(json: &str) -> Result<ReviewObject, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn keeps_the_text_and_reads_the_metadata_it_uses_when_asked() {
        let text = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"web-","namespace":"shop","uid":"u1","annotations":{"a":"b"},"managedFields":[{"manager":"kubectl"}]},"spec":{"containers":[]}}"#;
        let object = object(text).expect("decodes");
        assert_eq!(object.json().get(), text);
        assert_eq!(object.meta().generate_name.as_deref(), Some("web-"));
        assert_eq!(object.meta().uid.as_deref(), Some("u1"));
        assert_eq!(object.meta().annotations, None, "not read");
        assert_eq!(serde_json::to_string(&object).expect("encodes"), text);
    }

    #[test]
    fn refuses_what_is_not_an_object_and_reads_mistyped_metadata_as_none() {
        assert!(object("5").is_err());
        assert!(object(r#"[{"metadata":{}}]"#).is_err());
        assert!(object(" {}").is_ok());
        let odd = object(r#"{"metadata":{"name":7}}"#).expect("an object");
        assert_eq!(odd.meta().name, None);
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
