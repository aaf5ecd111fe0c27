//! The children of an OCI index or Docker manifest list, for the deep check.

use serde::Deserialize;

/// One manifest an index references.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Child {
    /// Its digest.
    pub digest: String,
    /// ` (os/arch[/variant])`, or empty when the index does not say.
    pub platform: String,
}

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

/// The children listed in an index body.
pub fn children(body: &[u8]) -> Result<Vec<Child>, serde_json::Error> {
    let index: Index = serde_json::from_slice(body)?;
    Ok(index
        .manifests
        .into_iter()
        .map(|e| Child {
            digest: e.digest,
            platform: e
                .platform
                .map(|p| match p.variant {
                    Some(v) => format!(" ({}/{}/{v})", p.os, p.architecture),
                    None => format!(" ({}/{})", p.os, p.architecture),
                })
                .unwrap_or_default(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_children_with_platforms() {
        let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aa","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bb","size":1}]}"#;
        let kids = children(body).expect("parse");
        assert_eq!(kids[0].platform, " (linux/arm64/v8)");
        assert_eq!(kids[1].digest, "sha256:bb");
        assert!(children(b"\"x\"").is_err());
    }
}
