//! A real Prometheus (Debian's `prometheus`) with its own config in a temp dir, scraping one
//! target over TLS every second, queried through its HTTP API.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use reqwest::Client;
use serde_json::Value;

use crate::runtime::block_on;
use crate::server::free_port;
use crate::tools::Tool;

/// What Prometheus scrapes: one HTTPS target verified with a private CA.
#[derive(Clone, Debug)]
pub struct ScrapeTarget {
    /// `job_name` of the scrape config (the `job` label).
    pub job: String,
    /// `host:port`.
    pub address: String,
    /// PEM CA bundle that verifies the target's certificate.
    pub ca_file: PathBuf,
    /// The name the certificate must be valid for.
    pub server_name: String,
    /// Extra target labels (as prometheus-operator adds `namespace`, `pod`, ...).
    pub labels: Vec<(String, String)>,
}

/// A running Prometheus; killed on drop.
pub struct Prometheus {
    child: Child,
    port: u16,
    client: Client,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` every second and evaluating `rule_files` every
    /// second; waits until it is ready (a rules file that does not load stops it: an error).
    pub fn start(target: &ScrapeTarget, rule_files: &[PathBuf]) -> Result<Self> {
        let binary = Tool::Prometheus.require()?;
        let dir = tempfile::Builder::new().prefix("landed-prom-").tempdir()?;
        let config = dir.path().join("prometheus.yml");
        fs::write(&config, config_yaml(target, rule_files))?;
        let port = free_port()?;
        let log_path = dir.path().join("prometheus.log");
        let log = fs::File::create(&log_path)?;
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .current_dir(dir.path())
            .env_clear()
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting prometheus")?;
        let client = Client::builder().timeout(Duration::from_secs(10)).build()?;
        let mut prometheus = Self {
            child,
            port,
            client,
            log_path,
            _dir: dir,
        };
        prometheus.wait_ready()?;
        Ok(prometheus)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Some(status) = self.child.try_wait()? {
                bail!("prometheus exited ({status}):\n{}", self.log());
            }
            let url = format!("{}/-/ready", self.url());
            let ready = block_on(async { self.client.get(&url).send().await })
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("prometheus not ready after 30 s:\n{}", self.log())
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Everything Prometheus logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// GETs `path` of the HTTP API with `params` and returns `data`, or the API's error.
    fn api(&self, path: &str, params: &[(&str, &str)]) -> Result<Value> {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.url()), params)?;
        let body: Value = block_on(async {
            let response = self.client.get(url).send().await?;
            response.json::<Value>().await
        })
        .with_context(|| format!("GET {path}"))?;
        if body["status"] != "success" {
            bail!(
                "{}: {}",
                body["errorType"].as_str().unwrap_or("error"),
                body["error"].as_str().unwrap_or_default()
            );
        }
        Ok(body["data"].clone())
    }

    /// The series an instant query returns now (`/api/v1/query`): an error when the
    /// expression does not parse or fails to evaluate.
    pub fn query(&self, expr: &str) -> Result<Vec<Value>> {
        let data = self.api("/api/v1/query", &[("query", expr)])?;
        match (data["resultType"].as_str(), data["result"].as_array()) {
            (Some("vector" | "matrix"), Some(series)) => Ok(series.clone()),
            (Some(other), _) => bail!("{expr}: a {other}, not series"),
            _ => bail!("{expr}: unexpected answer {data}"),
        }
    }

    /// The values of `label` on the series `matcher` selects (`/api/v1/label/…/values`).
    pub fn label_values(&self, label: &str, matcher: &str) -> Result<Vec<String>> {
        let data = self.api(
            &format!("/api/v1/label/{label}/values"),
            &[("match[]", matcher)],
        )?;
        Ok(data
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Every rule Prometheus loaded (`/api/v1/rules`), each with its group's name added as
    /// `group`.
    pub fn rules(&self) -> Result<Vec<Value>> {
        let data = self.api("/api/v1/rules", &[])?;
        let mut rules = Vec::new();
        for group in data["groups"].as_array().into_iter().flatten() {
            for rule in group["rules"].as_array().into_iter().flatten() {
                let mut rule = rule.clone();
                rule["group"] = group["name"].clone();
                rules.push(rule);
            }
        }
        Ok(rules)
    }

    /// Waits until `expr` returns at least one series.
    pub fn wait_for(&self, expr: &str, limit: Duration) -> Result<Vec<Value>> {
        let started = Instant::now();
        loop {
            let last = self.query(expr);
            if let Ok(series) = &last {
                if !series.is_empty() {
                    return Ok(series.clone());
                }
            }
            if started.elapsed() > limit {
                bail!(
                    "{expr} returned no series within {limit:?} (last: {last:?}):\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// prometheus.yml: one-second scrapes and evaluations, the rules, one HTTPS job.
fn config_yaml(target: &ScrapeTarget, rule_files: &[PathBuf]) -> String {
    let mut out = String::from(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n",
    );
    if !rule_files.is_empty() {
        out.push_str("rule_files:\n");
        for file in rule_files {
            let _ = writeln!(out, "  - {}", quote_path(file));
        }
    }
    let _ = write!(
        out,
        "scrape_configs:\n  - job_name: {}\n    scheme: https\n    tls_config:\n      \
         ca_file: {}\n      server_name: {}\n    static_configs:\n      - targets: [{}]\n",
        quote(&target.job),
        quote_path(&target.ca_file),
        quote(&target.server_name),
        quote(&target.address),
    );
    if !target.labels.is_empty() {
        out.push_str("        labels:\n");
        for (name, value) in &target.labels {
            let _ = writeln!(out, "          {name}: {}", quote(value));
        }
    }
    out
}

/// A YAML double-quoted scalar (JSON string escaping is valid YAML).
fn quote(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

fn quote_path(path: &Path) -> String {
    quote(&path.display().to_string())
}
