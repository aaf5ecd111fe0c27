//! A flood of dry-run Pods, each naming registries never seen before: landed keeps per-host
//! state for at most `resolve.maxHosts` registries, so memory stays flat and every review is
//! answered in time.
//!
//! The hosts landed may contact are random loopback addresses, allowed through
//! `egress.allowPrivateHosts` (a stand-in for the public hosts an attacker would name: each
//! gets state and a connection attempt, refused at once, with no DNS round trip); beside
//! them each review names a random internal address (refused before any state) and every
//! tenth a random name (resolved, found no public address). Random GAR projects are bounded
//! by the same table (`resolve::limits` unit tests); DNS here takes ~40 ms a name, which
//! would make 5,000 of them a slow test.

use std::time::{Duration, Instant};

use landed_e2e::fault_server::rss_kib;
use landed_e2e::random_hex;
use landed_e2e::review::PodReview;
use landed_e2e::server::LandedServer;
use landed_e2e::{Landed, LandedConfig};
use serde_json::json;

const REVIEWS: usize = 5_000;
const WARM_UP: usize = 500;
const CLIENTS: usize = 8;
const MAX_HOSTS: usize = 1_024;
/// RSS the 5,000 reviews may add after the warm-up (measured: 2.9 MiB; with the table
/// unbounded, 6,056 hosts kept state and RSS grew 5.0 MiB). The host count is the sharp
/// check; this one catches state that grows per review in some other place.
const GROWTH_BOUND_MIB: f64 = 12.0;

fn byte() -> u8 {
    u8::from_str_radix(&random_hex(1), 16).unwrap_or(1)
}

fn review(i: usize) -> serde_json::Value {
    let port = 1024 + u16::from(byte()) * 200 + u16::from(byte());
    let mut review = PodReview::new("shop")
        .expect("fixture")
        .container(
            "a",
            &format!("127.{}.{}.{}:{port}/app:1", byte(), byte(), byte().max(2)),
        )
        .container("b", &format!("10.{}.{}.7:{port}/app:1", byte(), byte()));
    if i.is_multiple_of(10) {
        review = review.container("c", &format!("r{}.flood.example/app:1", random_hex(6)));
    }
    let mut review = review.to_json();
    review["request"]["dryRun"] = json!(true);
    review
}

/// Sends `count` reviews from `CLIENTS` threads; the slowest answer.
fn flood(server: &LandedServer, count: usize) -> Duration {
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CLIENTS)
            .map(|_| {
                scope.spawn(|| {
                    let mut slowest = Duration::ZERO;
                    for i in 0..count / CLIENTS {
                        let started = Instant::now();
                        let (status, body) = server.post("/validate", &review(i)).expect("POST");
                        slowest = slowest.max(started.elapsed());
                        assert_eq!(status, 200, "{body}");
                        assert_eq!(body["response"]["allowed"], true, "{body}");
                    }
                    slowest
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("client"))
            .max()
            .unwrap_or_default()
    })
}

fn tracked_hosts(server: &LandedServer) -> usize {
    let (_, metrics) = server.get("/metrics").expect("metrics");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("landed_registry_hosts_tracked "))
        .and_then(|v| v.trim().parse().ok())
        .expect("landed_registry_hosts_tracked")
}

#[test]
fn five_thousand_dry_run_reviews_naming_random_registries_keep_memory_flat_and_answer_in_time() {
    let mut landed = Landed::new().expect("landed");
    let deadline = Duration::from_secs(3);
    let config = LandedConfig {
        allow_private_hosts: vec!["127.0.0.0/8".to_owned()],
        ..LandedConfig::default()
    };
    let server = LandedServer::start(&mut landed, &config).expect("serve");
    let pid = server.pid();

    flood(&server, WARM_UP);
    let warm = rss_kib(pid).expect("RSS") as f64 / 1024.0;
    let slowest = flood(&server, REVIEWS);
    let end = rss_kib(pid).expect("RSS") as f64 / 1024.0;
    let tracked = tracked_hosts(&server);
    eprintln!(
        "{REVIEWS} reviews naming {} registries: RSS {warm:.1} -> {end:.1} MiB, \
         {tracked} hosts tracked, slowest answer {slowest:?}",
        REVIEWS * 2 + REVIEWS / 10
    );
    assert!(tracked <= MAX_HOSTS, "{tracked} hosts have state");
    assert!(
        tracked > MAX_HOSTS / 2,
        "the flood reached the host table ({tracked}): the test would prove nothing"
    );
    assert!(
        end - warm <= GROWTH_BOUND_MIB,
        "RSS grew {:.1} MiB ({warm:.1} -> {end:.1})",
        end - warm
    );
    assert!(
        slowest < deadline + Duration::from_secs(1),
        "a review took {slowest:?}"
    );
    server.stop_and_check_logs().expect("logs");
}
