//! Why a string is not an image reference or a digest.

use super::digest::DigestAlgorithm;

/// Longest accepted repository path (without the registry domain), as in distribution/reference.
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Longest accepted tag.
pub const TAG_LENGTH_MAX: usize = 128;

/// Why a string is not a valid image reference or digest.
///
/// Every message says what is wrong and quotes the offending part, so the admission layer
/// can put it into a denial as is.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum ReferenceError {
    /// The input is the empty string.
    #[error("image reference is empty")]
    Empty,

    /// The input contains whitespace (often a stray space or newline from templating).
    #[error("image reference {reference:?} contains whitespace; remove spaces, tabs and newlines")]
    ContainsWhitespace {
        /// The whole input.
        reference: String,
    },

    /// Nothing before the `:tag` or `@digest` (e.g. `:latest`, `docker.io/@sha256:…`).
    #[error("image reference {reference:?} has no repository name before the tag or digest")]
    MissingName {
        /// The whole input.
        reference: String,
    },

    /// A bare 64-character hex string, which upstream reserves for image IDs.
    #[error(
        "invalid repository name ({reference}), cannot specify 64-byte hexadecimal strings; \
         to refer to an image by digest write name@sha256:<hex>"
    )]
    HexIdentifier {
        /// The whole input.
        reference: String,
    },

    /// The registry part (before the first `/`) is not a host name, IPv4 or bracketed IPv6
    /// address with an optional numeric port.
    #[error("invalid registry host {host:?}: {reason}")]
    InvalidDomain {
        /// The registry part as written.
        host: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The repository path has uppercase letters.
    #[error("invalid reference format: repository name ({path}) must be lowercase")]
    NameContainsUppercase {
        /// The repository path as written (without registry, tag and digest).
        path: String,
    },

    /// The repository path has an empty component: a leading, trailing or doubled `/`.
    #[error(
        "repository name {path:?} has an empty path component (leading, trailing or double '/')"
    )]
    EmptyPathComponent {
        /// The repository path as written.
        path: String,
    },

    /// A path component breaks the `[a-z0-9]+` + separator grammar.
    #[error(
        "invalid repository path component {component:?}: use lowercase letters and digits, \
         joined by '.', '_', '__' or '-' (not at the start or end)"
    )]
    InvalidPathComponent {
        /// The offending component (between slashes).
        component: String,
    },

    /// The repository path (without the registry domain) is longer than 255 characters.
    #[error("repository name must not be more than 255 characters: {name:?} has {length}")]
    NameTooLong {
        /// The repository path.
        name: String,
        /// Its length in bytes.
        length: usize,
    },

    /// A `:` with no tag after it.
    #[error("image reference {reference:?} has ':' but no tag after it")]
    EmptyTag {
        /// The whole input.
        reference: String,
    },

    /// The tag is longer than 128 characters.
    #[error("tag {tag:?} has {length} characters; the maximum is 128")]
    TagTooLong {
        /// The tag.
        tag: String,
        /// Its length in bytes.
        length: usize,
    },

    /// The tag has characters outside `[A-Za-z0-9_.-]` or starts with `.` or `-`.
    #[error(
        "invalid tag {tag:?}: a tag starts with a letter, digit or '_' and contains only \
         letters, digits, '_', '.' and '-'"
    )]
    InvalidTag {
        /// The tag.
        tag: String,
    },

    /// An `@` with no digest after it.
    #[error("image reference {reference:?} has '@' but no digest after it")]
    EmptyDigest {
        /// The whole input.
        reference: String,
    },

    /// The digest is not `algorithm:encoded`.
    #[error(
        "invalid digest {digest:?}: expected <algorithm>:<hex>, e.g. sha256:<64 hex characters>"
    )]
    InvalidDigestFormat {
        /// The digest as written.
        digest: String,
    },

    /// The digest algorithm is well-formed but not sha256 or sha512.
    #[error("unsupported digest algorithm {algorithm:?}: use sha256 or sha512")]
    UnsupportedDigestAlgorithm {
        /// The algorithm as written.
        algorithm: String,
    },

    /// The encoded part does not fit the algorithm (length, or not lowercase hex).
    #[error(
        "invalid {algorithm} digest {digest:?}: the part after ':' must be exactly {expected} \
         lowercase hexadecimal characters (found {found} characters)"
    )]
    InvalidDigestEncoding {
        /// The algorithm.
        algorithm: DigestAlgorithm,
        /// The digest as written.
        digest: String,
        /// Required length of the encoded part.
        expected: usize,
        /// Length of the encoded part as written.
        found: usize,
    },
}
