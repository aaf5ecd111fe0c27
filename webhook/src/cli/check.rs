//! `landed check`: is this image in its registry? The step a CI pipeline runs right after
//! `docker push`.
//!
//! Exit codes, most severe first: 2 when the command line or config is unusable or any
//! reference is invalid (`invalid_reference` is a usage error); else 1 when any image is
//! `absent` or `digest_mismatch`; else 3 when any verdict is undetermined (unauthorized,
//! forbidden, rate_limited, unavailable); else 0. `--expect-digest` applies to every image
//! given. Results go to stdout; logs go to stderr.

use std::process::ExitCode;

use serde::Serialize;

use super::ConfigArg;
use crate::image::{Digest, Reference};
use crate::resolve::{LookupContext, Resolver};
use crate::verdict::{Verdict, VerdictClass};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Aligned columns for people.
    Table,
    /// A JSON array of `{reference, normalized, verdict, digest, detail}`.
    Json,
}

/// Arguments of `landed check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Fail with digest_mismatch unless every image resolves to this digest.
    #[arg(long, value_name = "DIGEST")]
    pub expect_digest: Option<String>,
    /// Images to check.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// One line of the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckRow {
    /// The reference as given.
    pub reference: String,
    /// The normalized reference, when it parsed.
    pub normalized: Option<String>,
    /// The verdict class.
    pub verdict: VerdictClass,
    /// The manifest digest, when known.
    pub digest: Option<Digest>,
    /// Evidence.
    pub detail: String,
}

/// Runs `landed check`.
pub async fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let expected = match args.expect_digest.as_deref().map(Digest::parse).transpose() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: --expect-digest: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    // Whoever runs `check` names the images: it asks any registry (egress.denyUnlisted aside).
    let resolver = Resolver::for_operator(&config)?;
    let deadline = tokio::time::Instant::now() + resolver.deadline();
    let ctx = LookupContext::default();
    let rows = futures::future::join_all(args.images.iter().map(|image| {
        let (resolver, ctx, expected) = (&resolver, &ctx, expected.as_ref());
        async move {
            let reference = match Reference::parse(image) {
                Ok(r) => r,
                Err(e) => {
                    return CheckRow {
                        reference: image.clone(),
                        normalized: None,
                        verdict: VerdictClass::InvalidReference,
                        digest: None,
                        detail: e.to_string(),
                    }
                }
            };
            let verdict = resolver.resolve_until(&reference, ctx, deadline).await;
            row(image, &reference, expect(verdict, expected))
        }
    }))
    .await;
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        Output::Table => print!("{}", table(&rows)),
    }
    Ok(ExitCode::from(exit_code(&rows)))
}

fn row(image: &str, reference: &Reference, verdict: Verdict) -> CheckRow {
    CheckRow {
        reference: image.to_owned(),
        normalized: Some(reference.to_string()),
        verdict: verdict.class,
        detail: verdict.operator_detail().to_owned(),
        digest: verdict.digest,
    }
}

/// Applies `--expect-digest` to a verdict.
fn expect(verdict: Verdict, expected: Option<&Digest>) -> Verdict {
    let Some(expected) = expected else {
        return verdict;
    };
    match &verdict.digest {
        Some(got) if verdict.class == VerdictClass::Landed && got != expected => Verdict {
            class: VerdictClass::DigestMismatch,
            detail: format!("expected {expected}, the registry has {got}"),
            cause: None,
            ..verdict
        },
        _ => verdict,
    }
}

/// The exit code for a set of rows (2 > 1 > 3 > 0).
pub fn exit_code(rows: &[CheckRow]) -> u8 {
    let any = |f: fn(VerdictClass) -> bool| rows.iter().any(|r| f(r.verdict));
    if any(|c| c == VerdictClass::InvalidReference) {
        2
    } else if any(VerdictClass::is_definite_failure) {
        1
    } else if any(VerdictClass::is_undetermined) {
        3
    } else {
        0
    }
}

/// Rows as aligned columns with a header.
pub fn table(rows: &[CheckRow]) -> String {
    let header = ["IMAGE", "VERDICT", "DIGEST", "DETAIL"];
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            [
                r.normalized.clone().unwrap_or_else(|| r.reference.clone()),
                r.verdict.to_string(),
                r.digest
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), ToString::to_string),
                r.detail.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for c in &cells {
        for (w, cell) in widths.iter_mut().zip(c) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cols: [&str; 4]| {
        let mut text = String::new();
        for (i, col) in cols.iter().enumerate() {
            if i + 1 == cols.len() {
                text.push_str(col);
            } else {
                text.push_str(&format!("{col:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header);
    for c in &cells {
        line([&c[0], &c[1], &c[2], &c[3]]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::DigestAlgorithm;

    fn r(verdict: VerdictClass) -> CheckRow {
        CheckRow {
            reference: "x".into(),
            normalized: Some("docker.io/library/x:latest".into()),
            verdict,
            digest: None,
            detail: "d".into(),
        }
    }

    #[test]
    fn exit_code_precedence() {
        use VerdictClass::*;
        assert_eq!(exit_code(&[r(Landed)]), 0);
        assert_eq!(exit_code(&[r(Landed), r(Unavailable)]), 3);
        assert_eq!(exit_code(&[r(RateLimited), r(Absent)]), 1);
        assert_eq!(exit_code(&[r(DigestMismatch), r(Forbidden)]), 1);
        assert_eq!(exit_code(&[r(Absent), r(InvalidReference)]), 2);
    }

    #[test]
    fn table_is_aligned_and_json_has_the_contract_fields() {
        let rows = vec![
            CheckRow {
                digest: Some(Digest::compute(DigestAlgorithm::Sha256, b"abc")),
                ..r(VerdictClass::Landed)
            },
            CheckRow {
                reference: "BAD REF".into(),
                normalized: None,
                ..r(VerdictClass::InvalidReference)
            },
        ];
        let text = table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        let col = lines[0].find("VERDICT").expect("header");
        assert_eq!(lines[1].find("landed"), Some(col));
        assert_eq!(lines[2].find("invalid_reference"), Some(col));
        let json = serde_json::to_value(&rows).expect("json");
        assert_eq!(json[1]["normalized"], serde_json::Value::Null);
        assert_eq!(json[1]["digest"], serde_json::Value::Null);
        assert_eq!(json[0]["verdict"], "landed");
        let keys: Vec<&String> = json[0].as_object().expect("object").keys().collect();
        assert_eq!(keys.len(), 5);
    }

    #[test]
    fn expect_digest_turns_landed_into_mismatch() {
        let want = Digest::parse(&format!("sha256:{}", "a".repeat(64))).expect("digest");
        let other = Digest::parse(&format!("sha256:{}", "b".repeat(64))).expect("digest");
        let v = expect(Verdict::landed(other), Some(&want));
        assert_eq!(v.class, VerdictClass::DigestMismatch);
        let v = expect(Verdict::landed(want.clone()), Some(&want));
        assert_eq!(v.class, VerdictClass::Landed);
        let v = expect(Verdict::new(VerdictClass::Absent, "x"), Some(&want));
        assert_eq!(v.class, VerdictClass::Absent);
    }
}
