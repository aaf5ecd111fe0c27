//! The resolver against an in-process fake registry: classification, caches, singleflight,
//! token reuse and expiry, 429 back-off and the deadline.

mod registry_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use landed::config::Config;
use landed::image::Reference;
use landed::registry::RegistryConfig;
use landed::resolve::{LookupContext, Resolve, Resolver};
use landed::verdict::{Verdict, VerdictClass};
use registry_support::{Auth, Fake, LogBuffer, OCI_INDEX};

const HOST: &str = "fake.test";

/// The shared fake-registry config for `HOST`, changed by `tweak`.
fn config(fake: &Fake, tweak: impl FnOnce(&mut Config)) -> Config {
    let mut config = registry_support::config(fake, HOST);
    tweak(&mut config);
    config
}

async fn check(resolver: &Resolver, image: &str) -> Verdict {
    let reference = Reference::parse(image).expect("reference");
    resolver
        .resolve(&reference, &LookupContext::default())
        .await
}

#[tokio::test]
async fn landed_absent_and_classes() {
    let logs = LogBuffer::install();
    let fake = Fake::start().await;
    let digest = fake.push_image("team/app", Some("v1"), "a");
    let resolver = Resolver::new(&config(&fake, |_| {})).expect("resolver");

    let v = check(&resolver, "fake.test/team/app:v1").await;
    assert_eq!(
        (v.class, v.digest.as_ref().map(|d| d.as_str())),
        (VerdictClass::Landed, Some(digest.as_str()))
    );
    let v = check(&resolver, &format!("fake.test/team/app@{digest}")).await;
    assert_eq!(v.class, VerdictClass::Landed, "{v:?}");

    let v = check(&resolver, "fake.test/team/app:never-pushed").await;
    assert_eq!(v.class, VerdictClass::Absent, "{v:?}");
    assert!(v.detail.contains("MANIFEST_UNKNOWN"), "{v:?}");
    let v = check(&resolver, "fake.test/nobody/here:v1").await;
    assert_eq!(v.class, VerdictClass::Absent);

    *fake.fail_status.lock().expect("lock") = Some(403);
    let v = check(&resolver, "fake.test/team/app:v2").await;
    assert_eq!(v.class, VerdictClass::Forbidden, "{v:?}");
    *fake.fail_status.lock().expect("lock") = Some(503);
    let v = check(&resolver, "fake.test/team/app:v3").await;
    assert_eq!(v.class, VerdictClass::Unavailable, "{v:?}");
    assert!(!logs.text().is_empty());
}

#[tokio::test]
async fn get_fallback_computes_the_digest() {
    let fake = Fake::start().await;
    let digest = fake.push_image("r", Some("t"), "g");
    *fake.omit_digest_header.lock().expect("lock") = true;
    let resolver = Resolver::new(&config(&fake, |_| {})).expect("resolver");
    let v = check(&resolver, "fake.test/r:t").await;
    assert_eq!(
        v.digest.as_ref().map(|d| d.as_str()),
        Some(digest.as_str()),
        "{v:?}"
    );
    assert_eq!(fake.manifests(), 2, "HEAD without digest, then GET");
}

#[tokio::test]
async fn moved_tag_is_a_digest_mismatch() {
    let fake = Fake::start().await;
    let old = fake.push_image("r", None, "old");
    let new = fake.push_image("r", Some("stable"), "new");
    let resolver = Resolver::new(&config(&fake, |_| {})).expect("resolver");
    let v = check(&resolver, &format!("fake.test/r:stable@{old}")).await;
    assert_eq!(v.class, VerdictClass::DigestMismatch, "{v:?}");
    assert!(v.detail.contains(&new), "{v:?}");
    let v = check(&resolver, &format!("fake.test/r:stable@{new}")).await;
    assert_eq!(v.class, VerdictClass::Landed, "{v:?}");
}

