//! Running the real `landed` binary the way a user or CI job does, in a pinned environment.
//!
//! The binary comes from [`crate::binary`].
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
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use tempfile::TempDir;

pub use crate::binary::landed_binary;
pub use crate::outputs::{CheckResult, CheckRun, ReviewRun, RunOutput};

use crate::config::LandedConfig;
use crate::docker_config::{docker_config, Login};

/// How long any single `landed` run may take before the harness kills it.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

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

    /// `landed policy SUB [--config FILE] ARGS...` (the config goes after the policy
    /// subcommand). Fails if the run printed a registered secret.
    pub fn policy(&self, sub: &str, args: &[&str]) -> Result<RunOutput> {
        let mut all_args = vec!["policy".to_owned(), sub.to_owned()];
        if let Some(config) = &self.config {
            all_args.push("--config".to_owned());
            all_args.push(config.display().to_string());
        }
        all_args.extend(args.iter().map(|a| (*a).to_owned()));
        let output = self.spawn(all_args, None)?;
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
