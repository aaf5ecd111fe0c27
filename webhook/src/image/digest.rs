//! Content digests: `algorithm:encoded`, as go-digest validates them.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

use super::error::ReferenceError;

/// A supported digest algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// SHA-256: 64 lowercase hex characters.
    Sha256,
    /// SHA-512: 128 lowercase hex characters.
    Sha512,
}

impl DigestAlgorithm {
    /// The algorithm's name as written in a digest (`sha256`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    /// Number of hex characters in the encoded part.
    pub fn encoded_len(self) -> usize {
        match self {
            Self::Sha256 => 64,
            Self::Sha512 => 128,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Self::Sha256),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated content digest such as `sha256:<64 lowercase hex>`.
///
/// Only `sha256` and `sha512` are accepted. Other algorithms that fit the OCI digest grammar
/// (`[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`) are rejected with
/// [`ReferenceError::UnsupportedDigestAlgorithm`], anything else with
/// [`ReferenceError::InvalidDigestFormat`]. (go-digest also knows sha384; registries do not
/// use it, so it is unsupported here.)
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Digest {
    algorithm: DigestAlgorithm,
    /// The whole digest, `algorithm:encoded`.
    value: String,
}

impl Digest {
    /// Parses `algorithm:encoded`; see the type docs for what is accepted.
    pub fn parse(s: &str) -> Result<Digest, ReferenceError> {
        let invalid = || ReferenceError::InvalidDigestFormat {
            digest: s.to_owned(),
        };
        let (name, encoded) = s.split_once(':').ok_or_else(invalid)?;
        let Some(algorithm) = DigestAlgorithm::from_name(name) else {
            return Err(if is_oci_algorithm(name) && is_oci_encoded(encoded) {
                ReferenceError::UnsupportedDigestAlgorithm {
                    algorithm: name.to_owned(),
                }
            } else {
                invalid()
            });
        };
        let expected = algorithm.encoded_len();
        let lower_hex = encoded
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if encoded.len() != expected || !lower_hex {
            return Err(ReferenceError::InvalidDigestEncoding {
                algorithm,
                digest: s.to_owned(),
                expected,
                found: encoded.chars().count(),
            });
        }
        Ok(Digest {
            algorithm,
            value: s.to_owned(),
        })
    }

    /// Digest of `data` under `algorithm` (e.g. to check a manifest body against its digest).
    pub fn compute(algorithm: DigestAlgorithm, data: &[u8]) -> Digest {
        let hash: Vec<u8> = match algorithm {
            DigestAlgorithm::Sha256 => sha2::Sha256::digest(data).to_vec(),
            DigestAlgorithm::Sha512 => sha2::Sha512::digest(data).to_vec(),
        };
        let mut value = String::with_capacity(algorithm.as_str().len() + 1 + hash.len() * 2);
        value.push_str(algorithm.as_str());
        value.push(':');
        for byte in hash {
            value.push(hex_digit(byte >> 4));
            value.push(hex_digit(byte & 0x0f));
        }
        Digest { algorithm, value }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    /// The hex part after `algorithm:`.
    pub fn encoded(&self) -> &str {
        self.value
            .get(self.algorithm.as_str().len() + 1..)
            .unwrap_or_default()
    }

    /// The whole digest, `algorithm:encoded` (same as `Display`).
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(nibble & 0x0f)])
}

/// `[a-z0-9]+([+._-][a-z0-9]+)*`
fn is_oci_algorithm(s: &str) -> bool {
    !s.is_empty()
        && s.split(['+', '.', '_', '-']).all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// `[a-zA-Z0-9=_-]+`
fn is_oci_encoded(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl FromStr for Digest {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.value)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(super::serde_str::ParseVisitor::new(
            "a digest like sha256:<hex>",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const HEX64: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_sha256_and_sha512() {
        let d = Digest::parse(&format!("sha256:{HEX64}")).expect("sha256");
        assert_eq!(d.algorithm(), DigestAlgorithm::Sha256);
        assert_eq!(d.encoded(), HEX64);
        assert_eq!(d.to_string(), format!("sha256:{HEX64}"));

        let d = Digest::parse(&format!("sha512:{HEX64}{HEX64}")).expect("sha512");
        assert_eq!(d.algorithm(), DigestAlgorithm::Sha512);
        assert_eq!(d.encoded().len(), 128);
    }

    #[rstest]
    #[case::no_colon("sha256")]
    #[case::empty("")]
    #[case::empty_algorithm(":abc")]
    #[case::uppercase_algorithm("SHA256:0123456789abcdef0123456789abcdef")]
    fn invalid_format(#[case] input: &str) {
        assert!(matches!(
            Digest::parse(input),
            Err(ReferenceError::InvalidDigestFormat { .. })
        ));
    }

    #[rstest]
    #[case::sha384("sha384:0123456789abcdef0123456789abcdef")]
    #[case::md5("md5:d41d8cd98f00b204e9800998ecf8427e")]
    #[case::multihash("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8")]
    fn unsupported(#[case] input: &str) {
        assert!(matches!(
            Digest::parse(input),
            Err(ReferenceError::UnsupportedDigestAlgorithm { .. })
        ));
    }

    #[rstest]
    #[case::short("sha256:0123456789abcdef")]
    #[case::uppercase("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef")]
    #[case::sha512_with_64(
        "sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    )]
    #[case::non_hex("sha256:g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    #[case::empty_encoded("sha256:")]
    fn invalid_encoding(#[case] input: &str) {
        let err = Digest::parse(input).expect_err("must fail");
        assert!(
            matches!(err, ReferenceError::InvalidDigestEncoding { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("lowercase hexadecimal"), "{err}");
    }

    #[test]
    fn compute_matches_known_values() {
        let empty = Digest::compute(DigestAlgorithm::Sha256, b"");
        assert_eq!(
            empty.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let abc = Digest::compute(DigestAlgorithm::Sha512, b"abc");
        assert!(abc.encoded().starts_with("ddaf35a193617aba"));
        assert_eq!(Digest::parse(abc.as_str()), Ok(abc));
    }

    #[test]
    fn serde_round_trip() {
        let d = Digest::parse(&format!("sha256:{HEX64}")).expect("valid");
        let json = serde_json::to_string(&d).expect("serialize");
        assert_eq!(json, format!("\"sha256:{HEX64}\""));
        let back: Digest = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, d);
        assert!(serde_json::from_str::<Digest>("\"sha256:nope\"").is_err());
    }
}
