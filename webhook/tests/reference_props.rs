//! Property tests for `landed::image::Reference`.

use landed::image::{Reference, ReferenceError, NAME_TOTAL_LENGTH_MAX};
use proptest::prelude::*;

fn path_component() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,8}((\\.|_|__|-{1,3})[a-z0-9]{1,8}){0,2}"
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(path_component(), 1..4).prop_map(|c| c.join("/"))
}

fn port() -> impl Strategy<Value = Option<u16>> {
    prop::option::of(any::<u16>())
}

fn with_port(host: String, port: Option<u16>) -> String {
    match port {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}

/// Explicit registries that normalization keeps as they are.
fn kept_domain() -> impl Strategy<Value = String> {
    let label = "[a-zA-Z0-9]([a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?";
    prop_oneof![
        port().prop_map(|p| with_port("localhost".into(), p)),
        (prop::collection::vec(label, 2..4), port()).prop_map(|(l, p)| with_port(l.join("."), p)),
        (any::<[u16; 8]>(), port()).prop_map(|(segments, p)| {
            let ip: Vec<String> = segments.iter().map(|s| format!("{s:x}")).collect();
            with_port(format!("[{}]", ip.join(":")), p)
        }),
        port().prop_map(|p| with_port("[::1]".into(), p)),
        Just("Registry".to_owned()),
    ]
}

fn tag() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
}

fn digest() -> impl Strategy<Value = String> {
    prop_oneof!["sha256:[a-f0-9]{64}", "sha512:[a-f0-9]{128}"]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A reference built from the grammar parses, keeps its parts, and round-trips.
    #[test]
    fn valid_references_parse_and_round_trip(
        domain in prop::option::of(kept_domain()),
        path in path(),
        tag in prop::option::of(tag()),
        digest in prop::option::of(digest()),
    ) {
        let mut input = match &domain {
            Some(d) => format!("{d}/{path}"),
            None => path.clone(),
        };
        if let Some(t) = &tag {
            input = format!("{input}:{t}");
        }
        if let Some(d) = &digest {
            input = format!("{input}@{d}");
        }
        // Without a registry, a first element with a '.' is taken as the registry host.
        let implied_host = match (&domain, path.split_once('/')) {
            (None, Some((first, rest))) if first.contains('.') => Some((first, rest)),
            _ => None,
        };
        if let Some((host, _)) = implied_host.filter(|(host, _)| host.contains('_')) {
            // Upstream would fall back to a name with no registry at all; we reject it.
            let result = Reference::parse(&input);
            prop_assert!(
                matches!(&result, Err(ReferenceError::InvalidDomain { host: h, .. }) if h == host),
                "{:?}: {:?}", input, result
            );
            return Ok(());
        }
        let reference = Reference::parse(&input)
            .map_err(|e| TestCaseError::fail(format!("{input:?}: {e}")))?;
        let expected = match (&domain, implied_host) {
            (Some(d), _) => Some((d.as_str(), path.as_str())),
            (None, Some(split)) => Some(split),
            (None, None) => None,
        };
        if let Some((registry, repository)) = expected {
            prop_assert_eq!(reference.registry(), registry);
            prop_assert_eq!(reference.repository(), repository);
        }
        let expected_tag = match (&tag, &digest) {
            (None, None) => Some("latest"),
            (t, _) => t.as_deref(),
        };
        prop_assert_eq!(reference.tag(), expected_tag);
        prop_assert_eq!(reference.digest().map(ToString::to_string), digest);
        let again = Reference::parse(&reference.to_string());
        prop_assert_eq!(again, Ok(reference));
    }

    /// Arbitrary strings never panic; whatever parses round-trips through Display.
    #[test]
    fn never_panics_on_arbitrary_strings(s in any::<String>()) {
        if let Ok(r) = Reference::parse(&s) {
            prop_assert_eq!(Reference::parse(&r.to_string()), Ok(r));
        }
    }

    /// Strings made of the grammar's own characters never panic either, and round-trip.
    #[test]
    fn never_panics_on_grammar_soup(s in "[a-zA-Z0-9:/@._\\-\\[\\] é]{0,300}") {
        if let Ok(r) = Reference::parse(&s) {
            prop_assert!(r.name().len() <= NAME_TOTAL_LENGTH_MAX);
            prop_assert_eq!(Reference::parse(&r.to_string()), Ok(r));
        }
    }

    /// A path longer than 255 characters is rejected, with or without an explicit registry;
    /// the registry domain does not count (distribution/reference).
    #[test]
    fn names_are_limited_by_their_path_alone(
        domain in prop::option::of(kept_domain()),
        components in prop::collection::vec("[a-z0-9]{20,60}", 1..12),
        tag in prop::option::of(tag()),
    ) {
        let path = components.join("/");
        let name = match &domain {
            Some(d) => format!("{d}/{path}"),
            None => path.clone(),
        };
        let path_len = match &domain {
            Some(_) => path.len(),
            None if path.contains('/') => path.len(),
            None => "library/".len() + path.len(),
        };
        let input = match tag {
            Some(t) => format!("{name}:{t}"),
            None => name,
        };
        let result = Reference::parse(&input);
        if path_len > NAME_TOTAL_LENGTH_MAX {
            prop_assert!(
                matches!(result, Err(ReferenceError::NameTooLong { length, .. }) if length == path_len),
                "{:?}: {:?}", input, result
            );
        } else {
            prop_assert!(result.is_ok(), "{:?}: {:?}", input, result);
        }
    }
}
