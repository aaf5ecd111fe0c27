//! Running the real `landed` binary the way a user or CI job does, in a pinned environment.
//!
//! The binary is built once per test process with `cargo build -p landed --bin landed`
//! (same target dir and profile as the tests; cargo's own lock serialises it with other
//! builds), so `cargo test -p landed-e2e` alone is enough. `LANDED_BIN=/path/to/landed`
//! skips the build and tests that binary instead.
//!
//! Every run starts from an empty environment: `HOME` is a temp dir, `PATH` is
//! `/usr/bin:/bin`, `DOCKER_CONFIG` points into the temp home, and
//! `GOOGLE_APPLICATION_CREDENTIALS` / `KUBECONFIG` are absent unless a test sets them. Every
//! run's stdout and stderr are searched for the secrets registered with
//! [`Landed::add_secret`]; a hit fails the run.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use tempfile::TempDir;

use crate::config::LandedConfig;
use crate::docker_config::{docker_config, Login};

/// How long any single `landed` run may take before the harness kills it.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// The `landed` binary, built on first use (or `LANDED_BIN`).
pub fn landed_binary() -> Result<PathBuf> {
    static BINARY: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| build_landed().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

fn build_landed() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("LANDED_BIN") {
        return Ok(PathBuf::from(path));
    }
    let cargo = std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(Into::into))
        .unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the tests crate has no parent directory")?;
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "-p", "landed", "--bin", "landed"])
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit());
    // cargo sets per-crate variables for the test process; build scripts that track them
    // (ring tracks CARGO_MANIFEST_DIR) would otherwise rebuild at every switch between this
    // build and the outer `cargo test`.
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if is_per_crate_cargo_var(key) {
            command.env_remove(key);
        }
    }
    // Build with the profile the tests were built with (target/<profile>/deps/<test>).
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .unwrap_or("debug");
    match profile_dir {
        "debug" => {}
        "release" => {
            command.arg("--release");
        }
        other => {
            command.args(["--profile", other]);
        }
    }
    let out = command.output().context("running cargo build for landed")?;
    if !out.status.success() {
        bail!("cargo build -p landed failed ({})", out.status);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout.lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let is_landed_bin = message["reason"] == "compiler-artifact"
            && message["target"]["name"] == "landed"
            && message["target"]["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "bin"));
        if let (true, Some(path)) = (is_landed_bin, message["executable"].as_str()) {
            return Ok(PathBuf::from(path));
        }
    }
    bail!("cargo build did not report the landed executable")
}

/// Variables cargo sets for one crate's processes, not for the user's cargo invocations.
fn is_per_crate_cargo_var(key: &str) -> bool {
    const EXACT: [&str; 8] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "OUT_DIR",
    ];
    EXACT.contains(&key) || key.starts_with("CARGO_PKG_") || key.starts_with("CARGO_BIN_EXE_")
}

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

/// A `landed` user: a temp home, a pinned environment, an optional config file.
pub struct Landed {
    home: TempDir,
    env: BTreeMap<String, String>,
    secrets: Vec<String>,
    config: Option<PathBuf>,
}

impl Landed {
    /// A fresh user with an empty home and no credentials anywhere.
    pub fn new() -> Result<Self> {
        let home = tempfile::Builder::new()
            .prefix("landed-e2e-home-")
            .tempdir()?;
        let docker = home.path().join(".docker");
        fs::create_dir_all(&docker)?;
        let mut env = BTreeMap::new();
        env.insert("HOME".to_owned(), home.path().display().to_string());
        env.insert("PATH".to_owned(), "/usr/bin:/bin".to_owned());
        env.insert("DOCKER_CONFIG".to_owned(), docker.display().to_string());
        env.insert("NO_COLOR".to_owned(), "1".to_owned());
        Ok(Self {
            home,
            env,
            secrets: Vec::new(),
            config: None,
        })
    }

    /// The temp home directory (also a place for test files).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Sets an environment variable for every later run.
    pub fn set_env(&mut self, key: &str, value: impl Into<String>) {
        self.env.insert(key.to_owned(), value.into());
    }

    /// Removes an environment variable from every later run.
    pub fn remove_env(&mut self, key: &str) {
        self.env.remove(key);
    }

    /// Puts `dir` first on `PATH` (for credential helpers and the like).
    pub fn prepend_path(&mut self, dir: &Path) {
        let path = format!("{}:/usr/bin:/bin", dir.display());
        self.env.insert("PATH".to_owned(), path);
    }