#[tokio::test]
async fn deep_check_finds_a_missing_child() {
    let fake = Fake::start().await;
    let amd = fake.push_image("multi", None, "amd64");
    let arm = fake.push_image("multi", None, "arm64");
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[
        {{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{amd}","size":1,"platform":{{"os":"linux","architecture":"amd64"}}}},
        {{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{arm}","size":1,"platform":{{"os":"linux","architecture":"arm64"}}}}]}}"#
    );
    fake.push("multi", Some("v1"), OCI_INDEX, index.as_bytes());
    fake.delete("multi", &arm);

    let shallow = Resolver::new(&config(&fake, |_| {})).expect("resolver");
    assert_eq!(
        check(&shallow, "fake.test/multi:v1").await.class,
        VerdictClass::Landed
    );

    let deep = Resolver::new(&config(&fake, |c| c.resolve.deep_check = true)).expect("resolver");
    let v = check(&deep, "fake.test/multi:v1").await;
    assert_eq!(v.class, VerdictClass::Absent, "{v:?}");
    assert!(
        v.detail.contains(&arm) && v.detail.contains("linux/arm64"),
        "{v:?}"
    );
}

#[tokio::test]
async fn singleflight_one_request_for_a_thousand_lookups() {
    let fake = Fake::start().await;
    fake.push_image("hot", Some("new"), "x");
    // Slow enough that every lookup arrives while the first is in flight.
    *fake.delay.lock().expect("lock") = Duration::from_millis(300);
    let resolver = Arc::new(Resolver::new(&config(&fake, |_| {})).expect("resolver"));
    let reference = Arc::new(Reference::parse("fake.test/hot:new").expect("reference"));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (resolver, reference) = (resolver.clone(), reference.clone());
            tokio::spawn(async move {
                resolver
                    .resolve(&reference, &LookupContext::default())
                    .await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.expect("task").class, VerdictClass::Landed);
    }
    assert_eq!(
        fake.manifests(),
        1,
        "one registry request for 1,000 lookups"
    );
    // And the answer is cached afterwards.
    check(&resolver, "fake.test/hot:new").await;
    assert_eq!(fake.manifests(), 1);
}

#[tokio::test]
async fn tokens_are_reused_per_scope_and_refetched_after_expiry() {
    let logs = LogBuffer::install();
    let fake = Fake::start().await;
    *fake.auth.lock().expect("lock") = Auth::Bearer {
        expires_in: 4,
        basic: None,
    };
    for tag in 0..5 {
        fake.push_image("tok/app", Some(&format!("t{tag}")), &tag.to_string());
    }
    fake.push_image("tok/other", Some("t0"), "o");
    let resolver = Resolver::new(&config(&fake, |_| {})).expect("resolver");
    for tag in 0..5 {
        let v = check(&resolver, &format!("fake.test/tok/app:t{tag}")).await;
        assert_eq!(v.class, VerdictClass::Landed, "{v:?}");
    }
    assert_eq!(fake.tokens(), 1, "one token for one scope");
    // First request learned the challenge (401 + retry); later ones send the token at once.
    assert_eq!(fake.manifests(), 6);
    check(&resolver, "fake.test/tok/other:t0").await;
    assert_eq!(fake.tokens(), 2, "another repository is another scope");

    // expires_in 4s is kept 2s: after that a fresh token is fetched.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    fake.push_image("tok/app", Some("late"), "late");
    let v = check(&resolver, "fake.test/tok/app:late").await;
    assert_eq!(v.class, VerdictClass::Landed, "{v:?}");
    assert_eq!(fake.tokens(), 3);
    assert!(
        !logs.text().contains("registry-token-"),
        "a token was logged"
    );
}

#[tokio::test]
async fn rate_limit_backs_off_without_asking_again() {
    let fake = Fake::start().await;
    *fake.rate_limit.lock().expect("lock") = Some(30);
    let resolver = Resolver::new(&config(&fake, |_| {})).expect("resolver");
    let v = check(&resolver, "fake.test/busy/app:v1").await;
    assert_eq!(v.class, VerdictClass::RateLimited, "{v:?}");
    assert!(v.detail.contains("retry after 30s"), "{v:?}");
    let before = fake.manifests();
    let started = Instant::now();
    let v = check(&resolver, "fake.test/busy/app:v2").await;
    assert_eq!(v.class, VerdictClass::RateLimited, "{v:?}");
    assert!(v.detail.contains("backing off"), "{v:?}");
    assert_eq!(fake.manifests(), before, "no request during the back-off");
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn back_off_ends_after_retry_after() {
    let fake = Fake::start().await;
    fake.push_image("app", Some("v1"), "x");
    *fake.rate_limit.lock().expect("lock") = Some(1);
    let resolver = Resolver::new(&config(&fake, |_| {})).expect("resolver");
    assert_eq!(
        check(&resolver, "fake.test/app:v1").await.class,
        VerdictClass::RateLimited
    );
    *fake.rate_limit.lock().expect("lock") = None;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        check(&resolver, "fake.test/app:v1").await.class,
        VerdictClass::Landed
    );
}

#[tokio::test]
async fn slow_registry_is_unavailable_within_the_deadline() {
    let fake = Fake::start().await;
    fake.push_image("slow", Some("v1"), "x");
    *fake.delay.lock().expect("lock") = Duration::from_secs(5);
    let resolver = Resolver::new(&config(&fake, |c| {
        c.resolve.deadline = Duration::from_millis(400);
        c.resolve.request_timeout = Duration::from_millis(400);
        c.resolve.connect_timeout = Duration::from_millis(200);
    }))
    .expect("resolver");
    let started = Instant::now();
    let v = check(&resolver, "fake.test/slow:v1").await;
    let took = started.elapsed();
    assert_eq!(v.class, VerdictClass::Unavailable, "{v:?}");
    assert!(
        v.detail.contains("no answer from the registry within 0.4s"),
        "{v:?}"
    );
    // The registry would take 5 s; the answer comes at the 400 ms deadline (slack for load).
    assert!(took < Duration::from_millis(1500), "took {took:?}");
}

#[tokio::test]
async fn nothing_listening_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let config = Config {
        registries: vec![RegistryConfig {
            host: HOST.into(),
            endpoint: Some(format!("http://127.0.0.1:{port}")),
            insecure_http: true,
            ..RegistryConfig::default()
        }],
        ..Config::default()
    };
    let resolver = Resolver::new(&config).expect("resolver");
    let v = check(&resolver, "fake.test/app:v1").await;
    assert_eq!(v.class, VerdictClass::Unavailable, "{v:?}");
}

#[tokio::test]
async fn stale_if_error_serves_the_last_landed_answer() {
    let fake = Fake::start().await;
    let digest = fake.push_image("app", Some("v1"), "x");
    let resolver = Resolver::new(&config(&fake, |c| {
        // No answer cache: every lookup asks the registry.
        c.cache.tag_ttl = Duration::ZERO;
    }))
    .expect("resolver");
    assert!(!check(&resolver, "fake.test/app:v1").await.stale);
    *fake.fail_status.lock().expect("lock") = Some(503);
    let v = check(&resolver, "fake.test/app:v1").await;
    assert_eq!((v.class, v.stale), (VerdictClass::Landed, true), "{v:?}");
    assert_eq!(v.digest.as_ref().map(|d| d.as_str()), Some(digest.as_str()));
    // Forbidden is not an outage: no stale answer for it.
    *fake.fail_status.lock().expect("lock") = Some(403);
    assert_eq!(
        check(&resolver, "fake.test/app:v1").await.class,
        VerdictClass::Forbidden
    );
}

#[tokio::test]
async fn stale_if_error_ends_when_the_window_after_the_answer_closes() {
    let fake = Fake::start().await;
    fake.push_image("app", Some("v1"), "x");
    let resolver = Resolver::new(&config(&fake, |c| {
        c.cache.tag_ttl = Duration::from_millis(100);
        c.cache.stale_if_error = Duration::from_millis(400);
    }))
    .expect("resolver");
    assert!(!check(&resolver, "fake.test/app:v1").await.stale);
    *fake.fail_status.lock().expect("lock") = Some(503);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let v = check(&resolver, "fake.test/app:v1").await;
    assert_eq!((v.class, v.stale), (VerdictClass::Landed, true), "{v:?}");
    assert!(v.detail.contains("served from cache"), "{v:?}");
    // 100 ms fresh + 400 ms stale-if-error after the registry last confirmed it.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let v = check(&resolver, "fake.test/app:v1").await;
    assert_eq!(
        (v.class, v.stale),
        (VerdictClass::Unavailable, false),
        "{v:?}"
    );
}

#[tokio::test]
async fn a_tag_found_absent_is_never_served_stale_afterwards() {
    let fake = Fake::start().await;
    fake.push_image("app", Some("v1"), "x");
    let resolver = Resolver::new(&config(&fake, |c| {
        c.cache.tag_ttl = Duration::ZERO;
        c.cache.absent_ttl = Duration::ZERO;
    }))
    .expect("resolver");
    assert_eq!(
        check(&resolver, "fake.test/app:v1").await.class,
        VerdictClass::Landed
    );
    fake.delete("app", "v1");
    assert_eq!(
        check(&resolver, "fake.test/app:v1").await.class,
        VerdictClass::Absent
    );
    // The registry fails now: the earlier `landed` must not come back.
    *fake.fail_status.lock().expect("lock") = Some(503);
    let v = check(&resolver, "fake.test/app:v1").await;
    assert_eq!(
        (v.class, v.stale),
        (VerdictClass::Unavailable, false),
        "{v:?}"
    );
}

#[tokio::test]
async fn absent_is_cached_briefly_errors_never() {
    let fake = Fake::start().await;
    let resolver = Resolver::new(&config(&fake, |c| {
        c.cache.absent_ttl = Duration::from_millis(800);
    }))
    .expect("resolver");
    assert_eq!(
        check(&resolver, "fake.test/app:v1").await.class,
        VerdictClass::Absent
    );
    let after_first = fake.manifests();
    assert_eq!(
        check(&resolver, "fake.test/app:v1").await.class,
        VerdictClass::Absent
    );
    assert_eq!(fake.manifests(), after_first, "absent served from cache");
    fake.push_image("app", Some("v1"), "x");
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        check(&resolver, "fake.test/app:v1").await.class,
        VerdictClass::Landed
    );

    *fake.fail_status.lock().expect("lock") = Some(500);
    check(&resolver, "fake.test/app:v2").await;
    let n = fake.manifests();
    check(&resolver, "fake.test/app:v2").await;
    assert!(fake.manifests() > n, "errors are not cached");
}
