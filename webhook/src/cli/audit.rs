//! `landed audit`: what enforce mode would deny among the running workloads.
//!
//! Output: `table` (the default when stdout is a terminal), `json` (the default otherwise,
//! so a pipe gets something a program can read), `openreports` (a `List` of OpenReports
//! `Report`s) or `policyreport` (a `List` of wg-policy PolicyReports): one report per
//! workload, one result per image and policy. `--apply` writes the reports in the format
//! printed, or in `audit.reports` when the output is a table or JSON. A progress bar is drawn
//! on stderr only when stderr is a terminal. Exit codes as `landed check`: 2 invalid reference, 1 something would be
//! denied, 3 a verdict is undetermined, 0 otherwise.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Mutex;

use super::ConfigArg;
use crate::audit::{self, Decision, Findings, Progress, ReportFormat, Selection, Silent};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditOutput {
    /// Aligned columns, one line per container image, then what would be denied.
    Table,
    /// `{workloads: [...], skipped, lookups}`.
    Json,
    /// A `List` of openreports.io/v1alpha1 Reports.
    Openreports,
    /// A `List` of wgpolicyk8s.io/v1alpha2 PolicyReports.
    Policyreport,
}

impl AuditOutput {
    /// The report format this output prints, if it prints reports.
    fn report_format(self) -> Option<ReportFormat> {
        match self {
            Self::Table | Self::Json => None,
            Self::Openreports => Some(ReportFormat::Openreports),
            Self::Policyreport => Some(ReportFormat::Wgpolicyk8s),
        }
    }
}

/// Arguments of `landed audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// Namespace to scan (repeatable); every namespace when absent.
    #[arg(long, short = 'n', value_name = "NAMESPACE")]
    pub namespace: Vec<String>,
    /// Output format (default: table when stdout is a terminal, json otherwise).
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<AuditOutput>,
    /// Create or update the reports in the cluster (in the printed format, else `audit.reports`).
    #[arg(long)]
    pub apply: bool,
    /// Registry lookups in flight at once.
    #[arg(long, value_name = "N", default_value_t = audit::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
}

/// Runs `landed audit`.
pub async fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let output = args.output.unwrap_or(if std::io::stdout().is_terminal() {
        AuditOutput::Table
    } else {
        AuditOutput::Json
    });
    let config = args.config.load()?;
    let format = output.report_format().unwrap_or(config.audit.reports);
    let pipeline = super::pipeline(config, args.config.config.as_deref(), false).await?;
    let client = audit::connect().await?;
    let selection = Selection {
        namespaces: args.namespace,
    };
    let progress: Box<dyn Progress> = if std::io::stderr().is_terminal() {
        Box::new(Bar::default())
    } else {
        Box::new(Silent)
    };
    let findings = audit::audit(
        &client,
        &pipeline,
        &selection,
        args.concurrency,
        progress.as_ref(),
    )
    .await?;
    let names = audit::policy_names(&pipeline);
    let reports = audit::report::reports(&findings, &names, format, audit::now());
    match output {
        AuditOutput::Table => print!("{}", table(&findings)),
        AuditOutput::Json => println!("{}", serde_json::to_string_pretty(&findings)?),
        AuditOutput::Openreports | AuditOutput::Policyreport => {
            let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": reports});
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
    }
    if args.apply {
        audit::report::apply(&client, format, &reports).await?;
    }
    Ok(ExitCode::from(findings.exit_code()))
}

/// One line per container image, then the denial messages.
pub fn table(findings: &Findings) -> String {
    let mut rows = vec![[
        "NAMESPACE".to_owned(),
        "WORKLOAD".to_owned(),
        "CONTAINER".to_owned(),
        "IMAGE".to_owned(),
        "VERDICT".to_owned(),
        "ENFORCE".to_owned(),
    ]];
    for w in &findings.workloads {
        let decision = match w.decision {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::Breakglass => "breakglass",
        };
        for image in &w.images {
            rows.push([
                w.namespace.clone(),
                format!("{}/{}", w.kind, w.name),
                image.container.clone(),
                image.reference.clone(),
                image.verdict.to_string(),
                decision.to_owned(),
            ]);
        }
    }
    let mut widths = [0usize; 6];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (cell, w) in row.iter().zip(widths) {
            line.push_str(&format!("{cell:<w$}  "));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let denied: Vec<_> = findings
        .workloads
        .iter()
        .filter(|w| w.decision == Decision::Deny)
        .collect();
    out.push_str(&format!(
        "\n{} workload(s) scanned, {} would be denied\n",
        findings.workloads.len(),
        denied.len()
    ));
    for w in denied {
        for d in &w.denials {
            out.push_str(&format!(
                "  {}/{}/{}: [{}] {}\n",
                w.namespace, w.kind, w.name, d.policy, d.message
            ));
        }
    }
    out
}

/// A one-line progress bar on stderr (only used when stderr is a terminal).
#[derive(Debug, Default)]
struct Bar {
    state: Mutex<(&'static str, usize, usize)>,
}

impl Bar {
    fn draw(&self, phase: &str, total: usize, done: usize) {
        const WIDTH: usize = 30;
        let filled = (done * WIDTH)
            .checked_div(total)
            .unwrap_or(WIDTH)
            .min(WIDTH);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K{phase} [{}{}] {done}/{total}",
            "#".repeat(filled),
            " ".repeat(WIDTH - filled)
        );
        let _ = err.flush();
    }
}

impl Progress for Bar {
    fn begin(&self, phase: &'static str, total: usize) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        *state = (phase, total, 0);
        self.draw(phase, total, 0);
    }

    fn advance(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.2 += 1;
        self.draw(state.0, state.1, state.2);
    }

    fn end(&self) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}
