//! `landed_tls_certificate_not_after_seconds` on `/metrics` follows the certificate being
//! served: set at start, replaced when a rotated certificate is reloaded (its own test binary:
//! the gauge is process-wide).

mod metrics_support;
mod server_support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use landed::server::ServerLimits;
use metrics_support::{parse, value};

const DAY: f64 = 86_400.0;

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

async fn expiry(client: &reqwest::Client, port: u16) -> Option<f64> {
    let url = format!("https://localhost:{port}/metrics");
    let text = client.get(&url).send().await.ok()?.text().await.ok()?;
    value(
        &parse(&text),
        "landed_tls_certificate_not_after_seconds",
        &[],
    )
}

#[tokio::test]
async fn certificate_expiry_is_exposed_and_follows_a_reload() {
    let started = now();
    let server = server_support::start(ServerLimits::default(), false).await;
    let client = server_support::client(server_support::tls_config(&server.ca, None));
    let port = server.addr.port();

    // The start-up leaf is valid for one day.
    let first = expiry(&client, port).await.expect("gauge set at start");
    assert!(
        (started + DAY - 60.0..=now() + DAY + 60.0).contains(&first),
        "expiry {first} is not a day after {started}"
    );

    // cert-manager renews in place: a 5-day leaf from the same CA, written over the files.
    let rotated_at = now();
    server
        .ca
        .issue(&["localhost".into(), "127.0.0.1".into()], 5)
        .expect("renewed leaf")
        .write(server.dir())
        .expect("write");
    let mut seen = first;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        seen = expiry(&client, port).await.expect("gauge");
        if seen != first {
            break;
        }
    }
    assert!(
        (rotated_at + 5.0 * DAY - 60.0..=now() + 5.0 * DAY + 60.0).contains(&seen),
        "after the reload the gauge reads {seen}, not five days after {rotated_at}"
    );
}
