//! `landed kinds`: the kinds and subresources the webhook reviews, straight from
//! [`WorkloadKind::ALL`], for hand-written webhook configurations and the chart's tests.

use std::process::ExitCode;

use serde::Serialize;

use crate::workload::WorkloadKind;

/// The operations the pipeline reviews; every other operation is allowed without work.
pub const OPERATIONS: [&str; 2] = ["CREATE", "UPDATE"];

/// The API version of every handled kind.
pub const VERSION: &str = "v1";

/// How the list is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Aligned columns for people.
    Table,
    /// A JSON array of `{group, version, kind, resource, subresources, operations}`.
    Json,
}

/// Arguments of `landed kinds`.
#[derive(Debug, clap::Args)]
pub struct KindsArgs {
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// One reviewed kind, as a webhook rule needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindRow {
    /// API group ("" for core).
    pub group: &'static str,
    /// API version.
    pub version: &'static str,
    /// Kind name.
    pub kind: &'static str,
    /// Plural resource name.
    pub resource: &'static str,
    /// Reviewed subresources (`pods/ephemeralcontainers` is `ephemeralcontainers` here).
    pub subresources: Vec<&'static str>,
    /// Reviewed operations.
    pub operations: Vec<&'static str>,
}

/// Every reviewed kind, in [`WorkloadKind::ALL`] order.
pub fn rows() -> Vec<KindRow> {
    WorkloadKind::ALL
        .into_iter()
        .map(|k| KindRow {
            group: k.group(),
            version: VERSION,
            kind: k.kind(),
            resource: k.resource(),
            subresources: k.subresources().to_vec(),
            operations: OPERATIONS.to_vec(),
        })
        .collect()
}

/// The rows as aligned columns with a header line.
pub fn table(rows: &[KindRow]) -> String {
    let header = [
        "GROUP",
        "VERSION",
        "KIND",
        "RESOURCE",
        "SUBRESOURCES",
        "OPERATIONS",
    ];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                if r.group.is_empty() {
                    "core".to_owned()
                } else {
                    r.group.to_owned()
                },
                r.version.to_owned(),
                r.kind.to_owned(),
                r.resource.to_owned(),
                if r.subresources.is_empty() {
                    "-".to_owned()
                } else {
                    r.subresources.join(",")
                },
                r.operations.join(","),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    let lines = std::iter::once(header.map(str::to_owned)).chain(cells);
    for line in lines {
        let text: Vec<String> = line
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(text.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Prints the list (a closed pipe, as in `landed kinds | head`, is not an error).
pub async fn run(args: KindsArgs) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let rows = rows();
    let text = match args.output {
        Output::Json => format!("{}\n", serde_json::to_string_pretty(&rows)?),
        Output::Table => table(&rows),
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_kind_with_pods_ephemeralcontainers() {
        let rows = rows();
        assert_eq!(rows.len(), WorkloadKind::ALL.len());
        let pod = rows.iter().find(|r| r.kind == "Pod").expect("Pod row");
        assert_eq!(pod.group, "");
        assert_eq!(pod.resource, "pods");
        assert_eq!(pod.subresources, ["ephemeralcontainers"]);
        assert!(rows.iter().all(|r| r.operations == OPERATIONS));
    }

    #[test]
    fn json_has_the_documented_fields() {
        let value = serde_json::to_value(rows()).expect("serializes");
        let first = &value[0];
        for field in [
            "group",
            "version",
            "kind",
            "resource",
            "subresources",
            "operations",
        ] {
            assert!(first.get(field).is_some(), "missing {field}: {first}");
        }
    }

    #[test]
    fn table_names_core_and_aligns_columns() {
        let text = table(&rows());
        let mut lines = text.lines();
        assert!(lines.next().expect("header").starts_with("GROUP"));
        assert!(text.contains("core"), "{text}");
        assert!(text.contains("ephemeralcontainers"), "{text}");
        assert_eq!(text.lines().count(), WorkloadKind::ALL.len() + 1);
    }
}
