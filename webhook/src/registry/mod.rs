//! Distribution (OCI distribution-spec) client on reqwest, with its auth.
//! (placeholder: being written)

use serde::Deserialize;

/// One `registries:` entry of landed.yaml.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistryConfig {
    /// Host name as written in image references (e.g. `us-docker.pkg.dev`).
    pub host: String,
}
