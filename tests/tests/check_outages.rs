//! Registries we cannot read right now: undetermined verdicts, never `absent`, and never a
//! hang past the deadline.

use std::time::Duration;

use landed_e2e::fakes::registries::{RateLimitedRegistry, SlowRegistry};
use landed_e2e::scenario::{plain_registry, EXIT_UNDETERMINED};
use landed_e2e::{Landed, LandedConfig, RegistryEntry};

/// A user whose landed.yaml maps `host` to plain-HTTP `endpoint`, with an optional deadline.
fn landed_for(host: &str, endpoint: &str, deadline: Option<Duration>) -> Landed {
    let mut landed = Landed::new().expect("landed");
    landed
        .set_config(&LandedConfig {
            registries: vec![RegistryEntry::for_endpoint(host, endpoint)],
            deadline,
            ..LandedConfig::default()
        })
        .expect("config");
    landed
}

#[test]
fn nothing_listening_is_unavailable() {
    // Bind and release a port so that nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let host = format!("127.0.0.1:{port}");
    let landed = landed_for(&host, &format!("http://{host}"), None);

    let run = landed
        .check(&[&format!("{host}/team/app:v1")])
        .expect("run");
    assert_eq!(
        run.code(),
        Some(EXIT_UNDETERMINED),
        "{}",
        run.output.describe()
    );
    run.assert_single_verdict("unavailable");
}

#[test]
fn corrupted_storage_5xx_is_unavailable() {
    let (registry, landed) = plain_registry().expect("registry");
    let image = registry.push_image("team/app", "v1").expect("push");
    registry.corrupt_tag("team/app", "v1").expect("corrupt");

    let run = landed.check(&[&image.by_tag()]).expect("run");
    assert_eq!(
        run.code(),
        Some(EXIT_UNDETERMINED),
        "{}",
        run.output.describe()
    );
    run.assert_single_verdict("unavailable");
}

#[test]
fn rate_limited_registry_is_rate_limited_and_not_hammered() {
    let fake = RateLimitedRegistry::start(60).expect("fake");
    let landed = landed_for(&fake.host(), &fake.endpoint(), Some(Duration::from_secs(3)));
    let images: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|repo| format!("{}/team/{repo}:v1", fake.host()))
        .collect();
    let refs: Vec<&str> = images.iter().map(String::as_str).collect();

    let run = landed.check(&refs).expect("run");
    assert_eq!(
        run.code(),
        Some(EXIT_UNDETERMINED),
        "{}",
        run.output.describe()
    );
    for image in &images {
        let result = run.result_for(image).expect("result");
        assert_eq!(result.verdict, "rate_limited", "{:?}", result.raw);
    }
    // Retry-After: 60 is honoured: no retries inside this run, at most one manifest request
    // per image, and no waiting the minute out either.
    assert!(
        fake.manifest_requests() <= images.len(),
        "manifest requests after a 429 with Retry-After: 60: {:?}",
        fake.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>()
    );
    assert!(fake.manifest_requests() >= 1, "the registry was asked");
    assert!(
        run.output.elapsed < Duration::from_secs(10),
        "{}",
        run.output.describe()
    );
}

#[test]
fn slow_registry_is_unavailable_within_the_deadline() {
    let fake = SlowRegistry::start(Duration::from_secs(30)).expect("fake");
    let deadline = Duration::from_secs(2);
    let landed = landed_for(&fake.host(), &fake.endpoint(), Some(deadline));

    let run = landed
        .check(&[&format!("{}/team/app:v1", fake.host())])
        .expect("run");
    assert_eq!(
        run.code(),
        Some(EXIT_UNDETERMINED),
        "{}",
        run.output.describe()
    );
    run.assert_single_verdict("unavailable");
    assert!(fake.request_count() >= 1, "the registry was asked");
    // The deadline plus a margin for process start-up on a loaded 2-core machine.
    assert!(
        run.output.elapsed < deadline + Duration::from_millis(1500),
        "took {:?} with a {deadline:?} deadline\n{}",
        run.output.elapsed,
        run.output.describe()
    );
}
