//! Image reference grammar and normalization, as github.com/distribution/reference defines it.
//!
//! [`Reference::parse`] accepts exactly what upstream's `ParseNormalizedNamed` accepts, and
//! then applies `TagNameOnly`:
//!
//! | input | normalized |
//! |---|---|
//! | `nginx` | `docker.io/library/nginx:latest` |
//! | `index.docker.io/foo/bar` | `docker.io/foo/bar:latest` |
//! | `localhost:5000/foo:bar` | `localhost:5000/foo:bar` |
//! | `[::1]:5000/foo` | `[::1]:5000/foo:latest` |
//! | `gcr.io/p/i@sha256:…` | `gcr.io/p/i@sha256:…` (no tag added) |
//! | `Foo/bar` | `Foo/bar:latest` (an uppercase first element is a registry host) |
//!
//! Deliberate differences from upstream, all of them rejecting more:
//! - the text in IPv6 brackets must be a real IPv6 address (upstream: any hex digits and `:`);
//! - digests must be `sha256` or `sha512` (go-digest also accepts `sha384`);
//! - when the first element is taken as a registry (it has a `.`) but is not a valid host,
//!   as in `my_registry.example.com/app`, upstream silently falls back to a name with *no*
//!   registry at all; that cannot be resolved, so it is an [`ReferenceError::InvalidDomain`].
//!
//! Errors are [`ReferenceError`] values whose messages name the offending part.

mod digest;
mod error;
mod grammar;
mod parsed;
mod reference;
mod serde_str;

pub use digest::{Digest, DigestAlgorithm};
pub use error::{ReferenceError, NAME_TOTAL_LENGTH_MAX, TAG_LENGTH_MAX};
pub use parsed::{Parsed, ParsedReferences};
pub use reference::{Reference, DEFAULT_TAG};
