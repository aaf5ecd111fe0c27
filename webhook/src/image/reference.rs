//! [`Reference`]: a parsed, normalized image reference.

use std::fmt;
use std::str::FromStr;

use super::digest::Digest;
use super::error::{ReferenceError, NAME_TOTAL_LENGTH_MAX};
use super::grammar::{self, DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX};

/// Tag given to references that name neither a tag nor a digest.
pub const DEFAULT_TAG: &str = "latest";

/// A parsed, normalized image reference: `registry/repository[:tag][@digest]`.
///
/// Built only by [`Reference::parse`] (or the methods deriving one reference from another),
/// so every value is valid and fully normalized: the registry is explicit (`docker.io` for
/// Docker Hub, never `index.docker.io`), official images carry `library/`, and a reference
/// with neither tag nor digest has the tag `latest`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalizes `s` like distribution/reference's `ParseNormalizedNamed`
    /// followed by `TagNameOnly`: `nginx` → `docker.io/library/nginx:latest`;
    /// `name@digest` keeps only the digest; `name:tag@digest` keeps both.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if s.chars().any(char::is_whitespace) {
            return Err(ReferenceError::ContainsWhitespace {
                reference: s.to_owned(),
            });
        }
        if grammar::is_identifier(s) {
            return Err(ReferenceError::HexIdentifier {
                reference: s.to_owned(),
            });
        }
        let split = grammar::split_domain(s);
        // Neither the path nor the tag may contain '@', and the path may not contain ':',
        // so the first '@' starts the digest and the first ':' before it starts the tag.
        let (name_and_tag, digest) = match split.remainder.split_once('@') {
            Some((before, digest)) => (before, Some(digest)),
            None => (split.remainder, None),
        };
        let (path, tag) = match name_and_tag.split_once(':') {
            Some((path, tag)) => (path, Some(tag)),
            None => (name_and_tag, None),
        };
        if path.is_empty() {
            return Err(ReferenceError::MissingName {
                reference: s.to_owned(),
            });
        }
        grammar::check_domain(split.domain)?;
        grammar::check_path(path)?;
        let tag = match tag {
            Some("") => {
                return Err(ReferenceError::EmptyTag {
                    reference: s.to_owned(),
                })
            }
            Some(tag) => {
                grammar::check_tag(tag)?;
                Some(tag.to_owned())
            }
            None => None,
        };
        let digest = match digest {
            Some("") => {
                return Err(ReferenceError::EmptyDigest {
                    reference: s.to_owned(),
                })
            }
            Some(digest) => Some(Digest::parse(digest)?),
            None => None,
        };
        let repository = if split.domain == DEFAULT_DOMAIN && !path.contains('/') {
            format!("{OFFICIAL_REPO_PREFIX}{path}")
        } else {
            path.to_owned()
        };
        // distribution/reference counts the path alone (with `library/` for an official
        // image), not the registry domain.
        let length = repository.len();
        if length > NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong {
                name: repository,
                length,
            });
        }
        let tag = match (tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_owned()),
            (tag, _) => tag,
        };
        Ok(Reference {
            registry: split.domain.to_owned(),
            repository,
            tag,
            digest,
        })
    }

    /// Registry host with port if any: `docker.io`, `localhost:5000`, `[::1]:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Repository path inside the registry: `library/nginx`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if any (`latest` when the input named neither tag nor digest).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same name and tag, pinned to `digest` (replacing any digest it had).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The same name and tag (`latest` if it had none), without the digest.
    pub fn without_digest(&self) -> Reference {
        Reference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: Some(self.tag.clone().unwrap_or_else(|| DEFAULT_TAG.to_owned())),
            digest: None,
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

impl serde::Serialize for Reference {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Reference {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(super::serde_str::ParseVisitor::new(
            "an image reference like registry/repository:tag",
        ))
    }
}

#[cfg(test)]
#[path = "reference_tests.rs"]
mod tests;
