//! The hand-written matcher for the distribution/reference grammar (regexp.go, normalize.go).
//!
//! ```text
//! reference       := name [ ":" tag ] [ "@" digest ]
//! name            := [domain "/"] path-component ["/" path-component]*
//! domain          := host [":" port-number]
//! host            := domain-name | "[" ipv6 "]"
//! domain-name     := domain-component ["." domain-component]*
//! domain-component:= /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//! port-number     := /[0-9]+/
//! path-component  := alpha-numeric [separator alpha-numeric]*
//! alpha-numeric   := /[a-z0-9]+/
//! separator       := /[_.]|__|[-]+/
//! tag             := /[\w][\w.-]{0,127}/
//! ```
//!
//! Every function here works on bytes of already-split pieces and never allocates unless it
//! reports an error.

use std::net::Ipv6Addr;

use super::error::{ReferenceError, TAG_LENGTH_MAX};

/// Registry used when a reference names none.
pub(super) const DEFAULT_DOMAIN: &str = "docker.io";
/// The old Docker Hub host name, normalized to [`DEFAULT_DOMAIN`].
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// Namespace of Docker Hub's official images.
pub(super) const OFFICIAL_REPO_PREFIX: &str = "library/";

/// The result of normalize.go's `splitDockerDomain`, before `library/` is added.
pub(super) struct Split<'a> {
    /// The registry, already normalized (`index.docker.io` → `docker.io`).
    pub domain: &'a str,
    /// Everything after the registry: `path[:tag][@digest]`.
    pub remainder: &'a str,
}

/// Splits off the registry the way normalize.go's `splitDockerDomain` does: the first
/// `/`-separated element is a registry only if it contains `.` or `:`, is `localhost`, or
/// has uppercase letters; otherwise the registry is `docker.io`.
pub(super) fn split_domain(s: &str) -> Split<'_> {
    let Some((first, rest)) = s.split_once('/') else {
        return Split {
            domain: DEFAULT_DOMAIN,
            remainder: s,
        };
    };
    // A leading '[' is not in upstream's rule; it only changes which error a broken IPv6
    // registry gets, since '[' is never valid in a path.
    let is_domain = first == "localhost"
        || first.contains(['.', ':'])
        || first.chars().any(char::is_uppercase)
        || first.starts_with('[');
    if !is_domain {
        return Split {
            domain: DEFAULT_DOMAIN,
            remainder: s,
        };
    }
    let domain = if first == LEGACY_DEFAULT_DOMAIN {
        DEFAULT_DOMAIN
    } else {
        first
    };
    Split {
        domain,
        remainder: rest,
    }
}

/// True for a bare 64-character lowercase hex string (an image ID, not a name).
pub(super) fn is_identifier(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(is_lower_hex)
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// Checks `host[:port]` where host is a DNS-style name, an IPv4 address, or `[ipv6]`.
///
/// Stricter than upstream in one way: the text in brackets must be a real IPv6 address
/// (upstream only checks for hex digits and colons).
pub(super) fn check_domain(domain: &str) -> Result<(), ReferenceError> {
    check_domain_reason(domain).map_err(|reason| ReferenceError::InvalidDomain {
        host: domain.to_owned(),
        reason,
    })
}

fn check_domain_reason(domain: &str) -> Result<(), &'static str> {
    let after_host = if let Some(bracketed) = domain.strip_prefix('[') {
        let (inner, rest) = bracketed
            .split_once(']')
            .ok_or("'[' starts an IPv6 address but there is no closing ']'")?;
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err("an IPv6 address in brackets may contain only hex digits and ':'");
        }
        inner
            .parse::<Ipv6Addr>()
            .map_err(|_| "the text in brackets is not a valid IPv6 address")?;
        rest
    } else {
        let host_end = domain.find(':').unwrap_or(domain.len());
        let (host, rest) = domain.split_at(host_end);
        if rest.bytes().filter(|&b| b == b':').count() > 1
            && domain.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
        {
            return Err("an IPv6 address must be written in brackets, like [::1]:5000");
        }
        check_host_name(host)?;
        rest
    };
    match after_host.strip_prefix(':') {
        None if after_host.is_empty() => Ok(()),
        None => Err("unexpected characters after the IPv6 address"),
        Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        Some(_) => Err("the port after ':' must be a number"),
    }
}

fn check_host_name(host: &str) -> Result<(), &'static str> {
    if host.is_empty() {
        return Err("the host name is empty");
    }
    for label in host.split('.') {
        let bytes = label.as_bytes();
        match (bytes.first(), bytes.last()) {
            (Some(first), Some(last))
                if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() => {}
            (None, _) | (_, None) => return Err("the host name has an empty part between dots"),
            _ => return Err("each part of a host name must start and end with a letter or digit"),
        }
        if !bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        {
            return Err("a host name may contain only letters, digits, '-' and '.'");
        }
    }
    Ok(())
}

/// Checks a repository path (without registry): lowercase components joined by `/`.
pub(super) fn check_path(path: &str) -> Result<(), ReferenceError> {
    if path.chars().any(char::is_uppercase) {
        return Err(ReferenceError::NameContainsUppercase {
            path: path.to_owned(),
        });
    }
    if path.split('/').any(str::is_empty) {
        return Err(ReferenceError::EmptyPathComponent {
            path: path.to_owned(),
        });
    }
    match path.split('/').find(|c| !is_path_component(c)) {
        Some(component) => Err(ReferenceError::InvalidPathComponent {
            component: component.to_owned(),
        }),
        None => Ok(()),
    }
}

