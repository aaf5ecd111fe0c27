//! Unit tests for [`Reference`]: normalization and one case per error variant.

use super::*;
use crate::image::DigestAlgorithm;
use rstest::rstest;

const HEX64: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn sha256() -> String {
    format!("sha256:{HEX64}")
}

fn parse(s: &str) -> Reference {
    Reference::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

#[rstest]
#[case("nginx", "docker.io", "library/nginx", Some("latest"))]
#[case("nginx:1.27", "docker.io", "library/nginx", Some("1.27"))]
#[case("library/nginx", "docker.io", "library/nginx", Some("latest"))]
#[case("docker.io/nginx", "docker.io", "library/nginx", Some("latest"))]
#[case("index.docker.io/nginx", "docker.io", "library/nginx", Some("latest"))]
#[case("index.docker.io/foo/bar", "docker.io", "foo/bar", Some("latest"))]
#[case("localhost/foo", "localhost", "foo", Some("latest"))]
#[case("localhost:5000/foo:bar", "localhost:5000", "foo", Some("bar"))]
#[case("[::1]:5000/foo", "[::1]:5000", "foo", Some("latest"))]
#[case("[2001:db8::1]/a/b", "[2001:db8::1]", "a/b", Some("latest"))]
#[case("127.0.0.1:5000/foo", "127.0.0.1:5000", "foo", Some("latest"))]
#[case("example.com/foo", "example.com", "foo", Some("latest"))]
#[case("Foo/bar", "Foo", "bar", Some("latest"))]
#[case("localhost", "docker.io", "library/localhost", Some("latest"))]
#[case("foo.com:5000", "docker.io", "library/foo.com", Some("5000"))]
fn normalizes(
    #[case] input: &str,
    #[case] registry: &str,
    #[case] repository: &str,
    #[case] tag: Option<&str>,
) {
    let r = parse(input);
    assert_eq!(r.registry(), registry);
    assert_eq!(r.repository(), repository);
    assert_eq!(r.tag(), tag);
    assert_eq!(r.digest(), None);
    assert_eq!(r.name(), format!("{registry}/{repository}"));
}

#[test]
fn tag_and_digest_both_kept() {
    let input = format!("us-docker.pkg.dev/proj/repo/img:tag@{}", sha256());
    let r = parse(&input);
    assert_eq!(r.registry(), "us-docker.pkg.dev");
    assert_eq!(r.repository(), "proj/repo/img");
    assert_eq!(r.tag(), Some("tag"));
    assert_eq!(r.digest().map(|d| d.encoded()), Some(HEX64));
    assert_eq!(r.to_string(), input);
}

#[test]
fn digest_only_gets_no_tag() {
    let input = format!("gcr.io/p/i@sha512:{HEX64}{HEX64}");
    let r = parse(&input);
    assert_eq!(r.tag(), None);
    assert_eq!(
        r.digest().map(|d| d.algorithm()),
        Some(DigestAlgorithm::Sha512)
    );
    assert_eq!(r.to_string(), input);

    let r = parse(&format!("nginx@{}", sha256()));
    assert_eq!(r.tag(), None);
    assert_eq!(
        r.to_string(),
        format!("docker.io/library/nginx@{}", sha256())
    );
}

#[test]
fn with_and_without_digest() {
    let digest = Digest::parse(&sha256()).expect("digest");
    let pinned = parse("nginx:1.27").with_digest(digest.clone());
    assert_eq!(
        pinned.to_string(),
        format!("docker.io/library/nginx:1.27@{}", sha256())
    );
    assert_eq!(pinned.without_digest(), parse("nginx:1.27"));

    let digest_only = parse(&format!("nginx@{}", sha256()));
    assert_eq!(digest_only.without_digest(), parse("nginx:latest"));
    let other = Digest::compute(DigestAlgorithm::Sha256, b"x");
    assert_eq!(
        digest_only.with_digest(other.clone()).digest(),
        Some(&other)
    );
    assert_eq!(digest_only.with_digest(other).tag(), None);
}

#[test]
fn display_round_trips_and_serde_uses_strings() {
    for input in ["nginx", "Foo/bar:v1", "[::1]:5000/a/b:c"] {
        let r = parse(input);
        assert_eq!(parse(&r.to_string()), r);
        assert_eq!(r.to_string().parse::<Reference>(), Ok(r.clone()));
        let json = serde_json::to_string(&r).expect("serialize");
        assert_eq!(json, format!("\"{r}\""));
        assert_eq!(serde_json::from_str::<Reference>(&json).expect("de"), r);
    }
    let err = serde_json::from_str::<Reference>("\"foo/Bar\"").expect_err("invalid");
    assert!(err.to_string().contains("must be lowercase"), "{err}");
}

#[test]
fn name_length_limit() {
    // The limit counts the path, as distribution/reference does: the domain adds nothing.
    let ok = format!("example.com/{}", "a".repeat(255));
    assert_eq!(parse(&ok).repository().len(), 255);
    let long = format!("example.com/{}", "a".repeat(256));
    assert!(matches!(
        Reference::parse(&long),
        Err(ReferenceError::NameTooLong { length: 256, .. })
    ));
    // An official image's path is "library/" + name (8 characters).
    assert!(Reference::parse(&"a".repeat(247)).is_ok());
    assert!(matches!(
        Reference::parse(&"a".repeat(248)),
        Err(ReferenceError::NameTooLong { length: 256, .. })
    ));
}

#[test]
fn tag_length_limit() {
    let r = parse(&format!("nginx:{}", "t".repeat(128)));
    assert_eq!(r.tag().map(str::len), Some(128));
    assert!(matches!(
        Reference::parse(&format!("nginx:{}", "t".repeat(129))),
        Err(ReferenceError::TagTooLong { length: 129, .. })
    ));
}

fn variant(err: &ReferenceError) -> String {
    let debug = format!("{err:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[rstest]
#[case::empty("", "Empty", "empty")]
#[case::leading_space(" nginx", "ContainsWhitespace", "whitespace")]
#[case::trailing_newline("nginx\n", "ContainsWhitespace", "whitespace")]
#[case::tag_without_name(":latest", "MissingName", "no repository name")]
#[case::digest_without_name("localhost:5000/@sha256:abc", "MissingName", "no repository name")]
#[case::trailing_registry_slash("example.com/", "MissingName", "no repository name")]
#[case::hex_identifier(HEX64, "HexIdentifier", "64-byte hexadecimal")]
#[case::bad_port("example.com:port/foo", "InvalidDomain", "port")]
#[case::bare_ipv6("::1/foo", "InvalidDomain", "brackets")]
#[case::ipv6_zone("[fe80::1%25eth0]/foo", "InvalidDomain", "IPv6")]
#[case::uppercase_path("foo/Bar", "NameContainsUppercase", "must be lowercase")]
#[case::uppercase_single("Nginx", "NameContainsUppercase", "(Nginx)")]
#[case::uppercase_after_domain("Foo/Bar", "NameContainsUppercase", "(Bar)")]
#[case::double_slash("foo//bar", "EmptyPathComponent", "double '/'")]
#[case::trailing_slash("foo/bar/", "EmptyPathComponent", "empty path component")]
#[case::leading_slash("/foo", "EmptyPathComponent", "empty path component")]
#[case::bad_separator("foo/a..b", "InvalidPathComponent", "\"a..b\"")]
#[case::bad_char("foo/a+b", "InvalidPathComponent", "a+b")]
#[case::empty_tag("nginx:", "EmptyTag", "no tag")]
#[case::long_tag("nginx:ttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt", "TagTooLong", "128")]
#[case::bad_tag("nginx:-dev", "InvalidTag", "\"-dev\"")]
#[case::tag_with_colon("nginx:a:b", "InvalidTag", "a:b")]
#[case::empty_digest("nginx@", "EmptyDigest", "no digest")]
#[case::digest_no_colon("nginx@sha256", "InvalidDigestFormat", "sha256")]
#[case::digest_unsupported(
    "nginx@md5:d41d8cd98f00b204e9800998ecf8427e",
    "UnsupportedDigestAlgorithm",
    "md5"
)]
#[case::digest_short("nginx@sha256:abc", "InvalidDigestEncoding", "exactly 64")]
#[case::digest_uppercase(
    "nginx@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
    "InvalidDigestEncoding",
    "lowercase"
)]
fn errors(#[case] input: &str, #[case] expected_variant: &str, #[case] message: &str) {
    let err = Reference::parse(input).expect_err("must be rejected");
    assert_eq!(variant(&err), expected_variant, "{input:?}: {err}");
    assert!(
        err.to_string().contains(message),
        "{input:?}: {err:?} should mention {message:?}"
    );
}

#[test]
fn invalid_implied_registry_is_rejected_not_dropped() {
    // Upstream would accept this as a name without any registry.
    assert!(matches!(
        Reference::parse("my_registry.example.com/team/app"),
        Err(ReferenceError::InvalidDomain { host, .. }) if host == "my_registry.example.com"
    ));
}
