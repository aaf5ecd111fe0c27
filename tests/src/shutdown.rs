//! SIGTERM with reviews in flight: what the clients got, whether new connections were
//! refused meanwhile, and how the process ended.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use tokio::task::JoinSet;

use crate::load::{self, ConnectionKind, Outcome};
use crate::runtime::{block_on, runtime};
use crate::server::LandedServer;

/// What happened between SIGTERM and the exit.
pub struct Drained {
    /// The in-flight reviews' outcomes, in the order they were given.
    pub outcomes: Vec<Outcome>,
    /// When SIGTERM was sent.
    pub terminated: Instant,
    /// When a new connection was first refused.
    pub refused: Instant,
    /// When the process was seen gone.
    pub exited: Instant,
    /// Its exit code (`None`: killed by a signal).
    pub code: Option<i32>,
}

/// Posts each of `reviews` to `/validate` on its own new connection, waits until
/// `in_server` says all of them are being worked on, sends SIGTERM, then tries new
/// connections until one is refused, collects every answer and waits up to `limit` for the
/// exit.
pub fn sigterm_with_in_flight(
    server: &mut LandedServer,
    ca_pem: &str,
    reviews: Vec<Value>,
    in_server: impl Fn() -> bool,
    limit: Duration,
) -> Result<Drained> {
    let url = format!("{}/validate", server.url());
    let kind = ConnectionKind::Http1 { reconnect_every: 0 };
    let mut batch = JoinSet::new();
    for (i, review) in reviews.into_iter().enumerate() {
        let client = load::client(ca_pem, kind, limit)?;
        let (uid, url) = (format!("in-flight-{i}"), url.clone());
        batch.spawn_on(
            async move {
                (
                    i,
                    load::send(&client, &url, &review, &uid, false, kind).await,
                )
            },
            runtime().handle(),
        );
    }
    let waiting = Instant::now();
    while !in_server() {
        if waiting.elapsed() > limit {
            bail!("the reviews did not reach the server within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }

    server.terminate()?;
    let terminated = Instant::now();
    let refused = loop {
        match TcpStream::connect(("127.0.0.1", server.port())) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break Instant::now(),
            _ if terminated.elapsed() > limit => bail!("still accepting {limit:?} after SIGTERM"),
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let mut outcomes = block_on(async {
        let mut outcomes = Vec::new();
        while let Some(joined) = batch.join_next().await {
            outcomes.push(joined.context("an in-flight client panicked")?);
        }
        anyhow::Ok(outcomes)
    })?;
    outcomes.sort_by_key(|(i, _)| *i);
    let (code, exited) = server.wait_exit(limit)?;
    Ok(Drained {
        outcomes: outcomes.into_iter().map(|(_, o)| o).collect(),
        terminated,
        refused,
        exited,
        code,
    })
}
