//! One pass over an object for everything the pipeline reads of it: the pod spec of its kind
//! and, when asked for, one annotation. The object's text is scanned once; what is not read
//! is skipped unread (a real object's managedFields and status are often most of it).

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::spec::{Map, PodSpecView, Text};
use super::WorkloadKind;

/// What one pass found in an object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectView<'a> {
    /// The value of the annotation asked for, when the object has it.
    pub annotation: Option<Cow<'a, str>>,
    /// The pod spec (None when the object has none, e.g. an RC without a template).
    pub spec: Option<PodSpecView<'a>>,
}

/// Reads an object of `kind`: its `metadata.annotations[annotation]` and its pod spec.
pub(super) struct ObjectSeed<'k> {
    pub kind: WorkloadKind,
    pub annotation: Option<&'k str>,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = ObjectView<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = ObjectView<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut annotation, mut spec) = (None, None);
        while let Some(key) = map.next_key::<Text<'de>>()? {
            match key.as_str() {
                "metadata" => {
                    once(&annotation, "metadata")?;
                    let meta = map.next_value_seed(Nullable(MetaSeed(self.annotation)))?;
                    annotation = Some(meta.flatten());
                }
                "spec" => {
                    once(&spec, "spec")?;
                    spec = Some(match self.kind {
                        WorkloadKind::Pod => {
                            map.next_value::<Option<Map<PodSpecView>>>()?.map(|m| m.0)
                        }
                        WorkloadKind::CronJob => map
                            .next_value::<Option<Map<JobTemplate>>>()?
                            .and_then(|m| m.0.job_template?.0.into_inner())
                            .and_then(|t| t.template?.0.into_inner()),
                        _ => map
                            .next_value::<Option<Map<Template>>>()?
                            .and_then(|m| m.0.template?.0.into_inner()),
                    });
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(ObjectView {
            annotation: annotation.flatten(),
            spec: spec.flatten(),
        })
    }
}

/// A field read twice is refused: reading either copy would let the other hide.
fn once<T, E: serde::de::Error>(seen: &Option<T>, field: &'static str) -> Result<(), E> {
    match seen {
        Some(_) => Err(E::duplicate_field(field)),
        None => Ok(()),
    }
}

/// `{spec: T}` of a template.
#[derive(Deserialize)]
struct Spec<T> {
    spec: Option<Map<T>>,
}

impl<T> Spec<T> {
    fn into_inner(self) -> Option<T> {
        self.spec.map(|m| m.0)
    }
}

/// The `spec` of a kind with a pod template: `{template: {spec: PodSpec}}`.
#[derive(Deserialize)]
struct Template<'a> {
    #[serde(borrow)]
    template: Option<Map<Spec<PodSpecView<'a>>>>,
}

/// A CronJob's `spec`: `{jobTemplate: {spec: {template: {spec: PodSpec}}}}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobTemplate<'a> {
    #[serde(borrow)]
    job_template: Option<Map<Spec<Template<'a>>>>,
}

/// `null`, or what `S` reads of an object.
struct Nullable<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Nullable<S> {
    type Value = Option<S::Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Nullable<S> {
    type Value = Option<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("null or an object")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(deserializer).map(Some)
    }
}

/// `metadata` (an object): the one annotation asked for.
struct MetaSeed<'k>(Option<&'k str>);

impl<'de> DeserializeSeed<'de> for MetaSeed<'_> {
    type Value = Option<Cow<'de, str>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MetaSeed<'_> {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("object metadata")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found: Option<Option<Cow<'de, str>>> = None;
        while let Some(key) = map.next_key::<Text<'de>>()? {
            if key.as_str() == "annotations" {
                once(&found, "annotations")?;
                found = Some(map.next_value_seed(Nullable(Annotation(self.0)))?.flatten());
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found.flatten())
    }
}

/// An annotations map (an object of strings), for one key's value: the other values
/// are checked to be strings and skipped without being unescaped into a copy.
struct Annotation<'k>(Option<&'k str>);

impl<'de> DeserializeSeed<'de> for Annotation<'_> {
    type Value = Option<Cow<'de, str>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Annotation<'_> {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Text<'de>>()? {
            if Some(key.as_str()) == self.0 {
                // A key written twice is ambiguous (the API server keeps the last one).
                once(&found, "annotation")
                    .map_err(|_: A::Error| A::Error::custom("an annotation is written twice"))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn read(kind: WorkloadKind, json: &str) -> Result<ObjectView<'_>, serde_json::Error> {
        let seed = ObjectSeed {
            kind,
            annotation: Some("landed.dev/breakglass"),
        };
        seed.deserialize(&mut serde_json::Deserializer::from_str(json))
    }

    #[test]
    fn one_pass_finds_the_annotation_and_the_spec_wherever_they_are() {
        let json = r#"{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"x:1"}]}}},
            "metadata":{"managedFields":[{"f:spec":{}}],"annotations":{
                "kubectl.kubernetes.io/last-applied-configuration":"{\"kind\":\"Deployment\"}",
                "landed.dev/breakglass":"INC-7"}},"status":{"replicas":1}}"#;
        let view = read(WorkloadKind::Deployment, json).expect("reads");
        assert_eq!(view.annotation.as_deref(), Some("INC-7"));
        let spec = view.spec.expect("a pod spec");
        assert_eq!(
            spec.containers().map(|c| c.image()).collect::<Vec<_>>(),
            ["x:1"]
        );
        let bare = read(WorkloadKind::Pod, r#"{"metadata":null,"spec":null}"#).expect("reads");
        assert_eq!(bare, ObjectView::default());
        let none = read(WorkloadKind::Pod, r#"{"metadata":{"annotations":null}}"#).expect("reads");
        assert_eq!(none, ObjectView::default());
    }

    #[test]
    fn a_field_or_annotation_written_twice_is_refused() {
        for json in [
            r#"{"spec":{"containers":[]},"spec":{"containers":[{"name":"a","image":"b"}]}}"#,
            r#"{"metadata":{},"metadata":{}}"#,
            r#"{"metadata":{"annotations":{},"annotations":{}}}"#,
            r#"{"metadata":{"annotations":{"landed.dev/breakglass":"","landed.dev/breakglass":"x"}}}"#,
        ] {
            assert!(read(WorkloadKind::Pod, json).is_err(), "{json}");
        }
    }

    #[test]
    fn annotations_must_be_strings_and_other_keys_are_not_copied() {
        assert!(read(WorkloadKind::Pod, r#"{"metadata":{"annotations":{"a":1}}}"#).is_err());
        assert!(read(WorkloadKind::Pod, r#"{"metadata":{"annotations":[]}}"#).is_err());
        let view = read(
            WorkloadKind::Pod,
            r#"{"metadata":{"annotations":{"a":"\"b\""}}}"#,
        )
        .expect("reads");
        assert_eq!(view.annotation, None);
    }
}
