//! The few fields of a pod spec landed reads, borrowed from the object's text: container
//! names and images, pull secrets, the service account. Everything else (probes, env,
//! volumes, affinity, …) is skipped unread, so a skipped subtree allocates nothing.
//!
//! k8s-openapi's `PodSpec` is the reference these types must agree with (a missing or null
//! field reads as k8s-openapi reads it); they differ in two ways, both stricter: a key
//! written twice is refused (k8s-openapi keeps the last), and every level must be a JSON
//! object, never an array standing in for one.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A string of the object, borrowed unless the JSON escaped it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl Text<'_> {
    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor(PhantomData))
    }
}

/// `T` read only from a JSON object: serde's derived structs would also take an array of
/// the fields in order, which the API server never sends and whose paths would not exist.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Map<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for MapVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(MapVisitor(PhantomData))
            .map(Map)
    }
}

/// What landed reads of a pod spec.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpecView<'a> {
    #[serde(borrow)]
    containers: Option<Vec<Map<ContainerView<'a>>>>,
    #[serde(borrow)]
    init_containers: Option<Vec<Map<ContainerView<'a>>>>,
    #[serde(borrow)]
    ephemeral_containers: Option<Vec<Map<ContainerView<'a>>>>,
    #[serde(borrow)]
    image_pull_secrets: Option<Vec<Map<NameView<'a>>>>,
    #[serde(borrow)]
    service_account_name: Option<Text<'a>>,
}

/// A container's name and image (each `None` when missing or null).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct ContainerView<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    image: Option<Text<'a>>,
}

/// A reference by name (`imagePullSecrets[]`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
struct NameView<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
}

impl<'a> PodSpecView<'a> {
    /// `containers`, empty when missing or null.
    pub fn containers(&self) -> impl Iterator<Item = &ContainerView<'a>> {
        list(&self.containers)
    }

    /// `initContainers`, empty when missing or null.
    pub fn init_containers(&self) -> impl Iterator<Item = &ContainerView<'a>> {
        list(&self.init_containers)
    }

    /// `ephemeralContainers`, empty when missing or null.
    pub fn ephemeral_containers(&self) -> impl Iterator<Item = &ContainerView<'a>> {
        list(&self.ephemeral_containers)
    }

    /// The names of `imagePullSecrets` ("" for an entry without one, as k8s-openapi reads it).
    pub fn pull_secrets(&self) -> impl Iterator<Item = &str> {
        list(&self.image_pull_secrets).map(|s| text(&s.name))
    }

    /// `serviceAccountName`, when set.
    pub fn service_account_name(&self) -> Option<&str> {
        self.service_account_name.as_ref().map(Text::as_str)
    }
}

impl ContainerView<'_> {
    /// The container's name ("" when missing, as k8s-openapi reads it).
    pub fn name(&self) -> &str {
        text(&self.name)
    }

    /// The image as written ("" when missing).
    pub fn image(&self) -> &str {
        text(&self.image)
    }
}

fn list<T>(items: &Option<Vec<Map<T>>>) -> impl Iterator<Item = &T> {
    items.iter().flatten().map(|m| &m.0)
}

fn text<'s>(value: &'s Option<Text<'_>>) -> &'s str {
    value.as_ref().map_or("", Text::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(json: &str) -> Result<PodSpecView<'_>, serde_json::Error> {
        serde_json::from_str::<Map<PodSpecView<'_>>>(json).map(|m| m.0)
    }

    #[test]
    fn reads_names_images_secrets_and_account_borrowing_plain_strings() {
        let json = r#"{"containers":[{"name":"a","image":"nginx:1","ports":[{"containerPort":80}],
            "livenessProbe":{"httpGet":{"path":"/","port":80}}}],
            "initContainers":[{"name":"i","image":"busybox:1"}],
            "imagePullSecrets":[{"name":"regcred"},{}],"serviceAccountName":"builder",
            "volumes":[{"name":"v","emptyDir":{}}]}"#;
        let spec = view(json).expect("decodes");
        let c = spec.containers().next().expect("one container");
        assert_eq!((c.name(), c.image()), ("a", "nginx:1"));
        assert!(
            matches!(c.image, Some(Text(Cow::Borrowed(_)))),
            "not copied"
        );
        assert_eq!(spec.init_containers().count(), 1);
        assert_eq!(spec.pull_secrets().collect::<Vec<_>>(), ["regcred", ""]);
        assert_eq!(spec.service_account_name(), Some("builder"));
    }

    #[test]
    fn escaped_strings_are_unescaped_and_nulls_read_as_missing() {
        let spec = view(r#"{"containers":[{"name":null,"image":"a\/b:1"}],"initContainers":null}"#)
            .expect("decodes");
        let c = spec.containers().next().expect("one container");
        assert_eq!((c.name(), c.image()), ("", "a/b:1"));
        assert_eq!(spec.init_containers().count(), 0);
    }

    #[test]
    fn a_key_written_twice_is_refused_not_read_first_or_last() {
        // The API server would keep the last one; reading either one would let the other hide.
        let err = view(r#"{"containers":[{"name":"a","image":"x:1","image":"y:1"}]}"#)
            .expect_err("ambiguous");
        assert!(err.to_string().contains("duplicate field"), "{err}");
        assert!(view(r#"{"containers":[],"containers":[]}"#).is_err());
    }

    #[test]
    fn arrays_standing_in_for_objects_are_refused() {
        assert!(view(r#"{"containers":[["a","nginx:1"]]}"#).is_err());
        assert!(view(r#"[[{"name":"a"}]]"#).is_err());
        assert!(view(r#"{"containers":[{"name":7}]}"#).is_err());
    }
}
