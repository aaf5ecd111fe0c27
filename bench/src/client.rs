//! An HTTPS client for reviews: posts AdmissionReviews, checks each answer (200, the uid
//! echoed, `allowed`), and drives many reviews from a fixed number of connections.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use reqwest::Client;
use serde_json::Value;
use tokio::task::JoinSet;

use landed_e2e::runtime::{block_on, install_crypto_provider};

/// Makes clients that trust the serving CA.
#[derive(Clone)]
pub struct ReviewClient {
    ca_pem: String,
    shared: Client,
}

/// One checked answer.
#[derive(Clone, Copy, Debug)]
pub struct Answer {
    /// `response.allowed`.
    pub allowed: bool,
    /// `response.warnings` is not empty (an image that could not be verified says so).
    pub warned: bool,
    /// Time from send to the full answer.
    pub latency: Duration,
}

/// What a batch of reviews got.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Answers that allowed.
    pub allowed: usize,
    /// Answers that denied.
    pub denied: usize,
    /// Failed requests or malformed answers (the first one's text in `first_error`).
    pub failed: usize,
    /// The first failure.
    pub first_error: Option<String>,
    /// Every answered review's latency, sorted.
    pub latencies: Vec<Duration>,
    /// Wall time of the batch.
    pub elapsed: Duration,
}

impl Batch {
    /// The `q` quantile (0..=1) of the latencies.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank =
            ((self.latencies.len() as f64 * q).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[rank - 1]
    }

    /// Reviews answered per second.
    pub fn throughput(&self) -> f64 {
        (self.allowed + self.denied) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn add(&mut self, answer: Result<Answer>) {
        match answer {
            Ok(a) => {
                if a.allowed {
                    self.allowed += 1;
                } else {
                    self.denied += 1;
                }
                self.latencies.push(a.latency);
            }
            Err(e) => {
                self.failed += 1;
                self.first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
}

impl ReviewClient {
    /// A client trusting only `ca_pem`.
    pub fn new(ca_pem: &str) -> Result<Self> {
        install_crypto_provider();
        let shared = Self::build(ca_pem)?;
        Ok(Self {
            ca_pem: ca_pem.to_owned(),
            shared,
        })
    }

    fn build(ca_pem: &str) -> Result<Client> {
        Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes())?])
            .http1_only()
            .timeout(Duration::from_secs(30))
            .build()
            .context("building an HTTPS client")
    }

    /// A client of its own (its own connection pool).
    pub fn fresh(&self) -> Result<Client> {
        Self::build(&self.ca_pem)
    }

    /// Whether `GET url/healthz` answers 2xx.
    pub fn healthy(&self, url: &str) -> bool {
        let url = format!("{url}/healthz");
        block_on(async { self.shared.get(&url).send().await })
            .map(|r| r.status().is_success())
            .unwrap_or(false)
    }

    /// `url/readyz`: whether it answers 200, and its body (`{"ready":…}`).
    pub fn ready(&self, url: &str) -> Result<(bool, String)> {
        let url = format!("{url}/readyz");
        block_on(async {
            let response = self.shared.get(&url).send().await?;
            let ok = response.status().is_success();
            Ok((ok, response.text().await?))
        })
    }

    /// Posts `review` to `url/validate` once and checks the answer.
    pub fn review_once(&self, url: &str, review: &Value) -> Result<Answer> {
        block_on(post_review(&self.shared, url, review))
    }

    /// Sends `count` reviews, `make(i)` being the i-th, over `connections` connections each
    /// sending one review at a time.
    pub fn drive(
        &self,
        url: &str,
        count: usize,
        connections: usize,
        make: impl Fn(usize) -> Result<Value> + Send + Sync + 'static,
    ) -> Result<Batch> {
        let next = Arc::new(AtomicUsize::new(0));
        let make = Arc::new(make);
        let started = Instant::now();
        let mut batch = block_on(async {
            let mut tasks = JoinSet::new();
            for _ in 0..connections {
                let (client, url) = (self.fresh()?, url.to_owned());
                let (next, make) = (next.clone(), make.clone());
                tasks.spawn(async move {
                    let mut batch = Batch::default();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            return batch;
                        }
                        let answer = match make(i) {
                            Ok(review) => post_review(&client, &url, &review).await,
                            Err(e) => Err(e),
                        };
                        batch.add(answer);
                    }
                });
            }
            let mut total = Batch::default();
            while let Some(done) = tasks.join_next().await {
                let part = done.context("a review worker panicked")?;
                total.allowed += part.allowed;
                total.denied += part.denied;
                total.failed += part.failed;
                total.latencies.extend(part.latencies);
                if total.first_error.is_none() {
                    total.first_error = part.first_error;
                }
            }
            anyhow::Ok(total)
        })?;
        batch.elapsed = started.elapsed();
        batch.latencies.sort();
        Ok(batch)
    }
}

/// POSTs one review and checks status, uid and shape.
pub async fn post_review(client: &Client, url: &str, review: &Value) -> Result<Answer> {
    let sent = Instant::now();
    let response = client
        .post(format!("{url}/validate"))
        .json(review)
        .send()
        .await
        .context("POST /validate")?;
    let status = response.status();
    let text = response.text().await.context("reading the answer")?;
    let latency = sent.elapsed();
    if !status.is_success() {
        bail!("HTTP {status}: {text}");
    }
    let body: Value = serde_json::from_str(&text).context("the answer is not JSON")?;
    let answer = &body["response"];
    if answer["uid"] != review["request"]["uid"] {
        bail!("the answer does not echo the request uid: {text}");
    }
    let Some(allowed) = answer["allowed"].as_bool() else {
        bail!("the answer has no response.allowed: {text}");
    };
    let warned = answer["warnings"].as_array().is_some_and(|w| !w.is_empty());
    Ok(Answer {
        allowed,
        warned,
        latency,
    })
}
