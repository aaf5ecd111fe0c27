//! Turning the chart's dashboard queries and alert expressions into instant queries a test can
//! run: Grafana's variables replaced, and alert thresholds made to return every series.

use std::collections::BTreeMap;

use anyhow::{bail, Result};

/// `expr` with each `$name` / `${name}` replaced by `vars[name]`; an unknown variable is an
/// error, so a query never reaches Prometheus with a `$` left in it.
pub fn substitute(expr: &str, vars: &BTreeMap<String, String>) -> Result<String> {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, tail) = match after.strip_prefix('{') {
            Some(braced) => match braced.split_once('}') {
                Some((name, tail)) => (name, tail),
                None => bail!("unclosed ${{ in {expr}"),
            },
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        match vars.get(name) {
            Some(value) => out.push_str(value),
            None => bail!("unknown variable ${name} in {expr}"),
        }
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

/// The selector and label of a Grafana `label_values(selector, label)` variable query.
pub fn label_values(query: &str) -> Result<(String, String)> {
    let inner = query
        .trim()
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
        .ok_or_else(|| anyhow::anyhow!("not a label_values() query: {query}"))?;
    match inner.rsplit_once(',') {
        Some((selector, label)) => Ok((selector.trim().to_owned(), label.trim().to_owned())),
        None => bail!("label_values() without a selector: {query} (every series would match)"),
    }
}

/// `expr` with `bool` after every comparison operator (outside label matchers and strings).
///
/// An alert's expression keeps only the series past its threshold, which a short test run
/// never reaches. With `bool`, a comparison returns every series it compares (value 0 or 1)
/// instead of filtering: the result is empty only if a side has no series or the two sides'
/// labels do not match, which is what the test must catch. (Evaluating the left side alone
/// would miss a metric missing on the right, like the webhook timeout.)
pub fn with_bool(expr: &str) -> String {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = String::with_capacity(expr.len() + 16);
    let (mut depth, mut quote, mut i) = (0usize, None::<char>, 0);
    while let Some(&c) = chars.get(i) {
        i += 1;
        if let Some(q) = quote {
            out.push(c);
            if c == '\\' {
                if let Some(&escaped) = chars.get(i) {
                    out.push(escaped);
                    i += 1;
                }
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        let next = chars.get(i).copied();
        let op = match (c, next) {
            ('=' | '!' | '>' | '<', Some('=')) if depth == 0 => 2,
            ('>' | '<', _) if depth == 0 => 1,
            _ => 0,
        };
        out.push(c);
        if op == 2 {
            out.push('=');
            i += 1;
        }
        if op > 0 {
            let rest: String = chars[i..].iter().collect();
            if !rest.trim_start().starts_with("bool") {
                out.push_str(" bool");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        [("job", "landed"), ("__rate_interval", "1m")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn substitutes_both_spellings_and_refuses_unknown_names() {
        assert_eq!(
            substitute(r#"rate(x{job=~"$job"}[${__rate_interval}])"#, &vars()).expect("ok"),
            r#"rate(x{job=~"landed"}[1m])"#
        );
        assert!(substitute("x{namespace=~\"$namespace\"}", &vars()).is_err());
        assert!(substitute("x[${__rate_interval]", &vars()).is_err());
    }

    #[test]
    fn reads_label_values_queries() {
        assert_eq!(
            label_values(r#"label_values(up{job=~"$job", a="b"}, instance)"#).expect("ok"),
            (
                r#"up{job=~"$job", a="b"}"#.to_owned(),
                "instance".to_owned()
            )
        );
        assert!(label_values("label_values(instance)").is_err());
        assert!(label_values("query_result(up)").is_err());
    }

    #[test]
    fn comparisons_get_bool_but_matchers_and_strings_do_not() {
        assert_eq!(
            with_bool(r#"sum(rate(x{a!="b", c=~"d|e"}[5m])) > 0.1"#),
            r#"sum(rate(x{a!="b", c=~"d|e"}[5m])) > bool 0.1"#
        );
        assert_eq!(with_bool("a == 0"), "a == bool 0");
        assert_eq!(
            with_bool("a/b < 0.5 and c >= 1"),
            "a/b < bool 0.5 and c >= bool 1"
        );
        assert_eq!(with_bool("a != bool b"), "a != bool b");
        assert_eq!(with_bool(r#"x{l=">"} <= 1"#), r#"x{l=">"} <= bool 1"#);
        assert_eq!(with_bool("rate(x[5m])"), "rate(x[5m])");
    }
}
