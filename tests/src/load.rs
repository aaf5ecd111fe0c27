//! Many concurrent HTTPS clients posting AdmissionReviews to `landed serve` for a fixed time,
//! every answer checked (status, uid echoed, allowed or denied as expected) and timed.
//!
//! Each client owns its connection (its own reqwest client, pool of one) and sends one review
//! at a time, so N clients hold N connections. Clients run on the shared [`crate::runtime`]
//! while the test thread does other things (rotating certificates, changing policies).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use reqwest::{Certificate, Client, Version};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::review::PodReview;
use crate::runtime::{block_on, install_crypto_provider, runtime};

/// How a client holds its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionKind {
    /// HTTP/1.1 keep-alive; every `reconnect_every`th request asks the server to close the
    /// connection (`Connection: close`), so the next one opens a new one.
    Http1 {
        /// Requests per connection.
        reconnect_every: u32,
    },
    /// HTTP/2 (negotiated by ALPN) on one long-lived connection.
    Http2,
    /// A new TLS connection for every request.
    Fresh,
}

/// One kind of review the clients send, and the answer it must get.
#[derive(Clone, Debug)]
pub struct Case {
    /// The review (a fresh uid is set on every send).
    pub review: PodReview,
    /// Whether the answer must allow it.
    pub allowed: bool,
}

/// What one review got.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Index of the [`Case`].
    pub case: usize,
    /// How the client held its connection.
    pub kind: ConnectionKind,
    /// When the request was sent.
    pub sent: Instant,
    /// When the answer (or the error) came.
    pub received: Instant,
    /// SHA-256 of the certificate the server presented on this connection (`sha256:…`).
    pub certificate: Option<String>,
    /// The checked answer, or why it is a failed review.
    pub answer: Result<Answer, String>,
}

impl Outcome {
    /// Time from send to answer.
    pub fn latency(&self) -> Duration {
        self.received - self.sent
    }
}

/// A well-formed answer that matched its case.
#[derive(Clone, Debug)]
pub struct Answer {
    /// `response.allowed`.
    pub allowed: bool,
    /// `response.status.message` (denials).
    pub message: String,
    /// `response.warnings`.
    pub warnings: Vec<String>,
}

/// A load run in progress.
pub struct Running {
    started: Instant,
    stop: watch::Sender<bool>,
    tasks: JoinSet<(Client, Vec<Outcome>)>,
}

/// A finished load run.
pub struct LoadRun {
    /// When the clients started.
    pub started: Instant,
    /// When the last client stopped.
    pub finished: Instant,
    /// Every review sent.
    pub outcomes: Vec<Outcome>,
    /// The clients, still holding their idle keep-alive connections.
    pub clients: Vec<Client>,
}

/// An HTTPS client trusting only `ca_pem`, holding at most one idle connection.
pub fn client(ca_pem: &str, kind: ConnectionKind, timeout: Duration) -> Result<Client> {
    install_crypto_provider();
    let builder = Client::builder()
        .tls_certs_only([Certificate::from_pem(ca_pem.as_bytes())?])
        .tls_info(true)
        .no_proxy()
        .timeout(timeout)
        .pool_idle_timeout(None);
    let builder = match kind {
        ConnectionKind::Http1 { .. } => builder.http1_only().pool_max_idle_per_host(1),
        ConnectionKind::Http2 => builder.pool_max_idle_per_host(1),
        ConnectionKind::Fresh => builder.http1_only().pool_max_idle_per_host(0),
    };
    Ok(builder.build()?)
}

/// Starts one client per entry of `kinds`, each posting `cases` in turn to `url` until
/// [`Running::finish`], at most one review per `pace` (zero: back to back). Clients start
/// spread over one `pace` so the reviews arrive evenly.
pub fn start(
    url: &str,
    ca_pem: &str,
    kinds: &[ConnectionKind],
    cases: &[Case],
    pace: Duration,
) -> Result<Running> {
    let cases: Arc<Vec<(Value, bool)>> = Arc::new(
        cases
            .iter()
            .map(|c| (c.review.to_json(), c.allowed))
            .collect(),
    );
    let clients: Vec<Client> = kinds
        .iter()
        .map(|kind| client(ca_pem, *kind, Duration::from_secs(30)))
        .collect::<Result<_>>()
        .context("building the load clients")?;
    let started = Instant::now();
    let (stop, stopped) = watch::channel(false);
    let kinds_len = kinds.len().max(1);
    let mut tasks = JoinSet::new();
    for (index, (client, kind)) in clients.into_iter().zip(kinds.iter().copied()).enumerate() {
        let (url, cases, mut stopped) = (url.to_owned(), cases.clone(), stopped.clone());
        tasks.spawn_on(
            async move {
                let mut outcomes = Vec::new();
                let mut sequence = 0u64;
                let spread = pace.mul_f64(index as f64 / kinds_len as f64);
                let mut next = tokio::time::Instant::now() + spread;
                loop {
                    // A paced client may be asleep for most of a pace: stop wakes it.
                    tokio::select! {
                        _ = tokio::time::sleep_until(next) => {}
                        _ = stopped.wait_for(|stop| *stop) => break,
                    }
                    // From this send: a slow answer delays the next review, never bunches them.
                    next = next.max(tokio::time::Instant::now()) + pace;
                    let case = (index + sequence as usize) % cases.len();
                    let (review, allowed) = &cases[case];
                    let uid = format!("{index:08x}-0000-4000-8000-{sequence:012x}");
                    let close = matches!(kind, ConnectionKind::Http1 { reconnect_every }
                        if (sequence + 1).is_multiple_of(u64::from(reconnect_every.max(1))));
                    let mut outcome = send(&client, &url, review, &uid, close, kind).await;
                    outcome.case = case;
                    if let Ok(answer) = &outcome.answer {
                        if answer.allowed != *allowed {
                            outcome.answer =
                                Err(format!("expected allowed={allowed}, got {answer:?}"));
                        }
                    }
                    outcomes.push(outcome);
                    sequence += 1;
                }
                (client, outcomes)
            },
            runtime().handle(),
        );
    }
    Ok(Running {
        started,
        stop,
        tasks,
    })
}

