//! What a `landed` run printed, parsed: `check --output json` results and `review` responses.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// What one run printed and how it ended.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// The command line after `landed`.
    pub args: Vec<String>,
    /// Exit code (`None` if killed by a signal or by the harness's time limit).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
}

impl RunOutput {
    /// A readable summary for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "`landed {}` exited {:?} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args.join(" "),
            self.code,
            self.elapsed,
            self.stdout,
            self.stderr
        )
    }
}

/// One element of `landed check --output json`.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckResult {
    /// The reference as given.
    pub reference: String,
    /// The normalized reference.
    pub normalized: Option<String>,
    /// The verdict class (`landed`, `absent`, …).
    pub verdict: String,
    /// The manifest digest, when known.
    pub digest: Option<String>,
    /// Human-readable detail.
    pub detail: Option<String>,
    /// The whole JSON object.
    pub raw: Value,
}

impl CheckResult {
    fn from_json(raw: Value) -> Result<Self> {
        let text = |key: &str| raw[key].as_str().map(str::to_owned);
        Ok(Self {
            reference: text("reference").context("result without `reference`")?,
            normalized: text("normalized"),
            verdict: text("verdict").context("result without `verdict`")?,
            digest: text("digest"),
            detail: text("detail"),
            raw,
        })
    }
}

/// A finished `landed check --output json`.
#[derive(Clone, Debug)]
pub struct CheckRun {
    /// The run.
    pub output: RunOutput,
}

impl CheckRun {
    /// The exit code.
    pub fn code(&self) -> Option<i32> {
        self.output.code
    }

    /// The parsed JSON array.
    pub fn results(&self) -> Result<Vec<CheckResult>> {
        let value: Value = serde_json::from_str(self.output.stdout.trim())
            .with_context(|| format!("stdout is not the JSON array\n{}", self.output.describe()))?;
        let items = value
            .as_array()
            .with_context(|| format!("stdout is not an array\n{}", self.output.describe()))?;
        items.iter().cloned().map(CheckResult::from_json).collect()
    }

    /// The only result (the run checked one image).
    pub fn single(&self) -> Result<CheckResult> {
        let mut results = self.results()?;
        if results.len() != 1 {
            bail!(
                "expected one result, got {}\n{}",
                results.len(),
                self.output.describe()
            );
        }
        results.pop().context("one result")
    }

    /// Asserts the run checked one image whose verdict is `verdict`, and returns it.
    ///
    /// # Panics
    /// When it is not so, with the whole run in the message (a test assertion).
    pub fn assert_single_verdict(&self, verdict: &str) -> CheckResult {
        match self.single() {
            Ok(result) if result.verdict == verdict => result,
            Ok(result) => panic!(
                "expected verdict {verdict}, got {} (detail {:?})\n{}",
                result.verdict,
                result.detail,
                self.output.describe()
            ),
            Err(err) => panic!("expected verdict {verdict}: {err:#}"),
        }
    }

    /// The result for `reference` as given on the command line.
    pub fn result_for(&self, reference: &str) -> Result<CheckResult> {
        self.results()?
            .into_iter()
            .find(|r| r.reference == reference)
            .with_context(|| format!("no result for {reference}\n{}", self.output.describe()))
    }
}

/// A finished `landed review`.
#[derive(Clone, Debug)]
pub struct ReviewRun {
    /// The run.
    pub output: RunOutput,
}

impl ReviewRun {
    /// The printed AdmissionReview's `response`.
    pub fn response(&self) -> Result<Value> {
        let value: Value = serde_json::from_str(self.output.stdout.trim()).with_context(|| {
            format!(
                "stdout is not an AdmissionReview\n{}",
                self.output.describe()
            )
        })?;
        let response = value["response"].clone();
        if !response.is_object() {
            bail!("no `response` object\n{}", self.output.describe());
        }
        Ok(response)
    }

    /// `response.allowed`.
    pub fn allowed(&self) -> Result<bool> {
        self.response()?["allowed"]
            .as_bool()
            .with_context(|| format!("no boolean `allowed`\n{}", self.output.describe()))
    }

    /// `response.status.message` (empty when absent).
    pub fn message(&self) -> Result<String> {
        Ok(self.response()?["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// `response.warnings` (empty when absent).
    pub fn warnings(&self) -> Result<Vec<String>> {
        Ok(self.response()?["warnings"]
            .as_array()
            .map(|w| {
                w.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }
}