/// `[a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*`
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !(bytes.first().is_some_and(alnum) && bytes.last().is_some_and(alnum)) {
        return false;
    }
    // Walk the runs of separator characters between alphanumerics.
    let mut run_start = None;
    for (i, b) in bytes.iter().enumerate() {
        if alnum(b) {
            if let Some(start) = run_start.take() {
                if !is_separator(&bytes[start..i]) {
                    return false;
                }
            }
        } else if matches!(b, b'.' | b'_' | b'-') {
            run_start.get_or_insert(i);
        } else {
            return false;
        }
    }
    true
}

fn is_separator(run: &[u8]) -> bool {
    matches!(run, b"." | b"_" | b"__") || run.iter().all(|&b| b == b'-')
}

/// Checks a tag: `[\w][\w.-]{0,127}`.
pub(super) fn check_tag(tag: &str) -> Result<(), ReferenceError> {
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    let bytes = tag.as_bytes();
    let valid = bytes.first().is_some_and(word)
        && bytes.iter().all(|b| word(b) || matches!(b, b'.' | b'-'));
    if !valid {
        return Err(ReferenceError::InvalidTag {
            tag: tag.to_owned(),
        });
    }
    if tag.len() > TAG_LENGTH_MAX {
        return Err(ReferenceError::TagTooLong {
            tag: tag.to_owned(),
            length: tag.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("a")]
    #[case("a0")]
    #[case("foo.bar")]
    #[case("foo_bar")]
    #[case("foo__bar")]
    #[case("foo-bar")]
    #[case("foo---bar")]
    #[case("a.b_c__d-e--f")]
    #[case("0")]
    fn valid_path_components(#[case] component: &str) {
        assert!(is_path_component(component), "{component}");
    }

    #[rstest]
    #[case("")]
    #[case("-a")]
    #[case("a-")]
    #[case(".a")]
    #[case("a.")]
    #[case("_a")]
    #[case("a..b")]
    #[case("a___b")]
    #[case("a._b")]
    #[case("a-_b")]
    #[case("a.-b")]
    #[case("a+b")]
    #[case("é")]
    fn invalid_path_components(#[case] component: &str) {
        assert!(!is_path_component(component), "{component}");
    }

    #[rstest]
    #[case("docker.io")]
    #[case("localhost")]
    #[case("localhost:5000")]
    #[case("127.0.0.1:5000")]
    #[case("Foo")]
    #[case("my-registry.example.com:443")]
    #[case("[::1]")]
    #[case("[::1]:5000")]
    #[case("[2001:db8::1]:5000")]
    #[case("[2001:DB8::1]")]
    #[case("xn--bcher-kva.example")]
    fn valid_domains(#[case] domain: &str) {
        assert_eq!(check_domain(domain), Ok(()));
    }

    #[rstest]
    #[case("", "empty")]
    #[case("-foo.com", "start and end")]
    #[case("foo-.com", "start and end")]
    #[case("foo..com", "empty part")]
    #[case("foo_bar.com", "only letters")]
    #[case("foo.com:", "number")]
    #[case("foo.com:abc", "number")]
    #[case("foo.com:50:00", "number")]
    #[case("[::1", "closing")]
    #[case("[::1]x", "after the IPv6")]
    #[case("[]", "only hex")]
    #[case("[fe80::1%eth0]", "only hex")]
    #[case("[::ffff:1.2.3.4]", "only hex")]
    #[case("[1:2:3:4:5:6:7:8:9]", "not a valid IPv6")]
    #[case("[:::]", "not a valid IPv6")]
    #[case("::1", "brackets")]
    #[case("2001:db8::1", "brackets")]
    fn invalid_domains(#[case] domain: &str, #[case] reason: &str) {
        match check_domain(domain) {
            Err(ReferenceError::InvalidDomain { reason: r, .. }) => {
                assert!(r.contains(reason), "{domain}: {r}")
            }
            other => panic!("{domain}: {other:?}"),
        }
    }

    #[rstest]
    #[case("nginx", "docker.io", "nginx")]
    #[case("library/nginx", "docker.io", "library/nginx")]
    #[case("index.docker.io/nginx", "docker.io", "nginx")]
    #[case("localhost/foo", "localhost", "foo")]
    #[case("localhost:5000/foo", "localhost:5000", "foo")]
    #[case("Foo/bar", "Foo", "bar")]
    #[case("foo/bar:tag", "docker.io", "foo/bar:tag")]
    #[case("localhost", "docker.io", "localhost")]
    fn split(#[case] input: &str, #[case] domain: &str, #[case] remainder: &str) {
        let split = split_domain(input);
        assert_eq!((split.domain, split.remainder), (domain, remainder));
    }

    #[test]
    fn tags() {
        assert_eq!(check_tag("v1.2.3-rc_1"), Ok(()));
        assert_eq!(check_tag("_x"), Ok(()));
        assert_eq!(check_tag(&"a".repeat(128)), Ok(()));
        assert!(matches!(
            check_tag(&"a".repeat(129)),
            Err(ReferenceError::TagTooLong { length: 129, .. })
        ));
        for bad in [".x", "-x", "a+b", "a/b", "é"] {
            assert!(
                matches!(check_tag(bad), Err(ReferenceError::InvalidTag { .. })),
                "{bad}"
            );
        }
    }
}
