//! The children of an OCI index or Docker manifest list, for the deep check.

use serde::Deserialize;

use crate::image::Digest;

/// One manifest an index references.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Child {
    /// Its digest.
    pub digest: Digest,
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

/// The children listed in an index body. A child's digest must be a digest and its
/// platform plain words: both are the registry's text and end up in messages and URLs.
pub fn children(body: &[u8]) -> Result<Vec<Child>, serde_json::Error> {
    let index: Index = serde_json::from_slice(body)?;
    index
        .manifests
        .into_iter()
        .map(|e| {
            let digest = Digest::parse(&e.digest)
                .map_err(|_| serde::de::Error::custom("a child's digest is not a valid digest"))?;
            let platform = e
                .platform
                .map(|p| {
                    let parts = [Some(p.os), Some(p.architecture), p.variant];
                    let words: Vec<String> = parts.into_iter().flatten().map(word).collect();
                    format!(" ({})", words.join("/"))
                })
                .unwrap_or_default();
            Ok(Child { digest, platform })
        })
        .collect()
}

/// A platform field as shown: at most 32 of its letters, digits, `.`, `_` and `-`.
fn word(text: String) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_children_with_platforms() {
        let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:AA","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8<script>"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:BB","size":1}]}"#;
        let body = String::from_utf8_lossy(body)
            .replace("sha256:AA", &format!("sha256:{}", "a".repeat(64)))
            .replace("sha256:BB", &format!("sha256:{}", "b".repeat(64)));
        let kids = children(body.as_bytes()).expect("parse");
        assert_eq!(kids[0].platform, " (linux/arm64/v8script)");
        assert_eq!(
            kids[1].digest.to_string(),
            format!("sha256:{}", "b".repeat(64))
        );
        assert!(children(b"\"x\"").is_err());
        let bad = br#"{"manifests":[{"digest":"../../../v2/other/manifests/latest"}]}"#;
        assert!(children(bad).is_err(), "a child digest that is a path");
    }
}