impl Running {
    /// Tells every client to stop after its current review and waits for them.
    pub fn finish(mut self) -> Result<LoadRun> {
        self.stop.send_replace(true);
        let mut outcomes = Vec::new();
        let mut clients = Vec::new();
        block_on(async {
            while let Some(joined) = self.tasks.join_next().await {
                let (client, mut mine) = joined.context("a load client panicked")?;
                clients.push(client);
                outcomes.append(&mut mine);
            }
            anyhow::Ok(())
        })?;
        Ok(LoadRun {
            started: self.started,
            finished: Instant::now(),
            outcomes,
            clients,
        })
    }
}

/// Posts one review with `uid` and checks the envelope of the answer.
pub async fn send(
    client: &Client,
    url: &str,
    review: &Value,
    uid: &str,
    close: bool,
    kind: ConnectionKind,
) -> Outcome {
    let mut body = review.clone();
    body["request"]["uid"] = json!(uid);
    let sent = Instant::now();
    let mut request = client.post(url).json(&body);
    if close {
        request = request.header("connection", "close");
    }
    let result = request.send().await;
    let mut certificate = None;
    let answer = match result {
        Err(err) => Err(format!("transport: {}", chain(&err))),
        Ok(response) => {
            certificate = response
                .extensions()
                .get::<reqwest::tls::TlsInfo>()
                .and_then(|info| info.peer_certificate())
                .map(crate::sha256_digest);
            let status = response.status();
            let version = response.version();
            match response.text().await {
                Err(err) => Err(format!("reading the body: {}", chain(&err))),
                Ok(text) if !status.is_success() => Err(format!("HTTP {status}: {text}")),
                Ok(_) if kind == ConnectionKind::Http2 && version != Version::HTTP_2 => {
                    Err(format!("expected HTTP/2, got {version:?}"))
                }
                Ok(text) => check(&text, uid),
            }
        }
    };
    Outcome {
        case: 0,
        kind,
        sent,
        received: Instant::now(),
        certificate,
        answer,
    }
}

/// Parses an AdmissionReview answer and checks its uid.
fn check(text: &str, uid: &str) -> Result<Answer, String> {
    let body: Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON ({e}): {text:.200}"))?;
    let response = &body["response"];
    if response["uid"] != uid {
        return Err(format!("uid {uid} not echoed: {text:.300}"));
    }
    let allowed = response["allowed"]
        .as_bool()
        .ok_or_else(|| format!("no response.allowed: {text:.300}"))?;
    let strings = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|w| w.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(Answer {
        allowed,
        message: response["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        warnings: strings(&response["warnings"]),
    })
}

/// An error with its causes, one after the other.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The first `n` failures of `outcomes`, one a line.
pub fn failures(outcomes: &[Outcome], n: usize) -> String {
    outcomes
        .iter()
        .filter_map(|o| o.answer.as_ref().err())
        .take(n)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n")
}

/// Raises this process's soft open-file limit to at least `needed` (children inherit it).
/// Fails when the hard limit is lower.
pub fn raise_open_file_limit(needed: u64) -> Result<()> {
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    if soft >= needed {
        return Ok(());
    }
    let now = rlimit::increase_nofile_limit(needed)?;
    anyhow::ensure!(
        now >= needed,
        "need {needed} open files, the hard limit is {hard}: raise it (ulimit -Hn)"
    );
    Ok(())
}

/// Counts and latency percentiles of a set of outcomes.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Reviews sent.
    pub requests: usize,
    /// Failed reviews (transport error, non-200, malformed or wrong answer).
    pub failures: usize,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Slowest review.
    pub max: Duration,
}

impl Summary {
    /// Summarises `outcomes`.
    pub fn of<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> Self {
        let mut latencies = Vec::new();
        let mut failures = 0;
        for outcome in outcomes {
            latencies.push(outcome.latency());
            failures += usize::from(outcome.answer.is_err());
        }
        latencies.sort();
        let at = |q: f64| {
            let i = ((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1);
            latencies.get(i).copied().unwrap_or_default()
        };
        Self {
            requests: latencies.len(),
            failures,
            p50: at(0.50),
            p99: at(0.99),
            max: latencies.last().copied().unwrap_or_default(),
        }
    }
}
