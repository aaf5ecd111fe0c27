//! `landed policy test`: a YAML table of cases run against one component.
//!
//! ```yaml
//! cases:
//!   - name: absent image is denied
//!     input: inputs/pod.json        # PolicyInput or AdmissionReview, relative to this file
//!     verdicts: {"app:1": absent}   # for AdmissionReview inputs (default: landed)
//!     settings: {registries: [gcr.io]}
//!     mutating: true
//!     onUndetermined: deny
//!     expect:
//!       allowed: false
//!       message: push the image again     # substring
//!       warning: could not verify         # substring of one warning
//!       patch: []                         # exact JSON Patch ([] = none)
//!   - name: empty settings are refused
//!     settings: {}
//!     expect: {settingsError: at least one}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;
use serde_json::Value;

use super::input::{self, InputOptions};
use crate::mode::OnUndetermined;
use crate::policy::{Policy, PolicyModule, PreparedInput};

/// A case file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// The cases, run in order.
    pub cases: Vec<Case>,
}

/// One case.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Case {
    /// Shown in the PASS/FAIL line.
    pub name: String,
    /// A file path (string) or the input inline; absent for settings-only cases.
    #[serde(default)]
    pub input: Option<Value>,
    /// Settings (checked by `validate-settings`, then handed to `validate`).
    #[serde(default)]
    pub settings: Option<Value>,
    /// Verdicts for AdmissionReview inputs, by reference.
    #[serde(default)]
    pub verdicts: BTreeMap<String, String>,
    /// Force `context.mutating`.
    #[serde(default)]
    pub mutating: Option<bool>,
    /// Force `context.onUndetermined`.
    #[serde(default)]
    pub on_undetermined: Option<OnUndetermined>,
    /// What must hold.
    pub expect: Expect,
}

/// Expectations; every given one must hold.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expect {
    /// `allowed` of the output.
    pub allowed: Option<bool>,
    /// Substring of the message.
    pub message: Option<String>,
    /// Substring of one of the warnings.
    pub warning: Option<String>,
    /// The exact patch (`[]` for none).
    pub patch: Option<Value>,
    /// `validate-settings` refuses the settings with this substring.
    pub settings_error: Option<String>,
    /// The evaluation fails (trap, timeout, bad output) with this substring.
    pub error: Option<String>,
}

/// Runs every case, printing `PASS`/`FAIL` lines and the summary; true when all pass.
pub async fn run(policy: &PolicyModule, cases_path: &Path) -> anyhow::Result<bool> {
    let text = std::fs::read_to_string(cases_path)
        .with_context(|| format!("cannot read {}", cases_path.display()))?;
    let file: CaseFile = serde_saphyr::from_str(&text)
        .with_context(|| format!("invalid case file {}", cases_path.display()))?;
    let base = cases_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let (mut passed, mut failed) = (0usize, 0usize);
    for case in &file.cases {
        match run_case(policy, case, &base).await {
            Ok(()) => {
                passed += 1;
                println!("PASS {}", case.name);
            }
            Err(why) => {
                failed += 1;
                println!("FAIL {}: {why:#}", case.name);
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(failed == 0)
}

fn load_input(value: &Value, base: &Path) -> anyhow::Result<Value> {
    match value {
        Value::String(path) => input::read_value(&base.join(PathBuf::from(path))),
        inline => Ok(inline.clone()),
    }
}

async fn run_case(policy: &PolicyModule, case: &Case, base: &Path) -> anyhow::Result<()> {
    let expect = &case.expect;
    let settings = case.settings.clone().unwrap_or(Value::Null);
    match (policy.check_settings(&settings), &expect.settings_error) {
        (Err(e), Some(want)) if e.to_string().contains(want.as_str()) => return Ok(()),
        (Err(e), _) => anyhow::bail!("settings refused: {e}"),
        (Ok(()), Some(want)) => {
            anyhow::bail!("settings accepted, expected an error containing {want:?}")
        }
        (Ok(()), None) => {}
    }
    let raw = case.input.as_ref().context("the case has no input")?;
    let options = InputOptions {
        settings: Some(settings),
        mutating: case.mutating,
        on_undetermined: case.on_undetermined,
        verdicts: case.verdicts.clone(),
    };
    let value = load_input(raw, base)?;
    let body = input::review_body(&value);
    let (input, lookup) = input::review_input(value, &options)?;
    let mut prepared = PreparedInput::with_lookup(&input, lookup);
    if let Some(body) = &body {
        prepared = prepared.with_review_body(body);
    }
    let output = match (
        policy.evaluate(&prepared, &input.settings).await,
        &expect.error,
    ) {
        (Err(e), Some(want)) if e.to_string().contains(want.as_str()) => return Ok(()),
        (Err(e), _) => anyhow::bail!("policy error: {e}"),
        (Ok(out), Some(want)) => anyhow::bail!(
            "answered {}, expected an error containing {want:?}",
            serde_json::to_string(&out)?
        ),
        (Ok(out), None) => out,
    };
    let mut problems = Vec::new();
    if let Some(want) = expect.allowed {
        if output.allowed != want {
            problems.push(format!("allowed is {}, expected {want}", output.allowed));
        }
    }
    if let Some(want) = &expect.message {
        let got = output.message.as_deref().unwrap_or("");
        if !got.contains(want.as_str()) {
            problems.push(format!("message {got:?} does not contain {want:?}"));
        }
    }
    if let Some(want) = &expect.warning {
        if !output.warnings.iter().any(|w| w.contains(want.as_str())) {
            problems.push(format!(
                "no warning contains {want:?} (warnings: {:?})",
                output.warnings
            ));
        }
    }
    if let Some(want) = &expect.patch {
        let got = match &output.patch {
            Some(patch) => serde_json::to_value(patch)?,
            None => Value::Array(Vec::new()),
        };
        if &got != want {
            problems.push(format!("patch is {got}, expected {want}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{}", problems.join("; "))
    }
}
