//! One image of the reviewed object, as a policy receives it.

use serde::{Deserialize, Serialize};

use crate::VerdictClass;

/// Which list of the pod spec a container is in.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum ContainerType {
    /// `containers`.
    Container,
    /// `initContainers`.
    InitContainer,
    /// `ephemeralContainers`.
    EphemeralContainer,
}

impl ContainerType {
    /// The pod spec field holding this list.
    pub fn field(self) -> &'static str {
        match self {
            Self::Container => "containers",
            Self::InitContainer => "initContainers",
            Self::EphemeralContainer => "ephemeralContainers",
        }
    }
}

/// One image with where it was found and what the registry said.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// JSON path of the image field, e.g. `spec.template.spec.initContainers[0].image`.
    pub path: String,
    /// Container name.
    #[serde(default)]
    pub container: String,
    /// Which container list.
    pub container_type: ContainerType,
    /// The reference as written in the object.
    pub reference: String,
    /// The normalized reference (absent when invalid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalized: Option<String>,
    /// The verdict class.
    pub verdict: VerdictClass,
    /// The resolved manifest digest, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Evidence for the verdict.
    #[serde(default)]
    pub detail: String,
    /// Whether the verdict is a stale cached answer.
    #[serde(default)]
    pub stale: bool,
}