    /// The environment every run gets.
    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }

    /// The secrets registered so far.
    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }

    /// Registers a secret that must never appear in any run's output.
    pub fn add_secret(&mut self, secret: impl Into<String>) {
        let secret = secret.into();
        if !secret.is_empty() {
            self.secrets.push(secret);
        }
    }

    /// Writes `config` as `landed.yaml` in the home; later runs pass `--config` with it.
    pub fn set_config(&mut self, config: &LandedConfig) -> Result<PathBuf> {
        let path = self.home.path().join("landed.yaml");
        fs::write(&path, config.to_yaml())?;
        self.config = Some(path.clone());
        Ok(path)
    }

    /// Writes `$DOCKER_CONFIG/config.json` with `logins` and registers their passwords (and
    /// Basic encodings) as secrets.
    pub fn write_docker_config(&mut self, logins: &[Login]) -> Result<PathBuf> {
        let dir = PathBuf::from(self.env.get("DOCKER_CONFIG").cloned().unwrap_or_default());
        fs::create_dir_all(&dir)?;
        let path = dir.join("config.json");
        fs::write(&path, serde_json::to_vec_pretty(&docker_config(logins))?)?;
        for login in logins {
            self.add_secret(login.password.clone());
            self.add_secret(login.encoded());
        }
        Ok(path)
    }

    /// Runs `landed ARGS` (with `--config` after the subcommand when a config is set),
    /// feeding `stdin`. Fails if the run printed a registered secret.
    pub fn run(&self, subcommand: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<RunOutput> {
        let mut all_args = vec![subcommand.to_owned()];
        if let Some(config) = &self.config {
            all_args.push("--config".to_owned());
            all_args.push(config.display().to_string());
        }
        all_args.extend(args.iter().map(|a| (*a).to_owned()));
        let output = self.spawn(all_args, stdin)?;
        self.assert_no_secrets(&output)?;
        Ok(output)
    }

    /// `landed check --output json [EXTRA...] IMAGES...`.
    pub fn check(&self, images: &[&str]) -> Result<CheckRun> {
        self.check_with(&[], images)
    }

    /// `landed check --output json EXTRA... IMAGES...` (e.g. `--expect-digest D`).
    pub fn check_with(&self, extra: &[&str], images: &[&str]) -> Result<CheckRun> {
        let mut args = vec!["--output", "json"];
        args.extend_from_slice(extra);
        args.extend_from_slice(images);
        Ok(CheckRun {
            output: self.run("check", &args, None)?,
        })
    }

    /// `landed review FILE` with `review` written to a file in the home.
    pub fn review(&self, review: &Value) -> Result<ReviewRun> {
        let path = self
            .home
            .path()
            .join(format!("review-{}.json", crate::random_hex(4)));
        fs::write(&path, serde_json::to_vec_pretty(review)?)?;
        let path = path.display().to_string();
        Ok(ReviewRun {
            output: self.run("review", &[&path], None)?,
        })
    }

    /// `landed review -` with `review` on stdin.
    pub fn review_stdin(&self, review: &Value) -> Result<ReviewRun> {
        let bytes = serde_json::to_vec(review)?;
        Ok(ReviewRun {
            output: self.run("review", &["-"], Some(&bytes))?,
        })
    }

    fn assert_no_secrets(&self, output: &RunOutput) -> Result<()> {
        for (i, secret) in self.secrets.iter().enumerate() {
            for (stream, text) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
                if text.contains(secret.as_str()) {
                    // Name the secret by number only: the report must not leak it either.
                    bail!(
                        "credential leak: registered secret #{i} ({} chars) appears in {stream} \
                         of `landed {}`",
                        secret.len(),
                        output.args.join(" ")
                    );
                }
            }
        }
        Ok(())
    }

    fn spawn(&self, args: Vec<String>, stdin: Option<&[u8]>) -> Result<RunOutput> {
        let binary = landed_binary()?;
        let started = Instant::now();
        let mut child = Command::new(&binary)
            .args(&args)
            .current_dir(self.home.path())
            .env_clear()
            .envs(&self.env)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(bytes)?;
        }
        let stdout = reader(child.stdout.take());
        let stderr = reader(child.stderr.take());
        let code = loop {
            if let Some(status) = child.try_wait()? {
                break status.code();
            }
            if started.elapsed() > RUN_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = started.elapsed();
        Ok(RunOutput {
            args,
            code,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
            elapsed,
        })
    }
}

/// Reads a pipe to the end on its own thread.
fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}
