//! The reviewed object as the API server sent it: its JSON text, kept verbatim for the
//! policies (never re-encoded), and the few metadata fields the webhook itself reads.

use std::borrow::Cow;
use std::fmt;

use kube::core::{ApiResource, DynamicResourceScope, ObjectMeta, Resource};
use serde::de::{DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::workload::Text;

/// An object of an AdmissionReview (`request.object` or `request.oldObject`).
///
/// Decoding only checks that the text is JSON and reads `metadata`'s name, generateName,
/// namespace and uid; annotations are kept as their text and read by key on demand (a
/// `kubectl apply` object carries its whole last-applied manifest there), the pod spec is
/// decoded from [`ReviewObject::json`] by the kind that carries it, and policies receive the
/// text as it came. [`Resource::meta`] has no labels or annotations.
#[derive(Clone, Debug)]
pub struct ReviewObject {
    metadata: ObjectMeta,
    annotations: Option<Box<RawValue>>,
    json: Box<RawValue>,
}

impl ReviewObject {
    /// The object's JSON text, as sent.
    pub fn json(&self) -> &RawValue {
        &self.json
    }

    /// The value of annotation `key`, when the object has it.
    pub fn annotation(&self, key: &str) -> Option<Cow<'_, str>> {
        let raw = self.annotations.as_deref()?;
        let mut de = serde_json::Deserializer::from_str(raw.get());
        // Checked as a map of strings at decode time: this cannot fail.
        Lookup { key }.deserialize(&mut de).ok().flatten()
    }

    /// Parses `json` (an object with optional `metadata`) the way a review decodes it.
    fn from_json(json: Box<RawValue>) -> Result<Self, serde_json::Error> {
        let head: Head = serde_json::from_str(json.get())?;
        let meta = head.metadata;
        let annotations = match meta.annotations {
            // Refused here, as a typed decode would, so that reading by key cannot fail.
            Some(raw) if raw.get() != "null" => {
                Lookup { key: "" }
                    .deserialize(&mut serde_json::Deserializer::from_str(raw.get()))?;
                Some(raw)
            }
            _ => None,
        };
        Ok(Self {
            metadata: ObjectMeta {
                name: meta.name,
                generate_name: meta.generate_name,
                namespace: meta.namespace,
                uid: meta.uid,
                ..ObjectMeta::default()
            },
            annotations,
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
    annotations: Option<Box<RawValue>>,
}

/// Reads an annotations map (`null` or an object of strings) for one key's value: the other
/// values are checked to be strings and skipped without being unescaped.
struct Lookup<'k> {
    key: &'k str,
}

impl<'de> DeserializeSeed<'de> for Lookup<'_> {
    type Value = Option<Cow<'de, str>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Lookup<'_> {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of strings")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Text<'de>>()? {
            // The last one wins, as in the API server's own (Go) decoding.
            if key.as_str() == self.key {
                found = Some(map.next_value::<Text<'de>>()?.0);
            } else {
                map.next_value::<StringOnly>()?;
            }
        }
        Ok(found)
    }
}

/// A string value, skipped: its escapes are checked, not decoded into a copy.
struct StringOnly;

impl<'de> Deserialize<'de> for StringOnly {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringOnly;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<StringOnly, E> {
                Ok(StringOnly)
            }
        }
        deserializer.deserialize_str(V)
    }
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
        assert_eq!(object.annotation("a").as_deref(), Some("b"));
        assert_eq!(object.annotation("b"), None);
        assert_eq!(serde_json::to_string(&object).expect("encodes"), text);
    }

    #[test]
    fn refuses_what_is_not_an_object_or_has_mistyped_metadata() {
        assert!(object("5").is_err());
        assert!(object(r#"{"metadata":{"name":7}}"#).is_err());
        assert!(object(r#"{"metadata":{"annotations":{"a":1}}}"#).is_err());
        assert!(object(r#"{"metadata":{"annotations":[]}}"#).is_err());
        assert!(object("{}").is_ok());
        let none = object(r#"{"metadata":{"annotations":null}}"#).expect("null is none");
        assert_eq!(none.annotation("a"), None);
    }

    #[test]
    fn an_escaped_annotation_reads_unescaped_and_a_repeated_key_reads_last() {
        let text = r#"{"metadata":{"annotations":{"last-applied":"{\"a\":1}","k":"v","k":"w","é":"\u00e9"}}}"#;
        let object = object(text).expect("decodes");
        assert_eq!(object.annotation("k").as_deref(), Some("w"));
        assert_eq!(object.annotation("é").as_deref(), Some("é"));
        assert_eq!(
            object.annotation("last-applied").as_deref(),
            Some(r#"{"a":1}"#)
        );
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
