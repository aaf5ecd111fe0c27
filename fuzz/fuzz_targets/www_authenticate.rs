//! `WWW-Authenticate` header values from a registry. Each line of the input is one header
//! value. A Bearer challenge must keep a realm, come before Basic ones, and survive being
//! written back as a header with quoted parameters.
#![no_main]

use landed::registry::challenge::{parse, parse_all, Challenge};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let values: Vec<&str> = text.split('\n').collect();
    let all = parse_all(values.iter().copied());
    let first_basic = all
        .iter()
        .position(|c| matches!(c, Challenge::Basic { .. }))
        .unwrap_or(all.len());
    assert!(
        all[first_basic..]
            .iter()
            .all(|c| matches!(c, Challenge::Basic { .. })),
        "Bearer challenges come first: {all:?}"
    );
    for value in &values {
        assert_eq!(parse(value), parse_all([*value]).into_iter().next());
    }
    for challenge in &all {
        if let Challenge::Bearer { realm, .. } = challenge {
            assert!(
                !realm.is_empty(),
                "a Bearer challenge without realm is unusable"
            );
        }
        let header = write_back(challenge);
        assert_eq!(
            parse(&header).as_ref(),
            Some(challenge),
            "{challenge:?} written as {header:?}"
        );
    }
});

/// The header a registry would send for `challenge`, every parameter quoted.
fn write_back(challenge: &Challenge) -> String {
    let mut params = Vec::new();
    let (scheme, fields) = match challenge {
        Challenge::Bearer {
            realm,
            service,
            scope,
        } => (
            "Bearer",
            [
                ("realm", Some(realm)),
                ("service", service.as_ref()),
                ("scope", scope.as_ref()),
            ],
        ),
        Challenge::Basic { realm } => {
            ("Basic", [("realm", realm.as_ref()), ("", None), ("", None)])
        }
    };
    for (name, value) in fields {
        if let Some(value) = value {
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
            params.push(format!("{name}=\"{escaped}\""));
        }
    }
    format!("{scheme} {}", params.join(", "))
}
