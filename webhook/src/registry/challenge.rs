//! `WWW-Authenticate` parsing (RFC 7235 as registries write it).

use std::collections::BTreeMap;

/// One authentication challenge from a registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// Fetch a token from `realm` and send it as `Bearer`.
    Bearer {
        /// Token endpoint URL.
        realm: String,
        /// The `service` parameter to pass back, if given.
        service: Option<String>,
        /// The scope the registry asked for, if given.
        scope: Option<String>,
    },
    /// Send `user:password` as `Basic`.
    Basic {
        /// The realm, for messages only.
        realm: Option<String>,
    },
}

/// Parses every challenge in the header values; unknown schemes are skipped.
pub fn parse_all<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    let mut out = Vec::new();
    for value in values {
        for (scheme, params) in split_challenges(value) {
            match scheme.to_ascii_lowercase().as_str() {
                "bearer" => {
                    if let Some(realm) = params.get("realm").filter(|r| !r.is_empty()) {
                        out.push(Challenge::Bearer {
                            realm: realm.clone(),
                            service: params.get("service").cloned(),
                            scope: params.get("scope").cloned(),
                        });
                    }
                }
                "basic" => out.push(Challenge::Basic {
                    realm: params.get("realm").cloned(),
                }),
                _ => {}
            }
        }
    }
    // Bearer first: a registry offering both wants tokens.
    out.sort_by_key(|c| matches!(c, Challenge::Basic { .. }));
    out
}

/// Parses one header value into its first usable challenge.
pub fn parse(value: &str) -> Option<Challenge> {
    parse_all([value]).into_iter().next()
}

type Params = BTreeMap<String, String>;

/// Splits `Scheme k=v, k="v,w", Other k=v` into schemes with their (lower-cased) parameters.
fn split_challenges(value: &str) -> Vec<(String, Params)> {
    let chars: Vec<char> = value.chars().collect();
    let mut i = 0;
    let mut out: Vec<(String, Params)> = Vec::new();
    loop {
        skip(&chars, &mut i, |c| c.is_whitespace() || c == ',');
        if i >= chars.len() {
            break;
        }
        let token = take(&chars, &mut i, |c| {
            !c.is_whitespace() && c != ',' && c != '='
        });
        if token.is_empty() {
            // A stray '=' or similar: skip one character and go on rather than loop forever.
            i += 1;
            continue;
        }
        skip(&chars, &mut i, char::is_whitespace);
        if chars.get(i) == Some(&'=') {
            i += 1;
            skip(&chars, &mut i, char::is_whitespace);
            let val = if chars.get(i) == Some(&'"') {
                i += 1;
                quoted(&chars, &mut i)
            } else {
                take(&chars, &mut i, |c| c != ',' && !c.is_whitespace())
            };
            // Parameters before any scheme have nothing to attach to and are dropped.
            if let Some((_, params)) = out.last_mut() {
                params.insert(token.to_ascii_lowercase(), val);
            }
        } else {
            out.push((token, Params::new()));
        }
    }
    out
}

fn skip(chars: &[char], i: &mut usize, pred: impl Fn(char) -> bool) {
    while *i < chars.len() && pred(chars[*i]) {
        *i += 1;
    }
}

fn take(chars: &[char], i: &mut usize, pred: impl Fn(char) -> bool) -> String {
    let start = *i;
    skip(chars, i, pred);
    chars[start..*i].iter().collect()
}

/// Reads a quoted string after its opening quote, honouring backslash escapes.
fn quoted(chars: &[char], i: &mut usize) -> String {
    let mut s = String::new();
    while *i < chars.len() {
        let c = chars[*i];
        *i += 1;
        match c {
            '"' => return s,
            '\\' => {
                if let Some(next) = chars.get(*i) {
                    s.push(*next);
                    *i += 1;
                }
            }
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(realm: &str, service: Option<&str>, scope: Option<&str>) -> Option<Challenge> {
        Some(Challenge::Bearer {
            realm: realm.into(),
            service: service.map(Into::into),
            scope: scope.map(Into::into),
        })
    }

    #[test]
    fn challenge_table() {
        let cases: Vec<(&str, Option<Challenge>)> = vec![
            (
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
                bearer(
                    "https://auth.docker.io/token",
                    Some("registry.docker.io"),
                    Some("repository:library/alpine:pull"),
                ),
            ),
            (
                r#"Bearer realm="https://r/token", service="svc", scope="repository:a/b:pull,push""#,
                bearer(
                    "https://r/token",
                    Some("svc"),
                    Some("repository:a/b:pull,push"),
                ),
            ),
            (
                r#"bearer REALM=https://r/token,service=svc"#,
                bearer("https://r/token", Some("svc"), None),
            ),
            (
                r#"Bearer realm="https://us-docker.pkg.dev/v2/token",service="us-docker.pkg.dev",scope="repository:p/r/i:pull",error="invalid_token""#,
                bearer(
                    "https://us-docker.pkg.dev/v2/token",
                    Some("us-docker.pkg.dev"),
                    Some("repository:p/r/i:pull"),
                ),
            ),
            (
                r#"Bearer realm="https://r/t\"x",scope="a""#,
                bearer("https://r/t\"x", None, Some("a")),
            ),
            (
                r#"Basic realm="Registry Realm""#,
                Some(Challenge::Basic {
                    realm: Some("Registry Realm".into()),
                }),
            ),
            ("Basic", Some(Challenge::Basic { realm: None })),
            (
                r#"Basic realm="x", Bearer realm="https://r/token",service="s""#,
                bearer("https://r/token", Some("s"), None),
            ),
            ("Bearer service=\"no-realm\"", None),
            ("Negotiate abc", None),
            ("", None),
            ("=,=,\"", None),
        ];
        for (header, want) in cases {
            assert_eq!(parse(header), want, "{header}");
        }
    }
}
